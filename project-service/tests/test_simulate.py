"""`POST /circuits/{project_id}/simulate` hands a pinned version to the simulation service."""

from __future__ import annotations

import json

import httpx


async def test_simulate_submits_the_pinned_version_with_the_callers_token(api, client, company):
    editor = company.user()
    project = await api.create_project(editor)
    circuit = await api.create_circuit(project, editor, api.tiny_circuit())
    await api.save(project, circuit, editor, api.tiny_circuit(title="v2"))
    seen: list[httpx.Request] = []

    def simulation_service(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json={"id": "run-1", "status": "queued"})

    client.app.state.settings.simulation_url = "http://simulation.test/"
    client.app.state.simulation_transport = httpx.MockTransport(simulation_service)
    headers = editor.headers  # one token, to compare with what is passed on
    r = await client.post(
        f"/circuits/{project['id']}/simulate",
        json={"circuit_id": circuit["id"], "options": {"faults": ["3ph"]}},
        headers={**headers, "Idempotency-Key": "abc-123"},
    )
    assert r.status_code == 202 and r.json() == {"id": "run-1", "status": "queued"}
    [sent] = seen
    assert str(sent.url) == "http://simulation.test/simulations"
    assert sent.headers["authorization"] == headers["Authorization"]
    assert sent.headers["idempotency-key"] == "abc-123" and sent.headers["x-request-id"]
    assert json.loads(sent.content) == {
        "project_id": project["id"],
        "circuit": {"circuit_id": circuit["id"], "version": 2},
        "options": {"faults": ["3ph"]},
    }


async def test_simulate_rules(api, client, company):
    owner, viewer = company.user(), company.user()
    project = await api.create_project(owner)
    await api.add_member(project, owner, viewer, "viewer")
    empty = await api.create_circuit(project, owner)
    url = f"/circuits/{project['id']}/simulate"
    client.app.state.settings.simulation_url = "http://127.0.0.1:9"  # nothing listens there

    r = await client.post(url, json={"circuit_id": empty["id"]}, headers=viewer.headers)
    assert r.status_code == 403
    r = await client.post(url, json={"circuit_id": empty["id"]}, headers=owner.headers)
    assert r.status_code == 409  # nothing saved yet
    full = await api.create_circuit(project, owner, api.tiny_circuit(), name="Full")
    r = await client.post(url, json={"circuit_id": full["id"], "version": 7}, headers=owner.headers)
    assert r.status_code == 404
    r = await client.post(url, json={"circuit_id": full["id"]}, headers=owner.headers)
    assert r.status_code == 503 and r.json()["type"].endswith("/simulation-unavailable")
