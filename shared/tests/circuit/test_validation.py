"""validate_circuit / parse_circuit: every problem of a document at once, each with its path."""

from collections.abc import Callable
from dataclasses import fields
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ampflux_shared.circuit import (
    CircuitDocument,
    CircuitProblem,
    CircuitValidationError,
    parse_circuit,
    validate_circuit,
)
from ampflux_shared.circuit.elements import IndexedElements
from ampflux_shared.circuit.model import ELEMENT_MODELS

Loader = Callable[[str], dict[str, Any]]


def found(problems: list[CircuitProblem]) -> set[tuple[str, str]]:
    return {(problem.path, problem.code) for problem in problems}


def strip(entries: list[dict], *fields: str) -> None:
    for entry in entries:
        for field in fields:
            entry.pop(field, None)


def test_reference_circuit_has_no_problems(reference_case: Loader, case_name: str) -> None:
    data = reference_case(case_name)

    assert validate_circuit(data) == []
    assert validate_circuit(data, faults=["3ph", "2ph", "1ph", "2phg"], cases=["max", "min"]) == []
    doc = parse_circuit(data)
    assert isinstance(doc, CircuitDocument) and doc.id == data["id"]
    assert parse_circuit(doc) is doc


def broken_meshed_network(reference_case: Loader) -> dict[str, Any]:
    """mv_meshed_20kv with one mistake of each kind a user makes."""
    data = reference_case("mv_meshed_20kv")
    lines, buses = data["lines"], data["buses"]
    lines[5]["to_bus"] = "NOWHERE"  # inside ring A1: the ring stays supplied from its other end
    lines[6]["id"] = lines[2]["id"]
    buses.append({"id": "HV-A", "vn_kv": 110.0})  # buses[39]
    lines[34]["length_km"] = -2.4  # on the B2 spur: still connects B2-3..B2-5, so no false island
    data["transformers"][2]["vn_lv_kv"] = 4.0  # 0.4 kV bus
    # An island: two buses joined by a cable, no source.
    buses += [{"id": "ISLAND-1", "vn_kv": 20.0}, {"id": "ISLAND-2", "vn_kv": 20.0}]  # buses[40], [41]
    lines.append({**lines[1], "id": "ISLAND-CABLE", "from_bus": "ISLAND-1", "to_bus": "ISLAND-2"})
    del lines[7]["r0_ohm_per_km"]
    del data["transformers"][0]["vk0_percent"]
    del data["ext_grids"][0]["s_sc_min_mva"]
    del lines[8]["endtemp_degree"]
    return data


BROKEN_MESHED_NETWORK_PROBLEMS = {
    ("lines[5].to_bus", "unknown_bus"),
    ("lines[6].id", "duplicate_id"),
    ("buses[39].id", "duplicate_id"),
    ("lines[34].length_km", "greater_than"),
    ("transformers[2].vn_lv_kv", "rating_mismatch"),
    ("buses[40]", "no_source"),
    ("buses[41]", "no_source"),
    ("lines[7].r0_ohm_per_km", "missing_zero_sequence"),
    ("transformers[0].vk0_percent", "missing_zero_sequence"),
    ("ext_grids[0].s_sc_min_mva", "missing_min_case"),
    ("lines[8].endtemp_degree", "missing_min_case"),
}


def test_every_problem_is_reported_at_once_with_its_path(reference_case: Loader) -> None:
    problems = validate_circuit(broken_meshed_network(reference_case))

    assert found(problems) == BROKEN_MESHED_NETWORK_PROBLEMS
    assert len(problems) == len(BROKEN_MESHED_NETWORK_PROBLEMS)
    by_path = {problem.path: problem.message for problem in problems}
    assert "NOWHERE" in by_path["lines[5].to_bus"]
    assert "lines[2]" in by_path["lines[6].id"]
    assert "ISLAND-1" in by_path["buses[40]"]
    assert "4 kV" in by_path["transformers[2].vn_lv_kv"]


