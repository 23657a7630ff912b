"""Reports: figures from a small known history, filters, CSV, bad ranges."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime


async def test_reports_count_what_happened_and_filter_by_type_and_date(api, shop):
    await api.set_routing(shop.manager, "Cable", [("Crimp", 2.0, "assembly"), ("Test", 1.0, "quality")])
    cable = await api.release(await api.traveler(shop.engineer, traveler_type="Cable", quantity=5), shop.manager)
    crimp, test = cable["steps"]
    await api.start(cable, crimp, shop.assembly)
    assert (await api.complete(cable, crimp, shop.assembly, qty_passed=5)).status_code == 200
    await api.start(cable, test, shop.quality)
    r = await api.complete(cable, test, shop.quality, qty_passed=4, qty_failed=1, failure_action="hold")
    assert r.status_code == 200
    draft = await api.traveler(shop.engineer, traveler_type="PCB", due_date="2001-01-01")
    today = datetime.now(UTC).date().isoformat()

    dash = await api.ok("GET", "/reports/dashboard-stats", shop.viewer)
    assert (dash["total"], dash["on_hold"], dash["late"], dash["wip"]) == (2, 1, 1, 1)
    assert dash["by_status"] == {"on_hold": 1, "draft": 1}
    assert dash["wip_by_step"] == [{"step": None, "count": 1}]  # every step done, held before completion

    fpy = await api.ok("GET", "/reports/first-pass-yield", shop.viewer, params={"traveler_type": "Cable"})
    assert [(r["step"], r["units"], r["first_pass"], r["yield"]) for r in fpy["rows"]] == [
        ("Crimp", 5, 5, 1.0),
        ("Test", 5, 4, 0.8),
    ]
    assert (await api.ok("GET", "/reports/first-pass-yield", shop.viewer, params={"traveler_type": "PCB"}))[
        "rows"
    ] == []
    past = {"date_from": "2000-01-01", "date_to": "2000-12-31"}
    assert (await api.ok("GET", "/reports/first-pass-yield", shop.viewer, params=past))["rows"] == []
    assert (await api.ok("GET", "/reports/dashboard-stats", shop.viewer, params=past))["total"] == 0
    same_day = {"date_from": today, "date_to": today}
    assert len((await api.ok("GET", "/reports/first-pass-yield", shop.viewer, params=same_day))["rows"]) == 2

    labor = await api.ok("GET", "/reports/labor-efficiency", shop.viewer)
    assert {r["key"]: r["standard_minutes"] for r in labor["by_step"]} == {"Crimp": 10.0, "Test": 5.0}
    assert {r["key"]: r["units"] for r in labor["by_operator"]} == {str(shop.assembly.id): 5, str(shop.quality.id): 5}

    r = await api.client.get("/reports/dashboard-stats", params={"format": "csv"}, headers=shop.viewer.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {"metric": "late", "key": "", "value": "1"} in rows
    assert draft["status"] == "draft"


async def test_csv_cells_cannot_become_formulas(api, shop):
    await api.set_routing(shop.manager, "Parts", [("=HYPERLINK(1)", 1.0, "operator")])
    t = await api.release(await api.traveler(shop.engineer, traveler_type="Parts", quantity=1), shop.manager)
    await api.start(t, t["steps"][0], shop.operator)
    assert (await api.complete(t, t["steps"][0], shop.operator, qty_passed=1)).status_code == 200
    r = await api.client.get("/reports/first-pass-yield", params={"format": "csv"}, headers=shop.viewer.headers)
    assert "'=HYPERLINK(1)" in r.text


async def test_bad_report_filters_are_422(api, shop):
    for params in (
        {"date_from": "2026-02-01", "date_to": "2026-01-01"},
        {"date_from": "yesterday"},
        {"traveler_type": "Rocket"},
        {"format": "xlsx"},
        {"period": "decade"},
    ):
        r = await api.client.get("/reports/traveler-completion", params=params, headers=shop.viewer.headers)
        assert r.status_code == 422, params
        assert r.headers["content-type"].startswith("application/problem+json")
