"""Symmetrical breaking current Ib (IEC 60909-0 §8.5) with the decay factors μ and q."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

# μ = a + b·e^(−c·I″kG/IrG) at the standard minimum time delays (IEC 60909-0 eq. 70)
_MU_TABLE = np.array(
    [
        # tmin   a     b     c
        [0.02, 0.84, 0.26, 0.26],
        [0.05, 0.71, 0.51, 0.30],
        [0.10, 0.62, 0.72, 0.32],
        [0.25, 0.56, 0.94, 0.38],
    ]
)
# q = a + b·ln(m), m = rated active power per pole pair in MW (IEC 60909-0 eq. 73)
_Q_TABLE = np.array(
    [
        [0.02, 1.03, 0.12],
        [0.05, 0.79, 0.12],
        [0.10, 0.57, 0.12],
        [0.25, 0.26, 0.10],
    ]
)


def _weights(tmin_s: float) -> tuple[int, int, float]:
    """Bracketing rows of the tables and the weight of the upper one (linear in tmin;
    clamped outside 0.02…0.25 s)."""
    times = _MU_TABLE[:, 0]
    t = float(np.clip(tmin_s, times[0], times[-1]))
    hi = min(int(np.searchsorted(times, t)), len(times) - 1)
    lo = max(hi - 1, 0)
    w = 0.0 if hi == lo else (t - times[lo]) / (times[hi] - times[lo])
    return lo, hi, w


def mu_factor(ik_over_ir: NDArray[np.float64], tmin_s: float) -> NDArray[np.float64]:
    """μ ≤ 1, and μ = 1 when the machine delivers at most twice its rated current.
    Between tabulated delays the two neighbouring curves are interpolated linearly."""
    x = np.asarray(ik_over_ir, dtype=float)
    lo, hi, w = _weights(tmin_s)
    _, a0, b0, c0 = _MU_TABLE[lo]
    _, a1, b1, c1 = _MU_TABLE[hi]
    mu = (1.0 - w) * (a0 + b0 * np.exp(-c0 * x)) + w * (a1 + b1 * np.exp(-c1 * x))
    return np.where(x <= 2.0, 1.0, np.minimum(mu, 1.0))


def q_factor(power_per_pole_pair_mw: float, tmin_s: float) -> float:
    """q ≤ 1 for asynchronous motors; 1 for synchronous machines."""
    lo, hi, w = _weights(tmin_s)
    log_m = np.log(max(power_per_pole_pair_mw, 1e-9))
    q = (1.0 - w) * (_Q_TABLE[lo, 1] + _Q_TABLE[lo, 2] * log_m) + w * (_Q_TABLE[hi, 1] + _Q_TABLE[hi, 2] * log_m)
    return float(np.clip(q, 0.0, 1.0))
