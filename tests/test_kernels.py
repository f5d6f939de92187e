"""Each block kernel against plain dense arithmetic on random problems."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import lapack

from mixedmodels.core.workspace import Workspace
from mixedmodels.design.crossproducts import ZTerm, crossproducts
from mixedmodels.linalg import (
    cholesky_blocks,
    congruence,
    inverse_lower_blocks,
    multiply_blocks,
    to_component_major,
    to_level_major,
)
from mixedmodels.linalg.pairmap import PairMap, pair_count
from mixedmodels.linalg.weightedgram import WeightedGram


def random_spd_stack(rng: np.random.Generator, m: int, k: int) -> np.ndarray:
    a = rng.normal(size=(m, k, k))
    return a @ np.swapaxes(a, 1, 2) + k * np.eye(k)


@given(k=st.integers(1, 5), m=st.integers(1, 30), seed=st.integers(0, 10_000))
@settings(max_examples=60, deadline=None)
def test_small_block_kernels_match_dense(k: int, m: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    stack = random_spd_stack(rng, m, k)
    blocks = to_component_major(stack)
    np.testing.assert_array_equal(to_level_major(blocks), stack)
    L = to_level_major(cholesky_blocks(blocks))
    np.testing.assert_allclose(L, np.linalg.cholesky(stack), rtol=1e-10, atol=1e-12)
    inv = to_level_major(inverse_lower_blocks(to_component_major(L)))
    np.testing.assert_allclose(inv, np.linalg.inv(L), rtol=1e-9, atol=1e-10)
    T = np.tril(rng.normal(size=(k, k)))
    np.testing.assert_allclose(
        to_level_major(congruence(T, blocks)), T.T @ stack @ T, rtol=1e-10, atol=1e-10
    )
    other = rng.normal(size=(m, k, 3))
    prod = multiply_blocks(blocks, to_component_major(other), transpose_a=True)
    np.testing.assert_allclose(
        to_level_major(prod), np.swapaxes(stack, 1, 2) @ other, rtol=1e-10, atol=1e-10
    )


@given(
    rows=st.integers(1, 40),
    cols=st.integers(1, 60),
    seed=st.integers(0, 10_000),
    threaded=st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_weighted_gram_matches_dense(rows: int, cols: int, seed: int, threaded: bool) -> None:
    from mixedmodels.linalg import weightedgram

    rng = np.random.default_rng(seed)
    Z = sp.random(rows, cols, density=0.2, random_state=seed, format="csr")
    saved = weightedgram.THREAD_MIN_NNZ
    weightedgram.THREAD_MIN_NNZ = 0 if threaded else 10**12  # two row slabs, or one
    try:
        gram = WeightedGram(Z)
    finally:
        weightedgram.THREAD_MIN_NNZ = saved
    dense = Z.toarray()
    # the later calls reuse the symbolic pattern; weights of exactly 0 (a variance at its
    # bound), all zeros, and values that cancel leave entries of the product out, which
    # must not shift the others
    cancelling = np.where(rng.random(cols) < 0.5, 1.0, -1.0)
    weights = [
        rng.random(cols),
        np.where(rng.random(cols) < 0.5, 0.0, rng.random(cols)),
        np.zeros(cols),
        rng.random(cols),
        cancelling,
        np.ones(cols),
    ]
    for w in weights:
        np.testing.assert_allclose(gram.product(w), (dense * w) @ dense.T, atol=1e-12)


@pytest.mark.parametrize("as_dense", [False, True])
def test_weighted_gram_with_a_pattern_that_cancels(as_dense: bool) -> None:
    # Z diag(w) Z' has an entry whose terms cancel exactly for w = 1 (the pattern-fixing
    # run) but not for other weights, and entries that vanish for zero weights
    Z = sp.csr_matrix(np.array([[1.0, 1.0, 0.0], [1.0, -1.0, 2.0], [0.0, 3.0, 1.0]]))
    gram = WeightedGram(Z, dense=as_dense)
    dense = Z.toarray()
    for w in (np.array([2.0, 0.5, 1.0]), np.array([0.0, 1.0, 0.0]), np.zeros(3), np.ones(3)):
        np.testing.assert_allclose(gram.product(w), (dense * w) @ dense.T, atol=1e-12)


@given(
    rows=st.integers(1, 40),
    cols=st.integers(1, 60),
    density=st.floats(0.0, 0.6),
    seed=st.integers(0, 10_000),
    indicators=st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_pair_map_matches_dense(
    rows: int, cols: int, density: float, seed: int, indicators: bool
) -> None:
    rng = np.random.default_rng(seed)
    Z = sp.random(rows, cols, density=density, random_state=seed, format="csr")
    if indicators:  # an intercept term's Z, whose products the map takes as 1
        Z.data[:] = 1.0
    extra = sp.random(rows, rows, density=0.1, random_state=seed + 1, format="csr")
    pairs = PairMap(Z, extra)
    dense = Z.toarray()
    assert np.all(pairs.rows >= pairs.cols)
    assert pairs.forms.nnz == pair_count(Z)
    keys = pairs.rows * rows + pairs.cols
    assert np.all(np.diff(keys) > 0)  # sorted, each position once
    # the pattern holds every non-zero of the product and of extra's lower triangle,
    # and the whole diagonal
    product = dense @ dense.T
    need = np.tril((product != 0) | (extra.toarray() != 0) | np.eye(rows, dtype=bool))
    covered = np.zeros((rows, rows), dtype=bool)
    covered[pairs.rows, pairs.cols] = True
    assert np.all(covered[need])
    np.testing.assert_array_equal(pairs.rows[pairs.diagonal], np.arange(rows))
    w = rng.random(cols)
    np.testing.assert_allclose(pairs.gram(w), pairs.lookup((dense * w) @ dense.T), atol=1e-12)
    H = rng.normal(size=(rows, rows))
    H = H + H.T
    np.testing.assert_allclose(
        pairs.quadratic_forms(pairs.lookup(H)),
        np.einsum("il,ij,jl->l", dense, H, dense),
        rtol=1e-10,
        atol=1e-12,
    )
    h = pairs.lookup(H)
    kept = h.copy()
    np.testing.assert_array_equal(
        pairs.quadratic_forms(h), pairs.quadratic_forms(kept.copy(), True)
    )
    np.testing.assert_array_equal(h, kept)  # the input is left alone unless overwritten
    at = np.zeros(rows * (rows + 1) // 2)
    at[pairs.packed_at] = 1.0
    square, info = lapack.dtfttr(rows, at, transr="N", uplo="L")
    assert info == 0
    np.testing.assert_array_equal(np.tril(square)[pairs.rows, pairs.cols], 1.0)
    assert np.tril(square).sum() == pairs.size


@pytest.mark.parametrize("part", [1, 7, 1 << 18])
def test_pair_pattern_quadratic_forms_read_in_parts_match_dense(monkeypatch, part: int) -> None:
    """``z_l' diag(s) S^{-1} diag(s) z_l`` from the inverse read a part of the pattern at
    a time (as the gradient and the conditional variances read it) equals the dense
    arithmetic, whatever the part's size."""
    from mixedmodels.core import pairinverse
    from mixedmodels.core.densepairs import PairedInverse

    monkeypatch.setattr(pairinverse, "PART", part)
    rng = np.random.default_rng(3)
    q, m = 30, 80
    Z = sp.random(q, m, density=0.15, random_state=4, format="csr")
    pairs = PairMap(Z)
    A = rng.normal(size=(q, q))
    S = A @ A.T + q * np.eye(q)
    Sinv = np.linalg.inv(S)
    lower, info = lapack.dtrttf(np.asfortranarray(Sinv), transr="N", uplo="L")
    assert info == 0
    scale = rng.uniform(0.5, 2.0, size=q)
    inverse = PairedInverse(lower, pairs)
    np.testing.assert_array_equal(inverse.on_pattern(slice(5, 40)), inverse.on_pattern()[5:40])
    dense = Z.toarray() * scale[:, None]
    np.testing.assert_allclose(
        inverse.quadratic_forms(scale),
        np.einsum("il,ij,jl->l", dense, Sinv, dense),
        rtol=1e-12,
        atol=1e-14,
    )


