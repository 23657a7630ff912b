"""The factorized sequence networks of one case: positive, zero, and the networks κ needs.

Each network is one sparse matrix and one LU; only diagonals at the fault buses and a
few columns are ever taken from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from . import network as nw
from .elements import Network
from .errors import SolverError
from .peak import EQUIVALENT_FREQUENCY_HZ
from .superlu import Csc


def positive_matrix(net: Network, *, x_scale: float = 1.0, peak: bool = False, negative: bool = False) -> Csc:
    """Y1 at the system frequency, or with every reactance scaled (method C); `peak`
    uses the generators' fictitious resistance R_Gf; `negative` gives Y2 (generators' X(2))."""
    z = net.r1 + 1j * net.x1 * x_scale
    stamps = nw.series_stamps(z, net.ratio)
    zs = net.sh_z_peak if peak else (net.sh_z2 if negative else net.sh_z)
    zs = zs.real + 1j * zs.imag * x_scale
    return nw.assemble(net.n_bus, net.f, net.t, stamps, net.sh_bus, 1.0 / zs)


def check_sources(net: Network) -> None:
    """Every bus must reach a source, else Y1 is singular: name one such bus."""
    labels = net.bus_islands
    fed = np.zeros(labels.max() + 1 if labels.size else 0, dtype=bool)
    fed[labels[net.sh_bus]] = True
    dead = np.flatnonzero(~fed[labels])
    if dead.size:
        b = int(dead[0])
        name = net.bus_ids[b] if b < net.n_real else "star point of a three-winding transformer"
        raise SolverError(
            f"bus {name} is not connected to any source (external grid, generator or motor); "
            f"{dead.size} bus(es) affected"
        )


@dataclass
class ZeroSequence:
    """Zero-sequence LU on the buses that have a path to earth."""

    fac: nw.Factorized | None
    local: NDArray[np.int64]  # bus -> row in the reduced matrix, −1 where no path to earth

    def diagonal(self, buses: NDArray[np.int64]) -> NDArray[np.complex128]:
        out = np.full(len(buses), np.inf + 0j, dtype=np.complex128)
        loc = self.local[buses]
        ok = loc >= 0
        if self.fac is not None and ok.any():
            out[ok] = self.fac.diagonal(loc[ok])
        return out

    def column(self, bus: int, n_bus: int) -> NDArray[np.complex128]:
        col = np.zeros(n_bus, dtype=np.complex128)
        if self.fac is None or self.local[bus] < 0:
            return col
        sub = self.fac.columns(np.array([self.local[bus]]))[:, 0]
        has = self.local >= 0
        col[has] = sub[self.local[has]]
        return col


def zero_sequence(net: Network) -> ZeroSequence:
    assert net.y0 is not None and net.sh0_bus is not None and net.sh0_y is not None
    y0 = net.y0
    scale = np.abs(y0).sum(axis=1) + 1e-300
    coupled = (np.abs(y0[:, 1]) + np.abs(y0[:, 2])) > 1e-12 * scale
    # an end is earthed when its stamp does not cancel against the transfer term
    earth_f = np.abs(y0[:, 0] * net.ratio**2 + y0[:, 1] * net.ratio) > 1e-9 * scale
    earth_t = np.abs(y0[:, 3] + y0[:, 2] * net.ratio) > 1e-9 * scale
    labels = nw.islands(net.n_bus, net.f, net.t, coupled)
    earthed_label = np.zeros(labels.max() + 1, dtype=bool)
    earthed_label[labels[net.sh0_bus[np.abs(net.sh0_y) > 0]]] = True
    earthed_label[labels[net.f[earth_f]]] = True
    earthed_label[labels[net.t[earth_t]]] = True
    keep = earthed_label[labels]
    local = np.full(net.n_bus, -1, dtype=np.int64)
    local[keep] = np.arange(int(keep.sum()))
    if not keep.any():
        return ZeroSequence(None, local)
    rows = keep[net.f] & keep[net.t]
    # rows touching an unearthed island carry no zero-sequence current into it: drop them
    sh = keep[net.sh0_bus]
    # a row half inside an earthed island still earths its inside end through its own stamp
    half_f = keep[net.f] & ~keep[net.t]
    half_t = keep[net.t] & ~keep[net.f]
    shunt_bus = np.concatenate([local[net.sh0_bus[sh]], local[net.f[half_f]], local[net.t[half_t]]])
    shunt_y = np.concatenate([net.sh0_y[sh], y0[half_f, 0], y0[half_t, 3]])
    y = nw.assemble(int(keep.sum()), local[net.f[rows]], local[net.t[rows]], y0[rows], shunt_bus, shunt_y)
    return ZeroSequence(nw.Factorized(y, "zero-sequence network"), local)


class CaseNetworks:
    """Lazily factorized networks of one case."""

    def __init__(self, net: Network, f_hz: float, has_generators: bool) -> None:
        self.net = net
        self.f_hz = f_hz
        self.has_generators = has_generators
        check_sources(net)
        self.pos = nw.Factorized(positive_matrix(net), "positive-sequence network")
        self._zero: ZeroSequence | None = None
        self._method_c: nw.Factorized | None = None
        self._peak: nw.Factorized | None = None
        self._dc: tuple[float, nw.Factorized] | None = None
        self._neg: nw.Factorized | None = None

    @property
    def zero(self) -> ZeroSequence:
        if self._zero is None:
            self._zero = zero_sequence(self.net)
        return self._zero

    @property
    def method_c(self) -> nw.Factorized:
        """Y at the equivalent frequency fc (20 Hz at 50 Hz, 24 Hz at 60 Hz), with R_Gf."""
        if self._method_c is None:
            scale = EQUIVALENT_FREQUENCY_HZ[int(self.f_hz)] / self.f_hz
            self._method_c = nw.Factorized(positive_matrix(self.net, x_scale=scale, peak=True), "method C network")
        return self._method_c

    @property
    def negative(self) -> nw.Factorized | None:
        """Y2 where it differs from Y1 (a generator with X″q), else None: Z2 = Z1."""
        if not np.array_equal(self.net.sh_z2, self.net.sh_z):
            if self._neg is None:
                self._neg = nw.Factorized(positive_matrix(self.net, negative=True), "negative-sequence network")
            return self._neg
        return None

    def dc_network(self, x_scale: float) -> nw.Factorized:
        """Y at fc = x_scale·f for the DC component (method C), with the real R_G: IEC 60909-0
        does not allow R_Gf for the DC component."""
        if self._dc is None or self._dc[0] != x_scale:
            self._dc = (x_scale, nw.Factorized(positive_matrix(self.net, x_scale=x_scale), "DC-component network"))
        return self._dc[1]

    @property
    def peak(self) -> nw.Factorized:
        """Y1 with R_Gf for generators and κ_WD's R/X for doubly fed wind units (methods B and
        radial); Y1 itself when no source has a separate peak model."""
        if not self.has_generators and np.array_equal(self.net.sh_z_peak, self.net.sh_z):
            return self.pos
        if self._peak is None:
            self._peak = nw.Factorized(positive_matrix(self.net, peak=True), "peak-current network")
        return self._peak
