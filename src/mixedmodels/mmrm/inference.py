"""Small-sample inference of an MMRM: Satterthwaite's and Kenward-Roger's degrees of
freedom, in the structure's natural (SAS PROC MIXED's) parameters ``nu``.

With ``Xt_i = Sigma_i^{-1} X_i`` and ``Sigma_h = d Sigma / d nu_h`` (restricted to each
subject's visits):

* ``P_h = -sum_i Xt_i' Sigma_h Xt_i`` and ``d Phi / d nu_h = -Phi P_h Phi``;
* ``W = 2 H^{-1}``, ``H`` the observed Hessian of the criterion (-2 log L or the REML
  criterion) in ``nu``, by central differences of its exact gradient;
* Kenward & Roger (1997): ``Q_hj = sum_i Xt_i' Sigma_h Sigma_i^{-1} Sigma_j Xt_i``,
  ``R_hj = sum_i Xt_i' Sigma_hj Xt_i`` (zero for the linear structures) and
  ``Phi_A = Phi + 2 Phi (sum_hj W_hj (Q_hj - P_h Phi P_j - R_hj / 4)) Phi``.

All sums run over the patterns of visits (:class:`mixedmodels.mmrm.model.MmrmModel`), as
``(T, T, p, p)`` sums of the subjects' ``Xt_i[a]' Xt_i[b]``.
"""

from __future__ import annotations

import numpy as np

from mixedmodels.inference.kenward_roger import KenwardRoger
from mixedmodels.inference.satterthwaite import SatterthwaitePieces
from mixedmodels.mmrm.covariance import CovarianceStructure
from mixedmodels.mmrm.fit import sigma_jacobian
from mixedmodels.mmrm.model import MmrmModel

__all__ = ["kenward_roger", "satterthwaite"]

#: Relative step of the Hessian's differences of the gradient.
HESSIAN_STEP = 1e-5


def _gradient(model: MmrmModel, structure: CovarianceStructure, nu: np.ndarray) -> np.ndarray:
    T = model.T
    ev = model.evaluate(structure.matrix(nu, T))
    J = sigma_jacobian(structure, T, nu)
    return np.asarray(np.einsum("hab,ab->h", J, ev.gradient), dtype=float)


def _hessian(model: MmrmModel, structure: CovarianceStructure, nu: np.ndarray) -> np.ndarray:
    k = nu.size
    H = np.empty((k, k))
    for h in range(k):
        step = HESSIAN_STEP * max(1.0, abs(float(nu[h])))
        e = np.zeros(k)
        e[h] = step
        H[h] = (_gradient(model, structure, nu + e) - _gradient(model, structure, nu - e)) / (
            2.0 * step
        )
    return 0.5 * (H + H.T)


def _pieces(
    model: MmrmModel, structure: CovarianceStructure, nu: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """Phi, P ``(k, p, p)``, W, ``d Sigma / d nu`` and the per-pattern sums."""
    T = model.T
    Sigma = structure.matrix(nu, T)
    Phi = model.evaluate(Sigma, with_gradient=False).Phi
    J = sigma_jacobian(structure, T, nu)
    S_full, per_pattern = model.tilde_products(Sigma)
    P = -np.einsum("hab,abpq->hpq", J, S_full)
    W = 2.0 * np.linalg.pinv(_hessian(model, structure, nu))
    return Phi, P, W, J, per_pattern


def satterthwaite(
    model: MmrmModel, structure: CovarianceStructure, nu: np.ndarray
) -> SatterthwaitePieces:
    """The pieces of Satterthwaite's df at the estimates ``nu``."""
    Phi, P, W, _, _ = _pieces(model, structure, nu)
    dPhi = -np.einsum("pq,hqr,rs->hps", Phi, P, Phi)
    return SatterthwaitePieces(Phi, W, dPhi)


def _second_derivatives(structure: CovarianceStructure, T: int, nu: np.ndarray) -> np.ndarray:
    k = nu.size
    out = np.zeros((k, k, T, T))
    steps = 1e-4 * np.maximum(1.0, np.abs(nu))
    for h in range(k):
        for j in range(h + 1):
            eh, ej = np.zeros(k), np.zeros(k)
            eh[h], ej[j] = steps[h], steps[j]
            d = (
                structure.matrix(nu + eh + ej, T)
                - structure.matrix(nu + eh - ej, T)
                - structure.matrix(nu - eh + ej, T)
                + structure.matrix(nu - eh - ej, T)
            ) / (4.0 * steps[h] * steps[j])
            out[h, j] = out[j, h] = d
    return out


def kenward_roger(
    model: MmrmModel, structure: CovarianceStructure, nu: np.ndarray, linear: bool = False
) -> KenwardRoger:
    """Kenward-Roger's adjusted covariance and df pieces at the REML estimates ``nu``;
    ``linear`` leaves out the second derivatives of Sigma (SAS's ``ddfm=kr(linear)``)."""
    T = model.T
    Phi, P, W, J, per_pattern = _pieces(model, structure, nu)
    Sigma = structure.matrix(nu, T)
    k, p = nu.size, model.p
    Q = np.zeros((k, k, p, p))
    for pat, Sk in zip(model.patterns, per_pattern, strict=True):
        v = pat.visits
        Jk = J[:, v][:, :, v]
        inv = np.linalg.inv(Sigma[np.ix_(v, v)])
        B = np.einsum("hab,bc,jcd->hjad", Jk, inv, Jk)
        Q += np.einsum("hjad,adpq->hjpq", B, Sk)
    R = np.zeros_like(Q)
    if not linear:
        S_full, _ = model.tilde_products(Sigma)
        R = np.einsum("hjab,abpq->hjpq", _second_derivatives(structure, T, nu), S_full)
    PPhiP = np.einsum("hpq,qr,jrs->hjps", P, Phi, P)
    correction = np.einsum("hj,hjpq->pq", W, Q - PPhiP - 0.25 * R)
    Phi_A = Phi + 2.0 * Phi @ correction @ Phi
    Phi_P_Phi = np.einsum("pq,hqr,rs->hps", Phi, P, Phi)
    return KenwardRoger(Phi=Phi, Phi_A=Phi_A, Phi_P_Phi=Phi_P_Phi, W=W)
