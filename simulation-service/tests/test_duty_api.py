"""An engineer runs the equipment duty of an industrial network through the API and downloads the duty table."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ampflux_simulation.domain.export import DUTY_COLUMNS

INDUSTRIAL = Path(__file__).resolve().parent / "data" / "industrial_duty.json"


async def test_duty_study_shows_failing_breaker_and_cable_in_results_and_csv(api):
    document = json.loads(INDUSTRIAL.read_text(encoding="utf-8"))
    assert document["study"]["duty"] is True
    response = await api.submit(document)
    assert response.status_code == 202, response.text
    run = await api.wait(response.json()["id"])
    assert run["status"] == "succeeded", run["error"]

    page = await api.client.get(
        f"/simulations/{run['id']}/results", params={"fault": "3ph", "case": "max"}, headers=api.headers
    )
    assert page.status_code == 200
    (result_set,) = page.json()["result_sets"]
    failing = {(row["kind"], row["id"]) for row in result_set["duty"] if not row["pass"]}
    assert failing == {("breaker", "CB-M1"), ("cable", "C-M1")}

    download = await api.client.get(
        f"/simulations/{run['id']}/results/download", params={"table": "duty", "format": "csv"}, headers=api.headers
    )
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert "duty.csv" in download.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert list(rows[0]) == list(DUTY_COLUMNS)
    # every fault and case of the study: 3ph and 2ph, max and min
    assert {(r["fault"], r["case"]) for r in rows} == {("3ph", "max"), ("3ph", "min"), ("2ph", "max"), ("2ph", "min")}
    failed = {(r["fault"], r["case"], r["kind"], r["id"]) for r in rows if r["pass"] == "false"}
    assert ("3ph", "max", "breaker", "CB-M1") in failed and ("3ph", "max", "cable", "C-M1") in failed
    cable = next(r for r in rows if (r["fault"], r["case"], r["id"]) == ("3ph", "max", "C-M1"))
    assert float(cable["required_ka"]) > float(cable["rated_ka"]) and float(cable["margin_percent"]) < 0

    # JSON, filtered like the bus results: one case, devices at one bus
    only = await api.client.get(
        f"/simulations/{run['id']}/results/download",
        params={"table": "duty", "format": "json", "case": "max", "fault": "3ph", "bus": "LV-1"},
        headers=api.headers,
    )
    body = only.json()
    assert body["run_id"] == run["id"]
    assert {row["id"] for row in body["duty"]} == {"LV-1", "ACB-LV", "T3"}
    assert all(row["location"] == "LV-1" and row["case"] == "max" for row in body["duty"])


async def test_a_study_without_duty_has_an_empty_duty_table(api, helpers):
    run = (await api.submit(helpers.without_expected(helpers.load_case("ind480_radial")))).json()
    await api.wait(run["id"])
    download = await api.client.get(
        f"/simulations/{run['id']}/results/download", params={"table": "duty"}, headers=api.headers
    )
    assert download.status_code == 200
    assert download.text.splitlines() == [",".join(DUTY_COLUMNS)]
    bad = await api.client.get(
        f"/simulations/{run['id']}/results/download", params={"table": "devices"}, headers=api.headers
    )
    assert bad.status_code == 422


async def test_the_duty_option_checks_a_document_that_does_not_ask(api):
    document = json.loads(INDUSTRIAL.read_text(encoding="utf-8"))
    document["study"]["duty"] = False
    response = await api.submit(document, options={"duty": True, "faults": ["3ph"], "cases": ["max"]})
    assert response.status_code == 202, response.text
    assert response.json()["options"]["duty"] is True
    run = await api.wait(response.json()["id"])
    assert run["status"] == "succeeded", run["error"]
    page = await api.client.get(f"/simulations/{run['id']}/results", headers=api.headers)
    (result_set,) = page.json()["result_sets"]
    assert {row["id"] for row in result_set["duty"] if not row["pass"]} == {"CB-M1", "C-M1"}
    bad = await api.submit(document, options={"duty": "sometimes"})
    assert bad.status_code == 422
    assert any(error["path"] == "options.duty" for error in bad.json()["errors"])


async def test_a_restricted_duty_study_names_the_devices_it_did_not_check(api):
    document = json.loads(INDUSTRIAL.read_text(encoding="utf-8"))
    response = await api.submit(document, options={"buses": ["LV-1"], "faults": ["3ph"], "cases": ["max"]})
    assert response.status_code == 202, response.text
    run = await api.wait(response.json()["id"])
    assert run["status"] == "succeeded", run["error"]
    page = await api.client.get(f"/simulations/{run['id']}/results", headers=api.headers)
    (result_set,) = page.json()["result_sets"]
    assert {row["id"] for row in result_set["duty"]} == {"LV-1", "ACB-LV", "T3"}
    not_checked = {entry["id"]: entry for entry in result_set["duty_not_checked"]}
    assert "CB-M1" in not_checked and "C-M1" in not_checked
    assert not_checked["CB-M1"]["reason"].startswith("not solved: the study is restricted to other buses")
