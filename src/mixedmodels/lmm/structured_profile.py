"""Profile-likelihood intervals of a structured LMM: of the residual structures' parameters
(Phi, the SD ratios, a power, ...) and of the fixed effects.

A fixed effect is held at a value (its column out of X, its share off the response) and
the model refitted by ML, structures and theta included; its interval's ends are where
-2 log L rises by the chi-squared quantile, as lme4 profiles the ML deviance.

Each parameter ``psi_j`` is moved along its own unconstrained coordinate ``u_j``; at every
value the criterion (-2 log L, or the REML criterion of a REML fit) is minimized over the
structures' other parameters and theta, and the interval's ends are where it rises by the
``level`` quantile of chi-squared with one df. A coordinate maps to its natural
parameter alone for every structure but ``corSymm``, whose correlations share a Cholesky
factor, so the ends map back one to one; ``corSymm`` is refused (use the bootstrap). Where
the criterion does not rise that far before the parameter's bound (Phi near 1, say) the
end is the bound, as the profile never crosses there.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import optimize, stats

from mixedmodels.errors import ModelSpecError
from mixedmodels.lmm.structured_design import StructuredDesign

__all__ = ["fixed_profile_intervals", "structure_profile_intervals"]

#: Steps along a coordinate before an interval's end is taken to be the bound.
MAX_DOUBLINGS = 7
#: First step along a coordinate (the unconstrained scales are of order one).
FIRST_STEP = 0.25


def _coordinatewise(design: StructuredDesign, params: np.ndarray) -> bool:
    """Whether each unconstrained coordinate moves its own natural parameter only."""
    base = design.natural_vector(params)
    for j in range(params.size):
        moved = params.copy()
        moved[j] += 0.1
        change = np.abs(design.natural_vector(moved) - base) > 1e-12
        change[j] = False
        if change.any():
            return False
    return True


def _profile(
    design: StructuredDesign, params: np.ndarray, theta: np.ndarray, j: int
) -> Callable[[float], float]:
    """The criterion with ``u_j`` held at a value, minimized over the others."""
    others = [i for i in range(params.size) if i != j]

    def at(value: float) -> float:
        point = params.copy()
        point[j] = value
        if not others:
            return design.evaluate(point, theta)[0]

        def inner(rest: np.ndarray) -> float:
            trial = point.copy()
            trial[others] = rest
            return design.evaluate(trial, theta)[0]

        found = optimize.minimize(
            inner, params[others], method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-8}
        )
        return float(found.fun)

    return at


def structure_profile_intervals(
    design: StructuredDesign,
    params: np.ndarray,
    theta: np.ndarray,
    objective: float,
    names: list[str],
    level: float,
) -> pd.DataFrame:
    """``lower, upper`` of each structure parameter (natural scale), by name."""
    if not _coordinatewise(design, params):
        raise ModelSpecError(
            "profile intervals are not available for corSymm's correlations (they share "
            "one Cholesky factor); use confint(method='boot')"
        )
    cutoff = objective + float(stats.chi2.ppf(level, 1))
    rows = []
    for j, name in enumerate(names):
        profile = _profile(design, params, theta, j)
        ends = []
        for side in (-1.0, 1.0):
            inside, step, end = float(params[j]), FIRST_STEP, None
            for _ in range(MAX_DOUBLINGS):
                outside = float(params[j]) + side * step
                if profile(outside) >= cutoff:
                    end = optimize.brentq(
                        lambda v, f=profile: f(v) - cutoff, inside, outside, xtol=1e-8
                    )
                    break
                inside, step = outside, 2.0 * step
            point = params.copy()
            if end is None:
                point[j] = side * np.inf
                with np.errstate(over="ignore", invalid="ignore"):
                    value = float(design.natural_vector(point)[j])
            else:
                point[j] = end
                value = float(design.natural_vector(point)[j])
            ends.append(value)
        rows.append((name, min(ends), max(ends)))
    return pd.DataFrame(rows, columns=["name", "lower", "upper"]).set_index("name")


def fixed_profile_intervals(
    design: StructuredDesign,
    params: np.ndarray,
    theta: np.ndarray,
    beta: np.ndarray,
    std_errors: np.ndarray,
    names: list[str],
    level: float,
) -> pd.DataFrame:
    """``lower, upper`` of each fixed effect, from the ML profile (``design`` is ML,
    ``params``, ``theta`` and ``beta`` its estimates)."""
    full = design.estimate(start=params, theta_start=theta)
    cutoff = float(full.record.objective) + full.logdet + float(stats.chi2.ppf(level, 1))
    rows = []
    for j, name in enumerate(names):

        def deviance(value: float, j: int = j) -> float:
            held = design.with_fixed(j, value).estimate(start=full.params, theta_start=theta)
            return float(held.record.objective) + held.logdet - cutoff

        ends = []
        for side in (-1.0, 1.0):
            inside = float(beta[j])
            for k in range(MAX_DOUBLINGS):
                outside = float(beta[j]) + side * 2.0 * std_errors[j] * 2.0**k
                if deviance(outside) >= 0:
                    ends.append(
                        optimize.brentq(deviance, inside, outside, xtol=1e-8 * std_errors[j])
                    )
                    break
                inside = outside
            else:
                ends.append(side * np.inf)
        rows.append((name, min(ends), max(ends)))
    return pd.DataFrame(rows, columns=["name", "lower", "upper"]).set_index("name")
