"""Sparse bus admittance matrices, one LU factorization each, and the few entries of
Z = Y⁻¹ a study needs: the diagonal and single columns.

The diagonal comes from the LU factors by selected inversion (Takahashi's equations):
Y is complex symmetric, so with a symmetric ordering and diagonal pivots P·Y·Pᵀ = L·D·Lᵀ
and the entries of Z on the pattern of L follow column by column from the last one,
Z[S,j] = −Z[S,S]·L[S,j], Z[j,j] = 1/D_j − L[S,j]ᵀ·Z[S,j] (S = rows of L's column j).
That costs about Σ|S|² operations and memory of the size of L. A column needs Z only on
rows of its ancestors in the elimination tree, so all columns of one tree level are done
together in numpy (power networks give shallow, wide trees: 21 levels at 8.7k buses); a
deep narrow tree or a dense separator goes column by column instead. When the LU did not pivot
on the diagonal, blocks of unit vectors are solved instead (at most `MAX_BLOCK_ENTRIES`
values at a time). A dense inverse is never formed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import SolverError
from .superlu import Csc, Lu, csc_from_triplets, factor

# Relative residual above which a factorization is called ill-conditioned.
RESIDUAL_LIMIT = 1e-8
# Estimated 1-norm condition number above which results could lose more than ~3 digits.
CONDITION_LIMIT = 1e13
# Right-hand sides per batched solve: bounded so that n × block complex values stay ~32 MB.
MAX_BLOCK_ENTRIES = 2**21
# Below this many wanted entries, solving unit vectors is cheaper than selected inversion.
SELECTED_INVERSION_MIN = 32


def assemble(
    n: int,
    f: NDArray[np.int64],
    t: NDArray[np.int64],
    stamps: NDArray[np.complex128],
    shunt_bus: NDArray[np.int64],
    shunt_y: NDArray[np.complex128],
) -> Csc:
    """Y from two-port stamps (rows × [yff, yft, ytf, ytt]) and shunt admittances."""
    rows = np.concatenate([f, f, t, t, shunt_bus])
    cols = np.concatenate([f, t, f, t, shunt_bus])
    vals = np.concatenate([stamps[:, 0], stamps[:, 1], stamps[:, 2], stamps[:, 3], shunt_y])
    return csc_from_triplets(n, rows, cols, vals)


def series_stamps(z: NDArray[np.complex128], ratio: NDArray[np.float64]) -> NDArray[np.complex128]:
    """Two-port stamps of a series impedance (to side) behind an ideal ratio (from side)."""
    y = 1.0 / z
    return np.column_stack([y / ratio**2, -y / ratio, -y / ratio, y])


def islands(n: int, f: NDArray[np.int64], t: NDArray[np.int64], coupled: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Connected-component label per bus (0, 1, … in the order of each island's lowest bus),
    counting only the rows flagged `coupled`.

    In numpy, by hooking and pointer jumping: each round, every root takes the lowest root
    across its rows, then every bus points straight at its root; each round at least halves
    an island's roots, so a few rounds do (a search in Python took ~4 ms at 8.7k buses)."""
    a, b = f[coupled], t[coupled]
    root = np.arange(n, dtype=np.int64)
    while a.size:
        ra, rb = root[a], root[b]
        apart = ra != rb
        if not apart.any():
            break
        # only rows still joining two trees matter from here on
        a, b, ra, rb = a[apart], b[apart], ra[apart], rb[apart]
        np.minimum.at(root, np.maximum(ra, rb), np.minimum(ra, rb))
        while True:
            up = root[root]
            if np.array_equal(up, root):
                break
            root = up
    # an island's root is its lowest bus (roots only ever point lower)
    return np.unique(root, return_inverse=True)[1].astype(np.int64)


def _scrambled(n: int) -> NDArray[np.complex128]:
    """A fixed vector with no structure a network could line up with, in [-1, 1] + j[-1, 1]
    (the fractional parts of a sine hash; numpy.random's import would cost more than it)."""
    k = np.arange(n, dtype=np.float64)
    re = np.sin(k * 12.9898 + 78.233) * 43758.5453
    im = np.sin(k * 39.3467 + 11.135) * 24634.6345
    return (2.0 * (re - np.floor(re)) - 1.0) + 1j * (2.0 * (im - np.floor(im)) - 1.0)


