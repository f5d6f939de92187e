"""Reweighting a fixed design: the blocks, the workspace and the weighted Gram product for
new weights equal those built from scratch."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from mixedmodels.core.densepairs import PairedTailFactor
from mixedmodels.core.tailstorage import DenseTailFactor
from mixedmodels.core.workspace import Workspace
from mixedmodels.design.crossproducts import CrossProducts, ZTerm, crossproducts
from mixedmodels.design.reweight import Reweighting
from mixedmodels.linalg.weightedgram import WeightedGram

N = 400


def _design(kind: str, seed: int) -> tuple[list[ZTerm], np.ndarray]:
    """Grouping terms (the first sorted by level, as in PIRLS) and a fixed-effects matrix."""
    rng = np.random.default_rng(seed)
    g = np.sort(rng.integers(0, 25, N))
    x = rng.normal(size=N)
    X = np.column_stack([np.ones(N), x, (rng.random(N) < 0.3).astype(float)])
    starts = np.searchsorted(g, np.arange(25))
    if kind == "scalar":
        return [ZTerm(g, np.ones((N, 1)), 25, starts)], X
    if kind == "vector":
        return [ZTerm(g, np.column_stack([np.ones(N), x]), 25, starts)], X
    # crossed: a scalar first factor, a scalar and a vector-valued tail term
    h = rng.integers(0, 6, N)
    f = rng.integers(0, 4, N)
    z = rng.normal(size=N)
    return [
        ZTerm(g, np.ones((N, 1)), 25, starts),
        ZTerm(h, np.ones((N, 1)), 6),
        ZTerm(f, np.column_stack([np.ones(N), z]), 4),
    ], X


def _dense(products: CrossProducts) -> dict[str, np.ndarray]:
    out = {"zz0": products.zz0, "bz0": products.bz0, "bb": products.bb}
    if products.zt0 is not None:
        assert products.ztt is not None and products.bzt is not None
        out.update(zt0=products.zt0.toarray(), ztt=products.ztt, bzt=products.bzt)
    return out


@pytest.mark.parametrize("kind", ["scalar", "vector", "crossed"])
@pytest.mark.parametrize("p", [3, 0])
def test_reweighted_blocks_equal_blocks_from_scratch(kind: str, p: int) -> None:
    terms, X = _design(kind, seed=3)
    reweighting = Reweighting(terms, X[:, :p])
    rng = np.random.default_rng(7)
    for _ in range(3):  # several weightings of one structure
        w = rng.random(N) + 0.01
        w[::17] = 0.0  # zero weights keep the pattern
        r = rng.normal(size=N)
        ours = reweighting.products(w, r)
        scratch = crossproducts(terms, np.column_stack([X[:, :p], r]), w)
        mine, theirs = _dense(ours), _dense(scratch)
        assert mine.keys() == theirs.keys()
        for name, value in theirs.items():
            np.testing.assert_allclose(mine[name], value, rtol=1e-12, atol=1e-12, err_msg=name)
        assert ours.n == scratch.n
        assert ours.sum_log_weights == pytest.approx(scratch.sum_log_weights, rel=1e-12)
    assert np.isnan(reweighting.products(w, r, log_weights=False).sum_log_weights)


def _templates(kind: str) -> list[np.ndarray]:
    if kind == "vector":
        return [np.array([[0.8, 0.0], [0.3, 0.5]])]
    if kind == "scalar":
        return [np.array([[0.7]])]
    return [np.array([[0.7]]), np.array([[1.3]]), np.array([[0.9, 0.0], [-0.4, 0.6]])]


def _tail_shapes(terms: list[ZTerm]) -> list[tuple[int, int]]:
    return [(t.n_levels, t.k) for t in terms[1:]]


@pytest.mark.parametrize("kind", ["scalar", "vector", "crossed", "crossed-vector"])
def test_reweighted_workspace_factors_as_a_fresh_one(kind: str) -> None:
    terms, X = _design("crossed" if kind.startswith("crossed") else kind, seed=5)
    if kind == "crossed-vector":  # a vector first factor takes the sparse (not Gram) path
        rng = np.random.default_rng(9)
        first = terms[0]
        terms = [ZTerm(first.codes, np.column_stack([np.ones(N), rng.normal(size=N)]), 25)]
        terms += _design("crossed", seed=5)[0][1:]
        templates = [np.array([[0.8, 0.0], [0.3, 0.5]])] + _templates("crossed")[1:]
    else:
        templates = _templates(kind)
    reweighting = Reweighting(terms, X)
    rng = np.random.default_rng(11)
    start = reweighting.products(rng.random(N) + 0.1, rng.normal(size=N))
    base = Workspace(start, _tail_shapes(terms))
    for _ in range(2):
        w, r = rng.random(N) + 0.1, rng.normal(size=N)
        ws = base.reweighted(reweighting.products(w, r))
        fresh = Workspace(crossproducts(terms, np.column_stack([X, r]), w), _tail_shapes(terms))
        a, b = ws.factorize(templates), fresh.factorize(templates)
        assert a.logdet_z == pytest.approx(b.logdet_z, rel=1e-11)
        np.testing.assert_allclose(a.LBB, b.LBB, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(a.LB0, b.LB0, rtol=1e-10, atol=1e-12)
        if b.tail is not None:
            # the dense kind, square or packed on the pattern (scalar terms), alike in both
            assert isinstance(a.tail, DenseTailFactor | PairedTailFactor)
            assert type(a.tail) is type(b.tail)
            assert a.LBT is not None and b.LBT is not None
            np.testing.assert_allclose(a.tail.L, b.tail.L, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(a.LBT, b.LBT, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(ws._zt0_t.toarray(), fresh._zt0.toarray().T)


def test_reweighted_workspace_refuses_another_pattern() -> None:
    terms, X = _design("crossed", seed=1)
    other, _ = _design("crossed", seed=2)
    w, r = np.ones(N), np.ones(N)
    base = Workspace(Reweighting(terms, X).products(w, r), _tail_shapes(terms))
    with pytest.raises(ValueError, match="pattern"):
        base.reweighted(Reweighting(other, X).products(w, r))


@pytest.mark.parametrize(("threaded", "as_dense"), [(False, False), (True, False), (False, True)])
def test_weighted_gram_with_new_values_matches_dense(
    threaded: bool, as_dense: bool, monkeypatch
) -> None:
    from mixedmodels.linalg import weightedgram

    monkeypatch.setattr(weightedgram, "THREAD_MIN_NNZ", 1 if threaded else 10**9)
    rng = np.random.default_rng(4)
    Z = sp.random(30, 50, density=0.2, format="csr", random_state=rng)
    Z.sum_duplicates()
    gram = WeightedGram(Z, dense=as_dense)
    for _ in range(2):
        values = rng.normal(size=Z.nnz)
        w = rng.random(50)
        Znew = sp.csr_matrix((values, Z.indices, Z.indptr), shape=Z.shape).toarray()
        dense = rng.normal(size=(30, 30))
        got = gram.subtract_from(dense, w, values)
        np.testing.assert_allclose(got, dense - Znew @ np.diag(w) @ Znew.T, atol=1e-12)
        np.testing.assert_allclose(gram.transposed_values(values), sp.csr_matrix(Znew.T).data)
    # without new values it is still the product of the original Z
    np.testing.assert_allclose(gram.product(w), Z.toarray() @ np.diag(w) @ Z.toarray().T)


def test_a_reweighted_sparse_tail_on_pairs_factors_as_a_fresh_one(monkeypatch) -> None:
    # a GLMM's reweighted Z_T'WZ0 reaches the pair-pattern sparse kind through the Gram
    # kernel (the map holds the design's own values); its factor, solutions and
    # conditional covariances (read on S's pattern, not by the map's quadratic forms)
    # equal a fresh workspace's, which takes the weights into the map's values
    from mixedmodels.core import tailstorage
    from mixedmodels.core.solution import conditional_covariances
    from mixedmodels.core.sparsepairs import PairedSparseTail

    monkeypatch.setattr(tailstorage, "TAIL_KIND", "sparse")
    terms, X = _design("crossed", seed=4)
    terms = terms[:2]  # the scalar first factor and one scalar tail factor
    templates = [np.array([[0.7]]), np.array([[1.3]])]
    reweighting = Reweighting(terms, X)
    rng = np.random.default_rng(3)
    base = Workspace(reweighting.products(rng.random(N) + 0.1, rng.normal(size=N)), [(6, 1)])
    assert isinstance(base.tail_kind, PairedSparseTail)
    for _ in range(2):
        w, r = rng.random(N) + 0.1, rng.normal(size=N)
        ws = base.reweighted(reweighting.products(w, r))
        fresh = Workspace(crossproducts(terms, np.column_stack([X, r]), w), [(6, 1)])
        a, b = ws.factorize(templates), fresh.factorize(templates)
        assert a.logdet_z == pytest.approx(b.logdet_z, rel=1e-11)
        np.testing.assert_allclose(a.LBB, b.LBB, rtol=1e-10, atol=1e-12)
        for mine, theirs in zip(
            conditional_covariances(ws, a), conditional_covariances(fresh, b), strict=True
        ):
            np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)
