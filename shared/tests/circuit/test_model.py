"""The circuit document model: reference circuits parse, defaults follow FORMAT.md, bad values are refused."""

import json
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from ampflux_shared.circuit import (
    Bus,
    CircuitDocument,
    ExtGrid,
    Generator,
    Line,
    Motor,
    Study,
    Transformer,
    Transformer3W,
)

ELEMENT_LISTS = ["buses", "ext_grids", "lines", "transformers", "transformers3w", "generators", "motors"]

# FORMAT.md's minimal example.
TINY = {
    "format": "circuit-document",
    "version": 1,
    "id": "tiny",
    "study": {"frequency_hz": 50, "faults": ["3ph", "1ph"], "cases": ["max"]},
    "buses": [{"id": "MV", "vn_kv": 20.0}, {"id": "LV", "vn_kv": 0.4}],
    "ext_grids": [{"id": "G", "bus": "MV", "s_sc_max_mva": 400.0, "rx_max": 0.1, "x0x_max": 1.0, "r0x0_max": 0.1}],
    "transformers": [
        {
            "id": "T",
            "hv_bus": "MV",
            "lv_bus": "LV",
            "sn_mva": 0.63,
            "vn_hv_kv": 20.0,
            "vn_lv_kv": 0.4,
            "vk_percent": 6.0,
            "vkr_percent": 1.206,
            "vector_group": "Dyn",
            "vk0_percent": 6.0,
            "vkr0_percent": 1.206,
        }
    ],
}

LINE = {"id": "L", "from_bus": "A", "to_bus": "B", "length_km": 1.0, "r_ohm_per_km": 0.2, "x_ohm_per_km": 0.1}
TRAFO = {
    "id": "T",
    "hv_bus": "MV",
    "lv_bus": "LV",
    "sn_mva": 0.63,
    "vn_hv_kv": 20.0,
    "vn_lv_kv": 0.4,
    "vk_percent": 6.0,
    "vkr_percent": 1.2,
}
GENERATOR = {"id": "G", "bus": "B", "sn_mva": 10.0, "vn_kv": 10.5, "xdss_pu": 0.2, "cos_phi": 0.8}
MOTOR = {
    "id": "M",
    "bus": "B",
    "pn_mech_mw": 0.3,
    "cos_phi_n": 0.85,
    "efficiency_n_percent": 94.0,
    "vn_kv": 0.46,
    "lrc_pu": 6.0,
    "rx": 0.42,
}
EXT_GRID = {"id": "N", "bus": "B", "s_sc_max_mva": 500.0, "rx_max": 0.1}
TRAFO3W = {
    "id": "T3",
    "hv_bus": "H",
    "mv_bus": "M",
    "lv_bus": "L",
    "vn_hv_kv": 110.0,
    "vn_mv_kv": 20.0,
    "vn_lv_kv": 10.0,
    "sn_hv_mva": 40.0,
    "sn_mv_mva": 20.0,
    "sn_lv_mva": 20.0,
    "vk_hv_percent": 12.0,
    "vk_mv_percent": 8.0,
    "vk_lv_percent": 14.0,
    "vkr_hv_percent": 0.4,
    "vkr_mv_percent": 0.3,
    "vkr_lv_percent": 0.5,
}


def error_locs(model: type[BaseModel], data: dict) -> set[tuple]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return {error["loc"] for error in caught.value.errors()}


def test_every_reference_circuit_parses_with_json_names_as_attributes(cases_dir: Path) -> None:
    files = sorted(cases_dir.glob("*.json"))
    assert len(files) >= 3, f"expected the reference circuits in {cases_dir}"
    for path in files:
        raw = json.loads(path.read_text(encoding="utf-8"))
        doc = CircuitDocument.model_validate(raw)
        assert doc.id == raw["id"]
        assert doc.expected == raw["expected"]
        for list_name in ELEMENT_LISTS:
            entries = getattr(doc, list_name)
            assert len(entries) == len(raw.get(list_name, [])), (path.name, list_name)
            # Every JSON field is an attribute of the same name holding the same value.
            for entry, raw_entry in zip(entries, raw.get(list_name, []), strict=True):
                assert {key: getattr(entry, key) for key in raw_entry} == raw_entry


