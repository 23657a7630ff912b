"""Sparse bus admittance matrices, one LU factorization each, and the few entries of
Z = Y⁻¹ a study needs: the diagonal (by blocks of unit vectors) and single columns.

A dense inverse is never formed; memory stays linear in the number of buses because the
batched solve works on at most `block` right-hand sides at a time.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import MatrixRankWarning, splu

from .errors import SolverError

# Relative residual above which a factorization is called ill-conditioned.
RESIDUAL_LIMIT = 1e-8
# Right-hand sides per batched solve: bounded so that n × block complex values stay ~32 MB.
MAX_BLOCK_ENTRIES = 2**21


def assemble(
    n: int,
    f: NDArray[np.int64],
    t: NDArray[np.int64],
    stamps: NDArray[np.complex128],
    shunt_bus: NDArray[np.int64],
    shunt_y: NDArray[np.complex128],
) -> sp.csc_matrix:
    """Y from two-port stamps (rows × [yff, yft, ytf, ytt]) and shunt admittances."""
    rows = np.concatenate([f, f, t, t, shunt_bus])
    cols = np.concatenate([f, t, f, t, shunt_bus])
    vals = np.concatenate([stamps[:, 0], stamps[:, 1], stamps[:, 2], stamps[:, 3], shunt_y])
    return sp.coo_matrix((vals, (rows, cols)), shape=(n, n)).tocsc()


def series_stamps(z: NDArray[np.complex128], ratio: NDArray[np.float64]) -> NDArray[np.complex128]:
    """Two-port stamps of a series impedance (to side) behind an ideal ratio (from side)."""
    y = 1.0 / z
    return np.column_stack([y / ratio**2, -y / ratio, -y / ratio, y])


def islands(n: int, f: NDArray[np.int64], t: NDArray[np.int64], coupled: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Connected-component label per bus, counting only the rows flagged `coupled`."""
    g = sp.coo_matrix((np.ones(int(coupled.sum())), (f[coupled], t[coupled])), shape=(n, n))
    return connected_components(g, directed=False)[1]


class Factorized:
    """One sparse LU of an admittance matrix and the impedance entries taken from it."""

    def __init__(self, y: sp.csc_matrix, what: str) -> None:
        self.n = y.shape[0]
        self.what = what
        if self.n == 0:
            raise SolverError(f"{what}: the network has no buses to solve")
        with warnings.catch_warnings():
            warnings.simplefilter("error", MatrixRankWarning)
            try:
                # The matrix is structurally symmetric: ordering on A+Aᵀ keeps fill low.
                self.lu = splu(y, permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})
            except (RuntimeError, MatrixRankWarning) as exc:
                raise SolverError(f"{what}: the admittance matrix is singular ({exc}); check for elements with zero impedance or parts of the network without a source") from exc
        self._check_conditioning(y)

    def _check_conditioning(self, y: sp.csc_matrix) -> None:
        # One solve with a known right-hand side: a large residual means the LU cannot be trusted.
        rng = np.random.default_rng(0)
        b = rng.standard_normal(self.n) + 1j * rng.standard_normal(self.n)
        x = self.lu.solve(b)
        if not np.all(np.isfinite(x)):
            raise SolverError(f"{self.what}: the admittance matrix is singular (non-finite solution)")
        res = np.linalg.norm(y @ x - b) / np.linalg.norm(b)
        if not res < RESIDUAL_LIMIT:
            raise SolverError(f"{self.what}: the admittance matrix is ill-conditioned (relative residual {res:.1e}); check for extreme impedance ratios")

    def diagonal(self, buses: NDArray[np.int64] | None = None) -> NDArray[np.complex128]:
        """Z_kk for the given buses (all when None) by batched solves of unit vectors."""
        idx = np.arange(self.n) if buses is None else np.asarray(buses, dtype=np.int64)
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
