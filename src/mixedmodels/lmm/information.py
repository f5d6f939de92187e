"""The average information of the profiled criterion: a Hessian from one factorization.

With ``V = W^{-1} + Z Lambda Lambda' Z'`` (the residual variance factored out), P the
REML projection ``V^{-1} - V^{-1} X (X'V^{-1}X)^{-1} X'V^{-1}``, ``V_i`` the derivative
of V over the i-th theta and ``s = y'Py = r^2``, the profiled criterion's gradient is
``tr(P V_i) - dof a_i / s`` with ``a_i = y'P V_i P y``. Its Hessian holds traces
``tr(P V_i P V_j)`` that cost far more than the gradient; their expectations are
those of ``y'P V_i P V_j P y / sigma^2``, which a solve gives. Replacing each trace by
that quadratic form is the average-information idea of REML software (Gilmour,
Thompson and Cullis 1995, Biometrics 51, 1440-1450), here with the rank-one term that
profiling out sigma adds:

``H_ij ~ dof (b_ij / s - a_i a_j / s^2)``, ``b_ij = q_i' P q_j``, ``q_i = V_i P y``.

Everything is formed in the space of the random effects. ``P y`` has the score
``c = Z'P y`` (:func:`~mixedmodels.lmm.gradient.score`), so ``q_i = Z w_i`` with
``w_i = (d Lambda Lambda' / d theta_i) c``, and the cross-products of the columns
``[X y q_1 ... q_k]`` follow from A's blocks. The factorization's own rows for ``[X y]``
(:meth:`~mixedmodels.core.workspace.Workspace.fixed_rows`), run on these wider columns,
give ``[X y q]' V^{-1} [X y q]``. Eliminating X from it leaves ``[y q]' P [y q]``, whose
entries are s, the a_i and the b_ij: k more triangular solves with the factor that the
gradient already computed.

It is a good starting Hessian near the optimum (there it is within a few percent of the
true one), where the fit's Newton steps start from a moment estimate; BFGS updates
correct it as they go.
"""

from __future__ import annotations

import numpy as np

from mixedmodels.core.solution import Solution
from mixedmodels.core.workspace import Factorization, Workspace
from mixedmodels.lmm.gradient import score

__all__ = ["average_information"]


def _covariance_derivative(z: np.ndarray, T: np.ndarray, r: int, c: int) -> np.ndarray:
    """``(E_rc T' + T E_cr) z_l`` for every level's row ``z_l`` of ``z`` (``(m, k)``):
    the derivative of ``T T'`` over its entry ``(r, c)``, applied level by level."""
    w = np.outer(z[:, r], T[:, c])
    w[:, r] += z @ T[:, c]
    return w


def average_information(
    ws: Workspace,
    fac: Factorization,
    sol: Solution,
    position: np.ndarray,
    reml: bool,
) -> np.ndarray:
    """The average-information approximation of the criterion's Hessian over theta.

    Parameters
    ----------
    ws, fac, sol
        The workspace, its factorization at theta and the solution there.
    position : numpy.ndarray
        ``(n_theta, 3)``: each theta's block and its row and column in the block's
        template (:attr:`ThetaMap.position`).
    reml : bool
        REML (degrees of freedom ``n - p``) or ML (``n``).

    Returns
    -------
    numpy.ndarray
        ``(n_theta, n_theta)``, symmetric.
    """
    p = ws.p
    A = ws.products
    c0, cT = score(ws, sol)
    k0, m0 = c0.shape
    k = position.shape[0]
    offsets = ws._tail_offsets
    # w_i for every theta: the first factor's part (k0, m0) and the tail's (q_T,)
    w0 = np.zeros((k, k0, m0))
    wT = np.zeros((k, ws.tail_size))
    for i, (blk, r, c) in enumerate(position):
        T = fac.templates[blk]
        if blk == 0:
            w0[i] = _covariance_derivative(c0.T, T, r, c).T
        else:
            assert cT is not None
            m, kb = ws.tail_shapes[blk - 1]
            rows = slice(int(offsets[blk - 1]), int(offsets[blk - 1]) + m * kb)
            wT[i, rows] = _covariance_derivative(cT[rows].reshape(m, kb), T, r, c).ravel()
    # the products of q_i = Z w_i with Z0, Z_T, [X y] and each other
    q0 = np.einsum("abm,ibm->iam", ws._zz0, w0)  # Z0'W q_i, (k, k0, m0)
    qb = np.einsum("apm,iam->ip", ws._bz0, w0)  # [X y]'W q_i, (k, p + 1)
    qT = None
    if cT is not None:
        assert A.bzt is not None
        level_major = w0.transpose(0, 2, 1).reshape(k, -1)  # (k, m0 k0)
        q0 = q0 + (ws._zt0_t @ wT.T).T.reshape(k, m0, k0).transpose(0, 2, 1)
        qT = (ws._zt0 @ level_major.T).T + (ws.ztt_operator() @ wT.T).T  # (k, q_T)
        qb = qb + wT @ A.bzt
    qq = np.einsum("iam,jam->ij", w0, q0)
    if qT is not None:
        qq = qq + wT @ qT.T
    qq = 0.5 * (qq + qq.T)
    bz0 = np.concatenate([ws._bz0, q0.transpose(1, 0, 2)], axis=1)
    bzt = None if qT is None or A.bzt is None else np.hstack([A.bzt, qT.T])
    bb = np.block([[A.bb, qb.T], [qb, qq]])
    _, _, S = ws.fixed_rows(fac.templates, fac.G, fac.tail, bz0, bzt, bb)
    # eliminate X: [y q]' P [y q]
    if p:
        S = S[p:, p:] - S[p:, :p] @ np.linalg.solve(S[:p, :p], S[:p, p:])
    s = S[0, 0]
    a = S[0, 1:]
    b = S[1:, 1:]
    dof = ws.n - p if reml else ws.n
    H = dof * (b / s - np.outer(a, a) / s**2)
    symmetric: np.ndarray = 0.5 * (H + H.T)
    return symmetric
