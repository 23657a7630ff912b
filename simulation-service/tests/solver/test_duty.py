"""Equipment duty (issue 13) against hand calculations.

The partial currents are the equivalent voltage source's superposition (IEC 60909-0 §4.3,
eq. for I″k: I″k = c·Un/(√3·|Z_k|)): with E = c·Un/√3 behind the fault, a grid Q and a
branch to a motor M feed E/Z_Q and E/(Z_L + Z_M). A partial current from non-meshed branches
takes their own κ = 1.02 + 0.98·e^(−3R/X) (eq. 55, §8.1.2) and m from it (§8.8), n from its
own I″k/Ik; elsewhere the fault bus's κ and √(m + n) (solver README "Equipment duty").
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest

from ampflux_shared.circuit import LineFault, parse_circuit
from ampflux_simulation.domain.export import DUTY_COLUMNS
from ampflux_simulation.solver import solve_study
from ampflux_testing.circuits import three_winding_document

DATA = Path(__file__).resolve().parents[1] / "data"
C_MAX = 1.1
UN = 20.0
E = C_MAX * UN / math.sqrt(3.0)  # kV: the equivalent voltage source, IEC 60909-0 Table 1 c_max
K_CU_XLPE = 226.0 * math.sqrt(math.log((250 + 234.5) / (90 + 234.5)))  # IEC 60949 eq. 1, 90 → 250 °C


def kappa(r_over_x: float) -> float:
    """IEC 60909-0 eq. 55."""
    return 1.02 + 0.98 * math.exp(-3.0 * r_over_x)


def m_factor(k: float, tk_s: float, f_hz: float = 50.0) -> float:
    """IEC 60909-0 §8.8 (eq. 101): m = (e^(4·f·Tk·ln(κ−1)) − 1)/(2·f·Tk·ln(κ−1))."""
    a = 2.0 * f_hz * tk_s * math.log(k - 1.0)
    return (math.exp(2.0 * a) - 1.0) / a


def rx(z: complex) -> float:
    return z.real / z.imag


def motor_feeder(**study: Any) -> dict[str, Any]:
    """Grid Q (250 MVA, R/X 0.1) at A, a 2 km 20 kV cable L to B, a 2 MW motor at B."""
    return {
        "format": "circuit-document",
        "version": 1,
        "id": "motor-feeder",
        "study": {"frequency_hz": 50, "faults": ["3ph"], "cases": ["max"], "tk_s": 0.5, "duty": True, **study},
        "buses": [
            {
                "id": "A",
                "vn_kv": UN,
                "ratings": {"peak_withstand_ka": 40.0, "short_time_ka": 16.0, "short_time_s": 3.0},
            },
            {"id": "B", "vn_kv": UN},
        ],
        "ext_grids": [{"id": "Q", "bus": "A", "s_sc_max_mva": 250.0, "rx_max": 0.1}],
        "lines": [
            {
                "id": "L",
                "from_bus": "A",
                "to_bus": "B",
                "length_km": 2.0,
                "r_ohm_per_km": 0.2,
                "x_ohm_per_km": 0.12,
                "ratings": {"material": "cu", "cross_section_mm2": 50, "insulation": "xlpe"},
            }
        ],
        "motors": [
            {
                "id": "M",
                "bus": "B",
                "pn_mech_mw": 2.0,
                "cos_phi_n": 0.9,
                "efficiency_n_percent": 95.0,
                "vn_kv": UN,
                "lrc_pu": 5.0,
                "rx": 0.1,
            }
        ],
        "switches": [
            {
                "id": "CB",
                "bus": "A",
                "element": "L",
                "ratings": {"breaking_ka": 16.0, "making_ka": 40.0, "short_time_ka": 16.0, "short_time_s": 1.0},
            }
        ],
    }


def impedances() -> tuple[complex, complex, complex]:
    """Z_Q, Z_L, Z_M in Ω (FORMAT.md: Z_Q = c·Un²/S″kQ, Z_M = (1/lrc)·Un²/S_rM)."""
    z_q = C_MAX * UN**2 / 250.0
    x_q = z_q / math.sqrt(1 + 0.1**2)
    s_rm = 2.0 / (0.95 * 0.9)
    z_m = UN**2 / (5.0 * s_rm)
    x_m = z_m / math.sqrt(1 + 0.1**2)
    return complex(0.1 * x_q, x_q), complex(0.4, 0.24), complex(0.1 * x_m, x_m)


def parse_line_fault(line: str, fraction: float) -> LineFault:
    return LineFault.model_validate({"line": line, "fraction": fraction})


def duty_rows(data: dict[str, Any], **kwargs: Any) -> tuple[dict[tuple[str, str], dict[str, Any]], Any]:
    result = solve_study(parse_circuit(data), **kwargs)
    rs = result.get("3ph", "max")
    return {(row["id"], row["check"]): row for row in rs.duty}, rs


def test_breaker_carries_the_larger_of_its_two_positions() -> None:
    rows, rs = duty_rows(motor_feeder())
    z_q, z_l, z_m = impedances()
    grid, motor = E / z_q, E / (z_l + z_m)  # kA: the two partial currents into a fault at A
    ikss_a = rs.buses["A"]["ikss_ka"]
    assert ikss_a == pytest.approx(abs(grid + motor), rel=1e-9)
    # fault at A: CB carries the motor's current; fault on L just past CB: the grid's, which is larger
    # the grid is a non-meshed branch of its own: its κ (R/X 0.1), not the bus's (§8.1.2)
    making = rows[("CB", "making")]
    assert making["fault_position"] == "element" and making["location"] == "A"
    assert making["required_ka"] == pytest.approx(kappa(0.1) * math.sqrt(2) * abs(grid), rel=1e-9)
    assert (making["kappa"], making["kappa_method"]) == (pytest.approx(kappa(0.1), rel=1e-12), "branch")
    assert making["rated_ka"] == 40.0
    # past the breaker it carries the grid's current alone, which does not decay: Ib,d = |E/Z_Q|
    breaking = rows[("CB", "breaking")]
    assert breaking["fault_position"] == "element"
    assert breaking["required_ka"] == pytest.approx(abs(grid), rel=1e-9)
    assert breaking["required_ka"] > rs.buses["A"]["ib_ka"] * abs(grid) / ikss_a  # the bus's decay is the motor's
    # a grid does not decay: n = 1 (I″k = Ik), m of the grid's κ
    thermal = rows[("CB", "thermal")]
    assert thermal["required_ka"] == pytest.approx(abs(grid) * math.sqrt(m_factor(kappa(0.1), 0.5) + 1), rel=1e-9)
    assert thermal["rated_ka"] == 16.0  # Icw for 1 s is not raised for a 0.5 s fault
    for row in rows.values():
        assert row["margin_percent"] == pytest.approx((row["rated_ka"] - row["required_ka"]) / row["rated_ka"] * 100)
        assert row["pass"] is (row["required_ka"] <= row["rated_ka"])
        assert (row["fault"], row["case"]) == ("3ph", "max")


def test_cable_withstand_against_its_worst_end() -> None:
    rows, _ = duty_rows(motor_feeder())
    z_q, z_l, _ = impedances()
    # at A: the grid's E/Z_Q past the cable's end; at B: the grid's E/(Z_Q + Z_L) through it,
    # each with its own branch's κ for m (§8.8) and n = 1 (a grid does not decay)
    at_a = abs(E / z_q) * math.sqrt(m_factor(kappa(rx(z_q)), 0.5) + 1)
    at_b = abs(E / (z_q + z_l)) * math.sqrt(m_factor(kappa(rx(z_q + z_l)), 0.5) + 1)
    cable = rows[("L", "thermal")]
    assert cable["kind"] == "cable"
    assert cable["required_ka"] == pytest.approx(max(at_a, at_b), rel=1e-9)
    assert cable["location"] == ("A" if at_a > at_b else "B")
    # adiabatic withstand k·S/√Tk (IEC 60949): 143.08·50/√0.5 = 10.12 kA
    assert cable["rated_ka"] == pytest.approx(K_CU_XLPE * 50 / math.sqrt(0.5) / 1000, rel=1e-12)
    assert cable["rated_ka"] == pytest.approx(10.117, abs=1e-3)


def test_parallel_cables_share_the_current() -> None:
    single, _ = duty_rows(motor_feeder())
    data = motor_feeder()
    data["lines"][0]["parallel"] = 2
    data["lines"][0]["length_km"] = 4.0  # the same impedance as one circuit of 2 km
    twin, _ = duty_rows(data)
    assert twin[("L", "thermal")]["required_ka"] == pytest.approx(single[("L", "thermal")]["required_ka"] / 2)


def test_busbar_peak_and_short_time_withstand() -> None:
    rows, rs = duty_rows(motor_feeder(tk_s=6.0))
    assert rows[("A", "peak")]["required_ka"] == rs.buses["A"]["ip_ka"]
    assert rows[("A", "peak")]["rated_ka"] == 40.0
    thermal = rows[("A", "thermal")]
    assert thermal["required_ka"] == rs.buses["A"]["ith_ka"]
    # I²t equivalence for a fault longer than the rated time (IEC 60865-1): 16·√(3/6)
    assert thermal["rated_ka"] == pytest.approx(16.0 * math.sqrt(3.0 / 6.0), rel=1e-12)
    assert thermal["time_s"] == 6.0


def weak_grid_feeder(**study: Any) -> dict[str, Any]:
    """The motor feeder on a 5 MVA grid: the motor's current into A is larger than the grid's."""
    data = motor_feeder(**study)
    data["ext_grids"][0]["s_sc_max_mva"] = 5.0
    return data


def test_a_breaker_carrying_a_motor_sees_that_motors_decay() -> None:
    rows, rs = duty_rows(weak_grid_feeder())
    z_q, z_l, z_m = impedances()
    z_q = z_q * 250.0 / 5.0
    motor = abs(E / (z_l + z_m))
    assert motor > abs(E / z_q)
    # fault at A: CB carries the motor's current, and the motor is the only decaying source,
    # so all of the bus's decay I″k − Ib (IEC 60909-0 eq. 75 with μ, q) is in it
    breaking = rows[("CB", "breaking")]
    assert breaking["fault_position"] == "bus"
    decay = rs.buses["A"]["ikss_ka"] - rs.buses["A"]["ib_ka"]
    assert decay > 0
    assert breaking["required_ka"] == pytest.approx(motor - decay, rel=1e-9)


def test_a_breakers_own_minimum_time_delay_moves_ib() -> None:
    data = weak_grid_feeder(tmin_s=0.1)
    data["switches"][0]["ratings"]["tmin_s"] = 0.02
    rows, rs = duty_rows(data)
    faster = solve_study(parse_circuit({**data, "study": {**data["study"], "tmin_s": 0.02, "duty": False}}))
    fast = faster.get("3ph", "max").buses["A"]
    assert fast["ib_ka"] > rs.buses["A"]["ib_ka"]  # the motor has decayed less at 20 ms
    _, z_l, z_m = impedances()
    breaking = rows[("CB", "breaking")]
    assert breaking["required_ka"] == pytest.approx(abs(E / (z_l + z_m)) - (fast["ikss_ka"] - fast["ib_ka"]), rel=1e-9)
    assert breaking["time_s"] == 0.02


def test_asymmetrical_breaking_against_the_capability_at_tmin() -> None:
    rows, rs = duty_rows(motor_feeder(ib_asym=True, tmin_s=0.05))
    z_q, _, _ = impedances()
    share = abs(E / z_q) / rs.buses["A"]["ikss_ka"]
    asym = rows[("CB", "breaking_asym")]
    # the grid's undecaying AC part and the DC component in proportion: √(Ib,d² + (i_DC·share)²)
    dc = rs.buses["A"]["idc_ka"] * share
    assert asym["required_ka"] == pytest.approx(math.hypot(abs(E / z_q), dc), rel=1e-9)
    p = math.exp(-0.05 / 0.045)  # IEC 62271-100: DC share at 50 ms with τ = 45 ms
    assert asym["rated_ka"] == pytest.approx(16.0 * math.sqrt(1 + 2 * p * p), rel=1e-12)
    assert ("CB", "breaking_asym") not in duty_rows(motor_feeder())[0]  # only when the study asks


def transformer_case() -> dict[str, Any]:
    """Grid 20 kV, a 1 MVA 20/0.4 kV transformer limited to 25·I_rLV for 2 s, nothing on the LV side."""
    return {
        "format": "circuit-document",
        "version": 1,
        "id": "through-fault",
        "study": {"frequency_hz": 50, "tk_s": 1.0, "duty": True},
        "buses": [{"id": "HV", "vn_kv": 20.0}, {"id": "LV", "vn_kv": 0.4}],
        "ext_grids": [{"id": "Q", "bus": "HV", "s_sc_max_mva": 500.0, "rx_max": 0.1}],
        "transformers": [
            {
                "id": "T",
                "hv_bus": "HV",
                "lv_bus": "LV",
                "sn_mva": 1.0,
                "vn_hv_kv": 20.0,
                "vn_lv_kv": 0.4,
                "vk_percent": 6.0,
                "vkr_percent": 1.0,
                "ratings": {"through_fault_multiple": 25.0, "through_fault_side": "lv", "through_fault_s": 2.0},
            }
        ],
    }


def test_transformer_through_fault_limit() -> None:
    rows, rs = duty_rows(transformer_case())
    row = rows[("T", "thermal")]
    # the whole LV fault current passes the transformer; a fault at HV passes none
    assert row["location"] == "LV"
    assert row["required_ka"] == pytest.approx(rs.buses["LV"]["ith_ka"], rel=1e-9)
    assert row["rated_ka"] == pytest.approx(25.0 * 1.0 / (math.sqrt(3) * 0.4), rel=1e-12)  # 36.08 kA


def test_no_duty_section_unless_asked() -> None:
    data = motor_feeder()
    data["study"]["duty"] = False
    result = solve_study(parse_circuit(data))
    assert result.get("3ph", "max").duty is None
    assert "duty" not in result.get("3ph", "max").to_dict()
    forced = solve_study(parse_circuit(data), duty=True)
    assert forced.get("3ph", "max").to_dict()["duty"]


def test_open_switches_and_couplers() -> None:
    data = motor_feeder()
    data["switches"][0]["closed"] = False
    rows, _ = duty_rows(data)
    # the cable is open at A: neither the breaker nor the cable carries fault current
    assert not any(device in ("CB", "L") for device, _ in rows)

    data = motor_feeder()
    data["buses"].append({"id": "A2", "vn_kv": UN})
    data["switches"].append(
        {"id": "BC", "bus": "A", "to_bus": "A2", "ratings": {"breaking_ka": 25.0, "making_ka": 63.0}}
    )
    rows, rs = duty_rows(data)
    # a closed coupler: at most the whole fault current of its bus (a documented choice)
    assert rows[("BC", "making")]["required_ka"] == rs.buses["A"]["ip_ka"]
    data["switches"][-1]["closed"] = False
    data["ext_grids"].append({"id": "Q2", "bus": "A2", "s_sc_max_mva": 100.0, "rx_max": 0.1})
    rows, _ = duty_rows(data)
    assert not any(device == "BC" for device, _ in rows)


def industrial() -> dict[str, Any]:
    return json.loads((DATA / "industrial_duty.json").read_text(encoding="utf-8"))


def test_industrial_network_shows_failing_breaker_and_cable() -> None:
    data = industrial()
    result = solve_study(parse_circuit(data))
    sets = {(rs.fault, rs.case): rs for rs in result.result_sets}
    assert set(sets) == {("3ph", "max"), ("3ph", "min"), ("2ph", "max"), ("2ph", "min")}
    rows = sets[("3ph", "max")].duty
    assert rows is not None
    failing = {(row["kind"], row["id"]) for row in rows if not row["pass"]}
    assert failing == {("breaker", "CB-M1"), ("cable", "C-M1")}
    assert all(tuple(row) == DUTY_COLUMNS for row in rows)  # the CSV's columns, in order
    kinds = {row["kind"] for row in rows}
    assert kinds == {"busbar", "breaker", "cable", "transformer"}
    # every rated device is checked: 4 busbars, 10 breakers, 3 cables, 3 transformers
    assert len({row["id"] for row in rows}) == 20
    # the feeder breaker's duty is the fault on its cable just past it: total minus the motor's share
    feeder = next(row for row in rows if row["id"] == "CB-M1" and row["check"] == "breaking")
    assert feeder["fault_position"] == "element"
    assert feeder["required_ka"] < sets[("3ph", "max")].buses["MAIN-6A"]["ib_ka"]


def test_duty_follows_a_scenario() -> None:
    data = copy.deepcopy(industrial())
    data["scenarios"] = [{"id": "split", "switches": {"CB-BC": "open"}}]
    result = solve_study(parse_circuit(data), scenario="split")
    rows = result.get("3ph", "max").duty
    assert rows is not None
    assert not any(row["id"] == "CB-BC" for row in rows)
    # one transformer per section: the feeder breaker now passes, its undersized cable still fails
    failing = {row["id"] for row in rows if not row["pass"]}
    assert "C-M1" in failing


def test_line_to_line_fault_shares_the_current_as_the_three_phase_one() -> None:
    # Z2 = Z1 everywhere: each branch carries the same fraction of the faulted phases' current
    # as of a 3ph fault (I1 = −I2 = E/(2·Z1), IEC 60909-0 2ph formula), so the partials follow
    # E/Z_Q over E/Z_Q + E/(Z_L + Z_M) again
    data = motor_feeder(faults=["3ph", "2ph"])
    result = solve_study(parse_circuit(data))
    rs = result.get("2ph", "max")
    assert rs.duty is not None
    rows = {(row["id"], row["check"]): row for row in rs.duty}
    z_q, z_l, z_m = impedances()
    share = abs(E / z_q) / abs(E / z_q + E / (z_l + z_m))
    making = rows[("CB", "making")]
    assert making["fault"] == "2ph"
    # κ of the grid's own branch, as for the 3ph fault (the positive-sequence R/X)
    assert making["required_ka"] == pytest.approx(
        kappa(0.1) * math.sqrt(2) * rs.buses["A"]["ikss_ka"] * share, rel=1e-9
    )


def test_through_fault_of_a_dyn_transformer_for_an_earth_fault_on_its_lv_side() -> None:
    # Dyn: the LV winding carries all three sequence currents of an LV earth fault (its star
    # point is the only earth path there), so its LV-side current is the whole I″k1
    data = transformer_case()
    data["study"]["faults"] = ["1ph"]
    data["ext_grids"][0].update({"x0x_max": 1.0, "r0x0_max": 0.1})
    data["transformers"][0].update({"vector_group": "Dyn", "vk0_percent": 6.0, "vkr0_percent": 1.0})
    result = solve_study(parse_circuit(data))
    rs = result.get("1ph", "max")
    assert rs.duty is not None
    (row,) = rs.duty
    assert (row["id"], row["location"]) == ("T", "LV")
    assert row["required_ka"] == pytest.approx(rs.buses["LV"]["ith_ka"], rel=1e-9)


def test_devices_of_buses_cut_off_from_every_source_are_not_checked() -> None:
    data = transformer_case()
    data["buses"][1]["ratings"] = {"peak_withstand_ka": 50.0}
    data["switches"] = [{"id": "Q-T", "bus": "HV", "element": "T", "closed": False, "ratings": {"making_ka": 50.0}}]
    result = solve_study(parse_circuit(data))
    rs = result.get("3ph", "max")
    assert "LV" in rs.unsupplied
    assert rs.duty == []
    assert rs.duty_not_checked == []  # cut off, not left out: `unsupplied` says why


def grid_and_transformer_feeder() -> dict[str, Any]:
    """Bus A (20 kV) fed by a weak grid Q (100 MVA, R/X 0.3: low X/R) and, through a breaker
    CB-T, by a 40 MVA 110/20 kV transformer T (u_k 12 %, u_kR 0.3 %) from a 3 GVA 110 kV grid
    Q2 (R/X 0.05): a high-X/R feeder. Both are non-meshed branches of A."""
    return {
        "format": "circuit-document",
        "version": 1,
        "id": "two-branches",
        "study": {"frequency_hz": 50, "faults": ["3ph"], "cases": ["max"], "tk_s": 0.5, "duty": True},
        "buses": [{"id": "HV", "vn_kv": 110.0}, {"id": "A", "vn_kv": UN}],
        "ext_grids": [
            {"id": "Q", "bus": "A", "s_sc_max_mva": 100.0, "rx_max": 0.3},
            {"id": "Q2", "bus": "HV", "s_sc_max_mva": 3000.0, "rx_max": 0.05},
        ],
        "transformers": [
            {
                "id": "T",
                "hv_bus": "HV",
                "lv_bus": "A",
                "sn_mva": 40.0,
                "vn_hv_kv": 110.0,
                "vn_lv_kv": UN,
                "vk_percent": 12.0,
                "vkr_percent": 0.3,
            }
        ],
        "switches": [
            {"id": "CB-T", "bus": "A", "element": "T", "ratings": {"making_ka": 63.0, "short_time_ka": 25.0}},
        ],
    }


def transformer_impedance(vkr_percent: float = 0.3) -> complex:
    """K_T·Z_T of a 40 MVA, u_k 12 % transformer on its 20 kV side (IEC 60909-0 eq. 12a:
    K_T = 0.95·c_max/(1 + 0.6·x_T))."""
    z_t = 0.12 * UN**2 / 40.0
    r_t = vkr_percent / 100 * UN**2 / 40.0
    x_t = math.sqrt(z_t**2 - r_t**2)
    k_t = 0.95 * C_MAX / (1 + 0.6 * x_t / (UN**2 / 40.0))
    return k_t * complex(r_t, x_t)


def grid_q2() -> complex:
    """Z_Q2 referred to the 20 kV side: c·Un²/S″kQ with the rated ratio 110/20 (eq. 7)."""
    z_q2 = C_MAX * UN**2 / 3000.0
    x_q2 = z_q2 / math.sqrt(1 + 0.05**2)
    return complex(0.05 * x_q2, x_q2)


def transformer_branch() -> complex:
    """Z_E = Z_Q2,t + K_T·Z_T: T's non-meshed branch seen from A."""
    return grid_q2() + transformer_impedance()


