"""IEC 60909-0 correction factors: voltage factor c, K_T, K_G, K_S / K_SO and K_T,S.

Plain functions of element data; the element builders decide where they apply.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

# Buses up to and including this nominal voltage are low voltage for c (IEC 60909-0:2016
# Table 1: "low voltage 100 V to 1 000 V"; high voltage is "> 1 kV").
LV_LIMIT_KV = 1.0


def voltage_factors(vn_kv: NDArray[np.float64], lv_tol_percent: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(c_max, c_min) per bus: 1.10 / 1.00 above 1 kV; up to 1 kV (1000 V included)
    1.05 / 0.95 with a 6 % tolerance band and 1.10 / 0.90 with 10 %."""
    if lv_tol_percent not in (6, 10):
        raise ValueError("lv_tol_percent must be 6 or 10")
    lv = vn_kv <= LV_LIMIT_KV
    c_max = np.where(lv, 1.05 if lv_tol_percent == 6 else 1.10, 1.10)
    c_min = np.where(lv, 0.95 if lv_tol_percent == 6 else 0.90, 1.00)
    return c_max, c_min


def transformer_kt(vk_percent: float, vkr_percent: float, c_max: float) -> float:
    """K_T = 0.95·c_max / (1 + 0.6·x_T), x_T the relative reactance on the rating (IEC 60909-0 eq. 12a)."""
    x_t = math.sqrt(max(vk_percent**2 - vkr_percent**2, 0.0)) / 100.0
    return 0.95 * c_max / (1.0 + 0.6 * x_t)


def sin_phi(cos_phi: float) -> float:
    return math.sqrt(max(1.0 - cos_phi**2, 0.0))


def generator_kg(
    un_kv: float, ur_g_kv: float, pg_percent: float, c_max: float, xdss_pu: float, cos_phi: float
) -> float:
    """K_G = Un/(U_rG·(1+p_G)) · c_max/(1 + x″d·sin φ_rG) (IEC 60909-0 eq. 18)."""
    return un_kv / (ur_g_kv * (1.0 + pg_percent / 100.0)) * c_max / (1.0 + xdss_pu * sin_phi(cos_phi))


def power_station_ks(
    *,
    un_q_kv: float,
    ur_g_kv: float,
    ur_thv_kv: float,
    ur_tlv_kv: float,
    c_max: float,
    xdss_pu: float,
    x_t_pu: float,
    cos_phi: float,
) -> float:
    """K_S for a power station unit with on-load tap changer (IEC 60909-0 eq. 22)."""
    return (
        (un_q_kv**2 / ur_g_kv**2)
        * (ur_tlv_kv**2 / ur_thv_kv**2)
        * c_max
        / (1.0 + abs(xdss_pu - x_t_pu) * sin_phi(cos_phi))
    )


def power_station_kso(
    *,
    un_q_kv: float,
    ur_g_kv: float,
    ur_thv_kv: float,
    ur_tlv_kv: float,
    c_max: float,
    xdss_pu: float,
    cos_phi: float,
    pg_percent: float,
    pt_percent: float,
) -> float:
    """K_SO for a power station unit without on-load tap changer (IEC 60909-0 eq. 24).

    Uses (1 − p_T): the standard's choice when the highest partial current on the HV side
    is sought."""
    return (
        un_q_kv
        / (ur_g_kv * (1.0 + pg_percent / 100.0))
        * (ur_tlv_kv / ur_thv_kv)
        * (1.0 - pt_percent / 100.0)
        * c_max
        / (1.0 + xdss_pu * sin_phi(cos_phi))
    )


def unit_generator_kgs(c_max: float, xdss_pu: float, cos_phi: float, pg_percent: float, oltc: bool) -> float:
    """K_G,S (with OLTC) or K_G,SO (without) for a fault between generator and unit transformer.

    K_G,S = c_max/(1 + x″d·sin φ_rG); K_G,SO = 1/(1 + p_G) · c_max/(1 + x″d·sin φ_rG)
    (IEC 60909-0:2016 §6.7.1 and §6.7.2). They go with the source c·U_rG/√3 (not c·Un/√3),
    so the bus's nominal voltage does not enter: see the solver README."""
    pg = 0.0 if oltc else pg_percent / 100.0
    return c_max / ((1.0 + pg) * (1.0 + xdss_pu * sin_phi(cos_phi)))


def unit_transformer_kts(c_max: float, x_t_pu: float, cos_phi: float, pg_percent: float, oltc: bool) -> float:
    """K_T,S (with OLTC) or K_T,SO (without) for the unit transformer feeding a fault at the
    generator terminals: c_max/(1 − x_T·sin φ_rG), without OLTC also divided by (1 + p_G)
    (IEC 60909-0:2016 §6.7.1 and §6.7.2). It applies to Z_TLV only, not to the network behind."""
    pg = 0.0 if oltc else pg_percent / 100.0
    return c_max / ((1.0 + pg) * (1.0 - x_t_pu * sin_phi(cos_phi)))


def line_temperature_factor(endtemp_degree: float | None) -> float:
    """R at the conductor end temperature for the min case: 1 + 0.004·(θe − 20 °C)."""
    if endtemp_degree is None:
        return 1.0
    return 1.0 + 0.004 * (endtemp_degree - 20.0)
