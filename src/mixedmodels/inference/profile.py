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
import scipy.optimize
from scipy import stats

from mixedmodels.lmm.result import LmmResult

__all__ = ["lme4_order", "profile_intervals", "profile_traces", "variance_parameter_names"]


@dataclass(frozen=True)
class _Param:
    name: str
    kind: str  # "sd", "cor", "sigma", "beta"
    term: int = -1
    a: int = -1
    b: int = -1


class _Profiler:
    def __init__(self, fit: LmmResult) -> None:
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

    # -- parametrization: (sds, cors) of every term, then sigma ----------------------------
    def _varpar_of(self, fit: LmmResult) -> np.ndarray:
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

    def _penalized(
        self, varpar: np.ndarray, beta_j: tuple[int, float] | None
    ) -> tuple[float, float] | None:
        """(log|L|^2, r^2) at (sds, cors, sigma), with fixed effect j held at a value when
        ``beta_j`` is given (r^2 then grows by (v - beta_hat_j)^2 / [S^{-1}]_jj)."""
        templates = self._templates(varpar)
        if templates is None:
            return None
        try:
            fac = self.model.factorize(templates)
        except np.linalg.LinAlgError:
            return None
        sol = self.model.solve(fac)
        r2 = sol.rss_penalized
        if beta_j is not None:
            j, value = beta_j
            r2 += (value - sol.beta[j]) ** 2 / sol.var_beta_unscaled[j, j]
        return fac.logdet_z, r2

    def deviance(self, varpar: np.ndarray, beta_j: tuple[int, float] | None = None) -> float:
        """ML deviance at (sds, cors, sigma); with ``beta_j`` the fixed effect j held."""
        parts = self._penalized(varpar, beta_j)
        if parts is None:
            return np.inf
        logdet, r2 = parts
        s2 = varpar[self.n_var] ** 2
        dev = logdet + self.n * np.log(2 * np.pi * s2) + r2 / s2
        return float(dev - self.model.sum_log_weights)

    def profiled_beta(self, j: int, value: float, start: np.ndarray) -> tuple[float, np.ndarray]:
        """min over the variance parameters with beta_j = value (sigma in closed form)."""

        def f(x: np.ndarray) -> float:
            # relative parameters (sigma = 1); sigma is then profiled out in closed form
            parts = self._penalized(np.append(x, 1.0), (j, value))
            if parts is None:
                return np.inf
            logdet, r2 = parts
            return float(
                logdet + self.n * (1 + np.log(2 * np.pi * r2 / self.n)) - self.model.sum_log_weights
            )

        rel = start[: self.n_var].copy()
        rel[self._sd_mask()] /= start[self.n_var]
        res = _minimize(f, rel, self._bounds()[: self.n_var])
        return float(res.fun), start

    def _sd_mask(self) -> np.ndarray:
        return np.array([p.kind == "sd" for p in self.params[: self.n_var]])

    def _bounds(self) -> list[tuple[float | None, float | None]]:
        out: list[tuple[float | None, float | None]] = []
        for p in self.params[: self.n_var]:
            out.append((0.0, None) if p.kind == "sd" else (-1.0, 1.0))
        out.append((1e-12, None))
        return out

    def profiled_var(self, i: int, value: float, start: np.ndarray) -> tuple[float, np.ndarray]:
        """min of the deviance over the other variance parameters with parameter i held."""
        free = [k for k in range(self.n_var + 1) if k != i]
        bounds = [self._bounds()[k] for k in free]

        def f(x: np.ndarray) -> float:
            full = start.copy()
            full[free] = x
            full[i] = value
            return self.deviance(full)

        res = _minimize(f, start[free], bounds)
        best = start.copy()
        best[free] = res.x
        best[i] = value
        return float(res.fun), best


def _minimize(
    f: Callable[[np.ndarray], float],
    x0: np.ndarray,
    bounds: list[tuple[float | None, float | None]],
) -> scipy.optimize.OptimizeResult:
    if x0.size == 0:
        result = scipy.optimize.OptimizeResult()
        result["x"], result["fun"] = x0, f(x0)
        return result
    lo = np.array([-np.inf if b[0] is None else b[0] for b in bounds])
    hi = np.array([np.inf if b[1] is None else b[1] for b in bounds])
    x0 = np.clip(x0, lo, hi)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scipy.optimize.minimize(
            f,
            x0,
            method="COBYQA",
            bounds=scipy.optimize.Bounds(lo, hi),
            options={"final_tr_radius": 1e-8, "initial_tr_radius": 0.05},
        )


def profile_intervals(
    fit: LmmResult, level: float = 0.95, trace: list[tuple[str, float, float]] | None = None
) -> pd.DataFrame:
    """Profile-likelihood intervals for every SD, correlation, sigma and fixed effect.

    With ``trace`` (a list), every evaluated point is appended as (name, value, zeta).
    """
    fit._require_rows("profile likelihood (confint(method='profile'), profile())")
    if fit.reml:  # lme4 profiles the ML deviance, refitting a REML fit first
        from mixedmodels.lmm.fit import fit_frame
        from mixedmodels.lmm.optimize import OptimizerSettings

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
    prof = _Profiler(ml)
    d_min = ml.objective
    z = float(stats.norm.ppf(0.5 + level / 2))
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

        def zeta(v: float, i: int = i, param: _Param = param, center: float = center) -> float:
            if param.kind == "beta":
                dev, _ = prof.profiled_beta(param.a, v, est)
            else:
                dev, _ = prof.profiled_var(i, v, est)
            value = float(np.sign(v - center) * np.sqrt(max(dev - d_min, 0.0)))
            if trace is not None:
                trace.append((param.name, float(v), value))
            return value

        lower_bound = (
            0.0 if param.kind in ("sd", "sigma") else (-1.0 if param.kind == "cor" else -np.inf)
        )
        upper_bound = 1.0 if param.kind == "cor" else np.inf
        bounds = []
        for sign in (-1.0, 1.0):
            target = sign * z
            step = se
            a, b = center, center + sign * step
            b = float(np.clip(b, lower_bound, upper_bound))
            found = None
            for _ in range(60):
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


def variance_parameter_names(fit: LmmResult) -> list[str]:
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


def profile_traces(fit: LmmResult, level: float = 0.99) -> pd.DataFrame:
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