def test_a_high_x_over_r_feeder_breaker_takes_its_own_kappa() -> None:
    rows, rs = duty_rows(grid_and_transformer_feeder())
    z_e = transformer_branch()
    z_q = C_MAX * UN**2 / 100.0
    x_q = z_q / math.sqrt(1 + 0.3**2)
    i_t, i_q = E / z_e, E / complex(0.3 * x_q, x_q)
    assert rs.buses["A"]["ikss_ka"] == pytest.approx(abs(i_t + i_q), rel=1e-9)
    # a fault at A: CB-T carries T's partial current with κ of T's own branch (§8.1.2, eq. 55)
    k_t = kappa(rx(z_e))
    assert k_t > rs.trail["A"]["kappa"] > kappa(0.3)  # the bus's κ (method C) lies between the branches'
    making = rows[("CB-T", "making")]
    assert (making["fault_position"], making["kappa_method"]) == ("bus", "branch")
    assert making["kappa"] == pytest.approx(k_t, rel=1e-9)
    assert making["required_ka"] == pytest.approx(k_t * math.sqrt(2) * abs(i_t), rel=1e-9)
    # more than the bus's factor gives it: ip·I″k,T/I″k
    assert making["required_ka"] > rs.buses["A"]["ip_ka"] * abs(i_t) / rs.buses["A"]["ikss_ka"]
    # Ith,d: m from that κ (§8.8 eq. 101), n = 1 (grids do not decay)
    thermal = rows[("CB-T", "thermal")]
    assert thermal["kappa_method"] == "branch"
    assert thermal["required_ka"] == pytest.approx(abs(i_t) * math.sqrt(m_factor(k_t, 0.5) + 1.0), rel=1e-9)


