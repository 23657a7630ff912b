"""A user validates a circuit document against the published JSON Schema before saving it,
and the project and simulation services name the saved document by the same hash."""

from __future__ import annotations

import json
import uuid

import jsonschema_rs
import pytest
from e2e.flows import bearer, register_and_login

from ampflux_testing.circuits import CASES_DIR

pytestmark = pytest.mark.slow

SCHEMA_URLS = ("/circuits/circuit-document.schema.json", "/simulations/circuit-document.schema.json")


def _document() -> dict:
    doc = json.loads((CASES_DIR / "edge_parallel_transformers.json").read_text())
    doc.pop("expected", None)
    return doc


def test_the_schema_is_served_by_both_services_and_fits_a_real_document(gw):
    _, tokens = register_and_login(gw)
    schemas = []
    for url in SCHEMA_URLS:
        assert gw.get(url).status_code == 401  # authenticated like the rest
        r = gw.get(url, headers=bearer(tokens))
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/schema+json"
        schemas.append(r.json())
    assert schemas[0] == schemas[1]
    validator = jsonschema_rs.validator_for(schemas[0])
    document = _document()
    assert validator.is_valid(document)
    document["buses"][0]["vn_kv"] = "twenty"
    assert not validator.is_valid(document)
    for service in ("project", "simulation"):
        assert "CircuitDocument" in gw.get(f"/openapi/{service}.json").json()["components"]["schemas"]


def test_a_saved_version_and_its_study_carry_the_same_document_hash(gw):
    _, tokens = register_and_login(gw)
    h = bearer(tokens)
    pid = gw.post("/projects/", json={"name": f"Hash {uuid.uuid4().hex[:6]}"}, headers=h).json()["id"]
    document = _document()
    # Integral numbers written as 20.0 in the file and as 20 here: the same document.
    for bus in document["buses"]:
        if float(bus["vn_kv"]).is_integer():
            bus["vn_kv"] = int(bus["vn_kv"])
    r = gw.post(f"/projects/{pid}/circuits/", json={"name": "hashed", "document": document}, headers=h)
    assert r.status_code == 201, r.text
    circuit = r.json()
    r = gw.post("/simulations", json={"project_id": pid, "circuit": {"circuit_id": circuit["id"]}}, headers=h)
    assert r.status_code == 202, r.text
    saved_version = circuit["version"]
    assert r.json()["document_sha256"] == saved_version["content_hash"]
    r = gw.post("/simulations", json={"project_id": pid, "document": _document()}, headers=h)
    assert r.status_code == 202, r.text
    assert r.json()["document_sha256"] == saved_version["content_hash"]
