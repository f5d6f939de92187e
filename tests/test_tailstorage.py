"""The sparse (supernodal) tail gives what the dense tail gives, and refuses what is too big."""

from __future__ import annotations

import importlib
import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels.core import sparsetail, tailstorage
from mixedmodels.core import workspace as workspace_module
from mixedmodels.core.solution import conditional_covariances, solve
from mixedmodels.core.workspace import Workspace
from mixedmodels.design.crossproducts import ZTerm, crossproducts
from mixedmodels.errors import ModelTooLargeError
from mixedmodels.lmm.gradient import objective_gradient

cp_module = importlib.import_module("mixedmodels.design.crossproducts")


def crossed_terms(
    seed: int, n: int, shapes: list[tuple[int, int]], k0: int
) -> tuple[list[ZTerm], np.ndarray]:
    """A crossed design with long-tailed popularity (Zipf) in every tail factor; the last
    level of each tail factor is seen by one row only."""
    rng = np.random.default_rng(seed)
    terms = []
    for f, (m, k) in enumerate(shapes):
        if f == 0:
            codes = np.concatenate([np.arange(m), rng.integers(0, m, n - m)])
        else:
            weights = 1.0 / np.arange(1, m) ** 1.1
            rest = rng.choice(m - 1, n - m, p=weights / weights.sum())
            codes = np.concatenate([np.arange(m), rest])
        rng.shuffle(codes)
        width = k0 if f == 0 else k
        matrix = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(width - 1)])
        terms.append(ZTerm(codes.astype(np.int32), matrix, m))
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = rng.normal(size=n)
    return terms, np.column_stack([X, y])


def both_kinds(terms: list[ZTerm], B: np.ndarray, w: np.ndarray | None, monkeypatch):
    shapes = [(t.n_levels, t.k) for t in terms[1:]]
    out = []
    for kind in ("dense", "sparse"):
        monkeypatch.setattr(tailstorage, "TAIL_KIND", kind)
        ws = Workspace(crossproducts(terms, B, w), shapes)
        assert ws.tail_kind is not None and ws.tail_kind.name == kind
        out.append(ws)
    return out


CASES = [
    (0, [(60, 1), (40, 1)], 1, False),
    (1, [(80, 1), (35, 1), (12, 1)], 1, True),  # two scalar tail factors
    (2, [(50, 2), (30, 1)], 2, False),  # a vector first factor
]


@pytest.mark.parametrize(("seed", "shapes", "k0", "weighted"), CASES)
def test_sparse_tail_matches_dense(seed, shapes, k0, weighted, monkeypatch) -> None:
    n = 400
    terms, B = crossed_terms(seed, n, shapes, k0)
    w = np.random.default_rng(seed).uniform(0.5, 2.0, n) if weighted else None
    dense, sparse = both_kinds(terms, B, w, monkeypatch)
    rng = np.random.default_rng(seed + 100)
    T0 = np.tril(rng.uniform(0.3, 1.0, (k0, k0)))
    templates = [T0] + [np.array([[rng.uniform(0.2, 1.5)]]) for _ in shapes[1:]]
    fd = dense.factorize(templates, keep_schur=True)
    fs = sparse.factorize(templates, keep_schur=True)
    assert fs.logdet_z == pytest.approx(fd.logdet_z, rel=1e-12)
    np.testing.assert_allclose(fs.LBB, fd.LBB, rtol=1e-10, atol=1e-12)
    for reml in (True, False):
        assert sparse.objective(fs, reml) == pytest.approx(dense.objective(fd, reml), rel=1e-12)
    sd, ss = solve(dense, fd), solve(sparse, fs)
    np.testing.assert_allclose(ss.beta, sd.beta, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ss.b0, sd.b0, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ss.b_tail, sd.b_tail, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ss.u_tail, sd.u_tail, rtol=1e-9, atol=1e-12)
    for a, b in zip(
        conditional_covariances(sparse, fs), conditional_covariances(dense, fd), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-13)
    position = np.array(
        [
            (b, r, c)
            for b, (_, k) in enumerate([(0, k0)] + shapes[1:])
            for c in range(k)
            for r in range(c, k)
        ]
    )
    for reml in (True, False):
        np.testing.assert_allclose(
            objective_gradient(sparse, fs, ss, position, reml),
            objective_gradient(dense, fd, sd, position, reml),
            rtol=1e-8,
            atol=1e-9,
        )


