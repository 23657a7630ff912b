"""Projects: the life of a project, who sees it, and lists."""

from __future__ import annotations

import uuid


async def test_life_of_a_project(api, client, company):
    owner = company.user("engineer")
    project = await api.create_project(owner, "Substation A", description="20 kV yard")
    assert project["my_role"] == "owner" and project["archived"] is False
    assert project["company_id"] == str(company.id) and project["created_by"] == str(owner.id)
    url = f"/projects/{project['id']}"

    r = await client.patch(url, json={"name": "Substation A2", "description": "extended"}, headers=owner.headers)
    assert r.status_code == 200 and r.json()["name"] == "Substation A2"

    r = await client.post(f"{url}/archive", headers=owner.headers)
    assert r.status_code == 200 and r.json()["archived"] is True
    # Archived projects are read-only and hidden from the default list.
    r = await client.patch(url, json={"name": "again"}, headers=owner.headers)
    assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
    assert (await client.get("/projects/", headers=owner.headers)).json()["total"] == 0
    listed = (await client.get("/projects/", params={"include_archived": True}, headers=owner.headers)).json()
    assert [p["id"] for p in listed["items"]] == [project["id"]]

    r = await client.post(f"{url}/unarchive", headers=owner.headers)
    assert r.status_code == 200 and r.json()["archived"] is False

    r = await client.delete(url, headers=owner.headers)
    assert r.status_code == 204
    assert (await client.get(url, headers=owner.headers)).status_code == 404


async def test_names_are_unique_within_a_company_only(api, client, company, other_company):
    await api.create_project(company.user(), "Mill")
    r = await client.post("/projects/", json={"name": "Mill"}, headers=company.user().headers)
    assert r.status_code == 409 and r.json()["type"].endswith("/conflict")
    await api.create_project(other_company.user(), "Mill")


async def test_create_needs_a_creating_company_role(client, company):
    r = await client.post("/projects/", json={"name": "X"}, headers=company.user("viewer").headers)
    assert r.status_code == 403
    r = await client.post("/projects/", json={"name": "X"})
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"


async def test_invalid_body_names_every_field(client, company):
    r = await client.post("/projects/", json={"name": "  ", "description": 5}, headers=company.user().headers)
    assert r.status_code == 422
    assert {e["path"] for e in r.json()["errors"]} == {"name", "description"}


async def test_list_shows_only_my_projects_and_admin_sees_all(api, client, company, other_company):
    alice, bob, admin = company.user(), company.user(), company.user("admin")
    a = await api.create_project(alice, "Alpha feeder")
    await api.create_project(bob, "Beta feeder")
    await api.create_project(other_company.user(), "Alpha elsewhere")

    mine = (await client.get("/projects/", headers=alice.headers)).json()
    assert [p["id"] for p in mine["items"]] == [a["id"]] and mine["total"] == 1

    everything = (await client.get("/projects/", headers=admin.headers)).json()
    assert [p["name"] for p in everything["items"]] == ["Alpha feeder", "Beta feeder"]
    assert all(p["my_role"] == "owner" for p in everything["items"])
    # bob's project is invisible to alice, as if it did not exist
    beta = next(p for p in everything["items"] if p["name"] == "Beta feeder")
    assert (await client.get(f"/projects/{beta['id']}", headers=alice.headers)).status_code == 404


async def test_list_is_searchable_and_paginated_with_a_bound(api, client, company):
    admin = company.user("admin")
    for i in range(5):
        await api.create_project(admin, f"Line {i}")
    await api.create_project(admin, "Other 100%_")

    r = await client.get("/projects/", params={"q": "line", "page": 2, "page_size": 2}, headers=admin.headers)
    body = r.json()
    assert body["total"] == 5 and body["page"] == 2 and [p["name"] for p in body["items"]] == ["Line 2", "Line 3"]
    # LIKE wildcards in the search are literal text
    r = await client.get("/projects/", params={"q": "%_"}, headers=admin.headers)
    assert [p["name"] for p in r.json()["items"]] == ["Other 100%_"]
    r = await client.get("/projects/", params={"page_size": 1000}, headers=admin.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "query.page_size"


async def test_another_companys_project_is_404_on_every_route(api, client, company, other_company):
    owner = company.user()
    project = await api.create_project(owner)
    circuit = await api.create_circuit(project, owner, api.tiny_circuit())
    pid, cid = project["id"], circuit["id"]
    intruders = [other_company.user("admin"), other_company.user("engineer")]
    routes = [
        ("GET", f"/projects/{pid}", None),
        ("PATCH", f"/projects/{pid}", {"name": "mine now"}),
        ("POST", f"/projects/{pid}/archive", None),
        ("POST", f"/projects/{pid}/unarchive", None),
        ("DELETE", f"/projects/{pid}", None),
        ("GET", f"/projects/{pid}/members/", None),
        ("POST", f"/projects/{pid}/members/", {"user_id": str(uuid.uuid4()), "role": "owner"}),
        ("PATCH", f"/projects/{pid}/members/{owner.id}", {"role": "viewer"}),
        ("DELETE", f"/projects/{pid}/members/{owner.id}", None),
        ("GET", f"/projects/{pid}/audit/", None),
        ("GET", f"/projects/{pid}/circuits/", None),
        ("POST", f"/projects/{pid}/circuits/", {"name": "x"}),
        ("POST", f"/projects/{pid}/circuits/import", api.tiny_circuit()),
        ("GET", f"/projects/{pid}/circuits/{cid}", None),
        ("PATCH", f"/projects/{pid}/circuits/{cid}", {"name": "y"}),
        ("DELETE", f"/projects/{pid}/circuits/{cid}", None),
        ("POST", f"/projects/{pid}/circuits/{cid}/import", api.tiny_circuit()),
        ("GET", f"/projects/{pid}/circuits/{cid}/export", None),
        ("GET", f"/projects/{pid}/circuits/{cid}/versions", None),
        ("POST", f"/projects/{pid}/circuits/{cid}/versions", {"document": api.tiny_circuit()}),
        ("GET", f"/projects/{pid}/circuits/{cid}/versions/latest", None),
        ("GET", f"/projects/{pid}/circuits/{cid}/versions/1", None),
        ("POST", f"/projects/{pid}/circuits/{cid}/versions/1/restore", None),
        ("GET", f"/projects/{pid}/circuits/{cid}/diff?from=1", None),
    ]
    for intruder in intruders:
        for method, path, body in routes:
            r = await client.request(method, path, json=body, headers=intruder.headers)
            assert r.status_code == 404, (intruder.roles, method, path, r.status_code, r.text)
            assert r.json()["type"].endswith("/not-found")
    # ...and nothing changed
    r = await client.get(f"/projects/{pid}/circuits/{cid}/versions", headers=owner.headers)
    assert r.json()["total"] == 1
    assert (await client.get(f"/projects/{pid}", headers=owner.headers)).json()["name"] == project["name"]


async def test_unknown_project_id_is_404(client, company):
    r = await client.get(f"/projects/{uuid.uuid4()}", headers=company.user("admin").headers)
    assert r.status_code == 404
