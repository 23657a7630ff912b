"""Worked hand calculations on 1–2 bus networks, step by step with IEC 60909-0's formulas.

These cover what the pandapower reference cannot: 2phg, Ib near machines (μ, q), Ith with
n ≠ 1 near a generator, and Ith at 60 Hz (pandapower evaluates m with f = 50 Hz).
"""

from __future__ import annotations

import cmath
import math
from typing import Any

import pytest

from ampflux_simulation.solver import solve_study
from ampflux_simulation.solver.thermal import n_factor
from ampflux_testing.hand_documents import hand_document

SQRT3 = math.sqrt(3.0)
REL = 1e-9


def test_double_line_to_earth_fault() -> None:
    # 20 kV grid (S″kQ 500 MVA, R/X 0.1, X0/X 1, R0/X0 0.1) and 2 km of line to bus B.
    doc = hand_document(
        {"frequency_hz": 50, "faults": ["2phg"], "cases": ["max"]},
        [{"id": "A", "vn_kv": 20.0}, {"id": "B", "vn_kv": 20.0}],
        ext_grids=[{"id": "Q", "bus": "A", "s_sc_max_mva": 500.0, "rx_max": 0.1, "x0x_max": 1.0, "r0x0_max": 0.1}],
        lines=[
            {
                "id": "L",
                "from_bus": "A",
                "to_bus": "B",
                "length_km": 2.0,
                "r_ohm_per_km": 0.2,
                "x_ohm_per_km": 0.4,
                "r0_ohm_per_km": 0.6,
                "x0_ohm_per_km": 1.2,
                "c0_nf_per_km": 0.0,
            }
        ],
    )
    c, un = 1.1, 20.0
    # grid: Z_Q = c·Un²/S″kQ = 0.88 Ω, X_Q = Z_Q/√(1 + 0.1²), R_Q = 0.1·X_Q; X0 = X_Q, R0 = 0.1·X0
    x_q = c * un**2 / 500.0 / math.sqrt(1.01)
    z_q = complex(0.1 * x_q, x_q)
    z0_q = complex(0.1 * x_q, x_q)
    # line: Z_L = 2 km·(0.2 + j0.4) Ω/km, Z0_L = 2 km·(0.6 + j1.2) Ω/km
    z1 = z_q + complex(0.4, 0.8)
    z0 = z0_q + complex(1.2, 2.4)
    a = cmath.exp(2j * math.pi / 3)
    # IEC 60909-0: I″kE2E = √3·c·Un/|Z1 + 2·Z0|
    ik_e = SQRT3 * c * un / abs(z1 + 2 * z0)
    # faulted phases: c·Un·|Z0 − a·Z1| / |Z1² + 2·Z1·Z0| and the same with a²
    ik_b = c * un * abs(z0 - a * z1) / abs(z1 * z1 + 2 * z1 * z0)
    ik_c = c * un * abs(z0 - a * a * z1) / abs(z1 * z1 + 2 * z1 * z0)

    rs = solve_study(doc).get("2phg", "max")
    b = rs.buses["B"]
    assert b["ikss_e_ka"] == pytest.approx(ik_e, rel=REL)
    assert b["ikss_ka"] == pytest.approx(max(ik_b, ik_c), rel=REL)
    assert (b["rk_ohm"], b["xk_ohm"]) == pytest.approx((z1.real, z1.imag), rel=REL)
    assert (b["rk0_ohm"], b["xk0_ohm"]) == pytest.approx((z0.real, z0.imag), rel=REL)
    # ip = κ·√2·I″k with κ from R/X at the fault (radial network: method C gives R/X of Z1)
    kappa = 1.02 + 0.98 * math.exp(-3 * z1.real / z1.imag)
    assert b["ip_ka"] == pytest.approx(kappa * math.sqrt(2) * max(ik_b, ik_c), rel=1e-9)
    assert "ikss_e_ka" in rs.quantities