def test_minimal_example_gets_format_defaults() -> None:
    doc = CircuitDocument.model_validate(TINY)

    assert doc.lines == doc.transformers3w == doc.generators == doc.motors == []
    assert doc.title is None and doc.expected is None
    study = doc.study
    assert study.faults == ["3ph", "1ph"] and study.cases == ["max"]
    assert (study.lv_tol_percent, study.kappa_method, study.topology) == (10, "C", "auto")
    assert study.ip is True and study.ith is True
    assert (study.tk_s, study.tmin_s, study.r_fault_ohm, study.x_fault_ohm, study.sn_mva) == (1.0, 0.1, 0, 0, 1.0)
    trafo = doc.transformers[0]
    assert (trafo.parallel, trafo.shift_degree, trafo.xn_ohm, trafo.rn_ohm) == (1, 0, 0, 0)
    assert trafo.power_station_unit is False and trafo.oltc is False
    assert trafo.tap_pos is None and trafo.mag0_percent is None


def test_study_defaults_to_3ph_max() -> None:
    study = Study.model_validate({"frequency_hz": 60})
    assert study.faults == ["3ph"] and study.cases == ["max"]


def test_element_defaults() -> None:
    line = Line.model_validate(LINE)
    assert (line.c_nf_per_km, line.parallel, line.endtemp_degree, line.r0_ohm_per_km) == (0, 1, None, None)
    generator = Generator.model_validate({**GENERATOR, "rdss_pu": 0.005})
    assert generator.pg_percent == 0 and generator.power_station_trafo is None


def test_unknown_keys_are_ignored() -> None:
    doc = CircuitDocument.model_validate(
        {**TINY, "comment": "drawn by hand", "buses": [{"id": "MV", "vn_kv": 20.0, "colour": "red"}]}
    )
    assert not hasattr(doc, "comment")
    assert not hasattr(doc.buses[0], "colour")


def test_documents_are_immutable() -> None:
    doc = CircuitDocument.model_validate(TINY)
    with pytest.raises(ValidationError):
        doc.buses[0].vn_kv = 10.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("model", "data", "field", "value"),
    [
        (Bus, {"id": "B", "vn_kv": 20.0}, "vn_kv", 0),
        (Bus, {"id": "B", "vn_kv": 20.0}, "id", ""),
        (Bus, {"id": "B", "vn_kv": 20.0}, "id", 7),
        (Line, LINE, "length_km", -0.5),
        (Line, LINE, "length_km", float("nan")),
        (Line, LINE, "r_ohm_per_km", -0.1),
        (Line, LINE, "parallel", 0),
        (Line, LINE, "endtemp_degree", 5.0),
        (ExtGrid, EXT_GRID, "s_sc_max_mva", -100.0),
        (ExtGrid, EXT_GRID, "rx_max", -0.1),
        (Transformer, TRAFO, "vk_percent", 0),
        (Transformer, TRAFO, "sn_mva", 0),
        (Transformer, TRAFO, "vector_group", "Dyn11"),
        (Transformer, TRAFO, "tap_side", "mv"),
        (Transformer, TRAFO, "si0_hv_partial", 1.5),
        (Generator, {**GENERATOR, "rdss_ohm": 0.01}, "cos_phi", 1.2),
        (Generator, {**GENERATOR, "rdss_ohm": 0.01}, "cos_phi", 0),
        (Generator, {**GENERATOR, "rdss_ohm": 0.01}, "xdss_pu", 0),
        (Motor, MOTOR, "lrc_pu", 0),
        (Motor, MOTOR, "efficiency_n_percent", 120.0),
        (Study, {"frequency_hz": 50}, "frequency_hz", 55),
        (Study, {"frequency_hz": 50}, "lv_tol_percent", 8),
        (Study, {"frequency_hz": 50}, "kappa_method", "A"),
        (Study, {"frequency_hz": 50}, "faults", []),
        (Study, {"frequency_hz": 50}, "faults", ["3ph", "3ph"]),
        (Study, {"frequency_hz": 50}, "tk_s", 0),
    ],
)
def test_non_physical_values_are_refused_on_their_field(model, data, field, value) -> None:
    assert any(loc[0] == field for loc in error_locs(model, {**data, field: value}))


