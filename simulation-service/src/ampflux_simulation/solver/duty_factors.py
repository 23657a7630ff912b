"""κ and m, n of a device's own partial current where it comes through a non-meshed path.

IEC 60909-0 §8.1.2: where a fault is fed from non-meshed branches, the peak current is the
sum of the branches' partial peaks, ip = Σ_i κ_i·√2·I″k,i, each κ_i from its own R/X
(eq. 55); §8.8 (eq. 101): Ith = I″k·√(m + n), m from κ, n from I″k/Ik. So a device whose
partial current comes from such branches carries those branches' peak and heat, not the
fault bus's (the standard gives no per-branch rule in meshed networks: there the duty keeps
the bus's κ by method B or C, duty.py).

For a fault at bus B, a row E at B is a non-meshed source branch when everything behind it
(the part of the network E reaches once B is taken out) meets B through E alone (identical
parallel circuits are one path, as for κ method B) and, with every source tied to earth,
forms a tree: its sources sit at one bus and are reached over one path. Such a branch is
independent of the others while B is faulted, so its own impedance Z_E (the peak network,
R_Gf for generators) gives κ_E = κ(R_E/X_E): with a unit current drawn from B, Z_E is the
voltage change at B over the current into E. A source connected at B itself is a branch
with its own impedance.

For a device position: `fed` (a fault at B, the device carries E's partial current) takes
κ_E; `past` (a fault on E just past the device: everything but E) takes, when every other
branch at B is non-meshed, Σ κ_j·|I_j| / Σ |I_j| over those branches (positive-sequence
magnitudes), which for branches in phase is the standard's Σ ip,j. n takes the device's own
I″k/Ik: a grid branch does not decay (Ik = I″k), a generator's Ik = λ·I_rG (its steady
state alone, IEC 60909-0:2016), a motor's Ik = 0; unbalanced faults use n = 1, as at the bus.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from . import network as nw
from . import peak, thermal
from .elements import ASYNCHRONOUS, Network
from .sequences import CaseNetworks
from .topology import low_link, path_keys

# I″k/Ik is capped here where only motors feed a branch (Ik = 0), as at the bus (solve.py).
MAX_IK_RATIO = 100.0

Key = tuple[str, str, str]


@dataclass(frozen=True)
class BranchFactors:
    """The peak and thermal factors of a device's partial current: κ and x = I″k/Ik for n."""

    kappa: float
    ik_ratio: float

    def m(self, f_hz: float, tk_s: float) -> float:
        return float(thermal.m_factor(np.array([self.kappa]), f_hz, tk_s)[0])

    def n(self, tk_s: float) -> float:
        return float(thermal.n_factor(np.array([min(self.ik_ratio, MAX_IK_RATIO)]), tk_s)[0])


@dataclass
class _Branch:
    kappa: float | None  # None: not a non-meshed source branch
    current: float  # |I| of its positive-sequence partial current into B (per unit)
    steady: float  # its Ik (per unit at B, same base); = current where it does not decay
    passive: bool = False  # no source behind it: no positive-sequence current, no κ of its own


@dataclass
class BranchTable:
    """Every branch meeting at the fault bus (each row at it, each source connected at it) and
    which row end at the fault bus is which branch."""

    branches: dict[tuple[str, int], _Branch]
    rows: dict[Key, tuple[str, int]]

    def factors(self, keys: list[Key]) -> tuple[BranchFactors | None, BranchFactors | None]:
        """(factors at the `fed` position, at the `past` position) of a device on the rows
        `keys` at the fault bus; None where that position's current is not all from
        non-meshed branches."""
        mine = {self.rows[k] for k in keys if k in self.rows}
        if not mine or len(mine) != len(keys):
            return None, None
        own = [self.branches[b] for b in mine]
        others = [b for key, b in self.branches.items() if key not in mine]
        fed = _combine(own) if all(b.kappa is not None for b in own) else None
        past = _combine(others) if all(b.kappa is not None or b.passive for b in others) else None
        return fed, past


def branch_factors(
    nets: CaseNetworks,
    topology: BridgeTopology,
    bus: int,
    dv1: NDArray[np.complex128],
    fault: str,
    case: str,
) -> BranchTable | None:
    """The branches at `bus` for the device factors, None where the bus's factors apply to
    every device (converters in the network: a current source has no R/X of its own).
    `dv1` is the fault's positive-sequence voltage change (contributions.end_currents)."""
    net = nets.net
    if net.current_sources.bus.size:
        return None
    rows = np.flatnonzero((net.f == bus) | (net.t == bus))
    at_bus = {
        _key(net, r, side): ("row", r)
        for side, ends in enumerate((net.f[rows] == bus, net.t[rows] == bus))
        for r, here in zip(rows.tolist(), ends.tolist(), strict=True)
        if here and net.row_ends[r][side] is not None
    }
    if not at_bus:
        return None
    return BranchTable(_branches(nets, topology, bus, rows, dv1, fault, case), at_bus)


