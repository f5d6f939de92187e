"""Stage 2 of a GLMM fit (nAGQ >= 1): the deviance over (theta, beta), from a state with
beta estimated inside PIRLS (the nAGQ = 0 fit's, or at theta's starting value).

beta is handled in units of its standard errors there, around its estimate there, so
every parameter moves the deviance about as much. Two ways to the optimum:

* :func:`gradient_stage2`, for one scalar term on a canonical link with the Laplace
  approximation: Newton steps with the analytic gradient
  (:mod:`mixedmodels.glmm.gradient_stage`).
* :func:`difference_stage2`, for everything else: Newton's method with central differences
  of the deviance for few parameters; COBYQA, then those Newton steps, otherwise.

Either returns the Hessian over (theta, beta) that lme4's standard errors need.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mixedmodels.core.newton import derivatives, newton_steps
from mixedmodels.core.optimize import minimize_theta
from mixedmodels.core.optinfo import OptimizerSettings, OptInfo
from mixedmodels.design.frame import ModelFrame
from mixedmodels.glmm.gradient_stage import LaplaceDeviance, gradient_stage
from mixedmodels.glmm.mode_guess import ModeGuess
from mixedmodels.glmm.pirls import GlmmProblem, PirlsError, PirlsState, gauss_hermite

__all__ = ["Stage2", "difference_stage2", "gradient_stage2"]

#: COBYQA's final trust-region radius in stage 2 (theta is O(1) and beta is in units of its
#: standard error, and stage 2 works in units rescaled by the curvature, so 1e-4 is inside
#: the 1e-3 tolerances on both).
STAGE2_RADIUS = 3e-4

#: Relative finite-difference step of the Hessian over (theta, beta).
HESSIAN_STEP = 1e-3
#: After a Newton step shorter than this (in the units above) the Hessian is kept and only
#: the gradient is differenced again: the standard errors move by about this relative (on
#: VerbAgg a step of 6e-5 moves them by 2e-6; on grouseticks one of 5e-4, by 6e-4).
HESSIAN_KEPT = 1e-4

#: Stage 2 is Newton's method from the nAGQ = 0 fit for at most this many parameters
#: (the Hessian is differenced at the start and at the end, n^2 + n deviances each, and
#: updated by BFGS from the gradient, 2 n, after each step between; COBYQA needs about
#: 15 n), in at most NEWTON_ROUNDS steps, accepted when the next Newton step would be
#: shorter than NEWTON_SETTLED (theta and beta in units of their stage-1 standard errors:
#: far inside the 1e-3 tolerances).
NEWTON_FIRST_MAX_PARAMS = 6
NEWTON_ROUNDS = 10
#: ... halving a step that does not lower the deviance up to this many times (a halving
#: costs one evaluation, a new Hessian n^2 + n)
NEWTON_HALVINGS = 4
NEWTON_SETTLED = 1e-4


@dataclass(frozen=True)
class Stage2:
    """Where stage 2 ended: the optimum, its PIRLS state, and the Hessian over
    (theta, beta in units of ``scale``) that the standard errors read."""

    theta: np.ndarray
    beta: np.ndarray
    state: PirlsState
    objective: float
    hessian: np.ndarray
    scale: np.ndarray
    """beta's units in the Hessian."""
    info: OptInfo
    extra: np.ndarray | None = None
    """The other parameters at the optimum (:meth:`GlmmProblem.parameters`)."""


def gradient_stage2(
    problem: GlmmProblem, layout: Any, state: PirlsState, scale: np.ndarray, initial: bool
) -> tuple[Stage2 | None, int]:
    """Stage 2 by Newton steps with the analytic gradient of the Laplace deviance from
    ``state``, modes and beta estimated inside PIRLS (``scale``: beta's units) at theta's
    starting value (``initial``) or at stage 1's optimum; and the number of deviances
    evaluated. None where the steps do not settle (the caller goes on with stage 1, or
    with :func:`difference_stage2`)."""
    t0 = time.perf_counter()
    n_theta = layout.n_theta
    laplace = LaplaceDeviance(problem, state.beta, scale, state)
    lower = np.concatenate([layout.lower, np.full(state.beta.size, -np.inf)])
    with np.errstate(all="ignore"):
        fitted = gradient_stage(laplace, lower)
    if fitted is None or not fitted.next_step < NEWTON_SETTLED:
        return None, laplace.count
    origin = "the nAGQ = 0 modes at theta's starting value" if initial else "the nAGQ = 0 fit"
    info = OptInfo(
        optimizer="Newton's method with the analytic gradient and a Hessian from its "
        f"differences, from {origin}",
        n_evaluations=laplace.count,
        converged=True,
        message=f"the next Newton step is {fitted.next_step:.1g} long",
        objective=fitted.value,
        scaled_gradient=fitted.next_step,
        seconds=time.perf_counter() - t0,
    )
    theta = fitted.params[:n_theta]
    beta = state.beta + scale * fitted.params[n_theta:]
    return Stage2(theta, beta, fitted.state, fitted.value, fitted.hessian, scale, info), 0