def _generator_and_grid(tmin_s: float) -> Any:
    return hand_document(
        {"frequency_hz": 50, "faults": ["3ph"], "cases": ["max"], "tmin_s": tmin_s},
        [{"id": "G", "vn_kv": 10.5}],
        ext_grids=[{"id": "Q", "bus": "G", "s_sc_max_mva": 300.0, "rx_max": 0.1}],
        generators=[
            {
                "id": "GEN",
                "bus": "G",
                "sn_mva": 50.0,
                "vn_kv": 10.5,
                "xdss_pu": 0.15,
                "rdss_ohm": 0.0066,
                "cos_phi": 0.8,
            }
        ],
    )


def test_breaking_current_near_a_generator() -> None:
    c, un, tmin = 1.1, 10.5, 0.1
    # K_G = Un/U_rG · c_max/(1 + x″d·sin φ) = 1 · 1.1/(1 + 0.15·0.6)
    k_g = 1.1 / (1 + 0.15 * 0.6)
    x_d = 0.15 * un**2 / 50.0  # X″d = x″d·U_rG²/S_rG
    z_g = complex(0.0066, x_d) * k_g
    x_q = c * un**2 / 300.0 / math.sqrt(1.01)
    z_q = complex(0.1 * x_q, x_q)
    e = c * un / SQRT3  # kV
    # the fault is at the generator's terminals: each source drives E through its own impedance
    i_g = e / abs(z_g)
    ik = abs(e / z_g + e / z_q)
    i_rg = 50.0 / (SQRT3 * 10.5)
    # μ for tmin = 0.1 s: 0.62 + 0.72·e^(−0.32·I″kG/IrG)
    mu = 0.62 + 0.72 * math.exp(-0.32 * i_g / i_rg)
    # Ib = I″k − (ΔU″G/(c·Un/√3))·(1 − μ)·I″kG; the generator's terminal voltage collapses
    # completely (ΔU″G = c·Un/√3), so the ratio is 1; the grid part does not decay
    ib = ik - 1.0 * (1 - mu) * i_g

    rs = solve_study(_generator_and_grid(tmin)).get("3ph", "max")
    assert rs.buses["G"]["ikss_ka"] == pytest.approx(ik, rel=REL)
    assert rs.buses["G"]["ib_ka"] == pytest.approx(ib, rel=REL)
    assert rs.trail["G"]["mu_q"]["GEN"] == pytest.approx(mu, rel=REL)
    assert rs.buses["G"]["ib_ka"] < rs.buses["G"]["ikss_ka"]


def test_breaking_current_interpolates_between_delays() -> None:
    # tmin = 0.075 s lies halfway between the 0.05 s and 0.10 s curves
    rs = solve_study(_generator_and_grid(0.075)).get("3ph", "max")
    k_g = 1.1 / (1 + 0.15 * 0.6)
    i_g = 1.1 * 10.5 / SQRT3 / abs(complex(0.0066, 0.15 * 10.5**2 / 50.0) * k_g)
    x = i_g / (50.0 / (SQRT3 * 10.5))
    mu = 0.5 * (0.71 + 0.51 * math.exp(-0.30 * x)) + 0.5 * (0.62 + 0.72 * math.exp(-0.32 * x))
    assert rs.trail["G"]["mu_q"]["GEN"] == pytest.approx(mu, rel=REL)


