"""The gradient of the Laplace deviance over (theta, beta) for one scalar random-effect term
on a canonical link.

With one grouping factor and one column ``z`` of Z, ``eta_i = o_i + x_i'beta + t z_i u_j``
(``j`` the row's level, ``t = theta``), and the Laplace deviance at the conditional modes
``u(t, beta)`` is

    D = -2 sum_i l_i(eta_i) + |u|^2 + sum_j log L_j^2,    L_j^2 = 1 + t^2 S_j,

with ``l_i`` the row's log-density, ``S_j = sum_{i in j} w_i z_i^2`` and the PIRLS weights
``w_i = prior_i mu'(eta_i)``. On a canonical link (binomial logit, Poisson log)
``dl_i / deta_i = prior_i (y_i - mu_i)`` and ``dw_i / deta_i = w_i V'(mu_i)`` (``V`` the
variance function), and the modes solve ``F_j = u_j - t s_j = 0`` with
``s_j = sum_{i in j} z_i dl_i/deta_i``, whose derivative in ``u_j`` is ``L_j^2``. So, by the
implicit function theorem,

* ``du_j / dbeta = -t (Z'WX)_j / L_j^2`` and ``du_j / dt = (s_j - t S_j u_j) / L_j^2``;
* the penalized deviance changes only explicitly (the modes are stationary):
  ``-2 X' dl/deta`` in beta and ``-2 sum_j s_j u_j`` in t;
* the log-determinant changes explicitly in t (``2 t S_j / L_j^2``) and through the
  weights: with ``a_i = t^2 z_i^2 (dw_i/deta_i) / L_j^2`` and ``G_j = sum_{i in j} a_i z_i``,
  ``X'a + t G'(du/dbeta)`` in beta and ``sum_j G_j (u_j + t du_j/dt)`` in t.

Every piece is a sum over rows or levels, O(n) in all. The modes PIRLS returns are
stationary only to its tolerance, so the term ``(dPD/du) (du/dphi)`` is added as well: the
gradient is then the derivative along the path of the modes to second order in their
error.
"""

from __future__ import annotations

import numpy as np

from mixedmodels.glmm.pirls import GlmmProblem, PirlsState

__all__ = ["has_laplace_gradient", "laplace_gradient"]


def has_laplace_gradient(problem: GlmmProblem) -> bool:
    """Whether :func:`laplace_gradient` applies: one grouping factor with one scalar term,
    on a canonical link, for a family without a dispersion."""
    blocks = problem.blocks
    fixed = not problem.family.has_dispersion and problem.zi_X is None
    return len(blocks) == 1 and blocks[0].k == 1 and problem.canonical and fixed


def laplace_gradient(problem: GlmmProblem, state: PirlsState) -> tuple[np.ndarray, np.ndarray]:
    """The gradient of the Laplace deviance over (theta, beta) at a PIRLS state, and the
    derivatives of the modes.

    Parameters
    ----------
    problem : GlmmProblem
        One for which :func:`has_laplace_gradient` holds.
    state : PirlsState
        The modes at (theta, beta), with beta fixed (PIRLS run with a given beta).

    Returns
    -------
    gradient : numpy.ndarray
        ``(1 + p,)``: the derivative of :meth:`GlmmProblem.laplace` in theta, then beta.
    modes : numpy.ndarray
        ``(m, 1 + p)``: the derivatives of the modes u in theta and beta (a first-order
        prediction of the modes at a nearby point).
    """
    t = float(state.theta[0])
    mu, u = state.mu, state.u
    z = problem.matrices[0][:, 0]
    ones = problem.intercepts[0]
    X = problem.X
    score = np.subtract(problem.y, mu)  # dl/deta
    # on a canonical link d mu / d eta = V(mu), so dw/deta = w V'(mu)
    w = np.array(problem.family.variance(mu), dtype=np.float64)
    w_eta = w * problem.family.variance_derivative(mu)
    if not problem.unit_prior:
        score *= problem.prior
        w *= problem.prior
        if w_eta is not w:
            w_eta *= problem.prior
    wz = w if ones else w * z
    S = problem.level_sums(wz if ones else wz * z)
    s = problem.level_sums(score if ones else score * z)
    wzx = problem.level_sums_columns(wz, X)  # (m, p): (Z'WX)_j
    L2 = 1.0 + t * t * S
    du_beta = wzx * (-t / L2)[:, None]
    du_t = (s - t * S * u) / L2
    c = (t * t) / L2
    a = np.take(c, problem.codes[0], mode="clip")
    a *= w_eta
    if not ones:
        a *= z * z
    G = problem.level_sums(a if ones else a * z)
    residual = 2.0 * (u - t * s)  # dPD/du: zero at the exact modes
    g_t = (
        -2.0 * float(s @ u)
        + 2.0 * t * float(np.sum(S / L2))
        + float(G @ (u + t * du_t))
        + float(residual @ du_t)
    )
    a -= 2.0 * score  # one pass over X for -2 X' dl/deta + X'a
    g_beta = a @ X + (t * G + residual) @ du_beta
    return np.concatenate([[g_t], g_beta]), np.column_stack([du_t, du_beta])
