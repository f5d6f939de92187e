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
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import optimize
from scipy.sparse.linalg import splu

from mixedmodels._data import as_dataframe
from mixedmodels.core.covariance import CovarianceLayout, covariance_layout
from mixedmodels.core.newton import central_gradient
from mixedmodels.core.optinfo import OptimizerSettings
from mixedmodels.design.conditioning import Conditioning, conditioning
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
from mixedmodels.gls.structures import (
    BoundCorrelation,
    BoundVariance,
    Correlation,
    Variance,
    parse_form,
)
from mixedmodels.gls.whitening import Whitener
from mixedmodels.lmm.fit import estimate, make_model, record_of_model, response_shift
from mixedmodels.lmm.model import LinearMixedModel
from mixedmodels.lmm.record import LmmRecord

__all__ = ["StructuredDesign", "StructuredEstimate"]

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


@dataclass(frozen=True)
class StructuredEstimate:
    """The optimum of a structured design: the structure parameters (unconstrained), the
    record of the whitened LMM there and how the search went."""

    params: np.ndarray
    record: LmmRecord
    logdet: float
    converged: bool
    message: str
    n_evaluations: int
    seconds: float


@dataclass(frozen=True, eq=False)
class StructuredDesign:
    """An LMM with residual structures, read from the data: the rows, their groups and
    structures (:class:`~mixedmodels.gls.whitening.Whitener`), and the conditioned
    matrices. :meth:`model_at` gives the whitened LMM at any structure parameters."""

    frame: ModelFrame
    rows: pd.DataFrame
    codes: np.ndarray
    """Each row's group of the correlation structure (each row alone without one)."""
    correlation: Correlation | None
    variance: Variance | None
    bound_correlation: BoundCorrelation | None
    bound_variance: BoundVariance | None
    whitener: Whitener
    layout: CovarianceLayout
    cond: Conditioning
    cframe: ModelFrame
    clayout: CovarianceLayout
    tail: sp.csr_matrix | None
    """The tail's columns of Z when a crossed factor's rows mix levels once whitened."""
    reml: bool
    settings: OptimizerSettings
    index: pd.Index
    label: str

    @classmethod
    def of(
        cls,
        formula: str,
        data: Any,
        correlation: Correlation | None,
        variance: Variance | None,
        reml: bool,
        offset: Any,
        settings: OptimizerSettings,
        names: str = "python",
    ) -> StructuredDesign:
        """Read the model from the data."""
        frame = model_frame(formula, data, offset=offset, names=names)
        rows = as_dataframe(data).iloc[frame.rows].reset_index(drop=True)
        index = data.index if isinstance(data, pd.DataFrame) else pd.RangeIndex(frame.n_input)
        label = data.attrs.get("name", "data") if isinstance(data, pd.DataFrame) else "data"
        return cls._build(frame, rows, correlation, variance, reml, settings, index, label)

    @classmethod
    def _build(
        cls,
        frame: ModelFrame,
        rows: pd.DataFrame,
        correlation: Correlation | None,
        variance: Variance | None,
        reml: bool,
        settings: OptimizerSettings,
        index: pd.Index,
        label: str,
    ) -> StructuredDesign:
        codes, nested = _groups(frame, rows, correlation)
        bound_corr = None if correlation is None else correlation.bind(rows, codes)
        bound_var = None if variance is None else variance.bind(rows)
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
        return cls(
            frame,
            rows,
            codes,
            correlation,
            variance,
            bound_corr,
            bound_var,
            Whitener(codes, bound_corr, bound_var),
            layout,
            cond,
            cframe,
            clayout,
            tail,
            reml,
            settings,
            index,
            label,
        )

    def with_response(self, y: np.ndarray, reml: bool | None = None) -> StructuredDesign:
        """The same design with a new response (one value per row of the fit), or
        fitted by the other criterion."""
        frame = replace(self.frame, y=np.asarray(y, dtype=np.float64))
        return self._build(
            frame,
            self.rows,
            self.correlation,
            self.variance,
            self.reml if reml is None else reml,
            self.settings,
            self.index,
            self.label,
        )

    def with_fixed(self, column: int, value: float) -> StructuredDesign:
        """The design with fixed effect ``column`` held at ``value``: its column taken
        out of X and ``value`` times it off the response (a profile's refit)."""
        frame = self.frame
        X = np.delete(frame.X, column, axis=1)
        names = tuple(n for i, n in enumerate(frame.fixed_names) if i != column)
        y = frame.y - value * frame.X[:, column]
        held = replace(frame, X=X, fixed_names=names, y=y)
        return self._build(
            held,
            self.rows,
            self.correlation,
            self.variance,
            self.reml,
            self.settings,
            self.index,
            self.label,
        )

    @property
    def n_corr(self) -> int:
        """Number of correlation parameters (they come first in the structure's)."""
        return self.whitener.n_corr

    def natural_vector(self, params: np.ndarray) -> np.ndarray:
        """The structures' natural parameters as one vector (correlation's first)."""
        corr, var = self.natural(params)
        return np.array([*corr.values(), *var.values()], dtype=np.float64)

    def natural(self, params: np.ndarray) -> tuple[dict[str, float], dict[str, float]]:
        """The correlation's and the variance function's parameters on nlme's scales."""
        corr = self.bound_correlation
        var = self.bound_variance
        return (
            {} if corr is None else corr.structure.natural(params[: self.n_corr], corr),
            {} if var is None else var.natural(params[self.n_corr :]),
        )

    def model_at(self, params: np.ndarray) -> tuple[LinearMixedModel, float]:
        """The LMM of the rows whitened at structure parameters ``params``, and
        ``sum_i log|D_i R_i D_i|``."""
        whitener, cframe, clayout = self.whitener, self.cframe, self.clayout
        response = cframe.y if cframe.offset is None else cframe.y - cframe.offset
        shift = response_shift(cframe, response)
        w = whitener.at(params)
        B = np.column_stack([whitener.apply(w, cframe.X), whitener.apply(w, response - shift)])
        if self.tail is None:
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
                sp.csr_matrix(whitener.matrix(w) @ self.tail),
                B,
            )
        model = make_model(products, shift, self.frame, clayout, self.cond, self.reml)
        return model, w.logdet

    def colour(self, params: np.ndarray, z: np.ndarray) -> np.ndarray:
        """``W^{-1} z``: independent standard normal columns ``z`` made into residuals
        with the structures' correlation and variances (``D_i L_i z_i`` per group)."""
        W = self.whitener.matrix(self.whitener.at(params))
        out: np.ndarray = splu(sp.csc_matrix(W)).solve(np.asarray(z, dtype=np.float64))
        return out

    def evaluate(
        self, params: np.ndarray, theta_start: np.ndarray | None = None
    ) -> tuple[float, np.ndarray | None]:
        """``-2 log L`` (or the REML criterion) at structure parameters ``params``,
        minimized over theta by an LMM fit of the whitened rows, and that theta (inf and
        None where the structures are not positive definite)."""
        try:
            model, logdet = self.model_at(params)
            with warnings.catch_warnings():
                # the inner fits' notes (a boundary, say) are the final fit's to give
                warnings.simplefilter("ignore", MixedModelsWarnings)
                est = estimate(model, self.frame, self.layout, self.settings, theta_start)
        except (np.linalg.LinAlgError, ValueError, FloatingPointError):
            return np.inf, None
        value = est.objective + logdet
        return (value, est.theta) if np.isfinite(value) else (np.inf, None)

    def estimate(
        self, start: np.ndarray | None = None, theta_start: np.ndarray | None = None
    ) -> StructuredEstimate:
        """Minimize ``-2 log L`` over the structure parameters, each evaluation an LMM fit
        of the whitened rows started from the last theta."""
        frame, layout, settings = self.frame, self.layout, self.settings
        last_theta: list[np.ndarray | None] = [theta_start]
        count = [0]

        def criterion(params: np.ndarray) -> float:
            count[0] += 1
            value, theta = self.evaluate(params, last_theta[0])
            if theta is not None:
                last_theta[0] = theta
            return value

        def gradient(params: np.ndarray) -> np.ndarray:
            free = np.ones(params.size, dtype=bool)
            return central_gradient(criterion, params, free, step=DIFFERENCE_STEP)

        t0 = time.perf_counter()
        first = self.whitener.start() if start is None else np.asarray(start, dtype=np.float64)
        params, converged, message = first, True, ""
        if first.size == 1:
            # one parameter (an autoregression, a power): Brent's method needs no gradient,
            # about a third of the evaluations of BFGS on differences
            line = optimize.minimize_scalar(
                lambda v: criterion(np.array([v])),
                bracket=(float(first[0]), float(first[0]) + 0.5),
                method="brent",
                options={"xtol": 1e-9},
            )
            params = np.array([line.x])
            message = str(getattr(line, "message", ""))
            converged = bool(line.success) and np.isfinite(line.fun)
        elif first.size:
            found = optimize.minimize(
                criterion, first, jac=gradient, method="BFGS", options={"gtol": GRADIENT_TOLERANCE}
            )
            params = found.x
            message = str(found.message)
            slope = float(np.max(np.abs(gradient(params))))
            converged = bool(found.success) or slope < ACCEPTED_GRADIENT
        else:
            criterion(first)
        model, logdet = self.model_at(params)
        # the record's fitted values and residuals come from the unwhitened rows
        record = record_of_model(
            model,
            frame,
            layout,
            self.cframe,
            self.clayout,
            settings,
            self.index,
            self.label,
            last_theta[0],
        )
        return StructuredEstimate(
            params, record, logdet, converged, message, count[0], time.perf_counter() - t0
        )
