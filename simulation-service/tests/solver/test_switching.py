"""Switching states, scenarios and faults along lines, checked by hand and by equivalence.

Hand calculations use IEC 60909-0:2016 eq. (29) I″k = c·Un/(√3·|Zk|) with the network
feeder Z_Q = c·UnQ²/S″kQ (eq. 10) and line impedances Z_L = l·z'_L; a fault at fraction f
of a line sees f·Z_L of it from its from_bus.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest

from ampflux_shared.circuit import CircuitDocument, parse_circuit
from ampflux_simulation.solver import SolverError, solve_study
from ampflux_testing.circuits import CASES_DIR

SQRT3 = math.sqrt(3.0)
REL = 1e-12
C_MAX_20KV = 1.1  # IEC 60909-0 Table 1, Un > 1 kV


def _doc(buses: list[dict[str, Any]], **elements: Any) -> dict[str, Any]:
    study = elements.pop("study", {"frequency_hz": 50, "faults": ["3ph"], "cases": ["max"]})
    return {"format": "circuit-document", "version": 1, "id": "sw", "study": study, "buses": buses, **elements}


def _grid(grid_id: str, bus: str, s_sc: float = 500.0, rx: float = 0.1) -> dict[str, Any]:
    return {"id": grid_id, "bus": bus, "s_sc_max_mva": s_sc, "rx_max": rx, "x0x_max": 1.0, "r0x0_max": 0.1}


def _line(line_id: str, a: str, b: str, km: float, r: float = 0.2, x: float = 0.35) -> dict[str, Any]:
    return {"id": line_id, "from_bus": a, "to_bus": b, "length_km": km, "r_ohm_per_km": r, "x_ohm_per_km": x}


def _z_grid(s_sc: float = 500.0, rx: float = 0.1, un: float = 20.0) -> complex:
    # eq. (10): Z_Q = c·UnQ²/S″kQ, X_Q = Z_Q/√(1 + (R/X)²)
    x = C_MAX_20KV * un**2 / s_sc / math.sqrt(1 + rx * rx)
    return complex(rx * x, x)


def _ik(z: complex, un: float = 20.0) -> float:
    return C_MAX_20KV * un / (SQRT3 * abs(z))  # eq. (29)


def _reference(name: str) -> dict[str, Any]:
    data = json.loads((CASES_DIR / f"{name}.json").read_text(encoding="utf-8"))
    data.pop("expected", None)
    return data


def test_a_fault_along_a_line_by_hand() -> None:
    data = _doc(
        [{"id": "A", "vn_kv": 20.0}, {"id": "B", "vn_kv": 20.0}],
        ext_grids=[_grid("Q", "A")],
        lines=[_line("L", "A", "B", 10.0)],
    )
    data["study"]["line_faults"] = [{"line": "L", "fraction": 0.3}]

    rs = solve_study(parse_circuit(data)).get("3ph", "max")

    z_l = complex(0.2, 0.35) * 10.0
    # I″k = c·Un/(√3·|Z_Q + f·Z_L|)
    assert rs.buses["L@0.3"]["ikss_ka"] == pytest.approx(_ik(_z_grid() + 0.3 * z_l), rel=REL)
    assert rs.buses["B"]["ikss_ka"] == pytest.approx(_ik(_z_grid() + z_l), rel=REL)
    assert rs.line_faults == {"L@0.3": {"line": "L", "fraction": 0.3, "from_bus": "A", "to_bus": "B"}}
    assert list(rs.buses) == ["A", "B", "L@0.3"]


def test_a_line_fault_is_a_cli_or_api_option_too() -> None:
    from ampflux_shared.circuit import LineFault

    data = _doc(
        [{"id": "A", "vn_kv": 20.0}, {"id": "B", "vn_kv": 20.0}],
        ext_grids=[_grid("Q", "A")],
        lines=[_line("L", "A", "B", 10.0)],
    )
    rs = solve_study(parse_circuit(data), line_faults=[LineFault(line="L", fraction=0.75)], buses=["B"]).get(
        "3ph", "max"
    )
    assert list(rs.buses) == ["B", "L@0.75"]
    assert rs.buses["L@0.75"]["ikss_ka"] == pytest.approx(_ik(_z_grid() + 7.5 * complex(0.2, 0.35)), rel=REL)


def test_a_line_open_at_one_end_feeds_a_fault_along_it_from_the_closed_end_only() -> None:
    # two lines A-B; a fault on L2 at f: from A through f·Z2, and (closed) from B through (1 − f)·Z2
    data = _doc(
        [{"id": "A", "vn_kv": 20.0}, {"id": "B", "vn_kv": 20.0}],
        ext_grids=[_grid("Q", "A")],
        lines=[_line("L1", "A", "B", 4.0), _line("L2", "A", "B", 6.0, r=0.3, x=0.4)],
        switches=[{"id": "Q-L2-B", "bus": "B", "element": "L2"}],
        scenarios=[{"id": "open-far-end", "switches": {"Q-L2-B": "open"}}],
    )
    data["study"]["line_faults"] = [{"line": "L2", "fraction": 0.4}]
    doc = parse_circuit(data)
    z_q, z1, z2 = _z_grid(), complex(0.2, 0.35) * 4.0, complex(0.3, 0.4) * 6.0

    closed = solve_study(doc).get("3ph", "max")
    opened = solve_study(doc, scenario="open-far-end").get("3ph", "max")

    def parallel(a: complex, b: complex) -> complex:
        return a * b / (a + b)

    assert closed.buses["L2@0.4"]["ikss_ka"] == pytest.approx(_ik(z_q + parallel(0.4 * z2, z1 + 0.6 * z2)), rel=REL)
    assert opened.buses["L2@0.4"]["ikss_ka"] == pytest.approx(_ik(z_q + 0.4 * z2), rel=REL)
    # at B the open line carries nothing: only L1 feeds it
    assert opened.buses["B"]["ikss_ka"] == pytest.approx(_ik(z_q + z1), rel=REL)
    assert opened.scenario == "open-far-end" and closed.scenario is None
    # the document's study may name the scenario itself
    data["study"]["scenario"] = "open-far-end"
    assert solve_study(parse_circuit(data)).get("3ph", "max").buses == opened.buses


@pytest.mark.parametrize("fault", ["3ph", "2ph", "1ph", "2phg"])
@pytest.mark.parametrize("case", ["max", "min"])
def test_a_line_fault_equals_an_explicitly_split_line(fault: str, case: str) -> None:
    # mv_meshed_20kv's ring cable A1-2 → A1-3 (with capacitances, zero sequence and end temperature)
    data = _reference("mv_meshed_20kv")
    index, line = next((i, ln) for i, ln in enumerate(data["lines"]) if ln["from_bus"] == "A1-2")
    split = copy.deepcopy(data)
    split["buses"].append({"id": "M", "vn_kv": 20.0})
    split["lines"][index : index + 1] = [
        {**line, "id": "part-1", "to_bus": "M", "length_km": line["length_km"] * 0.3},
        {**line, "id": "part-2", "from_bus": "M", "length_km": line["length_km"] * 0.7},
    ]
    data["study"]["line_faults"] = [{"line": line["id"], "fraction": 0.3}]

    along = solve_study(parse_circuit(data), faults=[fault], cases=[case]).get(fault, case)
    explicit = solve_study(parse_circuit(split), faults=[fault], cases=[case]).get(fault, case)

    point = f"{line['id']}@0.3"
    for quantity in along.quantities:
        assert along.buses[point][quantity] == pytest.approx(explicit.buses["M"][quantity], rel=1e-9, abs=1e-12)
        for bus in ("A1-1", "SS-A", "LV-A13"):
            assert along.buses[bus][quantity] == pytest.approx(explicit.buses[bus][quantity], rel=1e-9, abs=1e-12)


def test_a_closed_bus_coupler_merges_two_buses_and_an_open_one_keeps_them_apart() -> None:
    data = _doc(
        [{"id": "A", "vn_kv": 20.0}, {"id": "B", "vn_kv": 20.0}],
        ext_grids=[_grid("Q1", "A", 500.0, 0.1), _grid("Q2", "B", 300.0, 0.2)],
        switches=[{"id": "QC", "bus": "A", "to_bus": "B", "kind": "load_break_switch"}],
        scenarios=[{"id": "split", "switches": {"QC": "open"}}],
    )
    doc = parse_circuit(data)
    z1, z2 = _z_grid(500.0, 0.1), _z_grid(300.0, 0.2)

    joined = solve_study(doc).get("3ph", "max")
    apart = solve_study(doc, scenario="split").get("3ph", "max")

    both = _ik(z1 * z2 / (z1 + z2))  # the two feeders in parallel at one node
    assert joined.buses["A"]["ikss_ka"] == pytest.approx(both, rel=REL)
    assert joined.buses["B"] == joined.buses["A"]
    assert joined.trail["B"]["merged_buses"] == ["A", "B"]
    assert apart.buses["A"]["ikss_ka"] == pytest.approx(_ik(z1), rel=REL)
    assert apart.buses["B"]["ikss_ka"] == pytest.approx(_ik(z2), rel=REL)
    assert "merged_buses" not in apart.trail["A"]


def test_buses_that_lose_their_source_are_reported_not_an_error() -> None:
    data = _reference("mv_meshed_20kv")
    data["switches"] = [{"id": "Q-DT", "bus": "A1-3", "element": "DT-A13", "kind": "fuse"}]
    data["scenarios"] = [{"id": "fuse-blown", "switches": {"Q-DT": "open"}}]
    doc = parse_circuit(data)

    base = solve_study(doc, faults=["3ph", "1ph"])
    result = solve_study(doc, faults=["3ph", "1ph"], scenario="fuse-blown")

    for rs in result.result_sets:
        assert "LV-A13" not in rs.buses
        assert rs.unsupplied == {
            "LV-A13": "no source in this switching state: LV-A13 cut off from every source (open switch(es) Q-DT)"
        }
        assert rs.to_dict()["unsupplied"] == rs.unsupplied and rs.to_dict()["scenario"] == "fuse-blown"
        # a transformer out behind a radial feeder changes nothing elsewhere
        before = base.get(rs.fault, rs.case)
        assert rs.buses["SS-A"] == pytest.approx(before.buses["SS-A"], rel=1e-9)
    assert len(result.get("3ph", "max").buses) == len(base.get("3ph", "max").buses) - 1


def test_an_open_switch_equals_the_element_out_of_service_and_removed() -> None:
    data = _reference("mv_meshed_20kv")
    data["switches"] = [{"id": "Q-TRB", "bus": "SS-B", "element": "TR-B", "closed": False}]
    out = copy.deepcopy(data)
    out["switches"] = []
    out["scenarios"] = [{"id": "trb", "out_of_service": ["TR-B"]}]
    flagged = copy.deepcopy(out)
    flagged["scenarios"] = []
    next(t for t in flagged["transformers"] if t["id"] == "TR-B")["in_service"] = False
    removed = copy.deepcopy(flagged)
    removed["transformers"] = [t for t in removed["transformers"] if t["id"] != "TR-B"]

    results = [
        solve_study(parse_circuit(data), faults=["3ph", "1ph"]),
        solve_study(parse_circuit(out), faults=["3ph", "1ph"], scenario="trb"),
        solve_study(parse_circuit(flagged), faults=["3ph", "1ph"]),
    ]
    reference = solve_study(parse_circuit(removed), faults=["3ph", "1ph"])
    for result in results:
        for rs in result.result_sets:
            expected = reference.get(rs.fault, rs.case)
            assert rs.buses.keys() == expected.buses.keys()
            for bus, row in rs.buses.items():
                assert row == pytest.approx(expected.buses[bus], rel=1e-12)


def test_a_grid_out_of_service_leaves_its_island_unsupplied_with_the_reason() -> None:
    data = _doc(
        [{"id": "A", "vn_kv": 20.0}, {"id": "B", "vn_kv": 20.0}, {"id": "C", "vn_kv": 20.0}],
        ext_grids=[_grid("Q1", "A"), _grid("Q2", "C")],
        lines=[_line("L", "A", "B", 2.0)],
        scenarios=[{"id": "q1-off", "out_of_service": ["Q1"]}],
    )
    data["study"]["line_faults"] = [{"line": "L", "fraction": 0.5}]

    rs = solve_study(parse_circuit(data), scenario="q1-off").get("3ph", "max")

    assert list(rs.buses) == ["C"]
    assert set(rs.unsupplied) == {"A", "B", "L@0.5"}
    assert "out of service: Q1" in rs.unsupplied["A"]


def test_every_bus_cut_off_gives_empty_results_and_reasons() -> None:
    data = _doc([{"id": "A", "vn_kv": 20.0}], ext_grids=[{**_grid("Q", "A"), "in_service": False}])

    rs = solve_study(parse_circuit(data)).get("3ph", "max")

    assert rs.buses == {} and set(rs.unsupplied) == {"A"}


def test_branch_contributions_at_a_merged_bus_and_along_a_line() -> None:
    data = _doc(
        [{"id": "A", "vn_kv": 20.0}, {"id": "A2", "vn_kv": 20.0}, {"id": "B", "vn_kv": 20.0}],
        ext_grids=[_grid("Q", "A")],
        lines=[_line("L", "A2", "B", 5.0)],
        switches=[{"id": "QC", "bus": "A", "to_bus": "A2"}],
    )
    data["study"]["line_faults"] = [{"line": "L", "fraction": 0.5}]
    doc = parse_circuit(data)

    at_a2 = solve_study(doc, branches_for="A2").get("3ph", "max")
    at_point = solve_study(doc, branches_for="L@0.5").get("3ph", "max")

    assert at_a2.branches is not None and set(at_a2.branches) == {"A2"}
    assert at_a2.voltages is not None and at_a2.voltages["A2"]["A"] == at_a2.voltages["A2"]["A2"]
    assert at_point.branches is not None and at_point.voltages is not None
    # a radial feed: the whole fault current comes through the first half of the line, none
    # through the second (segments are named by the fractions they span)
    halves = at_point.branches["L@0.5"]
    ik = at_point.buses["L@0.5"]["ikss_ka"]
    assert halves["L@0.0-0.5"]["ikss_from_ka"] == pytest.approx(ik, rel=1e-12)
    assert halves["L@0.5-1.0"]["ikss_from_ka"] == pytest.approx(0.0, abs=1e-9)
    assert at_point.voltages["L@0.5"]["L@0.5"]["v1_pu"] == pytest.approx(0.0, abs=1e-12)
    assert at_point.voltages["L@0.5"]["A2"] == at_point.voltages["L@0.5"]["A"]


def test_an_unknown_scenario_is_a_solver_error() -> None:
    data = _doc([{"id": "A", "vn_kv": 20.0}], ext_grids=[_grid("Q", "A")], scenarios=[{"id": "one"}])
    with pytest.raises(SolverError, match="unknown scenario 'two'; the document has: one"):
        solve_study(parse_circuit(data), scenario="two")


def test_an_island_fed_by_a_motor_alone_is_supplied_in_the_max_case_only() -> None:
    # IEC 60909-0 leaves asynchronous motors out of the minimum case: there the island has no source
    data = _doc(
        [{"id": "A", "vn_kv": 20.0}, {"id": "B", "vn_kv": 20.0}],
        study={"frequency_hz": 50, "faults": ["3ph"], "cases": ["max", "min"]},
        ext_grids=[{**_grid("Q", "A"), "s_sc_min_mva": 400.0, "rx_min": 0.1}],
        lines=[{**_line("L", "A", "B", 2.0), "endtemp_degree": 80.0}],
        motors=[
            {
                "id": "M",
                "bus": "B",
                "pn_mech_mw": 1.0,
                "cos_phi_n": 0.9,
                "efficiency_n_percent": 95.0,
                "vn_kv": 20.0,
                "lrc_pu": 5.0,
                "rx": 0.1,
            }
        ],
        switches=[{"id": "QL", "bus": "A", "element": "L", "closed": False}],
    )

    result = solve_study(parse_circuit(data))

    high, low = result.get("3ph", "max"), result.get("3ph", "min")
    # the motor alone: I″kM = c·Un/(√3·|Z_M|), Z_M = (1/I_LR/I_rM)·U_rM²/S_rM (eq. 26)
    s_rm = 1.0 / (0.95 * 0.9)
    assert high.buses["B"]["ikss_ka"] == pytest.approx(_ik(complex(0, 1 / 5.0 * 20.0**2 / s_rm)), rel=REL)
    assert "B" not in low.buses and "A" in low.buses
    assert low.unsupplied["B"].endswith("(open switch(es) QL; fed only by M, which feed the max case only)")
    assert high.unsupplied == {}


def _three_winding_network() -> dict[str, Any]:
    return _doc(
        [{"id": "HV", "vn_kv": 110.0}, {"id": "MV", "vn_kv": 20.0}, {"id": "LV", "vn_kv": 10.0}],
        study={"frequency_hz": 50, "faults": ["3ph", "1ph"], "cases": ["max", "min"]},
        ext_grids=[
            {
                "id": "Q",
                "bus": "HV",
                "s_sc_max_mva": 3000.0,
                "rx_max": 0.1,
                "x0x_max": 1.0,
                "r0x0_max": 0.1,
                "s_sc_min_mva": 2000.0,
                "rx_min": 0.1,
                "x0x_min": 1.0,
                "r0x0_min": 0.1,
            }
        ],
        transformers3w=[
            {
                "id": "T3",
                "hv_bus": "HV",
                "mv_bus": "MV",
                "lv_bus": "LV",
                "vn_hv_kv": 110.0,
                "vn_mv_kv": 21.0,
                "vn_lv_kv": 10.5,
                "sn_hv_mva": 40.0,
                "sn_mv_mva": 40.0,
                "sn_lv_mva": 15.0,
                "vk_hv_percent": 12.0,
                "vk_mv_percent": 8.0,
                "vk_lv_percent": 18.0,
                "vkr_hv_percent": 0.4,
                "vkr_mv_percent": 0.5,
                "vkr_lv_percent": 0.6,
                "vk0_hv_percent": 11.0,
                "vk0_mv_percent": 7.5,
                "vk0_lv_percent": 16.0,
                "vkr0_hv_percent": 0.4,
                "vkr0_mv_percent": 0.5,
                "vkr0_lv_percent": 0.6,
                "vector_group": "YNynd",
            }
        ],
        switches=[{"id": "Q-LV", "bus": "LV", "element": "T3", "closed": False}],
    )


def test_a_three_winding_transformer_with_one_winding_open_is_the_two_winding_pair_that_remains() -> None:
    # the open winding carries nothing, so HV–MV is the pair's impedance u_kHVMV on the smaller rating
    data = _three_winding_network()
    pair = _three_winding_network()
    pair["buses"] = pair["buses"][:2]
    pair.pop("transformers3w"), pair.pop("switches")
    pair["transformers"] = [
        {
            "id": "T3",
            "hv_bus": "HV",
            "lv_bus": "MV",
            "sn_mva": 40.0,
            "vn_hv_kv": 110.0,
            "vn_lv_kv": 21.0,
            "vk_percent": 12.0,
            "vkr_percent": 0.4,
            "vk0_percent": 11.0,
            "vkr0_percent": 0.4,
            "vector_group": "YNyn",
        }
    ]

    opened = solve_study(parse_circuit(data))
    # validated as a model only: a two-winding YNyn asks for magnetising data the 3W model has no field for
    expected = solve_study(CircuitDocument.model_validate(pair))
    closed = solve_study(parse_circuit({**data, "switches": []}))

    for rs in opened.result_sets:
        want = expected.get(rs.fault, rs.case)
        assert set(rs.buses) == {"HV", "MV"} and "LV" in rs.unsupplied
        for bus in ("HV", "MV"):
            assert rs.buses[bus] == pytest.approx(want.buses[bus], rel=1e-12)
    # with the delta tertiary in service the zero-sequence network differs (it short-circuits Z0)
    assert closed.get("1ph", "max").buses["MV"]["ikss_ka"] != pytest.approx(
        opened.get("1ph", "max").buses["MV"]["ikss_ka"], rel=1e-3
    )


def test_a_fault_along_one_of_two_parallel_circuits_by_hand() -> None:
    # the faulted circuit is split; the healthy one runs A-B beside it:
    # Z = Z_Q + f·Z_L ∥ (Z_L + (1 − f)·Z_L) = Z_Q + f·(2 − f)/2·Z_L
    data = _doc(
        [{"id": "A", "vn_kv": 20.0}, {"id": "B", "vn_kv": 20.0}],
        ext_grids=[_grid("Q", "A")],
        lines=[{**_line("L", "A", "B", 10.0), "parallel": 2}],
    )
    data["study"]["line_faults"] = [{"line": "L", "fraction": 0.3}]

    rs = solve_study(parse_circuit(data), branches_for="L@0.3").get("3ph", "max")

    z_l = complex(0.2, 0.35) * 10.0
    assert rs.buses["L@0.3"]["ikss_ka"] == pytest.approx(_ik(_z_grid() + 0.3 * 1.7 / 2 * z_l), rel=REL)
    assert rs.buses["B"]["ikss_ka"] == pytest.approx(_ik(_z_grid() + z_l / 2), rel=REL)
    assert rs.branches is not None and set(rs.branches["L@0.3"]) == {"L", "L@0.0-0.3", "L@0.3-1.0"}
