"""The diagonal of Z by selected inversion agrees with solves and a dense inverse."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from ampflux_simulation.solver import network as nw
from ampflux_simulation.solver import superlu
from ampflux_simulation.solver.errors import SolverError


def _scipy(y: superlu.Csc) -> sp.csc_matrix:
    return sp.csc_matrix((y.data, y.indices, y.indptr), shape=(y.n, y.n))


def _admittance_like(n: int, seed: int) -> superlu.Csc:
    """A random complex-symmetric matrix shaped like a bus admittance matrix: a ring with
    chords, series admittances off the diagonal, their sum plus a few shunts on it."""
    rng = np.random.default_rng(seed)
    f = np.concatenate([np.arange(n), rng.integers(0, n, n // 3)])
    t = np.concatenate([(np.arange(n) + 1) % n, rng.integers(0, n, n // 3)])
    keep = f != t
    f, t = f[keep], t[keep]
    y = 1.0 / (rng.uniform(0.01, 0.5, len(f)) + 1j * rng.uniform(0.05, 1.0, len(f)))
    stamps = np.column_stack([y, -y, -y, y])
    shunt_bus = rng.choice(n, size=max(1, n // 20), replace=False)
    shunt_y = 1.0 / (0.01 + 0.1j) * np.ones(len(shunt_bus))
    return nw.assemble(n, f, t, stamps, shunt_bus, shunt_y)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_selected_inversion_matches_dense_inverse(seed: int) -> None:
    y = _admittance_like(300, seed)
    fac = nw.Factorized(y, "test")
    dense = np.diag(np.linalg.inv(y.toarray()))
    np.testing.assert_allclose(fac.diagonal(), dense, rtol=1e-10)
    some = np.array([3, 17, 299])
    np.testing.assert_allclose(fac.diagonal_by_solves(some), dense[some], rtol=1e-10)
    np.testing.assert_allclose(fac.columns(some)[some, np.arange(3)], dense[some], rtol=1e-10)


def test_tiny_diagonal_falls_back_to_pivoting_and_solves() -> None:
    # complex symmetric, but a near-zero diagonal entry needs an off-diagonal pivot
    dense = np.array([[1e-14, 1.0, 0.0], [1.0, 1.0 + 1j, 0.5], [0.0, 0.5, 2.0 - 1j]], dtype=complex)
    rows, cols = np.nonzero(dense)
    y = superlu.csc_from_triplets(3, rows, cols, dense[rows, cols])
    lu = superlu.Lu.from_scipy(splu(_scipy(y), permc_spec="NATURAL"))
    assert not np.array_equal(lu.perm_r, lu.perm_c)
    assert nw.selected_inverse_diagonal(lu) is None
    fac = nw.Factorized(y, "test")
    np.testing.assert_allclose(fac.diagonal(np.arange(3)), np.diag(np.linalg.inv(dense)), rtol=1e-9, atol=1e-12)


def test_singular_matrix_is_a_solver_error() -> None:
    # two buses joined by a line and nothing to earth: Y is singular
    y = nw.assemble(
        2,
        np.array([0]),
        np.array([1]),
        np.array([[1 - 1j, -1 + 1j, -1 + 1j, 1 - 1j]]),
        np.zeros(0, np.int64),
        np.zeros(0, complex),
    )
    with pytest.raises(SolverError, match=r"singular|ill-conditioned"):
        nw.Factorized(y, "test network")


@pytest.mark.parametrize("dense_column", [0, 3, 10_000])
def test_selected_inversion_short_and_long_columns_agree(monkeypatch: pytest.MonkeyPatch, dense_column: int) -> None:
    """Short columns of L are done in plain Python, long ones in numpy: each path alone (and
    a mix) gives the dense inverse's diagonal."""
    monkeypatch.setattr(nw, "DENSE_COLUMN", dense_column)
    y = _admittance_like(400, 5)
    lu = superlu.factor(y, {"SymmetricMode": True, "DiagPivotThresh": 0.0})
    lengths = np.diff(lu.lower().indptr) - 1
    assert lengths.max() > 3  # so 3 mixes the two paths
    got = nw.selected_inverse_diagonal(lu)
    assert got is not None
    np.testing.assert_allclose(got, np.diag(np.linalg.inv(y.toarray())), rtol=1e-10)


def _lower_and_d(y: superlu.Csc) -> tuple[superlu.Csc, np.ndarray, np.ndarray]:
    lu = superlu.factor(y, {"SymmetricMode": True, "DiagPivotThresh": 0.0})
    assert np.array_equal(lu.perm_r, lu.perm_c)
    return lu.lower(), lu.u_diagonal(), lu.perm_c


