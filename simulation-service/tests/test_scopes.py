"""API-key scopes in the simulation service: `simulations:read` reads runs and results,
`simulations:write` submits and cancels."""

from __future__ import annotations

from ampflux_shared.security import unscoped_routes
from ampflux_testing.scopes import walk


async def test_every_route_declares_a_scope(api):
    assert unscoped_routes(api.app) == []


async def test_a_read_only_key_reads_and_cannot_submit_or_cancel(api, helpers):
    run = (await api.submit(helpers.without_expected(helpers.load_case("ind480_radial")))).json()
    reader = api.auth.headers(api.company_id, user_id=api.user_id, scopes=("projects:read", "simulations:read"))

    answers = await walk(api.client, api.app, reader, ids={"run_id": run["id"]})
    assert len(answers) >= 7
    for a in answers:
        assert a.status < 500, a
        if a.writes:
            assert a.scope_refused, a
        else:
            assert not a.scope_refused and a.status not in (401, 403), a
    assert {a.path: a.status for a in answers}["/simulations/{run_id}"] == 200

    project_id = run["project_id"]
    r = await api.client.post(
        "/simulations", json={"project_id": project_id, "document": helpers.load_case("ind480_radial")}, headers=reader
    )
    assert r.status_code == 403 and r.json()["required_scope"] == "simulations:write"
    r = await api.client.post(f"/simulations/{run['id']}/cancel", headers=reader)
    assert r.status_code == 403
    assert (await api.client.get(f"/simulations/{run['id']}", headers=api.headers)).json()["status"] != "cancelled"
