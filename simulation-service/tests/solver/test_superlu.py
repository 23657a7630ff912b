"""SuperLU without importing scipy.sparse (solver/superlu.py): the direct route and the
public `scipy.sparse.linalg.splu` route give the same factorization, the solver's import
leaves scipy.sparse out, and the scipy-free assembly and island labelling agree with
scipy's own."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ampflux_simulation.solver import network as nw
from ampflux_simulation.solver import superlu

from .test_network_linear_algebra import _admittance_like, _scipy


def test_direct_and_public_routes_agree() -> None:
    y = _admittance_like(300, 3)
    options = {"SymmetricMode": True, "DiagPivotThresh": 0.0}
    direct = superlu.factor(y, options)
    public = superlu._factor_public(y, options)
    assert np.array_equal(direct.perm_c, public.perm_c) and np.array_equal(direct.perm_r, public.perm_r)
    ld, lp = direct.lower(), public.lower()
    assert np.array_equal(ld.indptr, lp.indptr) and np.array_equal(ld.indices, lp.indices)
    np.testing.assert_array_equal(ld.data, lp.data)
    np.testing.assert_array_equal(direct.u_diagonal(), public.u_diagonal())
    b = np.arange(300) + 1j
    np.testing.assert_allclose(direct.solve(b), np.linalg.solve(y.toarray(), b), rtol=1e-10)


def test_a_changed_gstrf_falls_back_to_the_public_route(monkeypatch: pytest.MonkeyPatch) -> None:
    def other_signature(*args: object, **kwargs: object) -> None:
        raise TypeError("gstrf() got an unexpected keyword argument")

    monkeypatch.setattr(superlu, "_gstrf", other_signature)
    monkeypatch.setattr(superlu, "_gstrf_loaded", True)
    y = _admittance_like(100, 4)
    fac = nw.Factorized(y, "test")
    np.testing.assert_allclose(fac.diagonal(), np.diag(np.linalg.inv(y.toarray())), rtol=1e-10)
    assert superlu._gstrf is None  # the public route from now on


def test_the_solver_import_leaves_scipy_sparse_out() -> None:
    code = (
        "import sys; from ampflux_simulation.solver import solve_study; "
        "from ampflux_simulation.solver import superlu; superlu.factor(superlu.csc_from_triplets("
        "1, __import__('numpy').array([0]), __import__('numpy').array([0]), __import__('numpy').array([2j])), {}); "
        "print(sorted(m for m in sys.modules if m.startswith('scipy')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['scipy.sparse.linalg._dsolve._superlu']"


def test_assembly_sums_duplicates_like_scipy() -> None:
    rng = np.random.default_rng(1)
    rows, cols = rng.integers(0, 40, 500), rng.integers(0, 40, 500)
    vals = rng.standard_normal(500) + 1j * rng.standard_normal(500)
    ours = superlu.csc_from_triplets(40, rows, cols, vals)
    ref = sp.coo_matrix((vals, (rows, cols)), shape=(40, 40)).tocsc()
    ref.sort_indices()
    assert np.array_equal(ours.indptr, ref.indptr) and np.array_equal(ours.indices, ref.indices)
    np.testing.assert_allclose(ours.data, ref.data, rtol=1e-14)
    np.testing.assert_allclose(ours.toarray(), ref.toarray(), rtol=1e-14)
    x = rng.standard_normal(40) + 0j
    np.testing.assert_allclose(ours.matvec(x), ref @ x, rtol=1e-12)
    assert ours.max_abs_column_sum() == pytest.approx(abs(ref).sum(axis=0).max(), rel=1e-14)
    np.testing.assert_array_equal(ours.diagonal(), ref.diagonal())


def test_islands_match_scipy_components() -> None:
    rng = np.random.default_rng(2)
    n = 200
    f, t = rng.integers(0, n, 150), rng.integers(0, n, 150)
    coupled = rng.random(150) < 0.7
    ours = nw.islands(n, f, t, coupled)
    count, ref = connected_components(
        sp.coo_matrix((np.ones(int(coupled.sum())), (f[coupled], t[coupled])), shape=(n, n)), directed=False
    )
    assert ours.max() + 1 == count
    # the same partition (labels may be numbered differently)
    pairs = set(zip(ours.tolist(), ref.tolist(), strict=True))
    assert len(pairs) == count


def test_scipy_helper_round_trips() -> None:
    y = _admittance_like(30, 0)
    np.testing.assert_array_equal(_scipy(y).toarray(), y.toarray())


def test_scipy_imported_afterwards_reuses_the_loaded_module() -> None:
    code = (
        "import numpy as np; from ampflux_simulation.solver import superlu; "
        "lu = superlu.factor(superlu.csc_from_triplets(2, np.array([0, 1, 0, 1]), np.array([0, 1, 1, 0]), "
        "np.array([2, 3, 1, 1], dtype=complex)), {}); "
        "import sys, scipy.sparse as sp, scipy.sparse.linalg as sl; "
        "m = sl.splu(sp.csc_matrix(np.array([[2, 1], [1, 3]], dtype=complex))); b = np.ones(2, dtype=complex); "
        "print(np.allclose(m.solve(b), lu.solve(b)), "
        "sys.modules['scipy.sparse.linalg._dsolve._superlu'] is sl._dsolve.linsolve._superlu)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True"]