def test_a_meshed_feeder_keeps_the_buses_kappa() -> None:
    # a second, different transformer between the same buses: T's part of the network meets A
    # over two paths (a mesh), for which the standard has no per-branch κ: the bus's κ (method C)
    data = grid_and_transformer_feeder()
    twin = {**data["transformers"][0], "id": "T2", "vkr_percent": 0.6}
    data["transformers"].append(twin)
    rows, rs = duty_rows(data)
    # the current through T: the two transformers share E/(Z_Q2 + Z_T ∥ Z_T2) (a current divider)
    z_t, z_t2 = transformer_impedance(0.3), transformer_impedance(0.6)
    both = E / (grid_q2() + z_t * z_t2 / (z_t + z_t2))
    i_t = both * z_t2 / (z_t + z_t2)
    z_q = C_MAX * UN**2 / 100.0
    x_q = z_q / math.sqrt(1 + 0.3**2)
    ikss = rs.buses["A"]["ikss_ka"]
    assert ikss == pytest.approx(abs(both + E / complex(0.3 * x_q, x_q)), rel=1e-9)
    making = rows[("CB-T", "making")]
    assert making["kappa_method"] == "C"
    assert making["kappa"] == rs.trail["A"]["kappa"]
    # the worse position (fault at A: T's current; just past CB-T: the rest) with the bus's ip in proportion
    carried = max(abs(i_t), abs(both - i_t + E / complex(0.3 * x_q, x_q)))
    assert making["required_ka"] == pytest.approx(rs.buses["A"]["ip_ka"] * carried / ikss, rel=1e-9)