def _key(net: Network, r: int, side: int) -> Key:
    return (net.row_kind[r], net.row_element[r], str(net.row_ends[r][side]))


def _combine(branches: list[_Branch]) -> BranchFactors | None:
    """κ weighted by the branches' currents (Σ κ_j·|I_j| / Σ |I_j|) and their I″k/Ik; passive
    branches carry nothing and are left out."""
    branches = [b for b in branches if not b.passive]
    current = sum(b.current for b in branches)
    if current <= 0.0:
        return None
    kappa = sum(float(b.kappa or 0.0) * b.current for b in branches) / current
    steady = sum(b.steady for b in branches)
    return BranchFactors(kappa, current / steady if steady > 0 else MAX_IK_RATIO)


class BridgeTopology:
    """Which rows are bridges of the network (identical parallel circuits as one edge, the
    sources not tied together), and what lies behind each: built once per network, so a fault
    bus's branches are classified without walking the network again.

    A row E at B is a non-meshed path exactly when its edge is a bridge (what is behind it meets
    B through E alone). The part behind a bridge is the DFS subtree of its lower end, or the
    rest of its component; only the bridge leaves it, so its inner edges are (Σ degree − 1)/2."""

    def __init__(self, net: Network) -> None:
        n = net.n_bus
        # edge e is the key of its first row (identical parallel circuits once), in key order
        _, first, edge_of_row = np.unique(path_keys(net), axis=0, return_index=True, return_inverse=True)
        self.edge_of_row = edge_of_row.reshape(-1)
        ea, eb = net.f[first].tolist(), net.t[first].tolist()
        m = len(ea)
        adj: list[list[tuple[int, int]]] = [[] for _ in range(n)]
        for e in range(m):
            adj[ea[e]].append((eb[e], e))
            adj[eb[e]].append((ea[e], e))
        degree = np.array([len(a) for a in adj], dtype=np.int64)
        has_source = np.zeros(n, dtype=np.int64)
        has_source[np.unique(net.sh_bus)] = 1
        walk = low_link(adj)
        tin, low, parent_edge, comp, post = walk.tin, walk.low, walk.parent_edge, walk.comp, walk.post
        self.bridge_child = np.asarray(walk.bridge_child, dtype=np.int64)  # the lower end of each bridge
        # subtree sums in post-order: buses, degrees, source buses
        self.tin = np.array(tin, dtype=np.int64)
        self.comp = np.array(comp, dtype=np.int64)
        sub_nodes = np.ones(n, dtype=np.int64)
        sub_degree = degree.copy()
        sub_sources = has_source.copy()
        self.tout = self.tin.copy()  # the last preorder index in each subtree
        for v in post:
            e = parent_edge[v]
            if e >= 0:
                u = ea[e] if eb[e] == v else eb[e]
                sub_nodes[u] += sub_nodes[v]
                sub_degree[u] += sub_degree[v]
                sub_sources[u] += sub_sources[v]
                self.tout[u] = max(self.tout[u], self.tout[v])
        self.sub_nodes, self.sub_degree, self.sub_sources = sub_nodes, sub_degree, sub_sources
        roots = self.comp
        self.comp_nodes, self.comp_degree, self.comp_sources = sub_nodes[roots], sub_degree[roots], sub_sources[roots]
        self.source_buses = np.unique(net.sh_bus)
        self.has_source = has_source
        self.low = low
        self.f, self.t = net.f, net.t
        self.children: list[list[int]] = [[] for _ in range(n)]
        for v in range(n):
            e = parent_edge[v]
            if e >= 0:
                self.children[ea[e] if eb[e] == v else eb[e]].append(v)

    def _part_sources(self, r: int, bus: int) -> int:
        """Source buses in the part of the network row `r` leads into once `bus` is taken out:
        a DFS child subtree of `bus` that only `bus` joins to the rest (low ≥ tin[bus]), or the
        rest of the component."""
        far = int(self.t[r] if self.f[r] == bus else self.f[r])
        separated = [c for c in self.children[bus] if self.low[c] >= self.tin[bus]]
        for c in separated:
            if self.tin[c] <= self.tin[far] <= self.tout[c]:
                return int(self.sub_sources[c])
        rest = self.comp_sources[bus] - self.has_source[bus] - sum(int(self.sub_sources[c]) for c in separated)
        return int(rest)

    def behind(self, r: int, bus: int) -> tuple[str, int]:
        """What lies behind row `r` seen from `bus`: ("tree", its source bus) for a non-meshed
        source branch (a tree with its sources at one bus), ("passive", −1) for a part with no
        source, ("mesh", −1) otherwise."""
        child = int(self.bridge_child[self.edge_of_row[r]])
        if child < 0:
            # not a bridge: a mesh behind it, passive when the part it leads into has no source
            return ("passive" if self._part_sources(r, bus) == 0 else "mesh"), -1
        below = child != bus  # the subtree below the bridge, else the rest of the component above it
        if below:
            nodes, degree, sources = self.sub_nodes[child], self.sub_degree[child], self.sub_sources[child]
        else:
            nodes = self.comp_nodes[bus] - self.sub_nodes[child]
            degree = self.comp_degree[bus] - self.sub_degree[child]
            sources = self.comp_sources[bus] - self.sub_sources[child]
        if sources == 0:
            return "passive", -1
        if sources == 1 and (degree - 1) // 2 + 1 == nodes:
            # its one source bus: the source buses in the part (a mask over the buses, only here)
            inside = (self.tin >= self.tin[child]) & (self.tin <= self.tout[child])
            region = inside if below else ~inside & (self.comp == self.comp[bus])
            return "tree", int(self.source_buses[region[self.source_buses]][0])
        return "mesh", -1


