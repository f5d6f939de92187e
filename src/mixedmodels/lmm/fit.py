"""Fit a linear mixed model: frame -> cross-products -> workspace -> optimizer -> record."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from mixedmodels._threads import one_blas_thread
from mixedmodels.core.covariance import CovarianceLayout, covariance_layout
from mixedmodels.core.momentstart import moment_theta
from mixedmodels.core.optimize import minimize_theta
from mixedmodels.core.optinfo import OptimizerSettings, OptInfo
from mixedmodels.core.result import RandomTables
from mixedmodels.core.solution import Solution, conditional_covariances, solve
from mixedmodels.core.tables import (
    fitted_values,
    random_columns,
    ranef_table,
    singular_terms,
    term_covariances,
    varcorr_table,
)
from mixedmodels.core.workspace import Factorization
from mixedmodels.design.conditioning import Conditioning, conditioning
from mixedmodels.design.crossproducts import CrossProducts, ZTerm, crossproducts
from mixedmodels.design.frame import ModelFrame, model_frame
from mixedmodels.design.materialize import INTERCEPT
from mixedmodels.errors import (
    ConvergenceWarning,
    ModelSpecError,
    NonFiniteFitError,
    SingularFitWarning,
    check_finite_fit,
)
from mixedmodels.lmm.gradient import objective_gradient
from mixedmodels.lmm.information import average_information
from mixedmodels.lmm.model import LinearMixedModel
from mixedmodels.lmm.record import LmmRecord

__all__ = ["lmm"]


def lmm(
    formula: str,
    data: Any,
    *,
    reml: bool = True,
    weights: Any = None,
    offset: Any = None,
    settings: OptimizerSettings | None = None,
    start: Any = None,
    names: str = "python",
) -> LmmRecord:
    """Fit a linear mixed-effects model to rows in memory; :func:`mixedmodels.lmm` (in
    :mod:`mixedmodels.fitting`) also takes a Dask DataFrame and documents the arguments."""
    settings = settings or OptimizerSettings()
    frame = model_frame(formula, data, weights=weights, offset=offset, names=names)
    index = data.index if isinstance(data, pd.DataFrame) else pd.RangeIndex(frame.n_input)
    label = data.attrs.get("name", "data") if isinstance(data, pd.DataFrame) else "data"
    layout = covariance_layout(frame)
    theta0 = None if start is None else _start_theta(start, layout)
    return fit_frame(frame, layout, reml, settings, index, label, start=theta0)


def _start_theta(start: Any, layout: CovarianceLayout) -> np.ndarray:
    """Check a user's starting theta against the model's theta."""
    try:
        theta = np.asarray(start, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise ModelSpecError(f"start must be {layout.n_theta} numbers, not {start!r}") from None
    if theta.size != layout.n_theta or not np.all(np.isfinite(theta)):
        raise ModelSpecError(
            f"start must be {layout.n_theta} finite numbers, one per theta "
            f"({', '.join(layout.names)}); got {start!r}"
        )
    if np.any(theta < layout.lower):
        raise ModelSpecError(
            "start must have non-negative diagonal elements ("
            + ", ".join(n for n, lo in zip(layout.names, layout.lower, strict=True) if lo == 0.0)
            + f"); got {start!r}"
        )
    return theta


def make_model(
    products: CrossProducts,
    shift: float,
    frame: ModelFrame,
    layout: CovarianceLayout,
    cond: Conditioning,
    reml: bool,
) -> LinearMixedModel:
    """The model object of a design's blocks (``layout`` of the conditioned matrices)."""
    intercept = frame.fixed_names.index(INTERCEPT) if INTERCEPT in frame.fixed_names else None
    return LinearMixedModel(
        products=products,
        tail_shapes=tuple((b.n_levels, b.k) for b in layout.blocks[1:]),
        theta_map=layout.theta_map(),
        block_columns=tuple(b.term_columns for b in layout.blocks),
        conditioning=cond,
        reml=reml,
        shift=shift,
        intercept=intercept,
    )


def fit_frame(
    frame: ModelFrame,
    layout: CovarianceLayout,
    reml: bool,
    settings: OptimizerSettings,
    index: pd.Index,
    label: str,
    start: np.ndarray | None = None,
    hessian: np.ndarray | None = None,
) -> LmmRecord:
    """Fit the model of a ModelFrame (the steps of :func:`lmm` after reading the data).

    The fit runs on the centred and scaled matrices (:mod:`mixedmodels.design.conditioning`)
    and reports in the original ones; ``start`` is lme4's theta and ``hessian`` as for
    :func:`estimate`."""
    n_fixed = frame.X.shape[1]
    if frame.nobs <= n_fixed:
        raise ModelSpecError(
            f"{frame.formula.text!r} has {n_fixed} fixed-effect coefficients for "
            f"{frame.nobs} observations: a linear mixed model needs more observations than "
            "fixed effects (none would be left to estimate the residual variance); use fewer "
            "terms or a lower degree"
        )
    model, cframe, clayout = conditioned_model(frame, layout, reml)
    return record_of_model(
        model, frame, layout, cframe, clayout, settings, index, label, start, hessian
    )


