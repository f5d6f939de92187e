"""The terms of Kenward-Roger's adjustment, in the space of the random effects.

pbkrtest's parametrization (Halekoh & Hojsgaard 2014): one variance parameter ``s_r`` per
element on and below the diagonal of every term's covariance, and the residual variance
``sigma^2``. The marginal covariance is linear in them, ``Sigma = sum_r s_r G_r + sigma^2
Omega^{-1}`` (``Omega`` the prior weights), with ``G_r = Z D_r Z'`` where ``D_r`` holds
``E_ab + E_ba`` (``E_aa`` on the diagonal) in every level of the term. The adjustment
reads

* ``P_r = -X' Sigma^{-1} G_r Sigma^{-1} X``,
* ``U_rs = Q_rs - P_r Phi P_s = X' Sigma^{-1} G_r M G_s Sigma^{-1} X``,
* ``I_rs = tr(M G_r M G_s) / 2``, the expected REML information, and ``W = I^{-1}``,

with ``Phi = (X' Sigma^{-1} X)^{-1}`` and ``M`` the REML projection. For a term's
parameters, with ``Y_r = D_r Z' Sigma^{-1} X`` and ``B = Z'MZ``
(:mod:`mixedmodels.inference.marginal`):

* ``P_r = -Y_r' Z' Sigma^{-1} X`` and ``U_rs = Y_r' B Y_s``;
* ``tr(M G_r M G_s) = tr(D_r B D_s B) = sum_{l, l'} tr(Delta_r B_ll' Delta_s B_l'l)``
  over the levels ``l`` of r's term and ``l'`` of s's (``Delta`` the per-level block of
  ``D``), which contracts the two templates with a ``k^2 x k^2`` Gram matrix of B's
  ``k x k`` blocks;
* ``tr(M G_r M Sigma) = tr(G_r M) = tr(D_r B)`` and ``tr(M Sigma M Sigma) = n - p``,
  since ``M Sigma M = M``.

The residual's ``G = Omega^{-1}`` is ``(Sigma - sum_r s_r G_r) / sigma^2``: its terms are
the same combinations of the terms' and of ``Sigma``'s own, for which ``P = -X' Sigma^{-1}
X`` and ``U = 0`` (``M X = 0``). So ``J``, the matrix taking (the terms' ``G_r``,
``Sigma``) to (``G_r``, ``Omega^{-1}``), gives ``I = J I_g J'``, ``P = J P_g`` and ``U =
J U_g J'``.

Everything is computed on the model's conditioned matrices ``X_c = X S``, ``Z_c = Z M``
(:mod:`mixedmodels.design.conditioning`), whose ``Sigma`` is the same, and the variance
parameters are those of the conditioned terms, the covariance elements of ``b_c = M^{-1}
b``. They are a linear reparametrization of pbkrtest's (``Cov(b) = M Cov(b_c) M'``), to
which the adjustment is invariant: with ``s = T t``, ``P``, ``U`` and ``I`` transform
with ``T`` and ``W`` with ``T^{-1}``, so ``sum W_rs U_rs``, ``A1`` and ``A2`` do not
change. The conditioned parameters keep the information well scaled: for a random slope
on ``Days + 2010`` in sleepstudy, pbkrtest's parametrization has an information matrix of
condition number 1e22, and the n x n formulas in it give the slope an adjusted standard
error of 1.87 where the model (the same as on ``Days``) has 1.55.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mixedmodels.inference.marginal import MarginalProducts
from mixedmodels.lmm.model import LinearMixedModel

__all__ = ["KRTerms", "VarianceParameter", "kr_terms", "variance_parameters"]


@dataclass(frozen=True)
class VarianceParameter:
    """One variance or covariance of a random-effects term.

    Attributes
    ----------
    block : int
        The storage block of its term.
    delta : numpy.ndarray
        ``(k, k)``: the derivative of each level's covariance in the block with respect
        to the parameter.
    value : float
        The estimate.
    """

    block: int
    delta: np.ndarray
    value: float


def variance_parameters(
    model: LinearMixedModel, templates: list[np.ndarray], sigma: float
) -> list[VarianceParameter]:
    """The variance parameters of the terms of the conditioned matrices, for their
    ``templates`` (Lambda_c of every block): term by term in the frame's order, each term's
    elements in row-major order of its upper triangle."""
    terms = sorted(
        (term, block, start, k)
        for block, columns in enumerate(model.block_columns)
        for term, start, k in columns
    )
    out = []
    for _, block, start, k in terms:
        T = templates[block][start : start + k, start : start + k]
        cov = sigma * sigma * (T @ T.T)
        size = templates[block].shape[0]
        for a in range(k):
            for c in range(a, k):
                D = np.zeros((size, size))
                D[start + a, start + c] = D[start + c, start + a] = 1.0
                out.append(VarianceParameter(block, D, float(cov[a, c])))
    return out


@dataclass(frozen=True)
class KRTerms:
    """The adjustment's terms for the parameters (the terms', then ``sigma^2``).

    Attributes
    ----------
    information : numpy.ndarray
        ``(r, r)``: the expected REML information ``tr(M G_r M G_s) / 2``.
    P : numpy.ndarray
        ``(r, p, p)``.
    U : numpy.ndarray
        ``(r, r, p, p)``: ``Q_rs - P_r Phi P_s``.
    Phi : numpy.ndarray
        ``(p, p)``: ``(X' Sigma^{-1} X)^{-1}``.
    """

    information: np.ndarray
    P: np.ndarray
    U: np.ndarray
    Phi: np.ndarray


def _pair_gram(X: np.ndarray) -> np.ndarray:
    """``G[b, c, a, d] = sum_{l, l'} X[l, b, l', c] X[l, a, l', d]`` of a block pair
    ``X`` of B, shaped ``(m_b, k_b, m_c, k_c)``."""
    kb, kc = X.shape[1], X.shape[3]
    out = np.empty((kb, kc, kb, kc))
    pairs = [(b, c) for b in range(kb) for c in range(kc)]
    for i, (b, c) in enumerate(pairs):
        for a, d in pairs[i:]:
            value = np.einsum("ij,ij->", X[:, b, :, c], X[:, a, :, d])
            out[b, c, a, d] = out[a, d, b, c] = value
    return out


def kr_terms(
    products: MarginalProducts,
    parameters: list[VarianceParameter],
    blocks: list[tuple[int, int, int]],
    sigma: float,
) -> KRTerms:
    """:class:`KRTerms` from the marginal products and the terms' variance parameters.

    Parameters
    ----------
    products : MarginalProducts
    parameters : list of VarianceParameter
    blocks : list of (first row, m, k)
        The storage blocks of the random effects.
    sigma : float
        The residual standard deviation.
    """
    zx, B = products.zx, products.zmz
    p = zx.shape[1]
    r = len(parameters)
    rows = [slice(start, start + m * k) for start, m, k in blocks]
    shaped = [(m, k) for _, m, k in blocks]
    Y = []
    for par in parameters:
        m, k = shaped[par.block]
        part = zx[rows[par.block]].reshape(m, k, p)
        Y.append(np.einsum("ab,lbp->lap", par.delta, part).reshape(m * k, p))
    info = np.zeros((r + 1, r + 1))
    P = np.zeros((r + 1, p, p))
    U = np.zeros((r + 1, r + 1, p, p))
    grams: dict[tuple[int, int], np.ndarray] = {}
    for i, pi in enumerate(parameters):
        bi = pi.block
        P[i] = -Y[i].T @ zx[rows[bi]]
        diagonal = B[rows[bi], rows[bi]].reshape(*shaped[bi], *shaped[bi])
        info[i, r] = info[r, i] = 0.5 * np.einsum("ab,iaib->", pi.delta, diagonal)
        BY = B[:, rows[bi]] @ Y[i]
        for j in range(i, r):
            pj = parameters[j]
            U[j, i] = Y[j].T @ BY[rows[pj.block]]
            U[i, j] = U[j, i].T
            first, second = (pi, pj) if bi <= pj.block else (pj, pi)
            key = (first.block, second.block)
            if key not in grams:
                pair = B[rows[key[0]], rows[key[1]]]
                grams[key] = _pair_gram(pair.reshape(*shaped[key[0]], *shaped[key[1]]))
            trace = np.einsum("ab,cd,bcad->", first.delta, second.delta, grams[key])
            info[i, j] = info[j, i] = 0.5 * trace
    info[r, r] = 0.5 * (products.n - p)
    Phi = np.linalg.inv(products.xx)
    P[r] = -products.xx
    s2 = sigma * sigma
    J = np.eye(r + 1)
    J[r, :r] = -np.array([par.value for par in parameters]) / s2
    J[r, r] = 1.0 / s2
    return KRTerms(
        information=J @ info @ J.T,
        P=np.einsum("ia,apq->ipq", J, P),
        U=np.einsum("ia,jb,abpq->ijpq", J, J, U),
        Phi=Phi,
    )