class _Deviance:
    """The Laplace or quadrature deviance at the stage-2 parameters, counted.

    Every evaluation starts PIRLS from the modes that
    :class:`~mixedmodels.glmm.mode_guess.ModeGuess` predicts from the evaluations before
    (and again from where PIRLS ended last if that fails); exact ones (for differences: the
    factor at the modes themselves) keep the state of the lowest deviance, so that the
    optimum's need not be found again.

    Parameters
    ----------
    problem : GlmmProblem
    scale : numpy.ndarray
        beta's units.
    nagq : int
    start : PirlsState
        The nAGQ = 0 fit's modes, at ``(theta1, beta0)``: the first centre, at parameters
        ``(theta1, 0)``.

    The parameters end with the problem's others (``log phi`` for a family with a
    dispersion, the zero-inflation coefficients), from their present values.
    """

    def __init__(
        self, problem: GlmmProblem, scale: np.ndarray, nagq: int, start: PirlsState
    ) -> None:
        self.problem = problem
        self.beta0 = start.beta
        self.scale = scale
        self.nagq = nagq
        self.nodes, self.weights = gauss_hermite(max(nagq, 1))
        self.n_theta = start.theta.size
        self.n_beta = start.beta.size
        self.count = 0
        self.n_extra = problem.n_parameters
        extra = problem.parameters()
        self.start = np.concatenate([start.theta, np.zeros(self.beta0.size), extra])
        self._guess = ModeGuess()
        self._guess.record(self.start, start.u)
        self.start_value = self.value(start)
        self._best = (self.start_value, self.start, start)

    def value(self, state: PirlsState) -> float:
        """The deviance at a PIRLS state."""
        if self.nagq == 1:
            return self.problem.laplace(state)
        return self.problem.agq(state, self.nodes, self.weights)

    def split(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """theta and beta at ``params``, with the problem set to their dispersion."""
        if self.n_extra:
            self.problem.set_parameters(params[self.n_theta + self.n_beta :])
        beta = params[self.n_theta : self.n_theta + self.n_beta]
        return params[: self.n_theta], self.beta0 + self.scale * beta

    def extra(self, params: np.ndarray) -> np.ndarray:
        """The parameters beyond theta and beta at ``params``."""
        out: np.ndarray = params[self.n_theta + self.n_beta :].copy()
        return out

    def centre(self, params: np.ndarray) -> float:
        """The exact deviance at ``params``, where the Newton steps start (as after the
        optimizer, at the point it evaluated last); PIRLS failing there is an error."""
        self.count += 1
        theta, beta = self.split(params)
        state = self.problem.pirls(theta, beta, u_start=self._guess.predict(params))
        return self._keep(params, state)

    def _keep(self, params: np.ndarray, state: PirlsState) -> float:
        self._guess.record(params, state.u)
        value = self.value(state)
        if value < self._best[0]:
            self._best = (value, params.copy(), state)
        return value

    def __call__(self, params: np.ndarray, exact: bool = False) -> float:
        self.count += 1
        theta, beta = self.split(params)
        state = None
        for start in (self._guess.predict(params), None):
            try:
                state = self.problem.pirls(theta, beta, u_start=start, exact=exact)
                break
            except (PirlsError, np.linalg.LinAlgError, ValueError, FloatingPointError):
                continue
        if state is None:
            return np.inf
        try:
            if exact:
                return self._keep(params, state)
            self._guess.record(params, state.u)
            return self.value(state)
        except (np.linalg.LinAlgError, ValueError, FloatingPointError):
            return np.inf

    def exact(self, params: np.ndarray) -> float:
        """The deviance with the factor made at the modes (for differences)."""
        return self(params, exact=True)

    def hessian_at(self, params: np.ndarray, step: float) -> np.ndarray:
        """The central-difference Hessian at ``params`` with steps of ``step``; its points
        are probes, not candidates: the kept state stays the one kept before."""
        best = self._best
        try:
            free = np.ones(params.size, dtype=bool)
            return derivatives(self.exact, params, free, self.exact(params), step=step)[1]
        finally:
            self._best = best
            self.split(params)  # (the problem back at the point's own dispersion)

    def state_at(self, params: np.ndarray) -> tuple[PirlsState, float] | None:
        """The kept state and deviance, if they are those at ``params``."""
        if np.array_equal(self._best[1], params):
            return self._best[2], self._best[0]
        return None


def _finite_hessian(deviance: _Deviance, params: np.ndarray, H: np.ndarray) -> np.ndarray:
    """``H``, or where a difference point left the deviance's domain (PIRLS failed there,
    as on an identity link where a step makes a mean negative: a NaN or infinite entry)
    the Hessian differenced again at ``params`` with steps four and sixteen times shorter
    (the truncation error falls with the step; the PIRLS noise, ~1e-10, stays far below
    the curvature at these steps)."""
    step = HESSIAN_STEP
    for _ in range(2):
        if np.all(np.isfinite(H)):
            break
        step /= 4.0
        H = deviance.hessian_at(params, step)
    return H


def difference_stage2(
    problem: GlmmProblem,
    layout: Any,
    frame: ModelFrame,
    state: PirlsState,
    scale: np.ndarray,
    nagq: int,
    settings: OptimizerSettings,
    info1: OptInfo,
) -> Stage2:
    """Stage 2 by finite differences of the deviance: Newton's method from the nAGQ = 0
    fit's ``state`` with few parameters, COBYQA then Newton steps otherwise. The
    evaluations counted are all of stage 2's."""
    n_theta = layout.n_theta
    terms = layout.term_slots()
    deviance = _Deviance(problem, scale, nagq, state)
    start = deviance.start
    lower = np.concatenate([layout.lower, np.full(start.size - layout.n_theta, -np.inf)])
    t0 = time.perf_counter()
    with np.errstate(all="ignore"):
        # lme4's standard errors need the Hessian of the deviance over (theta, beta)
        # anyway (steps of 1e-3, beta in units of its stage-1 standard error: PIRLS
        # noise of ~1e-10 in the deviance then costs ~1e-4 of the Hessian, truncation
        # ~1e-6), and the same differences give Newton steps. With few parameters
        # (a round costs n^2 + n evaluations) Newton's method from the nAGQ = 0 fit
        # is the optimizer; where it does not settle (a boundary, an indefinite
        # Hessian, many parameters) COBYQA runs first and Newton polishes.
        settled = False
        params = start
        if start.size <= NEWTON_FIRST_MAX_PARAMS:
            params, H, polished, last = newton_steps(
                deviance.exact,
                start,
                layout.lower,
                n_theta,
                HESSIAN_STEP,
                rounds=NEWTON_ROUNDS,
                value=deviance.start_value,
                keep_hessian=HESSIAN_KEPT,
                halvings=NEWTON_HALVINGS,
                quasi=True,
                settle=NEWTON_SETTLED,
                modify=True,
            )
            settled = last < NEWTON_SETTLED
            if settled:
                info = OptInfo(
                    optimizer="Newton's method with a finite-difference Hessian, from "
                    "the nAGQ = 0 fit",
                    n_evaluations=0,
                    converged=True,
                    message=f"the next Newton step is {last:.1g} long",
                    objective=np.nan,
                    scaled_gradient=last,
                )
        if not settled:
            # theta's curvature can exceed beta's (in SE units) by 1e4: COBYQA needs
            # the parameters rescaled (on sim_logistic: 36 evaluations instead of 126)
            final = replace(
                settings,
                final_radius=max(settings.final_radius, STAGE2_RADIUS),
                scale_by_curvature=True,
            )
            # (from where the Newton steps stopped, if they took any: below the start)
            params, info = minimize_theta(
                deviance, params, lower, final, check=False, initial_radius=0.5, terms=terms
            )
            # Newton steps take COBYQA's stopping point (its last trust region is
            # STAGE2_RADIUS wide) to the optimum
            value = deviance.centre(params)
            params, H, polished, _ = newton_steps(
                deviance.exact,
                params,
                layout.lower,
                n_theta,
                HESSIAN_STEP,
                value=value,
                keep_hessian=HESSIAN_KEPT,
            )
            if polished:
                info = replace(info, optimizer=info.optimizer + ", then Newton steps")
        H = _finite_hessian(deviance, params, H)
        theta, beta = deviance.split(params)
        kept = deviance.state_at(params)
        if kept is None:
            try:
                final_state = problem.pirls(theta, beta)
            except PirlsError as exc:
                raise PirlsError(
                    f"fitting {frame.formula.text!r}: {exc}. Tried: the nAGQ = 0 fit "
                    f"({info1.n_evaluations} evaluations), then the full deviance over "
                    f"theta and beta ({deviance.count} evaluations)."
                ) from None
            kept = final_state, deviance.value(final_state)
    info = replace(
        info,
        n_evaluations=deviance.count,
        objective=kept[1],
        seconds=time.perf_counter() - t0,
    )
    deviance.split(params)  # the problem at the optimum's dispersion
    return Stage2(theta, beta, kept[0], kept[1], H, scale, info, deviance.extra(params))