def conditioned_model(
    frame: ModelFrame, layout: CovarianceLayout, reml: bool
) -> tuple[LinearMixedModel, ModelFrame, CovarianceLayout]:
    """The model object of a design, formed on its centred and scaled matrices, with the
    conditioned frame and layout."""
    cond = conditioning(frame)
    cframe = cond.apply(frame)
    clayout = covariance_layout(cframe) if not cond.is_identity else layout
    products, shift = frame_crossproducts(cframe, clayout)
    return make_model(products, shift, frame, clayout, cond, reml), cframe, clayout


def model_of_frame(frame: ModelFrame, layout: CovarianceLayout, reml: bool) -> LinearMixedModel:
    """The model object of a design (what a fit of it keeps as ``fit.model``)."""
    return conditioned_model(frame, layout, reml)[0]


def record_of_model(
    model: LinearMixedModel,
    frame: ModelFrame,
    layout: CovarianceLayout,
    cframe: ModelFrame,
    clayout: CovarianceLayout,
    settings: OptimizerSettings,
    index: pd.Index,
    label: str,
    start: np.ndarray | None = None,
    hessian: np.ndarray | None = None,
) -> LmmRecord:
    """Estimate a model whose blocks are formed and build its record: ``frame`` and
    ``layout`` are the original design (with the response fitted), ``cframe`` and
    ``clayout`` the conditioned one, which the per-row values are computed from;
    ``start`` and ``hessian`` are as for :func:`estimate`."""
    est = estimate(model, frame, layout, settings, start, hessian)
    # per-row values from the conditioned matrices, which carry more digits
    fitted_rows = fitted_values(cframe, clayout, est.internal_solution, est.tail_offsets)
    fitted_all = np.full(frame.n_input, np.nan)
    fitted_all[frame.rows] = fitted_rows
    resid_all = np.full(frame.n_input, np.nan)
    resid_all[frame.rows] = frame.y - fitted_rows
    return build_record(
        est,
        frame,
        layout,
        model,
        fitted_all,
        resid_all,
        index,
        label,
        frame.n_dropped,
        settings=settings,
    )


def response_shift(frame: ModelFrame, response: np.ndarray) -> float:
    """The constant taken off the response before the blocks are built: its mean when the
    model has an intercept (the objective is unchanged and the cross-products lose no
    precision to a large mean; the intercept is shifted back), else 0."""
    return float(np.mean(response)) if INTERCEPT in frame.fixed_names else 0.0


def frame_crossproducts(frame: ModelFrame, layout: CovarianceLayout) -> tuple[CrossProducts, float]:
    """The blocks of ``[Z X y]'W[Z X y]`` of a frame's rows, with the response shift."""
    response = frame.y if frame.offset is None else frame.y - frame.offset
    shift = response_shift(frame, response)
    B = np.column_stack([frame.X, response - shift])
    zterms = [ZTerm(b.factor.codes, b.matrix, b.n_levels) for b in layout.blocks]
    return crossproducts(zterms, B, frame.weights), shift


@dataclass(frozen=True)
class Estimates:
    """What the optimizer and the final factorization give, before any per-row values.

    Everything is in the original matrices' parametrization except ``internal_solution``
    (the conditioned matrices', with the response shift added to the intercept), from
    which per-row values are computed."""

    reml: bool
    theta: np.ndarray
    info: OptInfo
    templates: list[np.ndarray]
    solution: Solution
    internal_solution: Solution
    sigma: float
    objective: float
    covariances: list[np.ndarray]
    singular: tuple[str, ...]
    conditional_covariances: Callable[[], list[np.ndarray]]
    tail_offsets: np.ndarray


def _unbounded(frame: ModelFrame, layout: CovarianceLayout, theta: np.ndarray) -> Exception:
    """The error of a search that ran theta off to where the factorization fails: the
    criterion falls without bound as the residual variance goes to 0."""
    largest = int(np.argmax(np.abs(theta)))
    return NonFiniteFitError(
        f"fitting {frame.formula.text!r}: the criterion kept falling as theta grew "
        f"({layout.names[largest]} reached {theta[largest]:.3g}, where the factorization "
        "fails): the random effects reproduce the response and its residual variance "
        "goes to 0 (e.g. the response is constant within each level of a grouping "
        "factor); simplify the random effects"
    )


