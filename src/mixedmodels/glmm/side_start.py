"""A start for the parameters of a GLMM's deviance beyond theta and beta (the dispersion
or its model's coefficients, the zero-inflation coefficients): their maximum of the
conditional likelihood ``log p(y | eta)`` at the linear predictor of a PIRLS state.

Each evaluation is one pass over the rows (no PIRLS), so this costs a fraction of one
deviance evaluation's time per step, and it brings those parameters near their optimum
before the optimizer of theta and beta sees them: from a fixed start (one structural zero
in five, the GLM's moment dispersion) the Newton steps of stage 2 did not settle on a
zero-inflated negative binomial and the derivative-free optimizer ran first, with about
twice the deviance evaluations.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

from mixedmodels.glmm.pirls import GlmmProblem, PirlsState

__all__ = ["conditional_parameters"]

#: the search's tolerance on the conditional deviance's gradient (a start: coarse is
#: enough), its iterations, and how far it may move each parameter (on the log or logit
#: scale): a start, not an estimate, and at the edge of a family (a negative binomial's
#: Poisson limit) the conditional maximum can lie where PIRLS itself struggles
SIDE_GTOL = 1e-4
SIDE_MAX_ITERATIONS = 100
SIDE_MAX_MOVE = 3.0


def conditional_parameters(problem: GlmmProblem, state: PirlsState) -> np.ndarray | None:
    """Set the problem's other parameters to their conditional maximum at ``state``'s
    means (within ``SIDE_MAX_MOVE`` of where they were); their values before, or None
    where they did not move (the search failed)."""
    if problem.n_parameters == 0:
        return None
    mu = state.mu
    start = problem.parameters()

    def deviance(values: np.ndarray) -> float:
        problem.set_parameters(values)
        value = -2.0 * (problem.kernel_sum(mu) + problem.normalizer_total)
        return value if np.isfinite(value) else np.inf

    with np.errstate(all="ignore"):
        first = deviance(start)
        found = optimize.minimize(
            deviance,
            start,
            method="L-BFGS-B",
            bounds=[(v - SIDE_MAX_MOVE, v + SIDE_MAX_MOVE) for v in start],
            options={"gtol": SIDE_GTOL, "maxiter": SIDE_MAX_ITERATIONS},
        )
    better = bool(np.all(np.isfinite(found.x))) and found.fun < first
    problem.set_parameters(found.x if better else start)
    return start if better else None