def dense_problem(rng: np.random.Generator, shapes: list[tuple[int, int]], n: int, p: int):
    """Random rows for factors of the given (levels, k), with every level present."""
    terms = []
    for m, k in shapes:
        codes = np.concatenate([np.arange(m), rng.integers(0, m, n - m)]).astype(np.int32)
        rng.shuffle(codes)
        matrix = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(k - 1)])
        terms.append(ZTerm(codes, matrix, m))
    X = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(p - 1)])
    y = rng.normal(size=n)
    return terms, np.column_stack([X, y])


def dense_z(term: ZTerm, n: int) -> np.ndarray:
    Z = np.zeros((n, term.n_levels * term.k))
    for a in range(term.k):
        Z[np.arange(n), term.codes * term.k + a] = term.matrix[:, a]
    return Z


@pytest.mark.parametrize(
    "shapes",
    [
        [(15, 1)],
        [(12, 2)],
        [(9, 3)],
        [(20, 1), (6, 1)],  # crossed scalars
        [(14, 2), (5, 1)],  # vector first factor with a scalar tail
        [(16, 1), (7, 2), (3, 1)],  # several tail factors, one vector-valued
    ],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_blocked_factor_matches_dense_cholesky(shapes, weighted: bool) -> None:
    rng = np.random.default_rng(len(shapes) * 7 + shapes[0][1])
    n, p = 120, 3
    terms, B = dense_problem(rng, shapes, n, p)
    w = rng.uniform(0.5, 2.0, n) if weighted else None
    A = crossproducts(terms, B, w, chunk_rows=37)  # several chunks on purpose
    ws = Workspace(A, [(t.n_levels, t.k) for t in terms[1:]])
    templates = []
    for t in terms:
        T = np.tril(rng.normal(size=(t.k, t.k)))
        T[np.diag_indices(t.k)] = np.abs(T[np.diag_indices(t.k)]) + 0.3
        templates.append(T)
    fac = ws.factorize(templates)
    # the same matrix, dense
    Z = np.hstack([dense_z(t, n) for t in terms])
    Lam = sp.block_diag(
        [sp.kron(sp.eye(t.n_levels), T) for t, T in zip(terms, templates, strict=True)]
    ).toarray()
    sw = np.ones(n) if w is None else np.sqrt(w)
    ZL = (Z @ Lam) * sw[:, None]
    Bw = B * sw[:, None]
    full = np.hstack([ZL, Bw])
    M = full.T @ full
    q = ZL.shape[1]
    M[:q, :q] += np.eye(q)
    L = np.linalg.cholesky(M)
    logdet_z = 2 * np.sum(np.log(np.diag(L)[:q]))
    assert fac.logdet_z == pytest.approx(logdet_z, rel=1e-10)
    np.testing.assert_allclose(fac.LBB, L[q:, q:], rtol=1e-9, atol=1e-9)
    # the objective from its definition: -2 log-likelihood profiled over beta and sigma
    r2 = L[-1, -1] ** 2
    slw = 0.0 if w is None else np.sum(np.log(w))
    ml = logdet_z + n * (1 + np.log(2 * np.pi * r2 / n)) - slw
    assert ws.objective(fac, reml=False) == pytest.approx(ml, rel=1e-11)


@pytest.mark.parametrize("shapes", [[(12, 2)], [(20, 1), (6, 1)], [(14, 2), (5, 1), (3, 2)]])
@pytest.mark.parametrize("slab", [4_000_000, 7])  # 7 pairs: many slabs of levels
@pytest.mark.parametrize("pairs", [True, False])  # the dense tail on its pattern, or not
@pytest.mark.parametrize("solves", [True, False])  # without the pattern: solves or gathers
def test_solution_and_conditional_covariance_match_dense(
    shapes, slab, pairs: bool, solves: bool, monkeypatch
) -> None:
    from mixedmodels.core import levelpairs, solution, tailstorage
    from mixedmodels.core.solution import conditional_covariances, solve

    monkeypatch.setattr(levelpairs, "PAIR_SLAB", slab)
    monkeypatch.setattr(solution, "_solves_are_cheaper", lambda ws: solves)
    if not pairs:
        monkeypatch.setattr(tailstorage, "MAX_PAIRS", 0)

    rng = np.random.default_rng(3)
    n, p = 100, 2
    terms, B = dense_problem(rng, shapes, n, p)
    A = crossproducts(terms, B, None)
    ws = Workspace(A, [(t.n_levels, t.k) for t in terms[1:]])
    templates = [np.tril(rng.uniform(0.2, 1.0, size=(t.k, t.k))) for t in terms]
    fac = ws.factorize(templates)
    sol = solve(ws, fac)
    Z = np.hstack([dense_z(t, n) for t in terms])
    Lam = sp.block_diag(
        [sp.kron(sp.eye(t.n_levels), T) for t, T in zip(terms, templates, strict=True)]
    ).toarray()
    ZL = Z @ Lam
    full = np.hstack([ZL, B])
    M = full.T @ full
    q = ZL.shape[1]
    M[:q, :q] += np.eye(q)
    coef = np.linalg.solve(M[:-1, :-1], M[:-1, -1])
    b = Lam @ coef[:q]
    np.testing.assert_allclose(sol.beta, coef[q:], rtol=1e-9)
    got_b = np.concatenate([sol.b0.ravel(), sol.b_tail])
    np.testing.assert_allclose(got_b, b, rtol=1e-8, atol=1e-10)
    got_u = np.concatenate([sol.u0.ravel(), sol.u_tail])
    np.testing.assert_allclose(got_u, coef[:q], rtol=1e-8, atol=1e-10)
    cov = Lam @ np.linalg.inv(M[:q, :q]) @ Lam.T
    start = 0
    for t, blocks in zip(terms, conditional_covariances(ws, fac), strict=True):
        for level in range(t.n_levels):
            sl = slice(start + level * t.k, start + (level + 1) * t.k)
            np.testing.assert_allclose(blocks[level], cov[sl, sl], rtol=1e-8, atol=1e-12)
        start += t.n_levels * t.k


GRADIENT_SHAPES = [
    [(12, 1)],
    [(12, 2)],
    [(9, 3)],
    [(20, 1), (6, 1)],  # crossed scalars
    [(14, 2), (5, 1)],  # vector first factor, scalar tail
    [(16, 1), (7, 2), (3, 1)],  # several tail factors, one vector-valued
    [(15, 3), (6, 2)],
    [(30, 1), (9, 1), (4, 1)],
]


def theta_positions(shapes: list[tuple[int, int]]) -> np.ndarray:
    """(block, row, column) of every theta element, column-major per block as lme4."""
    return np.array(
        [(b, r, c) for b, (_, k) in enumerate(shapes) for c in range(k) for r in range(c, k)]
    )


@pytest.mark.parametrize("shapes", GRADIENT_SHAPES)
@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("at_boundary", [False, True])
@pytest.mark.parametrize("pairs", [True, False])  # the dense tail on its pattern, or not
def test_analytic_gradient_matches_finite_differences(
    shapes: list[tuple[int, int]], reml: bool, at_boundary: bool, pairs: bool, monkeypatch
) -> None:
    from mixedmodels.core import tailstorage
    from mixedmodels.core.solution import solve
    from mixedmodels.lmm.gradient import objective_gradient

    if not pairs:
        monkeypatch.setattr(tailstorage, "MAX_PAIRS", 0)

    rng = np.random.default_rng(len(shapes) * 10 + shapes[0][1] + reml)
    n, p = 160, 3
    terms, B = dense_problem(rng, shapes, n, p)
    w = rng.uniform(0.5, 2.0, n)
    ws = Workspace(crossproducts(terms, B, w), shapes[1:])
    if len(shapes) > 1:
        scalar = all(k == 1 for _, k in shapes)
        assert (getattr(ws.tail_kind, "pairs", None) is not None) == (pairs and scalar)
    position = theta_positions(shapes)

    def templates(theta: np.ndarray) -> list[np.ndarray]:
        out = [np.zeros((k, k)) for _, k in shapes]
        for value, (b, r, c) in zip(theta, position, strict=True):
            out[b][r, c] = value
        return out

    diagonal = position[:, 1] == position[:, 2]
    theta = rng.uniform(0.3, 1.2, len(position)) * np.where(diagonal, 1, -1)
    if at_boundary:
        # a singular Lambda (a zero on a diagonal): the gradient must not need its inverse
        theta[np.flatnonzero(diagonal)[-1]] = 0.0
    fac = ws.factorize(templates(theta), keep_schur=True)
    grad = objective_gradient(ws, fac, solve(ws, fac), position, reml)
    h = 1e-6
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        up = ws.objective(ws.factorize(templates(theta + e)), reml)
        down = ws.objective(ws.factorize(templates(theta - e)), reml)
        assert grad[i] == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-6)