def test_breaking_current_near_a_motor() -> None:
    doc = hand_document(
        {"frequency_hz": 50, "faults": ["3ph", "2ph"], "cases": ["max"], "tmin_s": 0.1},
        [{"id": "M", "vn_kv": 0.4}],
        ext_grids=[{"id": "Q", "bus": "M", "s_sc_max_mva": 20.0, "rx_max": 0.2}],
        motors=[
            {
                "id": "MOT",
                "bus": "M",
                "pn_mech_mw": 0.2,
                "cos_phi_n": 0.85,
                "efficiency_n_percent": 95.0,
                "vn_kv": 0.4,
                "lrc_pu": 6.0,
                "rx": 0.42,
            }
        ],
    )
    c, un = 1.1, 0.4
    # S_rM = P_rM/(η·cos φ); Z_M = (1/lrc)·U_rM²/S_rM, X_M = Z_M/√(1 + 0.42²), R_M = 0.42·X_M
    s_rm = 0.2 / (0.95 * 0.85)
    z_m_abs = 1 / 6.0 * un**2 / s_rm
    x_m = z_m_abs / math.sqrt(1 + 0.42**2)
    z_m = complex(0.42 * x_m, x_m)
    x_q = c * un**2 / 20.0 / math.sqrt(1.04)
    z_q = complex(0.2 * x_q, x_q)
    e = c * un / SQRT3
    i_m = e / abs(z_m)
    ik = abs(e / z_m + e / z_q)
    i_rm = s_rm / (SQRT3 * un)
    mu = 0.62 + 0.72 * math.exp(-0.32 * i_m / i_rm)  # tmin 0.1 s; I″kM/IrM = lrc·c = 6.6 > 2
    # q for tmin 0.1 s: 0.57 + 0.12·ln m, m = power per pole pair in MW (one pair assumed: 0.2 MW)
    q = 0.57 + 0.12 * math.log(0.2)
    ib = ik - 1.0 * (1 - mu * q) * i_m

    result = solve_study(doc)
    m3 = result.get("3ph", "max")
    assert m3.buses["M"]["ib_ka"] == pytest.approx(ib, rel=REL)
    assert m3.trail["M"]["mu_q"]["MOT"] == pytest.approx(mu * q, rel=REL)
    # unbalanced faults: IEC 60909-0 takes Ib = I″k
    m2 = result.get("2ph", "max")
    assert m2.buses["M"]["ib_ka"] == m2.buses["M"]["ikss_ka"]


def test_thermal_current_near_a_generator_has_n_below_one() -> None:
    tk = 0.5
    doc = hand_document(
        {"frequency_hz": 50, "faults": ["3ph"], "cases": ["max"], "tk_s": tk},
        [{"id": "G", "vn_kv": 10.5}],
        generators=[
            {
                "id": "GEN",
                "bus": "G",
                "sn_mva": 50.0,
                "vn_kv": 10.5,
                "xdss_pu": 0.15,
                "rdss_ohm": 0.0066,
                "cos_phi": 0.8,
            }
        ],
    )
    c, un = 1.1, 10.5
    k_g = 1.1 / (1 + 0.15 * 0.6)
    x_d = 0.15 * un**2 / 50.0
    ik = c * un / (SQRT3 * abs(complex(0.0066, x_d) * k_g))
    i_rg = 50.0 / (SQRT3 * un)
    # fed by the generator alone: Ik = λmax·IrG (IEC 60909-0 §9.2.1); the document gives no
    # x_dsat, so the README's defaults: cylindrical rotor, x_dsat 1.6, U_fmax/U_fr 1.3 (series
    # one); λmax = 1.3·|1 + j·1.6·(0.8 − j·0.6)|/(1.6 + x_e), x_e from I″kG/IrG = 1.09/(0.15 + x_e)
    x_e = max((1 + 0.15 * 0.6) / (ik / i_rg) - 0.15, 0.0)
    lam = 1.3 * math.hypot(1 + 1.6 * 0.6, 1.6 * 0.8) / (1.6 + x_e)
    assert lam == pytest.approx(1.90, abs=0.01)
    x = ik / (lam * i_rg)
    # n (IEC 60909-0): y = I′k/Ik = x/(0.88 + 0.17x), T = 3.1 s/y
    y = x / (0.88 + 0.17 * x)
    t = 3.1 / y
    n = (
        1
        + t / (20 * tk) * (1 - math.exp(-20 * tk / t)) * (x - y) ** 2
        + t / (2 * tk) * (1 - math.exp(-2 * tk / t)) * (y - 1) ** 2
        + t / (5 * tk) * (1 - math.exp(-10 * tk / t)) * (x - y)
        + 2 * t / tk * (1 - math.exp(-tk / t)) * (y - 1)
        + t / (5.5 * tk) * (1 - math.exp(-11 * tk / t)) * (x - y) * (y - 1)
    ) / x**2
    # κ with the fictitious R_Gf = 0.07·X″d (U_rG > 1 kV, S_rG < 100 MVA): R/X = 0.07
    kappa = 1.02 + 0.98 * math.exp(-3 * 0.07)
    # m = (e^(4·f·Tk·ln(κ−1)) − 1)/(2·f·Tk·ln(κ−1)), f = 50 Hz
    m = (math.exp(4 * 50 * tk * math.log(kappa - 1)) - 1) / (2 * 50 * tk * math.log(kappa - 1))
    ith = ik * math.sqrt(m + n)

    rs = solve_study(doc).get("3ph", "max")
    assert n < 1.0
    assert rs.trail["G"]["n"] == pytest.approx(n, rel=REL)
    assert rs.trail["G"]["kappa"] == pytest.approx(kappa, rel=REL)
    assert rs.buses["G"]["ith_ka"] == pytest.approx(ith, rel=REL)
    assert rs.buses["G"]["ip_ka"] == pytest.approx(kappa * math.sqrt(2) * ik, rel=REL)


