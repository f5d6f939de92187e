"""Linear mixed models with residual correlation and variance structures, as nlme's ``lme``
with ``correlation=`` and ``weights=``: ``y = X beta + Z b + e``, ``Var(e_i) = sigma^2 D_i
R_i D_i`` within each group ``i`` of the correlation structure.

Each group's rows are whitened (:mod:`mixedmodels.gls.whitening`): by ``L_i^{-1}``, ``L_i``
the Cholesky factor of ``D_i R_i D_i``, or for the autoregressions row by row in time
order. The whitened rows are an ordinary LMM with independent residuals, fitted by the
LMM engine (profiled over beta and sigma, its criterion minimized over theta), and
``-2 log L = criterion + sum_i log|D_i R_i D_i|``. The structure parameters are optimized
over that; each evaluation is an LMM fit, started from the last theta.

The groups must be nested in at least one grouping factor (a subject's trials in the
subject); that factor goes first in Z, and whitening keeps its shape: a row still belongs
to one of its levels, only the values change. So does every other factor the groups are
nested in. A crossed factor (items met by many subjects) does not keep it: a whitened row
mixes the item of its trial with those of the trials before it, so these columns of Z are
whitened as a sparse matrix (two entries a row per coefficient for an autoregression) and
meet in the dense or sparse tail of the engine, exactly. Conditioning (centring and
scaling) is applied before whitening, so it stays a linear reparametrization of the
whitened columns.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import optimize

from mixedmodels._data import as_dataframe
from mixedmodels.core.covariance import covariance_layout
from mixedmodels.core.newton import central_gradient
from mixedmodels.core.optinfo import OptimizerSettings
from mixedmodels.core.summary import random_effects_rows, text_table
from mixedmodels.design.conditioning import conditioning
from mixedmodels.design.crossproducts import (
    ZTerm,
    crossproducts,
    sparse_tail_crossproducts,
    tail_matrix,
)
from mixedmodels.design.frame import ModelFrame, model_frame
from mixedmodels.errors import (
    ConvergenceWarning,
    ModelSpecError,
    RankDeficiencyWarning,
    SingularFitWarning,
)
from mixedmodels.gls.structures import Correlation, Variance, describe, parse_form
from mixedmodels.gls.whitening import Whitener
from mixedmodels.lmm.fit import estimate, make_model, record_of_model, response_shift
from mixedmodels.lmm_result import LmmResult

__all__ = ["StructuredLmmResult", "lmm_structured"]

MixedModelsWarnings = (ConvergenceWarning, SingularFitWarning, RankDeficiencyWarning)

#: The outer optimizer's gradient tolerance and difference step (unconstrained scale).
GRADIENT_TOLERANCE = 1e-6
DIFFERENCE_STEP = 1e-5
ACCEPTED_GRADIENT = 1e-3


def _groups(
    frame: ModelFrame, rows: pd.DataFrame, correlation: Correlation | None
) -> tuple[np.ndarray, list[str]]:
    """The codes of the correlation structure's groups (its ``| g``, else the random
    effects' single grouping factor; each row alone without a correlation), and the
    grouping factors they are nested in, most levels first."""
    factors = {t.factor.name: t.factor for t in frame.terms}
    by_levels = sorted(factors, key=lambda name: -factors[name].n_levels)
    if correlation is None:
        return np.arange(frame.y.size, dtype=np.int64), by_levels
    group = parse_form(correlation.form, correlation.name)[1]
    if group is None:
        if len(factors) != 1:
            raise ModelSpecError(
                "with more than one grouping factor, name the residual structure's groups "
                "in its form, e.g. mm.corAR1(form='~ 1 | Subject')"
            )
        codes = next(iter(factors.values())).codes
    else:
        if group not in rows.columns:
            raise ModelSpecError(
                f"the correlation structure's grouping column {group!r} is not in the data"
            )
        codes, _ = pd.factorize(rows[group], sort=False)
    codes = np.asarray(codes, dtype=np.int64)
    nested = []
    for name in by_levels:
        pairs = pd.DataFrame({"g": codes, "f": factors[name].codes}).drop_duplicates()
        if not pairs["g"].duplicated().any():
            nested.append(name)
    if not nested:
        raise ModelSpecError(
            f"the residual structure's groups ({group or 'its form'}) lie in no grouping "
            f"factor: each group must stay within one level of at least one of "
            f"{', '.join(repr(n) for n in by_levels)} (a subject's trials within the "
            "subject), whose random effects it then whitens with the rows"
        )
    return codes, nested


@dataclass(frozen=True, eq=False)
class StructuredLmmResult:
    """An LMM fitted with residual correlation and/or variance structures.

    The fixed effects, theta, sigma, the random effects' covariances and conditional modes
    are those of the model (``fit.fixef``, ``fit.varcorr``, ``fit.ranef()``); the
    log-likelihood includes the structures' determinant; fitted values and residuals are
    on the data's scale.
    """

    whitened: LmmResult
    """The LMM of the whitened rows at the optimum; its fitted values and residuals are
    those of the unwhitened rows, as this result's."""
    objective: float
    correlation_params: dict[str, float]
    variance_params: dict[str, float]
    correlation: Any
    variance: Any
    converged: bool
    n_evaluations: int
    seconds: float
    _fitted: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    _residuals: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))

    @property
    def loglik(self) -> float:
        return -0.5 * self.objective

    @property
    def reml(self) -> bool:
        return bool(self.whitened.reml)

    @property
    def n_params(self) -> int:
        return (
            int(self.whitened.n_params) + len(self.correlation_params) + len(self.variance_params)
        )

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * self.n_params

    @property
    def bic(self) -> float:
        n = self.whitened.nobs - (len(self.whitened.beta) if self.reml else 0)
        return float(-2.0 * self.loglik + np.log(n) * self.n_params)

    @property
    def fixef(self) -> pd.Series:
        return self.whitened.fixef

    @property
    def beta(self) -> np.ndarray:
        return np.asarray(self.whitened.beta)

    @property
    def std_errors(self) -> pd.Series:
        return self.whitened.std_errors

    @property
    def sigma(self) -> float:
        return float(self.whitened.sigma)

    @property
    def theta(self) -> np.ndarray:
        return np.asarray(self.whitened.theta)

    @property
    def theta_names(self) -> tuple[str, ...]:
        return tuple(self.whitened.theta_names)

    @property
    def varcorr(self) -> pd.DataFrame:
        return self.whitened.varcorr

    def ranef(self) -> pd.DataFrame:
        return self.whitened.ranef()

    @property
    def fitted(self) -> pd.Series:
        return pd.Series(np.array(self._fitted), name="fitted")

    def residuals(self) -> pd.Series:
        return pd.Series(np.array(self._residuals), name="residuals")

    def coef_table(self) -> pd.DataFrame:
        """Wald t statistics of the fixed effects (``estimate, std_error, statistic``); the
        structures' parameters are taken as known, so no degrees of freedom are given."""
        se = self.std_errors.to_numpy()
        return pd.DataFrame(
            {"estimate": self.beta, "std_error": se, "statistic": self.beta / se},
            index=list(self.whitened.fixed_names),
        )

    def summary(self) -> str:
        """A text summary: criteria, random effects, fixed effects and the structures."""
        method = "REML" if self.reml else "maximum likelihood"
        lines = [
            f"Linear mixed model with residual structures fit by {method}",
            f"Formula: {self.whitened.formula}",
            f"  AIC {self.aic:.2f}  BIC {self.bic:.2f}  logLik {self.loglik:.4f}",
            "",
            "Random effects:",
            *text_table(random_effects_rows(self.varcorr), align_left=2),
            f"Number of obs: {self.whitened.nobs}",
            "",
            "Fixed effects:",
            self.coef_table().to_string(float_format=lambda x: f"{x:.4f}"),
            "",
        ]
        lines += describe(
            self.correlation, self.correlation_params, self.variance, self.variance_params
        )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"<StructuredLmmResult {self.whitened.formula!r}, nobs={self.whitened.nobs}, "
            f"loglik={self.loglik:.4f}>"
        )


