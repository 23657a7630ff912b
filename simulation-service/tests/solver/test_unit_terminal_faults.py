"""Faults between generator and unit transformer (IEC 60909-0:2016 §6.7.1 / §6.7.2): one
hand calculation per formula, the partial currents of the check unit, and the comparison with
pandapower, which differs by exactly one factor (K_T,S = 1 on the unit transformer).

The check unit is the issue's: 100 MVA, x″d 0.18, cos φ 0.85 generator at U_rG = 10.5 kV,
115/10.5 kV 12 % unit transformer, 5 GVA (R/X 0.1) grid at 110 kV (see test_iec_second_edition).
"""

from __future__ import annotations

import math

import pytest

from ampflux_simulation.solver import factors, solve_study

from .test_iec_second_edition import _unit

SQRT3 = math.sqrt(3.0)
C, U_RG, XD, X_T, COS = 1.1, 10.5, 0.18, 0.12, 0.85
SIN = math.sqrt(1.0 - COS**2)  # 0.526783
Z_G = complex(0.0, XD * U_RG**2 / 100.0)  # Ω, x″d·U_rG²/S_rG
Z_TLV = complex(0.0, X_T * 10.5**2 / 100.0)  # Ω, on the LV side (U_rTLV = 10.5 kV)


def _z_q_lv() -> complex:
    """Z_Q,min = c·U_nQ²/S″kQ,max (R/X 0.1), referred to the LV side by 1/t_r², t_r = 115/10.5."""
    zq = C * 110.0**2 / 5000.0
    xq = zq / math.sqrt(1.0 + 0.1**2)
    return complex(0.1 * xq, xq) / (115.0 / 10.5) ** 2


# --- the four factors, each from its formula with the numbers worked out ---------------------


def test_kgs_is_cmax_over_one_plus_xd_sin_phi() -> None:
    """K_G,S = c_max/(1 + x″d·sin φ_rG) = 1.1/(1 + 0.18·0.526783) = 1.1/1.094821."""
    assert factors.unit_generator_kgs(C, XD, COS, 0.0, oltc=True) == pytest.approx(1.1 / 1.094821, rel=1e-6)
    # with OLTC, p_G does not enter (the tap changer holds the generator at U_rG)
    assert factors.unit_generator_kgs(C, XD, COS, 5.0, oltc=True) == pytest.approx(1.1 / 1.094821, rel=1e-6)


def test_kts_is_cmax_over_one_minus_xt_sin_phi() -> None:
    """K_T,S = c_max/(1 − x_T·sin φ_rG) = 1.1/(1 − 0.12·0.526783) = 1.1/0.936786."""
    assert factors.unit_transformer_kts(C, X_T, COS, 0.0, oltc=True) == pytest.approx(1.1 / 0.936786, rel=1e-6)


def test_kgso_and_ktso_divide_by_one_plus_pg() -> None:
    """K_G,SO = 1/(1 + p_G)·c_max/(1 + x″d sin φ_rG), K_T,SO = 1/(1 + p_G)·c_max/(1 − x_T sin φ_rG),
    p_G = 5 %: 1.1/(1.05·1.094821) and 1.1/(1.05·0.936786)."""
    assert factors.unit_generator_kgs(C, XD, COS, 5.0, oltc=False) == pytest.approx(1.1 / (1.05 * 1.094821), rel=1e-6)
    assert factors.unit_transformer_kts(C, X_T, COS, 5.0, oltc=False) == pytest.approx(
        1.1 / (1.05 * 0.936786), rel=1e-6
    )


# --- the partial currents of the check unit ------------------------------------------------


