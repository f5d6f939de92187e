"""Stage 1 of a GLMM fit (lme4's nAGQ = 0): the Laplace deviance over theta, with beta
estimated inside PIRLS together with the modes.

With ``nagq=0`` this is the fit; otherwise a coarse optimum is enough, as the start of
stage 2 (:mod:`mixedmodels.glmm.stage2`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from mixedmodels.core.optimize import minimize_theta
from mixedmodels.core.optinfo import OptimizerSettings, OptInfo
from mixedmodels.design.frame import ModelFrame
from mixedmodels.glmm.mode_guess import ModeGuess
from mixedmodels.glmm.pirls import GlmmProblem, PirlsError, PirlsState

__all__ = ["STAGE1_RADIUS", "initial_state", "stage1"]

#: COBYQA's final trust-region radius in stage 1 when it is only a start for stage 2:
#: equal to the initial radius, so it stops after its first few evaluations.
STAGE1_RADIUS = 2e-1

_FAILURES = (PirlsError, np.linalg.LinAlgError, ValueError, FloatingPointError)


def initial_state(problem: GlmmProblem, layout: Any) -> PirlsState | None:
    """The modes and beta (estimated inside PIRLS) at theta's starting value, with the
    factor at the modes; None where PIRLS fails there."""
    try:
        with np.errstate(all="ignore"):
            return problem.pirls(layout.initial(), None)
    except _FAILURES:
        return None


def stage1(
    problem: GlmmProblem,
    layout: Any,
    frame: ModelFrame,
    settings: OptimizerSettings,
    nagq: int,
    start: PirlsState | None = None,
) -> tuple[np.ndarray, OptInfo, PirlsState]:
    """Minimize the nAGQ = 0 deviance over theta; theta1, how the optimizer went, and the
    state at theta1 with the factor at its modes.

    Each evaluation starts PIRLS from the modes and beta that
    :class:`~mixedmodels.glmm.mode_guess.ModeGuess` predicts from those before. The
    optimizer asks for its best point again at the end, and the exact state at theta1
    follows, so the best point's value and state are kept. ``start``, the state at theta's
    starting value if it is known (:func:`initial_state`), is the first of them.

    Raises
    ------
    PirlsError
        When PIRLS fails at theta1.
    """
    terms = layout.term_slots()
    q = problem.q
    guess = ModeGuess()
    best: tuple[float, np.ndarray, PirlsState] | None = None
    if start is not None:
        best = (problem.laplace(start), start.theta.copy(), start)
        guess.record(start.theta, np.concatenate([start.u, start.beta]))

    def deviance(theta: np.ndarray) -> float:
        nonlocal best
        if best is not None and np.array_equal(theta, best[1]):
            return best[0]
        predicted = guess.predict(theta)
        starts = [] if predicted is None else [(predicted[:q], predicted[q:])]
        for u0, b0 in [*starts, (None, None)]:  # where PIRLS ended last, if that fails
            try:
                st = problem.pirls(theta, None, u_start=u0, exact=False, beta_start=b0)
                value = problem.laplace(st)
                break
            except _FAILURES:
                continue
        else:
            return np.inf
        guess.record(theta, np.concatenate([st.u, st.beta]))
        if best is None or value < best[0]:
            best = (value, theta.copy(), st)
        return value

    with np.errstate(all="ignore"):
        # stage 1 only gives stage 2 its start, where a coarse optimum is enough; with
        # nagq = 0 it is the fit
        stage1_settings = settings if nagq == 0 else replace(settings, final_radius=STAGE1_RADIUS)
        theta1, info1 = minimize_theta(
            deviance,
            layout.initial(),
            layout.lower,
            stage1_settings,
            check=False,
            terms=terms if nagq == 0 else None,
        )
        try:
            if best is not None and np.array_equal(theta1, best[1]):
                state = problem.pirls(theta1, None, u_start=best[2].u, beta_start=best[2].beta)
            else:
                state = problem.pirls(theta1, None)
        except PirlsError as exc:
            raise PirlsError(
                f"fitting {frame.formula.text!r}: {exc}. Tried: minimizing the Laplace "
                f"deviance over theta with beta inside PIRLS ({info1.n_evaluations} "
                "evaluations)."
            ) from None
    return theta1, info1, state
