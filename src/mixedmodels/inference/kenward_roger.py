"""Kenward-Roger's adjusted covariance and denominator degrees of freedom.

Kenward & Roger (1997), in the form of Halekoh & Hojsgaard (2014, pbkrtest): the
marginal covariance is linear in the variance parameters, ``Sigma = sum_r s_r G_r``
(one ``G`` per variance or covariance of a random-effects term, plus the residual), and

* ``Phi = (X' Sigma^{-1} X)^{-1}``, ``P_r = -X' Sigma^{-1} G_r Sigma^{-1} X``,
  ``Q_rs = X' Sigma^{-1} G_r Sigma^{-1} G_s Sigma^{-1} X``;
* ``W`` the inverse of the expected REML information ``I_rs = tr(M G_r M G_s) / 2`` with
  ``M = Sigma^{-1} - Sigma^{-1} X Phi X' Sigma^{-1}``;
* ``Phi_A = Phi + 2 Phi (sum_rs W_rs (Q_rs - P_r Phi P_s)) Phi``;
* the scaled F statistic and its denominator df from ``A1``, ``A2`` (their eq. 3.3-3.5).

It needs n x n matrices, so it refuses data sets above ``MAX_ROWS`` rows.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from mixedmodels.errors import ModelSpecError
from mixedmodels.lmm.record import LmmRecord

__all__ = ["MAX_ROWS", "kenward_roger_t", "kenward_roger_f"]

#: Kenward-Roger forms n x n matrices: above this many rows, use Satterthwaite.
MAX_ROWS = 5000


class _KR:
    def __init__(self, fit: LmmRecord) -> None:
        fit._require_rows("Kenward-Roger degrees of freedom")
        if not fit.reml:
            raise ModelSpecError("Kenward-Roger is defined for REML fits; refit with reml=True")
        frame = fit._frame
        n = frame.nobs
        if n > MAX_ROWS:
            raise ModelSpecError(
                f"Kenward-Roger needs {n} x {n} matrices for these {n} rows; above "
                f"{MAX_ROWS} rows use ddf='satterthwaite', which scales to any number of rows"
            )
        X = frame.X
        G: list[np.ndarray] = []
        s: list[float] = []
        covs = _term_covariances(fit)
        for term, cov in zip(frame.terms, covs, strict=True):
            k, m = term.n_columns, term.n_levels
            Zcols = []
            for a in range(k):
                Za = np.zeros((n, m))
                Za[np.arange(n), term.factor.codes] = term.matrix[:, a]
                Zcols.append(Za)
            for a in range(k):
                for b in range(a, k):
                    Gab = Zcols[a] @ Zcols[b].T
                    if a != b:
                        Gab = Gab + Gab.T
                    G.append(Gab)
                    s.append(float(cov[a, b]))
        w = np.ones(n) if frame.weights is None else frame.weights
        G.append(np.diag(1.0 / w))
        s.append(fit.sigma**2)
        Sigma = sum(si * Gi for si, Gi in zip(s, G, strict=True))
        Si = np.linalg.inv(Sigma)
        SiX = Si @ X
        Phi = np.linalg.inv(X.T @ SiX)
        M = Si - SiX @ Phi @ SiX.T
        GSiX = [Gi @ SiX for Gi in G]
        P = [-(SiX.T @ g) for g in GSiX]
        MG = [M @ Gi for Gi in G]
        r = len(G)
        info = np.empty((r, r))
        for i in range(r):
            for j in range(i, r):
                info[i, j] = info[j, i] = 0.5 * float(np.sum(MG[i] * MG[j].T))
        W = np.linalg.inv(info)
        correction = np.zeros_like(Phi)
        for i in range(r):
            for j in range(r):
                Q = GSiX[i].T @ Si @ GSiX[j]
                correction += W[i, j] * (Q - P[i] @ Phi @ P[j])
        self.Phi = Phi
        self.Phi_A = Phi + 2.0 * Phi @ correction @ Phi
        self.P = P
        self.W = W

    def test(self, L: np.ndarray, beta: np.ndarray) -> tuple[float, float, float, float]:
        """(numerator df, denominator df, scaled F, p) for ``L beta = 0``."""
        q = L.shape[0]
        Phi, W = self.Phi, self.W
        Theta = L.T @ np.linalg.solve(L @ Phi @ L.T, L)
        TPP = [Theta @ Phi @ Pi @ Phi for Pi in self.P]
        traces = np.array([np.trace(t) for t in TPP])
        A1 = float(traces @ W @ traces)
        A2 = float(
            sum(
                W[i, j] * np.sum(TPP[i] * TPP[j].T)
                for i in range(len(TPP))
                for j in range(len(TPP))
            )
        )
        B = (A1 + 6.0 * A2) / (2.0 * q)
        g = ((q + 1.0) * A1 - (q + 4.0) * A2) / ((q + 2.0) * A2) if A2 > 0 else 0.0
        denom = 3.0 * q + 2.0 * (1.0 - g)
        c1, c2, c3 = g / denom, (q - g) / denom, (q + 2.0 - g) / denom
        E = 1.0 / (1.0 - A2 / q)
        V = (2.0 / q) * (1.0 + c1 * B) / ((1.0 - c2 * B) ** 2 * (1.0 - c3 * B))
        rho = V / (2.0 * E * E)
        m = 4.0 + (q + 2.0) / (q * rho - 1.0)
        lam = m / (E * (m - 2.0))
        Lb = L @ beta
        F = float(Lb @ np.linalg.solve(L @ self.Phi_A @ L.T, Lb)) / q
        Fs = lam * F
        return float(q), float(m), Fs, float(stats.f.sf(Fs, q, m))


def _term_covariances(fit: LmmRecord) -> list[np.ndarray]:
    from mixedmodels.core.tables import term_covariances

    templates = fit._theta_map.factors(fit.theta)
    return term_covariances(fit._layout, fit._frame, templates, fit.sigma)


def kenward_roger_t(fit: LmmRecord) -> dict[str, np.ndarray]:
    """Per fixed effect: estimate, adjusted std_error, df, t and p (pbkrtest's summary)."""
    kr = _KR(fit)
    p = fit.beta.size
    se = np.sqrt(np.diag(kr.Phi_A))
    df = np.array([kr.test(np.eye(p)[i : i + 1], fit.beta)[1] for i in range(p)])
    t = fit.beta / se
    return {
        "estimate": fit.beta,
        "std_error": se,
        "df": df,
        "statistic": t,
        "p_value": np.asarray(2.0 * stats.t.sf(np.abs(t), df)),
    }


def kenward_roger_f(fit: LmmRecord, L: np.ndarray) -> tuple[float, float, float, float]:
    """Kenward-Roger F test of ``L beta = 0``."""
    return _KR(fit).test(L, fit.beta)
