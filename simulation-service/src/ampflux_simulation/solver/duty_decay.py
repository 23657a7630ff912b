"""Which machines' decay a breaker sees: the decaying part of its breaking current.

IEC 60909-0 eq. 75 lowers a 3ph fault's I″k by each machine's reduction
R_i = (ΔU″_i/(c·Un/√3))·(1 − μ_i·q_i)·I″k_i to give Ib. A breaker carries only part of the
fault current, and part of each machine's: the feeder breaker of a motor, for a fault just
past it, carries everything but that motor, so none of its decay. So each R_i is split by
the share of machine i's own fault current that passes the device: with the fault bus
earthed, machine i as its Norton source c/Z_i alone drives the voltages
v = (Z[:, i] − Z[:, k]·Z[k, i]/Z[k, k])·c/Z_i and the current Z[k, i]/Z[k, k]·c/Z_i into the
fault; the branch stamps give its current through each end at the fault bus. Y is complex
symmetric, so Z[k, i] = Z[i, k] comes from the fault bus's column.

The result per branch end at the fault bus is the weighted share Σ_i w_i·|I_i,d|/|I_i,F| with
w_i = R_i/Σ R, once for a fault at the bus ("fed": the element's current into it) and once
for a fault on the element just past the device ("past": the fault current minus it). The
device's Ib is then I″k,d − (I″k − Ib)·share: the bus's own decay (eq. 70, 73 or 75, any
tmin) split by where the decaying machines are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from . import breaking
from . import network as nw
from .elements import ASYNCHRONOUS, Network


class MachineColumns:
    """Columns of Z at the machine buses of one network, taken once (one solve per bus)."""

    def __init__(self, net: Network, pos: nw.Factorized) -> None:
        self.buses = np.unique(np.array([m.bus for m in net.machines], dtype=np.int64))
        self.position = {int(b): j for j, b in enumerate(self.buses)}
        self.z = pos.columns(self.buses) if self.buses.size else np.zeros((net.n_bus, 0), dtype=np.complex128)


@dataclass
class DecayTerms:
    """Per machine i: its weight w_i and, per branch end at the fault bus, r_i = (its current
    into that row) / (its current into the fault), complex: the shares of several rows taken
    together are w·|Σ r| (fed) and w·|1 + Σ r| (past)."""

    weights: NDArray[np.float64]
    ratios: dict[tuple[str, str, str], NDArray[np.complex128]]

    def shares(self, keys: list[tuple[str, str, str]]) -> tuple[float, float] | None:
        if not keys or any(k not in self.ratios for k in keys):
            return None
        r = sum((self.ratios[k] for k in keys), np.zeros(len(self.weights), dtype=np.complex128))
        return float(self.weights @ np.abs(r)), float(self.weights @ np.abs(1.0 + r))


def decay_shares(
    net: Network,
    columns: MachineColumns,
    bus: int,
    z1_col: NDArray[np.complex128],
    c: float,
    tmin_s: float,
) -> DecayTerms | None:
    """The machines' decay shares (DecayTerms) of the branch ends at `bus` (a 3ph fault
    there); None without machines."""
    if not net.machines:
        return None
    at_bus = np.flatnonzero((net.f == bus) | (net.t == bus))
    rows = [
        (r, side)
        for r, side in zip(at_bus.tolist(), (net.f[at_bus] != bus).astype(int).tolist(), strict=True)
        if net.row_ends[r][side] is not None
    ]
    if not rows:
        return None
    z_kk = z1_col[bus]
    ibase = net.sn_mva / (math.sqrt(3.0) * net.base_kv)
    i_k = c / z_kk
    weights: list[float] = []
    ratios: list[NDArray[np.complex128]] = []
    index = np.array([r for r, _ in rows], dtype=np.int64)
    at_from = np.array([side == 0 for _, side in rows])
    s = nw.series_stamps(net.r1[index] + 1j * net.x1[index], net.ratio[index])
    for m in net.machines:
        z_m = complex(net.sh_z[m.shunt])
        # its reduction at the fault, as solve_study takes it (eq. 75)
        dv = z1_col[m.bus] * i_k
        i_pu = abs(dv / z_m)
        mu = float(breaking.mu_factor(np.array([i_pu * ibase[m.bus] / m.ir_ka]), tmin_s)[0])
        q = breaking.q_factor(m.power_per_pole_pair_mw, tmin_s) if m.kind in ASYNCHRONOUS else 1.0
        reduction = abs(dv) / c * (1.0 - mu * q) * i_pu
        if reduction <= 0.0:
            continue
        # the machine alone, the fault bus earthed
        source = c / z_m
        v = (columns.z[:, columns.position[m.bus]] - z1_col * (z1_col[m.bus] / z_kk)) * source
        i_fault = z1_col[m.bus] / z_kk * source
        vf, vt = v[net.f[index]], v[net.t[index]]
        into_row = np.where(at_from, s[:, 0] * vf + s[:, 1] * vt, s[:, 2] * vf + s[:, 3] * vt)
        weights.append(reduction)
        ratios.append(into_row / i_fault)
    if not weights:
        return None
    w = np.array(weights) / sum(weights)
    by_row = np.vstack(ratios)  # machines × rows
    return DecayTerms(
        w,
        {
            (net.row_kind[r], net.row_element[r], str(net.row_ends[r][side])): by_row[:, n]
            for n, (r, side) in enumerate(rows)
        },
    )