def test_study_faults_name_only_known_fault_types() -> None:
    assert error_locs(Study, {"frequency_hz": 50, "faults": ["3ph", "4ph"]}) == {("faults", 1)}


def test_resistive_part_may_not_exceed_short_circuit_voltage() -> None:
    assert error_locs(Transformer, {**TRAFO, "vkr_percent": 7.0}) == {("vkr_percent",)}
    assert error_locs(Transformer, {**TRAFO, "vk0_percent": 5.0, "vkr0_percent": 6.0}) == {("vkr0_percent",)}
    assert error_locs(Transformer3W, {**TRAFO3W, "vkr_mv_percent": 9.0}) == {("vkr_mv_percent",)}
    Transformer.model_validate({**TRAFO, "vkr_percent": 6.0})  # equal is allowed


def test_elements_must_join_different_buses() -> None:
    assert error_locs(Line, {**LINE, "to_bus": "A"}) == {("to_bus",)}
    assert error_locs(Transformer, {**TRAFO, "lv_bus": "MV"}) == {("lv_bus",)}
    assert error_locs(Transformer3W, {**TRAFO3W, "lv_bus": "M"}) == {("lv_bus",)}


def test_tap_range_is_ordered_and_min_case_power_not_above_max() -> None:
    assert error_locs(Transformer, {**TRAFO, "tap_min": 2, "tap_max": -2}) == {("tap_max",)}
    assert error_locs(ExtGrid, {**EXT_GRID, "s_sc_min_mva": 600.0}) == {("s_sc_min_mva",)}


@pytest.mark.parametrize("resistance", [{}, {"rdss_ohm": 0.01, "rdss_pu": 0.005}])
def test_generator_needs_exactly_one_stator_resistance(resistance: dict) -> None:
    with pytest.raises(ValidationError, match="exactly one of rdss_ohm or rdss_pu"):
        Generator.model_validate({**GENERATOR, **resistance})


@pytest.mark.parametrize("resistance", [{"rdss_ohm": 0.01}, {"rdss_pu": 0.005}])
def test_generator_takes_stator_resistance_in_ohm_or_per_unit(resistance: dict) -> None:
    generator = Generator.model_validate({**GENERATOR, **resistance})
    assert (generator.rdss_ohm, generator.rdss_pu) == (resistance.get("rdss_ohm"), resistance.get("rdss_pu"))


def test_three_winding_vector_groups() -> None:
    assert Transformer3W.model_validate({**TRAFO3W, "vector_group": "YNynd"}).vector_group == "YNynd"
    assert error_locs(Transformer3W, {**TRAFO3W, "vector_group": "YNyn0d5"}) == {("vector_group",)}


@pytest.mark.parametrize(
    ("model", "data", "field", "value"),
    [
        (Line, LINE, "length_km", "1.0"),
        (Line, LINE, "length_km", True),
        (Line, LINE, "parallel", "2"),
        (Line, LINE, "parallel", 2.5),
        (Transformer, TRAFO, "tap_pos", True),
        (Transformer, TRAFO, "oltc", "yes"),
        (Study, {"frequency_hz": 50}, "ip", 1),
    ],
)
def test_values_must_have_their_json_type(model, data, field, value) -> None:
    assert error_locs(model, {**data, field: value}) == {(field,)}


def test_whole_numbers_written_as_floats_are_integers() -> None:
    assert Line.model_validate({**LINE, "parallel": 2.0}).parallel == 2
    assert Transformer.model_validate({**TRAFO, "tap_pos": -1.0}).tap_pos == -1
