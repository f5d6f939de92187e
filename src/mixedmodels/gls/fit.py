"""Generalized least squares with residual correlation and variance structures, as nlme's
``gls``: ``y = X beta + e`` with ``Var(e_i) = sigma^2 D_i R_i D_i`` in each group ``i`` of
the correlation structure (``R_i`` its correlation matrix, ``D_i`` the rows' SD
multipliers of the variance function).

For given structure parameters each group's rows are whitened
(:mod:`mixedmodels.gls.whitening`: in time order for the autoregressions, by the Cholesky
factor of ``D_i R_i D_i`` otherwise; never n x n), beta and sigma^2 are profiled out by least
squares on the whitened rows, and the ML or REML criterion follows; the structure
parameters are optimized on their unconstrained scales.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg, optimize

from mixedmodels._data import as_dataframe
from mixedmodels._threads import lapack_threads, one_blas_thread
from mixedmodels.core.newton import central_gradient
from mixedmodels.design.materialize import design_matrix
from mixedmodels.design.response import read_response
from mixedmodels.errors import DataError, ModelSpecError
from mixedmodels.gls.marginal import StructureCovariance
from mixedmodels.gls.result import GlsResult
from mixedmodels.gls.structures import Correlation, Variance, parse_form
from mixedmodels.gls.whitening import Whitener
from mixedmodels.inference.dense_covariance import DenseCovariance, components

__all__ = ["gls"]

#: The optimizer's tolerance on the criterion's gradient (central differences, step
#: DIFFERENCE_STEP on the unconstrained scale).
GRADIENT_TOLERANCE = 1e-7
DIFFERENCE_STEP = 1e-6
#: The optimum is accepted when the criterion's gradient is below this at the end
#: (BFGS reports a loss of precision near it, where the differenced gradient is noise).
ACCEPTED_GRADIENT = 1e-3
#: The largest group a correlation structure factors (its matrix is dense).
MAX_GROUP_ROWS = 2000


class _Criterion:
    """-2 log L (ML) or the REML criterion as a function of the structure parameters."""

    def __init__(self, X: np.ndarray, y: np.ndarray, whitener: Whitener, reml: bool) -> None:
        self.X, self.y, self.whitener, self.reml = X, y, whitener, reml
        self.n, self.p = X.shape
        self.n_corr = whitener.n_corr
        self.count = 0

    def start(self) -> np.ndarray:
        return self.whitener.start()

    def whiten(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """The whitened X and y and the log-determinant of ``D R D`` over the groups."""
        w = self.whitener.at(params)
        return self.whitener.apply(w, self.X), self.whitener.apply(w, self.y), w.logdet

    def solve(self, params: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, float]:
        """The criterion, beta, its unscaled covariance ``(Xw'Xw)^{-1}`` and sigma^2."""
        Xw, yw, logdet = self.whiten(params)
        Q, Rx = np.linalg.qr(Xw)
        beta = linalg.solve_triangular(Rx, Q.T @ yw)
        rss = float(np.sum((yw - Xw @ beta) ** 2))
        dof = self.n - self.p if self.reml else self.n
        sigma2 = rss / dof
        value = dof * np.log(2.0 * np.pi * sigma2) + dof + logdet
        if self.reml:
            value += 2.0 * float(np.sum(np.log(np.abs(np.diag(Rx)))))
        unscaled = linalg.cho_solve((Rx.T, True), np.eye(self.p)) if self.p else np.zeros((0, 0))
        return float(value), beta, unscaled, sigma2

    def __call__(self, params: np.ndarray) -> float:
        self.count += 1
        try:
            value = self.solve(params)[0]
        except (np.linalg.LinAlgError, ValueError, FloatingPointError):
            return np.inf
        return value if np.isfinite(value) else np.inf

    def gradient(self, params: np.ndarray) -> np.ndarray:
        free = np.ones(params.size, dtype=bool)
        return central_gradient(self, params, free, step=DIFFERENCE_STEP)


def _groups_of(
    data: pd.DataFrame, correlation: Correlation | None
) -> tuple[np.ndarray, str | None]:
    if correlation is None:
        return np.arange(len(data)), None
    _, group = parse_form(correlation.form, correlation.name)
    if group is None:
        return np.zeros(len(data), dtype=np.int64), None
    if group not in data.columns:
        raise DataError(
            f"{correlation.name}'s form names the grouping column {group!r}, which is not in "
            "the data"
        )
    codes, _ = pd.factorize(data[group], sort=False)
    if np.any(codes < 0):
        raise DataError(f"the grouping column {group!r} has missing values")
    return codes, group


def gls(
    formula: str,
    data: Any,
    *,
    correlation: Correlation | None = None,
    variance: Variance | None = None,
    reml: bool = True,
) -> GlsResult:
    """Fit a linear model with correlated and/or heteroscedastic residuals, as nlme's ``gls``.

    Parameters
    ----------
    formula : str
        ``"y ~ x1 + x2"``, fixed effects only (random effects are :func:`mixedmodels.lmm`'s).
    data : pandas.DataFrame, polars.DataFrame or dict of arrays
    correlation : Correlation, optional
        :func:`~mixedmodels.corAR1`, :func:`~mixedmodels.corCAR1`,
        :func:`~mixedmodels.corCompSymm` or :func:`~mixedmodels.corSymm`, with nlme's
        ``form = "~ time | group"`` (or ``"~ 1 | group"``: the order of the rows within
        each group). Without one the residuals are independent.
    variance : Variance, optional
        :func:`~mixedmodels.varIdent` (``form = "~ 1 | stratum"``) or
        :func:`~mixedmodels.varPower` (``form = "~ v"``).
    reml : bool, default True
        REML (nlme's default) or maximum likelihood.

    Raises
    ------
    DataError
        For missing values, a column the structures name that is not in the data, or
        repeated times within a group.
    """
    if not isinstance(reml, (bool, np.bool_)):
        raise ModelSpecError(f"reml must be True or False, not {reml!r}")
    if correlation is not None and not isinstance(correlation, Correlation):
        raise ModelSpecError(
            f"correlation must be a structure such as mm.corAR1(...), not {correlation!r}"
        )
    if variance is not None and not isinstance(variance, Variance):
        raise ModelSpecError(
            f"variance must be a function such as mm.varIdent(...), not {variance!r}"
        )
    frame = as_dataframe(data)
    text = str(formula)
    lhs, tilde, rhs = text.partition("~")
    if not tilde or not lhs.strip():
        raise ModelSpecError(f"formula must be two-sided, 'y ~ x', not {formula!r}")
    if "|" in rhs:
        raise ModelSpecError(
            "gls() has no random effects; a term with '|' belongs to mm.lmm (the structures' "
            "groups go in their form, e.g. mm.corAR1(form='~ 1 | Subject'))"
        )
    y, _ = read_response(lhs, frame, "numeric")
    X, names = design_matrix(rhs.strip() or "1", frame, "the fixed-effects formula")
    bad = ~np.isfinite(y)
    if bad.any():
        raise DataError(
            f"the response {lhs.strip()!r} has a missing or non-finite value in row "
            f"{int(np.flatnonzero(bad)[0])}; gls() takes complete data (drop the row first)"
        )
    codes, group_name = _groups_of(frame, correlation)
    bound_corr = None if correlation is None else correlation.bind(frame, codes)
    bound_var = None if variance is None else variance.bind(frame)
    whitener = Whitener(codes, bound_corr, bound_var)
    if whitener.largest_group > MAX_GROUP_ROWS:
        raise ModelSpecError(
            f"{correlation.name if correlation else 'the structure'}: a group of "
            f"{whitener.largest_group} rows; its correlation matrix is factored whole, which "
            f"needs {whitener.largest_group}^2 values (at most {MAX_GROUP_ROWS} rows per group; "
            "group the rows more finely in form='~ t | group')"
        )
    if bound_corr is not None and bound_corr.structure.name == "corSymm":
        n_params = bound_corr.structure.n_params(bound_corr)
        if n_params + X.shape[1] >= len(y):
            raise ModelSpecError(
                f"corSymm over {bound_corr.max_position} positions has {n_params} "
                f"correlations, more than {len(y)} rows can support with {X.shape[1]} fixed "
                "effects"
            )
    criterion = _Criterion(X, y, whitener, reml)
    t0 = time.perf_counter()
    start = criterion.start()
    # one BLAS thread unless a group is large enough to share out: OpenBLAS's pool made
    # each 224 x 224 factorization of Wheat2 take 6 ms instead of 0.4 (5.2 s a fit, 0.43).
    # A probe where a correlation reaches 1 is a criterion of inf, not a numpy warning.
    quiet = np.errstate(divide="ignore", invalid="ignore")
    with one_blas_thread(), lapack_threads(whitener.largest_group), quiet:
        if start.size:
            found = optimize.minimize(
                criterion,
                start,
                jac=criterion.gradient,
                method="BFGS",
                options={"gtol": GRADIENT_TOLERANCE, "maxiter": 1000},
            )
            params, message = found.x, str(found.message)
            gradient = float(np.max(np.abs(criterion.gradient(params))))
            converged = bool(found.success) or gradient < ACCEPTED_GRADIENT
        else:
            params, converged, message = start, True, "no structure parameters"
        value, beta, unscaled, sigma2 = criterion.solve(params)
    # beta's covariance takes RSS / (n - p) under ML too, as nlme's vcov() does (its sigma()
    # stays the ML estimate RSS / n)
    n, p = X.shape
    vcov_sigma2 = sigma2 if reml else sigma2 * n / max(n - p, 1)
    return GlsResult(
        formula=text,
        method="REML" if reml else "ML",
        fixed_names=tuple(names),
        beta=beta,
        vcov_matrix=vcov_sigma2 * unscaled,
        sigma=float(np.sqrt(sigma2)),
        objective=value,
        nobs=len(y),
        n_groups=int(np.unique(codes).size) if group_name is not None else 0,
        correlation_params=(
            {}
            if bound_corr is None
            else bound_corr.structure.natural(params[: criterion.n_corr], bound_corr)
        ),
        variance_params=(
            {} if bound_var is None else bound_var.natural(params[criterion.n_corr :])
        ),
        correlation=correlation,
        variance=variance,
        converged=converged,
        message=message,
        n_evaluations=criterion.count,
        seconds=time.perf_counter() - t0,
        _fitted=X @ beta,
        _y=y,
        _data=frame,
        _dense=_dense_model(X, y, codes, whitener, params, float(sigma2), reml),
    )


def _dense_model(
    X: np.ndarray,
    y: np.ndarray,
    codes: np.ndarray,
    whitener: Whitener,
    params: np.ndarray,
    sigma2: float,
    reml: bool,
) -> Callable[[], DenseCovariance]:
    """What builds the marginal covariance in SAS's parameters, when asked for."""

    def natural(u: np.ndarray) -> np.ndarray:
        corr, var = whitener.correlation, whitener.variance
        n_corr = whitener.n_corr
        values = [] if corr is None else list(corr.structure.natural(u[:n_corr], corr).values())
        if var is not None:
            values += list(var.natural(u[n_corr:]).values())
        return np.asarray(values, dtype=np.float64)

    def build() -> DenseCovariance:
        parts = components(len(y), [codes], "a gls fit's small-sample df")
        cov = StructureCovariance(whitener, parts, natural, params)
        nu = cov.estimates(np.zeros(0), sigma2)
        return DenseCovariance(X, y, parts, cov.covariance, nu, reml)

    return build
