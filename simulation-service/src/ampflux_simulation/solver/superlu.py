"""Sparse LU (SciPy's SuperLU) without importing scipy.sparse.

`scipy.sparse` costs about 0.45 s of CPU to import (SciPy 1.17: its array-API layer loads
numpy's f2py, testing, ma and polynomial packages), more than the whole 8.7k-bus solve.
The factorization itself is SuperLU's `gstrf` in the small extension module
`scipy.sparse.linalg._dsolve._superlu`, which imports nothing else: it is loaded here from
SciPy's installed files without running the packages above it. Should that module be
missing or its call differ in another SciPy version, the public `scipy.sparse.linalg.splu`
is used instead (same SuperLU, slower import), so the numbers never depend on which way ran.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

_MODULE = "scipy.sparse.linalg._dsolve._superlu"


@dataclass(frozen=True)
class Csc:
    """A square sparse matrix in compressed sparse column form (sorted, no duplicates)."""

    n: int
    data: NDArray[np.complex128]
    indices: NDArray[np.int32]
    indptr: NDArray[np.int32]

    def matvec(self, x: NDArray[np.complex128]) -> NDArray[np.complex128]:
        cols = np.repeat(np.arange(self.n), np.diff(self.indptr))
        contrib = self.data * x[cols]
        out = np.zeros(self.n, dtype=np.complex128)
        np.add.at(out, self.indices, contrib)
        return out

    def max_abs_column_sum(self) -> float:
        sums = np.add.reduceat(np.abs(self.data), self.indptr[:-1]) if self.data.size else np.zeros(1)
        # reduceat repeats the next value for an empty column; no admittance column is empty
        return float(sums.max())

    def diagonal(self) -> NDArray[np.complex128]:
        out = np.zeros(self.n, dtype=self.data.dtype)
        cols = np.repeat(np.arange(self.n), np.diff(self.indptr))
        on = self.indices == cols
        out[cols[on]] = self.data[on]
        return out

    def toarray(self) -> NDArray[np.complex128]:
        out = np.zeros((self.n, self.n), dtype=self.data.dtype)
        cols = np.repeat(np.arange(self.n), np.diff(self.indptr))
        np.add.at(out, (self.indices, cols), self.data)
        return out


def csc_from_triplets(n: int, rows: NDArray[np.int64], cols: NDArray[np.int64], vals: NDArray[np.complex128]) -> Csc:
    """Sum duplicate (row, col) entries and sort by column, then row."""
    key = cols.astype(np.int64) * n + rows.astype(np.int64)
    order = np.argsort(key, kind="stable")
    key, vals = key[order], vals[order].astype(np.complex128)
    if key.size:
        first = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
        data = np.add.reduceat(vals, first)
        key = key[first]
    else:
        data = vals
    indptr = np.zeros(n + 1, dtype=np.int32)
    if n:
        indptr[1:] = np.cumsum(np.bincount(key // n, minlength=n))
    return Csc(n, data, (key % n).astype(np.int32), indptr)


@dataclass
class Lu:
    """What the solver takes from a factorization: solves, permutations, L and diag(U)."""

    solve: Callable[[NDArray[np.complex128]], NDArray[np.complex128]]
    perm_r: NDArray[np.int32]
    perm_c: NDArray[np.int32]
    lower: Callable[[], Csc]  # L with sorted row indices (unit diagonal stored)
    u_diagonal: Callable[[], NDArray[np.complex128]]

    @classmethod
    def from_scipy(cls, lu: Any) -> Lu:
        """From `scipy.sparse.linalg.splu`'s SuperLU object."""

        def lower() -> Csc:
            m = lu.L.tocsc()
            m.sort_indices()
            return Csc(m.shape[0], m.data, m.indices.astype(np.int32), m.indptr.astype(np.int32))

        return cls(lu.solve, lu.perm_r, lu.perm_c, lower, lambda: lu.U.diagonal())


def _raw_csc(arg: tuple[Any, Any, Any], shape: tuple[int, int]) -> Csc:
    """SuperLU's constructor callback for L and U: (data, row indices, column pointers)."""
    data, indices, indptr = arg
    ptr = np.asarray(indptr, dtype=np.int32)
    nnz = int(ptr[-1])  # the arrays may be allocated longer than they are filled
    return Csc(shape[0], np.asarray(data)[:nnz], np.asarray(indices, dtype=np.int32)[:nnz], ptr)


def _sorted(m: Csc) -> Csc:
    """Row indices sorted within each column (SuperLU does not promise it)."""
    cols = np.repeat(np.arange(m.n), np.diff(m.indptr))
    order = np.lexsort((m.indices, cols))
    return Csc(m.n, m.data[order], m.indices[order], m.indptr)


def _load_gstrf() -> Callable[..., Any] | None:
    module = sys.modules.get(_MODULE)
    if module is None:
        try:
            spec = importlib.util.find_spec("scipy")  # locates SciPy without importing it
            if spec is None or not spec.submodule_search_locations:
                return None
            folder = Path(next(iter(spec.submodule_search_locations))) / "sparse" / "linalg" / "_dsolve"
            suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
            path = next(p for p in folder.iterdir() if p.name.startswith("_superlu.") and p.name.endswith(suffixes))
            ext_spec = importlib.util.spec_from_file_location(_MODULE, path)
            if ext_spec is None or ext_spec.loader is None:
                return None
            module = importlib.util.module_from_spec(ext_spec)
            ext_spec.loader.exec_module(module)
        except (ImportError, OSError, StopIteration):
            return None
        # one module object for the process: a later `import scipy.sparse.linalg` reuses it
        sys.modules[_MODULE] = module
    gstrf = getattr(module, "gstrf", None)
    return gstrf if callable(gstrf) else None


_gstrf: Callable[..., Any] | None = None
_gstrf_loaded = False


def factor(y: Csc, options: dict[str, Any]) -> Lu:
    """LU of `y` with SuperLU (column ordering on AᵀA + A, `options` as scipy's splu takes them).

    Raises RuntimeError when SuperLU finds the matrix singular, as splu does."""
    global _gstrf, _gstrf_loaded
    if not _gstrf_loaded:
        _gstrf, _gstrf_loaded = _load_gstrf(), True
    if _gstrf is not None:
        try:
            lu = _gstrf(
                y.n,
                int(y.data.size),
                y.data,
                y.indices,
                y.indptr,
                csc_construct_func=_raw_csc,
                ilu=False,
                options={"DiagPivotThresh": None, "ColPerm": "MMD_AT_PLUS_A", "PanelSize": None, "Relax": None}
                | options,
            )
        except TypeError:  # another SciPy's signature: take the public route from now on
            _gstrf = None
        else:
            return Lu(lu.solve, lu.perm_r, lu.perm_c, lambda: _sorted(lu.L), lambda: lu.U.diagonal())
    return _factor_public(y, options)


def _factor_public(y: Csc, options: dict[str, Any]) -> Lu:
    import scipy.sparse as sp
    from scipy.sparse.linalg import splu

    matrix = sp.csc_matrix((y.data, y.indices, y.indptr), shape=(y.n, y.n))
    return Lu.from_scipy(splu(matrix, permc_spec="MMD_AT_PLUS_A", options=options))
