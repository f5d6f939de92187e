"""Estimate a generalized linear mixed model, as lme4's ``glmer``.

Stage 1 (lme4's ``nAGQ = 0``) minimizes the Laplace deviance over theta with beta found
inside PIRLS; stage 2 (``nAGQ >= 1``) minimizes the Laplace or adaptive-quadrature
deviance over theta and beta together, PIRLS finding only the conditional modes (with the
analytic gradient of one scalar term's Laplace deviance, stage 2 starts without stage 1).
As in lme4, the fixed effects' covariance comes from the Hessian of the deviance over
(theta, beta); the other parameters' (dispersion model, zero inflation) from the same
Hessian.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from mixedmodels.core.result import RandomTables
from mixedmodels.core.solution import conditional_covariances
from mixedmodels.core.tables import (
    modes_by_block,
    random_columns,
    ranef_table,
    singular_terms,
    term_covariances,
    varcorr_table,
)
from mixedmodels.design.frame import ModelFrame
from mixedmodels.errors import (
    ConvergenceWarning,
    SeparationWarning,
    SingularFitWarning,
    check_finite_fit,
)
from mixedmodels.glmm.family import Family
from mixedmodels.glmm.gradient import has_laplace_gradient
from mixedmodels.glmm.pirls import GlmmProblem, PirlsError, PirlsState
from mixedmodels.glmm.result import GlmmResult
from mixedmodels.glmm.side_start import conditional_parameters
from mixedmodels.glmm.stage1 import initial_state, stage1
from mixedmodels.glmm.stage2 import Stage2, difference_stage2, gradient_stage2

if TYPE_CHECKING:
    from mixedmodels.glmm.model import GlmmModel

__all__ = ["estimate", "separated_columns"]

#: |beta_j| times the SD of its column above this, on the link scale, flags separation.
SEPARATION_EFFECT = 10.0


def separated_columns(frame: ModelFrame) -> list[str]:
    """Fixed-effect columns that completely or quasi-completely separate a binomial
    outcome on their own: every success lies on one side of a threshold of the column
    and every failure on the other (for an indicator: one of its values has only
    successes or only failures)."""
    y = frame.y
    trials = frame.weights if frame.weights is not None else np.ones_like(y)
    used = trials > 0
    if not (np.all((y[used] == 0) | (y[used] == 1))):
        return []  # proportions: a column cannot separate rows that mix outcomes
    ones, zeros = used & (y == 1), used & (y == 0)
    if not ones.any() or not zeros.any():
        return []
    out = []
    for name, x in zip(frame.fixed_names, frame.X.T, strict=True):
        values = np.unique(x[used])
        if values.size < 2:
            continue  # the intercept, or a constant column
        if values.size == 2:
            separated = any(
                (x[used] == v).any()
                and (np.all(y[used & (x == v)] == 1) or np.all(y[used & (x == v)] == 0))
                for v in values
            )
        else:
            separated = x[ones].min() >= x[zeros].max() or x[zeros].min() >= x[ones].max()
        if separated:
            out.append(name)
    return out


def _separation_notes(frame: ModelFrame, beta: np.ndarray, fam: Family) -> list[str]:
    if fam.name != "binomial":
        return []
    columns = separated_columns(frame)
    sd = frame.X.std(axis=0)
    large = [
        name
        for name, b, s in zip(frame.fixed_names, beta, sd, strict=True)
        if s > 0 and abs(b) * s > SEPARATION_EFFECT
    ]
    notes = []
    # a large estimate alone is flagged only when no single column explains the separation
    for name in columns or large:
        b = beta[frame.fixed_names.index(name)]
        notes.append(
            f"the outcome is (quasi-)completely separated by the fixed effect {name!r} "
            f"(estimate {b:.3g} on the {fam.link} scale): its estimate diverges and its "
            "standard error and test are not meaningful; consider dropping or pooling it, "
            "or a penalized (Bayesian) fit"
        )
    return notes


def estimate(model: GlmmModel, problem: GlmmProblem) -> GlmmResult:
    """Stages 1 and 2 of a fit of ``model`` on ``problem`` (its conditioned matrices, at
    a response) and the result.

    With the analytic gradient (:func:`has_laplace_gradient`) the Newton steps of stage 2
    start from the modes and beta at theta's starting value, and stage 1 runs only when
    they do not settle; they are tried again from stage 1's optimum before the
    finite-difference stage 2.
    """
    frame, layout = model.conditioned, model.conditioned_layout
    nagq, settings = model.nagq, model.settings
    gradient = nagq == 1 and has_laplace_gradient(problem)
    stage2: Stage2 | None = None
    start, tried = None, 0
    if gradient:
        start = initial_state(problem, layout)
        if start is not None:
            stage2, tried = gradient_stage2(problem, layout, start, _beta_units(start), True)
    if stage2 is None:
        theta1, info1, state = _stage1(model, problem, start)
        if nagq == 0:
            objective = problem.laplace(state)
            vcov, source = state.solution.var_beta_unscaled, "pirls"
            return _result(
                model,
                problem,
                state,
                theta1,
                state.solution.beta,
                objective,
                vcov,
                source,
                info1,
            )
        scale = _beta_units(state)
        if gradient:
            stage2, more = gradient_stage2(problem, layout, state, scale, False)
            tried += more
        if stage2 is None:
            stage2 = difference_stage2(problem, layout, frame, state, scale, nagq, settings, info1)
        if tried:  # Newton steps with the gradient ran first and did not settle
            total = stage2.info.n_evaluations + tried
            stage2 = replace(stage2, info=replace(stage2.info, n_evaluations=total))
    theta, beta, state = stage2.theta, stage2.beta, stage2.state
    objective, info = stage2.objective, stage2.info
    if stage2.extra is not None and stage2.extra.size:
        problem.set_parameters(stage2.extra)
    boundary = problem.base_family.dispersion_boundary(problem.dispersion, state.mu)
    if boundary is not None:
        info = _with_note(
            info,
            f"{boundary} (it started from {problem.initial_dispersion:.4g}, the moment "
            f"estimate at the GLM's means, and stopped at {problem.dispersion_summary()} "
            f"after {info.n_evaluations} deviance evaluations)",
        )
    from_hessian, source = _hessian_vcov(stage2.hessian, layout.n_theta, stage2.scale)
    extra_vcov = _extra_vcov(stage2.hessian, problem.n_parameters)
    d = problem.disp_delta.size
    problem.disp_vcov, problem.zi_vcov = extra_vcov[:d, :d], extra_vcov[d:, d:]
    vcov = state.solution.var_beta_unscaled if from_hessian is None else from_hessian
    if from_hessian is None:
        info = _with_note(
            info,
            "the Hessian over (theta, beta) is not positive definite; "
            "standard errors come from the PIRLS factor instead",
        )
    return _result(
        model,
        problem,
        state,
        theta,
        beta,
        objective,
        vcov,
        source,
        info,
    )


def _stage1(
    model: GlmmModel, problem: GlmmProblem, start: PirlsState | None
) -> tuple[np.ndarray, Any, PirlsState]:
    """Stage 1, with the parameters beyond theta and beta (which it holds fixed) started
    from their conditional maximum before it and moved there again at its optimum
    (:func:`conditional_parameters`); where PIRLS fails at a moved start, stage 1 runs
    from the parameters' first values instead."""
    frame, layout = model.conditioned, model.conditioned_layout
    nagq, settings = model.nagq, model.settings
    if not (problem.n_parameters and nagq > 0):
        return stage1(problem, layout, frame, settings, nagq, start)
    first = problem.parameters()
    start = start or initial_state(problem, layout)
    if start is not None and conditional_parameters(problem, start) is not None:
        start = None  # its deviance was at the parameters before
    try:
        theta1, info1, state = stage1(problem, layout, frame, settings, nagq, start)
    except PirlsError:
        problem.set_parameters(first)
        return stage1(problem, layout, frame, settings, nagq, None)
    before = conditional_parameters(problem, state)
    if before is not None:
        try:
            state = problem.pirls(theta1, None, u_start=state.u, beta_start=state.beta)
        except PirlsError:
            problem.set_parameters(before)
            state = problem.pirls(theta1, None, u_start=state.u, beta_start=state.beta)
    return theta1, info1, state


