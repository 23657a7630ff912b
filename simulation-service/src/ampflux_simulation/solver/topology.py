"""Which buses are fed over more than one path (κ method B, topology "auto")."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from .elements import Network


@dataclass(frozen=True)
class LowLink:
    """One depth-first walk of an undirected multigraph (edges numbered 0..m−1) and what
    Tarjan's low-link values tell of it: preorder `tin`, `low`, the edge each node was reached
    by (`parent_edge`, −1 at a root), each node's DFS root (`comp`), the nodes in post-order
    (`post`), and for each edge the lower end when it is a bridge (`bridge_child`, else −1)."""

    tin: list[int]
    low: list[int]
    parent_edge: list[int]
    comp: list[int]
    post: list[int]
    bridge_child: list[int]


def low_link(adj: list[list[tuple[int, int]]]) -> LowLink:
    """The walk over `adj` (node → [(neighbour, edge)]), iterative so that a long radial feeder
    does not meet Python's recursion limit; linear in the network. Plain lists: a power
    network's nodes have a handful of edges each, where numpy's per-call cost would dominate."""
    n = len(adj)
    m = sum(len(a) for a in adj) // 2
    tin, low, parent_edge, comp = [-1] * n, [0] * n, [-1] * n, [-1] * n
    post: list[int] = []
    bridge_child = [-1] * m
    counter = 0
    for root in range(n):
        if tin[root] >= 0:
            continue
        tin[root] = low[root] = counter
        comp[root] = root
        counter += 1
        stack = [(root, 0)]
        while stack:
            v, i = stack[-1]
            if i < len(adj[v]):
                stack[-1] = (v, i + 1)
                w, e = adj[v][i]
                if e == parent_edge[v]:
                    continue
                if tin[w] < 0:
                    parent_edge[w] = e
                    tin[w] = low[w] = counter
                    comp[w] = root
                    counter += 1
                    stack.append((w, 0))
                else:
                    low[v] = min(low[v], tin[w])
            else:
                stack.pop()
                post.append(v)
                if stack:
                    u = stack[-1][0]
                    low[u] = min(low[u], low[v])
                    if low[v] > tin[u]:
                        bridge_child[parent_edge[v]] = v
    return LowLink(tin, low, parent_edge, comp, post, bridge_child)


def path_keys(net: Network) -> NDArray[np.float64]:
    """Each row's (lower bus, higher bus, R/X) key: identical parallel circuits (rows joining
    the same two buses with the same R/X) have one key and are one path."""
    lo, hi = np.minimum(net.f, net.t), np.maximum(net.f, net.t)
    with np.errstate(divide="ignore", invalid="ignore"):
        rx = np.where(net.x1 > 0, net.r1 / net.x1, np.inf)
    return np.stack([lo.astype(float), hi.astype(float), np.round(rx, 9)], axis=1)


def multiply_fed(
    n_bus: int, f: NDArray[np.int64], t: NDArray[np.int64], source_buses: NDArray[np.int64]
) -> NDArray[np.bool_]:
    """True where a bus has more than one simple path to the sources.

    All sources hang on one extra "earth" node. A bus has a single path exactly when every
    edge on its way to earth is a bridge (parallel circuits are separate edges, so they
    count as two paths). Bridges from one low-link walk (`low_link`).
    """
    earth = n_bus
    ends_a = np.concatenate([f, np.unique(source_buses)])
    ends_b = np.concatenate([t, np.full(len(np.unique(source_buses)), earth)])
    m = len(ends_a)
    adj: list[list[tuple[int, int]]] = [[] for _ in range(n_bus + 1)]
    for e in range(m):
        a, b = int(ends_a[e]), int(ends_b[e])
        adj[a].append((b, e))
        adj[b].append((a, e))
    bridge = np.asarray(low_link(adj).bridge_child, dtype=np.int64) >= 0
    # walk out from earth: a bus is multiply fed once any non-bridge edge lies behind it
    meshed = np.zeros(n_bus + 1, dtype=bool)
    seen = np.zeros(n_bus + 1, dtype=bool)
    seen[earth] = True
    queue = deque([earth])
    while queue:
        v = queue.popleft()
        for w, e in adj[v]:
            if not seen[w]:
                seen[w] = True
                meshed[w] = meshed[v] or not bridge[e]
                queue.append(w)
    return meshed[:n_bus]


def earthed(
    n_bus: int,
    f: NDArray[np.int64],
    t: NDArray[np.int64],
    coupled: NDArray[np.bool_],
    earth_nodes: NDArray[np.int64],
) -> NDArray[np.bool_]:
    """True where a bus's zero-sequence network reaches earth other than through line
    capacitance: its part of the network (rows that couple both sides) holds an earthed
    star point or a source's zero-sequence impedance. Elsewhere the network is unearthed
    (isolated or compensated) and an earth fault drives only the capacitive current."""
    from .network import islands

    label = islands(n_bus, f, t, coupled)
    grounded = np.zeros(int(label.max()) + 1 if n_bus else 0, dtype=bool)
    grounded[label[earth_nodes]] = True
    return grounded[label]