def test_n_factor_matches_the_standards_worked_example() -> None:
    # IEC 60865-2 §11.3 (referring to IEC 60909-0): I″k = 24 kA, Ik = 19.2 kA, Tk = 0.8 s → n = 0.86
    assert float(n_factor(24.0 / 19.2, 0.8)) == pytest.approx(0.86, abs=0.005)
    assert float(n_factor(1.0, 0.8)) == 1.0


def test_thermal_current_at_60_hz_uses_60_hz_in_m() -> None:
    tk = 0.5
    doc = hand_document(
        {"frequency_hz": 60, "faults": ["3ph"], "cases": ["max"], "tk_s": tk},
        [{"id": "A", "vn_kv": 13.8}, {"id": "B", "vn_kv": 13.8}],
        ext_grids=[{"id": "Q", "bus": "A", "s_sc_max_mva": 500.0, "rx_max": 0.1}],
        lines=[
            {"id": "L", "from_bus": "A", "to_bus": "B", "length_km": 1.0, "r_ohm_per_km": 0.13, "x_ohm_per_km": 0.12}
        ],
    )
    c, un = 1.1, 13.8
    x_q = c * un**2 / 500.0 / math.sqrt(1.01)
    z = complex(0.1 * x_q + 0.13, x_q + 0.12)
    ik = c * un / (SQRT3 * abs(z))
    # radial, no shunts: method C (24 Hz) gives R/X of Z itself
    kappa = 1.02 + 0.98 * math.exp(-3 * z.real / z.imag)
    log = math.log(kappa - 1)
    m60 = (math.exp(4 * 60 * tk * log) - 1) / (2 * 60 * tk * log)
    m50 = (math.exp(4 * 50 * tk * log) - 1) / (2 * 50 * tk * log)  # what pandapower evaluates
    ith = ik * math.sqrt(m60 + 1.0)  # far from generators: n = 1

    b = solve_study(doc).get("3ph", "max").buses["B"]
    assert b["ith_ka"] == pytest.approx(ith, rel=REL)
    assert b["ith_ka"] != pytest.approx(ik * math.sqrt(m50 + 1.0), rel=1e-4)


