"""Profile-likelihood confidence intervals (lme4's ``confint(method = "profile")``).

As lme4 does, the profile uses the maximum-likelihood deviance (a REML fit is refitted
by ML first). Parameters are the random-effect standard deviations and correlations of
each term, sigma, and the fixed effects. For each, ``zeta(v) = sign(v - v_hat)
sqrt(D_v - D_min)`` where ``D_v`` is the deviance minimized with the parameter held at
``v``; the interval is where ``|zeta|`` reaches the normal quantile.

Fixed effects profile in closed form over the other fixed effects: with beta_j = v the
penalized residual sum of squares grows by ``(v - beta_hat_j)^2 / [S^{-1}]_jj``, where S
is R_X'R_X, and sigma is profiled out.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy
import scipy.linalg
import scipy.optimize

from mixedmodels._threads import one_blas_thread
from mixedmodels.core.optinfo import OptimizerSettings
from mixedmodels.core.solution import Solution, solve
from mixedmodels.core.workspace import Workspace
from mixedmodels.lmm.fit import fit_frame
from mixedmodels.lmm.gradient import Derivatives, criterion_derivatives
from mixedmodels.lmm.record import LmmRecord

__all__ = ["lme4_order", "profile_intervals", "profile_traces", "variance_parameter_names"]


@dataclass(frozen=True)
class _Param:
    name: str
    kind: str  # "sd", "cor", "sigma", "beta"
    term: int = -1
    a: int = -1
    b: int = -1


class _Profiler:
    def __init__(self, fit: LmmRecord) -> None:
        self.fit = fit
        self.model = fit.model
        self.n, self.p = self.model.n, self.model.p
        frame = fit._frame
        self.terms = frame.terms
        self.params: list[_Param] = []
        # where each term's k x k template sits in its storage block
        self.term_slot: dict[int, tuple[int, int, int]] = {}
        for b, block in enumerate(fit._layout.blocks):
            for term_index, start, k in block.term_columns:
                self.term_slot[term_index] = (b, start, k)
        for t, term in enumerate(self.terms):
            names, group = term.column_names, term.vc_name
            for a, name in enumerate(names):
                self.params.append(_Param(f"sd_{name}|{group}", "sd", t, a))
            for a in range(len(names)):
                for b in range(a + 1, len(names)):
                    self.params.append(_Param(f"cor_{names[b]}.{names[a]}|{group}", "cor", t, a, b))
        # the order in which lme4 lists them: per term, down each column of the lower
        # triangle (a standard deviation on the diagonal, then the correlations below it)
        self.display: list[int] = []
        i = 0
        for term in self.terms:
            k = term.n_columns
            cor_index = {}
            c = i + k
            for a in range(k):
                for b in range(a + 1, k):
                    cor_index[(a, b)] = c
                    c += 1
            for a in range(k):
                self.display.append(i + a)
                self.display += [cor_index[(a, b)] for b in range(a + 1, k)]
            i = c
        self.n_var = len(self.params)
        self.params.append(_Param("sigma", "sigma"))
        for j, name in enumerate(fit.fixed_names):
            self.params.append(_Param(name, "beta", a=j))
        self.estimate = self._varpar_of(fit)
        self.ws = self.model.workspace
        self.theta_map = self.model.theta_map
        self.position = self.theta_map.position
        self.lower = fit._layout.lower
        self.theta_c = self.model.internal_theta(fit.theta)
        # per term: the inverse of its conditioning and where its factor's entries sit in
        # theta (rows, columns within the term, theta indices)
        cond = self.model.conditioning
        self.term_inverse = [
            np.eye(term.n_columns) if c.is_identity else np.linalg.inv(c.matrix())
            for term, c in zip(self.terms, cond.terms, strict=True)
        ]
        self.term_theta: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for t in range(len(self.terms)):
            b, start, k = self.term_slot[t]
            where = [
                i
                for i, (blk, r, c) in enumerate(self.position)
                if blk == b and start <= r < start + k and start <= c < start + k
            ]
            rows = np.array([self.position[i][1] - start for i in where], dtype=np.int64)
            cols = np.array([self.position[i][2] - start for i in where], dtype=np.int64)
            self.term_theta.append((rows, cols, np.array(where, dtype=np.int64)))

    # -- parametrization: (sds, cors) of every term, then sigma ----------------------------
    def _varpar_of(self, fit: LmmRecord) -> np.ndarray:
        vc = fit.varcorr
        values = [float(v) for v in vc["sd_cor"].iloc[: self.n_var]]
        return np.array(values + [fit.sigma])

    def _templates(self, varpar: np.ndarray) -> list[np.ndarray] | None:
        sigma = varpar[self.n_var]
        if sigma <= 0:
            return None
        blocks = [np.zeros((b.k, b.k)) for b in self.fit._layout.blocks]
        i = 0
        for t, term in enumerate(self.terms):
            k = term.n_columns
            sd = varpar[i : i + k]
            i += k
            R = np.eye(k)
            for a in range(k):
                for b in range(a + 1, k):
                    R[a, b] = R[b, a] = varpar[i]
                    i += 1
            if np.any(sd < 0) or np.any(np.abs(R) > 1):
                return None
            cov = np.outer(sd, sd) * R / (sigma * sigma)
            try:
                T = np.linalg.cholesky(cov + 1e-14 * np.eye(k)) if np.any(sd > 0) else cov
            except np.linalg.LinAlgError:
                return None
            block, start, _ = self.term_slot[t]
            blocks[block][start : start + k, start : start + k] = T
        return blocks

    # -- evaluations on the model's own (conditioned) theta --------------------------------
    def _theta_c(self, varpar: np.ndarray) -> np.ndarray | None:
        """The model's theta at (sds, cors, sigma), or None outside their domain."""
        templates = self._templates(varpar)
        if templates is None:
            return None
        return self.theta_map.theta_of(self.model.internal_templates(templates))

    def _pieces(
        self, ws: Workspace, theta_c: np.ndarray
    ) -> tuple[float, float, Derivatives, Solution]:
        """log|L|^2, r^2, their derivatives over theta_c, and the solution."""
        fac = ws.factorize(self.theta_map.factors(theta_c), keep_schur=True)
        sol = solve(ws, fac)
        return (
            fac.logdet_z,
            sol.rss_penalized,
            criterion_derivatives(ws, fac, sol, self.position, False),
            sol,
        )

    def _theta_c_and_jacobian(self, varpar: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """theta_c and d theta_c / d (sds, cors, sigma) in closed form, or None where a
        term's covariance is singular (the caller then differences the map).

        Per term, theta_c fills ``L = chol(K)`` with ``K = M^{-1} D R D M^{-T} / sigma^2``
        (D the SDs, R the correlations, M the term's conditioning), and
        ``dL = L Phi(L^{-1} dK L^{-T})`` with Phi the lower triangle, diagonal halved."""
        sigma = varpar[self.n_var]
        if sigma <= 0:
            return None
        s2 = sigma * sigma
        theta = np.zeros(self.position.shape[0])
        J = np.zeros((theta.size, varpar.size))
        i = 0
        for t, term in enumerate(self.terms):
            k = term.n_columns
            sd = varpar[i : i + k]
            sd_index = list(range(i, i + k))
            i += k
            R = np.eye(k)
            cor_index = {}
            for a in range(k):
                for b in range(a + 1, k):
                    R[a, b] = R[b, a] = varpar[i]
                    cor_index[(a, b)] = i
                    i += 1
            if np.any(sd <= 0) or np.any(np.abs(R[np.triu_indices(k, 1)]) >= 1):
                return None
            Minv = self.term_inverse[t]
            MD = Minv * sd[None, :]  # M^{-1} D
            K = MD @ R @ MD.T / s2
            try:
                L = np.linalg.cholesky(K)
            except np.linalg.LinAlgError:
                return None
            Linv = scipy.linalg.solve_triangular(L, np.eye(k), lower=True)
            rows, cols, where = self.term_theta[t]
            theta[where] = L[rows, cols]

            def chol_derivative(
                dK: np.ndarray, L: np.ndarray = L, Linv: np.ndarray = Linv
            ) -> np.ndarray:
                X = Linv @ dK @ Linv.T
                Phi = np.tril(X)
                Phi[np.diag_indices_from(Phi)] *= 0.5
                out: np.ndarray = L @ Phi
                return out

            for a in range(k):
                # d(D R D)/d sd_a = e_a (R D)_a + (D R)_a e_a'
                left = np.outer(Minv[:, a], (R[a] * sd) @ Minv.T)
                dL = chol_derivative((left + left.T) / s2)
                J[where, sd_index[a]] = dL[rows, cols]
            for (a, b), index in cor_index.items():
                part = np.outer(MD[:, a], MD[:, b])
                dL = chol_derivative((part + part.T) / s2)
                J[where, index] = dL[rows, cols]
            J[where, self.n_var] = -L[rows, cols] / sigma
        return theta, J

    def _jacobian(self, varpar: np.ndarray, theta_c: np.ndarray) -> np.ndarray:
        """d theta_c / d (sds, cors, sigma) by central differences of the (cheap) map,
        one-sided at the edge of the domain."""
        J = np.zeros((theta_c.size, varpar.size))
        for k in range(varpar.size):
            h = 1e-7 * max(abs(varpar[k]), 1e-2)
            e = np.zeros_like(varpar)
            e[k] = h
            up, down = self._theta_c(varpar + e), self._theta_c(varpar - e)
            if up is not None and down is not None:
                J[:, k] = (up - down) / (2 * h)
            elif up is not None:
                J[:, k] = (up - theta_c) / h
            elif down is not None:
                J[:, k] = (theta_c - down) / h
        return J

    def deviance(self, varpar: np.ndarray) -> tuple[float, np.ndarray]:
        """ML deviance at (sds, cors, sigma) and its gradient."""
        mapped = self._theta_c_and_jacobian(varpar)
        if mapped is None:
            theta_c = self._theta_c(varpar)
            if theta_c is None:
                return np.inf, np.zeros_like(varpar)
            J = self._jacobian(varpar, theta_c)
        else:
            theta_c, J = mapped
        try:
            logdet, r2, d, _ = self._pieces(self.ws, theta_c)
        except (np.linalg.LinAlgError, ValueError):
            return np.inf, np.zeros_like(varpar)
        sigma = varpar[self.n_var]
        s2 = sigma * sigma
        dev = logdet + self.n * np.log(2 * np.pi * s2) + r2 / s2 - self.model.sum_log_weights
        grad = J.T @ (d.logdet_z + d.r2 / s2)
        grad[self.n_var] += 2 * self.n / sigma - 2 * r2 / (s2 * sigma)
        return float(dev), grad

    def _fixed_at(self, j: int, value: float) -> Workspace:
        """The workspace of the model with fixed effect j held at ``value``: its column
        moves into the response and the others span the rest (in the conditioned
        parametrization, where beta_j is ``g' beta_c``)."""
        g = self.model.conditioning.fixed.matrix()[j]
        target = value - (self.model.shift if j == self.model.intercept else 0.0)
        beta0 = target * g / float(g @ g)
        N = scipy.linalg.null_space(g[None, :])
        p = g.size
        C = np.zeros((p + 1, p))
        C[:p, : p - 1] = N
        C[:p, p - 1] = -beta0
        C[p, p - 1] = 1.0
        return self.ws.with_fixed_columns(C)

    def profiled_beta(self, j: int, value: float, start: np.ndarray) -> tuple[float, np.ndarray]:
        """min over theta of the ML deviance with beta_j = value (sigma profiled out);
        returns it and the minimizing theta_c."""
        ws = self._fixed_at(j, value)
        n = self.n

        def f(theta_c: np.ndarray) -> tuple[float, np.ndarray]:
            try:
                logdet, r2, d, _ = self._pieces(ws, theta_c)
            except (np.linalg.LinAlgError, ValueError):
                return np.inf, np.zeros_like(theta_c)
            dev = logdet + n * (1 + np.log(2 * np.pi * r2 / n)) - self.model.sum_log_weights
            return float(dev), d.logdet_z + n * d.r2 / r2

        res = _minimize(f, start, [(lo if np.isfinite(lo) else None, None) for lo in self.lower])
        return float(res.fun), np.asarray(res.x)

    def beta_slope(self, j: int, value: float, theta_c: np.ndarray) -> float:
        """dD/dv of the profile of beta_j at v: the derivative at fixed theta (the
        minimizing one), by central differences, which are exact to rounding as r^2
        is quadratic in v."""
        h = 1e-4 * max(abs(value), 1.0)
        n = self.n

        def deviance_at(v: float) -> float:
            ws = self._fixed_at(j, v)
            fac = ws.factorize(self.theta_map.factors(theta_c))
            return float(n * np.log(solve(ws, fac).rss_penalized))

        return (deviance_at(value + h) - deviance_at(value - h)) / (2 * h)

    def _bounds(self) -> list[tuple[float | None, float | None]]:
        out: list[tuple[float | None, float | None]] = []
        for p in self.params[: self.n_var]:
            out.append((0.0, None) if p.kind == "sd" else (-1.0, 1.0))
        out.append((1e-12, None))
        return out

    def profiled_var(self, i: int, value: float, start: np.ndarray) -> tuple[float, np.ndarray]:
        """min of the deviance over the other variance parameters with parameter i held;
        returns it and the minimizing (sds, cors, sigma)."""
        free = [k for k in range(self.n_var + 1) if k != i]
        bounds = [self._bounds()[k] for k in free]

        def f(x: np.ndarray) -> tuple[float, np.ndarray]:
            full = start.copy()
            full[free] = x
            full[i] = value
            dev, grad = self.deviance(full)
            return dev, grad[free]

        res = _minimize(f, start[free], bounds)
        best = start.copy()
        best[free] = res.x
        best[i] = value
        return float(res.fun), best


def _minimize(
    f: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    bounds: list[tuple[float | None, float | None]],
) -> scipy.optimize.OptimizeResult:
    """L-BFGS-B with the analytic gradient from ``x0`` (clipped into the bounds)."""
    if x0.size == 0:
        result = scipy.optimize.OptimizeResult()
        result["x"], result["fun"] = x0, f(x0)[0]
        return result
    lo = np.array([-np.inf if b[0] is None else b[0] for b in bounds])
    hi = np.array([np.inf if b[1] is None else b[1] for b in bounds])
    x0 = np.clip(x0, lo, hi)

    def safe(x: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = f(x)
        return (value, grad) if np.isfinite(value) else (1e300, np.zeros_like(x))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scipy.optimize.minimize(
            safe,
            x0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 2000},
        )


def profile_intervals(
    fit: LmmRecord, level: float = 0.95, trace: list[tuple[str, float, float]] | None = None
) -> pd.DataFrame:
    """Profile-likelihood intervals for every SD, correlation, sigma and fixed effect.

    With ``trace`` (a list), every evaluated point is appended as (name, value, zeta).
    """
    fit._require_rows("profile likelihood (confint(method='profile'), profile())")
    if fit.reml:  # lme4 profiles the ML deviance, refitting a REML fit first
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ml = fit_frame(
                fit._frame,
                fit._layout,
                False,
                OptimizerSettings(check_convergence=False),
                fit._index,
                fit.data_label,
            )
    else:
        ml = fit
    # hundreds of small factorizations: a second BLAS thread only adds waiting
    with one_blas_thread():
        return _intervals(ml, level, trace)


def _intervals(
    ml: LmmRecord, level: float, trace: list[tuple[str, float, float]] | None
) -> pd.DataFrame:
    """The intervals of :func:`profile_intervals` from an ML fit."""
    prof = _Profiler(ml)
    d_min = ml.objective
    z = float(scipy.stats.norm.ppf(0.5 + level / 2))
    rows = []
    est = prof.estimate
    order = prof.display + list(range(prof.n_var, len(prof.params)))
    for i in order:
        param = prof.params[i]
        if param.kind == "beta":
            center = float(ml.beta[param.a])
            se = float(ml.std_errors.iloc[param.a])
        else:
            center = float(est[i])
            se = max(abs(center), 1e-3) * 0.2

        # every minimization starts from the optimum at the nearest value profiled so far
        solved: list[tuple[float, np.ndarray]] = [
            (center, prof.theta_c if param.kind == "beta" else est)
        ]

        def zeta_and_slope(
            v: float,
            i: int = i,
            param: _Param = param,
            center: float = center,
            solved: list[tuple[float, np.ndarray]] = solved,
        ) -> tuple[float, float]:
            """zeta at v and its derivative ``(dD/dv) / (2 zeta)`` (the envelope theorem
            gives dD/dv as the partial derivative at the minimizing point)."""
            start = min(solved, key=lambda point: abs(point[0] - v))[1]
            if param.kind == "beta":
                dev, best = prof.profiled_beta(param.a, v, start)
                slope = prof.beta_slope(param.a, v, best)
            else:
                dev, best = prof.profiled_var(i, v, start)
                slope = float(prof.deviance(best)[1][i])
            solved.append((v, best))
            value = float(np.sign(v - center) * np.sqrt(max(dev - d_min, 0.0)))
            if trace is not None:
                trace.append((param.name, float(v), value))
            return value, (slope / (2 * value) if value != 0 else np.nan)

        def zeta(v: float, f: Callable[[float], tuple[float, float]] = zeta_and_slope) -> float:
            return f(v)[0]

        lower_bound = (
            0.0 if param.kind in ("sd", "sigma") else (-1.0 if param.kind == "cor" else -np.inf)
        )
        upper_bound = 1.0 if param.kind == "cor" else np.inf
        bounds = []
        for sign in (-1.0, 1.0):
            target = sign * z
            found = _newton_bound(
                zeta_and_slope, center, sign, center + target * se, target, lower_bound, upper_bound
            )
            step = se
            a, b = center, center + sign * step
            b = float(np.clip(b, lower_bound, upper_bound))
            for _ in range(0 if found is not None else 60):
                zb = zeta(b)
                if (zb - target) * sign >= 0:
                    found = scipy.optimize.brentq(
                        lambda v, t=target: zeta(v) - t, min(a, b), max(a, b), xtol=1e-10
                    )
                    break
                if b in (lower_bound, upper_bound):
                    found = b  # the interval reaches the boundary (lme4 reports it too)
                    break
                a, step = b, step * 2
                b = float(np.clip(center + sign * step, lower_bound, upper_bound))
            bounds.append(np.nan if found is None else found)
        rows.append((param.name, bounds[0], bounds[1]))
        if trace is not None:
            trace.append((param.name, center, 0.0))
    return pd.DataFrame(rows, columns=["name", "lower", "upper"]).set_index("name")


def _newton_bound(
    zeta_and_slope: Callable[[float], tuple[float, float]],
    center: float,
    sign: float,
    start: float,
    target: float,
    lower: float,
    upper: float,
    max_steps: int = 12,
) -> float | None:
    """Newton's method on ``zeta(v) = target`` on one side of the estimate, from
    ``start``; None when it does not settle (the caller then brackets the root).

    zeta is close to linear (exactly so for a quadratic deviance), so from the Wald
    point a few steps reach the root. A point at a bound of the parameter whose zeta
    is still short of the target means that the interval reaches the bound."""
    v = float(np.clip(start, lower, upper))
    scale = max(abs(start - center), 1e-12)
    for _ in range(max_steps):
        if (v - center) * sign <= 0:
            return None
        value, slope = zeta_and_slope(v)
        if v in (lower, upper) and (value - target) * sign < 0:
            return v
        if not np.isfinite(slope) or slope <= 0:
            return None
        step = (target - value) / slope
        if abs(step) <= 1e-9 * scale:
            return v + step
        v = float(np.clip(v + step, lower, upper))
    return None


def variance_parameter_names(fit: LmmRecord) -> list[str]:
    """lme4's names of the SDs, correlations and sigma, in the order of ``fit.varcorr``."""
    names = []
    vc = fit.varcorr
    for group, term1, term2 in zip(vc["group"], vc["term1"], vc["term2"], strict=True):
        if group == "Residual":
            names.append("sigma")
        elif term2 is None:
            names.append(f"sd_{term1}|{group}")
        else:
            names.append(f"cor_{term2}.{term1}|{group}")
    return names


def lme4_order(names: list[str]) -> list[str]:
    """lme4's confint order of variance parameters: per group, each SD followed by the
    correlations of that column with later ones."""
    out: list[str] = []
    for name in names:
        if name.startswith("sd_"):
            column, group = name[3:].rsplit("|", 1)
            out.append(name)
            out += [n for n in names if n.startswith("cor_") and n.endswith(f".{column}|{group}")]
        elif name == "sigma":
            out.append(name)
    return out


def profile_traces(fit: LmmRecord, level: float = 0.99) -> pd.DataFrame:
    """The profile zeta of every parameter out to its ``level`` interval: a table of
    ``name, value, zeta`` (zeta is about linear in the value when the Wald interval is
    good), sorted for plotting."""
    points: list[tuple[str, float, float]] = []
    profile_intervals(fit, level, trace=points)
    table = pd.DataFrame(points, columns=["name", "value", "zeta"])
    table = table.drop_duplicates(["name", "value"])
    order = {name: i for i, name in enumerate(dict.fromkeys(table["name"]))}
    table = table.assign(_o=table["name"].map(order)).sort_values(["_o", "value"])
    return table.drop(columns="_o").reset_index(drop=True)
