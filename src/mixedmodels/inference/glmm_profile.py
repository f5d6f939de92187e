"""Profile-likelihood intervals of a GLMM (lme4's ``confint(method = "profile")`` for
``glmer``).

The deviance is the fit's own (Laplace or adaptive quadrature) as a function of the
random effects' standard deviations and correlations and of the fixed effects. For each
parameter, ``zeta(v) = sign(v - v_hat) sqrt(D(v) - D_hat)`` where ``D(v)`` is the deviance
minimized over all the other parameters with that one held at ``v``; the interval is
where ``|zeta|`` reaches the normal quantile. A standard deviation whose zeta does not
reach it before zero has the lower bound 0, a correlation not reaching it before +-1 the
bound +-1.

The other parameters are found by L-BFGS-B, the fixed effects in units of their standard
errors, each profile point started from the previous one, with the analytic gradient of
the Laplace deviance where it applies (one scalar term on a canonical link,
:mod:`mixedmodels.glmm.gradient`) and central differences of the deviance otherwise
(PIRLS converges far inside the steps).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy
import scipy.optimize

from mixedmodels.errors import ModelSpecError
from mixedmodels.glmm.gradient import has_laplace_gradient, laplace_gradient
from mixedmodels.glmm.pirls import GlmmProblem, PirlsError, PirlsState, gauss_hermite
from mixedmodels.inference.profile import lme4_order

if TYPE_CHECKING:
    from mixedmodels.glmm.result import GlmmResult

__all__ = ["glmm_profile_intervals", "glmm_profile_traces"]

#: Points of a trace between the bounds of its interval.
TRACE_POINTS = 13

#: Central-difference step of the gradient, in the optimizer's units.
GRADIENT_STEP = 1e-5
#: A correlation's bound short of +-1 (the covariance is singular at +-1).
CORRELATION_LIMIT = 1.0 - 1e-9


class _GlmmProfile:
    """The deviance of a GLMM over (sd, cor, beta), and its profile over all but one."""

    def __init__(self, fit: GlmmResult) -> None:
        model = fit._require_model("profile intervals")
        if model.zi_X is not None or model.disp_X is not None or model.family.has_dispersion:
            raise ModelSpecError(
                "profile intervals are computed for GLMMs without a dispersion or "
                "zero-inflation parameter (binomial, Poisson); use method='wald' or 'boot'"
            )
        if model.nagq == 0:
            raise ModelSpecError(
                "a nagq = 0 fit does not maximize the likelihood over beta; profile "
                "intervals need a fit with nagq >= 1"
            )
        self.problem = GlmmProblem(model.frame, model.layout, model.family)
        self.nagq = model.nagq
        # one scalar term on a canonical link: sd is theta, and the gradient is analytic
        self.analytic = model.nagq == 1 and has_laplace_gradient(self.problem)
        self.nodes, self.weights = gauss_hermite(max(model.nagq, 1))
        self.slots = model.layout.term_slots()
        self.sizes = [t.n_columns for t in model.frame.terms]
        self.n_theta = int(np.asarray(fit.theta).size)
        self.beta_hat = np.array(fit.beta)
        self.se = np.array(fit.std_errors.to_numpy())
        self.names, self.kinds, varpar = self._variance_parameters(fit)
        self.n_var = len(varpar)
        self.hat = np.concatenate([varpar, self.beta_hat])
        self._u: np.ndarray | None = None
        self.d_hat = self.deviance(self.hat)
        self.names += list(fit.fixed_names)
        self.kinds += ["beta"] * self.beta_hat.size

    def _variance_parameters(self, fit: GlmmResult) -> tuple[list[str], list[str], np.ndarray]:
        """lme4's names, kinds (sd, cor) and values of each term's SDs and correlations,
        term by term: its SDs, then the correlations of column pairs ``a < b``."""
        theta = np.asarray(fit.theta, dtype=np.float64)
        names: list[str] = []
        kinds: list[str] = []
        values: list[float] = []
        model = fit._require_model("profile intervals")
        for term, slots, k in zip(model.frame.terms, self.slots, self.sizes, strict=True):
            L = np.zeros((k, k))
            rows, cols = _column_major_lower(k)
            L[rows, cols] = theta[slots]
            sigma = L @ L.T
            sd = np.sqrt(np.diag(sigma))
            columns, group = term.column_names, term.vc_name
            for a in range(k):
                names.append(f"sd_{columns[a]}|{group}")
                kinds.append("sd")
                values.append(float(sd[a]))
            for a in range(k):
                for b in range(a + 1, k):
                    names.append(f"cor_{columns[b]}.{columns[a]}|{group}")
                    kinds.append("cor")
                    denominator = sd[a] * sd[b]
                    values.append(float(sigma[a, b] / denominator) if denominator > 0 else 0.0)
        return names, kinds, np.array(values)

    def theta_of(self, varpar: np.ndarray) -> np.ndarray | None:
        """theta (lme4's order) at the SDs and correlations ``varpar``, or None when they
        are not a covariance matrix."""
        theta = np.zeros(self.n_theta)
        at = 0
        for slots, k in zip(self.slots, self.sizes, strict=True):
            sd = varpar[at : at + k]
            at += k
            corr = np.eye(k)
            for a in range(k):
                for b in range(a + 1, k):
                    corr[a, b] = corr[b, a] = varpar[at]
                    at += 1
            try:
                chol = np.linalg.cholesky(corr)
            except np.linalg.LinAlgError:
                return None
            L = sd[:, None] * chol
            rows, cols = _column_major_lower(k)
            theta[slots] = L[rows, cols]
        return theta

    def _state(self, params: np.ndarray) -> PirlsState | None:
        """PIRLS at ``(varpar, beta)``, or None where it fails."""
        theta = self.theta_of(params[: self.n_var])
        if theta is None:
            return None
        beta = params[self.n_var :]
        for start in (self._u, None):
            try:
                state = self.problem.pirls(theta, beta, u_start=start, exact=True)
            except (PirlsError, np.linalg.LinAlgError, ValueError, FloatingPointError):
                continue
            self._u = state.u
            return state
        return None

    def deviance(self, params: np.ndarray) -> float:
        """The fit's deviance at ``(varpar, beta)`` (inf where PIRLS fails)."""
        state = self._state(params)
        if state is None:
            return np.inf
        if self.nagq == 1:
            return float(self.problem.laplace(state))
        return float(self.problem.agq(state, self.nodes, self.weights))

    def deviance_and_gradient(self, params: np.ndarray) -> tuple[float, np.ndarray]:
        """The deviance and its gradient over all parameters (analytic where
        :func:`~mixedmodels.glmm.gradient.has_laplace_gradient` holds, else central
        differences)."""
        if self.analytic:
            state = self._state(params)
            if state is None:
                return np.inf, np.zeros(params.size)
            return float(self.problem.laplace(state)), laplace_gradient(self.problem, state)[0]
        value = self.deviance(params)
        gradient = np.zeros(params.size)
        units = self._units()
        for j in range(params.size):
            step = np.zeros(params.size)
            step[j] = GRADIENT_STEP * units[j]
            up, down = self.deviance(params + step), self.deviance(params - step)
            gradient[j] = (up - down) / (2 * step[j])
        return value, gradient

    # -- the profile over the others --------------------------------------------------
    def _units(self) -> np.ndarray:
        """The optimizer's unit of each parameter: 1 for the SDs and correlations, the
        standard error for a fixed effect."""
        return np.concatenate([np.ones(self.n_var), self.se])

    def _bounds(self, i: int) -> tuple[float, float]:
        kind = self.kinds[i]
        if kind == "sd":
            return 0.0, np.inf
        if kind == "cor":
            return -CORRELATION_LIMIT, CORRELATION_LIMIT
        return -np.inf, np.inf

    def profiled(self, i: int, value: float, start: np.ndarray) -> tuple[float, np.ndarray]:
        """The least deviance with parameter ``i`` at ``value``, over the others from
        ``start`` (all parameters); and where it is."""
        others = np.array([j for j in range(self.hat.size) if j != i])
        units = self._units()[others]
        origin = self.hat[others]

        def full(x: np.ndarray) -> np.ndarray:
            params = np.empty(self.hat.size)
            params[others] = origin + units * x
            params[i] = value
            return params

        def f(x: np.ndarray) -> tuple[float, np.ndarray]:
            value_at, gradient = self.deviance_and_gradient(full(x))
            gradient = gradient[others] * units
            if not np.all(np.isfinite(gradient)):
                gradient = np.nan_to_num(gradient, nan=0.0, posinf=1e6, neginf=-1e6)
            return value_at, gradient

        bounds = []
        for j, u, o in zip(others, units, origin, strict=True):
            low, high = self._bounds(int(j))
            bounds.append(((low - o) / u, (high - o) / u))
        lows, highs = [b[0] for b in bounds], [b[1] for b in bounds]
        x0 = np.clip((start[others] - origin) / units, lows, highs)
        if others.size == 0:
            return self.deviance(full(x0)), full(x0)
        result = scipy.optimize.minimize(
            f,
            x0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"ftol": 1e-13, "gtol": 1e-7, "maxiter": 500},
        )
        return float(result.fun), full(result.x)

    def zeta(self, i: int, value: float, start: np.ndarray) -> tuple[float, np.ndarray]:
        """The profile zeta of parameter ``i`` at ``value``, and where the others are."""
        deviance, where = self.profiled(i, value, start)
        rise = max(deviance - self.d_hat, 0.0)
        return float(np.sign(value - self.hat[i]) * np.sqrt(rise)), where

    def interval(self, i: int, z: float) -> tuple[float, float]:
        """Where zeta of parameter ``i`` is ``-z`` and ``+z``."""
        return self._bound(i, z, -1.0), self._bound(i, z, 1.0)

    def _bound(self, i: int, z: float, side: float) -> float:
        hat = self.hat[i]
        low, high = self._bounds(i)
        limit = low if side < 0 else high
        step = self.se[i - self.n_var] if self.kinds[i] == "beta" else 0.5 * abs(hat) + 0.05
        start = self.hat.copy()
        cache: dict[float, tuple[float, np.ndarray]] = {}

        def zeta(v: float) -> float:
            nonlocal start
            if v not in cache:
                d, where = self.profiled(i, v, start)
                cache[v] = (d, where)
                start = where
            d = cache[v][0]
            return float(np.sign(v - hat) * np.sqrt(max(d - self.d_hat, 0.0)))

        inner, inner_zeta = hat, 0.0
        distance = z * step
        for _ in range(60):
            outer = hat + side * distance
            if (side < 0 and outer <= limit) or (side > 0 and outer >= limit):
                outer = limit
            outer_zeta = zeta(outer)
            if abs(outer_zeta) >= z:
                break
            if outer == limit:
                return float(limit)
            inner, inner_zeta = outer, outer_zeta
            distance *= 1.6
        else:
            return float("nan")
        target = side * z

        def g(v: float) -> float:
            return zeta(v) - target

        if inner_zeta == target:
            return float(inner)
        root: float = scipy.optimize.brentq(g, inner, outer, xtol=1e-6 * step, rtol=1e-10)
        return root


