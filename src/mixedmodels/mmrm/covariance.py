"""The covariance structures of a mixed model for repeated measures: the ``T x T``
covariance matrix of one subject's visits as a function of its parameters.

Each structure has two parametrizations:

* the **natural** one, SAS PROC MIXED's (variances, covariances and correlations as they
  are), in which results are reported and the small-sample inference (Satterthwaite,
  Kenward-Roger) is computed; for an unstructured, Toeplitz or compound-symmetric matrix
  it is linear, so Kenward-Roger's second-derivative term vanishes as in SAS;
* an **unconstrained** one, which the optimizer moves in: log variances, correlations
  through ``tanh``, the unstructured matrix through its Cholesky factor with a log
  diagonal, Toeplitz correlations through their partial autocorrelations (every value
  gives a positive definite matrix).

Names (mmrm's): ``us`` unstructured; ``toep`` / ``toeph`` Toeplitz; ``ar1`` / ``ar1h``
first-order autoregressive; ``cs`` / ``csh`` compound symmetry; ``ad`` / ``adh``
first-order ante-dependence. The ``h`` forms have a variance per visit.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["STRUCTURES", "CovarianceStructure"]


@lru_cache(maxsize=64)
def _lower(T: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The lower triangle's rows and columns in row order, and the diagonal's positions."""
    rows, cols = np.tril_indices(T)
    return rows, cols, np.flatnonzero(rows == cols)


def _cholesky_factor(u: np.ndarray, T: int) -> np.ndarray:
    """The unstructured matrix's Cholesky factor from its parameters (row-major lower
    triangle, the diagonal on the log scale)."""
    rows, cols, diag = _lower(T)
    values = np.array(u, dtype=float)
    values[diag] = np.exp(values[diag])
    L = np.zeros((T, T))
    L[rows, cols] = values
    return L


def _lags(T: int) -> np.ndarray:
    idx = np.arange(T)
    lags: np.ndarray = np.abs(idx[:, None] - idx[None, :])
    return lags


def _pacf_to_autocorrelation(r: np.ndarray) -> np.ndarray:
    """Autocorrelations at lags 1..K from partial autocorrelations in (-1, 1) (the
    Durbin-Levinson recursion), so that every input gives a positive definite Toeplitz
    correlation matrix."""
    K = r.size
    rho = np.zeros(K)
    phi = np.zeros(0)
    for k in range(K):
        if k == 0:
            rho[0] = r[0]
            phi = np.array([r[0]])
            continue
        rho[k] = float(phi @ rho[k - 1 :: -1][:k]) + r[k] * (1.0 - float(phi @ rho[:k]))
        phi = np.concatenate([phi - r[k] * phi[::-1], [r[k]]])
    return rho