def generator_feeder(with_grid: bool, **study: Any) -> dict[str, Any]:
    """Bus A (20 kV) fed by a weak grid Q (30 MVA) and, through a breaker CB-G and a 2 km cable, by a 20 kV
    10 MVA generator G at bus B (x″d 0.14, cos φ 0.8)."""
    data: dict[str, Any] = {
        "format": "circuit-document",
        "version": 1,
        "id": "generator-feeder",
        "study": {"frequency_hz": 50, "faults": ["3ph"], "cases": ["max"], "tk_s": 0.5, "duty": True, **study},
        "buses": [{"id": "A", "vn_kv": UN}, {"id": "B", "vn_kv": UN}],
        "ext_grids": [{"id": "Q", "bus": "A", "s_sc_max_mva": 30.0, "rx_max": 0.1}] if with_grid else [],
        "lines": [
            {"id": "L", "from_bus": "A", "to_bus": "B", "length_km": 2.0, "r_ohm_per_km": 0.2, "x_ohm_per_km": 0.12}
        ],
        "generators": [
            {"id": "G", "bus": "B", "sn_mva": 10.0, "vn_kv": UN, "xdss_pu": 0.14, "rdss_pu": 0.005, "cos_phi": 0.8}
        ],
        "switches": [{"id": "CB-G", "bus": "A", "element": "L", "ratings": {"making_ka": 40.0, "short_time_ka": 16.0}}],
    }
    return data