def _beta_units(state: PirlsState) -> np.ndarray:
    """beta's standard errors at a state with beta estimated inside PIRLS: the units of
    beta in stage 2."""
    return np.sqrt(np.maximum(np.diag(state.solution.var_beta_unscaled), 1e-12))


def _with_note(info: Any, note: str) -> Any:
    return replace(info, warnings=tuple(info.warnings) + (note,))


def _hessian_vcov(H: np.ndarray, n_theta: int, scale: np.ndarray) -> tuple[np.ndarray | None, str]:
    """vcov(beta) = 2 [H^{-1}]_beta,beta, undoing the parameter scaling of beta."""
    try:
        if not np.all(np.isfinite(H)) or np.any(np.linalg.eigvalsh(H) <= 0):
            return None, "pirls"
        inv = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return None, "pirls"
    p = scale.size  # (a dispersion's row and column come last)
    block = 2.0 * inv[n_theta : n_theta + p, n_theta : n_theta + p]
    return block * np.outer(scale, scale), "hessian"


def _extra_vcov(H: np.ndarray, size: int) -> np.ndarray:
    """The covariance of the parameters beyond theta and beta, ``2 [H^{-1}]`` over them
    (they come last: the dispersion model's, then the zero-inflation coefficients)."""
    if size == 0:
        return np.zeros((0, 0))
    try:
        inv = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return np.full((size, size), np.nan)
    out: np.ndarray = 2.0 * inv[-size:, -size:]
    return out


