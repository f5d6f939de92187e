"""The analytic gradient of the profiled objective for a model with one grouping factor.

With one factor, every quantity is a stack of small per-level blocks, so the gradient
costs a few block products. For theta_i, the element (r, c) of the template T, with
``M = T'AT + I`` per level (A = Z'WZ), ``u`` the spherical modes, ``c = Z'W(y - X beta)
- A T u`` the per-level score and ``S = R_X'R_X``:

* d log|L|^2 = 2 sum_l (M^{-1} T'A)[c, r]
* d r^2 = -2 sum_l c[r] u[c] (the envelope theorem: beta and u are optimal)
* d log|R_X|^2 = -2 sum_l ((Q S^{-1} B')[c, r] - (Q S^{-1} Q' T'A)[c, r]), where
  ``B = Z'WX`` and ``Q = M^{-1} T'B``.

ML: d(objective) = d log|L|^2 + n d r^2 / r^2. REML adds d log|R_X|^2 and uses n - p.
"""

from __future__ import annotations

import numpy as np

from mixedmodels.linalg.smallblocks import inverse_lower_blocks, multiply_blocks
from mixedmodels.lmm.solution import Solution
from mixedmodels.lmm.workspace import Factorization, Workspace

__all__ = ["objective_gradient"]


def objective_gradient(
    ws: Workspace,
    fac: Factorization,
    sol: Solution,
    position: np.ndarray,
    reml: bool,
) -> np.ndarray:
    """Gradient of :meth:`Workspace.objective` over theta (one grouping factor only).

    Parameters
    ----------
    position : numpy.ndarray
        ``(n_theta, 3)``: block (always 0 here), row and column of each theta element.
    """
    if fac.LTT is not None:
        raise ValueError("the analytic gradient covers models with one grouping factor")
    n, p = ws.n, ws.p
    T = fac.templates[0]
    A = ws._zz0  # (k, k, m)
    Bx = ws._bz0[:, :p, :]  # (k, p, m)
    by = ws._bz0[:, p, :]  # (k, m)
    Linv = inverse_lower_blocks(fac.L0)
    Minv = multiply_blocks(Linv, Linv, transpose_a=True)
    TA = np.tensordot(T.T, A, axes=([1], [0]))  # (k, k, m): T'A
    MTA = multiply_blocks(Minv, TA)
    u = sol.u0.T  # (k, m)
    b = T @ u  # (k, m)
    score = by - np.tensordot(sol.beta, Bx, axes=([0], [1])) - np.einsum("abm,bm->am", A, b)
    r2 = sol.rss_penalized
    rows, cols = position[:, 1], position[:, 2]
    d_logdet = 2.0 * MTA[cols, rows].sum(axis=-1)
    d_r2 = -2.0 * np.einsum("im,im->i", score[rows], u[cols])
    dof = n - p if reml else n
    grad = d_logdet + dof * d_r2 / r2
    if reml and p:
        P = np.tensordot(T.T, Bx, axes=([1], [0]))  # (k, p, m): T'B
        Q = multiply_blocks(Minv, P)  # (k, p, m)
        QS = np.tensordot(Q, sol.var_beta_unscaled, axes=([1], [0])).transpose(0, 2, 1)
        QSB = multiply_blocks(QS, Bx, transpose_b=True)  # (k, k, m)
        W = multiply_blocks(QS, Q, transpose_b=True)  # (k, k, m)
        WTA = multiply_blocks(W, TA)
        grad = grad - 2.0 * (QSB[cols, rows] - WTA[cols, rows]).sum(axis=-1)
    return np.asarray(grad, dtype=np.float64)
