"""An engineering team keeps its circuits: the project service through the real gateway,
with users and tokens from the real auth service, on PostgreSQL and RabbitMQ."""

from __future__ import annotations

import copy
import json

import pytest
from e2e.flows import add_colleague, bearer, register_and_login

from ampflux_testing.circuits import CASES_DIR

pytestmark = pytest.mark.slow

CASES = CASES_DIR


def reference_circuit(name: str = "edge_parallel_transformers.json") -> dict:
    path = CASES / name
    assert path.exists(), f"reference circuits not found at {CASES}"
    doc = json.loads(path.read_text())
    doc.pop("expected", None)
    return doc


@pytest.fixture
def team(gw):
    """A company with an admin, an engineer (project owner), an editor and a viewer."""
    _, admin = register_and_login(gw)
    owner_user, owner = add_colleague(gw, admin, "engineer")
    editor_user, editor = add_colleague(gw, admin, "engineer")
    viewer_user, viewer = add_colleague(gw, admin, "viewer")
    outsider_user, outsider = add_colleague(gw, admin, "engineer")
    return {
        "admin": admin,
        "owner": owner,
        "editor": editor,
        "viewer": viewer,
        "outsider": outsider,
        "ids": {
            "owner": owner_user["id"],
            "editor": editor_user["id"],
            "viewer": viewer_user["id"],
            "outsider": outsider_user["id"],
        },
    }


def test_the_life_of_a_project(gw, team):
    h = {k: bearer(v) for k, v in team.items() if k != "ids"}
    ids = team["ids"]

    r = gw.post("/projects/", json={"name": "Substation North", "description": "20 kV ring"}, headers=h["owner"])
    assert r.status_code == 201, r.text
    project = r.json()
    pid = project["id"]
    assert project["my_role"] == "owner"

    for who, role in (("editor", "editor"), ("viewer", "viewer")):
        r = gw.post(f"/projects/{pid}/members/", json={"user_id": ids[who], "role": role}, headers=h["owner"])
        assert r.status_code == 201, r.text

    # Only members (and company admins) see the project.
    assert gw.get(f"/projects/{pid}", headers=h["outsider"]).status_code == 404
    assert gw.get(f"/projects/{pid}", headers=h["viewer"]).status_code == 200
    assert gw.get(f"/projects/{pid}", headers=h["admin"]).status_code == 200

    # The editor saves a circuit; the viewer may read but not save.
    doc = reference_circuit()
    r = gw.post(
        f"/projects/{pid}/circuits/",
        json={"name": "LV board", "document": doc, "message": "first"},
        headers=h["editor"],
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert r.json()["latest_version"] == 1
    r = gw.post(f"/projects/{pid}/circuits/{cid}/versions", json={"document": doc}, headers=h["viewer"])
    assert r.status_code == 403

    # Saving the same document again makes no new version; a change does.
    r = gw.post(f"/projects/{pid}/circuits/{cid}/versions", json={"document": doc}, headers=h["editor"])
    assert r.status_code == 200 and r.json()["number"] == 1
    changed = copy.deepcopy(doc)
    changed["ext_grids"][0]["s_sc_max_mva"] = doc["ext_grids"][0]["s_sc_max_mva"] * 2
    r = gw.post(
        f"/projects/{pid}/circuits/{cid}/versions",
        json={"document": changed, "message": "stronger grid"},
        headers=h["editor"],
    )
    assert r.status_code == 201 and r.json()["number"] == 2

    diff = gw.get(f"/projects/{pid}/circuits/{cid}/diff", params={"from": 1, "to": 2}, headers=h["viewer"])
    assert diff.status_code == 200, diff.text
    assert "s_sc_max_mva" in diff.text

    r = gw.post(f"/projects/{pid}/circuits/{cid}/versions/1/restore", json={}, headers=h["editor"])
    assert r.status_code == 201 and r.json()["number"] == 3 and r.json()["restored_from"] == 1

    # A malformed circuit: every problem at once, with paths; nothing stored.
    bad = copy.deepcopy(doc)
    bad["lines"] = [
        {
            "id": "L1",
            "from_bus": "NOPE",
            "to_bus": bad["buses"][0]["id"],
            "length_km": -1,
            "r_ohm_per_km": 0.1,
            "x_ohm_per_km": 0.1,
        }
    ]
    r = gw.post(f"/projects/{pid}/circuits/{cid}/versions", json={"document": bad}, headers=h["editor"])
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    paths = {e["path"] for e in r.json()["errors"]}
    assert any("from_bus" in p for p in paths) and any("length_km" in p for p in paths), paths
    versions = gw.get(f"/projects/{pid}/circuits/{cid}/versions", headers=h["viewer"]).json()
    assert versions["total"] == 3

    # Export, then import the file as a new circuit.
    exported = gw.get(f"/projects/{pid}/circuits/{cid}/export", params={"version": 2}, headers=h["viewer"])
    assert exported.status_code == 200
    assert "attachment" in exported.headers["content-disposition"]
    assert exported.json()["ext_grids"][0]["s_sc_max_mva"] == changed["ext_grids"][0]["s_sc_max_mva"]
    r = gw.post(
        f"/projects/{pid}/circuits/import",
        files={"file": ("board.json", exported.content, "application/json")},
        headers=h["editor"],
    )
    assert r.status_code == 201, r.text

    # The audit trail is for owners and admins.
    assert gw.get(f"/projects/{pid}/audit/", headers=h["viewer"]).status_code == 403
    audit = gw.get(f"/projects/{pid}/audit/", headers=h["owner"])
    assert audit.status_code == 200 and audit.json()["total"] >= 5

    # The last owner cannot leave; only an owner deletes.
    r = gw.delete(f"/projects/{pid}/members/{ids['owner']}", headers=h["owner"])
    assert r.status_code == 409
    assert gw.delete(f"/projects/{pid}", headers=h["editor"]).status_code == 403
    assert gw.delete(f"/projects/{pid}", headers=h["owner"]).status_code in (200, 204)
    assert gw.get(f"/projects/{pid}", headers=h["owner"]).status_code == 404


def test_another_companys_project_is_not_found(gw, team):
    h_owner = bearer(team["owner"])
    pid = gw.post("/projects/", json={"name": "Private"}, headers=h_owner).json()["id"]
    _, stranger = register_and_login(gw)
    hs = bearer(stranger)
    assert gw.get(f"/projects/{pid}", headers=hs).status_code == 404
    assert gw.patch(f"/projects/{pid}", json={"name": "mine now"}, headers=hs).status_code == 404
    assert gw.delete(f"/projects/{pid}", headers=hs).status_code == 404
    assert gw.get(f"/projects/{pid}/circuits/", headers=hs).status_code == 404
    assert gw.get(f"/projects/{pid}", headers=h_owner).json()["name"] == "Private"
