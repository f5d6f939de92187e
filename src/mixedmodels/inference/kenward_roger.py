"""Kenward-Roger's adjusted covariance and denominator degrees of freedom.

Kenward & Roger (1997), in the form of Halekoh & Hojsgaard (2014, pbkrtest): with the
variance parameters ``s_r`` (every term's covariance elements and the residual variance)
and ``Sigma = sum_r s_r G_r``,

* ``Phi = (X' Sigma^{-1} X)^{-1}``, ``P_r = -X' Sigma^{-1} G_r Sigma^{-1} X``,
  ``Q_rs = X' Sigma^{-1} G_r Sigma^{-1} G_s Sigma^{-1} X``;
* ``W`` the inverse of the expected REML information ``I_rs = tr(M G_r M G_s) / 2`` with
  ``M = Sigma^{-1} - Sigma^{-1} X Phi X' Sigma^{-1}``;
* ``Phi_A = Phi + 2 Phi (sum_rs W_rs (Q_rs - P_r Phi P_s)) Phi``;
* the scaled F statistic and its denominator df from ``A1``, ``A2`` (their eq. 3.3-3.5).

None of it needs an n x n matrix. Write the prior weights as ``Omega`` (the model's
blocks ``Z'WZ``, ``Z'WX``, ``X'WX`` are ``Z'Omega Z``, ``Z'Omega X``, ``X'Omega X``), so
``Sigma = sigma^2 (Omega^{-1} + Z Lambda Lambda' Z')``, and ``G_r = Z D_r Z'`` for a term's
parameter, ``D_r`` block-diagonal over the term's levels:

1. By the Woodbury identity (Henderson & Searle 1981), ``sigma^2 Sigma^{-1} = Omega -
   Omega Z Lambda C^{-1} Lambda' Z' Omega`` with ``C = Lambda' Z'Omega Z Lambda + I``, the
   matrix the fit factors (Bates et al. 2015). So ``Z' Sigma^{-1} Z``, ``Z' Sigma^{-1} X``
   and ``X' Sigma^{-1} X`` are the blocks less products of solves with C's factor, and
   ``B = Z'MZ = Z' Sigma^{-1} Z - Z' Sigma^{-1} X Phi X' Sigma^{-1} Z``
   (:mod:`mixedmodels.inference.marginal`).
2. Every ``G_r`` of a term stands between ``Z`` and ``Z'``, so with ``Y_r = D_r Z'
   Sigma^{-1} X``: ``P_r = -(Z' Sigma^{-1} X)' Y_r``; ``Q_rs - P_r Phi P_s = X' Sigma^{-1}
   G_r M G_s Sigma^{-1} X = Y_r' B Y_s`` (M's definition, expanded); and ``tr(M G_r M G_s)
   = tr(D_r B D_s B)``, a sum over pairs of levels of traces of k x k blocks of B. All of it
   is q x q and q x p work (:mod:`mixedmodels.inference.kr_terms`).
3. The residual's ``G = Omega^{-1}`` is ``(Sigma - sum_r s_r G_r) / sigma^2``, and the
   terms with ``Sigma`` in place of a ``G`` collapse, since ``M Sigma M = M`` and ``M X =
   0``: ``tr(M Sigma M Sigma) = n - p``, ``tr(M G_r M Sigma) = tr(D_r B)``, ``P = -X'
   Sigma^{-1} X`` and ``Q - P Phi P = 0``. The residual's terms are those linear
   combinations of the terms' and ``Sigma``'s.
4. The model was fitted on conditioned matrices ``X_c = X S`` and ``Z_c = Z M``
   (:mod:`mixedmodels.design.conditioning`), which hold the same ``Sigma``. The work is done
   there, with the covariance elements of the conditioned terms as the variance parameters:
   a linear reparametrization, to which the adjustment is invariant, and a far better
   scaled one (a covariate far from zero makes pbkrtest's information matrix numerically
   singular). ``Phi``, ``Phi_A`` and ``Phi P_r Phi`` map back as ``S . S'``.

The work is on the model's own blocks and one factorization at the fitted theta. It is
dense in the q random effects (``Z'MZ`` is q x q), so models with more than
:data:`MAX_RANDOM_EFFECTS` of them are refused. The rows are never read, so a fit to a
Dask DataFrame, which holds its blocks only, has it too.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import scipy

from mixedmodels._threads import one_blas_thread
from mixedmodels.errors import ModelSpecError
from mixedmodels.inference.kr_terms import kr_terms, variance_parameters
from mixedmodels.inference.marginal import marginal_products, random_effects_blocks
from mixedmodels.lmm.model import LinearMixedModel
from mixedmodels.lmm.record import LmmRecord

__all__ = ["MAX_RANDOM_EFFECTS", "KenwardRoger", "kenward_roger_t", "kenward_roger_f"]

#: Kenward-Roger forms q x q matrices for q random effects: above this many, use
#: Satterthwaite.
MAX_RANDOM_EFFECTS = 5000
#: Dense q x q arrays alive at once (:func:`~mixedmodels.inference.marginal.marginal_products`).
DENSE_COPIES = 3


def _check_size(model: LinearMixedModel) -> None:
    """Refuse, before any q x q array exists, a model with too many random effects."""
    q = sum(m * k for _, m, k in random_effects_blocks(model))
    if q > MAX_RANDOM_EFFECTS:
        gib = DENSE_COPIES * 8.0 * q * q / 2**30
        raise ModelSpecError(
            f"Kenward-Roger needs dense {q} x {q} matrices for these {q} random effects "
            f"(about {gib:.1f} GiB); above {MAX_RANDOM_EFFECTS} random effects use "
            "ddf='satterthwaite', which scales to any number of rows and levels"
        )


@dataclass(frozen=True)
class KenwardRoger:
    """Kenward-Roger's pieces of a fit, in the original parametrization.

    Attributes
    ----------
    Phi : numpy.ndarray
        ``(p, p)``: the usual covariance of the fixed effects.
    Phi_A : numpy.ndarray
        ``(p, p)``: the adjusted covariance.
    Phi_P_Phi : numpy.ndarray
        ``(r, p, p)``: ``Phi P_r Phi`` for every variance parameter.
    W : numpy.ndarray
        ``(r, r)``: the inverse of the expected REML information of the variance
        parameters (those of the conditioned matrices,
        :mod:`~mixedmodels.inference.kr_terms`).
    """

    Phi: np.ndarray
    Phi_A: np.ndarray
    Phi_P_Phi: np.ndarray
    W: np.ndarray

    @classmethod
    def of(cls, fit: LmmRecord) -> KenwardRoger:
        """The pieces at a REML fit's estimates.

        Raises
        ------
        ModelSpecError
            For an ML fit, or one with more than :data:`MAX_RANDOM_EFFECTS` random effects.
        """
        if not fit.reml:
            raise ModelSpecError("Kenward-Roger is defined for REML fits; refit with reml=True")
        model = fit.model
        _check_size(model)
        ws = model.workspace
        blas = one_blas_thread() if ws.uses_threads or ws.small else nullcontext()
        with blas:
            fac = model.factorize(model.theta_map.factors(fit.theta))
            products = marginal_products(model, fac, fit.sigma)
            parameters = variance_parameters(model, list(fac.templates), fit.sigma)
            terms = kr_terms(products, parameters, random_effects_blocks(model), fit.sigma)
        W = np.linalg.inv(terms.information)
        Phi = terms.Phi
        correction = np.einsum("ij,ijpq->pq", W, terms.U)
        S = model.conditioning.fixed.matrix()  # beta = S beta_c

        def original(A: np.ndarray) -> np.ndarray:
            out: np.ndarray = S @ A @ S.T
            return out

        return cls(
            Phi=original(Phi),
            Phi_A=original(Phi + 2.0 * Phi @ correction @ Phi),
            Phi_P_Phi=np.array([original(Phi @ P @ Phi) for P in terms.P]),
            W=W,
        )

    def test(self, L: np.ndarray, beta: np.ndarray) -> tuple[float, float, float, float]:
        """(numerator df, denominator df, scaled F, p) for ``L beta = 0``."""
        q = L.shape[0]
        W = self.W
        Theta = L.T @ np.linalg.solve(L @ self.Phi @ L.T, L)
        TPP = np.einsum("ab,rbc->rac", Theta, self.Phi_P_Phi)
        traces = np.einsum("raa->r", TPP)
        A1 = float(traces @ W @ traces)
        A2 = float(np.einsum("rs,rab,sba->", W, TPP, TPP))
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
        return float(q), float(m), Fs, float(scipy.stats.f.sf(Fs, q, m))


def kenward_roger_t(fit: LmmRecord) -> dict[str, np.ndarray]:
    """Per fixed effect: estimate, adjusted std_error, df, t and p (pbkrtest's summary)."""
    kr = KenwardRoger.of(fit)
    p = fit.beta.size
    se = np.sqrt(np.diag(kr.Phi_A))
    df = np.array([kr.test(np.eye(p)[i : i + 1], fit.beta)[1] for i in range(p)])
    t = fit.beta / se
    return {
        "estimate": fit.beta,
        "std_error": se,
        "df": df,
        "statistic": t,
        "p_value": np.asarray(2.0 * scipy.stats.t.sf(np.abs(t), df)),
    }


def kenward_roger_f(fit: LmmRecord, L: np.ndarray) -> tuple[float, float, float, float]:
    """Kenward-Roger F test of ``L beta = 0``."""
    return KenwardRoger.of(fit).test(L, fit.beta)
