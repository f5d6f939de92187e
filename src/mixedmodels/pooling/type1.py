"""The cost of ignoring clusters: Type-I error rates of tests that do and do not account
for clustering, by simulation under the null hypothesis, with real fits."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy

from mixedmodels._replicates import progress_bar, run_replicates
from mixedmodels.errors import ModelSpecError

__all__ = ["Type1Result", "type1_error"]

METHODS = ("ols", "lmm", "cluster_means")


@dataclass(frozen=True)
class Type1Result:
    """Rejection rates under the null, with their Monte Carlo standard errors.

    Attributes
    ----------
    table : pandas.DataFrame
        Per method: ``rejection_rate``, ``mc_se``.
    p_values : pandas.DataFrame
        One row per simulation, one column per method (for histograms).
    design_effect : float
    """

    table: pd.DataFrame
    p_values: pd.DataFrame
    design_effect: float


def _ols_p(y: np.ndarray, x: np.ndarray) -> float:
    X = np.column_stack([np.ones_like(x), x])
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    dof = len(y) - 2
    s2 = resid @ resid / dof
    se = np.sqrt(s2 * np.linalg.inv(X.T @ X)[1, 1])
    return float(2 * scipy.stats.t.sf(abs(beta[1] / se), dof))


#: The first mixed-model fit of each design in this process: the later data sets of the
#: design (same clusters, new x and y) are refitted from it without reading a formula.
_TEMPLATES: dict[tuple[int, int], Any] = {}


def _lmm_p(y: np.ndarray, x: np.ndarray, g: np.ndarray, key: tuple[int, int]) -> float:
    """The Satterthwaite p-value of ``x`` in ``y ~ x + (1 | g)``.

    The model is fitted with :func:`mixedmodels.lmm` for the first data set of a design
    and refitted to the new ``[1, x]`` and ``y`` of the later ones
    (:func:`mixedmodels.lmm.refit.refit_fixed`, the same steps after the data are read,
    so the same fit)."""
    import warnings

    from mixedmodels.fitting import lmm
    from mixedmodels.inference.satterthwaite import satterthwaite_t
    from mixedmodels.inference.varpar import VarianceFunctions
    from mixedmodels.lmm.record import LmmRecord
    from mixedmodels.lmm.refit import refit_fixed

    template = _TEMPLATES.get(key)
    fit: LmmRecord | None = None
    if template is not None:
        fit = refit_fixed(template, y, np.column_stack([np.ones_like(x), x]))
    if fit is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = lmm("y ~ x + (1 | g)", {"y": y, "x": x, "g": g})
        if template is None and fit.fixed_names == ("(Intercept)", "x") and fit.nobs == y.size:
            _TEMPLATES.clear()
            _TEMPLATES[key] = fit
    # the t tests coef_table(ddf="satterthwaite") reports, without building its table
    tests = satterthwaite_t(VarianceFunctions(fit), fit.beta)
    return float(tests["p_value"][list(fit.fixed_names).index("x")])


def _one(
    design: tuple[int, int, float, str, tuple[str, ...]], seq: np.random.SeedSequence
) -> list[float]:
    """One simulated data set's p-values: ``design`` is (clusters, size, ICC, covariate,
    methods)."""
    n_clusters, size, icc, covariate, methods = design
    rng = np.random.default_rng(seq)
    g = np.repeat(np.arange(n_clusters), size)
    u = rng.normal(0, np.sqrt(icc), n_clusters)
    y = u[g] + rng.normal(0, np.sqrt(1 - icc), g.size)
    x = rng.normal(size=n_clusters)[g] if covariate == "cluster" else rng.normal(size=g.size)
    out = []
    for method in methods:
        if method == "ols":
            out.append(_ols_p(y, x))
        elif method == "cluster_means":
            ybar = np.bincount(g, y) / size
            xbar = np.bincount(g, x) / size
            out.append(_ols_p(ybar, xbar))
        else:
            out.append(_lmm_p(y, x, g, (n_clusters, size)))
    return out


def type1_error(
    n_clusters: int = 10,
    cluster_size: int = 10,
    icc: float = 0.1,
    n_sims: int = 2000,
    covariate: str = "cluster",
    methods: Sequence[str] = METHODS,
    alpha: float = 0.05,
    seed: int | None = None,
    n_jobs: int = 1,
    progress: bool = True,
    client: Any = None,
) -> Type1Result:
    """Rejection rate of each test of a null effect of ``x`` on clustered data.

    ``y_ij = u_j + e_ij`` with ICC ``icc`` and no effect of ``x``; ``x`` varies between
    clusters only (``covariate="cluster"``) or within them (``"within"``). Methods:
    ``"ols"`` ignores the clusters, ``"lmm"`` fits ``y ~ x + (1 | g)`` with Satterthwaite
    df, ``"cluster_means"`` regresses the cluster means. Simulation ``i`` draws from its
    own generator spawned from ``seed``, so results do not depend on ``n_jobs`` (worker
    processes) or on ``client`` (a ``dask.distributed.Client`` whose workers run them).
    """
    methods = tuple(methods)
    if not 0 <= icc < 1:
        raise ModelSpecError(f"the ICC must lie in [0, 1), not {icc!r}")
    if n_clusters < 3 or cluster_size < 1:
        raise ModelSpecError("type1_error needs at least 3 clusters of at least 1 row")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ModelSpecError(f"unknown method(s) {unknown}; choose from {METHODS}")
    if covariate not in ("cluster", "within"):
        raise ModelSpecError(f"covariate must be 'cluster' or 'within', not {covariate!r}")
    cells = int(n_sims) * n_clusters * cluster_size
    if cells > 2e9:
        raise ModelSpecError(
            f"{n_sims} simulations of {n_clusters} x {cluster_size} rows are {cells:.2g} "
            "values in all; use fewer simulations or smaller designs"
        )
    seqs = np.random.SeedSequence(seed).spawn(int(n_sims))
    design = (n_clusters, cluster_size, icc, covariate, methods)
    bar = progress_bar(len(seqs), progress, "type1_error", "sim")
    jobs = (os.cpu_count() or 1) if n_jobs == -1 else max(1, int(n_jobs))
    rows = run_replicates(
        _one,
        design,
        seqs,
        n_jobs=n_jobs,
        client=client,
        bar=bar,
        batch_size=max(1, len(seqs) // (8 * jobs)),
    )
    if bar is not None:
        bar.close()
    p = pd.DataFrame(rows, columns=list(methods))
    rate = (p < alpha).mean()
    table = pd.DataFrame({"rejection_rate": rate, "mc_se": np.sqrt(rate * (1 - rate) / len(p))})
    deff = 1.0 + (cluster_size - 1.0) * icc
    return Type1Result(table, p, deff)
