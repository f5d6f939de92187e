"""Newton steps on the criterion: finite-difference gradients and Hessians of the
criterion (GLMMs, the check of an optimum) or of the analytic gradient (the polish after
L-BFGS-B)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.linalg import lapack

__all__ = [
    "DIFFERENCED_HESSIAN",
    "INFORMATION_HESSIAN",
    "STARTED_HESSIAN",
    "UPDATED_HESSIAN",
    "Derivatives",
    "central_gradient",
    "derivatives",
    "gradient_differences",
    "free_derivatives",
    "modified_step",
    "newton_polish",
    "newton_steps",
    "positive_definite_step",
    "quasi_newton",
]

#: How the Hessian of a :class:`Derivatives` was found.
DIFFERENCED_HESSIAN = "analytic gradient, Hessian from its forward differences"
UPDATED_HESSIAN = "analytic gradient, Hessian from the previous fit's with BFGS updates"
STARTED_HESSIAN = "analytic gradient, Hessian differenced at the start with BFGS updates"
INFORMATION_HESSIAN = "analytic gradient, the average information at the start with BFGS updates"
FREE_HESSIAN = "analytic gradient, Hessian from its forward differences over the free coordinates"

#: A Newton step of the polish shorter than this (theta is O(1) on the conditioned
#: matrices) is not taken: the gradient it comes from is at its own rounding, so it
#: would move theta by noise, at the cost of one more gradient.
FINAL_STEP = 1e-11

#: Quasi-Newton steps shorter than this many times the settling length are followed by a
#: Hessian differenced afresh (see :func:`newton_steps`).
REFRESH_FACTOR = 100.0


def derivatives(
    f: Callable[[np.ndarray], float],
    x: np.ndarray,
    free: np.ndarray,
    f0: float,
    step: float = 1e-4,
) -> tuple[np.ndarray, np.ndarray]:
    """Central-difference gradient and Hessian over the free coordinates, with steps of
    ``step`` times ``max(|x|, 1)``."""
    idx = np.flatnonzero(free)
    h = step * np.maximum(np.abs(x[idx]), 1.0)
    g = np.zeros(idx.size)
    H = np.zeros((idx.size, idx.size))
    plus = np.zeros(idx.size)
    minus = np.zeros(idx.size)
    for a, i in enumerate(idx):
        e = np.zeros_like(x)
        e[i] = h[a]
        plus[a] = f(x + e)
        minus[a] = f(x - e)
        g[a] = (plus[a] - minus[a]) / (2 * h[a])
        H[a, a] = (plus[a] - 2 * f0 + minus[a]) / h[a] ** 2
    for a in range(idx.size):
        for b in range(a):
            e = np.zeros_like(x)
            e[idx[a]] = h[a]
            e[idx[b]] = h[b]
            fpp = f(x + e)
            fmm = f(x - e)
            H[a, b] = H[b, a] = (fpp - plus[a] - plus[b] + 2 * f0 - minus[a] - minus[b] + fmm) / (
                2 * h[a] * h[b]
            )
    return g, H


def central_gradient(
    f: Callable[[np.ndarray], float],
    x: np.ndarray,
    free: np.ndarray,
    step: float = 1e-4,
) -> np.ndarray:
    """Central-difference gradient over the free coordinates (2 evaluations each), with the
    steps of :func:`derivatives`."""
    idx = np.flatnonzero(free)
    h = step * np.maximum(np.abs(x[idx]), 1.0)
    g = np.zeros(idx.size)
    for a, i in enumerate(idx):
        e = np.zeros_like(x)
        e[i] = h[a]
        g[a] = (f(x + e) - f(x - e)) / (2 * h[a])
    return g


#: The modified Newton step's eigenvalues are at least this share of the largest.
MODIFIED_FLOOR = 1e-6


def modified_step(H: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """A descent step where H is indefinite, and the positive definite matrix it comes
    from: H with its eigenvalues replaced by their absolute values (at least
    ``MODIFIED_FLOOR`` of the largest), which keeps Newton's step along the directions of
    positive curvature and turns it downhill along those of negative curvature (Nocedal and
    Wright 2006, section 3.4). None when H is not finite or zero."""
    if not np.all(np.isfinite(H)) or not np.all(np.isfinite(g)):
        return None
    values, vectors = np.linalg.eigh(H)
    top = float(np.max(np.abs(values)))
    if top <= 0.0:
        return None
    values = np.maximum(np.abs(values), MODIFIED_FLOOR * top)
    positive: np.ndarray = (vectors * values) @ vectors.T
    step: np.ndarray = vectors @ ((vectors.T @ g) / values)
    return step, positive


def positive_definite_step(H: np.ndarray, g: np.ndarray) -> np.ndarray | None:
    """The Newton step ``H^{-1} g``, or None when H is not positive definite."""
    try:
        if np.any(np.linalg.eigvalsh(H) <= 0):
            return None
        out: np.ndarray = np.linalg.solve(H, g)
        return out
    except np.linalg.LinAlgError:
        return None


def newton_steps(
    f: Callable[[np.ndarray], float],
    params: np.ndarray,
    theta_lower: np.ndarray,
    n_theta: int,
    step: float,
    rounds: int = 3,
    value: float | None = None,
    keep_hessian: float = 0.0,
    halvings: int = 0,
    quasi: bool = False,
    settle: float = 0.0,
    modify: bool = False,
) -> tuple[np.ndarray, np.ndarray, bool, float]:
    """Newton steps on ``f`` over (theta, then other parameters) with the central-difference
    gradient and Hessian of :func:`derivatives` (steps of ``step``); ``value`` is
    ``f(params)`` when it is known.

    A step that does not lower ``f`` is halved up to ``halvings`` times before the steps
    stop. After a step no longer than ``keep_hessian`` only the gradient is differenced again
    (2 n evaluations instead of n^2 + n) and the Hessian is kept: it moves by about the
    step times the third derivative, so ``keep_hessian`` bounds the relative change when
    the parameters are in units of their standard errors. With ``quasi`` every step is
    followed by the gradient alone and a BFGS update of the Hessian, and the Hessian is
    differenced afresh only where the updated one fails (not positive definite, or its
    step does not lower ``f``), after a step shorter than ``REFRESH_FACTOR * settle``
    (the steps end there if the fresh Hessian's next step is shorter than ``settle``) and
    at the end, so the Hessian returned is always one differenced at the point returned
    (or within ``keep_hessian`` of it). With ``modify``, a freshly differenced Hessian
    that is not positive definite gives the step of :func:`modified_step` (tried with
    the same halvings) instead of ending the steps.

    Returns the point, the Hessian, whether a step was taken, and the length
    ``max |H^{-1} g|`` of the Newton step that would follow (inf when the Hessian is not
    positive definite or theta is on its boundary). A point with theta on its boundary is
    left as it is (its Hessian is still returned)."""
    free = np.ones(params.size, dtype=bool)
    value = f(params) if value is None else value
    polished = False

    def on_bound(x: np.ndarray) -> bool:
        return bool(np.any((theta_lower == 0.0) & (x[:n_theta] < 1e-4)))

    g, H = derivatives(f, params, free, value, step=step)
    fresh = True  # H is differenced at params (or within keep_hessian of it)
    taken = 0
    while taken < rounds:
        newton = None if on_bound(params) else positive_definite_step(H, g)
        model = H  # the quadratic model of the step (H, or H made positive definite)
        if newton is None and fresh and modify and not on_bound(params):
            modified = modified_step(H, g)
            if modified is not None:
                newton, model = modified
        if newton is None:
            if fresh:
                return params, H, polished, np.inf
            g, H = derivatives(f, params, free, value, step=step)
            fresh = True
            continue
        # a full step, or (from a start the quadratic model does not yet describe) the
        # first of its halvings that lowers f
        length, trial_value = 1.0, np.inf
        if model is not H:
            # a modified step is a descent direction, not a model's minimum: shortened to
            # go at most half-way to theta's bounds, it is then halved as Newton's are
            length = min(1.0, 0.5 * _room(params[:n_theta], newton[:n_theta], theta_lower))
        for _ in range(halvings + 1):
            trial = params - length * newton
            if np.any(trial[:n_theta] < theta_lower):
                trial_value = np.inf  # (theta's boundary: the steps stop here)
                break
            trial_value = f(trial)
            if trial_value < value - 1e-12 * max(1.0, abs(value)):
                break
            length /= 2.0
        else:
            trial_value = np.inf
        if not trial_value < value - 1e-12 * max(1.0, abs(value)):
            if fresh:
                return params, H, polished, float(np.max(np.abs(newton)))
            g, H = derivatives(f, params, free, value, step=step)
            fresh = True
            continue
        taken += 1
        newton = length * newton
        moved = float(np.max(np.abs(newton)))
        params, value, polished = trial, trial_value, True
        if moved <= keep_hessian and model is H:
            g = central_gradient(f, params, free, step=step)
        elif quasi:
            g_new = central_gradient(f, params, free, step=step)
            H = _bfgs_update(model, -newton, g_new - g)
            g, fresh = g_new, False
            if moved < REFRESH_FACTOR * settle:
                # near the end: the Hessian differenced afresh says whether it is (and
                # makes the steps from here Newton's, quadratically convergent)
                g, H = derivatives(f, params, free, value, step=step)
                fresh = True
                following = positive_definite_step(H, g)
                if following is not None and float(np.max(np.abs(following))) < settle:
                    break
        else:
            g, H = derivatives(f, params, free, value, step=step)
        if moved < 1e-7:
            break
    if not fresh:
        g, H = derivatives(f, params, free, value, step=step)
    last = None if on_bound(params) else positive_definite_step(H, g)
    return params, H, polished, np.inf if last is None else float(np.max(np.abs(last)))


def _room(theta: np.ndarray, step: np.ndarray, lower: np.ndarray) -> float:
    """The longest multiple of ``-step`` from ``theta`` that stays above ``lower``."""
    down = step > 0
    if not np.any(down):
        return np.inf
    return float(np.min((theta[down] - lower[down]) / step[down]))


def _bfgs_update(H: np.ndarray, s: np.ndarray, y: np.ndarray) -> np.ndarray:
    """BFGS's update of a Hessian ``H`` after a step ``s`` that changed the gradient by
    ``y`` (skipped where ``s'y <= 0``, which would lose positive definiteness)."""
    sy = float(s @ y)
    Hs = H @ s
    sHs = float(s @ Hs)
    if sy <= 1e-12 * max(sHs, 1e-300) or sHs <= 0:
        return H
    out: np.ndarray = H + np.outer(y, y) / sy - np.outer(Hs, Hs) / sHs
    return out


def gradient_differences(
    gradient: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x: np.ndarray,
    g: np.ndarray,
    step: float,
) -> np.ndarray:
    """The Hessian at ``x`` by forward differences of an analytic gradient (``g`` is the
    gradient at ``x``; ``x.size`` more gradients), symmetrized."""
    columns = [(gradient(x + step * e)[1] - g) / step for e in np.eye(x.size)]
    H = np.column_stack(columns)
    symmetric: np.ndarray = 0.5 * (H + H.T)
    return symmetric


def free_derivatives(
    gradient: Callable[[np.ndarray], tuple[float, np.ndarray]],
    theta: np.ndarray,
    free: np.ndarray,
    step: float = 1e-5,
) -> tuple[np.ndarray, np.ndarray]:
    """The analytic gradient over the ``free`` coordinates and the Hessian there from its
    forward differences: ``free.sum()`` gradients, where central differences of the
    criterion take ``n^2 + n`` criteria (at k = 14 vector terms, 105 coordinates: 106
    gradients instead of 11,130 criteria). The steps move free coordinates only, which lie
    inside their bounds, so every point is feasible."""
    _, g = gradient(theta)
    idx = np.flatnonzero(free)
    columns = []
    for i in idx:
        e = np.zeros_like(theta)
        e[i] = step
        columns.append((gradient(theta + e)[1][idx] - g[idx]) / step)
    H = np.column_stack(columns) if columns else np.zeros((0, 0))
    return g[idx], 0.5 * (H + H.T)


def newton_polish(
    gradient: Callable[[np.ndarray], tuple[float, np.ndarray]],
    theta: np.ndarray,
    lower: np.ndarray,
    steps: int = 3,
    step_size: float = 1e-5,
) -> tuple[np.ndarray, Derivatives | None]:
    """Newton steps from L-BFGS-B's stopping point, with the Hessian from forward
    differences of the analytic gradient (``n_theta`` gradients).

    L-BFGS-B stops when its progress is small, leaving theta about 1e-8 from the optimum;
    a Newton step or two takes it to rounding level, so fits of the same rows summed in
    another order (row chunks, Dask partitions) agree to far more digits. The Hessian is
    differenced at the stopping point and again only after a step longer than the
    differencing step: near the optimum theta moves by about 1e-8, which changes the
    Hessian far less than the differencing error, and each step with it still shrinks
    the distance to the optimum by orders of magnitude. Only interior
    optima are polished, and a step is kept only if it stays in bounds, shrinks the
    gradient and does not raise the objective beyond its rounding; the polish ends
    when the next step would be shorter than :data:`FINAL_STEP`.

    Returns
    -------
    numpy.ndarray
        The polished theta.
    Derivatives or None
        The analytic gradient at the returned theta with the Hessian, for the check of
        the optimum; None for an optimum on the boundary (not polished).
    """
    if np.any((lower == 0.0) & (theta < 1e-4)):
        return theta, None

    def hessian(x: np.ndarray, g: np.ndarray) -> np.ndarray:
        # forward differences (n gradients, not 2n): their error of about step_size times
        # the third derivative still lets each Newton step shrink the distance to the
        # optimum by a factor of about 1e-5
        return gradient_differences(gradient, x, g, step_size)

    value, grad = gradient(theta)
    H = hessian(theta, grad)
    at = theta
    for _ in range(steps):
        try:
            step = np.linalg.solve(H, grad)
        except np.linalg.LinAlgError:
            break
        if np.max(np.abs(step)) < FINAL_STEP:
            break
        trial = theta - step
        if not np.all(np.isfinite(trial)) or np.any(trial < lower):
            break
        trial_value, trial_grad = gradient(trial)
        # near the optimum the objective moves less than its rounding: judge by the gradient
        rounding = 1e-12 * max(abs(value), 1.0)
        if not (
            trial_value <= value + rounding and np.max(np.abs(trial_grad)) < np.max(np.abs(grad))
        ):
            break
        theta, value, grad = trial, trial_value, trial_grad
        if np.max(np.abs(theta - at)) > step_size:
            # far from where it was differenced (L-BFGS-B stopped early): again here
            H, at = hessian(theta, grad), theta
    moved = float(np.max(np.abs(theta - at), initial=0.0))
    return theta, Derivatives(grad, H, moved, step_size, DIFFERENCED_HESSIAN)


@dataclass(frozen=True)
class Derivatives:
    """The analytic gradient at a point and a Hessian from differences of it.

    Attributes
    ----------
    gradient : numpy.ndarray
        At the point itself.
    hessian : numpy.ndarray
        Forward differences of the gradient (symmetrized) at a point ``moved`` away.
    moved : float
        Largest coordinate distance between the two points.
    step : float
        The differencing step.
    source : str
        How the Hessian was found (:data:`DIFFERENCED_HESSIAN`, :data:`STARTED_HESSIAN`
        or :data:`UPDATED_HESSIAN`).
    gradient_at : numpy.ndarray or None
        Where the gradient was computed, when that is not the point itself: one last
        Newton step shorter than :data:`QUASI_NEWTON_LAST_STEP` away, a step that
        :func:`quasi_newton` takes with the criterion alone.
    """

    gradient: np.ndarray
    hessian: np.ndarray
    moved: float
    step: float
    source: str = DIFFERENCED_HESSIAN
    gradient_at: np.ndarray | None = None

    def usable(self) -> bool:
        """Whether the Hessian stands for the one at the point: it was differenced within
        one differencing step of it."""
        return bool(self.moved <= self.step)


#: Newton steps shorter than this end :func:`quasi_newton` (theta is O(1)).
QUASI_NEWTON_STEP = 1e-10
#: A Newton step shorter than this can be the last one, taken with the criterion alone:
#: when the step after it, predicted from the last two (``|s_k|^2 / |s_{k-1}|``, the
#: superlinear rate of BFGS), falls below :data:`QUASI_NEWTON_STEP`, the gradient at the
#: point it reaches (on a large crossed design a selected inverse, 60% of an evaluation)
#: would only confirm it.
QUASI_NEWTON_LAST_STEP = 1e-6
#: Steps :func:`quasi_newton` may take before handing over to the general optimizer.
QUASI_NEWTON_STEPS = 15
#: How often one step of :func:`quasi_newton` may be halved.
QUASI_NEWTON_HALVINGS = 4


def quasi_newton(
    gradient: Callable[[np.ndarray], tuple[float, np.ndarray]],
    theta: np.ndarray,
    lower: np.ndarray,
    hessian: np.ndarray,
    criterion: Callable[[np.ndarray], float] | None = None,
) -> tuple[np.ndarray, Derivatives | None]:
    """Quasi-Newton steps from ``theta``, starting from a known Hessian (BFGS updates).

    A refit (a bootstrap or simulation replicate, a new response on the same design)
    starts at the previous optimum, whose Hessian the previous fit differenced: the
    curvature at the new optimum is much the same, so steps with that Hessian, updated
    by BFGS as they go, reach it in a few gradients where a general optimizer first
    learns the curvature again. A step that would raise the criterion is halved (up to
    ``QUASI_NEWTON_HALVINGS`` times), and one that would leave the bounds is cut to half
    the way to them; the run stops when the next Newton step is shorter than
    ``QUASI_NEWTON_STEP``. With ``criterion`` (the objective alone, cheaper than
    ``gradient``), a step shorter than ``QUASI_NEWTON_LAST_STEP`` inside the bounds, whose
    square is below ``QUASI_NEWTON_STEP`` times the step before it (the next step would end
    the run), is the last: it is taken when the criterion does not rise beyond its
    rounding, and the derivatives returned are those of the point it started from
    (``gradient_at``).

    Returns
    -------
    numpy.ndarray
        The optimum, or the last point reached when the steps stop short of it.
    Derivatives or None
        At the optimum, the gradient and the updated Hessian; None when the start or the
        optimum lies on the boundary, the Hessian stops being positive definite, halving
        finds no descent, or ``QUASI_NEWTON_STEPS`` steps do not converge: the caller's
        general optimizer takes over from the point returned then.
    """
    bounded = lower == 0.0
    if np.any(bounded & (theta < 1e-4)):
        return theta, None
    H = np.array(hessian, dtype=np.float64)
    value, grad = gradient(theta)
    if not np.isfinite(value):
        return theta, None
    previous = 0.0  # the last step's length (none yet: no rate to judge the next by)
    for _ in range(QUASI_NEWTON_STEPS):
        _, solved, info = lapack.dposv(H, grad)  # fails unless H is positive definite
        if info != 0:
            return theta, None
        step = -solved
        size = float(np.max(np.abs(step)))
        if size < QUASI_NEWTON_STEP:
            return theta, Derivatives(grad, H, 0.0, 0.0, UPDATED_HESSIAN)
        slope = float(grad @ step)
        if not slope < 0.0:  # H is no longer positive definite
            return theta, None
        crossing = (theta + step < lower) & np.isfinite(lower)
        last = theta + step
        if (
            criterion is not None
            and size < QUASI_NEWTON_LAST_STEP
            and size * size < QUASI_NEWTON_STEP * previous
            and not crossing.any()
            and not np.any(bounded & (last < 1e-4))
            and criterion(last) <= value + 1e-12 * max(abs(value), 1.0)
        ):
            return last, Derivatives(grad, H, 0.0, 0.0, UPDATED_HESSIAN, gradient_at=theta)
        if crossing.any():
            step = step * (0.5 * float(np.min((lower - theta)[crossing] / step[crossing])))
        for _ in range(QUASI_NEWTON_HALVINGS + 1):
            trial = theta + step
            trial_value, trial_grad = gradient(trial)
            if trial_value <= value + 1e-4 * float(grad @ step) or (
                np.max(np.abs(step)) < 1e-6 and trial_value <= value + 1e-12 * max(abs(value), 1.0)
            ):
                break
            step = 0.5 * step
        else:
            return theta, None
        if np.any(bounded & (trial < 1e-4)):
            return trial, None  # heading for the boundary, where the general optimizer decides
        change = trial_grad - grad
        curvature = float(step @ change)
        if curvature > 0.0:
            Hs = H @ step
            H = H + np.outer(change, change) / curvature - np.outer(Hs, Hs) / float(step @ Hs)
        theta, value, grad = trial, trial_value, trial_grad
        previous = float(np.max(np.abs(step)))
    return theta, None