def _branches(
    nets: CaseNetworks,
    topology: BridgeTopology,
    bus: int,
    rows: NDArray[np.int64],
    dv1: NDArray[np.complex128],
    fault: str,
    case: str,
) -> dict[tuple[str, int], _Branch]:
    """Every branch meeting at `bus`: each row at it (`rows`, key ("row", r)) and each source
    connected at it (key ("shunt", s))."""
    net = nets.net
    # Z_E of each row from a unit current drawn at B in the peak network (R_Gf for generators)
    dv_peak = -nets.peak.columns(np.array([bus]))[:, 0]
    stamps = nw.series_stamps(net.r1[rows] + 1j * net.x1[rows], net.ratio[rows])
    ibase = net.sn_mva / (np.sqrt(3.0) * net.base_kv)
    out: dict[tuple[str, int], _Branch] = {}
    for j, r in enumerate(rows.tolist()):
        from_side = bool(net.f[r] == bus)
        current = abs(_into_row(stamps[j], dv1, net, r, from_side))
        what, source_bus = topology.behind(r, bus)
        if what == "passive":
            # nothing behind it feeds a fault (no positive-sequence current): it weighs nothing
            out[("row", r)] = _Branch(None, current, current, passive=True)
        elif what == "mesh":
            out[("row", r)] = _Branch(None, current, current)
        else:
            into = _into_row(stamps[j], dv_peak, net, r, from_side)
            z = dv_peak[bus] / into if abs(into) > 0 else 0j
            kappa = float(peak.kappa(np.array([z.real / z.imag]))[0]) if z.imag else None
            steady = current / _ik_ratio(net, source_bus, dv1, fault, case, ibase)
            out[("row", r)] = _Branch(kappa, current, steady)
    for s in np.flatnonzero(net.sh_bus == bus).tolist():
        z_peak = complex(net.sh_z_peak[s])
        current = abs(dv1[bus] / net.sh_z[s])
        ratio = _ik_ratio(net, bus, dv1, fault, case, ibase, only=s)
        out[("shunt", s)] = _Branch(
            float(peak.kappa(np.array([z_peak.real / z_peak.imag]))[0]), current, current / ratio
        )
    return out


def _into_row(
    stamp: NDArray[np.complex128], dv: NDArray[np.complex128], net: Network, r: int, from_side: bool
) -> complex:
    vf, vt = dv[net.f[r]], dv[net.t[r]]
    return complex(stamp[0] * vf + stamp[1] * vt if from_side else stamp[2] * vf + stamp[3] * vt)


def _ik_ratio(
    net: Network,
    source_bus: int,
    dv1: NDArray[np.complex128],
    fault: str,
    case: str,
    ibase: NDArray[np.float64],
    only: int | None = None,
) -> float:
    """I″k/Ik of the sources at `source_bus` (or of the one shunt `only`): their initial
    currents' phasor sum over the sum of their steady-state currents. 1 for unbalanced faults."""
    if fault != "3ph":
        return 1.0
    shunts = [only] if only is not None else np.flatnonzero(net.sh_bus == source_bus).tolist()
    machines = {m.shunt: m for m in net.machines}
    initial = 0j
    steady = 0.0
    for s in shunts:
        i_s = -dv1[source_bus] / net.sh_z[s]
        initial += i_s
        m = machines.get(s)
        if m is None:
            steady += abs(i_s)  # a grid (or doubly fed unit): no decay
        elif m.kind in ASYNCHRONOUS:
            continue  # a motor alone: Ik = 0
        else:
            ratio = abs(i_s) * ibase[source_bus] / m.ir_ka
            lam = thermal.steady_state_lambda(
                np.array([ratio]),
                xdss_pu=m.xdss_pu,
                xdsat_pu=m.xdsat_pu,
                sin_phi=m.sin_phi,
                e_f_pu=m.e_fmax_pu if case == "max" else 1.0,
            )
            steady += float(lam[0]) * m.ir_ka / ibase[source_bus]
    return abs(initial) / steady if steady > 0 else MAX_IK_RATIO