def estimate(
    model: LinearMixedModel,
    frame: ModelFrame,
    layout: CovarianceLayout,
    settings: OptimizerSettings,
    start: np.ndarray | None = None,
    hessian: np.ndarray | None = None,
) -> Estimates:
    """Minimize the profiled criterion over theta from the model's blocks alone.

    ``frame`` and ``layout`` (of the original matrices) are read for names and grouping
    factors only (``frame`` may hold no rows, as for Dask data); ``start`` is lme4's theta
    and ``hessian`` the criterion's Hessian there over the optimizer's theta (a previous
    optimum's, :attr:`OptInfo.hessian`), with which Newton steps come first. With a
    ``hessian``, the steps start from the moment estimate where the model has one
    (:func:`~mixedmodels.core.momentstart.moment_theta`), else from ``start``.
    """
    ws = model.workspace
    reml = model.reml
    theta_map = model.theta_map

    # the last factorization, which the results read when the optimum was evaluated last
    last: list[tuple[bytes, Factorization]] = []
    # and its solution: the gradient, the information and the result solve the same one
    # (and a sparse tail's inverse takes its factor's place)
    solutions: list[tuple[Factorization, Solution]] = []

    def solved(fac: Factorization) -> Solution:
        if not solutions or solutions[0][0] is not fac:
            solutions[:] = [(fac, solve(ws, fac))]
        return solutions[0][1]

    def factorize(theta: np.ndarray, keep_schur: bool = False) -> Factorization:
        key = np.asarray(theta, dtype=np.float64).tobytes()
        if last and last[0][0] == key and (last[0][1].schur is not None or not keep_schur):
            return last[0][1]
        last.clear()  # before the next factorization: one set of tail arrays at a time
        solutions.clear()
        fac = ws.factorize(theta_map.factors(theta), keep_schur=keep_schur)
        last.append((key, fac))
        return fac

    dense = model.dense_system

    def objective(theta: np.ndarray) -> float:
        if dense is not None:
            return dense.objective(theta, reml)
        try:
            return ws.objective(factorize(theta), reml)
        except (np.linalg.LinAlgError, ValueError, FloatingPointError):
            return np.inf

    def objective_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        if dense is not None:
            return dense.objective_and_gradient(theta, reml)
        try:
            fac = factorize(theta, keep_schur=True)
            grad = objective_gradient(ws, fac, solved(fac), theta_map.position, reml)
            return ws.objective(fac, reml), grad
        except (np.linalg.LinAlgError, ValueError, FloatingPointError):
            return np.inf, np.zeros_like(theta)

    def information(theta: np.ndarray) -> np.ndarray:
        # at the start, whose gradient has just factored: no factorization of its own
        fac = factorize(theta, keep_schur=True)
        return average_information(ws, fac, solved(fac), theta_map.position, reml)

    # Models of scalar terms, and one factor with a vector term, start from the moment
    # estimate with Newton steps (core/momentstart.py): on balanced data it is the
    # optimum (Penicillin: 3 evaluations instead of 13), elsewhere close (sleepstudy 8
    # instead of 15, a 500k crossed fit 6 instead of 12). Other models run L-BFGS-B with
    # the analytic gradient from lme4's start (COBYQA is minimize_theta's fallback).
    # A refit (``start`` with a ``hessian``) starts from the estimate too: it is nearer
    # the new optimum than the previous optimum is (simulated sleepstudy refits: 8.3
    # evaluations against 10.3; Penicillin 1 against 9.1), and the previous Hessian
    # spares the differences. A user's start (no Hessian) is kept.
    estimated = None
    if start is None or hessian is not None:
        estimated = moment_theta(model.products, model.tail_shapes, theta_map)
    if estimated is not None:
        start_c = estimated
    elif start is not None:
        start_c = model.internal_theta(start)
    else:
        start_c = layout.initial()

    # Our own two threads and a multi-threaded BLAS oversubscribe two cores (a crossed
    # fit then ran 10x slower whenever another program was busy), and the small blocks of
    # most models gain nothing from a BLAS thread pool: one BLAS thread here, unless the
    # dense tail is large enough for BLAS to share out (see Workspace.small).
    def blas() -> AbstractContextManager[Any]:
        return one_blas_thread() if ws.uses_threads or ws.small else nullcontext()

    with blas():  # the fit and the work at its optimum (a dense inverse, solves)
        with np.errstate(all="ignore"):
            check = settings.check_convergence
            if check is None:
                check = model.products.n < settings.check_max_nobs
            theta_c, info = minimize_theta(
                objective,
                start_c,
                layout.lower,
                settings,
                check,
                gradient=objective_and_gradient,
                terms=layout.term_slots(),
                hessian=hessian,
                reported_shift=model.conditioning.reml_shift() if reml else 0.0,
                difference_start=estimated is not None,
                information=information if dense is None else None,
            )
        try:
            fac = factorize(theta_c)
        except np.linalg.LinAlgError:
            raise _unbounded(frame, layout, theta_c) from None
        last.clear()
        internal = solved(fac)
        solutions.clear()
        sol = model.to_original(internal)
        if model.intercept is not None:
            beta_c = internal.beta.copy()
            beta_c[model.intercept] += model.shift
            internal = replace(internal, beta=beta_c)
        theta = model.original_theta(theta_c)
        templates = theta_map.factors(theta)
        n, p = ws.n, ws.p
        sigma = float(np.sqrt(sol.rss_penalized / (n - p if reml else n)))
        covs = term_covariances(layout, frame, templates, sigma)
        # the boundary is judged on the conditioned theta, whose scale is the data's own
        singular = singular_terms(frame, layout, theta_c, covs)
        objective_value = model.criterion(fac)
        info = replace(info, objective=objective_value)
        for note in info.warnings:
            warnings.warn(f"{frame.formula.text}: {note}", ConvergenceWarning, stacklevel=3)
        if singular:
            warnings.warn(
                f"boundary (singular) fit for {frame.formula.text!r}: "
                + "; ".join(singular)
                + ". The data do not support this random-effects structure; consider dropping "
                "the term (or the correlation) at the boundary.",
                SingularFitWarning,
                stacklevel=3,
            )

    def condcov() -> list[np.ndarray]:
        # read by the conditional modes' table alone, so formed when it is first built:
        # on a large crossed design these solves cost more than three evaluations
        with blas():
            at_optimum = ws.factorize(theta_map.factors(theta_c))
            return model.conditioning.conditional_covariances(
                conditional_covariances(ws, at_optimum), model.block_columns
            )

    return Estimates(
        reml=reml,
        theta=theta,
        info=info,
        templates=templates,
        solution=sol,
        internal_solution=internal,
        sigma=sigma,
        objective=objective_value,
        covariances=covs,
        singular=singular,
        conditional_covariances=functools.cache(condcov),
        tail_offsets=ws._tail_offsets,
    )


