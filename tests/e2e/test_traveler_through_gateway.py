"""The traveler service through the gateway on real PostgreSQL and RabbitMQ: a purchase
order becomes a released traveler, operators clock in and out and sign off by scanning,
QC fails two serials that go through rework and back, coating is logged, the traveler
completes, and every report shows exactly the figures this history implies (computed
here from what the API answered, independently of the service's SQL)."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime

import httpx
import pytest
from e2e.flows import add_colleague, bearer, register_and_login

from ampflux_testing.event_listener import listen_for_events
from ampflux_testing.polling import eventually_sync

ROUTING = [
    ("Kitting", 1.0, "operator"),
    ("Assembly", 3.0, "assembly"),
    ("Coating", 2.0, "operator"),
    ("QC", 1.5, "quality"),
]
SERIALS = ["SN-1", "SN-2", "SN-3", "SN-4"]
FAILING = {"SN-2", "SN-3"}
# What the story publishes about its traveler: its release, one completion per step execution
# (four, then three of rework), one failure per failing serial, its completion.
STORY_EVENTS = {
    "traveler.traveler.released": 1,
    "traveler.step.completed": 7,
    "traveler.unit.failed": len(FAILING),
    "traveler.traveler.completed": 1,
}


def ok(r: httpx.Response, status: int = 200) -> dict:
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json()


@pytest.fixture(scope="module")
def crew(stack):
    with httpx.Client(base_url=stack["gateway"].url, timeout=30) as gw:
        _, admin = register_and_login(gw)
        team = {"admin": bearer(admin)}
        for role in ("manager", "engineer", "purchasing", "operator", "assembly", "quality", "viewer"):
            user, tokens = add_colleague(gw, admin, role)
            team[role] = bearer(tokens)
            team[f"{role}_id"] = user["id"]
        return team


async def test_a_po_becomes_a_completed_traveler_and_the_reports_add_up(stack, gw, crew):
    async with listen_for_events(stack["amqp_url"], "traveler.#") as events:
        # The story talks to the gateway synchronously: in a thread, so the listener keeps receiving.
        tid = await asyncio.to_thread(_a_po_becomes_a_completed_traveler, gw, crew)
        # Every event went through the outbox to RabbitMQ. Other tests share the broker: only this
        # traveler's events count.
        mine = await events.wait_for(
            lambda e: e.payload.get("traveler_id") == tid and e.type in STORY_EVENTS,
            count=sum(STORY_EVENTS.values()),
            timeout=20,
        )
    types = [e.type for e in mine]
    assert {t: types.count(t) for t in STORY_EVENTS} == STORY_EVENTS
    assert sorted(e.payload["serial"] for e in mine if e.type == "traveler.unit.failed") == sorted(FAILING)


def _a_po_becomes_a_completed_traveler(gw: httpx.Client, h: dict) -> str:
    """The story and its reports, through the gateway; answers the traveler's id."""
    # Managers set the routing; purchasing enters the PO; engineering makes the traveler.
    body = {"steps": [{"name": n, "standard_minutes": m, "signoff_role": r} for n, m, r in ROUTING]}
    ok(gw.put("/travelers/types/Parts", json=body, headers=h["manager"]))
    po = ok(
        gw.post(
            "/purchase-orders/",
            json={
                "number": "PO-4711",
                "customer": "Acme",
                "due_date": "2099-12-31",
                "lines": [{"part_number": "CTRL-9", "revision": "C", "quantity": 4}],
            },
            headers=h["purchasing"],
        ),
        201,
    )
    t = ok(
        gw.post(
            "/travelers/", json={"traveler_type": "Parts", "po_line_id": po["lines"][0]["id"]}, headers=h["engineer"]
        ),
        201,
    )
    tid, number = t["id"], t["number"]
    steps = {s["name"]: s for s in t["steps"]}
    line = ok(
        gw.post(f"/travelers/{tid}/bom", json={"item": "MCU", "quantity_per_unit": 1}, headers=h["engineer"]), 201
    )
    ok(gw.post(f"/travelers/{tid}/bom/{line['id']}/supply", json={"status": "short"}, headers=h["purchasing"]))
    r = gw.post(f"/travelers/{tid}/status", json={"status": "released"}, headers=h["manager"])
    assert r.status_code == 409 and [x["item"] for x in r.json()["short_lines"]] == ["MCU"]
    ok(
        gw.post(
            f"/travelers/{tid}/bom/{line['id']}/supply",
            json={"status": "received", "issued": 4},
            headers=h["purchasing"],
        )
    )
    ok(gw.post(f"/travelers/{tid}/serials", json={"serials": SERIALS}, headers=h["engineer"]), 201)
    assert (
        ok(gw.post(f"/travelers/{tid}/status", json={"status": "released"}, headers=h["manager"]))["status"]
        == "released"
    )

    def scan(who: str, position: int, **extra) -> dict:
        return ok(gw.post("/travelers/scan", json={"code": f"STP:{number}:{position}", **extra}, headers=h[who]))

    def complete(who: str, step: str, **body) -> dict:
        return ok(gw.post(f"/travelers/{tid}/steps/{steps[step]['id']}/complete", json=body, headers=h[who]))

    # First pass: scan in, scan out with the counts (Kitting, Assembly, Coating).
    assert scan("operator", 1)["action"] == "clocked_in"
    assert scan("operator", 1, qty_passed=4)["action"] == "completed"
    assert scan("assembly", 2)["action"] == "clocked_in"
    assert scan("assembly", 2, qty_passed=4)["action"] == "completed"
    assert scan("operator", 3)["action"] == "clocked_in"
    readings = [52.0, 48.5, 61.0, 55.5]
    coat = ok(
        gw.post(
            f"/travelers/{tid}/coating",
            json={
                "step_id": steps["Coating"]["id"],
                "coating_type": "acrylic",
                "material": "HumiSeal 1B31",
                "lot": "L-0815",
                "readings": readings,
                "spec_min": 25,
                "spec_max": 75,
                "cure_minutes": 30,
                "cure_temp_c": 65,
            },
            headers=h["operator"],
        ),
        201,
    )
    assert coat["passed"] and coat["thickness_mean"] == pytest.approx(sum(readings) / 4)
    assert scan("operator", 3, qty_passed=4)["action"] == "completed"

    # QC fails two serials: back to Assembly for rework.
    assert scan("quality", 4)["action"] == "clocked_in"
    complete(
        "quality",
        "QC",
        qty_passed=2,
        qty_failed=2,
        failure_action="rework",
        rework_to_position=2,
        serial_results=[{"serial": s, "passed": s not in FAILING} for s in SERIALS],
        notes="solder bridges",
    )
    ok(gw.post("/travelers/labor/clock-out", json={}, headers=h["quality"]))
    back = [{"serial": s, "passed": True} for s in sorted(FAILING)]
    for who, position, step in (("assembly", 2, "Assembly"), ("operator", 3, "Coating"), ("quality", 4, "QC")):
        assert scan(who, position)["action"] == "clocked_in"
        complete(who, step, qty_passed=2, serial_results=back)
        ok(gw.post("/travelers/labor/clock-out", json={}, headers=h[who]))
    route = ok(gw.get(f"/travelers/{tid}/serials/SN-2", headers=h["viewer"]))
    assert [(e["step_name"], e["kind"], e["passed"]) for e in route["route"]] == [
        ("QC", "first", False),
        ("Assembly", "rework", True),
        ("Coating", "rework", True),
        ("QC", "rework", True),
    ]
    done = ok(gw.post(f"/travelers/{tid}/status", json={"status": "completed"}, headers=h["manager"]))
    assert done["status"] == "completed"
    assert ok(gw.get(f"/purchase-orders/{po['id']}", headers=h["viewer"]))["status"] == "completed"

    # The history, read back through the API: the reports must imply exactly this.
    executions = ok(gw.get(f"/travelers/{tid}/executions", params={"page_size": 100}, headers=h["viewer"]))["items"]
    logs = ok(gw.get("/travelers/labor/logs", params={"traveler_id": tid, "page_size": 100}, headers=h["viewer"]))[
        "items"
    ]
    assert len(executions) == 7 and len(logs) == 7
    std = {name: minutes for name, minutes, _ in ROUTING}
    step_name = {s["id"]: s["name"] for s in t["steps"]}

    def minutes(log: dict) -> float:
        return (datetime.fromisoformat(log["clock_out"]) - datetime.fromisoformat(log["clock_in"])).total_seconds() / 60

    today = datetime.now(UTC).date().isoformat()
    window = {"date_from": today, "date_to": today, "traveler_type": "Parts"}

    labor = ok(gw.get("/reports/labor-efficiency", params=window, headers=h["viewer"]))
    by_step = {row["key"]: row for row in labor["by_step"]}
    for name, _, _ in ROUTING:
        units = sum(e["qty_passed"] + e["qty_failed"] for e in executions if step_name[e["step_id"]] == name)
        actual = sum(minutes(x) for x in logs if step_name[x["step_id"]] == name)
        assert by_step[name]["units"] == units
        assert by_step[name]["standard_minutes"] == pytest.approx(units * std[name])
        assert by_step[name]["actual_minutes"] == pytest.approx(actual, abs=1e-3)
    assert {row["key"]: row["units"] for row in labor["by_step"]} == {
        "Kitting": 4,
        "Assembly": 6,
        "Coating": 6,
        "QC": 6,
    }
    by_operator = {row["key"]: row for row in labor["by_operator"]}
    assert by_operator[h["quality_id"]]["units"] == 6
    assert by_operator[h["quality_id"]]["standard_minutes"] == pytest.approx(6 * 1.5)

    fpy = ok(gw.get("/reports/first-pass-yield", params=window, headers=h["viewer"]))
    assert [(r["step"], r["units"], r["first_pass"]) for r in fpy["rows"]] == [
        ("Kitting", 4, 4),
        ("Assembly", 4, 4),
        ("Coating", 4, 4),
        ("QC", 4, 2),
    ]
    assert fpy["serial_units"] == [{"traveler_type": "Parts", "serial_units": 4, "first_pass_units": 2, "yield": 0.5}]

    completion = ok(gw.get("/reports/traveler-completion", params=window, headers=h["viewer"]))
    lead_h = (
        datetime.fromisoformat(done["completed_at"]) - datetime.fromisoformat(done["released_at"])
    ).total_seconds() / 3600
    assert completion["completed"] == 1 and completion["on_time_rate"] == 1.0
    assert completion["rows"][0]["mean_lead_time_hours"] == pytest.approx(lead_h, abs=1e-3)
    assert completion["rows"][0]["period"] == today[:7]

    coating = ok(gw.get("/reports/coating-status", params=window, headers=h["viewer"]))
    assert coating["rows"] == [
        {
            "coating_type": "acrylic",
            "logs": 1,
            "passed": 1,
            "failed": 0,
            "pass_rate": 1.0,
            "thickness_min": min(readings),
            "thickness_max": max(readings),
            "thickness_mean": sum(readings) / 4,
        }
    ]

    dash = ok(gw.get("/reports/dashboard-stats", params=window, headers=h["viewer"]))
    assert (dash["total"], dash["wip"], dash["late"], dash["on_hold"], dash["by_status"]) == (
        1,
        0,
        0,
        0,
        {"completed": 1},
    )

    r = gw.get("/reports/first-pass-yield", params={**window, "format": "csv"}, headers=h["viewer"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert [row["first_pass"] for row in csv.DictReader(io.StringIO(r.text))] == ["4", "4", "4", "2"]
    other_type = ok(gw.get("/reports/first-pass-yield", params={**window, "traveler_type": "PCB"}, headers=h["viewer"]))
    assert other_type["rows"] == []

    return tid


def test_a_deactivated_operator_is_clocked_out_through_rabbitmq(gw, crew):
    h = crew
    user, tokens = add_colleague(gw, {"access_token": h["admin"]["Authorization"][7:]}, "operator")
    t = ok(
        gw.post("/travelers/", json={"traveler_type": "PCB", "part_number": "X", "quantity": 1}, headers=h["engineer"]),
        201,
    )
    ok(gw.post(f"/travelers/{t['id']}/status", json={"status": "released"}, headers=h["manager"]))
    ok(gw.post(f"/travelers/{t['id']}/steps/{t['steps'][0]['id']}/clock-in", headers=bearer(tokens)), 201)
    ok(gw.post(f"/auth/users/{user['id']}/deactivate", headers=h["admin"]))

    def clocked_out() -> dict | None:
        log = ok(gw.get("/travelers/labor/logs", params={"operator_id": user["id"]}, headers=h["viewer"]))["items"][0]
        return log if log["clock_out"] is not None else None

    log = eventually_sync(clocked_out, timeout=20, interval=0.1, what="the operator's log to be clocked out")
    assert log["closed_reason"] == "user_deactivated"


def test_refusals_through_the_gateway(gw, crew):
    h = crew
    _, stranger = register_and_login(gw)
    t = ok(
        gw.post("/travelers/", json={"traveler_type": "PCB", "part_number": "Y", "quantity": 2}, headers=h["engineer"]),
        201,
    )
    assert gw.get(f"/travelers/{t['id']}", headers=bearer(stranger)).status_code == 404
    assert (
        gw.post(
            "/travelers/", json={"traveler_type": "PCB", "part_number": "Y", "quantity": 2}, headers=h["viewer"]
        ).status_code
        == 403
    )
    r = gw.post(f"/travelers/{t['id']}/status", json={"status": "completed"}, headers=h["manager"])
    assert r.status_code == 409 and r.json()["allowed_transitions"] == ["released", "cancelled"]
    r = gw.post("/travelers/", json={"traveler_type": "PCB", "part_number": "Y", "quantity": -1}, headers=h["engineer"])
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "quantity"
    assert gw.get("/docs/traveler").status_code == 200
    assert "/travelers/scan" in gw.get("/openapi/traveler.json").json()["paths"]
