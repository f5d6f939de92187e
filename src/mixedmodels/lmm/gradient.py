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

from mixedmodels.linalg.smallblocks import inverse_lower_blocks, to_level_major
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
    # level-major (m, k, k) stacks: a handful of batched products, whatever k
    A = ws.zz0_levels  # (m, k, k)
    Bx = ws.bz0_levels[:, :, :p]  # (m, k, p)
    by = ws.bz0_levels[:, :, p]  # (m, k)
    Linv = to_level_major(inverse_lower_blocks(fac.L0))  # (m, k, k)
    Minv = np.matmul(Linv.transpose(0, 2, 1), Linv)
    TA = np.matmul(T.T, A)  # T'A
    MTA = np.matmul(Minv, TA)
    u = sol.u0  # (m, k)
    b = u @ T.T  # (m, k)
    score = by - Bx @ sol.beta - np.matmul(A, b[:, :, None])[:, :, 0]
    r2 = sol.rss_penalized
    rows, cols = position[:, 1], position[:, 2]
    d_logdet = 2.0 * MTA[:, cols, rows].sum(axis=0)
    d_r2 = -2.0 * np.einsum("mi,mi->i", score[:, rows], u[:, cols])
    dof = n - p if reml else n
    grad = d_logdet + dof * d_r2 / r2
    if reml and p:
        Q = np.matmul(Minv, np.matmul(T.T, Bx))  # (m, k, p): M^{-1} T'B
        QS = Q @ sol.var_beta_unscaled  # S^{-1} is symmetric
        QSB = np.matmul(QS, Bx.transpose(0, 2, 1))  # (m, k, k)
        WTA = np.matmul(np.matmul(QS, Q.transpose(0, 2, 1)), TA)
        grad = grad - 2.0 * (QSB - WTA)[:, cols, rows].sum(axis=0)
    return np.asarray(grad, dtype=np.float64)