def lmm_structured(
    formula: str,
    data: Any,
    *,
    correlation: Correlation | None,
    variance: Variance | None,
    reml: bool,
    offset: Any,
    settings: OptimizerSettings,
) -> StructuredLmmResult:
    """Fit an LMM with residual structures; see :func:`mixedmodels.lmm`."""
    frame = model_frame(formula, data, offset=offset)
    rows = as_dataframe(data).iloc[frame.rows].reset_index(drop=True)
    codes, nested = _groups(frame, rows, correlation)
    bound_corr = None if correlation is None else correlation.bind(rows, codes)
    bound_var = None if variance is None else variance.bind(rows)
    whitener = Whitener(codes, bound_corr, bound_var)
    # the factor the groups are nested in keeps its diagonal blocks: it goes first
    layout = covariance_layout(frame, first=nested[0])
    cond = conditioning(frame)
    cframe = cond.apply(frame)
    clayout = covariance_layout(cframe, first=nested[0])
    crossed = [b for b in clayout.blocks[1:] if b.factor.name not in nested]
    # a crossed factor's rows mix levels once whitened: the tail is then a sparse matrix
    tail = (
        tail_matrix([ZTerm(b.factor.codes, b.matrix, b.n_levels) for b in clayout.blocks[1:]])
        if crossed
        else None
    )
    response = cframe.y if cframe.offset is None else cframe.y - cframe.offset
    shift = response_shift(cframe, response)
    index = data.index if isinstance(data, pd.DataFrame) else pd.RangeIndex(frame.n_input)
    label = data.attrs.get("name", "data") if isinstance(data, pd.DataFrame) else "data"
    theta_start: list[np.ndarray | None] = [None]
    count = [0]

    def whitened(params: np.ndarray) -> tuple[Any, float]:
        w = whitener.at(params)
        B = np.column_stack([whitener.apply(w, cframe.X), whitener.apply(w, response - shift)])
        if tail is None:
            # every factor holds each group whole: whitened rows keep one level each
            zterms = [
                ZTerm(b.factor.codes, whitener.apply(w, b.matrix), b.n_levels)
                for b in clayout.blocks
            ]
            products = crossproducts(zterms, B, None)
        else:
            first = clayout.blocks[0]
            products = sparse_tail_crossproducts(
                ZTerm(first.factor.codes, whitener.apply(w, first.matrix), first.n_levels),
                sp.csr_matrix(whitener.matrix(w) @ tail),
                B,
            )
        return make_model(products, shift, frame, clayout, cond, reml), w.logdet

    def criterion(params: np.ndarray) -> float:
        count[0] += 1
        try:
            model, logdet = whitened(params)
            with warnings.catch_warnings():
                # the inner fits' notes (a boundary, say) are the final fit's to give
                warnings.simplefilter("ignore", MixedModelsWarnings)
                est = estimate(model, frame, layout, settings, theta_start[0])
        except (np.linalg.LinAlgError, ValueError, FloatingPointError):
            return np.inf
        theta_start[0] = est.theta
        value = est.objective + logdet
        return value if np.isfinite(value) else np.inf

    def gradient(params: np.ndarray) -> np.ndarray:
        free = np.ones(params.size, dtype=bool)
        return central_gradient(criterion, params, free, step=DIFFERENCE_STEP)

    t0 = time.perf_counter()
    start = whitener.start()
    params, converged = start, True
    message = ""
    if start.size == 1:
        # one parameter (an autoregression, a power): Brent's method needs no gradient,
        # about a third of the evaluations of BFGS on differences
        line = optimize.minimize_scalar(
            lambda v: criterion(np.array([v])),
            bracket=(float(start[0]), float(start[0]) + 0.5),
            method="brent",
            options={"xtol": 1e-9},
        )
        params = np.array([line.x])
        message = str(getattr(line, "message", ""))
        converged = bool(line.success) and np.isfinite(line.fun)
    elif start.size:
        found = optimize.minimize(
            criterion, start, jac=gradient, method="BFGS", options={"gtol": GRADIENT_TOLERANCE}
        )
        params = found.x
        message = str(found.message)
        slope = float(np.max(np.abs(gradient(params))))
        converged = bool(found.success) or slope < ACCEPTED_GRADIENT
    else:
        criterion(start)
    model, logdet = whitened(params)
    # the record's fitted values and residuals come from the unwhitened rows
    record = record_of_model(
        model, frame, layout, cframe, clayout, settings, index, label, theta_start[0]
    )
    fit = LmmResult.of(record)
    # (a boundary fit is reported by the final fit's record itself)
    if not converged:
        warnings.warn(
            f"{formula}: the residual structures' parameters did not converge ({message})",
            ConvergenceWarning,
            stacklevel=3,
        )
    # fitted values on the data's scale: X beta + offset + Z b with the original matrices
    fitted = frame.X @ np.asarray(fit.beta)
    if frame.offset is not None:
        fitted = fitted + frame.offset
    table = fit.ranef()
    for term in frame.terms:
        part = table[table["group"] == term.factor.name]
        for k, column in enumerate(term.column_names):
            values = part[part["term"] == column].set_index("level")["value"]
            b = values.reindex([str(v) for v in term.factor.levels]).to_numpy(dtype=float)
            fitted = fitted + term.matrix[:, k] * b[term.factor.codes]
    return StructuredLmmResult(
        whitened=fit,
        objective=float(fit.objective) + logdet,
        correlation_params=(
            {}
            if bound_corr is None
            else bound_corr.structure.natural(params[: whitener.n_corr], bound_corr)
        ),
        variance_params={} if bound_var is None else bound_var.natural(params[whitener.n_corr :]),
        correlation=correlation,
        variance=variance,
        converged=converged,
        n_evaluations=count[0],
        seconds=time.perf_counter() - t0,
        _fitted=fitted,
        _residuals=frame.y - fitted,
    )