def test_power_station_unit_uses_ks_on_the_hv_side() -> None:
    # generator 10.5 kV 100 MVA behind a 110/10.5 kV unit transformer without OLTC, no grid
    doc = hand_document(
        {"frequency_hz": 50, "faults": ["3ph"], "cases": ["max"], "ip": False, "ith": False},
        [{"id": "Q", "vn_kv": 110.0}, {"id": "G", "vn_kv": 10.5}],
        transformers=[
            {
                "id": "T",
                "hv_bus": "Q",
                "lv_bus": "G",
                "sn_mva": 100.0,
                "vn_hv_kv": 115.0,
                "vn_lv_kv": 10.5,
                "vk_percent": 12.0,
                "vkr_percent": 0.5,
                "power_station_unit": True,
            }
        ],
        generators=[
            {
                "id": "GEN",
                "bus": "G",
                "sn_mva": 100.0,
                "vn_kv": 10.5,
                "xdss_pu": 0.2,
                "rdss_ohm": 0.002,
                "cos_phi": 0.85,
                "power_station_trafo": "T",
            }
        ],
    )
    sin = math.sqrt(1 - 0.85**2)
    # K_SO = UnQ/(UrG(1+pG))·UrTLV/UrTHV·(1 − pT)·c_max/(1 + x″d·sin φ)
    k_so = 110.0 / 10.5 * 10.5 / 115.0 * 1.0 * 1.1 / (1 + 0.2 * sin)
    t_r = 115.0 / 10.5
    z_g = complex(0.002, 0.2 * 10.5**2 / 100.0)
    z_thv = complex(0.5, math.sqrt(12.0**2 - 0.5**2)) / 100.0 * 115.0**2 / 100.0
    z_s = k_so * (t_r**2 * z_g + z_thv)  # Ω at 110 kV... referred through the rated ratio
    # the network's per-unit model refers with UrTHV/UrTLV = 115/10.5 and bases 110/10.5 kV:
    ik = 1.1 * 110.0 / (SQRT3 * abs(z_s))
    rs = solve_study(doc).get("3ph", "max")
    assert rs.buses["Q"]["ikss_ka"] == pytest.approx(ik, rel=REL)
    # a fault at the generator terminals uses K_G,S = c_max/(1 + x″d sin φ) on the generator alone
    k_gs = 1.1 / (1 + 0.2 * sin)
    ik_g = 1.1 * 10.5 / (SQRT3 * abs(z_g * k_gs))
    assert rs.buses["G"]["ikss_ka"] == pytest.approx(ik_g, rel=REL)


def test_three_winding_transformer_star_equivalent_with_kt_per_pair() -> None:
    doc = hand_document(
        {"frequency_hz": 50, "faults": ["3ph"], "cases": ["max"], "ip": False, "ith": False},
        [{"id": "H", "vn_kv": 110.0}, {"id": "M", "vn_kv": 20.0}, {"id": "L", "vn_kv": 10.0}],
        ext_grids=[{"id": "Q", "bus": "H", "s_sc_max_mva": 2000.0, "rx_max": 0.1}],
        transformers3w=[
            {
                "id": "T3",
                "hv_bus": "H",
                "mv_bus": "M",
                "lv_bus": "L",
                "vn_hv_kv": 110.0,
                "vn_mv_kv": 20.0,
                "vn_lv_kv": 10.0,
                "sn_hv_mva": 50.0,
                "sn_mv_mva": 40.0,
                "sn_lv_mva": 20.0,
                "vk_hv_percent": 12.0,
                "vk_mv_percent": 8.0,
                "vk_lv_percent": 10.0,
                "vkr_hv_percent": 0.4,
                "vkr_mv_percent": 0.3,
                "vkr_lv_percent": 0.35,
            }
        ],
    )

    def pair(vk: float, vkr: float, sn_min: float) -> complex:
        # Ω referred to 110 kV on the smaller rating of the pair, times K_T = 0.95·1.1/(1 + 0.6·x_T)
        x_rel = math.sqrt(vk**2 - vkr**2) / 100
        k_t = 0.95 * 1.1 / (1 + 0.6 * x_rel)
        return complex(vkr / 100, x_rel) * 110.0**2 / sn_min * k_t

    z_hm, z_ml, z_hl = pair(12.0, 0.4, 40.0), pair(8.0, 0.3, 20.0), pair(10.0, 0.35, 20.0)
    # star equivalent
    z_h = (z_hm + z_hl - z_ml) / 2
    z_m = (z_hm + z_ml - z_hl) / 2
    z_l = (z_hl + z_ml - z_hm) / 2
    x_q = 1.1 * 110.0**2 / 2000.0 / math.sqrt(1.01)
    z_q = complex(0.1 * x_q, x_q)
    # a fault at M sees grid + HV + MV branches, referred to 20 kV
    z_at_m = (z_q + z_h + z_m) * (20.0 / 110.0) ** 2
    z_at_l = (z_q + z_h + z_l) * (10.0 / 110.0) ** 2
    rs = solve_study(doc).get("3ph", "max")
    assert rs.buses["M"]["ikss_ka"] == pytest.approx(1.1 * 20.0 / (SQRT3 * abs(z_at_m)), rel=REL)
    assert rs.buses["L"]["ikss_ka"] == pytest.approx(1.1 * 10.0 / (SQRT3 * abs(z_at_l)), rel=REL)
    assert (rs.buses["M"]["rk_ohm"], rs.buses["M"]["xk_ohm"]) == pytest.approx((z_at_m.real, z_at_m.imag), rel=REL)


