"""Is a boundary optimum an optimum? The first- and second-order conditions on the
covariance matrix, and the way out when they fail.

The criterion depends on a term's factor ``T`` only through ``Sigma = T T'``, and its
feasible set is the cone of positive semi-definite matrices. With ``G`` the gradient of the
criterion in ``Sigma``, a point is optimal only if (Karush-Kuhn-Tucker)

1. ``G Sigma = 0``, which is ``G T = 0``: the derivative of ``f(T T')`` in **every** entry of
   a full (not triangular) ``T`` vanishes; and
2. ``v' G v >= 0`` for every ``v`` with ``T' v = 0``: adding variance along a direction the
   fit has none of does not lower the criterion.

The lower-triangular parametrization hides both: at ``theta = [0, t, 0]`` of a random slope
the derivative along the other sign of ``t`` is invisible (the point equals ``[0, -t, 0]``),
so a gradient method stops there, and a zero diagonal element is a stationary point whether
or not it is a minimum (the criterion is even in it). Both conditions are checked here by
differences of the criterion alone, so they hold for every model, and a failed check gives
the point to restart from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mixedmodels.design.conditioning import lower_factor

__all__ = ["BoundaryCheck", "check_boundary", "BOUNDARY_TOLERANCE"]

#: A diagonal element of a term's factor below this counts as on the boundary.
BOUNDARY_TOLERANCE = 1e-4
#: Sizes of the trial steps away from a point that fails the conditions (in units of
#: theta along the gradient, of variance relative to sigma^2 along a zero-variance
#: direction).
STEP_SIZES: tuple[float, ...] = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 0.3, 1.0)


@dataclass(frozen=True)
class BoundaryCheck:
    """The optimality conditions at a point on the boundary of the covariance cone.

    Attributes
    ----------
    terms : tuple of int
        The random-effects terms (in theta order) whose factor is rank-deficient.
    gradient : float
        ``max |d f(T T') / d T_rc|`` over every entry of those factors (condition 1: 0).
    curvature : float
        The least one-sided derivative ``v'Gv`` along a direction of zero variance
        (condition 2: non-negative).
    restarts : int
        How often the fit moved on from a point that failed the conditions.
    """

    terms: tuple[int, ...]
    gradient: float
    curvature: float
    restarts: int = 0

    def passed(self, scale: float) -> bool:
        """Whether both conditions hold to within ``1e-3`` of the criterion's scale."""
        tol = 1e-3 * max(1.0, scale) ** 0.5
        return bool(self.gradient <= tol and self.curvature >= -tol)


def _vech(T: np.ndarray) -> np.ndarray:
    """Column-major lower triangle (theta order)."""
    k = T.shape[0]
    return np.concatenate([T[c:, c] for c in range(k)])


def _unvech(values: np.ndarray, k: int) -> np.ndarray:
    T = np.zeros((k, k))
    i = 0
    for c in range(k):
        T[c:, c] = values[i : i + k - c]
        i += k - c
    return T


def _size(n_values: int) -> int:
    return int(round((np.sqrt(8 * n_values + 1) - 1) / 2))


def check_boundary(
    f: Callable[[np.ndarray], float],
    theta: np.ndarray,
    terms: list[np.ndarray],
    value: float,
) -> tuple[BoundaryCheck | None, list[np.ndarray]]:
    """Check the conditions at ``theta`` and propose points to restart from.

    Parameters
    ----------
    f : callable
        The criterion of theta.
    theta : numpy.ndarray
    terms : list of numpy.ndarray
        For every term, the indices of its theta elements in column-major lower-triangle
        order.
    value : float
        ``f(theta)``.

    Returns
    -------
    BoundaryCheck or None
        None when no term is on the boundary.
    list of numpy.ndarray
        Points with a lower criterion than ``theta``, best first (empty when the
        conditions hold).
    """
    # a proposal must be lower by more than the criterion's rounding (as a restart must
    # be to be kept): points lower by rounding alone only cost restarts
    lower_than = value - 1e-12 * max(1.0, abs(value))
    on_boundary = []
    worst_gradient = 0.0
    worst_curvature = np.inf
    proposals: list[tuple[float, np.ndarray]] = []
    for t, idx in enumerate(terms):
        k = _size(idx.size)
        T = _unvech(theta[idx], k)
        if np.all(np.diag(T) > BOUNDARY_TOLERANCE):
            continue
        on_boundary.append(t)

        def at(factor: np.ndarray, idx: np.ndarray = idx) -> tuple[float, np.ndarray]:
            trial = theta.copy()
            trial[idx] = _vech(lower_factor(factor))
            out = f(trial)
            return (out if np.isfinite(out) else np.inf), trial

        # condition 1: the derivative in every entry of a full k x k factor
        h = 1e-4
        G = np.zeros((k, k))
        for r in range(k):
            for c in range(k):
                E = np.zeros((k, k))
                E[r, c] = h
                G[r, c] = (at(T + E)[0] - at(T - E)[0]) / (2 * h)
        grad = float(np.max(np.abs(G)))
        worst_gradient = max(worst_gradient, grad)
        if grad > 0:
            for size in STEP_SIZES:
                trial_value, trial = at(T - (size / grad) * G)
                if trial_value < lower_than:
                    proposals.append((trial_value, trial))
        # condition 2: one-sided derivatives along the directions of zero variance
        U, s, _ = np.linalg.svd(T)
        null = U[:, s <= BOUNDARY_TOLERANCE * max(1.0, float(s.max(initial=0.0)))]

        def along(v: np.ndarray, size: float, T: np.ndarray = T) -> tuple[float, np.ndarray]:
            return at(np.column_stack([T, np.sqrt(size) * v]))

        def quotients(v: np.ndarray) -> tuple[float, float]:
            # (f(Sigma + s vv') - f(Sigma)) / s at s = 1e-4 and 2e-4
            return (
                (along(v, 1e-4)[0] - value) / 1e-4,
                (along(v, 2e-4)[0] - value) / 2e-4,
            )

        def slope(v: np.ndarray) -> float:
            d1, d2 = quotients(v)
            return 2.0 * d1 - d2  # extrapolated to s -> 0

        d = null.shape[1]
        if d == 0:
            continue
        H = np.zeros((d, d))
        for i in range(d):
            H[i, i] = slope(null[:, i])
        for i in range(d):
            for j in range(i):
                both = slope((null[:, i] + null[:, j]) / np.sqrt(2.0))
                H[i, j] = H[j, i] = both - 0.5 * (H[i, i] + H[j, j])
        eigenvalues, vectors = np.linalg.eigh(H)
        worst_curvature = min(worst_curvature, float(eigenvalues[0]))
        if eigenvalues[0] < 0:
            v = null @ vectors[:, 0]
            # f(Sigma + s vv') ~ f + d s + q s^2: the quadratic's minimum, and a range of
            # sizes around it (an optimum just inside the boundary is close to it)
            d1, d2 = quotients(v)
            quadratic = (d2 - d1) / 1e-4
            sizes: list[float] = list(STEP_SIZES)
            if quadratic > 0:
                sizes.append(-float(eigenvalues[0]) / (2.0 * quadratic))
            for size in sizes:
                trial_value, trial = along(v, size)
                if trial_value < lower_than:
                    proposals.append((trial_value, trial))
    if not on_boundary:
        return None, []
    proposals.sort(key=lambda item: item[0])
    check = BoundaryCheck(
        tuple(on_boundary),
        worst_gradient,
        float(worst_curvature) if np.isfinite(worst_curvature) else 0.0,
    )
    return check, [p for _, p in proposals]