def test_level_pairs_in_slabs_match_one_piece(monkeypatch) -> None:
    """The quadratic forms equal their definition however the levels are split into slabs,
    and read only the lower triangle of H."""
    from mixedmodels.core import levelpairs

    rng = np.random.default_rng(5)
    m0, k0 = 25, 2
    terms, B = dense_problem(rng, [(m0, k0), (8, 1)], 200, 2)
    A = crossproducts(terms, B, None)
    H = rng.normal(size=(8, 8))
    H = H @ H.T
    one = levelpairs.LevelPairs(A.zt0, m0, k0)
    assert np.all(one.pair_rows >= one.pair_cols)  # the lower triangle only
    whole = one.quadratic_forms(H[one.pair_rows, one.pair_cols])
    monkeypatch.setattr(levelpairs, "PAIR_SLAB", 7)
    pieces = levelpairs.LevelPairs(A.zt0, m0, k0)
    assert len(pieces.slabs) > 3 and pieces._cache is None
    np.testing.assert_allclose(
        pieces.quadratic_forms(H[pieces.pair_rows, pieces.pair_cols]), whole, rtol=1e-12
    )
    Z = A.zt0.toarray()
    for level in range(m0):
        cols = Z[:, k0 * level : k0 * level + k0]
        np.testing.assert_allclose(whole[:, :, level], cols.T @ H @ cols, rtol=1e-10)


