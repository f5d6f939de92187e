"""Stage 2 of a GLMM fit by Newton steps with the analytic gradient of the Laplace deviance.

Where :func:`~mixedmodels.glmm.gradient.laplace_gradient` applies, the deviance over
(theta, beta) is minimized from a state with beta estimated inside PIRLS (at theta's
starting value, or at stage 1's optimum) by Newton steps whose Hessian is the forward
differences of that gradient (n gradients for n parameters, against the n^2 + n
deviances of a central-difference Hessian of the deviance), and the Hessian the standard
errors read is the one made within a differencing step of the optimum. The derivatives
of the modes that come with each gradient predict the modes at the next point: PIRLS at
a differenced point then converges in one iteration (from the modes of the centre, three).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mixedmodels.core.newton import gradient_differences, positive_definite_step
from mixedmodels.glmm.gradient import laplace_gradient
from mixedmodels.glmm.pirls import GlmmProblem, PirlsError, PirlsState

__all__ = ["GradientFit", "LaplaceDeviance", "gradient_stage"]

#: Forward-difference step of the Hessian (theta, and beta in units of its standard error
#: at the start): the truncation error is this times the third derivative, and the gradient's
#: rounding divided by the step is smaller still.
GRADIENT_HESSIAN_STEP = 1e-5
#: Newton steps at most.
GRADIENT_NEWTON_STEPS = 8
#: How often a step that does not lower the deviance is halved.
GRADIENT_HALVINGS = 4
#: The steps stop when the next would be shorter than this (theta is O(1), beta is in units
#: of its standard error: far inside the 1e-3 tolerances of both).
GRADIENT_NEWTON_TOLERANCE = 1e-8


class LaplaceDeviance:
    """The Laplace deviance and its gradient over the parameters of stage 2: theta, then
    ``(beta - beta0) / scale``.

    Each evaluation starts PIRLS at the modes predicted, to first order, from the last
    point evaluated, and keeps the state of the point last asked for. The points of a
    difference Hessian (:meth:`differenced`) need only the gradient, which reads the modes
    and not the factor, so PIRLS does not make the factor again at their modes.

    Parameters
    ----------
    problem : GlmmProblem
    beta0, scale : numpy.ndarray
        The centre and units of beta.
    start : PirlsState
        The modes at ``(theta, beta0)``, beta0 estimated inside PIRLS: the first point.
    """

    def __init__(
        self, problem: GlmmProblem, beta0: np.ndarray, scale: np.ndarray, start: PirlsState
    ) -> None:
        self.problem = problem
        self.beta0 = beta0
        self.scale = scale
        self.n_theta = start.theta.size
        self.count = 0
        self._params = np.concatenate([start.theta, np.zeros(beta0.size)])
        self._state = start
        self._value, self._gradient, self._modes = self._derivatives(start)

    def _derivatives(
        self, state: PirlsState, exact: bool = True
    ) -> tuple[float | None, np.ndarray, np.ndarray]:
        gradient, modes = laplace_gradient(self.problem, state)
        k = self.n_theta
        gradient[k:] *= self.scale
        modes[:, k:] *= self.scale
        return self.problem.laplace(state) if exact else None, gradient, modes

    @property
    def state(self) -> PirlsState:
        """The PIRLS state of the point last evaluated."""
        return self._state

    def __call__(self, params: np.ndarray) -> tuple[float, np.ndarray]:
        """The deviance and its gradient at ``params`` (inf and zeros where PIRLS fails)."""
        value, gradient = self._evaluate(params, exact=True)
        return np.inf if value is None else value, gradient

    def differenced(self, params: np.ndarray) -> tuple[float, np.ndarray]:
        """The gradient at ``params`` (zeros where PIRLS fails), with NaN for the deviance,
        which is not evaluated."""
        return np.nan, self._evaluate(params, exact=False)[1]

    def _evaluate(self, params: np.ndarray, exact: bool) -> tuple[float | None, np.ndarray]:
        params = np.asarray(params, dtype=np.float64)
        if np.array_equal(params, self._params) and (self._value is not None or not exact):
            return self._value, self._gradient.copy()
        self.count += 1
        k = self.n_theta
        theta, beta = params[:k], self.beta0 + self.scale * params[k:]
        u_start = self._state.u + self._modes @ (params - self._params)
        try:
            state = self.problem.pirls(theta, beta, u_start=u_start, exact=exact)
            value, gradient, modes = self._derivatives(state, exact)
        except (PirlsError, np.linalg.LinAlgError, ValueError, FloatingPointError):
            return None, np.zeros_like(params)
        if (value is not None and not np.isfinite(value)) or not np.all(np.isfinite(gradient)):
            return None, np.zeros_like(params)
        self._params, self._state = params, state
        self._value, self._gradient, self._modes = value, gradient, modes
        return value, gradient.copy()


@dataclass(frozen=True)
class GradientFit:
    """The optimum stage 2 reached.

    Attributes
    ----------
    params : numpy.ndarray
        theta, then beta in the units of :class:`LaplaceDeviance`.
    value : float
        The Laplace deviance there.
    hessian : numpy.ndarray
        Forward differences of the gradient within one differencing step of ``params``.
    state : PirlsState
        The modes at ``params``.
    next_step : float
        ``max |H^{-1} g|`` at ``params``: how far the next Newton step would go.
    """

    params: np.ndarray
    value: float
    hessian: np.ndarray
    state: PirlsState
    next_step: float


def gradient_stage(deviance: LaplaceDeviance, lower: np.ndarray) -> GradientFit | None:
    """Newton steps from the first point of ``deviance`` within the bounds ``lower`` (over
    all parameters).

    The Hessian is differenced at the start and again wherever the steps went further than
    the differencing step, so each step is a full Newton step and the Hessian at the end
    was made within a differencing step of the optimum. A step is kept when it lowers the
    deviance by more than its rounding, or, near the optimum, where the deviance changes by
    less than that, when it shrinks the gradient (which is exact); otherwise it is halved,
    up to ``GRADIENT_HALVINGS`` times. The steps stop when the next one would be shorter
    than ``GRADIENT_NEWTON_TOLERANCE``.

    Returns None when they do not apply: theta on its boundary, a Hessian that is not
    positive definite, or a step that leaves the bounds.
    """
    k = deviance.n_theta
    x = np.concatenate([deviance.state.theta, np.zeros(deviance.beta0.size)])
    if np.any((lower[:k] == 0.0) & (x[:k] < 1e-4)):
        return None
    value, g = deviance(x)
    state = deviance.state
    if not np.isfinite(value):
        return None
    H = gradient_differences(deviance.differenced, x, g, GRADIENT_HESSIAN_STEP)
    at = x  # where H was differenced
    rounding = 1e-12 * max(abs(value), 1.0)
    step = positive_definite_step(H, g)
    for _ in range(GRADIENT_NEWTON_STEPS):
        if step is None:
            return None
        if np.max(np.abs(step)) < GRADIENT_NEWTON_TOLERANCE:
            break
        if np.any(x - step < lower):
            return None
        for _ in range(GRADIENT_HALVINGS + 1):
            trial = x - step
            trial_value, trial_g = deviance(trial)
            if trial_value < value - rounding:
                break
            if abs(trial_value - value) <= rounding and _size(trial_g) < _size(g):
                break
            step = 0.5 * step
        else:
            break
        x, value, g, state = trial, trial_value, trial_g, deviance.state
        if np.max(np.abs(x - at)) > GRADIENT_HESSIAN_STEP:
            H = gradient_differences(deviance.differenced, x, g, GRADIENT_HESSIAN_STEP)
            at = x
        step = positive_definite_step(H, g)
    step = positive_definite_step(H, g)  # the next step from where the steps ended
    if step is None:
        return None
    return GradientFit(x, value, H, state, float(np.max(np.abs(step))))


def _size(g: np.ndarray) -> float:
    return float(np.max(np.abs(g)))