def test_a_generator_feeder_breaker_takes_the_generators_kappa_and_decay() -> None:
    # with A faulted, G's branch is independent of the grid: its partial current, κ and Ik are
    # those of a fault at A fed by G alone (§8.1.2), where the standard's single-fed rules
    # apply: κ of the branch's R/X with R_Gf (eq. 55, topology radial), Ik = λ·I_rG and n of
    # I″kG/Ik (§8.8), so the breaker's duty with the grid equals G's own fault at A
    rows, rs = duty_rows(generator_feeder(True))
    alone = solve_study(parse_circuit(generator_feeder(False, topology="radial", duty=False))).get("3ph", "max")
    i_g, trail = alone.buses["A"]["ikss_ka"], alone.trail["A"]
    assert trail["n"] < 1.0  # G decays: I″kG/Ik > 1, so n < 1 (Fig. 22)
    making = rows[("CB-G", "making")]
    assert (making["fault_position"], making["kappa_method"]) == ("bus", "branch")
    assert making["kappa"] == pytest.approx(trail["kappa"], rel=1e-9)
    assert making["required_ka"] == pytest.approx(alone.buses["A"]["ip_ka"], rel=1e-9)
    thermal = rows[("CB-G", "thermal")]
    assert thermal["fault_position"] == "bus"
    expected = i_g * math.sqrt(m_factor(trail["kappa"], 0.5) + trail["n"])  # Ith = I″k·√(m + n)
    assert thermal["required_ka"] == pytest.approx(expected, rel=1e-9)
    # not the bus's factors (there the grid's undecaying current sets Ik = I″k,M, n = 1)
    assert rs.trail["A"]["n"] == 1.0
    assert thermal["required_ka"] != pytest.approx(rs.buses["A"]["ith_ka"] * i_g / rs.buses["A"]["ikss_ka"], rel=1e-3)