@dataclass(frozen=True)
class CovarianceStructure:
    """One of mmrm's covariance structures (see the module's description)."""

    name: str

    @property
    def heterogeneous(self) -> bool:
        return self.name.endswith("h")

    @property
    def kind(self) -> str:
        return self.name[:-1] if self.heterogeneous and self.name != "us" else self.name

    def n_params(self, T: int) -> int:
        n_var = T if self.heterogeneous else 1
        if self.kind == "us":
            return T * (T + 1) // 2
        return n_var + {"ar1": 1, "cs": 1, "toep": T - 1, "ad": T - 1}[self.kind]

    def names(self, T: int) -> list[str]:
        """The natural parameters' names, visits numbered from 1."""
        if self.kind == "us":
            return [f"cov({i + 1},{j + 1})" for i in range(T) for j in range(i + 1)]
        if self.kind == "toep" and not self.heterogeneous:
            return ["variance"] + [f"cov_lag{k}" for k in range(1, T)]
        if self.kind == "cs" and not self.heterogeneous:
            return ["cov", "residual"]
        variances = [f"var({t + 1})" for t in range(T)] if self.heterogeneous else ["variance"]
        rho = {
            "ar1": ["rho"],
            "cs": ["rho"],
            "toep": [f"rho_lag{k}" for k in range(1, T)],
            "ad": [f"rho({t + 1},{t + 2})" for t in range(T - 1)],
        }[self.kind]
        return variances + rho

    def start(self, T: int, variance: float) -> np.ndarray:
        """Unconstrained start: independent visits of the response's variance."""
        u = np.zeros(self.n_params(T))
        log_sd = 0.5 * np.log(variance)
        if self.kind == "us":
            u[_lower(T)[2]] = log_sd
        else:
            u[: T if self.heterogeneous else 1] = 2.0 * log_sd
        return u

    # --- the unconstrained -> natural map
    def natural(self, u: np.ndarray, T: int) -> np.ndarray:
        if self.kind == "us":
            rows, cols, _ = _lower(T)
            L = _cholesky_factor(u, T)
            out: np.ndarray = (L @ L.T)[rows, cols]
            return out
        n_var = T if self.heterogeneous else 1
        var, z = np.exp(u[:n_var]), u[n_var:]
        if self.kind == "cs":
            low = -1.0 / (T - 1) if T > 1 else -1.0
            rho = low + (1.0 - low) / (1.0 + np.exp(-z[0]))
            if not self.heterogeneous:
                return np.array([var[0] * rho, var[0] * (1.0 - rho)])
            return np.concatenate([var, [rho]])
        if self.kind == "toep":
            rho_lag = _pacf_to_autocorrelation(np.tanh(z))
            if not self.heterogeneous:
                return np.concatenate([var, var[0] * rho_lag])
            return np.concatenate([var, rho_lag])
        return np.concatenate([var, np.tanh(z)])

    def jacobian(self, u: np.ndarray, T: int, step: float = 1e-6) -> np.ndarray:
        """``d Sigma / d u`` in the unconstrained parameters, ``(k, T, T)``: exact for the
        unstructured matrix (``Sigma = L L'``), by central differences otherwise."""
        if self.kind == "us":
            rows, cols, diag = _lower(T)
            L = _cholesky_factor(u, T)
            # dL = scale e_a e_b', scale = L_aa on the diagonal (its log is the parameter)
            scale = np.ones(u.size)
            scale[diag] = L[rows[diag], cols[diag]]
            half = np.zeros((u.size, T, T))
            half[np.arange(u.size), rows, :] = (L[:, cols] * scale).T
            out: np.ndarray = half + half.transpose(0, 2, 1)
            return out
        J = np.empty((u.size, T, T))
        for h in range(u.size):
            d = step * max(1.0, abs(float(u[h])))
            e = np.zeros(u.size)
            e[h] = d
            J[h] = (
                self.matrix(self.natural(u + e, T), T) - self.matrix(self.natural(u - e, T), T)
            ) / (2.0 * d)
        return J

    # --- the natural parameters -> the covariance matrix
    def matrix(self, nu: np.ndarray, T: int) -> np.ndarray:
        if self.kind == "us":
            rows, cols, _ = _lower(T)
            S = np.zeros((T, T))
            S[rows, cols] = nu
            S[cols, rows] = nu
            return S
        lags = _lags(T)
        if self.kind == "cs" and not self.heterogeneous:
            return np.asarray(nu[0] * np.ones((T, T)) + nu[1] * np.eye(T), dtype=float)
        if self.kind == "toep" and not self.heterogeneous:
            return np.asarray(nu[lags], dtype=float)
        n_var = T if self.heterogeneous else 1
        sd = np.sqrt(nu[:n_var]) * np.ones(T)
        par = nu[n_var:]
        if self.kind == "ar1":
            R = par[0] ** lags
        elif self.kind == "cs":
            R = np.where(lags == 0, 1.0, par[0])
        elif self.kind == "toep":
            R = np.concatenate([[1.0], par])[lags]
        else:  # ante-dependence: the product of the neighbouring correlations between
            R = np.eye(T)
            for i in range(T - 1):
                R[i, i + 1 :] = np.cumprod(par[i:])
            R = np.triu(R) + np.triu(R, 1).T
        out: np.ndarray = sd[:, None] * R * sd[None, :]
        return out


STRUCTURES = {
    name: CovarianceStructure(name)
    for name in ("us", "toep", "toeph", "ar1", "ar1h", "cs", "csh", "ad", "adh")
}