def _result(
    model: GlmmModel,
    problem: GlmmProblem,
    state: PirlsState,
    theta: np.ndarray,
    beta: np.ndarray,
    objective: float,
    vcov: np.ndarray,
    source: str,
    info: Any,
) -> GlmmResult:
    frame, layout, cond = model.conditioned, model.conditioned_layout, model.conditioning
    original, fam, nagq = model.frame, model.family, model.nagq
    blocks = tuple(b.term_columns for b in layout.blocks)
    theta_map = layout.theta_map()
    templates = cond.templates_to_original(theta_map.factors(theta), blocks)
    # the boundary is judged on the conditioned theta, whose scale is the data's own
    covs = term_covariances(layout, frame, templates, 1.0)
    singular = singular_terms(frame, layout, theta, covs)
    theta = theta_map.theta_of(templates)
    vcov = cond.vcov(vcov) if vcov.size else vcov
    beta = cond.beta(beta)
    check_finite_fit(original.formula.text, criterion=objective, theta=theta, beta=beta)
    separation = _separation_notes(original, beta, fam)
    notes = list(info.warnings) + separation
    for note in info.warnings:
        warnings.warn(f"{frame.formula.text}: {note}", ConvergenceWarning, stacklevel=3)
    for note in separation:
        warnings.warn(f"{frame.formula.text}: {note}", SeparationWarning, stacklevel=3)
    if singular:
        warnings.warn(
            f"boundary (singular) fit for {frame.formula.text!r}: "
            + "; ".join(singular)
            + ". The data do not support this random-effects structure.",
            SingularFitWarning,
            stacklevel=3,
        )
    tail_offsets = state.workspace._tail_offsets
    condcov = cond.conditional_covariances(
        conditional_covariances(state.curvature_workspace, state.curvature), blocks
    )
    modes = cond.modes(modes_by_block(layout, state.solution, tail_offsets), blocks)
    solution = replace(
        state.solution,
        b0=modes[0],
        b_tail=np.concatenate([m.ravel() for m in modes[1:]])
        if len(modes) > 1
        else state.solution.b_tail,
    )
    ranef = ranef_table(frame, layout, solution, condcov, 1.0, tail_offsets)
    eta_all = np.full(frame.n_input, np.nan)
    eta_rows = np.empty_like(state.eta)
    eta_rows[problem.order] = state.eta  # PIRLS works on rows sorted by group
    eta_all[frame.rows] = eta_rows
    y_all = np.full(frame.n_input, np.nan)
    y_all[frame.rows] = frame.y
    # (the problem's per-row arrays are in its sorted order: back to the frame's rows)
    prior_rows = np.empty(problem.n)
    prior_rows[problem.order] = problem.prior
    prior_all = np.full(frame.n_input, np.nan)
    prior_all[frame.rows] = prior_rows
    zi_eta = np.zeros(0)
    if problem.zi_X is not None:
        zi_rows = np.empty(problem.n)
        zi_rows[problem.order] = problem.zi_X @ problem.zi_gamma
        zi_eta = np.full(frame.n_input, np.nan)
        zi_eta[frame.rows] = zi_rows
    sigma: float | np.ndarray
    if np.ndim(problem.dispersion):
        sigma_rows = np.empty(problem.n)
        sigma_rows[problem.order] = fam.sigma(problem.dispersion)
        sigma = np.full(frame.n_input, np.nan)
        sigma[frame.rows] = sigma_rows
    else:
        sigma = float(fam.sigma(problem.dispersion))
    info = replace(info, objective=objective, warnings=tuple(notes))
    return GlmmResult(
        formula=frame.formula.text,
        family=fam.name,
        link=fam.link.name,
        nagq=nagq,
        fixed_names=frame.fixed_names,
        beta=beta,
        vcov_matrix=vcov,
        vcov_source=source,
        theta=theta,
        theta_names=layout.names,
        objective=objective,
        nobs=frame.nobs,
        n_dropped=frame.n_dropped,
        ngroups={b.factor.name: b.n_levels for b in layout.blocks},
        is_singular=bool(singular),
        singular_terms=singular,
        optinfo=info,
        aliased=frame.aliased,
        _tables=RandomTables(varcorr_table(frame, covs, None), ranef),
        _eta=eta_all,
        _y=y_all,
        _prior=prior_all,
        _index=model.index,
        _random_columns=random_columns(frame, layout),
        dispersion=sigma,
        zi_names=problem.zi_names,
        zi_beta=problem.zi_gamma.copy(),
        zi_vcov=problem.zi_vcov,
        _zi_eta=zi_eta,
        disp_names=problem.disp_names,
        disp_beta=problem.disp_delta.copy() if problem.disp_names else np.zeros(0),
        disp_vcov=problem.disp_vcov if problem.disp_names else np.zeros((0, 0)),
        _model=model,
    )
