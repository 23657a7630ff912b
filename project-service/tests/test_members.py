"""Members: each project role can do exactly what it should; a project keeps an owner."""

from __future__ import annotations

import uuid


async def test_each_role_does_exactly_what_it_may(api, client, company):
    owner, editor, viewer, outsider = company.user(), company.user(), company.user("viewer"), company.user()
    admin = company.user("admin")
    project = await api.create_project(owner)
    await api.add_member(project, owner, editor, "editor")
    await api.add_member(project, owner, viewer, "viewer")
    pid = project["id"]
    circuit = await api.create_circuit(project, editor, api.tiny_circuit())
    cid = circuit["id"]

    async def status(user, method, path, body=None) -> int:
        return (await client.request(method, path, json=body, headers=user.headers)).status_code

    # reading: every member and the company admin; a colleague who is not a member sees nothing
    for user in (owner, editor, viewer, admin):
        assert await status(user, "GET", f"/projects/{pid}") == 200
        assert await status(user, "GET", f"/projects/{pid}/members/") == 200
        assert await status(user, "GET", f"/projects/{pid}/circuits/{cid}/versions/1") == 200
        assert await status(user, "GET", f"/projects/{pid}/circuits/{cid}/export") == 200
    assert await status(outsider, "GET", f"/projects/{pid}") == 404
    assert await status(outsider, "GET", f"/projects/{pid}/circuits/{cid}") == 404

    # saving circuits: editors, owners, admins; viewers are refused
    doc = api.tiny_circuit(title="v2")
    assert await status(viewer, "POST", f"/projects/{pid}/circuits/{cid}/versions", {"document": doc}) == 403
    assert await status(viewer, "POST", f"/projects/{pid}/circuits/", {"name": "v"}) == 403
    assert await status(editor, "POST", f"/projects/{pid}/circuits/{cid}/versions", {"document": doc}) == 201
    assert await status(admin, "POST", f"/projects/{pid}/circuits/", {"name": "by admin"}) == 201

    # managing the project and its members: owners and admins only
    for user in (editor, viewer):
        assert await status(user, "PATCH", f"/projects/{pid}", {"name": "x"}) == 403
        assert (
            await status(user, "POST", f"/projects/{pid}/members/", {"user_id": str(uuid.uuid4()), "role": "viewer"})
            == 403
        )
        assert await status(user, "GET", f"/projects/{pid}/audit/") == 403
        assert await status(user, "DELETE", f"/projects/{pid}/circuits/{cid}") == 403
        assert await status(user, "DELETE", f"/projects/{pid}") == 403
    assert await status(editor, "DELETE", f"/projects/{pid}/members/{viewer.id}") == 403
    assert await status(admin, "PATCH", f"/projects/{pid}", {"name": "Renamed by admin"}) == 200
    assert await status(admin, "PATCH", f"/projects/{pid}/members/{viewer.id}", {"role": "editor"}) == 200
    assert await status(owner, "GET", f"/projects/{pid}/audit/") == 200
    assert await status(owner, "DELETE", f"/projects/{pid}") == 204


async def test_add_change_and_remove_members(api, client, company):
    owner, alice = company.user(), company.user()
    project = await api.create_project(owner)
    url = f"/projects/{project['id']}/members/"

    added = await api.add_member(project, owner, alice, "viewer")
    assert added["role"] == "viewer" and added["added_by"] == str(owner.id)
    r = await client.post(url, json={"user_id": str(alice.id), "role": "editor"}, headers=owner.headers)
    assert r.status_code == 409

    r = await client.patch(f"{url}{alice.id}", json={"role": "owner"}, headers=owner.headers)
    assert r.status_code == 200 and r.json()["role"] == "owner"
    members = (await client.get(url, headers=alice.headers)).json()["items"]
    assert {(m["user_id"], m["role"]) for m in members} == {(str(owner.id), "owner"), (str(alice.id), "owner")}

    # with two owners, one can step down, and the new owner can remove the first
    r = await client.patch(f"{url}{owner.id}", json={"role": "editor"}, headers=owner.headers)
    assert r.status_code == 200
    assert (await client.delete(f"{url}{owner.id}", headers=alice.headers)).status_code == 204
    assert (await client.get(f"/projects/{project['id']}", headers=owner.headers)).status_code == 404
    assert (await client.delete(f"{url}{uuid.uuid4()}", headers=alice.headers)).status_code == 404
    r = await client.patch(f"{url}{alice.id}", json={"role": "boss"}, headers=alice.headers)
    assert r.status_code == 422


