"""Thermal equivalent short-circuit current Ith = I″k·√(m + n) (IEC 60909-0 §8.8)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def m_factor(kappa: NDArray[np.float64], f_hz: float, tk_s: float) -> NDArray[np.float64]:
    """Heat effect of the DC component: m = (e^(4·f·Tk·ln(κ−1)) − 1) / (2·f·Tk·ln(κ−1)),
    with the system frequency f (50 or 60 Hz). As κ → 2, m → 2 (the limit, not 0)."""
    k = np.clip(np.asarray(kappa, dtype=float), 1.0 + 1e-12, 2.0)
    a = 2.0 * f_hz * tk_s * np.log(k - 1.0)  # ≤ 0
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.where(np.abs(a) < 1e-12, 2.0, np.expm1(2.0 * a) / np.where(a == 0, 1.0, a))
    return m


def n_factor(ratio: NDArray[np.float64], tk_s: float) -> NDArray[np.float64]:
    """Heat effect of the AC component n from x = I″k/Ik (IEC 60909-0 eq. for n):

    with y = I′k/Ik = x/(0.88 + 0.17·x) and T = 3.1 s / y (subtransient time constant T/10),
    n = [1 + T/(20Tk)(1−e^(−20Tk/T))(x−y)² + T/(2Tk)(1−e^(−2Tk/T))(y−1)²
           + T/(5Tk)(1−e^(−10Tk/T))(x−y) + 2T/Tk(1−e^(−Tk/T))(y−1)
           + T/(5.5Tk)(1−e^(−11Tk/T))(x−y)(y−1)] / x².
    n = 1 for x ≤ 1 (far from generators)."""
    x = np.maximum(np.asarray(ratio, dtype=float), 1.0)
    y = x / (0.88 + 0.17 * x)
    t = 3.1 / y
    tk = tk_s
    s = (
        1.0
        + t / (20 * tk) * -np.expm1(-20 * tk / t) * (x - y) ** 2
        + t / (2 * tk) * -np.expm1(-2 * tk / t) * (y - 1) ** 2
        + t / (5 * tk) * -np.expm1(-10 * tk / t) * (x - y)
        + 2 * t / tk * -np.expm1(-tk / t) * (y - 1)
        + t / (5.5 * tk) * -np.expm1(-11 * tk / t) * (x - y) * (y - 1)
    )
    return np.where(x <= 1.0, 1.0, s / x**2)


def thermal_current(
    ikss_ka: NDArray[np.float64], m: NDArray[np.float64], n: NDArray[np.float64]
) -> NDArray[np.float64]:
    return ikss_ka * np.sqrt(m + n)


def steady_state_lambda(
    ik_over_ir: NDArray[np.float64],
    *,
    xdss_pu: float,
    xdsat_pu: float,
    sin_phi: float,
    e_f_pu: float,
) -> NDArray[np.float64]:
    """λ = Ik/I_rG of a synchronous generator feeding a fault alone (IEC 60909-0:2016 steady state).

    The standard gives λmax/λmin as curves over I″kG/I_rG (Figs. 18, 19); this is the model
    behind them: the steady-state current is the excitation EMF E_f behind x_dsat and the
    external reactance x_e between terminals and fault, λ = E_f/(x_dsat + x_e), where x_e
    follows from I″kG/I_rG = E″/(x″d + x_e) with E″ = 1 + x″d·sin φ_rG. λmax takes
    E_f = (U_fmax/U_fr)·|1 + j·x_dsat·(cos φ − j·sin φ)| (ceiling excitation after rated
    load), λmin E_f = 1 (no-load excitation). λ never exceeds I″kG/I_rG."""
    r = np.maximum(np.asarray(ik_over_ir, dtype=float), 1e-12)
    x_e = np.maximum((1.0 + xdss_pu * sin_phi) / r - xdss_pu, 0.0)
    return np.minimum(e_f_pu / (xdsat_pu + x_e), r)
