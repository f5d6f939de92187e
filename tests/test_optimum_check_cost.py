"""The check of an optimum on the boundary reads the analytic gradient: its Hessian over
the free coordinates costs one gradient per coordinate, not n^2 criteria (a k = 20 vector
term, 210 coordinates, spent 44,000 criteria and four minutes on the check alone)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

import mixedmodels as mm
from mixedmodels.core.newton import FREE_HESSIAN


def test_a_singular_vector_term_is_checked_with_the_gradient() -> None:
    rng = np.random.default_rng(3)
    k, groups, size = 6, 12, 10
    g = np.repeat(np.arange(groups), size)
    X = rng.normal(size=(g.size, k - 1))
    b = rng.normal(size=(groups, k)) * 0.3
    Z = np.column_stack([np.ones(g.size), X])
    y = X.sum(axis=1) + np.einsum("ij,ij->i", Z, b[g]) + rng.normal(size=g.size)
    data = pd.DataFrame(X, columns=[f"x{i}" for i in range(1, k)])
    data["y"], data["g"] = y, g
    terms = " + ".join(data.columns[: k - 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = mm.lmm(f"y ~ {terms} + ({terms} | g)", data)
    n_theta = len(fit.theta)
    assert fit.is_singular  # 12 groups for a 6 x 6 covariance: on the boundary
    assert fit.optinfo.check == FREE_HESSIAN
    assert fit.optinfo.n_evaluations < n_theta**2
    assert fit.optinfo.scaled_gradient is not None and fit.optinfo.scaled_gradient < 1e-4
    assert fit.optinfo.converged and not fit.optinfo.warnings