def _column_major_lower(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of each entry of a ``k x k`` lower triangle, column by column
    (lme4's order of theta within a term)."""
    rows = [r for c in range(k) for r in range(c, k)]
    cols = [c for c in range(k) for _ in range(c, k)]
    return np.array(rows, dtype=int), np.array(cols, dtype=int)


def glmm_profile_intervals(
    fit: GlmmResult, level: float = 0.95, which: Callable[[str], bool] | None = None
) -> pd.DataFrame:
    """``lower, upper`` of the profile-likelihood intervals, by lme4's names: each
    term's SDs and correlations (per term, each SD followed by its correlations with
    later columns, as lme4 orders them), then the fixed effects."""
    profile = _GlmmProfile(fit)
    z = float(scipy.stats.norm.ppf(0.5 + level / 2))
    order = _lme4_order(profile.names, profile.kinds)
    rows = []
    for i in order:
        name = profile.names[i]
        if which is not None and not which(name):
            continue
        lower, upper = profile.interval(i, z)
        rows.append((name, lower, upper))
    table = pd.DataFrame(rows, columns=["name", "lower", "upper"])
    return table.set_index("name")


def _lme4_order(names: list[str], kinds: list[str]) -> list[int]:
    """Indices of the parameters in lme4's order (:func:`~mixedmodels.inference.profile.
    lme4_order` for the SDs and correlations), then the fixed effects."""
    variance = [n for n, kind in zip(names, kinds, strict=True) if kind != "beta"]
    position = {name: i for i, name in enumerate(names)}
    order = [position[name] for name in lme4_order(variance)]
    return order + [i for i, kind in enumerate(kinds) if kind == "beta"]


def glmm_profile_traces(fit: GlmmResult, level: float = 0.99) -> pd.DataFrame:
    """The profile zeta of every parameter across its ``level`` interval: a table of
    ``name, value, zeta`` (zeta is about linear in the value where the Wald interval is
    good), in lme4's order of the parameters and by value."""
    profile = _GlmmProfile(fit)
    z = float(scipy.stats.norm.ppf(0.5 + level / 2))
    points: list[tuple[str, float, float]] = []
    for i in _lme4_order(profile.names, profile.kinds):
        lower, upper = profile.interval(i, z)
        values = np.union1d(np.linspace(lower, upper, TRACE_POINTS), [profile.hat[i]])
        start = profile.hat.copy()
        below = values[values < profile.hat[i]][::-1]
        above = values[values >= profile.hat[i]]
        for side in (below, above):  # outward from the estimate, each from the last
            start = profile.hat.copy()
            for value in side:
                zeta, start = profile.zeta(i, float(value), start)
                points.append((profile.names[i], float(value), zeta))
    table = pd.DataFrame(points, columns=["name", "value", "zeta"])
    order = {name: k for k, name in enumerate(dict.fromkeys(table["name"]))}
    table = table.assign(_o=table["name"].map(order)).sort_values(["_o", "value"])
    return table.drop(columns="_o").reset_index(drop=True)