def test_partial_current_through_the_unit_transformer_is_ikt() -> None:
    """I″kT = c·U_rG/(√3·|K_T,S·Z_TLV + Z_Q,min/t_r²|) on the transformer's LV side, and
    I″kG = c·U_rG/(√3·K_G,S·Z_G) is the rest of the fault current (phasor sum)."""
    k_ts = C / (1.0 - X_T * SIN)
    k_gs = C / (1.0 + XD * SIN)
    i_kt = C * U_RG / SQRT3 / (k_ts * Z_TLV + _z_q_lv())
    i_kg = C * U_RG / SQRT3 / (k_gs * Z_G)
    assert abs(i_kt) == pytest.approx(37.580, abs=1e-3)
    assert abs(i_kg) == pytest.approx(33.444, abs=1e-3)
    res = solve_study(_unit(10.0, oltc=True), branches_for="G").get("3ph", "max")
    assert res.branches is not None
    t = res.branches["G"]["T"]
    assert t["ikss_lv_ka"] == pytest.approx(abs(i_kt), rel=1e-9)
    # the HV side carries the same current divided by the rated ratio t_r = 115/10.5
    assert t["ikss_hv_ka"] == pytest.approx(abs(i_kt) * 10.5 / 115.0, rel=1e-9)
    assert res.buses["G"]["ikss_ka"] == pytest.approx(abs(i_kt + i_kg), rel=1e-9)
    assert res.buses["G"]["ikss_ka"] == pytest.approx(71.023, abs=1e-3)


def test_against_pandapower_the_only_difference_is_kts() -> None:
    """pandapower 3.5.6 (bench extra) applies K_G,S / K_G,SO and c·U_rG at the terminals but
    divides the unit factor back out of the transformer without applying K_T,S / K_T,SO
    (shortcircuit/ppc_conversion.py, _create_k_updated_ppci). Its figure is the hand formula
    with K_T,S = 1 to 1e-9, ours the same formula with the standard's K_T,S: the whole
    difference (76.63 vs 71.02 kA with OLTC, 78.30 vs 74.33 kA without) is that one factor."""
    pp = pytest.importorskip("pandapower", reason="pandapower is a bench-only extra (uv sync --group bench)")
    sc = pytest.importorskip("pandapower.shortcircuit")
    for oltc, pg in ((True, 0.0), (False, 5.0)):
        net = pp.create_empty_network(sn_mva=1.0)
        q, g = pp.create_bus(net, 110.0), pp.create_bus(net, 10.0)
        pp.create_ext_grid(net, q, s_sc_max_mva=5000.0, rx_max=0.1)
        t = pp.create_transformer_from_parameters(
            net, q, g, 100.0, 115.0, 10.5, 0.0, 12.0, 0.0, 0.0, power_station_unit=True, oltc=oltc, pt_percent=0.0
        )
        pp.create_gen(
            net,
            g,
            0.0,
            vn_kv=U_RG,
            sn_mva=100.0,
            xdss_pu=XD,
            rdss_ohm=0.0,
            cos_phi=COS,
            pg_percent=pg,
            power_station_trafo=t,
        )
        sc.calc_sc(net, case="max", fault="3ph", ip=False)
        theirs = float(net.res_bus_sc.ikss_ka.at[g])
        p = 1.0 if oltc else 1.0 + pg / 100.0
        y_g = 1.0 / (C / (p * (1.0 + XD * SIN)) * Z_G)
        uncorrected = C * U_RG / SQRT3 * abs(1.0 / (Z_TLV + _z_q_lv()) + y_g)
        with_kts = C * U_RG / SQRT3 * abs(1.0 / (C / (p * (1.0 - X_T * SIN)) * Z_TLV + _z_q_lv()) + y_g)
        assert theirs == pytest.approx(uncorrected, rel=1e-9)
        ours = solve_study(_unit(10.0, oltc=oltc, pg_percent=pg)).get("3ph", "max").buses["G"]["ikss_ka"]
        assert ours == pytest.approx(with_kts, rel=1e-9)
        assert theirs / ours == pytest.approx(uncorrected / with_kts, rel=1e-9)
        assert ours < theirs  # K_T,S > 1 lowers the network side's share
