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

import numpy as np
from numpy.typing import NDArray

from . import network as nw
from .elements import Network
from .faults import FaultCurrents

SQRT3 = math.sqrt(3.0)
A = np.exp(2j * np.pi / 3)


def _phases(v0: NDArray[np.complex128], v1: NDArray[np.complex128], v2: NDArray[np.complex128]) -> tuple[NDArray[np.complex128], ...]:
    return v0 + v1 + v2, v0 + A * A * v1 + A * v2, v0 + A * v1 + A * A * v2


def bus_angles(net: Network, fault_bus: int) -> NDArray[np.float64]:
    """Positive-sequence angle of every bus relative to the fault bus (radians), from the
    transformer shifts on a breadth-first walk; in a mesh with inconsistent shifts the
    first path found wins (the impedances ignore shifts anyway, as IEC 60909 does)."""
    theta = np.full(net.n_bus, np.nan)
    theta[fault_bus] = 0.0
    adj: list[list[tuple[int, float]]] = [[] for _ in range(net.n_bus)]
    shift = np.deg2rad(net.row_shift_deg)
    for r in range(len(net.f)):
        a, b = int(net.f[r]), int(net.t[r])
        adj[a].append((b, -shift[r]))  # the to side lags
        adj[b].append((a, shift[r]))
    queue = deque([fault_bus])
    while queue:
        v = queue.popleft()
        for w, d in adj[v]:
            if np.isnan(theta[w]):
                theta[w] = theta[v] + d
                queue.append(w)
    return np.nan_to_num(theta)


def branch_contributions(
    net: Network,
    fault_bus: int,
    seq: FaultCurrents,
    z1_col: NDArray[np.complex128],
    z0_col: NDArray[np.complex128] | None,
    y0_stamps: NDArray[np.complex128] | None,
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """({element id: currents per end}, {bus id: voltages}) for a fault at `fault_bus`.

    `seq` holds the scalar sequence currents of this fault (arrays of length 1)."""
    i1, i2, i0 = complex(seq.i1[0]), complex(seq.i2[0]), complex(seq.i0[0])
    dv1 = -z1_col * i1
    dv2 = -z1_col * i2
    dv0 = -z0_col * i0 if (z0_col is not None and i0 != 0) else np.zeros(net.n_bus, dtype=np.complex128)
    stamps1 = nw.series_stamps(net.r1 + 1j * net.x1, net.ratio)

    def end_currents(stamps: NDArray[np.complex128], dv: NDArray[np.complex128]) -> tuple[NDArray[np.complex128], NDArray[np.complex128]]:
        vf, vt = dv[net.f], dv[net.t]
        return stamps[:, 0] * vf + stamps[:, 1] * vt, stamps[:, 2] * vf + stamps[:, 3] * vt

    i1f, i1t = end_currents(stamps1, dv1)
    i2f, i2t = end_currents(stamps1, dv2)
    # into each bus's own frame: positive sequence turned by θ, negative by −θ
    rot = np.exp(1j * bus_angles(net, fault_bus))
    i1f, i1t = i1f * rot[net.f], i1t * rot[net.t]
    i2f, i2t = i2f * np.conj(rot[net.f]), i2t * np.conj(rot[net.t])
    if y0_stamps is not None:
        i0f, i0t = end_currents(y0_stamps, dv0)
    else:
        i0f = i0t = np.zeros(len(net.f), dtype=np.complex128)

    ibase = net.sn_mva / (SQRT3 * net.base_kv)  # kA per unit current, per bus
    branches: dict[str, dict[str, float]] = {}
    for r, element in enumerate(net.row_element):
        out = branches.setdefault(element, {})
        for end, bus, s1, s2, s0 in (
            (net.row_ends[r][0], net.f[r], i1f[r], i2f[r], i0f[r]),
            (net.row_ends[r][1], net.t[r], i1t[r], i2t[r], i0t[r]),
        ):
            if end is None:
                continue  # a three-winding star point is internal
            ia, ib, ic = _phases(np.array(s0), np.array(s1), np.array(s2))
            scale = float(ibase[bus])
            mags = [abs(complex(ia)) * scale, abs(complex(ib)) * scale, abs(complex(ic)) * scale]
            out[f"ikss_{end}_ka"] = max(mags)
            out[f"ia_{end}_ka"], out[f"ib_{end}_ka"], out[f"ic_{end}_ka"] = mags
            out[f"i1_{end}_ka"] = abs(s1) * scale
            out[f"i2_{end}_ka"] = abs(s2) * scale
            out[f"i0_{end}_ka"] = abs(s0) * scale
        if net.row_kind[r] in ("line", "trafo"):
            first, second = net.row_ends[r]
            out["ikss_from_ka"] = out[f"ikss_{first}_ka"]
            out["ikss_to_ka"] = out[f"ikss_{second}_ka"]

    v1 = (net.c + dv1) * rot
    v2 = dv2 * np.conj(rot)
    va, vb, vc = _phases(dv0, v1, v2)
    voltages: dict[str, dict[str, float]] = {}
    for b, bus_id in enumerate(net.bus_ids):
        voltages[bus_id] = {
            "va_pu": float(abs(va[b])),
            "vb_pu": float(abs(vb[b])),
            "vc_pu": float(abs(vc[b])),
            "v1_pu": float(abs(v1[b])),
            "v2_pu": float(abs(v2[b])),
            "v0_pu": float(abs(dv0[b])),
            # line-to-earth magnitudes in kV
            "va_kv": float(abs(va[b]) * net.base_kv[b] / SQRT3),
            "vb_kv": float(abs(vb[b]) * net.base_kv[b] / SQRT3),
            "vc_kv": float(abs(vc[b]) * net.base_kv[b] / SQRT3),
        }
    for values in branches.values():
        for q in values:
            values[q] = float(values[q])
    return branches, voltages
