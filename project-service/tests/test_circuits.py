"""Circuits and versions: validation, immutable versions, unchanged saves, diff, restore."""

from __future__ import annotations

import copy
import threading

from ampflux_shared.circuit import document_sha256
from ampflux_shared.circuit.schema import circuit_document_components, circuit_document_schema


async def test_saving_creates_numbered_immutable_versions(api, client, company):
    owner = company.user()
    project = await api.create_project(owner)
    circuit = await api.create_circuit(project, owner)
    assert circuit["latest_version"] is None and circuit["version"] is None

    r = await api.save(project, circuit, owner, api.tiny_circuit(), "first cut")
    assert r.status_code == 201, r.text
    v1 = r.json()
    assert v1["number"] == 1 and v1["author_id"] == str(owner.id) and v1["message"] == "first cut"
    assert len(v1["content_hash"]) == 64
    assert r.headers["location"].endswith(f"/circuits/{circuit['id']}/versions/1")

    r = await api.save(project, circuit, owner, api.tiny_circuit(title="with a title"), "titled")
    assert r.status_code == 201 and r.json()["number"] == 2

    base = f"/projects/{project['id']}/circuits/{circuit['id']}"
    listed = (await client.get(f"{base}/versions", headers=owner.headers)).json()
    assert [v["number"] for v in listed["items"]] == [2, 1] and listed["total"] == 2
    first = (await client.get(f"{base}/versions/1", headers=owner.headers)).json()
    assert first["document"] == api.tiny_circuit() and first["content_hash"] == v1["content_hash"]
    latest = (await client.get(f"{base}/versions/latest", headers=owner.headers)).json()
    assert latest["number"] == 2 and latest["document"]["title"] == "with a title"
    assert (await client.get(f"{base}/versions/9", headers=owner.headers)).status_code == 404
    summary = (await client.get(base, headers=owner.headers)).json()
    assert summary["latest_version"] == 2 and summary["version"]["number"] == 2


async def test_unchanged_document_creates_no_new_version(api, client, company):
    owner = company.user()
    project = await api.create_project(owner)
    circuit = await api.create_circuit(project, owner, api.tiny_circuit())
    first = circuit["version"]

    # the same document with other key order and 20 written as 20.0 is the same content
    same = api.tiny_circuit()
    same = dict(reversed(list(same.items())))
    same["buses"] = [{"vn_kv": 20, "id": "MV"}, {"id": "LV", "vn_kv": 0.4}]
    r = await api.save(project, circuit, owner, same, "nothing changed")
    assert r.status_code == 200, r.text
    assert r.json()["number"] == 1 and r.json()["id"] == first["id"]
    # the platform's one document hash: the simulation service names the same input the same
    assert first["content_hash"] == document_sha256(same) == document_sha256(api.tiny_circuit())
    versions = (
        await client.get(f"/projects/{project['id']}/circuits/{circuit['id']}/versions", headers=owner.headers)
    ).json()
    assert versions["total"] == 1


async def test_malformed_circuit_reports_every_problem_and_stores_nothing(api, client, company):
    owner = company.user()
    project = await api.create_project(owner)
    circuit = await api.create_circuit(project, owner, api.tiny_circuit())
    bad = api.tiny_circuit()
    bad["buses"][1]["vn_kv"] = -0.4  # not positive
    bad["ext_grids"][0]["bus"] = "NOWHERE"  # unknown bus
    del bad["transformers"][0]["sn_mva"]  # required
    bad["study"]["frequency_hz"] = 55  # not 50 or 60

    r = await api.save(project, circuit, owner, bad)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"].endswith("/validation-error")
    paths = {e["path"] for e in body["errors"]}
    assert {"study.frequency_hz", "buses[1].vn_kv", "ext_grids[0].bus", "transformers[0].sn_mva"} <= paths
    assert all(e["code"] and e["message"] for e in body["errors"])

    base = f"/projects/{project['id']}/circuits/{circuit['id']}"
    assert (await client.get(f"{base}/versions", headers=owner.headers)).json()["total"] == 1
    # a new circuit with an invalid first document is not created either
    r = await client.post(
        f"/projects/{project['id']}/circuits/", json={"name": "Broken", "document": bad}, headers=owner.headers
    )
    assert r.status_code == 422
    names = [
        c["name"]
        for c in (await client.get(f"/projects/{project['id']}/circuits/", headers=owner.headers)).json()["items"]
    ]
    assert names == ["Main board"]
    audit = (
        await client.get(f"/projects/{project['id']}/audit/", params={"page_size": 100}, headers=owner.headers)
    ).json()
    assert [e["action"] for e in audit["items"]].count("version.created") == 1
    metrics = (await client.get("/metrics")).text
    assert "ampflux_project_circuit_documents_rejected_total 2.0" in metrics


