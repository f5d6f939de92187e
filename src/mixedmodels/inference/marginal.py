"""The marginal covariance's inverse between the model matrices, from the blocks alone.

With ``Sigma = sigma^2 (W^{-1} + Z Lambda Lambda' Z')`` (W the prior weights) and
``Lambda' Z'WZ Lambda + I = L_ZZ L_ZZ'``, the Woodbury identity (Henderson & Searle 1981)
gives ``sigma^2 Sigma^{-1} = W - W Z Lambda (L_ZZ L_ZZ')^{-1} Lambda' Z'W``, so for any
two of the model matrices ``U, V`` in ``{Z, X}``

    sigma^2 U' Sigma^{-1} V = U'WV - (L_ZZ^{-1} Lambda' Z'WU)' (L_ZZ^{-1} Lambda' Z'WV):

every product is the cross-product block ``U'WV`` less a product of two solves with the
fit's factor (:func:`mixedmodels.core.lower_solve.solve_lambda`). ``X' Sigma^{-1} X`` is
``R_X'R_X / sigma^2``, the factor's own fixed-effects block, and the REML projection
``M = Sigma^{-1} - Sigma^{-1} X Phi X' Sigma^{-1}`` (``Phi = (X' Sigma^{-1} X)^{-1}``)
gives ``Z'MZ = Z' Sigma^{-1} Z - Z' Sigma^{-1} X Phi X' Sigma^{-1} Z``.

The products are those of the model's conditioned matrices (the ones its blocks hold);
``Sigma`` is the same for them. They are dense: ``Z'MZ`` is q x q for q random effects,
and nothing here is n x n.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from mixedmodels.core.lower_solve import solve_lambda
from mixedmodels.core.workspace import Factorization
from mixedmodels.linalg.dense import solve_lower
from mixedmodels.lmm.model import LinearMixedModel

__all__ = ["MarginalProducts", "marginal_products", "random_effects_blocks"]


def random_effects_blocks(model: LinearMixedModel) -> list[tuple[int, int, int]]:
    """First row, levels m and coefficients k of every storage block of the random
    effects, in the order of the model's blocks (level-major within each)."""
    m0, k0, _ = model.products.zz0.shape
    out = [(0, int(m0), int(k0))]
    start = m0 * k0
    for m, k in model.tail_shapes:
        out.append((int(start), int(m), int(k)))
        start += m * k
    return out


@dataclass(frozen=True)
class MarginalProducts:
    """Products with ``Sigma^{-1}`` of the conditioned model matrices.

    Attributes
    ----------
    zx : numpy.ndarray
        ``(q, p)``: ``Z' Sigma^{-1} X``.
    xx : numpy.ndarray
        ``(p, p)``: ``X' Sigma^{-1} X``.
    zmz : numpy.ndarray
        ``(q, q)``: ``Z' M Z``, M the REML projection.
    n : int
        Number of observations.
    """

    zx: np.ndarray
    xx: np.ndarray
    zmz: np.ndarray
    n: int


def _dense_zwz(model: LinearMixedModel) -> np.ndarray:
    """``Z'WZ`` as one dense q x q array."""
    A = model.products
    m0, k0, _ = A.zz0.shape
    q0 = m0 * k0
    q = q0 + model.workspace.tail_size
    out = np.zeros((q, q))
    rows = (np.arange(m0)[:, None, None] * k0 + np.arange(k0)[None, :, None]).repeat(k0, axis=2)
    out[rows, rows.transpose(0, 2, 1)] = A.zz0
    if A.zt0 is not None:
        assert A.ztt is not None
        cross = A.zt0.toarray()
        out[q0:, :q0] = cross
        out[:q0, q0:] = cross.T
        out[q0:, q0:] = A.ztt.toarray() if sp.issparse(A.ztt) else A.ztt
    return out


def marginal_products(
    model: LinearMixedModel, fac: Factorization, sigma: float
) -> MarginalProducts:
    """:class:`MarginalProducts` at the factorization ``fac`` (of ``model``) and ``sigma``.

    Three dense q x q arrays are alive at the peak (``Z'WZ``, the tail's rows of
    ``L_ZZ^{-1} Lambda' Z'WZ`` and their cross-product).
    """
    ws = model.workspace
    A = model.products
    p = model.p
    m0, k0, _ = A.zz0.shape
    q0 = m0 * k0
    # the first factor's rows of Z'WZ, kept sparse: blockdiag(Z0'WZ0) beside Z0'WZ_T
    first = ws.blockdiag(ws._zz0)
    if A.zt0 is not None:
        first = sp.hstack([first, ws._zt0_t], format="csr")
    zz = _dense_zwz(model)  # becomes sigma^2 Z' Sigma^{-1} Z, then sigma^2 Z'MZ, in place
    v0, vT = solve_lambda(ws, fac, first, zz[q0:] if A.zt0 is not None else None)
    zx_blocks = np.asarray(A.bz0[:, :, :p]).reshape(q0, p)
    R = zx_blocks if A.bzt is None else np.vstack([zx_blocks, A.bzt[:, :p]])
    e0, eT = solve_lambda(ws, fac, zx_blocks, None if A.bzt is None else A.bzt[:, :p])
    product = sp.csr_matrix(v0.T @ v0)
    product.sum_duplicates()  # each entry once, for the subtraction in place
    gram = product.tocoo()
    zz[gram.row, gram.col] -= gram.data
    zx = R - v0.T @ e0
    if vT is not None and eT is not None:
        zz -= vT.T @ vT
        zx -= vT.T @ eT
        del vT
    LXX = fac.LBB[:p, :p]
    N = solve_lower(LXX, np.ascontiguousarray(zx.T)).T  # zx R_X^{-1}
    zz -= N @ N.T
    s2 = sigma * sigma
    zz /= s2
    return MarginalProducts(zx=zx / s2, xx=(LXX @ LXX.T) / s2, zmz=zz, n=model.n)