def test_devices_of_a_line_split_by_a_line_fault_are_checked() -> None:
    # a fault along L at 25 % splits it into segments A–P and P–B; its breaker and cable are
    # still L's: for faults at A and B the segments in series carry what L carried
    plain, _ = duty_rows(motor_feeder())
    data = motor_feeder()
    data["study"]["line_faults"] = [{"line": "L", "fraction": 0.25}]
    split, rs = duty_rows(data)
    assert "L@0.25" in rs.buses
    for device in (("CB", "making"), ("CB", "breaking"), ("CB", "thermal"), ("L", "thermal")):
        assert split[device]["required_ka"] == pytest.approx(plain[device]["required_ka"], rel=1e-9), device
        assert split[device]["location"] == plain[device]["location"]


def test_a_cable_carries_its_worse_segment_end_for_a_fault_along_it() -> None:
    # only the point P (25 % from A) is solved: the cable's segment A–P carries the grid's
    # E/(Z_Q + 0.25·Z_L) into P, a non-meshed branch (its own κ, m; n = 1), more than the
    # motor's E/(0.75·Z_L + Z_M) from the other side
    data = motor_feeder()
    result = solve_study(parse_circuit(data), buses=[], line_faults=[parse_line_fault("L", 0.25)])
    rs = result.get("3ph", "max")
    assert set(rs.buses) == {"L@0.25"}
    rows = {(row["id"], row["check"]): row for row in rs.duty or []}
    z_q, z_l, z_m = impedances()
    grid, motor = E / (z_q + 0.25 * z_l), E / (0.75 * z_l + z_m)
    assert rs.buses["L@0.25"]["ikss_ka"] == pytest.approx(abs(grid + motor), rel=1e-9)
    cable = rows[("L", "thermal")]
    assert (cable["location"], cable["fault_position"], cable["kappa_method"]) == ("L@0.25", "bus", "branch")
    k = kappa(rx(z_q + 0.25 * z_l))
    assert cable["required_ka"] == pytest.approx(abs(grid) * math.sqrt(m_factor(k, 0.5) + 1.0), rel=1e-9)
    assert ("CB", "making") not in rows  # its bus A is not solved