def test_fault_impedance_and_tap_position() -> None:
    rf, xf = 0.5, 0.2
    doc = hand_document(
        {
            "frequency_hz": 50,
            "faults": ["3ph", "1ph"],
            "cases": ["max"],
            "r_fault_ohm": rf,
            "x_fault_ohm": xf,
            "ip": False,
            "ith": False,
            "tap_positions": "actual",
        },
        [{"id": "MV", "vn_kv": 20.0}, {"id": "LV", "vn_kv": 0.4}],
        ext_grids=[{"id": "Q", "bus": "MV", "s_sc_max_mva": 400.0, "rx_max": 0.1, "x0x_max": 1.0, "r0x0_max": 0.1}],
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
                "vector_group": "Dyn",
                "vk0_percent": 6.0,
                "vkr0_percent": 1.2,
                "tap_side": "hv",
                "tap_neutral": 0,
                "tap_pos": 2,
                "tap_step_percent": 2.5,
            }
        ],
    )
    zf = complex(rf, xf)
    # tap +2 × 2.5 % on the HV winding: U_rTHV = 21 kV, so the grid is seen through 21/0.4
    x_q = 1.1 * 20.0**2 / 400.0 / math.sqrt(1.01)
    z_q_lv = complex(0.1 * x_q, x_q) * (0.4 / 21.0) ** 2
    k_t = 0.95 * 1.1 / (1 + 0.6 * math.sqrt(6.0**2 - 1.2**2) / 100)
    z_t = (
        complex(1.2, math.sqrt(6.0**2 - 1.2**2)) / 100 * 0.4**2 / 0.63 * k_t
    )  # on the LV winding, K_T with c_max(0.4 kV) = 1.1
    z1 = z_q_lv + z_t
    z0 = z_t  # Dyn: the LV star is earthed through the transformer only
    result = solve_study(doc)
    # 3ph: c·Un/(√3·|Z1 + Zf|); 1ph: √3·c·Un/|2·Z1 + Z0 + 3·Zf|
    assert result.get("3ph", "max").buses["LV"]["ikss_ka"] == pytest.approx(1.1 * 0.4 / (SQRT3 * abs(z1 + zf)), rel=REL)
    assert result.get("1ph", "max").buses["LV"]["ikss_ka"] == pytest.approx(
        SQRT3 * 1.1 * 0.4 / abs(2 * z1 + z0 + 3 * zf), rel=REL
    )
    # the Thevenin impedance is reported without the fault impedance
    assert result.get("3ph", "max").buses["LV"]["rk_ohm"] == pytest.approx(z1.real, rel=REL)