def build_record(
    est: Estimates,
    frame: ModelFrame,
    layout: CovarianceLayout,
    model: LinearMixedModel,
    fitted: np.ndarray,
    residuals: np.ndarray,
    index: pd.Index,
    label: str,
    n_dropped: int,
    rows_source: Any = None,
    settings: OptimizerSettings | None = None,
) -> LmmRecord:
    """The immutable record of a fit from the estimates and the design.

    ``fitted`` and ``residuals`` are aligned to ``index``; ``rows_source`` is set when the
    rows live elsewhere (a :class:`mixedmodels.daskfit.DaskRows`), and then both are empty.
    """
    sol, sigma = est.solution, est.sigma
    check_finite_fit(
        frame.formula.text, criterion=est.objective, theta=est.theta, beta=sol.beta, sigma=sigma
    )
    return LmmRecord(
        formula=frame.formula.text,
        reml=est.reml,
        fixed_names=frame.fixed_names,
        beta=sol.beta,
        vcov_unscaled=sol.var_beta_unscaled,
        theta=est.theta,
        theta_names=layout.names,
        sigma=sigma,
        objective=est.objective,
        nobs=model.n,
        n_dropped=n_dropped,
        ngroups={b.factor.name: b.n_levels for b in layout.blocks},
        is_singular=bool(est.singular),
        singular_terms=est.singular,
        optinfo=est.info,
        aliased=frame.aliased,
        data_label=label,
        _tables=RandomTables(
            lambda: varcorr_table(frame, est.covariances, sigma),
            lambda: ranef_table(
                frame, layout, sol, est.conditional_covariances(), sigma, est.tail_offsets
            ),
        ),
        _fitted=fitted,
        _residuals=residuals,
        _index=index,
        _random_columns=random_columns(frame, layout),
        model=model,
        _tail_shapes=tuple((b.n_levels, b.k) for b in layout.blocks[1:]),
        _theta_map=layout.theta_map(),
        _frame=frame,
        _layout=layout,
        _rows=rows_source,
        _settings=settings,
    )
