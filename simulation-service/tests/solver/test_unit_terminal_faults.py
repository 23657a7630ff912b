"""Faults between generator and unit transformer (IEC 60909-0:2016 §6.7.1 / §6.7.2): one
hand calculation per formula and the partial currents of the check unit (the comparison with
pandapower, which differs by exactly one factor, K_T,S = 1 on the unit transformer, needs the
bench extra and is in tests/bench/test_pandapower_crosschecks.py).

The check unit is the issue's: 100 MVA, x″d 0.18, cos φ 0.85 generator at U_rG = 10.5 kV,
115/10.5 kV 12 % unit transformer, 5 GVA (R/X 0.1) grid at 110 kV (see test_iec_second_edition).
"""

from __future__ import annotations

import pytest

from ampflux_simulation.solver import factors, solve_study
from ampflux_testing.hand_documents import COS, SIN, SQRT3, U_RG, X_T, XD, Z_G, Z_TLV, C, check_unit, z_q_lv

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
    i_kt = C * U_RG / SQRT3 / (k_ts * Z_TLV + z_q_lv())
    i_kg = C * U_RG / SQRT3 / (k_gs * Z_G)
    assert abs(i_kt) == pytest.approx(37.580, abs=1e-3)
    assert abs(i_kg) == pytest.approx(33.444, abs=1e-3)
    res = solve_study(check_unit(10.0, oltc=True), branches_for="G").get("3ph", "max")
    assert res.branches is not None
    t = res.branches["G"]["T"]
    assert t["ikss_lv_ka"] == pytest.approx(abs(i_kt), rel=1e-9)
    # the HV side carries the same current divided by the rated ratio t_r = 115/10.5
    assert t["ikss_hv_ka"] == pytest.approx(abs(i_kt) * 10.5 / 115.0, rel=1e-9)
    assert res.buses["G"]["ikss_ka"] == pytest.approx(abs(i_kt + i_kg), rel=1e-9)
    assert res.buses["G"]["ikss_ka"] == pytest.approx(71.023, abs=1e-3)
