"""The circuit document's JSON Schema, generated from the shared model, accepts every
reference circuit and refuses a document of the wrong shape."""

from __future__ import annotations

import json

import jsonschema_rs
import pytest

from ampflux_shared.circuit.schema import DIALECT, circuit_document_components, circuit_document_schema
from ampflux_testing.circuits import CASES_DIR

CASES = sorted(CASES_DIR.glob("*.json"))


@pytest.fixture(scope="module")
def validator():
    schema = circuit_document_schema()
    assert schema["$schema"] == DIALECT
    return jsonschema_rs.validator_for(schema)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_every_reference_circuit_fits_the_schema(validator, path):
    document = json.loads(path.read_text())
    document.pop("expected", None)
    assert validator.is_valid(document)


def test_a_document_of_the_wrong_shape_does_not_fit(validator):
    document = json.loads(CASES[0].read_text())
    document["buses"][0]["vn_kv"] = "twenty"
    assert not validator.is_valid(document)
    assert not validator.is_valid({"format": "circuit-document"})


def test_openapi_components_refer_to_each_other():
    components = circuit_document_components()
    text = json.dumps(components)
    assert "#/$defs/" not in text
    for ref in {part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]}:
        assert ref in components, ref