def test_power_station_unit_with_on_load_tap_changer_uses_ks() -> None:
    doc = hand_document(
        {"frequency_hz": 50, "faults": ["3ph"], "cases": ["max"], "ip": False, "ith": False},
        [{"id": "Q", "vn_kv": 110.0}, {"id": "G", "vn_kv": 10.5}],
        transformers=[
            {
                "id": "T",
                "hv_bus": "Q",
                "lv_bus": "G",
                "sn_mva": 100.0,
                "vn_hv_kv": 115.0,
                "vn_lv_kv": 10.5,
                "vk_percent": 12.0,
                "vkr_percent": 0.5,
                "power_station_unit": True,
                "oltc": True,
            }
        ],
        generators=[
            {
                "id": "GEN",
                "bus": "G",
                "sn_mva": 100.0,
                "vn_kv": 10.5,
                "xdss_pu": 0.2,
                "rdss_ohm": 0.002,
                "cos_phi": 0.85,
                "power_station_trafo": "T",
            }
        ],
    )
    sin = math.sqrt(1 - 0.85**2)
    x_t = math.sqrt(12.0**2 - 0.5**2) / 100
    # K_S = UnQ²/UrG² · UrTLV²/UrTHV² · c_max/(1 + |x″d − x_T|·sin φ)
    k_s = 110.0**2 / 10.5**2 * 10.5**2 / 115.0**2 * 1.1 / (1 + abs(0.2 - x_t) * sin)
    t_r = 115.0 / 10.5
    z_g = complex(0.002, 0.2 * 10.5**2 / 100.0)
    z_thv = complex(0.5, math.sqrt(12.0**2 - 0.5**2)) / 100.0 * 115.0**2 / 100.0
    ik = 1.1 * 110.0 / (SQRT3 * abs(k_s * (t_r**2 * z_g + z_thv)))
    assert solve_study(doc).get("3ph", "max").buses["Q"]["ikss_ka"] == pytest.approx(ik, rel=REL)


@pytest.mark.parametrize("group", ["Dyn", "Yzn", "Yyn"])
def test_zero_sequence_impedance_of_earthed_lv_groups(group: str) -> None:
    doc = hand_document(
        {"frequency_hz": 50, "faults": ["1ph"], "cases": ["max"]},
        [{"id": "MV", "vn_kv": 20.0}, {"id": "LV", "vn_kv": 0.4}],
        ext_grids=[{"id": "Q", "bus": "MV", "s_sc_max_mva": 400.0, "rx_max": 0.1, "x0x_max": 1.0, "r0x0_max": 0.1}],
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
                "vector_group": group,
                "vk0_percent": 5.0,
                "vkr0_percent": 1.0,
                "mag0_percent": 1000.0,
                "mag0_rx": 0.0,
                "si0_hv_partial": 0.5,
                "xn_ohm": 0.01,
            }
        ],
    )
    k_t = 0.95 * 1.1 / (1 + 0.6 * math.sqrt(6.0**2 - 1.2**2) / 100)
    z0_t = complex(1.0, math.sqrt(5.0**2 - 1.0**2)) / 100 * 0.4**2 / 0.63 * k_t
    zn3 = 3j * 0.01
    # Dyn and Yzn: Z0_T·K_T + 3·Zn at the LV neutral; Yyn adds the magnetising impedance
    # Zm0 = 1000 % of |Z0_T| (uncorrected), purely reactive here
    zm0 = 1j * 10.0 * 5.0 / 100 * 0.4**2 / 0.63
    want = z0_t + zn3 + (zm0 if group == "Yyn" else 0)
    lv = solve_study(doc).get("1ph", "max").buses["LV"]
    assert (lv["rk0_ohm"], lv["xk0_ohm"]) == pytest.approx((want.real, want.imag), rel=REL)
