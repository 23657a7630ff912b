"""Switches, scenarios and faults along lines in the document: what they name is checked."""

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from ampflux_shared.circuit import CircuitDocument, Switch, parse_circuit, validate_circuit
from ampflux_shared.circuit.problems import CircuitProblem

Loader = Callable[[str], dict[str, Any]]


def found(problems: list[CircuitProblem]) -> set[tuple[str, str]]:
    return {(problem.path, problem.code) for problem in problems}


def with_switching(data: dict[str, Any]) -> dict[str, Any]:
    """mv_meshed_20kv with a breaker on each end of TR-B and a coupler between two substation buses."""
    data["buses"].append({"id": "SS-A2", "vn_kv": 20.0})
    data["switches"] = [
        {"id": "Q-TRB-HV", "bus": "HV-B", "element": "TR-B"},
        {"id": "Q-TRB-LV", "bus": "SS-B", "element": "TR-B", "kind": "disconnector", "closed": False},
        {"id": "Q-COUPLER", "bus": "SS-A", "to_bus": "SS-A2", "kind": "load_break_switch"},
    ]
    data["scenarios"] = [
        {"id": "trb-out", "name": "TR-B in maintenance", "switches": {"Q-TRB-HV": "open"}, "out_of_service": ["TR-B"]}
    ]
    data["study"]["line_faults"] = [{"line": "HV-AB", "fraction": 0.3}]
    return data


def test_a_version_1_document_reads_unchanged_with_the_new_defaults(reference_case: Loader) -> None:
    doc = parse_circuit(reference_case("mv_meshed_20kv"))

    assert doc.switches == [] and doc.scenarios == [] and doc.study.line_faults == []
    assert all(line.in_service for line in doc.lines) and all(t.in_service for t in doc.transformers)
    assert "in_service" not in doc.model_dump(exclude_defaults=True)["lines"][0]


def test_switches_scenarios_and_line_faults_that_name_existing_things_are_valid(reference_case: Loader) -> None:
    data = with_switching(reference_case("mv_meshed_20kv"))

    doc = parse_circuit(data)

    assert isinstance(doc, CircuitDocument)
    assert [s.kind for s in doc.switches] == ["breaker", "disconnector", "load_break_switch"]
    assert [s.closed for s in doc.switches] == [True, False, True]
    assert doc.scenarios[0].switches == {"Q-TRB-HV": "open"}
    assert doc.study.line_faults[0].fraction == 0.3


def test_a_bus_reached_only_through_a_bus_coupler_is_supplied(reference_case: Loader) -> None:
    data = with_switching(reference_case("mv_meshed_20kv"))
    data["switches"], data["scenarios"] = [data["switches"][2]], []
    assert validate_circuit(data) == []

    data["switches"] = []
    assert ("buses[39]", "no_source") in found(validate_circuit(data))


@pytest.mark.parametrize(
    ("switch", "problem"),
    [
        ({"id": "Q", "bus": "HV-B", "element": "NOPE"}, ("switches[0].element", "unknown_element")),
        ({"id": "Q", "bus": "HV-A", "element": "TR-B"}, ("switches[0].element", "element_elsewhere")),
        ({"id": "Q", "bus": "NOPE", "element": "TR-B"}, ("switches[0].bus", "unknown_bus")),
        ({"id": "Q", "bus": "SS-A", "to_bus": "NOPE"}, ("switches[0].to_bus", "unknown_bus")),
        ({"id": "Q", "bus": "SS-A", "to_bus": "HV-A"}, ("switches[0].to_bus", "voltage_level_mismatch")),
        ({"id": "Q", "bus": "SS-A", "to_bus": "SS-A2", "element": "TR-A"}, ("switches[0]", "one_of")),
        ({"id": "Q", "bus": "SS-A"}, ("switches[0]", "one_of")),
        ({"id": "Q", "bus": "SS-A", "to_bus": "SS-A"}, ("switches[0]", "same_bus")),
        ({"id": "Q", "bus": "SS-A", "to_bus": "SS-A2", "kind": "recloser"}, ("switches[0].kind", "literal_error")),
        ({"id": "Q", "bus": "SS-A", "to_bus": "SS-A2", "closed": "yes"}, ("switches[0].closed", "bool_type")),
    ],
)
def test_a_bad_switch_is_a_named_problem(
    reference_case: Loader, switch: dict[str, Any], problem: tuple[str, str]
) -> None:
    data = with_switching(reference_case("mv_meshed_20kv"))
    data["switches"] = [switch, *data["switches"][2:]]
    data["scenarios"] = []

    assert problem in found(validate_circuit(data))


