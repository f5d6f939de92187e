"""The cross-product blocks of A against plain dense arithmetic, in each storage."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from mixedmodels.design.crossproducts import ZTerm, crossproducts


@pytest.mark.parametrize("weighted", [False, True])
def test_one_scalar_tail_term_keeps_its_diagonal_gram_sparse(weighted: bool) -> None:
    # (1 | subj) + (1 | item): Z_T'WZ_T is diagonal, and a dense q_T x q_T array of it
    # was 30 MB of a 2,000-item fit's peak
    rng = np.random.default_rng(3)
    n, m0, m1 = 500, 40, 30
    g = np.sort(rng.integers(0, m0, n))
    h = rng.integers(0, m1 - 1, n)  # the last item has no row
    weights = rng.uniform(0.5, 2.0, n) if weighted else None
    B = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    terms = [
        ZTerm(g, np.ones((n, 1)), m0, np.searchsorted(g, np.arange(m0))),
        ZTerm(h, np.ones((n, 1)), m1),
    ]
    products = crossproducts(terms, B, weights)
    assert sp.issparse(products.ztt)
    Zt = np.zeros((n, m1))
    Zt[np.arange(n), h] = 1.0
    w = np.ones(n) if weights is None else weights
    np.testing.assert_allclose(products.ztt.toarray(), Zt.T @ (w[:, None] * Zt), rtol=1e-14)
