"""Travelers: numbering, routing copies, the status machine, BOM gates, history, tenancy."""

from __future__ import annotations

import re


async def test_a_traveler_is_numbered_per_company_and_copies_its_routing(api, shop, other_shop):
    first = await api.traveler(shop.engineer)
    second = await api.traveler(shop.manager)
    elsewhere = await api.traveler(other_shop.engineer)

    assert re.fullmatch(r"T-\d{4}-\d{5}", first["number"])
    assert int(second["number"][-5:]) == int(first["number"][-5:]) + 1
    assert elsewhere["number"][-5:] == "00001"  # another company counts on its own
    assert [s["name"] for s in first["steps"]][:3] == ["Kitting", "SMT", "Reflow"]
    assert first["status"] == "draft" and first["allowed_transitions"] == ["released", "cancelled"]


async def test_template_edits_never_rewrite_existing_travelers(api, shop):
    before = await api.traveler(shop.engineer, traveler_type="Cable")
    await api.set_routing(shop.manager, "Cable", [("Cut", 1.0, "operator"), ("Inspect", 0.5, "quality")])
    after = await api.traveler(shop.engineer, traveler_type="Cable")

    assert (await api.read(before, shop.viewer))["steps"][0]["name"] == "Cut and strip"
    assert [s["name"] for s in after["steps"]] == ["Cut", "Inspect"]
    r = await api.client.put(
        "/travelers/types/Cable",
        json={"steps": [{"name": "x", "standard_minutes": 1, "signoff_role": "operator"}]},
        headers=shop.operator.headers,
    )
    assert r.status_code == 403


async def test_only_the_machine_s_transitions_are_allowed(api, shop):
    t = await api.traveler(shop.engineer)

    r = await api.status(t, shop.manager, "completed")
    assert r.status_code == 409
    body = r.json()
    assert body["allowed_transitions"] == ["released", "cancelled"] and "released, cancelled" in body["detail"]

    assert (await api.status(t, shop.manager, "on_hold")).status_code == 409
    await api.release(t, shop.manager)
    held = await api.status(t, shop.quality, "on_hold", "waiting for a stencil")
    assert held.status_code == 200 and held.json()["hold_reason"] == "waiting for a stencil"
    assert (await api.status(t, shop.manager, "released")).json()["allowed_transitions"] == ["in_progress", "cancelled"]
    assert (await api.status(t, shop.manager, "in_progress")).status_code == 200
    r = await api.status(t, shop.manager, "completed")
    assert r.status_code == 409 and r.json()["type"].endswith("traveler-unfinished")
    assert (await api.status(t, shop.manager, "cancelled")).status_code == 200
    r = await api.status(t, shop.manager, "in_progress")
    assert r.status_code == 409 and r.json()["allowed_transitions"] == []


async def test_short_bom_lines_block_release_and_are_listed(api, shop):
    t = await api.traveler(shop.engineer, quantity=5)
    base = f"/travelers/{t['id']}/bom"
    resistor = await api.ok(
        "POST",
        base,
        shop.engineer,
        201,
        json={"item": "R-10K", "reference_designators": "R1,R2", "quantity_per_unit": 2},
    )
    mcu = await api.ok("POST", base, shop.engineer, 201, json={"item": "MCU-STM32", "quantity_per_unit": 1})
    assert resistor["required"] == 10

    for line in (resistor, mcu):
        await api.ok("POST", f"{base}/{line['id']}/supply", shop.purchasing, json={"status": "short"})
    r = await api.status(t, shop.manager, "released")
    assert r.status_code == 409
    assert {line["item"] for line in r.json()["short_lines"]} == {"R-10K", "MCU-STM32"}

    await api.ok("POST", f"{base}/{mcu['id']}/supply", shop.purchasing, json={"status": "received", "issued": 5})
    sub = await api.ok(
        "POST", f"{base}/{resistor['id']}/substitutions", shop.engineer, 201, json={"substitute_item": "R-10K-0603"}
    )
    assert sub["approved_by"] == str(shop.engineer.id)
    await api.ok("POST", f"{base}/{resistor['id']}/supply", shop.purchasing, json={"status": "received", "issued": 10})
    assert (await api.status(t, shop.manager, "released")).status_code == 200
    bom = (await api.ok("GET", base, shop.viewer))["items"]
    assert [b["substitutions"][0]["substitute_item"] for b in bom if b["substitutions"]] == ["R-10K-0603"]


async def test_history_records_who_changed_what(api, shop):
    t = await api.traveler(shop.engineer, quantity=3)
    await api.ok("PATCH", f"/travelers/{t['id']}", shop.engineer, json={"priority": 1, "quantity": 6})
    await api.ok("PATCH", f"/travelers/{t['id']}", shop.manager, json={"due_date": "2030-01-31"})
    await api.release(t, shop.manager)

    history = (await api.ok("GET", f"/travelers/{t['id']}/history", shop.viewer))["items"]
    changes = [(h["field"], h["before"], h["after"], h["changed_by"]) for h in history]
    assert ("priority", 3, 1, str(shop.engineer.id)) in changes
    assert ("quantity", 3, 6, str(shop.engineer.id)) in changes
    assert ("due_date", None, "2030-01-31", str(shop.manager.id)) in changes
    assert changes[-1] == ("status", "draft", "released", str(shop.manager.id))
    r = await api.client.patch(f"/travelers/{t['id']}", json={"quantity": 7}, headers=shop.engineer.headers)
    assert r.status_code == 409  # released: part and quantity are fixed