def test_a_scenario_naming_unknown_switches_or_elements_is_a_named_problem(reference_case: Loader) -> None:
    data = with_switching(reference_case("mv_meshed_20kv"))
    data["scenarios"].append(
        {"id": "bad", "switches": {"Q-NOPE": "open", "Q-COUPLER": "closed"}, "out_of_service": ["TR-A", "X", "HV-A"]}
    )
    data["scenarios"].append({"id": "trb-out", "switches": {"Q-COUPLER": "shut"}})

    assert found(validate_circuit(data)) == {
        ("scenarios[1].switches.Q-NOPE", "unknown_switch"),
        ("scenarios[1].out_of_service[1]", "unknown_element"),
        ("scenarios[1].out_of_service[2]", "unknown_element"),  # a bus is not taken out by a scenario
        ("scenarios[2].id", "duplicate_id"),
        ("scenarios[2].switches.Q-COUPLER", "literal_error"),
    }


def test_a_line_fault_on_an_unknown_line_or_off_the_line_is_a_named_problem(reference_case: Loader) -> None:
    data = with_switching(reference_case("mv_meshed_20kv"))
    data["study"]["line_faults"] = [{"line": "HV-AB", "fraction": 0.5}, {"line": "NOPE", "fraction": 0.5}]
    assert found(validate_circuit(data)) == {("study.line_faults[1].line", "unknown_line")}

    # the fraction is strictly inside the line: its ends are the buses themselves
    data["study"]["line_faults"] = [{"line": "HV-AB", "fraction": 1.0}, {"line": "HV-AB", "fraction": 0}]
    assert found(validate_circuit(data)) == {
        ("study.line_faults[0].fraction", "less_than"),
        ("study.line_faults[1].fraction", "greater_than"),
    }


def test_the_switch_model_rejects_both_targets_directly() -> None:
    with pytest.raises(ValidationError, match="exactly one of element or to_bus"):
        Switch.model_validate({"id": "Q", "bus": "A", "element": "L", "to_bus": "B"})


def test_the_study_names_a_scenario_of_the_document(reference_case: Loader) -> None:
    data = with_switching(reference_case("mv_meshed_20kv"))
    data["study"]["scenario"] = "trb-out"
    assert parse_circuit(data).study.scenario == "trb-out"

    data["study"]["scenario"] = "no-such"
    assert found(validate_circuit(data)) == {("study.scenario", "unknown_scenario")}


def test_the_published_json_schema_describes_switches_scenarios_and_line_faults() -> None:
    from ampflux_shared.circuit.schema import circuit_document_schema

    schema = circuit_document_schema()
    defs = schema["$defs"]

    assert {"switches", "scenarios"} <= set(schema["properties"])
    assert defs["Switch"]["properties"]["kind"]["enum"] == ["breaker", "disconnector", "load_break_switch", "fuse"]
    assert set(defs["Switch"]["required"]) == {"id", "bus"}
    assert defs["Scenario"]["properties"]["switches"]["additionalProperties"]["enum"] == ["open", "closed"]
    assert defs["LineFault"]["properties"]["fraction"]["exclusiveMinimum"] == 0
    assert defs["Line"]["properties"]["in_service"]["default"] is True
