"""Role enforcement on every write route, and the scope declaration on every route."""

from __future__ import annotations

from ampflux_shared.security import unscoped_routes
from ampflux_shared.security.scopes import api_routes

# route -> (a valid body, the company roles refused besides viewer)
WRITE_ROUTES = {
    "POST /purchase-orders/": ({"number": "PO-R", "customer": "c"}, ["operator", "engineer"]),
    "PUT /travelers/types/{traveler_type}": (
        {"steps": [{"name": "x", "standard_minutes": 1, "signoff_role": "operator"}]},
        ["engineer", "operator"],
    ),
    "POST /travelers/": ({"traveler_type": "PCB", "part_number": "p", "quantity": 1}, ["operator", "purchasing"]),
    "PATCH /travelers/{traveler_id}": ({"priority": 2}, ["operator", "quality"]),
    "POST /travelers/{traveler_id}/status": ({"status": "released"}, ["engineer", "operator"]),
    "POST /travelers/{traveler_id}/bom": ({"item": "R1", "quantity_per_unit": 1}, ["purchasing", "operator"]),
    "PATCH /travelers/{traveler_id}/bom/{line_id}": ({"description": "d"}, ["purchasing", "operator"]),
    "POST /travelers/{traveler_id}/bom/{line_id}/supply": ({"status": "received"}, ["engineer", "operator"]),
    "POST /travelers/{traveler_id}/bom/{line_id}/substitutions": (
        {"substitute_item": "R2"},
        ["operator", "purchasing"],
    ),
    "POST /travelers/{traveler_id}/serials": ({"serials": ["S-1"]}, ["operator", "quality"]),
    "POST /travelers/{traveler_id}/steps/{step_id}/start": ({}, ["engineer", "purchasing"]),
    "POST /travelers/{traveler_id}/steps/{step_id}/complete": ({"qty_passed": 1}, ["quality", "manager"]),
    "POST /travelers/{traveler_id}/steps/{step_id}/clock-in": (None, ["engineer", "purchasing"]),
    "POST /travelers/labor/clock-out": ({}, ["engineer", "purchasing"]),
    "POST /travelers/{traveler_id}/coating": (
        {"coating_type": "acrylic", "material": "m", "lot": "l", "readings": [1.0], "spec_min": 0, "spec_max": 2},
        ["engineer", "purchasing"],
    ),
    "POST /travelers/scan": ({"code": "STP:{number}:1"}, ["engineer", "purchasing"]),
}


async def test_every_route_declares_its_scope(client):
    assert unscoped_routes(client.app) == []


async def test_every_write_route_refuses_roles_that_may_not_write_there(api, shop):
    served = {f"{m} {p}" for m, p, _ in api_routes(api.client.app) if m not in ("GET", "HEAD")}
    assert served == set(WRITE_ROUTES), "a new write route needs a row here"

    t = await api.traveler(shop.engineer, quantity=2)
    line = await api.ok(
        "POST", f"/travelers/{t['id']}/bom", shop.engineer, 201, json={"item": "C1", "quantity_per_unit": 1}
    )
    step = t["steps"][0]  # Kitting, signed off by operators
    ids = {"traveler_type": "PCB", "traveler_id": t["id"], "line_id": line["id"], "step_id": step["id"]}

    for route, (body, refused) in WRITE_ROUTES.items():
        method, template = route.split(" ")
        url = template.format(**ids)
        if body and "code" in body:
            body = {"code": body["code"].format(number=t["number"])}
        for role in ["viewer", *refused]:
            user = shop.company.user(role)
            r = await api.client.request(method, url, json=body, headers=user.headers)
            assert r.status_code == 403, (route, role, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")


async def test_an_api_key_without_the_write_scope_cannot_write(api, shop):
    read_only = shop.manager.key_headers("travelers:read")
    r = await api.client.post(
        "/travelers/", json={"traveler_type": "PCB", "part_number": "p", "quantity": 1}, headers=read_only
    )
    assert r.status_code == 403 and r.json()["required_scope"] == "travelers:write"
    assert (await api.client.get("/travelers/", headers=read_only)).status_code == 200