async def test_members_answer_the_page_contract(api, client, company):
    owner, a, b = company.user(), company.user(), company.user()
    project = await api.create_project(owner)
    await api.add_member(project, owner, a, "viewer")
    await api.add_member(project, owner, b, "editor")
    url = f"/projects/{project['id']}/members/"

    r = await client.get(url, params={"page": 2, "page_size": 2}, headers=owner.headers)
    assert r.status_code == 200
    body = r.json()
    assert (body["total"], body["page"], body["page_size"]) == (3, 2, 2)
    assert [m["user_id"] for m in body["items"]] == [str(b.id)]  # added last, so alone on page 2

    r = await client.get(url, params={"page_size": 101}, headers=owner.headers)
    assert r.status_code == 422 and "100" in r.text


async def test_a_project_always_keeps_an_owner(api, client, company):
    owner, editor, admin = company.user(), company.user(), company.user("admin")
    project = await api.create_project(owner)
    await api.add_member(project, owner, editor, "editor")
    url = f"/projects/{project['id']}/members/{owner.id}"

    for user in (owner, admin):
        r = await client.patch(url, json={"role": "editor"}, headers=user.headers)
        assert r.status_code == 409 and r.json()["type"].endswith("/conflict")
        r = await client.delete(url, headers=user.headers)
        assert r.status_code == 409
    roles = {
        m["user_id"]: m["role"]
        for m in (await client.get(f"/projects/{project['id']}/members/", headers=owner.headers)).json()["items"]
    }
    assert roles[str(owner.id)] == "owner"


async def test_any_member_may_leave(api, client, company):
    owner, viewer = company.user(), company.user()
    project = await api.create_project(owner)
    await api.add_member(project, owner, viewer, "viewer")
    r = await client.delete(f"/projects/{project['id']}/members/{viewer.id}", headers=viewer.headers)
    assert r.status_code == 204
    assert (await client.get(f"/projects/{project['id']}", headers=viewer.headers)).status_code == 404


async def test_audit_trail_records_who_did_what(api, client, company):
    owner, editor, admin = company.user(), company.user(), company.user("admin")
    project = await api.create_project(owner, "Audited")
    await api.add_member(project, owner, editor, "editor")
    circuit = await api.create_circuit(project, editor, api.tiny_circuit())
    await client.patch(f"/projects/{project['id']}", json={"name": "Audited 2"}, headers=admin.headers)

    r = await client.get(f"/projects/{project['id']}/audit/", params={"page_size": 2}, headers=admin.headers)
    body = r.json()
    assert r.status_code == 200 and body["total"] == 5 and len(body["items"]) == 2
    r = await client.get(f"/projects/{project['id']}/audit/", params={"page_size": 100}, headers=owner.headers)
    trail = [(e["action"], e["actor_id"]) for e in reversed(r.json()["items"])]
    assert trail == [
        ("project.created", str(owner.id)),
        ("member.added", str(owner.id)),
        ("circuit.created", str(editor.id)),
        ("version.created", str(editor.id)),
        ("project.updated", str(admin.id)),
    ]
    version_entry = next(e for e in r.json()["items"] if e["action"] == "version.created")
    assert version_entry["circuit_id"] == circuit["id"] and version_entry["version_number"] == 1
    assert version_entry["request_id"]
