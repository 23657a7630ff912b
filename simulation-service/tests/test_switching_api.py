"""POST /simulations with a scenario and faults along lines: the run solves that switching state and says so."""

from __future__ import annotations

from typing import Any


def switched_network(helpers: Any) -> dict[str, Any]:
    """mv_meshed_20kv with a fuse in front of distribution transformer DT-A13 and a scenario that blows it."""
    document = helpers.without_expected(helpers.load_case("mv_meshed_20kv"))
    document["switches"] = [{"id": "F-DT", "bus": "A1-3", "element": "DT-A13", "kind": "fuse"}]
    document["scenarios"] = [{"id": "fuse-blown", "switches": {"F-DT": "open"}}]
    return document


async def test_a_run_solves_the_named_scenario_with_line_faults_and_reports_both(api, helpers):
    document = switched_network(helpers)
    line = document["lines"][1]["id"]
    options = {
        "faults": ["3ph"],
        "cases": ["max"],
        "scenario": "fuse-blown",
        "line_faults": [{"line": line, "fraction": 0.3}],
    }

    response = await api.submit(document, options=options)
    assert response.status_code == 202, response.text
    run = await api.wait(response.json()["id"])

    assert run["status"] == "succeeded", run["error"]
    assert run["options"]["scenario"] == "fuse-blown"
    assert run["options"]["line_faults"] == [{"line": line, "fraction": 0.3}]
    assert run["bus_count"] == len(document["buses"]) + 1
    items = await api.all_results(run["id"])
    bus_ids = [item["bus_id"] for item in items]
    point = f"{line}@0.3"
    assert "LV-A13" not in bus_ids and bus_ids[-1] == point  # the point comes after the document's buses
    assert len(bus_ids) == len(document["buses"])  # one bus cut off, one point added
    page = await api.client.get(f"/simulations/{run['id']}/results", headers=api.headers)
    (result_set,) = page.json()["result_sets"]
    assert result_set["scenario"] == "fuse-blown"
    assert "open switch(es) F-DT" in result_set["unsupplied"]["LV-A13"]
    assert result_set["line_faults"][point]["fraction"] == 0.3


async def test_unknown_scenarios_and_lines_in_the_options_are_422_naming_the_option(api, helpers):
    options = {"scenario": "nope", "line_faults": [{"line": "NOPE", "fraction": 0.5}]}

    response = await api.submit(switched_network(helpers), options=options)

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = {(e["path"], e["code"]) for e in response.json()["errors"]}
    assert errors == {("options.scenario", "unknown_scenario"), ("options.line_faults[0].line", "unknown_line")}


async def test_a_line_fault_off_the_line_is_422_naming_the_fraction(api, helpers):
    document = switched_network(helpers)
    options = {"line_faults": [{"line": document["lines"][0]["id"], "fraction": 1.5}]}

    response = await api.submit(document, options=options)

    assert response.status_code == 422
    errors = {(e["path"], e["code"]) for e in response.json()["errors"]}
    assert ("options.line_faults[0].fraction", "less_than") in errors
