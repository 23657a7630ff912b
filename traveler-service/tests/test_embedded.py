"""The embedded default: SQLite file, in-process bus; the one-open-log index holds there too."""

from __future__ import annotations

import httpx
import pytest

from ampflux_traveler.config import Settings


@pytest.fixture
async def sqlite_client(tmp_path, client_factory):
    async for c in client_factory(Settings(database_url="", amqp_url="", data_dir=tmp_path)):
        yield c


async def test_a_traveler_runs_on_sqlite_and_reports_answer(sqlite_client: httpx.AsyncClient, shop, api_for):
    api = api_for(sqlite_client)
    t = await api.traveler(shop.engineer, quantity=2)
    t = await api.release(t, shop.manager)
    step = t["steps"][0]
    await api.start(t, step, shop.operator)
    assert (
        await api.complete(t, step, shop.operator, qty_passed=1, qty_failed=1, failure_action="hold")
    ).status_code == 200
    url = f"/travelers/{t['id']}/steps/{step['id']}/clock-in"
    await api.status(t, shop.manager, "in_progress")
    assert (await sqlite_client.post(url, headers=shop.operator.headers)).status_code == 201
    assert (await sqlite_client.post(url, headers=shop.operator.headers)).status_code == 409
    for name in ("dashboard-stats", "traveler-completion", "labor-efficiency", "coating-status", "first-pass-yield"):
        for period in ("month", "week"):
            r = await sqlite_client.get(f"/reports/{name}", params={"period": period}, headers=shop.viewer.headers)
            assert r.status_code == 200, (name, r.text)
    fpy = (await sqlite_client.get("/reports/first-pass-yield", headers=shop.viewer.headers)).json()
    assert fpy["rows"][0]["yield"] == 0.5
