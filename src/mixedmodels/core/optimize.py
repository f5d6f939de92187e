"""Minimize the profiled objective over theta, and check the optimum.

With the analytic gradient the optimizer is scipy's L-BFGS-B (on the scale of
:mod:`mixedmodels.core.searchscale`), followed by Newton steps
(:mod:`mixedmodels.core.newton`); without it, or when L-BFGS-B's line search gives up,
scipy's COBYQA (Ragonneau & Zhang), a derivative-free trust-region method with quadratic
models and bounds, of the family of the BOBYQA that lme4 uses.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import scipy.optimize

from mixedmodels.core.boundary import BoundaryCheck, check_boundary
from mixedmodels.core.newton import (
    FREE_HESSIAN,
    INFORMATION_HESSIAN,
    STARTED_HESSIAN,
    UPDATED_HESSIAN,
    Derivatives,
    derivatives,
    free_derivatives,
    gradient_differences,
    newton_polish,
    quasi_newton,
)
from mixedmodels.core.optinfo import OptimizerSettings, OptInfo
from mixedmodels.core.progress import FitInterrupted, FitProgress
from mixedmodels.core.searchscale import DiagonalScale

__all__ = ["minimize_theta"]


#: How an optimum is checked without the analytic gradient (:attr:`OptInfo.check`).
DIFFERENCE_CHECK = "central differences of the criterion"


def curvature_scale(
    f: Callable[[np.ndarray], float], x: np.ndarray, step: float = 1e-3
) -> np.ndarray | None:
    """``1 / sqrt(d^2 f / dx_i^2)`` at ``x`` by central differences (2 n evaluations),
    clipped to a factor of 1e3 either way of 1; None if no curvature is positive."""
    f0 = f(x)
    out = np.ones_like(x)
    positive = False
    for i in range(x.size):
        h = step * max(abs(float(x[i])), 1.0)
        e = np.zeros_like(x)
        e[i] = h
        d2 = (f(x + e) - 2.0 * f0 + f(x - e)) / (h * h)
        if np.isfinite(d2) and d2 > 0:
            out[i] = 1.0 / np.sqrt(d2)
            positive = True
    if not positive:
        return None
    # relative to the median, so the overall size of the trust region keeps its meaning
    out = out / np.median(out)
    clipped: np.ndarray = np.clip(out, 1e-3, 1e3)
    return clipped


#: How often a fit may move on from a boundary point that fails the optimality conditions.
MAX_RESTARTS = 6
#: Differencing step of the analytic gradient for the Hessian at an estimated start.
START_STEP = 1e-5


def minimize_theta(
    f: Callable[[np.ndarray], float],
    start: np.ndarray,
    lower: np.ndarray,
    settings: OptimizerSettings,
    check: bool,
    initial_radius: float = 0.2,
    gradient: Callable[[np.ndarray], tuple[float, np.ndarray]] | None = None,
    terms: list[np.ndarray] | None = None,
    hessian: np.ndarray | None = None,
    reported_shift: float = 0.0,
    difference_start: bool = False,
    information: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, OptInfo]:
    """Minimize ``f`` over theta within its bounds; return theta and an :class:`OptInfo`.

    ``check`` asks for the finite-difference check of the optimum; ``initial_radius`` is
    COBYQA's first trust-region radius (smaller when the start is already close). With
    ``gradient`` (a function returning the objective and its gradient) the optimizer is
    L-BFGS-B instead, which then needs a fraction of the evaluations. With ``terms`` (the
    theta indices of each random-effects term, see :func:`check_boundary`) an optimum on
    the boundary is checked against the optimality conditions on each term's covariance
    matrix, and the optimizer restarts from a lower point while they fail. With
    ``hessian`` (an earlier optimum's, as for a refit) and ``gradient``, Newton steps
    with it come first (:func:`quasi_newton` on the sinh scale, :func:`_newton_on_scale`);
    the general optimizer runs only if they do not reach an interior optimum. ``reported_shift`` is
    added to ``f`` in the progress reports of a slow fit, so that they show the criterion
    the fit will report (``f`` may be it on centred and scaled matrices). With
    ``difference_start`` (and ``gradient``) the start is an estimate close to the
    optimum: Newton steps come first, with ``hessian`` or, without one, with
    ``information(theta)`` there (an approximate Hessian from the factorization the
    start's gradient made, such as the average information) or else the Hessian
    differenced there (``n_theta`` gradients).
    """
    progress = FitProgress(enabled=settings.progress, shift=reported_shift)
    try:
        return _minimize_theta(
            f,
            start,
            lower,
            settings,
            check,
            initial_radius,
            gradient,
            terms,
            hessian,
            progress,
            difference_start,
            information,
        )
    except FitInterrupted:
        raise
    except KeyboardInterrupt:
        raise progress.interrupted() from None


def _minimize_theta(
    f: Callable[[np.ndarray], float],
    start: np.ndarray,
    lower: np.ndarray,
    settings: OptimizerSettings,
    check: bool,
    initial_radius: float,
    gradient: Callable[[np.ndarray], tuple[float, np.ndarray]] | None,
    terms: list[np.ndarray] | None,
    hessian: np.ndarray | None,
    progress: FitProgress,
    difference_start: bool = False,
    information: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, OptInfo]:
    count = 0
    t0 = time.perf_counter()
    # the searches, the boundary check, the polish and the final evaluation meet at the
    # same points (L-BFGS-B's stopping point, the polish's last step): each is computed once
    recent = _Recent()

    def counted(theta: np.ndarray) -> float:
        nonlocal count
        known = recent.value(theta)
        if known is not None:
            return known if np.isfinite(known) else 1e300
        count += 1
        value = f(theta)
        value = value if np.isfinite(value) else 1e300
        recent.store(theta, value, None)
        progress.tick(value)
        return value

    extra = 0  # evaluations of the gradient (each with the criterion)
    if gradient is not None:
        full_gradient = gradient

        def graded(theta: np.ndarray) -> tuple[float, np.ndarray]:
            nonlocal extra
            known = recent.gradient(theta)
            if known is not None:
                return known
            extra += 1
            value, grad = full_gradient(theta)
            recent.store(theta, value, grad)
            progress.tick(value)
            return value, grad

        def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
            value, grad = graded(theta)
            if not np.isfinite(value):
                return 1e300, np.zeros_like(theta)
            return value, grad

        def run(x0: np.ndarray, radius: float) -> tuple[np.ndarray, bool, str, str]:
            return _run_lbfgsb(counted, fun, x0, lower, settings)

        evaluations: Callable[[], int] = lambda: count + extra  # noqa: E731
    else:
        # COBYQA's trust region is round: rescale each coordinate by the curvature at the
        # start so that one unit moves the objective about as much in every direction
        scale = curvature_scale(counted, start) if settings.scale_by_curvature else None
        if scale is None:
            scale = np.ones_like(start)

        def run(x0: np.ndarray, radius: float) -> tuple[np.ndarray, bool, str, str]:
            return _run_cobyqa(counted, x0, lower, settings, radius, scale)

        evaluations = lambda: count  # noqa: E731

    reached: Derivatives | None = None
    origin = "the previous optimum"
    if gradient is not None and (hessian is not None or difference_start):
        # from an estimate (with the Hessian differenced there, or a previous fit's) or
        # from the previous optimum with its Hessian; the general optimizer goes on from
        # where the steps stop
        start, reached = _newton_on_scale(fun, counted, start, lower, hessian, information)
        if difference_start:
            origin = "a moment estimate"
            if hessian is not None:
                origin += " with the previous fit's Hessian"
            elif reached is not None and reached.source == INFORMATION_HESSIAN:
                origin += " with its average information"
        origin += " (on the sinh scale)"
    boundary = None
    if reached is not None:
        theta, derivs, success = start, reached, True
        name = f"Newton steps with the analytic gradient from {origin}"
        message = "the Newton step is below its tolerance"
    else:
        theta, success, message, name = run(start, initial_radius)
        if terms is not None:

            def near(x0: np.ndarray, radius: float) -> np.ndarray:
                return _run_cobyqa(counted, x0, lower, settings, radius, np.ones_like(x0))[0]

            theta, boundary = _move_off_false_boundary(counted, theta, terms, run, near)
        derivs = None
        if gradient is not None:
            theta, derivs = newton_polish(graded, theta, lower)
    return _finish(
        counted,
        theta,
        lower,
        check,
        settings,
        name,
        success,
        message,
        t0,
        evaluations,
        boundary,
        derivs,
        graded if gradient is not None else None,
    )


#: Added to :attr:`OptInfo.check` when the last Newton step went without its gradient:
#: the scaled gradient is then that step's length, read where it began.
LAST_STEP_NOTE = "; the gradient one Newton step before the optimum (the last step's length)"


def _definite(H: np.ndarray) -> bool:
    """Whether ``H`` is finite and positive definite."""
    return bool(np.all(np.isfinite(H)) and np.all(np.linalg.eigvalsh(H) > 0))


def _newton_on_scale(
    fun: Callable[[np.ndarray], tuple[float, np.ndarray]],
    criterion: Callable[[np.ndarray], float],
    start: np.ndarray,
    lower: np.ndarray,
    hessian: np.ndarray | None,
    information: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, Derivatives | None]:
    """Quasi-Newton steps from a point near the optimum, on L-BFGS-B's sinh scale.

    The steps run over the search variable ``u`` of :class:`DiagonalScale`, where the
    criterion of a factor with few levels is much closer to quadratic than over theta
    (InstEval's 14 departments, from the one-way start: 12 evaluations instead of 15).
    Their first Hessian is ``hessian`` (over theta, a previous optimum's) carried to u,
    ``f_uu = theta'(u)^2 F_tt + F_t theta''(u)``, or else ``information`` at the start
    (an approximate Hessian over theta, carried the same way) when it is positive
    definite, or else the Hessian differenced at the start (``n_theta`` gradients).
    Returns the point reached and, at an optimum, the gradient and the Hessian over
    theta (the same relation the other way)."""
    scale = DiagonalScale(lower)
    on_scale = scale.over_search(fun)
    u0 = scale.search(start)
    # the information before the gradient at the same point: it solves with the
    # factorization, whose storage the gradient's inverse may take (a sparse tail)
    given, source = hessian, UPDATED_HESSIAN
    if given is None and information is not None:
        try:
            given, source = information(scale.theta(u0)), INFORMATION_HESSIAN  # at u0
        except (np.linalg.LinAlgError, ValueError, FloatingPointError):
            given = None
    value, grad = on_scale(u0)
    if not np.isfinite(value) or value >= 1e300:
        return start, None

    first = None if given is None else scale.search_hessian(u0, given, grad / scale.slope(u0))
    if hessian is None and (first is None or not _definite(first)):
        first, source = gradient_differences(on_scale, u0, grad, START_STEP), STARTED_HESSIAN
    if first is None or not _definite(first):
        return start, None
    u, reached = quasi_newton(  # u's bounds are theta's
        on_scale, u0, lower, first, criterion=lambda v: criterion(scale.theta(v))
    )
    theta = scale.theta(u)
    if reached is None:
        return theta, None
    if reached.gradient_at is None:
        _, grad_theta = fun(theta)  # known: the last point the steps evaluated
        over_theta = scale.theta_hessian(u, reached.hessian, grad_theta)
        return theta, Derivatives(grad_theta, over_theta, 0.0, 0.0, source)
    # the last step went without its gradient: the derivatives are those where it began
    at = reached.gradient_at
    grad_theta = reached.gradient / scale.slope(at)
    over_theta = scale.theta_hessian(at, reached.hessian, grad_theta)
    return theta, Derivatives(grad_theta, over_theta, 0.0, 0.0, source, gradient_at=scale.theta(at))


class _Recent:
    """The criterion (and gradient, where computed) at the last few thetas."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._points: dict[bytes, tuple[float, np.ndarray | None]] = {}

    def store(self, theta: np.ndarray, value: float, grad: np.ndarray | None) -> None:
        """Remember ``f(theta)`` (and its gradient)."""
        key = np.asarray(theta, dtype=np.float64).tobytes()
        self._points.pop(key, None)
        self._points[key] = (value, None if grad is None else np.array(grad, dtype=np.float64))
        while len(self._points) > self.size:
            del self._points[next(iter(self._points))]

    def value(self, theta: np.ndarray) -> float | None:
        """``f(theta)`` if known."""
        hit = self._points.get(np.asarray(theta, dtype=np.float64).tobytes())
        return None if hit is None else hit[0]

    def gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray] | None:
        """``f(theta)`` and its gradient if both are known."""
        hit = self._points.get(np.asarray(theta, dtype=np.float64).tobytes())
        if hit is None or hit[1] is None:
            return None
        return hit[0], hit[1].copy()


def _move_off_false_boundary(
    counted: Callable[[np.ndarray], float],
    theta: np.ndarray,
    terms: list[np.ndarray],
    run: Callable[[np.ndarray, float], tuple[np.ndarray, bool, str, str]],
    near: Callable[[np.ndarray, float], np.ndarray],
) -> tuple[np.ndarray, BoundaryCheck | None]:
    """Restart from a lower point while a boundary optimum fails the conditions.

    ``run`` is the fit's optimizer; ``near`` a derivative-free search that starts with a
    small trust region. When the optimum lies just inside the boundary, a gradient
    method started next to it can step back onto the bound (where the criterion, even in
    the diagonal element, is stationary again); the search from the lower point itself
    then finds it.
    """
    restarts = 0
    result: BoundaryCheck | None = None
    for _ in range(MAX_RESTARTS + 1):
        value = counted(theta)
        result, proposals = check_boundary(counted, theta, terms, value)
        if result is None or not proposals or restarts == MAX_RESTARTS:
            break
        moved = False
        for proposal in proposals[:2]:
            candidates = [run(proposal, 0.1)[0], proposal]
            if counted(candidates[0]) >= counted(proposal):
                step = float(np.max(np.abs(proposal - theta)))
                candidates.insert(0, near(proposal, max(0.25 * step, 1e-3)))
            best = min(candidates, key=counted)
            if counted(best) < value - 1e-12 * max(1.0, abs(value)):
                theta, moved = best, True
                break
        if not moved:
            break
        restarts += 1
    if result is not None:
        result = replace(result, restarts=restarts)
    elif restarts:
        result = BoundaryCheck((), 0.0, 0.0, restarts)
    return theta, result


def _run_cobyqa(
    counted: Callable[[np.ndarray], float],
    start: np.ndarray,
    lower: np.ndarray,
    settings: OptimizerSettings,
    radius: float,
    scale: np.ndarray,
) -> tuple[np.ndarray, bool, str, str]:
    def in_scaled(z: np.ndarray) -> float:
        return counted(start + scale * z)

    lower_z = np.where(np.isfinite(lower), (lower - start) / scale, -np.inf)
    bounds = scipy.optimize.Bounds(lower_z, np.full_like(lower_z, np.inf))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = scipy.optimize.minimize(
            in_scaled,
            np.zeros_like(start),
            method="COBYQA",
            bounds=bounds,
            options={
                "final_tr_radius": settings.final_radius,
                "maxfev": settings.max_evaluations,
                "initial_tr_radius": radius,
            },
        )
    theta = np.maximum(start + scale * np.asarray(result.x, dtype=np.float64), lower)
    return theta, bool(result.success), str(result.message), "COBYQA (scipy.optimize)"


def _run_lbfgsb(
    counted: Callable[[np.ndarray], float],
    fun: Callable[[np.ndarray], tuple[float, np.ndarray]],
    start: np.ndarray,
    lower: np.ndarray,
    settings: OptimizerSettings,
) -> tuple[np.ndarray, bool, str, str]:
    bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]
    name = "L-BFGS-B with the analytic gradient (scipy.optimize)"
    x0 = start
    scale = DiagonalScale(lower)
    on_scale = scale.over_search(fun)
    for _ in range(STALL_RESTARTS + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = scipy.optimize.minimize(
                on_scale,
                scale.search(x0),
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                # a relative change of 1e-14 is the criterion's own rounding: asking for
                # less made the line search chase rounding noise (dozens of wasted
                # evaluations) and give up; the Newton polish takes interior optima the
                # rest of the way
                options={
                    "ftol": 1e-14,
                    "gtol": 1e-9,
                    "maxfun": settings.max_evaluations,
                    "maxiter": settings.max_evaluations,
                },
            )
        theta = np.maximum(scale.theta(np.asarray(result.x, dtype=np.float64)), lower)
        if not result.success:
            # a line search that gives up where the gradient has vanished (as from a
            # start at the optimum, the inner fits of a structured model: 35 evaluations
            # chasing rounding) is at the optimum; the Newton polish finishes it
            if not _stalled(theta, float(result.fun), fun(theta)[1], lower, SETTLED_GRADIENT):
                message = f"{result.message} (at a stationary point)"
                return scale.at_bound(theta, counted), True, message, name
            break
        # the gradient over theta at theta (known: the search's last point)
        if not _stalled(theta, float(result.fun), fun(theta)[1], lower):
            return scale.at_bound(theta, counted), True, str(result.message), name
        # stopped on a small change of the criterion far from a stationary point: its
        # memory of curvature was spoilt (a visit to a bound where the derivative of a
        # diagonal vanishes); a fresh search from there
        x0 = theta
    # the line search can give up short of the optimum: COBYQA, which looks around
    # without derivatives, takes over from there
    theta, success, message, _ = _run_cobyqa(
        counted, theta, lower, settings, 0.1, np.ones_like(theta)
    )
    return theta, success, message, name + ", then COBYQA"


#: L-BFGS-B runs again from where it stopped, at most this many times, while it stops
#: with a projected gradient above STALL_GRADIENT times max(1, |criterion|).
STALL_RESTARTS = 2
STALL_GRADIENT = 1e-4


#: An L-BFGS-B run whose line search failed counts as converged where the projected
#: gradient is below this times max(1, |criterion|); the Newton polish that follows takes
#: it the rest of the way (BodyWeight's inner fits stopped at 1.4e-7 and 1.9e-7).
SETTLED_GRADIENT = 1e-6


def _stalled(
    theta: np.ndarray,
    value: float,
    grad: np.ndarray,
    lower: np.ndarray,
    tolerance: float = STALL_GRADIENT,
) -> bool:
    """Whether L-BFGS-B stopped with a projected gradient above ``tolerance`` times
    ``max(1, |value|)`` (a coordinate at its bound counts only if the gradient points
    into the region)."""
    projected = np.where((theta <= lower) & (grad > 0), 0.0, grad)
    size = float(np.max(np.abs(projected), initial=0.0))
    return bool(np.isfinite(value) and size > tolerance * max(1.0, abs(value)))


def _finish(
    counted: Callable[[np.ndarray], float],
    theta: np.ndarray,
    lower: np.ndarray,
    check: bool,
    settings: OptimizerSettings,
    optimizer: str,
    success: bool,
    message: str,
    t0: float,
    count: Callable[[], int],
    boundary: BoundaryCheck | None = None,
    derivs: Derivatives | None = None,
    graded: Callable[[np.ndarray], tuple[float, np.ndarray]] | None = None,
) -> tuple[np.ndarray, OptInfo]:
    """Evaluate the optimum, check it if asked and describe the run.

    With ``derivs`` (the analytic gradient at ``theta`` and a Hessian from its differences,
    usable when every coordinate is free) the check reads them; otherwise it takes central
    differences of the criterion, or (``graded``: the analytic gradient) forward
    differences of the gradient over the free coordinates."""
    value = counted(theta)
    notes: list[str] = []
    scaled: float | None = None
    free = ~((lower == 0.0) & (theta < 1e-4))
    n_free = int(free.sum())
    method = None
    if check and n_free:
        if derivs is not None and derivs.usable() and bool(free.all()):
            g, H = derivs.gradient, derivs.hessian
            method = derivs.source
            if derivs.gradient_at is not None:
                method += LAST_STEP_NOTE
        elif graded is not None:
            g, H = free_derivatives(graded, theta, free)
            method = FREE_HESSIAN
        else:
            g, H = derivatives(counted, theta, free, value)
            method = DIFFERENCE_CHECK
        try:
            step = np.linalg.solve(H, g)
            scaled = float(np.max(np.abs(step)))
            if np.any(np.linalg.eigvalsh(H) <= 0):
                notes.append(
                    "the Hessian of the objective is not positive definite at the optimum: "
                    "the model may be overparameterized"
                )
        except np.linalg.LinAlgError:
            notes.append("the Hessian of the objective is singular at the optimum")
        if scaled is not None and scaled > settings.gradient_tolerance:
            notes.append(
                f"the scaled gradient at the optimum is {scaled:.2g}, above "
                f"{settings.gradient_tolerance}: the optimizer may have stopped early"
            )
    if boundary is not None and boundary.terms and not boundary.passed(abs(value)):
        notes.append(
            f"at the boundary the optimality conditions fail (gradient {boundary.gradient:.2g}, "
            f"curvature {boundary.curvature:.2g}): the optimizer may have stopped early"
        )
    converged = success and not any("stopped early" in n for n in notes)
    if not success:
        notes.append(f"the optimizer stopped: {message}")
    info = OptInfo(
        optimizer=optimizer,
        n_evaluations=count(),
        converged=converged,
        message=message,
        objective=value,
        scaled_gradient=scaled,
        warnings=tuple(notes),
        seconds=time.perf_counter() - t0,
        boundary=boundary,
        check=method,
        hessian=derivs.hessian if derivs is not None and derivs.usable() else None,
    )
    return theta, info