def test_problems_come_in_document_order(reference_case: Loader) -> None:
    paths = [problem.path for problem in validate_circuit(broken_meshed_network(reference_case))]

    assert paths == [
        "buses[39].id",
        "buses[40]",
        "buses[41]",
        "ext_grids[0].s_sc_min_mva",
        "lines[5].to_bus",
        "lines[6].id",
        "lines[7].r0_ohm_per_km",
        "lines[8].endtemp_degree",
        "lines[34].length_km",
        "transformers[0].vk0_percent",
        "transformers[2].vn_lv_kv",
    ]


def test_parse_circuit_raises_with_every_problem(reference_case: Loader) -> None:
    data = broken_meshed_network(reference_case)

    with pytest.raises(CircuitValidationError) as caught:
        parse_circuit(data)

    assert caught.value.problems == validate_circuit(data)
    assert "lines[5].to_bus: unknown bus 'NOWHERE'" in str(caught.value)


def test_a_bad_study_does_not_hide_element_problems(reference_case: Loader) -> None:
    data = reference_case("edge_parallel_transformers")
    data["study"]["frequency_hz"] = 55
    data["transformers"][0]["lv_bus"] = "LV-9"

    assert found(validate_circuit(data)) == {
        ("study.frequency_hz", "literal_error"),
        ("transformers[0].lv_bus", "unknown_bus"),
    }


def test_earth_fault_data_is_required_only_when_the_study_has_earth_faults(reference_case: Loader) -> None:
    data = reference_case("edge_parallel_transformers")
    strip(data["lines"], "r0_ohm_per_km", "x0_ohm_per_km", "c0_nf_per_km")
    strip(data["ext_grids"], "x0x_max", "r0x0_max", "x0x_min", "r0x0_min")

    data["study"]["faults"] = ["3ph", "2ph"]
    assert validate_circuit(data) == []

    data["study"]["faults"] = ["3ph", "1ph"]
    assert found(validate_circuit(data)) == {
        ("ext_grids[0].x0x_max", "missing_zero_sequence"),
        ("ext_grids[0].r0x0_max", "missing_zero_sequence"),
        ("ext_grids[0].x0x_min", "missing_zero_sequence"),
        ("ext_grids[0].r0x0_min", "missing_zero_sequence"),
        ("lines[0].r0_ohm_per_km", "missing_zero_sequence"),
        ("lines[0].x0_ohm_per_km", "missing_zero_sequence"),
        ("lines[0].c0_nf_per_km", "missing_zero_sequence"),
    }


def test_faults_and_cases_arguments_override_the_study(reference_case: Loader) -> None:
    data = reference_case("ind480_radial")
    strip(data["transformers"], "vk0_percent")
    strip(data["lines"], "endtemp_degree")
    assert data["study"]["faults"] == ["3ph", "2ph", "1ph"] and data["study"]["cases"] == ["max", "min"]

    assert validate_circuit(data, faults=["3ph"], cases=["max"]) == []
    zero_sequence = validate_circuit(data, faults=["2phg"], cases=["max"])
    assert {problem.code for problem in zero_sequence} == {"missing_zero_sequence"}
    assert len(zero_sequence) == len(data["transformers"])
    min_case = validate_circuit(data, faults=["3ph"], cases=["min"])
    assert found(min_case) == {(f"lines[{i}].endtemp_degree", "missing_min_case") for i in range(len(data["lines"]))}


def test_zero_sequence_needs_depend_on_the_vector_group(reference_case: Loader) -> None:
    data = reference_case("edge_parallel_transformers")
    trafos = data["transformers"]
    strip(trafos, "vk0_percent", "vkr0_percent")
    trafos[0]["vector_group"] = "Dd"  # no zero-sequence path: nothing needed
    trafos[1]["vector_group"] = "YNyn"  # path through the magnetising branch
    del trafos[2]["vector_group"]  # needs depend on the group: ask for that first

    problems = found(validate_circuit(data, faults=["1ph"]))

    assert not any(path.startswith("transformers[0]") for path, _ in problems)
    assert {path for path, _ in problems if path.startswith("transformers[1]")} == {
        f"transformers[1].{field}"
        for field in ("vk0_percent", "vkr0_percent", "mag0_percent", "mag0_rx", "si0_hv_partial")
    }
    assert {path for path, _ in problems if path.startswith("transformers[2]")} == {"transformers[2].vector_group"}