async def test_diff_and_restore(api, client, company):
    owner = company.user()
    project = await api.create_project(owner)
    v1_doc = api.tiny_circuit()
    circuit = await api.create_circuit(project, owner, v1_doc)
    v2_doc = copy.deepcopy(v1_doc)
    v2_doc["buses"].append({"id": "LV2", "vn_kv": 0.4})
    v2_doc["transformers"][0]["sn_mva"] = 1.0
    v2_doc["transformers"].append({**v1_doc["transformers"][0], "id": "T2", "lv_bus": "LV2"})
    v2_doc["ext_grids"] = [{"id": "G2", "bus": "MV", "s_sc_max_mva": 500.0, "rx_max": 0.1}]
    v2_doc["study"]["faults"] = ["3ph", "2ph"]
    assert (await api.save(project, circuit, owner, v2_doc, "second transformer")).status_code == 201
    base = f"/projects/{project['id']}/circuits/{circuit['id']}"

    diff = (await client.get(f"{base}/diff", params={"from": 1, "to": 2}, headers=owner.headers)).json()
    assert diff["identical"] is False and (diff["from_version"], diff["to_version"]) == (1, 2)
    assert diff["elements"]["buses"] == {"added": ["LV2"], "removed": [], "changed": []}
    assert diff["elements"]["ext_grids"] == {"added": ["G2"], "removed": ["G"], "changed": []}
    assert diff["elements"]["transformers"] == {
        "added": ["T2"],
        "removed": [],
        "changed": [{"id": "T", "changes": [{"path": "sn_mva", "old": 0.63, "new": 1.0}]}],
    }
    assert diff["document"] == [{"path": "study.faults", "old": ["3ph"], "new": ["3ph", "2ph"]}]
    assert "lines" not in diff["elements"]
    same = (await client.get(f"{base}/diff", params={"from": 2}, headers=owner.headers)).json()
    assert same["identical"] is True and same["to_version"] == 2

    r = await client.post(
        f"{base}/versions/1/restore", json={"message": "back to one transformer"}, headers=owner.headers
    )
    assert r.status_code == 201, r.text
    v3 = r.json()
    assert v3["number"] == 3 and v3["restored_from"] == 1 and v3["message"] == "back to one transformer"
    assert v3["content_hash"] == circuit["version"]["content_hash"]
    back = (await client.get(f"{base}/diff", params={"from": 1, "to": 3}, headers=owner.headers)).json()
    assert back["identical"] is True
    # restoring what is already the newest content changes nothing
    r = await client.post(f"{base}/versions/3/restore", headers=owner.headers)
    assert r.status_code == 200 and r.json()["number"] == 3
    assert (await client.post(f"{base}/versions/42/restore", headers=owner.headers)).status_code == 404


async def test_archived_project_refuses_saves(api, client, company):
    owner = company.user()
    project = await api.create_project(owner)
    circuit = await api.create_circuit(project, owner, api.tiny_circuit())
    await client.post(f"/projects/{project['id']}/archive", headers=owner.headers)
    r = await api.save(project, circuit, owner, api.tiny_circuit(title="late edit"))
    assert r.status_code == 409
    assert (
        await client.get(f"/projects/{project['id']}/circuits/{circuit['id']}/export", headers=owner.headers)
    ).status_code == 200


async def test_circuits_rename_delete_and_unique_names(api, client, company):
    owner = company.user()
    project = await api.create_project(owner)
    a = await api.create_circuit(project, owner, name="Feeder A")
    await api.create_circuit(project, owner, name="Feeder B")
    base = f"/projects/{project['id']}/circuits"
    assert (
        await client.patch(f"{base}/{a['id']}", json={"name": "Feeder B"}, headers=owner.headers)
    ).status_code == 409
    r = await client.patch(
        f"{base}/{a['id']}", json={"name": "Feeder A1", "description": "north"}, headers=owner.headers
    )
    assert r.status_code == 200 and r.json()["name"] == "Feeder A1"
    found = (await client.get(f"{base}/", params={"q": "a1"}, headers=owner.headers)).json()
    assert [c["name"] for c in found["items"]] == ["Feeder A1"]
    assert (await client.delete(f"{base}/{a['id']}", headers=owner.headers)).status_code == 204
    assert (await client.get(f"{base}/{a['id']}", headers=owner.headers)).status_code == 404


async def test_version_counter_metric(api, client, company):
    owner = company.user()
    project = await api.create_project(owner)
    circuit = await api.create_circuit(project, owner, api.tiny_circuit())
    await api.save(project, circuit, owner, api.tiny_circuit())  # unchanged: not counted
    await api.save(project, circuit, owner, api.tiny_circuit(title="2"))
    text = (await client.get("/metrics")).text
    assert "ampflux_project_circuit_versions_created_total 2.0" in text
    assert "ampflux_project_circuit_saves_unchanged_total 1.0" in text
    assert 'http_route="/projects/{project_id}/circuits/{circuit_id}/versions"' in text


async def test_the_circuit_document_schema_is_published(client, company):
    user = company.user("viewer")
    r = await client.get("/circuits/circuit-document.schema.json", headers=user.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/schema+json"
    assert r.json() == circuit_document_schema()
    assert (await client.get("/circuits/circuit-document.schema.json")).status_code == 401
    components = (await client.get("/openapi.json")).json()["components"]["schemas"]
    assert components["CircuitDocument"] == circuit_document_components()["CircuitDocument"]
    assert {"Bus", "Line", "Transformer"} <= set(components)


async def test_documents_are_validated_and_hashed_off_the_event_loop(api, company, monkeypatch):
    """A 20k-bus document takes a third of a second to check: never on the loop that serves
    every other request of the process."""
    from ampflux_project.domain import versions

    threads: list[threading.Thread] = []
    real = versions.validate_circuit

    def spy(document):
        threads.append(threading.current_thread())
        return real(document)

    monkeypatch.setattr(versions, "validate_circuit", spy)
    owner = company.user()
    project = await api.create_project(owner)
    await api.create_circuit(project, owner, api.tiny_circuit())
    assert threads and all(t is not threading.current_thread() for t in threads)