def test_sparse_tail_with_sparse_cross_products(monkeypatch) -> None:
    """Z_T'WZ_T stored sparse (a large tail) gives the same factorization."""
    terms, B = crossed_terms(3, 300, [(50, 1), (45, 1)], 1)
    shapes = [(45, 1)]
    templates = [np.array([[0.7]]), np.array([[0.4]])]
    monkeypatch.setattr(tailstorage, "TAIL_KIND", "sparse")
    ref = Workspace(crossproducts(terms, B, None), shapes).factorize(templates)
    monkeypatch.setattr(cp_module, "DENSE_TAIL_ENTRIES", 10)
    products = crossproducts(terms, B, None, chunk_rows=70)
    assert not isinstance(products.ztt, np.ndarray)
    for kind in ("sparse", "dense"):
        monkeypatch.setattr(tailstorage, "TAIL_KIND", kind)
        fac = Workspace(products, shapes).factorize(templates)
        assert fac.logdet_z == pytest.approx(ref.logdet_z, rel=1e-12)
        np.testing.assert_allclose(fac.LBB, ref.LBB, rtol=1e-10)


def long_tail_frame(seed: int, n: int, subjects: int, items: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    subj = np.concatenate([np.arange(subjects), rng.integers(0, subjects, n - subjects)])
    weights = 1.0 / np.arange(1, items + 1)
    item = np.concatenate(
        [np.arange(items), rng.choice(items, n - items, p=weights / weights.sum())]
    )
    rng.shuffle(subj)
    rng.shuffle(item)
    x = rng.normal(size=n)
    y = 1 + 0.3 * x + rng.normal(0, 0.8, subjects)[subj] + rng.normal(0, 0.5, items)[item]
    y = y + rng.normal(size=n)
    return pd.DataFrame(
        {"y": y, "x": x, "subj": [f"s{s}" for s in subj], "item": [f"i{i}" for i in item]}
    )


def test_whole_fit_same_criterion_either_kind(monkeypatch) -> None:
    df = long_tail_frame(4, 3000, 300, 250)
    fits = {}
    for kind in ("dense", "sparse"):
        monkeypatch.setattr(tailstorage, "TAIL_KIND", kind)
        fits[kind] = mm.lmm("y ~ x + (1 | subj) + (1 | item)", df, reml=True)
    assert fits["sparse"].objective == pytest.approx(fits["dense"].objective, rel=1e-8)
    np.testing.assert_allclose(fits["sparse"].theta, fits["dense"].theta, rtol=1e-4)


def test_automatic_choice_takes_sparse_for_a_long_sparse_tail(monkeypatch) -> None:
    terms, B = crossed_terms(5, 4000, [(2000, 1), (600, 1)], 1)
    monkeypatch.setattr(tailstorage, "SPARSE_MIN_LEVELS", 100)
    ws = Workspace(crossproducts(terms, B, None), [(600, 1)])
    assert ws.tail_kind is not None and ws.tail_kind.name == "sparse"
    monkeypatch.setattr(tailstorage, "SPARSE_MIN_LEVELS", 10**6)
    ws = Workspace(crossproducts(terms, B, None), [(600, 1)])
    assert ws.tail_kind is not None and ws.tail_kind.name == "dense"


@pytest.mark.parametrize("kind", ["dense", "sparse"])
def test_too_large_a_tail_is_refused_before_allocating(kind, monkeypatch) -> None:
    terms, B = crossed_terms(6, 400, [(60, 1), (40, 1)], 1)
    monkeypatch.setattr(tailstorage, "TAIL_KIND", kind)
    monkeypatch.setattr(tailstorage, "MAX_TAIL_BYTES", 1000)
    with pytest.raises(ModelTooLargeError, match=rf"the {kind} factor.*40 levels.*GiB"):
        Workspace(crossproducts(terms, B, None), [(40, 1)])
    monkeypatch.setattr(tailstorage, "MAX_TAIL_BYTES", 10**9)
    assert Workspace(crossproducts(terms, B, None), [(40, 1)]).tail_kind is not None


@pytest.mark.parametrize(
    ("kind", "k0", "on_pairs"),
    [("dense", 1, False), ("dense", 1, True), ("sparse", 1, True), ("sparse", 2, False)],
)
def test_tail_traces_from_the_inverse_diagonal_match_the_sums_on_the_pattern(
    kind: str, k0: int, on_pairs: bool, monkeypatch
) -> None:
    # the gradient's tail sums read the diagonal of S^{-1} ((1 - S^{-1}_aa) / scale_a);
    # every storage kind's own sum over E's pattern gives the same (a scalar first factor
    # keeps E on the pattern of its pairs of tail levels, a vector one on S's pattern)
    from mixedmodels.lmm.gradient import _row_traces

    terms, B = crossed_terms(4, 500, [(70, k0), (30, 1), (9, 1)], k0)
    monkeypatch.setattr(tailstorage, "TAIL_KIND", kind)
    if not on_pairs:
        monkeypatch.setattr(tailstorage, "MAX_PAIRS", 0)
    ws = Workspace(crossproducts(terms, B, None), [(30, 1), (9, 1)])
    assert ws.tail_kind is not None and ws.tail_kind.name == kind
    assert (getattr(ws.tail_kind, "pairs", None) is not None) == on_pairs
    T0 = np.array([[0.8]]) if k0 == 1 else np.array([[0.8, 0.0], [0.3, 0.5]])
    templates = [T0, np.array([[0.6]]), np.array([[1.3]])]
    fac = ws.factorize(templates, keep_schur=True)
    assert fac.tail is not None and fac.schur is not None
    inverse = fac.tail.inverse()
    scale = ws.tail_scale(templates[1:])
    assert scale is not None
    np.testing.assert_allclose(
        _row_traces(inverse, fac.schur, scale),
        inverse.row_traces(fac.schur, scale),
        rtol=1e-10,
        atol=1e-12,
    )


def test_a_paired_tail_builds_no_gram_slabs_until_reweighted(monkeypatch) -> None:
    # the Gram kernel's buffers hold the whole product; a dense tail that keeps its pairs
    # forms the product from the pair map, so the kernel is built only for a reweighted
    # Z_T'WZ0 (a GLMM), and then gives the pair map's product
    terms, B = crossed_terms(8, 600, [(80, 1), (30, 1)], 1)
    monkeypatch.setattr(tailstorage, "TAIL_KIND", "dense")
    ws = Workspace(crossproducts(terms, B, None), [(30, 1)])
    assert ws.tail_kind is not None and getattr(ws.tail_kind, "pairs", None) is not None
    assert ws._gram is not None
    templates = [np.array([[0.7]]), np.array([[1.2]])]
    fac = ws.factorize(templates, keep_schur=True)
    position = np.array([(0, 0, 0), (1, 0, 0)])
    grad = objective_gradient(ws, fac, solve(ws, fac), position, True)
    assert np.all(np.isfinite(grad))
    assert ws._gram._slabs == []
    w = np.random.default_rng(2).random(80)
    paired = ws.tail_kind.schur_gram(np.zeros((30, 30)), ws._gram, w, None)
    dense = -ws._gram.product(w)
    assert ws._gram._slabs
    P = ws.tail_kind.pairs
    np.testing.assert_allclose(paired, dense[P.rows, P.cols], rtol=1e-12, atol=1e-12)


def test_the_sparse_tails_positions_cache_stays_bounded_over_refits(monkeypatch) -> None:
    # the gradient's lookups come back as the same arrays (cache hits); refits on the
    # same model keep the same kind, and arrays that come once must not pile up in it
    # (the kind of a vector first factor: a scalar one keeps E on its pairs of levels)
    df = long_tail_frame(4, 3000, 300, 250)
    monkeypatch.setattr(tailstorage, "TAIL_KIND", "sparse")
    fit = mm.lmm("y ~ x + (1 + x | subj) + (1 | item)", df, reml=True)
    kind = fit.model.workspace.tail_kind
    assert isinstance(kind, sparsetail.SparseTail)
    for y in fit.simulate(12, seed=5).T:
        fit.refit(y)
    assert 0 < len(kind._cache) <= sparsetail.POSITION_CACHE
    q = kind.q
    rows = np.arange(q)
    first = kind.positions(rows, rows)
    assert kind.positions(rows, rows) is first  # the same arrays: a hit
    for _ in range(3 * sparsetail.POSITION_CACHE):
        np.testing.assert_array_equal(kind.positions(np.arange(q), np.arange(q)), first)
    assert len(kind._cache) <= sparsetail.POSITION_CACHE


@pytest.mark.parametrize(
    "formula", ["y ~ x + (1 | subj) + (1 | item)", "y ~ x + (1 + x | subj) + (1 | item)"]
)
def test_sparse_estimate_bounds_what_the_fit_takes_after_the_check(formula, monkeypatch) -> None:
    """Everything a sparse fit allocates after its tail's layout is chosen (factors,
    inverses, the Schur complement and the gradient's arrays) stays within the estimate
    the layout was checked with, so a fit that passes the check cannot end in numpy's
    MemoryError. The estimate once counted 32 bytes per entry of S's pattern and none per
    pair of levels; on this design that was far below what the fit took."""
    import tracemalloc

    df = long_tail_frame(7, 20000, 1500, 1200)
    monkeypatch.setattr(tailstorage, "TAIL_KIND", "sparse")
    chosen: list[tailstorage.TailKind] = []
    choose = tailstorage.choose_tail

    def recording(*args, **kwargs):
        kind = choose(*args, **kwargs)
        chosen.append(kind)
        tracemalloc.reset_peak()
        chosen_at.append(tracemalloc.get_traced_memory()[0])
        return kind

    chosen_at: list[int] = []
    monkeypatch.setattr(workspace_module, "choose_tail", recording)
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mm.SingularFitWarning)
            mm.lmm(formula, df, reml=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    kind = chosen[0]
    assert kind.name == "sparse"
    taken = peak - chosen_at[0]
    assert taken <= kind.bytes, (taken, kind.bytes)
    # and the estimate is not wildly above it either (a refusal should mean something)
    assert kind.bytes < 4 * taken


@pytest.mark.parametrize("k0", [1, 2])
def test_a_solve_after_the_inverse_factors_again_and_a_fit_never_needs_to(
    k0: int, monkeypatch
) -> None:
    # the sparse kinds' inverse takes the factor's storage; a later solve factors S
    # again and gives the same answer, and a whole fit orders its work so that no
    # evaluation pays for that
    terms, B = crossed_terms(9, 500, [(70, k0), (40, 1)], k0)
    monkeypatch.setattr(tailstorage, "TAIL_KIND", "sparse")
    ws = Workspace(crossproducts(terms, B, None), [(40, 1)])
    T0 = np.array([[0.9]]) if k0 == 1 else np.array([[0.9, 0.0], [0.2, 0.6]])
    templates = [T0, np.array([[0.7]])]
    fac = ws.factorize(templates, keep_schur=True)
    tail = fac.tail
    assert isinstance(tail, tailstorage.SparseTailFactor)
    rhs = np.random.default_rng(1).normal(size=(40, 2))
    before = tail.solve_upper(tail.solve_lower(rhs))
    tail.inverse()
    assert tail.refactorizations == 0
    np.testing.assert_array_equal(tail.solve_upper(tail.solve_lower(rhs)), before)
    assert tail.refactorizations == 1

    made: list[tailstorage.SparseTailFactor] = []
    original = tailstorage.SparseTailFactor.__init__

    def recording(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(tailstorage.SparseTailFactor, "__init__", recording)
    df = long_tail_frame(4, 3000, 300, 250)
    formula = (
        "y ~ x + (1 | subj) + (1 | item)" if k0 == 1 else "y ~ x + (1 + x | subj) + (1 | item)"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.SingularFitWarning)
        mm.lmm(formula, df, reml=True)
    assert made and sum(f.refactorizations for f in made) == 0
    assert any(f._inverse is not None for f in made)  # the gradient read the inverse