@pytest.mark.parametrize("seed", [5, 6])
def test_selected_inversion_by_levels_and_by_columns_agree(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """The level-by-level form (numpy) and the column-by-column form (Python) of Takahashi's
    recursion give the dense inverse's diagonal on the same factors."""
    monkeypatch.setattr(nw, "LEVEL_MIN_WIDTH", 1)  # a random mesh's tree is deeper than a grid's
    y = _admittance_like(400, seed)
    lower, d, perm = _lower_and_d(y)
    plan = nw._build_level_plan(lower)
    assert plan is not None and len(plan.off_at) > 3  # several levels, so the order matters
    dense = np.diag(np.linalg.inv(y.toarray()))
    by_levels = nw._by_levels(plan, lower, d)[perm]
    by_columns = nw._by_columns(lower, d)
    assert by_columns is not None
    np.testing.assert_allclose(by_levels, dense, rtol=1e-10)
    np.testing.assert_allclose(by_columns[perm], dense, rtol=1e-10)


def test_selected_inversion_reuses_the_plan_of_a_pattern(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two matrices with one pattern (the positive-sequence and method C networks) share
    the level plan; each still gets its own diagonal."""
    monkeypatch.setattr(nw, "LEVEL_MIN_WIDTH", 1)
    y = _admittance_like(300, 7)
    y2 = superlu.Csc(y.n, y.data * (1.0 + 0.5j), y.indices, y.indptr)
    nw._plans.clear()
    first = nw.selected_inverse_diagonal(superlu.factor(y, {"SymmetricMode": True, "DiagPivotThresh": 0.0}))
    assert len(nw._plans) == 1
    plan = nw._plans[0]
    second = nw.selected_inverse_diagonal(superlu.factor(y2, {"SymmetricMode": True, "DiagPivotThresh": 0.0}))
    assert nw._plans == [plan]
    assert first is not None and second is not None
    np.testing.assert_allclose(first, np.diag(np.linalg.inv(y.toarray())), rtol=1e-10)
    np.testing.assert_allclose(second, np.diag(np.linalg.inv(y2.toarray())), rtol=1e-10)


def test_deep_narrow_tree_goes_column_by_column() -> None:
    """A long radial chain has an elimination tree about as deep as it is long: no level
    plan (a few numpy calls per level would cost more than the Python columns), and the
    column form still gives the dense inverse's diagonal."""
    n = 200
    f, t = np.arange(n - 1), np.arange(1, n)
    y_series = 1.0 / (0.02 + 0.1j) * np.ones(n - 1)
    y = nw.assemble(
        n, f, t, np.column_stack([y_series, -y_series, -y_series, y_series]), np.array([0]), np.array([10 - 50j])
    )
    lower, _, _ = _lower_and_d(y)
    assert nw._build_level_plan(lower) is None
    fac = nw.Factorized(y, "chain")
    np.testing.assert_allclose(fac.diagonal(), np.diag(np.linalg.inv(y.toarray())), rtol=1e-10)


def _meshed_with_feeders(core: int, feeder: int, seed: int) -> superlu.Csc:
    """Shaped like a distribution network: a meshed core (a ring with chords, sources on a
    few of its buses) and a radial feeder of `feeder` buses hanging off every core bus."""
    rng = np.random.default_rng(seed)
    f = [*range(core), *rng.integers(0, core, core // 6)]
    t = [*((i + 1) % core for i in range(core)), *rng.integers(0, core, core // 6)]
    bus = core
    for i in range(core):
        f += [i, *range(bus, bus + feeder - 1)]
        t += list(range(bus, bus + feeder))
        bus += feeder
    fa, ta = np.array(f), np.array(t)
    keep = fa != ta
    fa, ta = fa[keep], ta[keep]
    y = 1.0 / (rng.uniform(0.01, 0.5, len(fa)) + 1j * rng.uniform(0.05, 1.0, len(fa)))
    sources = np.arange(0, core, 6)
    return nw.assemble(bus, fa, ta, np.column_stack([y, -y, -y, y]), sources, np.full(len(sources), 1 / (0.01 + 0.1j)))


def test_network_shaped_matrix_goes_by_levels() -> None:
    """A meshed core with radial feeders has a shallow, wide elimination tree: the level form
    runs (with the default width) and gives the dense inverse's diagonal."""
    y = _meshed_with_feeders(60, 8, 3)
    lower, _, _ = _lower_and_d(y)
    plan = nw._build_level_plan(lower)
    assert plan is not None
    assert (len(plan.off_at) - 1) * nw.LEVEL_MIN_WIDTH <= y.n
    fac = nw.Factorized(y, "meshed with feeders")
    np.testing.assert_allclose(fac.diagonal(), np.diag(np.linalg.inv(y.toarray())), rtol=1e-10)


def _islands_by_search(n: int, f: np.ndarray, t: np.ndarray, coupled: np.ndarray) -> list[int]:
    """Reference labels: a search from each unlabelled bus in order."""
    neighbours: list[list[int]] = [[] for _ in range(n)]
    for a, b in zip(f[coupled].tolist(), t[coupled].tolist(), strict=True):
        neighbours[a].append(b)
        neighbours[b].append(a)
    label = [-1] * n
    count = 0
    for root in range(n):
        if label[root] < 0:
            label[root], stack = count, [root]
            while stack:
                for v in neighbours[stack.pop()]:
                    if label[v] < 0:
                        label[v] = count
                        stack.append(v)
            count += 1
    return label


@pytest.mark.parametrize("seed", range(5))
def test_islands_match_a_search(seed: int) -> None:
    """Labels by hooking and pointer jumping equal a plain search's (islands numbered in
    the order of their lowest bus), with rows left out, self-loops, parallel rows and lone buses."""
    rng = np.random.default_rng(seed)
    for _ in range(40):
        n = int(rng.integers(1, 80))
        m = int(rng.integers(0, 100))
        f, t = rng.integers(0, n, m), rng.integers(0, n, m)
        coupled = rng.random(m) < 0.7
        assert nw.islands(n, f, t, coupled).tolist() == _islands_by_search(n, f, t, coupled)


def test_islands_of_a_long_scrambled_chain() -> None:
    """A 5000-bus chain numbered at random is one island (the worst shape for hooking)."""
    perm = np.random.default_rng(1).permutation(5000)
    labels = nw.islands(5000, perm[:-1], perm[1:], np.ones(4999, dtype=bool))
    assert labels.tolist() == [0] * 5000
    cut = np.ones(4999, dtype=bool)
    cut[2500] = False
    assert nw.islands(5000, perm[:-1], perm[1:], cut).tolist() == _islands_by_search(5000, perm[:-1], perm[1:], cut)
