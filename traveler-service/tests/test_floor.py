"""The shop floor: steps and sign-off, failures (hold, rework), serial units, labor, scan."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import select

from ampflux_shared.events import make_event
from ampflux_shared.events.catalog import UserDeactivated
from ampflux_testing.polling import eventually
from ampflux_traveler.consumers import on_user_deactivated
from ampflux_traveler.models import event_tables


async def released(api, shop, routing, *, quantity=4, serials=None, traveler_type="Parts"):
    await api.set_routing(shop.manager, traveler_type, routing)
    t = await api.traveler(shop.engineer, traveler_type=traveler_type, quantity=quantity)
    if serials:
        await api.ok("POST", f"/travelers/{t['id']}/serials", shop.engineer, 201, json={"serials": serials})
    return await api.release(t, shop.manager)


ROUTING = [("Assemble", 2.0, "assembly"), ("Test", 1.0, "quality"), ("QC", 0.5, "quality")]


async def test_sign_off_needs_the_step_s_role(api, shop):
    t = await released(api, shop, ROUTING, quantity=2)
    qc_step = t["steps"][2]
    await api.start(t, qc_step, shop.operator)

    r = await api.complete(t, qc_step, shop.operator, qty_passed=2)
    assert r.status_code == 403 and "quality" in r.json()["detail"]
    r = await api.complete(t, qc_step, shop.admin, qty_passed=2)
    assert r.status_code == 403
    r = await api.complete(t, qc_step, shop.quality, qty_passed=2)
    assert r.status_code == 200 and r.json()["signed_off_by"] == str(shop.quality.id)


async def test_failed_serials_go_through_rework_and_back(api, shop):
    serials = ["SN1", "SN2", "SN3", "SN4"]
    t = await released(api, shop, ROUTING, serials=serials)
    assemble, test, qc = t["steps"]
    await api.start(t, assemble, shop.assembly)
    assert (await api.complete(t, assemble, shop.assembly, qty_passed=4)).status_code == 200
    await api.start(t, test, shop.quality)
    assert (await api.complete(t, test, shop.quality, qty_passed=4)).status_code == 200
    await api.start(t, qc, shop.quality)
    results = [{"serial": s, "passed": s not in ("SN2", "SN4")} for s in serials]
    r = await api.complete(
        t,
        qc,
        shop.quality,
        qty_passed=2,
        qty_failed=2,
        failure_action="rework",
        rework_to_position=1,
        serial_results=results,
        notes="cold joints",
    )
    assert r.status_code == 200, r.text
    failed_exec = r.json()

    state = await api.read(t, shop.viewer)
    assert state["current_step"] == "Assemble"
    # rework will pass through every step from Assemble back to QC
    assert [s["status"] for s in state["steps"]] == ["in_progress", "in_progress", "in_progress"]
    r = await api.status(t, shop.manager, "completed")
    assert r.status_code == 409

    rework = await api.start(t, assemble, shop.assembly)
    assert (rework["kind"], rework["quantity"], rework["rework_of"]) == ("rework", 2, failed_exec["id"])
    back = [{"serial": "SN2", "passed": True}, {"serial": "SN4", "passed": True}]
    assert (await api.complete(t, assemble, shop.assembly, qty_passed=2, serial_results=back)).status_code == 200
    await api.start(t, test, shop.quality)
    assert (await api.complete(t, test, shop.quality, qty_passed=2, serial_results=back)).status_code == 200
    again = await api.start(t, qc, shop.quality)
    assert again["kind"] == "rework" and again["rework_until"] == 3
    assert (await api.complete(t, qc, shop.quality, qty_passed=2, serial_results=back)).status_code == 200

    state = await api.read(t, shop.viewer)
    assert [s["status"] for s in state["steps"]] == ["done", "done", "done"] and state["current_step"] is None
    route = await api.ok("GET", f"/travelers/{t['id']}/serials/SN2", shop.viewer)
    assert route["status"] == "ok"
    # (the first two steps were signed off by count, without per-unit results)
    assert [(e["step_name"], e["kind"], e["passed"]) for e in route["route"]] == [
        ("QC", "first", False),
        ("Assemble", "rework", True),
        ("Test", "rework", True),
        ("QC", "rework", True),
    ]
    done = await api.status(t, shop.manager, "completed")
    assert done.status_code == 200, done.text
    executions = await api.ok("GET", f"/travelers/{t['id']}/executions", shop.viewer)
    assert executions["total"] == 6 and sum(e["kind"] == "rework" for e in executions["items"]) == 3

    types = [row[0] for row in (await _outbox_types(api)) if row[1] == uuid.UUID(t["id"])]
    assert types.count("traveler.unit.failed") == 2
    assert types.count("traveler.step.completed") == 6
    assert {"traveler.traveler.released", "traveler.traveler.completed"} <= set(types)


async def _outbox_types(api):
    app = api.client.app
    table = event_tables.outbox
    async with app.state.db.session() as session:
        rows = (await session.execute(select(table.c.type, table.c.payload))).all()
    return [(t, uuid.UUID(payload["traveler_id"])) for t, payload in rows]


async def test_a_failure_can_put_the_traveler_on_hold(api, shop):
    t = await released(api, shop, ROUTING, quantity=3)
    await api.start(t, t["steps"][0], shop.assembly)
    r = await api.complete(t, t["steps"][0], shop.assembly, qty_passed=2, qty_failed=1, failure_action="hold")
    assert r.status_code == 200
    state = await api.read(t, shop.viewer)
    assert state["status"] == "on_hold" and "1 unit(s) failed at Assemble" in state["hold_reason"]
    r = await api.client.post(f"/travelers/{t['id']}/steps/{t['steps'][1]['id']}/start", headers=shop.quality.headers)
    assert r.status_code == 409 and r.json()["current_status"] == "on_hold"


async def test_bad_sign_offs_are_422_naming_the_field(api, shop):
    t = await released(api, shop, ROUTING, quantity=3, serials=["A1", "A2", "A3"])
    step = t["steps"][0]
    await api.start(t, step, shop.assembly)
    cases = [
        ({"qty_passed": 3, "qty_failed": 1, "failure_action": "hold"}, "qty_failed"),
        ({"qty_passed": -1}, "qty_passed"),
        ({"qty_passed": 1, "qty_failed": 1}, "failure_action"),
        ({"qty_passed": 2, "qty_failed": 1, "failure_action": "rework", "rework_to_position": 9}, "rework_to_position"),
        ({"qty_passed": 1, "serial_results": [{"serial": "ZZ", "passed": True}]}, "serial_results"),
        ({"qty_passed": 2, "serial_results": [{"serial": "A1", "passed": True}]}, "serial_results"),
    ]
    for body, path in cases:
        r = await api.complete(t, step, shop.assembly, **body)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert any(e["path"] == path for e in r.json()["errors"]), (body, r.json())
    r = await api.client.post(f"/travelers/{t['id']}/steps/{uuid.uuid4()}/start", headers=shop.assembly.headers)
    assert r.status_code == 404
    r = await api.client.post(
        f"/travelers/{t['id']}/coating",
        json={
            "step_id": str(uuid.uuid4()),
            "coating_type": "acrylic",
            "material": "HumiSeal 1B31",
            "lot": "L1",
            "readings": [40.0],
            "spec_min": 25,
            "spec_max": 75,
        },
        headers=shop.operator.headers,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "step_id"
    r = await api.client.post(
        "/travelers/", json={"traveler_type": "PCB", "part_number": "x", "quantity": -2}, headers=shop.engineer.headers
    )
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "quantity"


async def test_one_open_labor_log_per_operator_even_when_clock_ins_race(api, shop):
    t = await released(api, shop, ROUTING, quantity=2)
    urls = [f"/travelers/{t['id']}/steps/{s['id']}/clock-in" for s in t["steps"]]

    for _ in range(3):  # several rounds: the race is won by exactly one each time
        answers = await asyncio.gather(*(api.client.post(u, headers=shop.operator.headers) for u in urls))
        codes = sorted(r.status_code for r in answers)
        assert codes == [201, 409, 409], [r.text for r in answers]
        refused = [r for r in answers if r.status_code == 409]
        assert all(r.json()["type"].endswith("already-clocked-in") for r in refused)
        out = await api.ok("POST", "/travelers/labor/clock-out", shop.operator, json={})
        assert out["minutes"] >= 0 and out["closed_reason"] == "operator"
    r = await api.client.post("/travelers/labor/clock-out", json={}, headers=shop.operator.headers)
    assert r.status_code == 409
    logs = await api.ok("GET", "/travelers/labor/logs", shop.viewer, params={"traveler_id": t["id"]})
    assert logs["total"] == 3
    metrics = (await api.client.get("/metrics")).text
    assert "ampflux_traveler_clock_ins_refused_total 6.0" in metrics


async def test_a_deactivated_user_s_open_log_is_closed_once(api, shop):
    t = await released(api, shop, ROUTING, quantity=2)
    await api.ok("POST", f"/travelers/{t['id']}/steps/{t['steps'][0]['id']}/clock-in", shop.operator, 201)
    envelope = make_event(
        "auth.user.deactivated",
        UserDeactivated(user_id=shop.operator.id, company_id=shop.company.id),
        producer="auth",
        company_id=shop.company.id,
    )
    bus = api.client.app.state.bus
    await bus.publish(envelope)
    await bus.publish(envelope)  # a redelivery has no second effect

    async def clocked_out() -> dict | None:
        logs = await api.ok("GET", "/travelers/labor/logs", shop.viewer, params={"operator_id": str(shop.operator.id)})
        return logs if logs["items"][0]["clock_out"] is not None else None

    logs = await eventually(clocked_out, timeout=10, what="the operator's log to be clocked out")
    assert logs["items"][0]["closed_reason"] == "user_deactivated"
    assert logs["total"] == 1
    assert on_user_deactivated is not None


async def test_the_scan_station_does_the_next_thing(api, shop):
    t = await released(api, shop, ROUTING, quantity=2)
    number = t["number"]

    async def scan(user, code, **extra):
        return await api.client.post("/travelers/scan", json={"code": code, **extra}, headers=user.headers)

    shown = await scan(shop.viewer, f"TRV:{number}")
    assert shown.status_code == 200 and shown.json()["action"] == "show"
    r = await scan(shop.assembly, f"STP:{number}:1")
    assert r.status_code == 200 and r.json()["action"] == "clocked_in"
    assert r.json()["execution"]["status"] == "started"
    r = await scan(shop.assembly, f"STP:{number}:2")
    assert r.status_code == 409 and "clocked in on another step" in r.json()["detail"]
    r = await scan(shop.assembly, f"STP:{number}:1", qty_passed=2)
    assert r.status_code == 200 and r.json()["action"] == "completed"
    assert r.json()["labor_log"]["clock_out"] is not None and r.json()["execution"]["qty_passed"] == 2
    r = await scan(shop.assembly, f"STP:{number}:1")  # nothing left there
    assert r.status_code == 409
    r = await scan(shop.assembly, "hello")
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "code"
    r = await scan(shop.quality, f"STP:{number}:2")
    assert r.json()["action"] == "clocked_in"
    r = await scan(shop.quality, f"STP:{number}:2")
    assert r.json()["action"] == "clocked_out"


async def test_coating_is_judged_against_its_spec(api, shop):
    t = await released(api, shop, ROUTING, quantity=2)
    body = {
        "coating_type": "acrylic",
        "material": "HumiSeal 1B31",
        "lot": "L-77",
        "spec_min": 25,
        "spec_max": 75,
        "cure_minutes": 30,
        "cure_temp_c": 60,
    }
    good = await api.ok(
        "POST", f"/travelers/{t['id']}/coating", shop.operator, 201, json={**body, "readings": [30, 50, 40]}
    )
    bad = await api.ok("POST", f"/travelers/{t['id']}/coating", shop.quality, 201, json={**body, "readings": [20, 50]})
    assert (good["thickness_min"], good["thickness_max"], good["thickness_mean"], good["passed"]) == (30, 50, 40, True)
    assert bad["passed"] is False
    r = await api.client.post(
        f"/travelers/{t['id']}/coating", json={**body, "readings": []}, headers=shop.operator.headers
    )
    assert r.status_code == 422


async def test_codes_and_the_printed_sheet(api, shop):
    import io

    import pypdf

    t = await api.traveler(shop.engineer)
    await api.ok(
        "POST", f"/travelers/{t['id']}/bom", shop.engineer, 201, json={"item": "U1-MCU", "quantity_per_unit": 1}
    )
    for fmt, media in (("svg", "image/svg+xml"), ("png", "image/png")):
        for kind in ("code128", "qr"):
            r = await api.client.get(
                f"/travelers/{t['id']}/code.{fmt}", params={"kind": kind}, headers=shop.viewer.headers
            )
            assert (
                r.status_code == 200
                and r.headers["content-type"] == media
                and r.headers["x-code"] == f"TRV:{t['number']}"
            )
    step = t["steps"][3]
    r = await api.client.get(f"/travelers/{t['id']}/steps/{step['id']}/code.svg", headers=shop.viewer.headers)
    assert r.headers["x-code"] == f"STP:{t['number']}:4" and b"<svg" in r.content

    r = await api.client.get(f"/travelers/{t['id']}/sheet.pdf", headers=shop.viewer.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(r.content)).pages)
    assert t["number"] in text and "U1-MCU" in text
    for s in t["steps"]:
        assert f"{s['position']}. {s['name']}" in text
