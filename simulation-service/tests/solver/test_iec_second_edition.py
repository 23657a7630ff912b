"""Hand calculations for the second edition of the solver (issue 13, "fix or decide").

Each test works the figure out from IEC 60909-0:2016's formulas (named in the docstring)
on a network small enough to follow by hand, and compares the solver with it.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from ampflux_shared.circuit import CircuitDocument, parse_circuit, validate_circuit
from ampflux_simulation.solver import SolverError, solve_study
from ampflux_testing.hand_documents import check_unit, hand_document

SQRT3 = math.sqrt(3.0)
REL = 1e-9


# --- item 1: faults at the generator terminals of a power station unit (§6.7) -----------


def _terminal_fault_by_hand(pg: float, oltc: bool) -> tuple[float, float]:
    """(I″kG, I″kT) at the terminals, IEC 60909-0:2016 §6.7.1 / §6.7.2:

    I″kG = c·U_rG/(√3·K_G,S·Z_G),  I″kT = c·U_rG/(√3·|K_T,S·Z_TLV + Z_Q,min/t_r²|)
    K_G,S = c_max/(1 + x″d·sin φ_rG),  K_T,S = c_max/(1 − x_T·sin φ_rG)
    without OLTC: K_G,SO = K_G,S/(1 + p_G),  K_T,SO = K_T,S/(1 + p_G)."""
    c, u_rg, sin = 1.1, 10.5, math.sqrt(1 - 0.85**2)
    z_g = complex(0.0, 0.18 * u_rg**2 / 100.0)
    z_tlv = complex(0.0, 0.12 * 10.5**2 / 100.0)
    # Z_Q = c·UnQ²/S″kQ with R/X 0.1, referred to the LV side by t_r = 115/10.5
    zq = c * 110.0**2 / 5000.0
    xq = zq / math.sqrt(1.01)
    z_q_lv = complex(0.1 * xq, xq) / (115.0 / 10.5) ** 2
    p = 1.0 if oltc else 1.0 + pg
    k_gs = c / (p * (1 + 0.18 * sin))
    k_ts = c / (p * (1 - 0.12 * sin))
    return c * u_rg / (SQRT3 * abs(k_gs * z_g)), c * u_rg / (SQRT3 * abs(k_ts * z_tlv + z_q_lv))


@pytest.mark.parametrize("bus_kv", [10.5, 10.0])
def test_terminal_fault_of_a_unit_with_oltc_uses_urg_kgs_and_kts(bus_kv: float) -> None:
    """IEC 60909-0:2016 §6.7.1 (eqs. for I″kG, I″kT, K_G,S, K_T,S): the partial currents are
    defined with c·U_rG/√3, so a bus labelled 10 kV or 10.5 kV gives the same 71.0 kA.
    (pandapower 3.5.6 gives 76.63 kA here: it leaves the unit transformer uncorrected at
    terminal faults, K_T,S = 1; see the solver README.)"""
    ig, it = _terminal_fault_by_hand(0.0, oltc=True)
    assert ig + it == pytest.approx(71.0, abs=0.05)  # the check figure, by hand
    # the two partial currents are in phase only approximately (grid R/X 0.1): add as phasors
    res = solve_study(check_unit(bus_kv, oltc=True)).get("3ph", "max").buses["G"]["ikss_ka"]
    c, u_rg, sin = 1.1, 10.5, math.sqrt(1 - 0.85**2)
    zq = c * 110.0**2 / 5000.0
    xq = zq / math.sqrt(1.01)
    z_t_side = c / (1 - 0.12 * sin) * complex(0, 0.12 * 10.5**2 / 100) + complex(0.1 * xq, xq) / (115 / 10.5) ** 2
    z_g_side = c / (1 + 0.18 * sin) * complex(0, 0.18 * 10.5**2 / 100)
    ik = c * u_rg / SQRT3 * abs(1 / z_t_side + 1 / z_g_side)
    assert res == pytest.approx(ik, rel=REL)
    trail = solve_study(check_unit(bus_kv, oltc=True)).get("3ph", "max").trail["G"]
    assert trail["c"] == 1.1 and trail["source_kv"] == pytest.approx(10.5, rel=REL)


def test_terminal_fault_of_a_unit_without_oltc_uses_kgso_and_ktso() -> None:
    """IEC 60909-0:2016 §6.7.2: K_G,SO = 1/(1 + p_G)·c_max/(1 + x″d sin φ_rG) and
    K_T,SO = 1/(1 + p_G)·c_max/(1 − x_T sin φ_rG), with p_G = 5 %."""
    c, u_rg, sin, pg = 1.1, 10.5, math.sqrt(1 - 0.85**2), 0.05
    zq = c * 110.0**2 / 5000.0
    xq = zq / math.sqrt(1.01)
    z_t_side = c / ((1 + pg) * (1 - 0.12 * sin)) * complex(0, 0.1323) + complex(0.1 * xq, xq) / (115 / 10.5) ** 2
    z_g_side = c / ((1 + pg) * (1 + 0.18 * sin)) * complex(0, 0.18 * 10.5**2 / 100)
    ik = c * u_rg / SQRT3 * abs(1 / z_t_side + 1 / z_g_side)
    res = solve_study(check_unit(10.0, oltc=False, pg_percent=5.0)).get("3ph", "max").buses["G"]["ikss_ka"]
    assert res == pytest.approx(ik, rel=REL)


# --- item 2: main tap position by default ------------------------------------------------


def _tapped_transformer(tap_positions: str | None) -> Any:
    study: dict[str, Any] = {"frequency_hz": 50, "faults": ["3ph"], "cases": ["max"], "ip": False, "ith": False}
    if tap_positions is not None:
        study["tap_positions"] = tap_positions
    return hand_document(
        study,
        [{"id": "MV", "vn_kv": 20.0}, {"id": "LV", "vn_kv": 0.4}],
        ext_grids=[{"id": "Q", "bus": "MV", "s_sc_max_mva": 400.0, "rx_max": 0.1}],
        transformers=[
            {
                "id": "T",
                "hv_bus": "MV",
                "lv_bus": "LV",
                "sn_mva": 0.63,
                "vn_hv_kv": 20.0,
                "vn_lv_kv": 0.4,
                "vk_percent": 6.0,
                "vkr_percent": 1.2,
                "tap_side": "lv",
                "tap_neutral": 0,
                "tap_pos": 4,
                "tap_step_percent": 2.5,
            }
        ],
    )


def _lv_fault_by_hand(u_rtlv: float) -> float:
    """I″k = c·Un/(√3·|Z_Q,LV + K_T·Z_T|), K_T = 0.95·c_max/(1 + 0.6·x_T) (IEC 60909-0:2016
    eqs. 2, 7, 12a), the transformer seen through U_rTHV/U_rTLV = 20/u_rtlv."""
    x_q = 1.1 * 20.0**2 / 400.0 / math.sqrt(1.01)
    z_q_lv = complex(0.1 * x_q, x_q) * (u_rtlv / 20.0) ** 2
    k_t = 0.95 * 1.1 / (1 + 0.6 * math.sqrt(6.0**2 - 1.2**2) / 100)
    z_t = complex(1.2, math.sqrt(6.0**2 - 1.2**2)) / 100 * u_rtlv**2 / 0.63 * k_t
    return 1.1 * 0.4 / (SQRT3 * abs(z_q_lv + z_t))


def test_tap_position_is_the_main_one_by_default() -> None:
    """IEC 60909-0:2016 §6.3.3: calculate with the main tap position and K_T; tap_pos = −4 on
    the LV winding (+10 %) would otherwise raise U_rTLV and lower I″k,max by about 17 %."""
    got = solve_study(_tapped_transformer(None)).get("3ph", "max").buses["LV"]["ikss_ka"]
    assert got == pytest.approx(_lv_fault_by_hand(0.4), rel=REL)
    main = solve_study(_tapped_transformer("main")).get("3ph", "max").buses["LV"]["ikss_ka"]
    assert main == got


def test_actual_tap_position_only_on_the_explicit_option() -> None:
    """Non-IEC option tap_positions = "actual": U_rTLV = 0.4·(1 + 4·2.5 %) = 0.44 kV."""
    got = solve_study(_tapped_transformer("actual")).get("3ph", "max").buses["LV"]["ikss_ka"]
    assert got == pytest.approx(_lv_fault_by_hand(0.44), rel=REL)
    assert got < _lv_fault_by_hand(0.4) * 0.9  # the non-conservative direction the default avoids


# --- item 3: κ method B ------------------------------------------------------------------


def _twin_transformers(vkr_b: float, grid_rx: float) -> Any:
    """20 kV grid (400 MVA) feeding a 0.4 kV bus over two 0.63 MVA, 6 % transformers."""

    def tr(name: str, vkr: float) -> dict[str, Any]:
        return {
            "id": name,
            "hv_bus": "MV",
            "lv_bus": "LV",
            "sn_mva": 0.63,
            "vn_hv_kv": 20.0,
            "vn_lv_kv": 0.4,
            "vk_percent": 6.0,
            "vkr_percent": vkr,
        }

    return hand_document(
        {"frequency_hz": 50, "faults": ["3ph"], "cases": ["max"], "kappa_method": "B", "tk_s": 0.5},
        [{"id": "MV", "vn_kv": 20.0}, {"id": "LV", "vn_kv": 0.4}],
        ext_grids=[{"id": "Q", "bus": "MV", "s_sc_max_mva": 400.0, "rx_max": grid_rx}],
        transformers=[tr("TA", 1.2), tr("TB", vkr_b)],
    )


def _lv_impedance(vkr_b: float, grid_rx: float) -> complex:
    """Z_k at LV: Z_Q,LV + (K_T,A·Z_T,A ∥ K_T,B·Z_T,B), K_T = 0.95·c_max/(1 + 0.6·x_T) (eq. 12a)."""
    x_q = 1.1 * 20.0**2 / 400.0 / math.sqrt(1 + grid_rx**2)
    z_q = complex(grid_rx * x_q, x_q) * (0.4 / 20.0) ** 2

    def z_t(vkr: float) -> complex:
        x_t = math.sqrt(6.0**2 - vkr**2)
        return complex(vkr, x_t) / 100 * 0.4**2 / 0.63 * 0.95 * 1.1 / (1 + 0.6 * x_t / 100)

    za, zb = z_t(1.2), z_t(vkr_b)
    return z_q + za * zb / (za + zb)


def _kappa(rx: float) -> float:
    """κ = 1.02 + 0.98·e^(−3R/X) (IEC 60909-0:2016 eq. 55)."""
    return 1.02 + 0.98 * math.exp(-3 * rx)


def test_identical_parallel_transformers_are_not_a_mesh() -> None:
    """IEC 60909-0:2016 κ method B applies to meshed networks; two identical circuits
    between the same buses share the current in one ratio (the same κ as one circuit), so
    ip = κ(R/X)·√2·I″k without the factor 1.15, even with R/X ≥ 0.3 in a branch."""
    z = _lv_impedance(1.2, 0.5)
    ik = 1.1 * 0.4 / (SQRT3 * abs(z))
    b = solve_study(_twin_transformers(1.2, 0.5)).get("3ph", "max")
    assert b.buses["LV"]["ip_ka"] == pytest.approx(_kappa(z.real / z.imag) * math.sqrt(2) * ik, rel=REL)


def test_method_b_low_rx_test_includes_the_sources() -> None:
    """IEC 60909-0:2016 κ method B: the 1.15 may be dropped only when R/X < 0.3 in all
    branches, sources included. Transformers R/X 0.20 and 0.10 (a mesh: different R/X),
    grid R/X 0.4 → κ_b = 1.15·κ; grid R/X 0.2 → κ_b = κ."""
    for grid_rx, factor in ((0.4, 1.15), (0.2, 1.0)):
        z = _lv_impedance(0.6, grid_rx)
        ik = 1.1 * 0.4 / (SQRT3 * abs(z))
        kb = min(factor * _kappa(z.real / z.imag), 1.8)
        got = solve_study(_twin_transformers(0.6, grid_rx)).get("3ph", "max").buses["LV"]["ip_ka"]
        assert got == pytest.approx(kb * math.sqrt(2) * ik, rel=REL), grid_rx


def test_m_factor_takes_kappa_without_the_method_b_factor() -> None:
    """Ith = I″k·√(m + n) (IEC 60909-0:2016, thermal equivalent current) with
    m = (e^(4·f·Tk·ln(κ−1)) − 1)/(2·f·Tk·ln(κ−1)) and κ of R/X at the fault,
    not 1.15·κ: here far from generators (n = 1), f = 50 Hz, Tk = 0.5 s."""
    z = _lv_impedance(0.6, 0.4)
    ik = 1.1 * 0.4 / (SQRT3 * abs(z))
    k = _kappa(z.real / z.imag)
    a = 2 * 50 * 0.5 * math.log(k - 1)
    m = (math.exp(2 * a) - 1) / a
    b = solve_study(_twin_transformers(0.6, 0.4)).get("3ph", "max")
    assert b.trail["LV"]["kappa"] == pytest.approx(min(1.15 * k, 1.8), rel=REL)  # the peak keeps 1.15 (capped)
    assert b.buses["LV"]["ith_ka"] == pytest.approx(ik * math.sqrt(m + 1.0), rel=REL)


# --- item 5: edges ------------------------------------------------------------------------


def test_1000_v_is_low_voltage() -> None:
    """IEC 60909-0:2016 Table 1: low voltage is 100 V to 1000 V, so a 1 kV bus takes the LV
    c_max (1.05 with a 6 % tolerance band), also in K_T = 0.95·c_max/(1 + 0.6·x_T) (eq. 12a):
    I″k = c·Un/(√3·|Z_Q,LV + K_T·Z_T|) with Z_Q = 1.1·(20 kV)²/S″kQ (the grid bus is HV)."""
    doc = hand_document(
        {"frequency_hz": 50, "faults": ["3ph"], "cases": ["max"], "lv_tol_percent": 6, "ip": False, "ith": False},
        [{"id": "MV", "vn_kv": 20.0}, {"id": "LV", "vn_kv": 1.0}],
        ext_grids=[{"id": "Q", "bus": "MV", "s_sc_max_mva": 400.0, "rx_max": 0.1}],
        transformers=[
            {
                "id": "T",
                "hv_bus": "MV",
                "lv_bus": "LV",
                "sn_mva": 1.0,
                "vn_hv_kv": 20.0,
                "vn_lv_kv": 1.0,
                "vk_percent": 6.0,
                "vkr_percent": 1.0,
            }
        ],
    )
    x_q = 1.1 * 20.0**2 / 400.0 / math.sqrt(1.01)
    z_q = complex(0.1 * x_q, x_q) * (1.0 / 20.0) ** 2
    x_t = math.sqrt(6.0**2 - 1.0**2) / 100
    z_t = complex(0.01, x_t) * 1.0**2 / 1.0 * 0.95 * 1.05 / (1 + 0.6 * x_t)
    rs = solve_study(doc).get("3ph", "max")
    assert rs.buses["LV"]["ikss_ka"] == pytest.approx(1.05 * 1.0 / (SQRT3 * abs(z_q + z_t)), rel=REL)
    assert rs.trail["LV"]["c"] == 1.05


def _earthing_case(**changes: Any) -> dict[str, Any]:
    """110 kV grid, YNd 110/20 kV transformer (the 20 kV side is unearthed), 20 kV cable."""
    data: dict[str, Any] = {
        "format": "circuit-document",
        "version": 1,
        "id": "earthing",
        "study": {"frequency_hz": 50, "faults": ["1ph"], "cases": ["max"], "ip": False, "ith": False},
        "buses": [{"id": "HV", "vn_kv": 110.0}, {"id": "B", "vn_kv": 20.0}, {"id": "C", "vn_kv": 20.0}],
        "ext_grids": [{"id": "Q", "bus": "HV", "s_sc_max_mva": 3000.0, "rx_max": 0.1, "x0x_max": 1.0, "r0x0_max": 0.1}],
        "transformers": [
            {
                "id": "T",
                "hv_bus": "HV",
                "lv_bus": "B",
                "sn_mva": 40.0,
                "vn_hv_kv": 110.0,
                "vn_lv_kv": 20.0,
                "vk_percent": 12.0,
                "vkr_percent": 0.5,
                "vector_group": "YNd",
                "vk0_percent": 12.0,
                "vkr0_percent": 0.5,
            }
        ],
        "lines": [
            {
                "id": "L",
                "from_bus": "B",
                "to_bus": "C",
                "length_km": 10.0,
                "r_ohm_per_km": 0.1,
                "x_ohm_per_km": 0.12,
                "r0_ohm_per_km": 0.4,
                "x0_ohm_per_km": 0.48,
                "c0_nf_per_km": 300.0,
            }
        ],
    }
    for path, value in changes.items():
        section, index, name = path.split(".")
        data[section][int(index)][name] = value
    return data


def test_line_with_zero_zero_sequence_impedance_is_a_validation_problem() -> None:
    """r0 = x0 = 0 makes the zero-sequence admittance infinite: a named problem, not a crash."""
    data = _earthing_case(**{"lines.0.r0_ohm_per_km": 0.0, "lines.0.x0_ohm_per_km": 0.0})
    problems = validate_circuit(data)
    assert [(p.path, p.code) for p in problems] == [("lines[0].x0_ohm_per_km", "zero_impedance")]
    with pytest.raises(SolverError, match="line L: zero-sequence impedance"):
        solve_study(CircuitDocument.model_validate(data))
    # a 3ph-only study does not need zero-sequence data
    assert validate_circuit(data, faults=["3ph"]) == []


def test_grid_with_zero_x0x_is_refused() -> None:
    """X0/X = 0 is a zero zero-sequence impedance, not "no earth path": refused by name."""
    data = _earthing_case(**{"ext_grids.0.x0x_max": 0.0})
    problems = validate_circuit(data)
    assert [(p.path, p.code) for p in problems] == [("ext_grids[0].x0x_max", "zero_impedance")]
    with pytest.raises(SolverError, match="X0/X = 0"):
        solve_study(CircuitDocument.model_validate(data))


def test_earth_fault_in_an_unearthed_network_is_flagged_not_reported_as_ik1() -> None:
    """Behind the YNd transformer's delta the 20 kV network has no earthed star point: an earth
    fault there drives the capacitive current √3·c·Un/|2·Z1 + Z0| with Z0 the cable's
    capacitance (the standard's line-to-earth formula with that Z0), which is not an I″k1."""
    rs = solve_study(parse_circuit(_earthing_case())).get("1ph", "max")
    c, un, w = 1.1, 20.0, 2 * math.pi * 50
    # Z1 at B: grid Z_Q = c·Un²/S″kQ referred to 20 kV, plus K_T·Z_T (eq. 12a, c_max 1.1)
    x_q = c * 110.0**2 / 3000.0 / math.sqrt(1.01) * (20.0 / 110.0) ** 2
    x_t = math.sqrt(12.0**2 - 0.5**2) / 100
    k_t = 0.95 * c / (1 + 0.6 * x_t)
    z1 = complex(0.1 * x_q, x_q) + complex(0.005, x_t) * 20.0**2 / 40.0 * k_t
    # Z0 at B: the cable's pi model, half its capacitance at each end, nothing else to earth
    yc = 1j * w * 300e-9 * 10.0 / 2
    z0 = 1 / (yc + 1 / (complex(4.0, 4.8) + 1 / yc))
    i_c = SQRT3 * c * un / abs(2 * z1 + z0)
    assert rs.buses["B"]["ikss_ka"] == 0.0
    flag = rs.trail["B"]["earth_fault"]
    assert flag["earthing"] == "unearthed" and "capacitive" in flag["reason"]
    assert flag["capacitive_current_ka"] == pytest.approx(i_c, rel=1e-9)
    assert 0.035 < flag["capacitive_current_ka"] < 0.037  # ≈ √3·c·Un·ω·C0·ℓ = 0.0359 kA
    # the HV side is earthed by the YN star point and the grid: an ordinary I″k1, no flag
    assert rs.buses["HV"]["ikss_ka"] > 1.0 and "earth_fault" not in rs.trail["HV"]


def test_ynyn_neutral_impedance_sits_at_the_hv_star_point() -> None:
    """FORMAT.md: a YNyn transformer's rn/xn earth its HV star point (Ω at the HV winding);
    the LV star point is solidly earthed. Zero-sequence T model referred to the LV side
    (IEC 60909-0:2016 §6.3.3 with K_T also on Z0): HV leg si0·K_T·Z0_T + 3·Zn/t², LV leg
    (1 − si0)·K_T·Z0_T, Zm0 at the star; I″k1 = √3·c·Un/|2·Z1 + Z0|."""
    data = _earthing_case()
    data["transformers"][0].update(
        vector_group="YNyn", mag0_percent=1000.0, mag0_rx=0.0, si0_hv_partial=0.5, xn_ohm=20.0
    )
    data["lines"] = []
    data["buses"] = data["buses"][:2]
    rs = solve_study(parse_circuit(data)).get("1ph", "max")
    c, t2 = 1.1, (110.0 / 20.0) ** 2
    x_q = c * 110.0**2 / 3000.0 / math.sqrt(1.01)
    z_q = complex(0.1 * x_q, x_q) / t2  # positive and zero sequence alike (X0/X = 1, R0/X0 = 0.1)
    x_t = math.sqrt(12.0**2 - 0.5**2) / 100
    k_t = 0.95 * c / (1 + 0.6 * x_t)
    z_t = complex(0.005, x_t) * 20.0**2 / 40.0 * k_t
    z_m = 1j * 10.0 * 0.12 * 20.0**2 / 40.0  # 1000 % of |Z_k0| (uncorrected), R/X 0
    hv_leg = 0.5 * z_t + 3 * 20j / t2 + z_q
    z0 = 0.5 * z_t + z_m * hv_leg / (z_m + hv_leg)
    z1 = z_q + z_t
    assert rs.buses["B"]["ikss_ka"] == pytest.approx(SQRT3 * c * 20.0 / abs(2 * z1 + z0), rel=REL)
    assert (rs.buses["B"]["rk0_ohm"], rs.buses["B"]["xk0_ohm"]) == pytest.approx((z0.real, z0.imag), rel=REL)


# --- item 4: Ith near generators, single-fed Ib --------------------------------------------


def _n(x: float, tk: float) -> float:
    """n from x = I″k/Ik (IEC 60909-0:2016 §8.8, Fig. 22 as a formula; checked in
    test_hand_calculations against the standard's example)."""
    y = x / (0.88 + 0.17 * x)
    t = 3.1 / y
    return (
        1
        + t / (20 * tk) * (1 - math.exp(-20 * tk / t)) * (x - y) ** 2
        + t / (2 * tk) * (1 - math.exp(-2 * tk / t)) * (y - 1) ** 2
        + t / (5 * tk) * (1 - math.exp(-10 * tk / t)) * (x - y)
        + 2 * t / tk * (1 - math.exp(-tk / t)) * (y - 1)
        + t / (5.5 * tk) * (1 - math.exp(-11 * tk / t)) * (x - y) * (y - 1)
    ) / x**2


def _m(kappa: float, tk: float, f: float = 50.0) -> float:
    """m = (e^(4·f·Tk·ln(κ−1)) − 1)/(2·f·Tk·ln(κ−1)) (IEC 60909-0:2016, heat effect of the DC component)."""
    a = 2 * f * tk * math.log(kappa - 1)
    return (math.exp(2 * a) - 1) / a


def _single_fed_generator(rotor: str) -> Any:
    """A 10.5 kV, 50 MVA generator alone, feeding a 0.4 km cable (radial, single-fed)."""
    return hand_document(
        {"frequency_hz": 50, "faults": ["3ph"], "cases": ["max"], "tk_s": 0.5, "tmin_s": 0.1},
        [{"id": "G", "vn_kv": 10.5}, {"id": "F", "vn_kv": 10.5}],
        generators=[
            {
                "id": "GEN",
                "bus": "G",
                "sn_mva": 50.0,
                "vn_kv": 10.5,
                "xdss_pu": 0.15,
                "rdss_ohm": 0.0,
                "cos_phi": 0.8,
                "xdsat_pu": 1.2,
                "rotor": rotor,
                "ufmax_ratio": 1.6,
            }
        ],
        lines=[{"id": "L", "from_bus": "G", "to_bus": "F", "length_km": 1.0, "r_ohm_per_km": 0.0, "x_ohm_per_km": 0.1}],
    )


def test_single_fed_generator_ib_by_eq_70_and_ik_by_lambda_from_its_data() -> None:
    """One generator alone feeds the fault at F over 0.1 Ω:
    I″k = c·Un/(√3·|K_G·jX″d + jX_L|) (K_G eq. 18), Ib = μ·I″k (eq. 70, not eq. 75) with
    μ = 0.62 + 0.72·e^(−0.32·I″kG/IrG) (tmin 0.1 s), and Ik = λmax·IrG (steady state) with
    λmax = (U_fmax/U_fr)·|1 + j·x_dsat·(cos φ − j·sin φ)|/(x_dsat + x_e) (README: the model
    behind Figs. 18/19) from x_dsat 1.2, U_fmax/U_fr 1.6; Ith = I″k·√(m + n)."""
    c, un, sin = 1.1, 10.5, 0.6
    k_g = c / (1 + 0.15 * sin)
    x_d = 0.15 * un**2 / 50.0
    ik = c * un / (SQRT3 * (k_g * x_d + 0.1))
    i_rg = 50.0 / (SQRT3 * un)
    r = ik / i_rg
    mu = 0.62 + 0.72 * math.exp(-0.32 * r)
    x_e = (1 + 0.15 * sin) / r - 0.15
    lam = 1.6 * math.hypot(1 + 1.2 * sin, 1.2 * 0.8) / (1.2 + x_e)
    # κ with R_Gf = 0.07·X″d (U_rG > 1 kV, S_rG < 100 MVA); the line has no R
    rx = 0.07 * k_g * x_d / (k_g * x_d + 0.1)
    kappa = 1.02 + 0.98 * math.exp(-3 * rx)
    ith = ik * math.sqrt(_m(kappa, 0.5) + _n(ik / (lam * i_rg), 0.5))
    for rotor in ("cylindrical", "salient"):  # the given data win over the rotor's defaults
        rs = solve_study(_single_fed_generator(rotor)).get("3ph", "max")
        f = rs.buses["F"]
        assert f["ikss_ka"] == pytest.approx(ik, rel=REL)
        assert f["ib_ka"] == pytest.approx(mu * ik, rel=REL)
        assert f["ith_ka"] == pytest.approx(ith, rel=REL)
    assert x_e > 0.04 and 1.0 < lam < r


def test_meshed_steady_state_is_the_current_without_motors() -> None:
    """Grid, generator and motor feed one bus: several sources, so Ik = I″kM, the initial
    current without motors (IEC 60909-0:2016 steady state, meshed networks), not I″k − Σ(I″k,i − Ik,i); n from
    I″k/I″kM and Ith = I″k·√(m + n)."""
    doc = hand_document(
        {"frequency_hz": 50, "faults": ["3ph"], "cases": ["max"], "tk_s": 1.0, "topology": "radial"},
        [{"id": "B", "vn_kv": 10.5}],
        ext_grids=[{"id": "Q", "bus": "B", "s_sc_max_mva": 300.0, "rx_max": 0.1}],
        generators=[
            {
                "id": "GEN",
                "bus": "B",
                "sn_mva": 50.0,
                "vn_kv": 10.5,
                "xdss_pu": 0.15,
                "rdss_ohm": 0.0,
                "cos_phi": 0.8,
            }
        ],
        motors=[
            {
                "id": "MOT",
                "bus": "B",
                "pn_mech_mw": 5.0,
                "cos_phi_n": 0.88,
                "efficiency_n_percent": 96.0,
                "vn_kv": 10.5,
                "lrc_pu": 5.0,
                "rx": 0.1,
            }
        ],
    )
    c, un = 1.1, 10.5
    x_q = c * un**2 / 300.0 / math.sqrt(1.01)
    y_q = 1 / complex(0.1 * x_q, x_q)
    y_g = 1 / (1j * 0.15 * un**2 / 50.0 * c / (1 + 0.15 * 0.6))
    s_rm = 5.0 / (0.96 * 0.88)
    x_m = 1 / 5.0 * un**2 / s_rm / math.sqrt(1.01)
    y_m = 1 / complex(0.1 * x_m, x_m)
    e = c * un / SQRT3
    ik = e * abs(y_q + y_g + y_m)
    ik_m = e * abs(y_q + y_g)
    rs = solve_study(doc).get("3ph", "max")
    assert rs.buses["B"]["ikss_ka"] == pytest.approx(ik, rel=REL)
    assert rs.trail["B"]["n"] == pytest.approx(_n(ik / ik_m, 1.0), rel=REL)
    ith = ik * math.sqrt(rs.trail["B"]["m"] + _n(ik / ik_m, 1.0))
    assert rs.buses["B"]["ith_ka"] == pytest.approx(ith, rel=REL)


# --- DC component and asymmetrical breaking current ---------------------------------------


def _two_lines(topology: str, tmin_s: float) -> Any:
    """20 kV grid (400 MVA, R/X 0.1) at A and two lines of different R/X from A to B."""
    return hand_document(
        {
            "frequency_hz": 50,
            "faults": ["3ph"],
            "cases": ["max"],
            "topology": topology,
            "kappa_method": "C",
            "tmin_s": tmin_s,
            "ib_asym": True,
        },
        [{"id": "A", "vn_kv": 20.0}, {"id": "B", "vn_kv": 20.0}],
        ext_grids=[{"id": "Q", "bus": "A", "s_sc_max_mva": 400.0, "rx_max": 0.1}],
        lines=[
            {"id": "L1", "from_bus": "A", "to_bus": "B", "length_km": 2.0, "r_ohm_per_km": 0.3, "x_ohm_per_km": 0.1},
            {"id": "L2", "from_bus": "A", "to_bus": "B", "length_km": 2.0, "r_ohm_per_km": 0.05, "x_ohm_per_km": 0.4},
        ],
    )


def _two_lines_impedance(x_scale: float) -> complex:
    x_q = 1.1 * 20.0**2 / 400.0 / math.sqrt(1.01)
    z1, z2 = complex(0.6, 0.2 * x_scale), complex(0.1, 0.8 * x_scale)
    return complex(0.1 * x_q, x_q * x_scale) + z1 * z2 / (z1 + z2)


def test_dc_component_and_asymmetrical_breaking_current_radial() -> None:
    """i_DC = √2·I″k·e^(−2π·f·t·R/X) with R/X at the fault, Ib,asym = √(Ib² + i_DC²) at
    t = tmin_s = 0.05 s; far from generators Ib = I″k."""
    z = _two_lines_impedance(1.0)
    ik = 1.1 * 20.0 / (SQRT3 * abs(z))
    idc = math.sqrt(2) * ik * math.exp(-2 * math.pi * 50 * 0.05 * z.real / z.imag)
    rs = solve_study(_two_lines("radial", 0.05)).get("3ph", "max")
    b = rs.buses["B"]
    assert rs.quantities[rs.quantities.index("ib_ka") + 1 :][:2] == ["idc_ka", "ib_asym_ka"]
    assert b["idc_ka"] == pytest.approx(idc, rel=REL)
    assert b["ib_asym_ka"] == pytest.approx(math.hypot(ik, idc), rel=REL)


def test_dc_component_method_c_uses_the_equivalent_frequency_for_f_t() -> None:
    """Method C for i_DC: R/X = (Rc/Xc)·(fc/f) with fc/f = 0.15 for 1 ≤ f·t < 2.5 (here
    f·t = 50 Hz·0.02 s = 1), Zc with every reactance at fc."""
    zc = _two_lines_impedance(0.15)
    rx = zc.real / zc.imag * 0.15
    ik = 1.1 * 20.0 / (SQRT3 * abs(_two_lines_impedance(1.0)))
    idc = math.sqrt(2) * ik * math.exp(-2 * math.pi * 50 * 0.02 * rx)
    b = solve_study(_two_lines("auto", 0.02)).get("3ph", "max").buses["B"]
    assert b["idc_ka"] == pytest.approx(idc, rel=REL)
    z = _two_lines_impedance(1.0)
    assert abs(rx - z.real / z.imag) > 0.01  # a mesh of different R/X: method C differs from R/X


def test_steady_state_current_single_fed_and_meshed() -> None:
    """Ik (3ph, option ik_steady): one generator alone Ik max = λmax·I_rG, Ik min =
    λmin·I_rG with λmin = 1/(x_dsat + x_e) (no-load excitation) and I″k min with c_min = 1.0
    (generator K_G keeps c_max); a bus fed by the grid alone Ik = I″k."""
    data = _single_fed_generator("cylindrical").model_dump()
    data["study"].update(ik_steady=True, cases=["max", "min"])
    data["lines"][0]["endtemp_degree"] = 80.0  # R = 0: the min-case temperature factor changes nothing
    doc = parse_circuit(data)
    result = solve_study(doc)
    sin, un, x_d = 0.6, 10.5, 0.15 * 10.5**2 / 50.0
    i_rg = 50.0 / (SQRT3 * un)
    k_g = 1.1 / (1 + 0.15 * sin)
    for case, c, e_f in (("max", 1.1, 1.6 * math.hypot(1 + 1.2 * sin, 1.2 * 0.8)), ("min", 1.0, 1.0)):
        ik = c * un / (SQRT3 * (k_g * x_d + 0.1))
        x_e = (1 + 0.15 * sin) / (ik / i_rg) - 0.15
        rs = result.get("3ph", case)
        assert rs.quantities[rs.quantities.index("ib_ka") + 1] == "ik_ka"
        assert rs.buses["F"]["ik_ka"] == pytest.approx(e_f / (1.2 + x_e) * i_rg, rel=REL), case
    grid_only = _tapped_transformer(None)
    grid_only = parse_circuit({**grid_only.model_dump(), "study": {**grid_only.study.model_dump(), "ik_steady": True}})
    lv = solve_study(grid_only).get("3ph", "max").buses["LV"]
    assert lv["ik_ka"] == lv["ikss_ka"]


# --- generator negative sequence ----------------------------------------------------------


def test_generator_negative_sequence_reactance_from_xqss() -> None:
    """X(2) = (X″d + X″q)/2 with K_G (IEC 60909-0, synchronous machines); unbalanced faults
    with Z2 ≠ Z1: I″k2 = c·Un/|Z1 + Z2|, I″k1 = √3·c·Un/|Z1 + Z2 + Z0|. A 10.5 kV, 50 MVA
    generator (x″d 0.15, x″q 0.25) next to a 300 MVA grid; the grid earths the bus."""
    doc = hand_document(
        {"frequency_hz": 50, "faults": ["3ph", "2ph", "1ph"], "cases": ["max"], "ip": False, "ith": False},
        [{"id": "G", "vn_kv": 10.5}],
        ext_grids=[{"id": "Q", "bus": "G", "s_sc_max_mva": 300.0, "rx_max": 0.1, "x0x_max": 1.0, "r0x0_max": 0.1}],
        generators=[
            {
                "id": "GEN",
                "bus": "G",
                "sn_mva": 50.0,
                "vn_kv": 10.5,
                "xdss_pu": 0.15,
                "xqss_pu": 0.25,
                "rdss_ohm": 0.01,
                "cos_phi": 0.8,
            }
        ],
    )
    c, un = 1.1, 10.5
    k_g = c / (1 + 0.15 * 0.6)
    zb_g = un**2 / 50.0
    x_q = c * un**2 / 300.0 / math.sqrt(1.01)
    z_q = complex(0.1 * x_q, x_q)
    z_g1 = complex(0.01, 0.15 * zb_g) * k_g
    z_g2 = complex(0.01, 0.2 * zb_g) * k_g
    z1 = z_q * z_g1 / (z_q + z_g1)
    z2 = z_q * z_g2 / (z_q + z_g2)
    z0 = z_q  # the generator's star point is not earthed
    result = solve_study(doc)
    assert result.get("3ph", "max").buses["G"]["ikss_ka"] == pytest.approx(c * un / (SQRT3 * abs(z1)), rel=REL)
    assert result.get("2ph", "max").buses["G"]["ikss_ka"] == pytest.approx(c * un / abs(z1 + z2), rel=REL)
    assert result.get("1ph", "max").buses["G"]["ikss_ka"] == pytest.approx(SQRT3 * c * un / abs(z1 + z2 + z0), rel=REL)


def test_branch_currents_use_the_negative_sequence_network() -> None:
    """With Z2 ≠ Z1 the single line feeding bus B carries exactly B's 2ph fault current."""
    doc = hand_document(
        {"frequency_hz": 50, "faults": ["2ph"], "cases": ["max"], "ip": False, "ith": False},
        [{"id": "G", "vn_kv": 10.5}, {"id": "B", "vn_kv": 10.5}],
        ext_grids=[{"id": "Q", "bus": "G", "s_sc_max_mva": 300.0, "rx_max": 0.1}],
        generators=[
            {
                "id": "GEN",
                "bus": "G",
                "sn_mva": 50.0,
                "vn_kv": 10.5,
                "xdss_pu": 0.15,
                "xqss_pu": 0.4,
                "rdss_ohm": 0.01,
                "cos_phi": 0.8,
            }
        ],
        lines=[{"id": "L", "from_bus": "G", "to_bus": "B", "length_km": 2.0, "r_ohm_per_km": 0.2, "x_ohm_per_km": 0.3}],
    )
    rs = solve_study(doc, branches_for="B").get("2ph", "max")
    assert rs.branches is not None
    line = rs.branches["B"]["L"]
    assert line["ikss_to_ka"] == pytest.approx(rs.buses["B"]["ikss_ka"], rel=1e-9)
    assert line["i2_to_ka"] == pytest.approx(line["i1_to_ka"], rel=1e-9)  # 2ph: I2 = −I1
