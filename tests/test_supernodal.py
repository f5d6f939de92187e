"""The supernodal Cholesky, its solves and its selected inverse against dense arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from mixedmodels.linalg.ordering import elimination_tree, minimum_degree, postorder
from mixedmodels.linalg.selinv import selected_inverse
from mixedmodels.linalg.supernodal import analyse, factorize


def random_spd(n: int, density: float, seed: int) -> sp.csc_matrix:
    R = sp.csc_matrix(sp.random(n, n, density=density, random_state=seed, format="csc"))
    A = sp.csc_matrix(R @ R.T + sp.eye(n) * (1.0 + density * n))
    A.sort_indices()
    return A


def crossed_matrix(n_rows: int, m_subj: int, m_item: int, seed: int) -> sp.csc_matrix:
    """``Z'Z + I`` of a crossed design whose last item is seen by one row and whose last
    subject has no row at all (an empty column apart from the diagonal)."""
    rng = np.random.default_rng(seed)
    subj = rng.integers(0, m_subj - 1, n_rows)
    item = rng.integers(0, m_item - 1, n_rows)
    item[0] = m_item - 1
    rows = np.arange(n_rows)
    Z = sp.hstack(
        [
            sp.csr_matrix((np.ones(n_rows), (rows, subj)), shape=(n_rows, m_subj)),
            sp.csr_matrix((rng.uniform(0.5, 2.0, n_rows), (rows, item)), shape=(n_rows, m_item)),
        ]
    )
    A = sp.csc_matrix(Z.T @ Z + sp.eye(m_subj + m_item))
    A.sort_indices()
    return A


def check_against_dense(A: sp.csc_matrix, perm: np.ndarray, seed: int) -> None:
    sym = analyse(A, perm)
    fac = factorize(sym, A.data)
    D = A.toarray()
    n = D.shape[0]
    assert sorted(sym.perm.tolist()) == list(range(n))
    # L L' reproduces the permuted matrix
    L = np.zeros((n, n))
    i, j = np.tril_indices(n)
    structural = np.zeros((n, n), dtype=bool)
    for s in range(sym.first.size - 1):
        cols = np.arange(sym.first[s], sym.first[s + 1])
        front = np.concatenate([cols, sym.rows[s]])
        L[np.ix_(front, cols)] = fac.dense_panel(s)
        structural[np.ix_(front, cols)] = True
    L = np.tril(L)
    np.testing.assert_allclose(L @ L.T, D[np.ix_(sym.perm, sym.perm)], rtol=1e-10, atol=1e-10)
    assert fac.logdet() == pytest.approx(np.linalg.slogdet(D)[1], rel=1e-12, abs=1e-10)
    rng = np.random.default_rng(seed)
    B = rng.normal(size=(n, 3))
    np.testing.assert_allclose(
        fac.solve_upper(fac.solve_lower(B)), np.linalg.solve(D, B), rtol=1e-9, atol=1e-11
    )
    v = rng.normal(size=n)
    np.testing.assert_allclose(
        fac.solve_lower(v), np.linalg.solve(L, v[sym.perm]), rtol=1e-9, atol=1e-11
    )
    # the selected inverse on every structural entry of L, and so on A's pattern
    H = selected_inverse(fac)
    inv = np.linalg.inv(D)
    pi, pj = np.nonzero(np.tril(structural))
    at = sym.locate(sym.perm[pi], sym.perm[pj])
    np.testing.assert_allclose(H.values[at], inv[sym.perm[pi], sym.perm[pj]], rtol=1e-9, atol=1e-12)
    ai, aj = np.nonzero(D)
    np.testing.assert_allclose(H.values[sym.locate(ai, aj)], inv[ai, aj], rtol=1e-9, atol=1e-12)
    # in L's own storage, the same inverse to the last bit (the sweep reads only later
    # panels of the inverse and its own panel of L, copied before it is written)
    own = factorize(sym, A.data)
    assert selected_inverse(own, overwrite=True) is own
    np.testing.assert_array_equal(own.values, H.values)
    # A's own entries, in its CSC order, are where pattern_positions says (no search)
    C = sp.csc_matrix(A)
    C.sort_indices()
    ci = C.indices
    cj = np.repeat(np.arange(n), np.diff(C.indptr))
    np.testing.assert_array_equal(sym.pattern_positions, sym.locate(ci, cj))
    # zeros above every diagonal block's diagonal, in L and in the inverse (updates of
    # consecutive rows write there as slices before a panel is factored and cleared); a
    # panel with no rows below keeps its lower triangle alone, packed
    stored_sizes = 0
    for s in range(sym.first.size - 1):
        k = int(sym.first[s + 1] - sym.first[s])
        assert sym.packed[s] == (sym.rows[s].size == 0)
        if sym.packed[s]:
            stored_sizes += fac.triangle(s).size
            assert fac.triangle(s).size == k * (k + 1) // 2
            continue
        stored_sizes += fac.panel(s).size
        for stored in (fac, H):
            block = stored.panel(s)[:k]
            assert not np.any(np.triu(block, 1))
    # the counts of the analysis are those of the panels
    assert sym.nnz == stored_sizes
    assert sym.nnz >= np.count_nonzero(np.tril(np.abs(L) > 0))


@given(n=st.integers(1, 60), density=st.floats(0.0, 0.3), seed=st.integers(0, 10_000))
@settings(max_examples=60, deadline=None)
def test_random_spd_matches_dense(n: int, density: float, seed: int) -> None:
    A = random_spd(n, density, seed)
    check_against_dense(A, minimum_degree(A), seed)
    check_against_dense(A, np.random.default_rng(seed).permutation(n), seed)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_crossed_design_matches_dense(seed: int) -> None:
    A = crossed_matrix(400, 60, 25, seed)
    check_against_dense(A, minimum_degree(A), seed)
    subjects_first = np.arange(A.shape[0])
    check_against_dense(A, subjects_first, seed)


@pytest.mark.parametrize("columns", [1, 3, 7])
def test_blocks_of_few_columns_match_dense(monkeypatch: pytest.MonkeyPatch, columns: int) -> None:
    """Updates and reads of a few columns at a time: several blocks per run of rows, so
    that both halves of a packed root receive slices and single columns."""
    import mixedmodels.linalg.selinv as selinv_module
    import mixedmodels.linalg.supernodal as supernodal_module

    monkeypatch.setattr(supernodal_module, "UPDATE_COLUMNS", columns)
    monkeypatch.setattr(selinv_module, "UPDATE_COLUMNS", columns)
    A = crossed_matrix(400, 60, 25, 0)
    check_against_dense(A, minimum_degree(A), 0)
    check_against_dense(A, np.arange(A.shape[0]), 0)
    dense = sp.csc_matrix(random_spd(30, 0.3, 4).toarray() + 1.0 + 30 * np.eye(30))
    check_against_dense(dense, np.arange(30), 4)


def test_outside_the_pattern_is_refused() -> None:
    A = sp.csc_matrix(sp.eye(4))
    sym = analyse(A, np.arange(4))
    with pytest.raises(KeyError):
        sym.locate(np.array([1]), np.array([0]))


def test_not_positive_definite_raises() -> None:
    A = sp.csc_matrix(np.array([[1.0, 2.0], [2.0, 1.0]]))
    sym = analyse(A, np.arange(2))
    with pytest.raises(np.linalg.LinAlgError):
        factorize(sym, A.data)


@given(n=st.integers(1, 40), seed=st.integers(0, 10_000))
@settings(max_examples=40, deadline=None)
def test_elimination_tree_and_postorder(n: int, seed: int) -> None:
    A = random_spd(n, 0.1, seed)
    parent = elimination_tree(sp.csc_matrix(sp.tril(A)))
    L = np.linalg.cholesky(A.toarray())
    for j in range(n):
        below = np.flatnonzero(np.abs(L[j + 1 :, j]) > 1e-14)
        # the parent is the first off-diagonal entry of L's column (barring cancellation)
        expected = j + 1 + int(below[0]) if below.size else -1
        assert parent[j] == expected
    post = postorder(parent)
    assert sorted(post.tolist()) == list(range(n))
    seen = np.empty(n, dtype=np.int64)
    seen[post] = np.arange(n)
    assert all(parent[j] < 0 or seen[parent[j]] > seen[j] for j in range(n))


@pytest.mark.parametrize("seed", [0, 1])
def test_the_analysis_bounds_the_memory_of_both_kernels(seed: int) -> None:
    # what a model is refused on (core.tailstorage) is this bound: the kernels must stay
    # inside it, or a model said to fit would run out of memory
    import tracemalloc

    A = crossed_matrix(3000, 400, 150, seed)
    sym = analyse(A, minimum_degree(A))
    assert sym.peak_work > 0  # (panels with rows below exist here)
    tracemalloc.start()
    try:
        fac = factorize(sym, A.data)
        _, factor_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        selected_inverse(fac)
        _, inverse_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    entries = 8 * (sym.nnz + sym.peak_work)
    lower = 8 * A.nnz  # the permuted lower triangle, gathered before the panels fill
    assert factor_peak <= entries + lower
    assert inverse_peak <= 2 * entries  # L is held already; the inverse and its work
    tracemalloc.start()
    try:
        selected_inverse(fac, overwrite=True)
        _, in_place_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert in_place_peak <= 8 * sym.peak_work  # in L's storage: the work alone


def test_minimum_degree_with_its_slack_keeps_the_fill_of_minimum_degree_proper() -> None:
    # each round eliminates the nodes within the slack of the minimum degree at once;
    # on a long-tailed item graph (items that share a subject) the default's fill stays
    # close to multiple minimum degree proper (slack 0) and far below the natural order
    rng = np.random.default_rng(3)
    n_rows, n_subj, n_item = 6000, 500, 700
    weights = 1.0 / np.arange(1, n_item + 1) ** 1.1
    item = rng.choice(n_item, n_rows, p=weights / weights.sum())
    subj = rng.integers(0, n_subj, n_rows)
    rows = np.arange(n_rows)
    Zi = sp.csr_matrix((np.ones(n_rows), (rows, item)), shape=(n_rows, n_item))
    Zs = sp.csr_matrix((np.ones(n_rows), (rows, subj)), shape=(n_rows, n_subj))
    C = Zi.T @ Zs
    A = sp.csc_matrix(C @ C.T + sp.eye(n_item))
    A.sort_indices()
    proper = analyse(A, minimum_degree(A, slack=0.0)).flops
    default = analyse(A, minimum_degree(A)).flops
    natural = analyse(A, np.arange(n_item)).flops
    assert default <= 1.05 * proper
    assert default < 0.5 * natural


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_minimum_degree_needs_no_stored_diagonal_and_ignores_values(seed: int) -> None:
    # the rounds keep each node's own entry in the graph (a node is its own neighbour
    # there): a pattern given without its diagonal, with other values, or with explicit
    # zeros on its diagonal, is ordered as the same pattern with a unit diagonal
    A = crossed_matrix(400, 40, 60, seed)
    order = minimum_degree(A)
    np.testing.assert_array_equal(np.sort(order), np.arange(A.shape[0]))
    off = sp.csc_matrix(A - sp.diags(A.diagonal()))
    off.eliminate_zeros()
    assert off.diagonal().max() == 0.0 and off.nnz == A.nnz - A.shape[0]
    np.testing.assert_array_equal(minimum_degree(off), order)
    np.testing.assert_array_equal(minimum_degree(sp.csc_matrix(A * -3.5)), order)
    zeros = A.copy()
    columns = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    zeros.data[zeros.indices == columns] = 0.0  # stored, and zero
    assert zeros.nnz == A.nnz
    np.testing.assert_array_equal(minimum_degree(zeros), order)