def test_a_breaker_on_parallel_circuits_carries_the_faulted_segment_and_the_healthy_circuit() -> None:
    # of two parallel circuits one is faulted along its length: at A the breaker carries both
    # (its segment and the healthy circuit, added as phasors): the motor's E/(Z_L + Z_M) for a
    # fault at A, the grid's E/Z_Q just past it, as without the line fault
    data = motor_feeder()
    data["lines"][0].update(parallel=2, length_km=4.0)
    plain, _ = duty_rows(copy.deepcopy(data))
    data["study"]["line_faults"] = [{"line": "L", "fraction": 0.5}]
    split, _ = duty_rows(data)
    z_q, _, _ = impedances()
    breaking = split[("CB", "breaking")]
    assert breaking["fault_position"] == "element"
    assert breaking["required_ka"] == pytest.approx(abs(E / z_q), rel=1e-9)
    assert split[("CB", "making")]["required_ka"] == pytest.approx(plain[("CB", "making")]["required_ka"], rel=1e-9)


def three_winding(**ratings: Any) -> dict[str, Any]:
    """T3 (110/20/10 kV, 40/40/20 MVA) fed from a 3 GVA 110 kV grid, nothing on its MV and LV
    sides; through-fault limits per winding."""
    return three_winding_document(ratings, study={"faults": ["3ph"], "cases": ["max"], "tk_s": 1.0, "duty": True})


def test_three_winding_transformer_windings_against_their_through_fault_limits() -> None:
    data = three_winding(
        hv={"through_fault_multiple": 10.0}, mv={"through_fault_ka": 20.0}, lv={"through_fault_multiple": 25.0}
    )
    rows, rs = duty_rows(data)

    def heat(bus: str) -> float:
        # fed from the grid alone, radially: the winding at the fault carries all of I″k, with
        # κ of the branch's R/X = R_k/X_k (eq. 55), m from it (§8.8), n = 1 (a grid does not decay)
        values = rs.buses[bus]
        return values["ikss_ka"] * math.sqrt(m_factor(kappa(values["rk_ohm"] / values["xk_ohm"]), 1.0) + 1.0)

    lv, mv, hv = rows[("T3:lv", "thermal")], rows[("T3:mv", "thermal")], rows[("T3:hv", "thermal")]
    assert all(row["kind"] == "transformer" and row["kappa_method"] == "branch" for row in (lv, mv, hv))
    # each winding carries the current of a fault at its own bus (nothing feeds from MV or LV)
    assert (lv["location"], mv["location"]) == ("LV", "MV")
    assert lv["required_ka"] == pytest.approx(heat("LV"), rel=1e-9)
    assert mv["required_ka"] == pytest.approx(heat("MV"), rel=1e-9)
    # the HV winding: the MV or LV fault's current referred by the rated ratios 20/110 and 10/110
    referred = {"MV": heat("MV") * 20.0 / 110.0, "LV": heat("LV") * 10.0 / 110.0}
    assert hv["location"] == max(referred, key=referred.__getitem__)
    assert hv["required_ka"] == pytest.approx(max(referred.values()), rel=1e-9)
    # limits on each winding's own side: 10·40 MVA/(√3·110 kV), 20 kA, 25·20 MVA/(√3·10 kV); 2 s ≥ Tk 1 s
    assert hv["rated_ka"] == pytest.approx(10.0 * 40.0 / (math.sqrt(3) * 110.0), rel=1e-12)
    assert mv["rated_ka"] == 20.0
    assert lv["rated_ka"] == pytest.approx(25.0 * 20.0 / (math.sqrt(3) * 10.0), rel=1e-12)
    for row in (lv, mv, hv):
        assert row["pass"] is (row["required_ka"] <= row["rated_ka"])