class Factorized:
    """One sparse LU of an admittance matrix and the impedance entries taken from it."""

    def __init__(self, y: Csc, what: str) -> None:
        self.n = y.n
        self.what = what
        self._diag: NDArray[np.complex128] | None = None
        if self.n == 0:
            raise SolverError(f"{what}: the network has no buses to solve")
        # Diagonal pivots keep P·Y·Pᵀ = L·D·Lᵀ symmetric (needed for selected inversion);
        # admittance matrices are diagonally dominant enough for that. Should it fail,
        # SuperLU's own threshold pivoting is the fallback.
        try:
            self.lu = self._factor(y, {"SymmetricMode": True, "DiagPivotThresh": 0.0})
            self._check_conditioning(y)
        except SolverError:
            self.lu = self._factor(y, {"SymmetricMode": True})
            self._check_conditioning(y)

    def _factor(self, y: Csc, options: dict[str, Any]) -> Lu:
        try:
            # The matrix is structurally symmetric: ordering on A+Aᵀ keeps fill low.
            return factor(y, options)
        except RuntimeError as exc:
            raise SolverError(
                f"{self.what}: the admittance matrix is singular ({exc}); check for elements with zero impedance "
                "or parts of the network without a source"
            ) from exc

    def _check_conditioning(self, y: Csc) -> None:
        # One solve with a known right-hand side: a large residual means the LU cannot be trusted.
        b = _scrambled(self.n)
        x = self.lu.solve(b)
        if not np.all(np.isfinite(x)):
            raise SolverError(f"{self.what}: the admittance matrix is singular (non-finite solution)")
        res = np.linalg.norm(y.matvec(x) - b) / np.linalg.norm(b)
        if not res < RESIDUAL_LIMIT:
            raise SolverError(
                f"{self.what}: the admittance matrix is ill-conditioned (relative residual {res:.1e}); "
                "check for extreme impedance ratios"
            )
        # ‖Y‖₁·‖x‖₁/‖b‖₁ is a cheap lower bound of the condition number (a random b has a
        # component along the worst direction, so it is rarely far below it)
        cond = y.max_abs_column_sum() * np.abs(x).sum() / np.abs(b).sum()
        if not cond < CONDITION_LIMIT:
            raise SolverError(
                f"{self.what}: the admittance matrix is ill-conditioned (condition number ≳ {cond:.1e}); "
                "check for elements with near-zero or extreme impedances"
            )

    def diagonal(self, buses: NDArray[np.int64] | None = None) -> NDArray[np.complex128]:
        """Z_kk for the given buses (all when None)."""
        idx = np.arange(self.n) if buses is None else np.asarray(buses, dtype=np.int64)
        if len(idx) > SELECTED_INVERSION_MIN:
            if self._diag is None:
                self._diag = selected_inverse_diagonal(self.lu)
            if self._diag is not None:
                return self._diag[idx]
        return self.diagonal_by_solves(idx)

    def diagonal_by_solves(self, idx: NDArray[np.int64]) -> NDArray[np.complex128]:
        """Z_kk by batched solves of unit vectors (memory: n × block values)."""
        out = np.empty(len(idx), dtype=np.complex128)
        block = max(1, min(len(idx), MAX_BLOCK_ENTRIES // self.n, 512))
        for start in range(0, len(idx), block):
            sel = idx[start : start + block]
            k = len(sel)
            rhs = np.zeros((self.n, k), dtype=np.complex128)
            rhs[sel, np.arange(k)] = 1.0
            sol = self.lu.solve(rhs)
            out[start : start + k] = sol[sel, np.arange(k)]
        return out

    def columns(self, buses: NDArray[np.int64]) -> NDArray[np.complex128]:
        """Z[:, buses] (n × len(buses)); for a few buses only (branch currents, machines)."""
        idx = np.asarray(buses, dtype=np.int64)
        rhs = np.zeros((self.n, len(idx)), dtype=np.complex128)
        rhs[idx, np.arange(len(idx))] = 1.0
        return self.lu.solve(rhs)


def selected_inverse_diagonal(lu: Lu) -> NDArray[np.complex128] | None:
    """diag(Y⁻¹) from an LU of a complex symmetric Y; None when the LU is not symmetric
    (row and column permutations differ), so the caller falls back to solves."""
    perm_r, perm_c = lu.perm_r, lu.perm_c
    if not np.array_equal(perm_r, perm_c):
        return None
    lower = lu.lower()
    d = lu.u_diagonal()
    if np.any(d == 0):
        return None
    plan = _level_plan(lower)
    z_diag = _by_levels(plan, lower, d) if plan is not None else _by_columns(lower, d)
    if z_diag is None:
        return None
    # column i of Y sits at position perm_c[i] of the factorized matrix
    return z_diag[perm_c]


# The level-by-level form is used while the elimination tree has at least this many columns
# per level on average (each level costs a few numpy calls, a column in Python a few µs) ...
LEVEL_MIN_WIDTH = 8
# ... and while the pairs of entries it multiplies (Σ over columns of |S|²) stay this few
# (memory: ~40 bytes a pair); a dense separator goes by columns, where long columns use numpy.
LEVEL_MAX_PAIRS = 2**22


@dataclass(frozen=True)
class _LevelPlan:
    """Index arrays of Takahashi's recursion on one pattern of L, grouped by elimination-tree
    level (the root's level first): every column of a level needs Z only on rows of its
    ancestors, which are in earlier levels, so a whole level is a few vector operations.

    Z is kept on L's pattern: `z[p]` = Z[row p, column p] (the diagonal at each column's first entry)."""

    indptr: NDArray[np.int32]
    indices: NDArray[np.int32]
    diag_pos: NDArray[np.int64]  # per column: position of its diagonal entry
    # per level l: off-diagonal entries off[off_at[l]:off_at[l + 1]] (grouped by column) and the
    # pairs pair_*[pair_at[l]:pair_at[l + 1]] (grouped by their entry)
    off: NDArray[np.int64]
    off_at: list[int]
    # per entry of `off`: where its pairs start (relative to its level's first pair)
    off_pairs: NDArray[np.int64]
    # per level: the columns with entries, as starts into its slice of `off`, and their diagonals
    col_starts: list[NDArray[np.int64]]
    col_diag: list[NDArray[np.int64]]
    # pair (p, q) of entries (a, j), (k, j) of one column: z[p] −= z[src]·L[q], src = Z[a, k]'s position
    pair_q: NDArray[np.int64]
    pair_src: NDArray[np.int64]
    pair_at: list[int]


# The last few plans: a case's positive-sequence, method C and DC networks share one pattern.
_plans: list[_LevelPlan] = []
KEEP_PLANS = 3


def _level_plan(lower: Csc) -> _LevelPlan | None:
    """The plan for L's pattern (reused when the pattern repeats), None where the columns
    are better done one by one (a deep narrow tree, a dense separator, an odd pattern)."""
    for known in _plans:
        if np.array_equal(known.indptr, lower.indptr) and np.array_equal(known.indices, lower.indices):
            return known
    plan = _build_level_plan(lower)
    if plan is not None:
        _plans[:] = [plan, *_plans[: KEEP_PLANS - 1]]
    return plan


def _build_level_plan(lower: Csc) -> _LevelPlan | None:
    n = lower.n
    indptr = lower.indptr.astype(np.int64)
    indices = lower.indices.astype(np.int64)
    count = np.diff(indptr)
    if np.any(count == 0) or not np.array_equal(indices[indptr[:-1]], np.arange(n)):
        return None  # a column without its diagonal first: the column form says why
    s = count - 1  # off-diagonal entries per column
    total_pairs = int((s * s).sum())
    if total_pairs > LEVEL_MAX_PAIRS:
        return None
    # elimination tree: a column's parent is its first off-diagonal row; depth by pointer jumping
    parent = np.where(s > 0, indices[np.minimum(indptr[:-1] + 1, indices.size - 1)], -1)
    # (depth[j]: the distance from j up to up[j], or to the root once up[j] = −1)
    depth = (parent >= 0).astype(np.int64)
    up = parent
    while True:
        has = up >= 0
        if not has.any():
            break
        nxt = np.where(has, up, 0)
        depth = np.where(has, depth + depth[nxt], depth)
        up = np.where(has, up[nxt], -1)
    levels = int(depth.max()) + 1 if n else 0
    if levels * LEVEL_MIN_WIDTH > n:
        return None
    col_of = np.repeat(np.arange(n, dtype=np.int64), count)
    off_all = np.flatnonzero(indices != col_of)
    # entries by (level of their column, position): columns stay contiguous inside a level
    off = off_all[np.argsort(depth[col_of[off_all]], kind="stable")]
    off_level = depth[col_of[off]]
    off_at = np.searchsorted(off_level, np.arange(levels + 1)).tolist()
    # pairs: entry p of column j with each entry q of column j
    reps = s[col_of[off]]
    pair_p = np.repeat(off, reps)
    first_pair = np.cumsum(reps) - reps
    pair_q = np.repeat(indptr[col_of[off]] + 1, reps) + (np.arange(total_pairs) - np.repeat(first_pair, reps))
    a, k = indices[pair_p], indices[pair_q]
    keys = col_of * n + indices  # sorted: by column, then row
    want = np.minimum(a, k) * n + np.maximum(a, k)
    src = np.searchsorted(keys, want)
    if np.any(src >= keys.size) or not np.array_equal(keys[np.minimum(src, keys.size - 1)], want):
        return None  # the pattern is not closed under elimination: the column form reports it
    pair_at = np.concatenate([[0], np.cumsum(np.bincount(off_level, weights=reps, minlength=levels))]).astype(np.int64)
    col_starts, col_diag = [], []
    for lv in range(levels):
        lo, hi = off_at[lv], off_at[lv + 1]
        cols = col_of[off[lo:hi]]
        starts = np.flatnonzero(np.concatenate([[True], cols[1:] != cols[:-1]])) if hi > lo else np.zeros(0, np.int64)
        col_starts.append(starts)
        col_diag.append(indptr[cols[starts]] if hi > lo else np.zeros(0, np.int64))
    return _LevelPlan(
        indptr=lower.indptr.copy(),
        indices=lower.indices.copy(),
        diag_pos=indptr[:-1],
        off=off,
        off_at=off_at,
        off_pairs=first_pair - pair_at[off_level],
        col_starts=col_starts,
        col_diag=col_diag,
        pair_q=pair_q,
        pair_src=src,
        pair_at=pair_at.tolist(),
    )


def _by_levels(plan: _LevelPlan, lower: Csc, d: NDArray[np.complex128]) -> NDArray[np.complex128]:
    """Takahashi's equations one elimination-tree level at a time:
    Z[S,j] = −Z[S,S]·L[S,j], Z[j,j] = 1/D_j − L[S,j]ᵀ·Z[S,j] for every column j of the level."""
    lval = lower.data
    z = np.zeros(lval.size, dtype=np.complex128)
    z[plan.diag_pos] = 1.0 / d
    l_q = lval[plan.pair_q]
    for lv in range(len(plan.off_at) - 1):
        lo, hi = plan.off_at[lv], plan.off_at[lv + 1]
        if hi == lo:
            continue
        pa, pb = plan.pair_at[lv], plan.pair_at[lv + 1]
        ent = plan.off[lo:hi]
        prod = z[plan.pair_src[pa:pb]] * l_q[pa:pb]
        zs = -np.add.reduceat(prod, plan.off_pairs[lo:hi])
        z[ent] = zs
        z[plan.col_diag[lv]] -= np.add.reduceat(lval[ent] * zs, plan.col_starts[lv])
    return z[plan.diag_pos]


def _by_columns(lower: Csc, d: NDArray[np.complex128]) -> NDArray[np.complex128] | None:
    """Takahashi's equations column by column from the last one (None where L's pattern
    is not closed under elimination)."""
    n = lower.n
    # Plain Python lists and dicts: the columns of a power network's L are short (a few
    # entries), where numpy's per-call overhead was half of the whole solve; a long column
    # (a dense separator) does its product in numpy.
    indptr, indices, data = lower.indptr.tolist(), lower.indices.tolist(), lower.data.tolist()
    inv_d = (1.0 / d).tolist()
    # Z's entries on the pattern of L, by column: {row: Z[row, j]} below the diagonal
    z_col: list[dict[int, complex]] = [{}] * n
    z_diag: list[complex] = [0j] * n
    for j in range(n - 1, -1, -1):
        lo, hi = indptr[j], indptr[j + 1]
        if hi == lo or indices[lo] != j:
            return None
        rows = indices[lo + 1 : hi]
        if not rows:
            z_diag[j] = inv_d[j]
            continue
        l_col = data[lo + 1 : hi]
        try:
            z = _column_product(rows, l_col, z_col, z_diag)
        except KeyError:
            return None  # pattern not closed under elimination: use solves
        z_col[j] = dict(zip(rows, z, strict=True))
        z_diag[j] = inv_d[j] - sum(lv * zv for lv, zv in zip(l_col, z, strict=True))
    return np.array(z_diag, dtype=np.complex128)


# Above this many entries in a column of L its product runs in numpy.
DENSE_COLUMN = 48


def _column_product(
    rows: list[int], l_col: list[complex], z_col: list[dict[int, complex]], z_diag: list[complex]
) -> list[complex]:
    """−Z[S,S]·L[S,j] (S = `rows`), Z[S,S] symmetric from the columns already done (a
    KeyError when one of its entries is off the pattern)."""
    s = len(rows)
    if s > DENSE_COLUMN:
        m = np.empty((s, s), dtype=np.complex128)
        for a, k in enumerate(rows):
            m[a, a] = z_diag[k]
            zk = z_col[k]
            v = [zk[b] for b in rows[a + 1 :]]
            m[a + 1 :, a] = v
            m[a, a + 1 :] = v
        return (-(m @ np.array(l_col, dtype=np.complex128))).tolist()
    z = [0j] * s
    for a, k in enumerate(rows):
        la = l_col[a]
        acc = z[a] + z_diag[k] * la
        zk = z_col[k]
        for b in range(a + 1, s):
            zab = zk[rows[b]]
            acc += zab * l_col[b]
            z[b] += zab * la
        z[a] = acc
    return [-x for x in z]
