"""Peak short-circuit current ip = κ·√2·I″k (IEC 60909-0 §8.1)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

# Equivalent frequency of method C per system frequency (IEC 60909-0 §8.1.3.2 c).
EQUIVALENT_FREQUENCY_HZ = {50: 20.0, 60: 24.0}
# Method B: the 1.15 safety factor is dropped when every branch has R/X below this.
METHOD_B_RX_LIMIT = 0.3


def kappa(r_over_x: NDArray[np.float64]) -> NDArray[np.float64]:
    """κ = 1.02 + 0.98·e^(−3R/X) (IEC 60909-0 eq. 55)."""
    return 1.02 + 0.98 * np.exp(-3.0 * np.asarray(r_over_x, dtype=float))


def method_c_ratio(z_c: NDArray[np.complex128], f_hz: float) -> NDArray[np.float64]:
    """R/X = (Rc/Xc)·(fc/f) from the impedance Zc = Rc + jXc at the equivalent frequency."""
    fc = EQUIVALENT_FREQUENCY_HZ[int(f_hz)]
    return z_c.real / z_c.imag * (fc / f_hz)


def method_b_kappa(
    r_over_x: NDArray[np.float64], meshed: NDArray[np.bool_], lv: NDArray[np.bool_], all_branches_low_rx: bool
) -> NDArray[np.float64]:
    """Method B: 1.15·κ(R/X at the fault) where the bus is fed over more than one path,
    capped at 1.8 (LV) / 2.0 (MV, HV); the factor is dropped when R/X < 0.3 in all branches."""
    factor = np.where(meshed & (not all_branches_low_rx), 1.15, 1.0)
    cap = np.where(lv, 1.8, 2.0)
    return np.minimum(factor * kappa(r_over_x), cap)


def peak_current(kappa_values: NDArray[np.float64], ikss_ka: NDArray[np.float64]) -> NDArray[np.float64]:
    return kappa_values * np.sqrt(2.0) * ikss_ka


# Method C for the DC component: fc/f by f·t (IEC 60909-0, equivalent frequency for i_DC).
_DC_FC_OVER_F = ((1.0, 0.27), (2.5, 0.15), (5.0, 0.092), (12.5, 0.055))


def dc_equivalent_ratio(f_hz: float, t_s: float) -> float:
    """fc/f for the DC component at time t: 0.27 (f·t < 1), 0.15 (< 2.5), 0.092 (< 5),
    0.055 (< 12.5; also used beyond, where the DC component has died away)."""
    ft = f_hz * t_s
    return next((ratio for limit, ratio in _DC_FC_OVER_F if ft < limit), _DC_FC_OVER_F[-1][1])


def dc_component(
    ikss_ka: NDArray[np.float64], r_over_x: NDArray[np.float64], f_hz: float, t_s: float
) -> NDArray[np.float64]:
    """i_DC(t) = √2·I″k·e^(−2π·f·t·R/X) (IEC 60909-0, DC component)."""
    return np.sqrt(2.0) * ikss_ka * np.exp(-2.0 * np.pi * f_hz * t_s * np.asarray(r_over_x, dtype=float))