def test_tall_skinny_r_factor_and_aliasing_match_one_qr() -> None:
    import scipy.linalg

    from mixedmodels.design.fixed import QR_BLOCK_ROWS, independent_columns, r_factor

    rng = np.random.default_rng(8)
    n = 2 * QR_BLOCK_ROWS + 123  # three blocks, the last one short
    X = rng.normal(size=(n, 5))
    X[:, 0] = 1.0
    direct = scipy.linalg.qr(X, mode="r")[0][:5]
    np.testing.assert_allclose(np.abs(r_factor(X)), np.abs(direct), rtol=1e-10, atol=1e-8)
    # a combination of earlier columns goes, the later independent one stays
    X[:, 3] = X[:, 1] - 2.0 * X[:, 2]
    assert independent_columns(X).tolist() == [0, 1, 2, 4]
    X[:, 2] = 0.0  # a zero column goes, and so does a multiple of column 1
    X[:, 3] = 3.0 * X[:, 1]
    assert independent_columns(X).tolist() == [0, 1, 4]


def test_the_normal_equations_shortcut_keeps_what_the_qr_keeps(monkeypatch) -> None:
    """Columns kept without a QR (every ratio far above the tolerance) are those the QR
    keeps; near the tolerance the QR decides, on either side of it."""
    from mixedmodels.design import fixed

    rng = np.random.default_rng(11)
    n = 500
    base = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    for noise in (1.0, 1e-2, 1e-4, 1e-6, 1e-8, 1e-10, 0.0):
        X = np.column_stack([base, base[:, 1] - 2 * base[:, 2] + noise * rng.normal(size=n)])
        X[:, 1] *= 1e6  # columns on very different scales
        with_shortcut = fixed.independent_columns(X)
        monkeypatch.setattr(fixed, "_clearly_independent", lambda gram, norms: False)
        by_qr = fixed.independent_columns(X)
        monkeypatch.undo()
        assert with_shortcut.tolist() == by_qr.tolist(), noise
    kept = [
        fixed.independent_columns(np.column_stack([base, base[:, 1] * (1 + e)])).size
        for e in (0.0, 1e-12)
    ]
    assert kept == [3, 3]
