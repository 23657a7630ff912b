"""Branch contributions, post-fault voltages, the trail, the result shape and SolverError."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest

from ampflux_shared.circuit import CircuitDocument, parse_circuit
from ampflux_simulation.solver import SolverError, solve_study
from ampflux_testing.circuits import CASES_DIR


def _edge() -> dict[str, Any]:
    data = json.loads((CASES_DIR / "edge_parallel_transformers.json").read_text())
    data.pop("expected")
    data["study"]["faults"] = ["3ph", "2ph", "1ph", "2phg"]
    return data


@pytest.mark.parametrize("fault", ["3ph", "2ph", "1ph", "2phg"])
def test_single_feeder_carries_the_whole_fault_current(fault: str) -> None:
    result = solve_study(parse_circuit(_edge()), branches_for="DB-1")
    rs = result.get(fault, "max")
    assert rs.branches is not None and rs.voltages is not None
    cable = rs.branches["DB-1"]["C-DB1"]
    # DB-1 hangs on one cable: its DB-1 end carries exactly the fault current
    assert cable["ikss_to_ka"] == pytest.approx(rs.buses["DB-1"]["ikss_ka"], rel=1e-9)
    assert cable["ikss_to_ka"] == pytest.approx(cable["ikss_from_ka"], rel=1e-9)
    v = rs.voltages["DB-1"]["DB-1"]
    if fault == "3ph":
        assert v["va_pu"] == pytest.approx(0.0, abs=1e-12)
        assert v["vb_pu"] == pytest.approx(0.0, abs=1e-12)
    if fault == "1ph":
        assert v["va_pu"] == pytest.approx(0.0, abs=1e-12)
    if fault in ("2ph", "2phg"):
        assert v["vb_pu"] == pytest.approx(v["vc_pu"], rel=1e-9)


def test_parallel_transformers_share_the_current_and_dyn_blocks_zero_sequence() -> None:
    result = solve_study(parse_circuit(_edge()), branches_for="LV-1")
    three = result.get("3ph", "max")
    ta, tb = three.branches["LV-1"]["T-A"], three.branches["LV-1"]["T-B"]  # type: ignore[index]
    assert ta["ikss_lv_ka"] == pytest.approx(three.buses["LV-1"]["ikss_ka"] / 2, rel=1e-9)
    assert ta == tb
    # HV-side current is the LV current divided by the ratio 20/0.4
    assert ta["ikss_hv_ka"] == pytest.approx(ta["ikss_lv_ka"] * 0.4 / 20.0, rel=1e-9)
    one = result.get("1ph", "max").branches["LV-1"]["T-A"]  # type: ignore[index]
    assert one["i0_lv_ka"] > 0
    assert one["i0_hv_ka"] == 0.0
    # at the grid bus the voltage stays close to c
    assert 0.9 < three.voltages["LV-1"]["MV"]["v1_pu"] <= 1.1  # type: ignore[index]


def test_result_sets_have_the_format_shape() -> None:
    doc = parse_circuit(json.loads((CASES_DIR / "mv_meshed_20kv.json").read_text()))
    sets = solve_study(doc, faults=["3ph", "1ph"], cases=["max"], buses=["SS-A", "LV-A13"]).to_result_sets()
    assert [(s["fault"], s["case"]) for s in sets] == [("3ph", "max"), ("1ph", "max")]
    for s in sets:
        assert set(s["buses"]) == {"SS-A", "LV-A13"}
        for values in s["buses"].values():
            assert list(values) == s["quantities"]
            for v in values.values():
                assert type(v) is float or v == "inf"
        trail = s["trail"]["SS-A"]
        for key in ("c", "z1_ohm", "kappa", "kappa_method", "m", "n", "method"):
            assert key in trail
    assert "z0_ohm" in sets[1]["trail"]["SS-A"]


def test_bus_without_zero_sequence_path_reports_inf() -> None:
    data = _edge()
    for t in data["transformers"]:
        t["vector_group"] = "Dy"
    result = solve_study(parse_circuit(data), faults=["1ph", "2phg"], cases=["max"])
    lv = result.get("1ph", "max").buses["LV-1"]
    assert lv["rk0_ohm"] == "inf" and lv["xk0_ohm"] == "inf"
    assert lv["ikss_ka"] == 0.0
    # without an earth path 2phg is a line-to-line fault
    two = result.get("2phg", "max").buses["LV-1"]
    three = solve_study(parse_circuit(data), faults=["2ph"], cases=["max"]).get("2ph", "max").buses["LV-1"]
    assert two["ikss_ka"] == pytest.approx(three["ikss_ka"], rel=1e-12)
    assert two["ikss_e_ka"] == 0.0


def test_kappa_method_b_and_radial() -> None:
    data = _edge()
    data["study"]["kappa_method"] = "B"
    b = solve_study(parse_circuit(data), faults=["3ph"], cases=["max"]).get("3ph", "max")
    data["study"]["topology"] = "radial"
    r = solve_study(parse_circuit(data), faults=["3ph"], cases=["max"]).get("3ph", "max")
    # LV-1 is fed over two identical transformers and LV-2 over one element with parallel = 2:
    # identical parallel circuits are one path (no 1.15), so method B gives the radial κ
    assert b.trail["LV-1"]["kappa"] == pytest.approx(r.trail["LV-1"]["kappa"], rel=1e-12)
    assert b.trail["LV-2"]["kappa"] == pytest.approx(r.trail["LV-2"]["kappa"], rel=1e-12)
    assert b.trail["DB-1"]["kappa"] == pytest.approx(r.trail["DB-1"]["kappa"], rel=1e-12)
    # the radial κ is the one of R/X at the fault
    z = r.trail["LV-2"]["z1_ohm"]
    assert r.trail["LV-2"]["kappa"] == pytest.approx(1.02 + 0.98 * math.exp(-3 * z["r"] / z["x"]), rel=1e-12)


def test_unknown_bus_is_a_solver_error() -> None:
    with pytest.raises(SolverError, match="unknown bus"):
        solve_study(parse_circuit(_edge()), buses=["NOPE"])


def test_island_without_source_is_a_solver_error() -> None:
    data = _edge()
    data["buses"].append({"id": "ISLAND", "vn_kv": 0.4})
    doc = CircuitDocument.model_validate(data)  # structure only: validation would refuse the island
    with pytest.raises(SolverError, match="ISLAND"):
        solve_study(doc)


def test_ill_conditioned_network_is_a_solver_error() -> None:
    data = _edge()
    # a line of 1e-24 Ω among milliohm impedances: Y is numerically singular
    data["lines"].append(
        {
            "id": "TINY",
            "from_bus": "LV-3",
            "to_bus": "DB-1",
            "length_km": 1e-12,
            "r_ohm_per_km": 1e-12,
            "x_ohm_per_km": 1e-12,
        }
    )
    doc = CircuitDocument.model_validate(data)
    with pytest.raises(SolverError):
        solve_study(doc, faults=["3ph"], cases=["max"])


def test_solver_does_not_mutate_the_document() -> None:
    doc = parse_circuit(_edge())
    before = copy.deepcopy(doc.model_dump())
    solve_study(doc, branches_for="LV-3")
    assert doc.model_dump() == before


def test_method_b_on_a_radial_network_needs_no_safety_factor() -> None:
    data = json.loads((CASES_DIR / "ind480_radial.json").read_text())
    data.pop("expected")
    for line in data["lines"]:
        line["parallel"] = 1  # parallel runs would be separate paths
    data["study"]["kappa_method"] = "B"
    auto = solve_study(parse_circuit(data), faults=["3ph"], cases=["min"]).get("3ph", "min")
    data["study"]["topology"] = "radial"
    radial = solve_study(parse_circuit(data), faults=["3ph"], cases=["min"]).get("3ph", "min")
    for bus in auto.buses:
        assert auto.trail[bus]["kappa"] == pytest.approx(radial.trail[bus]["kappa"], rel=1e-12), bus


@pytest.mark.parametrize(("group", "shift", "pattern"), [("Dyn", 150.0, [1.0, 1.0, 2.0]), ("Yy", 0.0, [0.0, 1.0, 1.0])])
def test_line_to_line_fault_behind_a_transformer_shows_the_vector_group(
    group: str, shift: float, pattern: list[float]
) -> None:
    data = _edge()
    for t in data["transformers"]:
        t["vector_group"], t["shift_degree"] = group, shift
    rs = solve_study(parse_circuit(data), faults=["2ph"], cases=["max"], branches_for="LV-2").get("2ph", "max")
    hv = rs.branches["LV-2"]["T-C"]  # type: ignore[index]
    phases = sorted(hv[f"i{p}_hv_ka"] for p in "abc")
    # Dy: one HV phase carries twice the other two; Yy: two phases carry it, one none
    assert [p / phases[-1] * pattern[-1] for p in phases] == pytest.approx(pattern, abs=1e-9)
    lv = rs.branches["LV-2"]["T-C"]  # type: ignore[index]
    assert sorted(lv[f"i{p}_lv_ka"] for p in "abc")[0] == pytest.approx(0.0, abs=1e-9)
