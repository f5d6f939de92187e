"""Solves with the random-effects part of the blocked factor, for many right-hand sides.

The workspace factors ``Lambda'Z'WZ Lambda + I = L_ZZ L_ZZ'`` blockwise (Bates et al.
2015, section 3; :mod:`mixedmodels.core.workspace`): the first grouping factor's levels
give the diagonal blocks ``L0``, the block below them is ``L_T0 = Lambda_T' Z_T'WZ0
blockdiag(G)`` with ``G = T0 L0^{-T}``, and the tail has its own factor ``L_TT``. Forward
substitution on that structure, for a right-hand side ``Lambda' r``, is

    x0 = L0^{-1} T0' r0 (level by level),
    x_T = L_TT^{-1} Lambda_T' (r_T - Z_T'WZ0 blockdiag(G) x0),

which the fit itself does for one right-hand side at a time (the rows of ``[X y]`` below
the factor). Small-sample inference needs it for a whole matrix (``Lambda'Z'WZ``, q
columns), whose first-factor rows are sparse: they stay sparse here, and only the tail's
rows become dense.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mixedmodels.core.workspace import Factorization, Workspace

__all__ = ["solve_lambda"]


def _block_diagonal(ws: Workspace, blocks: np.ndarray) -> sp.csr_matrix:
    """A first-factor ``(k0, k0, m0)`` component-major stack as a sparse block diagonal."""
    return ws.blockdiag(np.ascontiguousarray(blocks))


def solve_lambda(
    ws: Workspace,
    fac: Factorization,
    r0: sp.csr_matrix | np.ndarray,
    rT: np.ndarray | None,
) -> tuple[sp.csr_matrix | np.ndarray, np.ndarray | None]:
    """``L_ZZ^{-1} Lambda' [r0; r_T]`` for a matrix split at the first factor's rows.

    Parameters
    ----------
    ws, fac : Workspace, Factorization
        The model's workspace and its factor at one theta (of the conditioned matrices).
    r0 : scipy.sparse.csr_matrix or numpy.ndarray
        ``(m0 k0, c)``: the first factor's rows, level-major.
    rT : numpy.ndarray or None
        ``(q_T, c)``: the tail's rows (None without a tail).

    Returns
    -------
    x0 : scipy.sparse.csr_matrix or numpy.ndarray
        ``L0^{-1} Lambda_0' r0``, sparse when ``r0`` is.
    xT : numpy.ndarray or None
        The tail's rows of the solution, **in the tail factor's own order** (a sparse
        tail permutes them): sums over the rows, such as ``x'x``, do not depend on it.
    """
    T0 = fac.templates[0]
    left = np.einsum("abm,cb->acm", fac.L0_inverse, T0)  # L0^{-1} T0' in every level
    product = _block_diagonal(ws, left) @ r0
    x0 = product if isinstance(product, np.ndarray) else sp.csr_matrix(product)
    if fac.tail is None or rT is None:
        return x0, None
    coupling = ws._zt0 @ (_block_diagonal(ws, fac.G) @ x0)  # Z_T'WZ0 blockdiag(G) x0
    dense = coupling if isinstance(coupling, np.ndarray) else coupling.toarray()
    rhs = ws._lambda_t_left(fac.templates[1:], rT - dense)
    return x0, fac.tail.solve_lower(np.ascontiguousarray(rhs))
