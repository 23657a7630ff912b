"""Branch currents and post-fault bus voltages for one fault bus.

Superposition with the equivalent source at the fault: the fault draws the sequence
currents I1, I2, I0 from bus k, so ΔV_s = −Z_s[:, k]·I_s in each sequence (Z2 = Z1) and
the branch currents follow from each row's two-port stamps. Pre-fault voltages are
c per unit everywhere and there is no pre-fault load flow, so branch currents are the
fault's alone. The short-circuit impedances do not depend on transformer phase shifts,
but phase currents and voltages do: positive-sequence quantities at a bus are turned by
the shift accumulated on the way from the fault bus (negative sequence the other way),
so a line-to-line fault behind a Dy transformer shows its 2:1:1 pattern on the HV side.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from . import network as nw
from .elements import Network
from .errors import SolverError
from .faults import FaultCurrents

SQRT3 = math.sqrt(3.0)
A = np.exp(2j * np.pi / 3)


def phases(
    v0: NDArray[np.complex128], v1: NDArray[np.complex128], v2: NDArray[np.complex128]
) -> tuple[NDArray[np.complex128], ...]:
    """Phase a, b, c quantities from the zero, positive and negative sequence ones."""
    return v0 + v1 + v2, v0 + A * A * v1 + A * v2, v0 + A * v1 + A * A * v2


@dataclass
class EndCurrents:
    """Sequence currents flowing from each row's `from` (f) and `to` (t) bus into the row, per
    unit of that bus's current base and in that bus's own frame (positive sequence turned by
    the transformer shifts from the fault bus, negative the other way). At the fault bus the
    frame is the fault's own, so these add directly to the fault's sequence currents."""

    f1: NDArray[np.complex128]
    f2: NDArray[np.complex128]
    f0: NDArray[np.complex128]
    t1: NDArray[np.complex128]
    t2: NDArray[np.complex128]
    t0: NDArray[np.complex128]


def bus_angles(net: Network, fault_bus: int) -> NDArray[np.float64]:
    """Positive-sequence angle of every bus relative to the fault bus (radians), from the
    transformer shifts on a breadth-first walk (done once per network); in a mesh with
    inconsistent shifts the first path found wins (the impedances ignore shifts anyway,
    as IEC 60909 does)."""
    if net.angles is None:
        theta = np.full(net.n_bus, np.nan)
        adj: list[list[tuple[int, float]]] = [[] for _ in range(net.n_bus)]
        shift = np.deg2rad(net.row_shift_deg).tolist()
        for r, (a, b) in enumerate(zip(net.f.tolist(), net.t.tolist(), strict=True)):
            adj[a].append((b, -shift[r]))  # the to side lags
            adj[b].append((a, shift[r]))
        for root in range(net.n_bus):
            if not np.isnan(theta[root]):
                continue
            theta[root] = 0.0
            queue = deque([root])
            while queue:
                v = queue.popleft()
                for w, d in adj[v]:
                    if np.isnan(theta[w]):
                        theta[w] = theta[v] + d
                        queue.append(w)
        net.angles = theta
    return net.angles - net.angles[fault_bus]


def end_currents(
    net: Network,
    fault_bus: int,
    seq: FaultCurrents,
    z1_col: NDArray[np.complex128],
    z0_col: NDArray[np.complex128] | None,
    y0_stamps: NDArray[np.complex128] | None,
    z2_col: NDArray[np.complex128] | None = None,
    dv1_sources: NDArray[np.complex128] | None = None,
) -> tuple[EndCurrents, tuple[NDArray[np.complex128], ...]]:
    """(the currents at both ends of every row, the bus voltage changes dv0, dv1, dv2 and the
    bus frame rotation) for a fault at `fault_bus`; `seq` holds the scalar sequence currents
    of this fault (arrays of length 1). `dv1_sources` is the converters' injections' own
    voltage change (sources.fault_injection); `seq` must then be taken for c + their Σ."""
    i1, i2, i0 = complex(seq.i1[0]), complex(seq.i2[0]), complex(seq.i0[0])
    dv1 = -z1_col * i1
    if dv1_sources is not None:
        dv1 = dv1 + dv1_sources
    dv2 = -(z1_col if z2_col is None else z2_col) * i2
    dv0 = -z0_col * i0 if (z0_col is not None and i0 != 0) else np.zeros(net.n_bus, dtype=np.complex128)
    stamps1 = nw.series_stamps(net.r1 + 1j * net.x1, net.ratio)

    def two_port(
        stamps: NDArray[np.complex128], dv: NDArray[np.complex128]
    ) -> tuple[NDArray[np.complex128], NDArray[np.complex128]]:
        vf, vt = dv[net.f], dv[net.t]
        return stamps[:, 0] * vf + stamps[:, 1] * vt, stamps[:, 2] * vf + stamps[:, 3] * vt

    i1f, i1t = two_port(stamps1, dv1)
    i2f, i2t = two_port(stamps1, dv2)
    # into each bus's own frame: positive sequence turned by θ, negative by −θ
    rot = np.exp(1j * bus_angles(net, fault_bus))
    i1f, i1t = i1f * rot[net.f], i1t * rot[net.t]
    i2f, i2t = i2f * np.conj(rot[net.f]), i2t * np.conj(rot[net.t])
    if y0_stamps is not None:
        i0f, i0t = two_port(y0_stamps, dv0)
    else:
        i0f = i0t = np.zeros(len(net.f), dtype=np.complex128)
    return EndCurrents(i1f, i2f, i0f, i1t, i2t, i0t), (dv0, dv1, dv2, rot)


def branch_contributions(
    net: Network,
    fault_bus: int,
    seq: FaultCurrents,
    z1_col: NDArray[np.complex128],
    z0_col: NDArray[np.complex128] | None,
    y0_stamps: NDArray[np.complex128] | None,
    z2_col: NDArray[np.complex128] | None = None,
    dv1_sources: NDArray[np.complex128] | None = None,
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """({element id: currents per end}, {bus id: voltages}) for a fault at `fault_bus`.

    `seq` holds the scalar sequence currents of this fault (arrays of length 1)."""
    ends_pu, (dv0, dv1, dv2, rot) = end_currents(net, fault_bus, seq, z1_col, z0_col, y0_stamps, z2_col, dv1_sources)
    i1f, i2f, i0f, i1t, i2t, i0t = ends_pu.f1, ends_pu.f2, ends_pu.f0, ends_pu.t1, ends_pu.t2, ends_pu.t0

    ibase = net.sn_mva / (SQRT3 * net.base_kv)  # kA per unit current, per bus
    # magnitudes in kA for both ends of every row, computed as whole arrays
    ends: dict[str, dict[str, list[float]]] = {}
    for side, bus, s1, s2, s0 in (("f", net.f, i1f, i2f, i0f), ("t", net.t, i1t, i2t, i0t)):
        scale = ibase[bus]
        ia, ib, ic = phases(s0, s1, s2)
        mags = np.abs(np.vstack([ia, ib, ic])) * scale
        cols = {
            "ikss": mags.max(axis=0),
            "ia": mags[0],
            "ib": mags[1],
            "ic": mags[2],
            "i1": np.abs(s1) * scale,
            "i2": np.abs(s2) * scale,
            "i0": np.abs(s0) * scale,
        }
        if not all(np.all(np.isfinite(arr)) for arr in cols.values()):
            raise SolverError(f"branch currents for a fault at {net.bus_ids[fault_bus]} are not finite")
        ends[side] = {name: arr.tolist() for name, arr in cols.items()}

    branches: dict[str, dict[str, float]] = {}
    for r, element in enumerate(net.row_element):
        out = branches.setdefault(element, {})
        for side, end in zip(("f", "t"), net.row_ends[r], strict=True):
            if end is None:
                continue  # a three-winding star point is internal
            e = ends[side]
            for name in ("ikss", "ia", "ib", "ic", "i1", "i2", "i0"):
                out[f"{name}_{end}_ka"] = e[name][r]
        if net.row_kind[r] in ("line", "trafo"):
            first, second = net.row_ends[r]
            out["ikss_from_ka"] = out[f"ikss_{first}_ka"]
            out["ikss_to_ka"] = out[f"ikss_{second}_ka"]

    v1 = (net.c + dv1) * rot
    v2 = dv2 * np.conj(rot)
    va, vb, vc = phases(dv0, v1, v2)
    n = net.n_real
    kv = net.base_kv[:n] / SQRT3
    cols_v = {
        "va_pu": np.abs(va[:n]),
        "vb_pu": np.abs(vb[:n]),
        "vc_pu": np.abs(vc[:n]),
        "v1_pu": np.abs(v1[:n]),
        "v2_pu": np.abs(v2[:n]),
        "v0_pu": np.abs(dv0[:n]),
        # line-to-earth magnitudes in kV
        "va_kv": np.abs(va[:n]) * kv,
        "vb_kv": np.abs(vb[:n]) * kv,
        "vc_kv": np.abs(vc[:n]) * kv,
    }
    for arr in cols_v.values():
        if not np.all(np.isfinite(arr)):
            raise SolverError(f"post-fault voltages for a fault at {net.bus_ids[fault_bus]} are not finite")
    lists = {name: arr.tolist() for name, arr in cols_v.items()}
    voltages = {bus_id: {name: lists[name][b] for name in lists} for b, bus_id in enumerate(net.bus_ids)}
    return branches, voltages