def test_a_three_winding_transformer_with_a_winding_open_checks_the_other_two() -> None:
    data = three_winding(mv={"through_fault_ka": 20.0}, lv={"through_fault_ka": 20.0})
    whole, _ = duty_rows(copy.deepcopy(data))
    data["switches"] = [{"id": "S-LV", "bus": "LV", "element": "T3", "closed": False}]
    rows, rs = duty_rows(data)
    assert "LV" in rs.unsupplied
    assert ("T3:lv", "thermal") not in rows  # an open winding carries nothing
    # the MV winding, now of the two-winding remainder HV–MV, carries the MV fault as before
    assert rows[("T3:mv", "thermal")]["required_ka"] == pytest.approx(
        whole[("T3:mv", "thermal")]["required_ka"], rel=1e-9
    )


def test_devices_at_buses_left_out_of_a_restricted_study_are_reported_not_checked() -> None:
    result = solve_study(parse_circuit(motor_feeder()), buses=["B"])
    rs = result.get("3ph", "max")
    assert {row["id"] for row in rs.duty or []} == {"L"}  # the cable has its end B solved
    reason = "not solved: the study is restricted to other buses (A left out)"
    assert rs.duty_not_checked == [
        {"id": "A", "kind": "busbar", "reason": reason},
        {"id": "CB", "kind": "breaker", "reason": reason},
    ]
    assert rs.to_dict()["duty_not_checked"] == rs.duty_not_checked
    # an unrestricted study checks everything and reports nothing left out
    whole = solve_study(parse_circuit(motor_feeder())).get("3ph", "max")
    assert whole.duty_not_checked == [] and "duty_not_checked" not in whole.to_dict()


def test_branch_classification_matches_its_definition_on_random_networks() -> None:
    # BridgeTopology (one DFS per network) against the definition, taken literally per bus: the
    # part a row at B leads into once B is removed — no source: passive; one entry from B, its
    # sources at one bus and a tree with the earth node (edges + 1 = buses): a non-meshed branch
    import random
    import types

    import numpy as np

    from ampflux_simulation.solver import network as nw
    from ampflux_simulation.solver.duty_factors import BridgeTopology
    from ampflux_simulation.solver.topology import path_keys

    rng = random.Random(13)
    for _ in range(300):
        n = rng.randint(2, 8)
        edges = [(rng.randrange(v), v) for v in range(1, n) if rng.random() < 0.9]
        edges += [tuple(rng.sample(range(n), 2)) for _ in range(rng.randint(0, 3))]
        if not edges:
            continue
        f, t = np.array([a for a, _ in edges]), np.array([b for _, b in edges])
        sources = np.array(sorted(rng.sample(range(n), rng.randint(1, min(3, n)))))
        net: Any = types.SimpleNamespace(
            n_bus=n,
            f=f,
            t=t,
            r1=np.array([rng.choice([0.1, 0.2]) for _ in edges]),
            x1=np.ones(len(edges)),
            sh_bus=sources,
        )
        topology = BridgeTopology(net)
        # separate paths: of identical parallel circuits (same buses, same R/X) only the first
        distinct = np.zeros(len(edges), dtype=bool)
        distinct[np.unique(path_keys(net), axis=0, return_index=True)[1]] = True
        for bus in range(n):
            touches = (f == bus) | (t == bus)
            rows = np.flatnonzero(touches)
            label = nw.islands(n, f, t, ~touches)
            size = np.bincount(label)
            inner = np.bincount(label[f[~touches & distinct]], minlength=size.size)
            fed = np.bincount(label[sources], minlength=size.size)
            far_ends = np.where(f[rows] == bus, t[rows], f[rows])
            entries = np.bincount(label[far_ends[distinct[rows]]], minlength=size.size)
            for r, far in zip(rows.tolist(), far_ends.tolist(), strict=True):
                part = label[far]
                expected: tuple[str, int] = ("mesh", -1)
                if fed[part] == 0:
                    expected = ("passive", -1)
                elif entries[part] == 1 and fed[part] == 1 and inner[part] + 1 == size[part]:
                    expected = ("tree", int(sources[label[sources] == part][0]))
                assert topology.behind(r, bus) == expected, (edges, list(sources), bus, r)