def test_off_nominal_ratings_within_tolerance_are_accepted(reference_case: Loader) -> None:
    data = reference_case("edge_parallel_transformers")
    data["transformers"][0]["vn_hv_kv"] = 21.0
    data["transformers"][1]["vn_lv_kv"] = 0.42

    assert validate_circuit(data) == []


def test_swapped_transformer_windings_are_reported(reference_case: Loader) -> None:
    data = reference_case("edge_parallel_transformers")
    first, second = data["transformers"][0], data["transformers"][1]
    first["vn_hv_kv"], first["vn_lv_kv"] = first["vn_lv_kv"], first["vn_hv_kv"]
    # Buses and ratings both swapped: each side fits its bus, yet HV is the 0.4 kV side.
    second["hv_bus"], second["lv_bus"] = second["lv_bus"], second["hv_bus"]
    second["vn_hv_kv"], second["vn_lv_kv"] = second["vn_lv_kv"], second["vn_hv_kv"]

    assert found(validate_circuit(data)) == {
        ("transformers[0].vn_hv_kv", "hv_lv_swapped"),
        ("transformers[0].vn_hv_kv", "rating_mismatch"),
        ("transformers[0].vn_lv_kv", "rating_mismatch"),
        ("transformers[1].vn_hv_kv", "hv_lv_swapped"),
    }


def test_a_line_may_not_join_voltage_levels(reference_case: Loader) -> None:
    data = reference_case("edge_parallel_transformers")
    data["lines"].append({**data["lines"][0], "id": "C-WRONG", "from_bus": "LV-2", "to_bus": "MV"})

    assert found(validate_circuit(data)) == {("lines[1].to_bus", "voltage_level_mismatch")}


def test_tap_position_must_be_possible_and_complete(reference_case: Loader) -> None:
    data = reference_case("edge_parallel_transformers")
    tap_changer = {"tap_side": "hv", "tap_neutral": 0, "tap_step_percent": 2.5, "tap_min": -2, "tap_max": 2}
    data["transformers"][0].update(tap_changer, tap_pos=3)
    data["transformers"][1].update(tap_pos=1)
    data["transformers"][2].update(tap_changer, tap_pos=-2)

    assert found(validate_circuit(data)) == {
        ("transformers[0].tap_pos", "tap_out_of_range"),
        ("transformers[1].tap_side", "missing_tap_data"),
        ("transformers[1].tap_neutral", "missing_tap_data"),
        ("transformers[1].tap_step_percent", "missing_tap_data"),
    }


def test_power_station_unit_must_name_a_transformer_at_the_generator(reference_case: Loader) -> None:
    data = reference_case("edge_parallel_transformers")
    generator = {"bus": "LV-1", "sn_mva": 0.5, "vn_kv": 0.4, "xdss_pu": 0.15, "rdss_pu": 0.01, "cos_phi": 0.8}
    trafo_id = data["transformers"][0]["id"]  # MV -> LV-1
    data["generators"] = [
        {**generator, "id": "G1", "power_station_trafo": trafo_id},
        {**generator, "id": "G2", "power_station_trafo": "T-NONE"},
        {**generator, "id": "G3", "bus": "DB-1", "power_station_trafo": trafo_id},
    ]

    assert found(validate_circuit(data)) == {
        ("generators[1].power_station_trafo", "unknown_transformer"),
        ("generators[2].power_station_trafo", "unit_transformer_elsewhere"),
    }


def test_machines_count_as_sources(reference_case: Loader) -> None:
    data = reference_case("ind480_radial")
    data["ext_grids"] = []

    # Without the utility, the motors still feed every bus they are connected to.
    assert "no_source" not in {problem.code for problem in validate_circuit(data)}
    data["motors"] = []
    assert found(validate_circuit(data)) == {("ext_grids", "no_source")}


def test_not_an_object() -> None:
    assert found(validate_circuit(["not", "a", "document"])) == {("", "not_an_object")}  # type: ignore[arg-type]


