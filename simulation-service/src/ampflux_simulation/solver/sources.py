"""Converter-interfaced and wind sources (IEC 60909-0:2016).

* Wind power station units with doubly fed asynchronous generator (type 3): an impedance
  Z_WD = √2·κ_WD·U_rTHV/(√3·i_WD,max) with the manufacturer's R/X. Its κ_WD enters the
  peak-current networks as a fictitious R/X (like R_Gf of a generator), so a fault fed
  by the unit alone has ip = κ_WD·√2·I″k_WD.
* Asynchronous generators (wind type 1/2): like asynchronous motors,
  Z_G = (1/(I_LR/I_rG))·U_rG²/S_rG with the given R/X.
* Power station units with full size converter (PV, batteries, type-4 wind): current
  sources I_skPF = k·I_rG in the positive sequence. The standard adds their share to the
  equivalent voltage source's current as magnitudes, each transferred through the
  positive-sequence nodal impedance matrix:
  I″k = c·Un/(√3·|Z_k|) + (1/|Z_ii|)·Σ_j |Z_ij|·I_skPF,j (three-phase fault at bus i),
  and likewise for the other faults with √3/|Z(1)+Z(2)|, 3/|Z(1)+Z(2)+Z(0)|. Each is the
  fault formula with the source voltage c replaced by c + Σ_j |Z_ij|·I_skPF,j (per unit),
  which is how the solver applies it (`current_source_voltage`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from . import network as nw

SQRT2, SQRT3 = math.sqrt(2.0), math.sqrt(3.0)
# Current-source columns per block: n × block complex values (~32 MB).
MAX_COLUMNS_ENTRIES = 2**21
# A converter enters a bus's trail when it carries more than this share of the converters' current there.
TRAIL_MIN_SHARE = 0.05


def kappa_rx(kappa: float) -> float:
    """R/X for which κ = 1.02 + 0.98·e^(−3R/X) equals `kappa` (1.02 < κ ≤ 2)."""
    return max(-math.log((kappa - 1.02) / 0.98) / 3.0, 0.0)


def dfig_impedance_ohm(vn_kv: float, kappa: float, ip_max_ka: float, rx: float) -> tuple[complex, complex]:
    """(Z_WD, Z_WD for ip) in Ω at vn_kv: |Z_WD| = √2·κ_WD·U/(√3·i_WD,max); the peak model keeps X
    and takes the R/X of κ_WD."""
    z = SQRT2 * kappa * vn_kv / (SQRT3 * ip_max_ka)
    x = z / math.sqrt(1.0 + rx * rx)
    return complex(rx * x, x), complex(kappa_rx(kappa) * x, x)


def async_generator_impedance_ohm(sn_mva: float, vn_kv: float, lrc_pu: float, rx: float) -> complex:
    """Z_G = (1/(I_LR/I_rG))·U_rG²/S_rG with R/X = rx, in Ω at vn_kv."""
    z = vn_kv**2 / (lrc_pu * sn_mva)
    x = z / math.sqrt(1.0 + rx * rx)
    return complex(rx * x, x)


def converter_current_ka(sn_mva: float, vn_kv: float, k: float) -> float:
    """I_skPF = k·I_rG with I_rG = S_rG/(√3·U_rG)."""
    return k * sn_mva / (SQRT3 * vn_kv)


@dataclass
class CurrentSources:
    """Full converters of one case: per-unit current magnitudes on their bus's base."""

    bus: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    i_pu: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    element: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.element)


@dataclass
class SourceVoltage:
    """Σ_j |Z_ij|·I_skPF,j at each fault bus (per unit) and each converter's share of it."""

    voltage_pu: NDArray[np.float64]
    shares: list[dict[str, float]]


def current_source_voltage(fac: nw.Factorized, sources: CurrentSources, buses: NDArray[np.int64]) -> SourceVoltage:
    """The converters' addition to the source voltage at each of `buses`.

    Y is symmetric, so the column of a converter's bus gives Z_ij for every fault bus i;
    converters on one bus share a column. Columns are solved a block at a time."""
    nb = len(buses)
    total = np.zeros(nb)
    shares: list[dict[str, float]] = [{} for _ in range(nb)]
    if not sources:
        return SourceVoltage(total, shares)
    cs_bus = np.unique(sources.bus)
    parts = np.zeros((nb, len(sources.element)))
    block = max(1, MAX_COLUMNS_ENTRIES // max(fac.n, 1))
    for start in range(0, len(cs_bus), block):
        chunk = cs_bus[start : start + block]
        z_abs = np.abs(fac.columns(chunk)[buses, :])  # nb × chunk
        for j, bus in enumerate(chunk):
            for e in np.flatnonzero(sources.bus == bus):
                parts[:, e] = z_abs[:, j] * sources.i_pu[e]
    total = parts.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total[:, None] > 0, parts / total[:, None], 0.0)
    for b, e in zip(*np.nonzero(share > TRAIL_MIN_SHARE), strict=True):
        shares[int(b)][sources.element[int(e)]] = float(share[b, e])
    return SourceVoltage(total, shares)


def fault_injection(
    fac: nw.Factorized, sources: CurrentSources, z1_col: NDArray[np.complex128]
) -> tuple[float, NDArray[np.complex128] | None]:
    """For branch currents of a fault at bus k (z1_col = Z[:, k]): the converters' source
    voltage Σ_j |Z_kj|·I_skPF,j at k and the bus voltage change their injections cause.

    Each injection is turned by −arg(Z_kj), so its share at the fault is in phase with c and
    the shares add as magnitudes, as at the bus; with the fault's sequence currents taken for
    the source voltage c + Σ, the branch currents then add up to the bus's I″k."""
    if not sources:
        return 0.0, None
    z_kj = z1_col[sources.bus]
    injection = np.zeros(fac.n, dtype=np.complex128)
    np.add.at(injection, sources.bus, sources.i_pu * np.exp(-1j * np.angle(z_kj)))
    return float(np.abs(z_kj) @ sources.i_pu), fac.lu.solve(injection)
