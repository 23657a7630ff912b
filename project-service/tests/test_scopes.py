"""API-key scopes in the project service: `projects:read` reads, `projects:write` changes,
and starting a study also needs `simulations:write`."""

from __future__ import annotations

from ampflux_shared.security import unscoped_routes
from ampflux_testing.scopes import walk


async def test_every_route_declares_a_scope(client):
    assert unscoped_routes(client.app) == []


async def test_a_read_only_key_reads_everything_and_changes_nothing(client, api, company):
    owner = company.user("engineer")
    project = await api.create_project(owner)
    circuit = await api.create_circuit(project, owner, api.tiny_circuit())
    ids = {"project_id": project["id"], "circuit_id": circuit["id"], "user_id": str(owner.id)}

    answers = await walk(client, client.app, owner.key_headers("projects:read"), ids=ids)
    assert len(answers) >= 20
    for a in answers:
        assert a.status < 500, a
        if a.writes:
            assert a.scope_refused, a
        else:
            assert not a.scope_refused and a.status != 401, a
    # The reads really were served, not refused for another reason.
    assert {a.path: a.status for a in answers if not a.writes}["/projects/{project_id}"] == 200


async def test_a_read_only_key_cannot_create_projects(client, api, company):
    owner = company.user("engineer")
    await api.create_project(owner)
    reader = owner.key_headers("projects:read", "simulations:read")

    r = await client.post("/projects/", json={"name": "by a script"}, headers=reader)
    assert r.status_code == 403 and r.json()["required_scope"] == "projects:write"
    listed = (await client.get("/projects/", headers=owner.headers)).json()
    assert listed["total"] == 1


async def test_a_write_key_writes_and_a_signed_in_person_is_not_narrowed(client, api, company):
    owner = company.user("engineer")
    r = await client.post("/projects/", json={"name": "by a script"}, headers=owner.key_headers("projects:write"))
    assert r.status_code == 201, r.text
    # A token without an API key carries no scopes and is limited by roles only.
    await api.create_project(owner)