async def test_an_explicit_null_is_a_422_naming_the_field_and_changes_nothing(api, shop):
    # Found by fuzzing: `priority: null` reached the NOT NULL column and answered 500.
    t = await api.traveler(shop.engineer, quantity=3)
    for field in ("priority", "quantity", "part_number", "revision"):
        r = await api.client.patch(f"/travelers/{t['id']}", json={field: None}, headers=shop.engineer.headers)
        assert r.status_code == 422, r.text
        assert [e["path"] for e in r.json()["errors"]] == [field]
    # A due date may be cleared with null.
    await api.ok("PATCH", f"/travelers/{t['id']}", shop.engineer, json={"due_date": "2030-01-31"})
    assert (await api.ok("PATCH", f"/travelers/{t['id']}", shop.engineer, json={"due_date": None}))["due_date"] is None
    after = await api.ok("GET", f"/travelers/{t['id']}", shop.viewer)
    assert (after["priority"], after["quantity"]) == (t["priority"], 3)


async def test_another_company_sees_nothing(api, shop, other_shop):
    t = await api.traveler(shop.engineer)
    po = await api.purchase_order(shop.purchasing)
    step = t["steps"][0]
    for method, url in [
        ("GET", f"/travelers/{t['id']}"),
        ("GET", f"/travelers/{t['id']}/history"),
        ("GET", f"/travelers/{t['id']}/bom"),
        ("GET", f"/travelers/{t['id']}/sheet.pdf"),
        ("GET", f"/travelers/{t['id']}/code.svg"),
        ("GET", f"/purchase-orders/{po['id']}"),
        ("POST", f"/travelers/{t['id']}/status"),
        ("POST", f"/travelers/{t['id']}/steps/{step['id']}/start"),
    ]:
        body = {"status": "released"} if url.endswith("status") else None
        r = await api.client.request(method, url, json=body, headers=other_shop.manager.headers)
        assert r.status_code == 404, (url, r.status_code, r.text)
    listed = await api.ok("GET", "/travelers/", other_shop.viewer)
    assert t["id"] not in {x["id"] for x in listed["items"]}
    r = await api.client.post(
        "/travelers/",
        json={"traveler_type": "PCB", "po_line_id": po["lines"][0]["id"]},
        headers=other_shop.engineer.headers,
    )
    assert r.status_code == 404


async def test_a_po_line_becomes_a_traveler_and_the_po_follows_it(api, shop):
    po = await api.purchase_order(shop.purchasing, quantity=12, part="CBL-7", due="2030-03-01")
    line = po["lines"][0]
    t = await api.ok(
        "POST", "/travelers/", shop.engineer, 201, json={"traveler_type": "Cable", "po_line_id": line["id"]}
    )
    assert (t["part_number"], t["quantity"], t["due_date"], t["purchase_order_id"]) == (
        "CBL-7",
        12,
        "2030-03-01",
        po["id"],
    )
    assert (await api.ok("GET", f"/purchase-orders/{po['id']}", shop.viewer))["status"] == "open"
    await api.release(t, shop.manager)
    assert (await api.ok("GET", f"/purchase-orders/{po['id']}", shop.viewer))["status"] == "in_progress"
    dup = await api.client.post(
        "/purchase-orders/", json={"number": po["number"], "customer": "x"}, headers=shop.purchasing.headers
    )
    assert dup.status_code == 409


async def test_lists_filter_and_search(api, shop):
    a = await api.traveler(shop.engineer, part_number="SEARCH-ME-1", traveler_type="Assembly")
    b = await api.traveler(shop.engineer, part_number="other", due_date="2020-01-01")
    await api.release(b, shop.manager)

    found = await api.ok("GET", "/travelers/", shop.viewer, params={"q": "search-me"})
    assert [x["id"] for x in found["items"]] == [a["id"]]
    assert [x["id"] for x in (await api.ok("GET", "/travelers/", shop.viewer, params={"q": b["number"]}))["items"]] == [
        b["id"]
    ]
    released = await api.ok("GET", "/travelers/", shop.viewer, params={"status": "released"})
    assert {x["id"] for x in released["items"]} == {b["id"]}
    late = await api.ok("GET", "/travelers/", shop.viewer, params={"due_before": "2021-01-01"})
    assert [x["id"] for x in late["items"]] == [b["id"]]
    typed = await api.ok(
        "GET", "/travelers/", shop.viewer, params={"traveler_type": "Assembly", "current_step": "kitting"}
    )
    assert [x["id"] for x in typed["items"]] == [a["id"]]
    r = await api.client.get("/travelers/", params={"page_size": 101}, headers=shop.viewer.headers)
    assert r.status_code == 422


async def test_concurrent_first_uses_share_one_default_routing(api, shop):
    import asyncio

    answers = await asyncio.gather(*(api.traveler(shop.engineer, traveler_type="Assembly") for _ in range(4)))
    assert len({a["number"] for a in answers}) == 4  # numbers never repeat
    types = await api.ok("GET", "/travelers/types", shop.viewer)
    assembly = next(t for t in types["items"] if t["traveler_type"] == "Assembly")
    assert [s["position"] for s in assembly["steps"]] == [1, 2, 3, 4, 5]
