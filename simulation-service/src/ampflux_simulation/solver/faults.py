"""Fault formulas with the equivalent voltage source c·Un/√3 at the fault (per unit, E = c).

Each fault gives the symmetrical-component currents flowing into the fault (Z2 = Z1).
A bus without a zero-sequence path has Z0 = ∞ (passed as `None` entries / non-finite),
which makes 1ph currents zero and 2phg a line-to-line fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

FAULTS = ("3ph", "2ph", "1ph", "2phg")
A = np.exp(2j * np.pi / 3)  # the operator a = e^(j120°)


@dataclass
class FaultCurrents:
    """Per-unit sequence currents into the fault (arrays over buses)."""

    i1: NDArray[Any]
    i2: NDArray[Any]
    i0: NDArray[Any]

    def phases(self) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
        ia = self.i0 + self.i1 + self.i2
        ib = self.i0 + A * A * self.i1 + A * self.i2
        ic = self.i0 + A * self.i1 + A * A * self.i2
        return ia, ib, ic


def sequence_currents(
    fault: str,
    e: NDArray[np.float64],
    z1: NDArray[np.complex128],
    z0: NDArray[np.complex128] | None,
    zf: complex | NDArray[Any],
    z2: NDArray[np.complex128] | None = None,
) -> FaultCurrents:
    """3ph: I1 = E/(Z1+Zf). 2ph (b–c): I1 = −I2 = E/(Z1+Z2+Zf).
    1ph (a–earth): I1 = I2 = I0 = E/(Z1+Z2+Z0+3Zf). 2phg (b, c–earth through Zf):
    I1 = E/(Z1 + Z2‖(Z0+3Zf)), I2 = −I1·(Z0+3Zf)/(Z2+Z0+3Zf), I0 = −I1·Z2/(Z2+Z0+3Zf).
    Z2 = Z1 unless given (generators with X″q: X(2) = (X″d + X″q)/2)."""
    z2 = z1 if z2 is None else z2
    zero = np.zeros_like(z1)
    if fault == "3ph":
        i1 = e / (z1 + zf)
        return FaultCurrents(i1, zero.copy(), zero.copy())
    if fault == "2ph":
        i1 = e / (z1 + z2 + zf)
        return FaultCurrents(i1, -i1, zero.copy())
    assert z0 is not None
    earthed = np.isfinite(z0)
    z0e = np.where(earthed, z0, 0.0)
    if fault == "1ph":
        i = np.where(earthed, e / np.where(earthed, z1 + z2 + z0e + 3.0 * zf, 1.0), 0.0)
        return FaultCurrents(i, i.copy(), i.copy())
    if fault == "2phg":
        zg = z0e + 3.0 * zf
        den = z2 + zg
        i1 = np.where(earthed, e / (z1 + z2 * zg / den), e / (z1 + z2))
        i2 = np.where(earthed, -i1 * zg / den, -i1)
        i0 = np.where(earthed, -i1 * z2 / den, 0.0)
        return FaultCurrents(i1, i2, i0)
    raise ValueError(f"unknown fault type {fault!r}")


def fault_current_pu(fault: str, seq: FaultCurrents) -> NDArray[np.float64]:
    """The I″k a study reports: the current of the faulted phase(s), the larger one for 2phg."""
    ia, ib, ic = seq.phases()
    if fault in ("3ph", "1ph"):
        return np.abs(ia)
    return np.maximum(np.abs(ib), np.abs(ic))


def earth_current_pu(seq: FaultCurrents) -> NDArray[np.float64]:
    """I″kE2E = |3·I0|."""
    return np.abs(3.0 * seq.i0)