@pytest.mark.parametrize(("faults", "cases"), [(["4ph"], None), (None, ["avg"]), ([], None), ("1ph", None)])
def test_a_bad_override_is_a_programming_error(reference_case: Loader, faults, cases) -> None:
    with pytest.raises((ValueError, TypeError)):
        validate_circuit(reference_case("ind480_radial"), faults=faults, cases=cases)


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "x", "SWBD", "MV-1", "TX-1", "hv", "Yyn", "1ph", "min"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["id", "bus", "vn_kv"]), st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 50), st.integers(0, 50), JUNK), max_size=6))
def test_any_mangled_document_gets_problems_not_an_exception(reference_case: Loader, edits) -> None:
    """Whatever a user uploads, validation answers with problems; it never crashes."""
    data = reference_case("ind480_radial")
    sections = ["study", "buses", "ext_grids", "lines", "transformers", "motors", "generators", "transformers3w"]
    for section_index, element_index, field_index, value in edits:
        section = sections[section_index]
        target = data.get(section)
        if isinstance(target, list) and target and isinstance(element := target[element_index % len(target)], dict):
            target = element
        if isinstance(target, dict) and target:
            target[sorted(target)[field_index % len(target)]] = value
        else:
            data[section] = value

    problems = validate_circuit(data, cases=["max", "min"])

    assert all(isinstance(problem, CircuitProblem) and problem.message for problem in problems)
    if problems:
        with pytest.raises(CircuitValidationError):
            parse_circuit(data, cases=["max", "min"])
    else:
        parse_circuit(data, cases=["max", "min"])


def test_three_winding_transformers_are_checked_like_two_winding_ones(reference_case: Loader) -> None:
    data = reference_case("mv_meshed_20kv")
    data["study"]["faults"] = ["3ph"]
    data["buses"].append({"id": "AUX-10", "vn_kv": 10.0})
    data["transformers3w"] = [
        {
            "id": "T3",
            "hv_bus": "HV-B",
            "mv_bus": "SS-B",
            "lv_bus": "AUX-10",
            "vn_hv_kv": 110.0,
            "vn_mv_kv": 20.0,
            "vn_lv_kv": 10.5,
            "sn_hv_mva": 40.0,
            "sn_mv_mva": 40.0,
            "sn_lv_mva": 10.0,
            "vk_hv_percent": 12.0,
            "vk_mv_percent": 8.0,
            "vk_lv_percent": 14.0,
            "vkr_hv_percent": 0.4,
            "vkr_mv_percent": 0.3,
            "vkr_lv_percent": 0.5,
        }
    ]
    assert validate_circuit(data) == []  # AUX-10 is supplied through the third winding

    data["transformers3w"][0]["vn_mv_kv"] = 6.3
    assert found(validate_circuit(data, faults=["1ph"])) == {
        ("transformers3w[0].vn_mv_kv", "rating_mismatch"),
        *{
            (f"transformers3w[0].{field}", "missing_zero_sequence")
            for field in ["vector_group"]
            + [f"{kind}_{side}_percent" for kind in ("vk0", "vkr0") for side in ("hv", "mv", "lv")]
        },
    }


def test_the_data_checks_see_every_kind_of_element() -> None:
    # IndexedElements names each element kind; a kind added to the document model must join it.
    assert {f.name for f in fields(IndexedElements)} == set(ELEMENT_MODELS)


