"""Satterthwaite's denominator degrees of freedom for t and F tests of fixed effects.

For a contrast ``L beta`` with variance ``v(phi) = L V(phi) L'`` in the variance
parameters ``phi = (theta, sigma)``, ``df = 2 v^2 / (g' A g)`` with ``g = dv/dphi`` and
``A = 2 H^{-1}`` the asymptotic covariance of ``phi`` from the Hessian ``H`` of the
deviance (Satterthwaite 1946; Kuznetsova, Brockhoff & Christensen 2017, the method of
lmerTest). For an F test of ``q`` contrasts the q single-degree-of-freedom parts of the
eigen-decomposition are combined as lmerTest does (Fai & Cornelius 1996).
"""

from __future__ import annotations

import numpy as np
import scipy

from mixedmodels.inference.varpar import VarianceFunctions

__all__ = ["SatterthwaitePieces", "satterthwaite_t", "satterthwaite_f"]


class SatterthwaitePieces:
    """``vcov(beta)`` ``V``, the variance parameters' covariance ``A`` and ``dV/dphi``
    ``J`` ``(k, p, p)``: all that the df of any contrast needs."""

    def __init__(self, V: np.ndarray, A: np.ndarray, J: np.ndarray) -> None:
        self.V, self.A, self.J = V, A, J

    @classmethod
    def of(cls, vf: VarianceFunctions) -> SatterthwaitePieces:
        """The pieces of an LMM, its Hessian and Jacobian by differences."""
        # where sigma or theta sits on a boundary the Hessian can be singular: pinv
        return cls(vf.vcov(vf.varpar), 2.0 * np.linalg.pinv(vf.hessian()), vf.vcov_jacobian())

    def df(self, contrast: np.ndarray) -> float:
        v = float(contrast @ self.V @ contrast)
        g = np.einsum("i,kij,j->k", contrast, self.J, contrast)
        denom = float(g @ self.A @ g)
        return 2.0 * v * v / denom if denom > 0 else np.inf


def satterthwaite_t(
    vf: VarianceFunctions | SatterthwaitePieces, beta: np.ndarray
) -> dict[str, np.ndarray]:
    """Per fixed effect: estimate, std_error, df, t statistic and two-sided p-value."""
    pieces = vf if isinstance(vf, SatterthwaitePieces) else SatterthwaitePieces.of(vf)
    p = beta.size
    se = np.sqrt(np.diag(pieces.V))
    df = np.array([pieces.df(np.eye(p)[i]) for i in range(p)])
    t = beta / se
    return {
        "estimate": beta,
        "std_error": se,
        "df": df,
        "statistic": t,
        "p_value": np.asarray(2.0 * scipy.stats.t.sf(np.abs(t), df)),
    }


def satterthwaite_f(
    vf: VarianceFunctions | SatterthwaitePieces, beta: np.ndarray, L: np.ndarray
) -> tuple[float, float, float, float]:
    """F test of ``L beta = 0``: (numerator df, denominator df, F, p)."""
    pieces = vf if isinstance(vf, SatterthwaitePieces) else SatterthwaitePieces.of(vf)
    VL = L @ pieces.V @ L.T
    q = L.shape[0]
    Lb = L @ beta
    F = float(Lb @ np.linalg.solve(VL, Lb)) / q
    if q == 1:
        ddf = pieces.df(L[0])
    else:
        eigval, eigvec = np.linalg.eigh(VL)
        rows = eigvec.T @ L  # q single-df contrasts
        nus = np.array([pieces.df(r) for r in rows])
        big = nus > 2
        E = float(np.sum(nus[big] / (nus[big] - 2.0)))
        ddf = 2.0 * E / (E - q) if E > q else np.inf
    return float(q), ddf, F, float(scipy.stats.f.sf(F, q, ddf))
