"""The model as a function of its variance parameters (theta, sigma): the unprofiled
deviance and the covariance of the fixed effects, as small-sample inference needs them.

Everything is computed from the fit's cross-product blocks, never from the rows, so the
cost does not grow with the number of observations.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mixedmodels.lmm.record import LmmRecord

__all__ = ["StructuredVarianceFunctions", "VarianceFunctions"]


class VarianceFunctions:
    """Deviance and vcov(beta) at any (theta, sigma) of a fitted LMM.

    Parameters
    ----------
    fit : LmmRecord
        The fit's fields: its model, theta, sigma and whether it is REML.
    """

    def __init__(self, fit: LmmRecord) -> None:
        self.fit = fit
        self.model = fit.model
        self.n, self.p = self.model.n, self.model.p
        self.varpar = np.concatenate([fit.theta, [fit.sigma]])
        self._factors: dict[bytes, tuple[float, float, float, np.ndarray]] = {}

    def _factor(self, theta: np.ndarray) -> tuple[float, float, float, np.ndarray]:
        # the differences of the Hessian and Jacobian move sigma at a fixed theta: the
        # factorization depends on theta only, so each theta is factorized once
        key = np.ascontiguousarray(theta, dtype=np.float64).tobytes()
        cached = self._factors.get(key)
        if cached is not None:
            return cached
        fac = self.model.factorize(self.fit._theta_map.factors(theta))
        sol = self.model.solve(fac)
        out = (fac.logdet_z, self.model.logdet_x(fac), sol.rss_penalized, sol.var_beta_unscaled)
        self._factors[key] = out
        return out

    def deviance(self, varpar: np.ndarray) -> float:
        """-2 log L (ML) or the REML criterion at (theta, sigma), not profiled over sigma."""
        theta, sigma = varpar[:-1], float(varpar[-1])
        logdet_z, logdet_x, r2, _ = self._factor(theta)
        s2 = sigma * sigma
        dof = self.n - self.p if self.fit.reml else self.n
        value = logdet_z + dof * np.log(2.0 * np.pi * s2) + r2 / s2
        if self.fit.reml:
            value += logdet_x
        return float(value - self.model.sum_log_weights)

    def vcov(self, varpar: np.ndarray) -> np.ndarray:
        """sigma^2 (R_X'R_X)^{-1} at (theta, sigma)."""
        theta, sigma = varpar[:-1], float(varpar[-1])
        return sigma * sigma * self._factor(theta)[3]

    def hessian(self, step: float = 1e-4) -> np.ndarray:
        """Central-difference Hessian of :meth:`deviance` at the estimates."""
        x = self.varpar
        h = step * np.maximum(np.abs(x), 1.0)
        k = x.size
        f0 = self.deviance(x)
        H = np.zeros((k, k))
        for i in range(k):
            ei = np.zeros(k)
            ei[i] = h[i]
            H[i, i] = (self.deviance(x + ei) - 2 * f0 + self.deviance(x - ei)) / h[i] ** 2
            for j in range(i):
                ej = np.zeros(k)
                ej[j] = h[j]
                H[i, j] = H[j, i] = (
                    self.deviance(x + ei + ej)
                    - self.deviance(x + ei - ej)
                    - self.deviance(x - ei + ej)
                    + self.deviance(x - ei - ej)
                ) / (4 * h[i] * h[j])
        return H

    def vcov_jacobian(self, step: float = 1e-4) -> np.ndarray:
        """d vcov(beta) / d varpar by central differences, shape ``(k, p, p)``."""
        x = self.varpar
        h = step * np.maximum(np.abs(x), 1.0)
        out = np.empty((x.size, self.p, self.p))
        for i in range(x.size):
            e = np.zeros(x.size)
            e[i] = h[i]
            out[i] = (self.vcov(x + e) - self.vcov(x - e)) / (2 * h[i])
        return out


class StructuredVarianceFunctions(VarianceFunctions):
    """Deviance and vcov(beta) of an LMM with residual structures at any
    ``(theta, psi, sigma)``, ``psi`` the structures' unconstrained parameters: the LMM of
    the rows whitened at ``psi`` at ``(theta, sigma)``, with ``sum_i log|D_i R_i D_i|``
    added to the deviance.

    Parameters
    ----------
    record : LmmRecord
        The whitened LMM at the optimum (its theta, sigma, REML or not).
    design : StructuredDesign
        What gives the whitened LMM at any ``psi``.
    params : numpy.ndarray
        ``psi`` at the optimum.
    """

    def __init__(self, record: LmmRecord, design: Any, params: np.ndarray) -> None:
        super().__init__(record)
        self.design = design
        self.n_theta = record.theta.size
        self.varpar = np.concatenate([record.theta, params, [record.sigma]])
        self._models: dict[bytes, tuple[Any, float]] = {}

    def _factor(self, head: np.ndarray) -> tuple[float, float, float, np.ndarray]:
        key = np.ascontiguousarray(head, dtype=np.float64).tobytes()
        cached = self._factors.get(key)
        if cached is not None:
            return cached
        theta, psi = head[: self.n_theta], head[self.n_theta :]
        psi_key = np.ascontiguousarray(psi, dtype=np.float64).tobytes()
        if psi_key not in self._models:
            self._models[psi_key] = self.design.model_at(psi)
        model, logdet = self._models[psi_key]
        fac = model.factorize(self.fit._theta_map.factors(theta))
        sol = model.solve(fac)
        out = (
            fac.logdet_z + logdet,
            model.logdet_x(fac),
            sol.rss_penalized,
            sol.var_beta_unscaled,
        )
        self._factors[key] = out
        return out