def test_reference_checks_read_validated_models_and_raw_entries_alike(reference_case: Loader) -> None:
    """The meaning checks read a validated document's models column-wise (`text_values`) and a
    raw document's entries one by one; both must find the same problems in the same order."""
    from ampflux_shared.circuit.switching import check_switching
    from ampflux_shared.circuit.topology import check_topology

    doc = reference_case("mv_meshed_20kv")
    bus_ids = [bus["id"] for bus in doc["buses"]]
    line = doc["lines"][3]
    # defects the models accept and only the meaning checks find
    doc["buses"].append({"id": bus_ids[4], "vn_kv": 20.0})  # duplicate id
    doc["buses"].append({"id": "ISLAND", "vn_kv": 20.0})  # no path to a source
    doc["lines"].append({**doc["lines"][0], "id": "L-ghost", "to_bus": "NOWHERE"})  # unknown bus
    doc["lines"].append({**doc["lines"][1], "id": line["id"]})  # duplicate line id
    doc["generators"] = [
        {"id": "G1", "bus": bus_ids[0], "sn_mva": 5, "vn_kv": 20, "xdss_pu": 0.2, "rdss_pu": 0.01, "cos_phi": 0.8,
         "power_station_trafo": doc["transformers"][1]["id"]},
        {"id": "G2", "bus": bus_ids[0], "sn_mva": 5, "vn_kv": 20, "xdss_pu": 0.2, "rdss_pu": 0.01, "cos_phi": 0.8,
         "power_station_trafo": "T-none"},
    ]  # fmt: skip
    doc["switches"] = [
        {"id": "S1", "bus": line["from_bus"], "element": line["id"]},
        {"id": "S2", "bus": bus_ids[-1], "element": line["id"]},  # not at the line's buses
        {"id": "S3", "bus": bus_ids[0], "element": "L-none"},
        {"id": "S4", "bus": bus_ids[1], "to_bus": "NOWHERE"},
    ]
    doc["scenarios"] = [{"id": "SC", "switches": {"S1": "open", "S9": "open"}, "out_of_service": ["X", line["id"]]}]
    model = CircuitDocument.model_validate(doc)
    raw = {name: doc.get(name, []) for name in ELEMENT_MODELS}
    models = {name: getattr(model, name) for name in ELEMENT_MODELS}
    bus_kv = IndexedElements.of_document(model).bus_kv()

    from_models = check_topology(models) + check_switching(models, bus_kv, model.study)
    from_raw = check_topology(raw) + check_switching(raw, bus_kv, model.study)
    assert from_models == from_raw
    assert {problem.code for problem in from_models} >= {
        "duplicate_id", "unknown_bus", "no_source", "unknown_transformer", "unit_transformer_elsewhere",
        "element_elsewhere", "unknown_element", "unknown_switch",
    }  # fmt: skip


@pytest.mark.parametrize("seed", range(20))
def test_buses_without_a_path_to_a_source_are_found_in_random_networks(seed: int) -> None:
    """Against a plain fixed-point closure: random buses, branches, couplers and sources."""
    import random

    rng = random.Random(seed)
    n = rng.randint(2, 40)
    buses = [f"B{i}" for i in range(n)]
    pairs = [tuple(rng.sample(buses, 2)) for _ in range(rng.randint(0, n))]
    triples = [tuple(rng.sample(buses, 3)) for _ in range(rng.randint(0, 3))] if n >= 3 else []
    couplers = [tuple(rng.sample(buses, 2)) for _ in range(rng.randint(0, 3))]
    sources = rng.sample(buses, rng.randint(1, 3))
    entries: dict[str, list[dict[str, Any]]] = {
        "buses": [{"id": bus} for bus in buses],
        "ext_grids": [{"id": f"G{i}", "bus": bus} for i, bus in enumerate(sources)],
        "lines": [{"id": f"L{i}", "from_bus": a, "to_bus": b} for i, (a, b) in enumerate(pairs)],
        "transformers3w": [
            {"id": f"T{i}", "hv_bus": a, "mv_bus": b, "lv_bus": c} for i, (a, b, c) in enumerate(triples)
        ],
        "switches": [{"id": f"S{i}", "bus": a, "to_bus": b} for i, (a, b) in enumerate(couplers)],
    }
    edges = [*pairs, *couplers, *((a, b) for a, b, _ in triples), *((a, c) for a, _, c in triples)]
    reached = set(sources)
    while True:
        more = {b for a, b in edges if a in reached} | {a for a, b in edges if b in reached}
        if more <= reached:
            break
        reached |= more
    from ampflux_shared.circuit.topology import check_topology

    found_islands = [p.path for p in check_topology(entries) if p.code == "no_source"]
    assert found_islands == [f"buses[{i}]" for i, bus in enumerate(buses) if bus not in reached]
