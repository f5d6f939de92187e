"""Satterthwaite's and Kenward-Roger's pieces from the marginal covariance itself, block by
block, for models whose covariance is not linear in its parameters: residual correlation
and variance structures (``mm.gls`` and ``mm.lmm(..., correlation=, variance=)``).

The rows fall into independent components (rows linked by a random-effects level or a
residual structure's group); ``V`` is block-diagonal over them, and the components of one
size are stacked, so every step is a batch of small dense matrices. The parameters
``nu`` are those SAS PROC MIXED reports: the random effects' variances and covariances,
the residual variance ``sigma^2`` and the structures' parameters on nlme's natural
scales (Phi, the SD ratios, ...). With ``Xt_c = V_c^{-1} X_c``, ``V_h = dV / d nu_h``
and ``V_hj`` the second derivatives (central differences of ``V``):

* ``Phi = (sum_c X_c' Xt_c)^{-1}``, ``P_h = -sum_c Xt_c' V_h Xt_c``;
* ``W = 2 H^{-1}``, ``H`` the observed Hessian of the REML (or ML) criterion in ``nu``,
  exactly from ``V_h`` and ``V_hj`` (below; differences of the criterion itself lose
  half the digits where a variance is small);
* Kenward & Roger (1997): ``Q_hj = sum_c Xt_c' V_h V_c^{-1} V_j Xt_c``,
  ``R_hj = sum_c Xt_c' V_hj Xt_c`` and
  ``Phi_A = Phi + 2 Phi (sum_hj W_hj (Q_hj - P_h Phi P_j - R_hj / 4)) Phi``;
* Satterthwaite: ``d Phi / d nu_h = -Phi P_h Phi`` with ``A = W``.

With ``e = V^{-1}(y - X beta)`` and ``F_h = Xt' V_h e``, the Hessian is (Harville 1977)
``tr(P V_hj) - tr(P V_h P V_j) + 2 (sum_c e_c' V_h V_c^{-1} V_j e_c - F_h' Phi F_j) -
sum_c e_c' V_hj e_c`` for REML, ``P = V^{-1} - Xt Phi Xt'``, so that
``tr(P V_h P V_j) = sum_c tr(V_c^{-1} V_h V_c^{-1} V_j) - 2 tr(Phi Q_hj) +
tr(Phi P_h Phi P_j)``; for ML ``V^{-1}`` takes ``P``'s place in the two traces.

This is the form of :mod:`mixedmodels.mmrm.inference`, which matches SAS; there the
covariance is one matrix shared by every subject, here each component has its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from mixedmodels.errors import ModelSpecError
from mixedmodels.inference.kenward_roger import KenwardRoger
from mixedmodels.inference.satterthwaite import SatterthwaitePieces

__all__ = ["Components", "DenseCovariance", "components", "dense_pieces", "natural_inverse"]

#: The largest component whose covariance is formed densely.
MAX_COMPONENT_ROWS = 3000
#: Relative step of the differences in nu.
STEP = 1e-4


@dataclass(frozen=True)
class Components:
    """The independent components of the rows, those of one size stacked: ``rows[s]`` is
    ``(G, m)``, the rows of ``G`` components of ``m`` rows each."""

    rows: tuple[np.ndarray, ...]


def components(n: int, codes: Sequence[np.ndarray], what: str) -> Components:
    """The connected components of rows that share a level of any of ``codes``."""
    offsets = np.cumsum([0] + [int(c.max()) + 1 if c.size else 0 for c in codes])
    rows = np.concatenate([np.arange(n)] * len(codes))
    cols = np.concatenate([n + offsets[i] + c for i, c in enumerate(codes)])
    size = n + int(offsets[-1])
    graph = sp.coo_matrix((np.ones(rows.size), (rows, cols)), shape=(size, size))
    _, labels = connected_components(graph, directed=False)
    labels = labels[:n]
    order = np.argsort(labels, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)
    sizes = np.array([g.size for g in groups])
    if sizes.max() > MAX_COMPONENT_ROWS:
        raise ModelSpecError(
            f"{what} needs the covariance of {sizes.max()} rows linked by the random effects "
            f"and residual structures as one dense matrix (at most {MAX_COMPONENT_ROWS} "
            "rows); use ddf='satterthwaite'"
        )
    return Components(
        tuple(np.stack([groups[i] for i in np.flatnonzero(sizes == m)]) for m in np.unique(sizes))
    )


def natural_inverse(
    natural: Callable[[np.ndarray], np.ndarray], u0: np.ndarray, target: np.ndarray
) -> np.ndarray:
    """The unconstrained parameters ``u`` with ``natural(u) = target``, by Newton's method
    from ``u0`` (each structure maps its own parameters one to one)."""
    u = np.array(u0, dtype=np.float64)
    for _ in range(50):
        gap = natural(u) - target
        if np.max(np.abs(gap), initial=0.0) < 1e-14 * max(1.0, float(np.max(np.abs(target)))):
            break
        J = np.empty((target.size, u.size))
        for i in range(u.size):
            h = 1e-6 * max(1.0, abs(float(u[i])))
            e = np.zeros(u.size)
            e[i] = h
            J[:, i] = (natural(u + e) - natural(u - e)) / (2 * h)
        u = u - np.linalg.solve(J, gap)
    return u


@dataclass(frozen=True)
class DenseCovariance:
    """A model's marginal covariance, block by block, as a function of ``nu``.

    Attributes
    ----------
    X, y : numpy.ndarray
        The fixed-effects matrix and the response (less any offset).
    parts : Components
    covariance : callable
        ``nu -> [V of each batch, (G, m, m)]``.
    nu : numpy.ndarray
        The estimates.
    reml : bool
    """

    X: np.ndarray
    y: np.ndarray
    parts: Components
    covariance: Callable[[np.ndarray], list[np.ndarray]]
    nu: np.ndarray
    reml: bool

    def criterion(self, nu: np.ndarray) -> float:
        """-2 log L (ML) or the REML criterion, less its constant, at ``nu``."""
        info = np.zeros((self.X.shape[1], self.X.shape[1]))
        score = np.zeros(self.X.shape[1])
        logdet = 0.0
        solved = []
        for rows, V in zip(self.parts.rows, self.covariance(nu), strict=True):
            L = np.linalg.cholesky(V)
            logdet += 2.0 * float(np.sum(np.log(np.diagonal(L, axis1=1, axis2=2))))
            Xc, yc = self.X[rows], self.y[rows]
            Xt = np.linalg.solve(V, Xc)
            yt = np.linalg.solve(V, yc[..., None])[..., 0]
            info += np.einsum("gmp,gmq->pq", Xc, Xt)
            score += np.einsum("gmp,gm->p", Xt, yc)
            solved.append((yc, yt))
        beta = np.linalg.solve(info, score)
        quad = sum(float(np.sum(yc * yt)) for yc, yt in solved) - float(
            score @ beta
        )  # r'V^{-1}r = y'V^{-1}y - beta'X'V^{-1}y
        value = logdet + quad
        if self.reml:
            value += float(np.linalg.slogdet(info)[1])
        return value

    def _steps(self) -> np.ndarray:
        steps: np.ndarray = STEP * np.maximum(np.abs(self.nu), 1.0)
        return steps

    def derivatives(self) -> tuple[list[list[np.ndarray]], list[list[list[np.ndarray]]]]:
        """``V_h`` per parameter and batch, and ``V_hj`` per pair (``j <= h``)."""
        x, h, k = self.nu, self._steps(), self.nu.size

        def at(*moves: tuple[int, float]) -> list[np.ndarray]:
            point = x.copy()
            for i, sign in moves:
                point[i] += sign * h[i]
            return self.covariance(point)

        first = []
        second: list[list[list[np.ndarray]]] = []
        base = self.covariance(x)
        for i in range(k):
            plus, minus = at((i, 1.0)), at((i, -1.0))
            first.append([(a - b) / (2 * h[i]) for a, b in zip(plus, minus, strict=True)])
            row = []
            for j in range(i):
                pp, pm = at((i, 1.0), (j, 1.0)), at((i, 1.0), (j, -1.0))
                mp, mm = at((i, -1.0), (j, 1.0)), at((i, -1.0), (j, -1.0))
                row.append(
                    [
                        (a - b - c + d) / (4 * h[i] * h[j])
                        for a, b, c, d in zip(pp, pm, mp, mm, strict=True)
                    ]
                )
            row.append(
                [(a - 2 * c + b) / h[i] ** 2 for a, b, c in zip(plus, minus, base, strict=True)]
            )
            second.append(row)
        return first, second


def _sum(parts: list[np.ndarray]) -> np.ndarray:
    """The sum of per-batch terms (the batches of one size stacked)."""
    return np.asarray(sum(parts))


def dense_pieces(model: DenseCovariance) -> tuple[SatterthwaitePieces, KenwardRoger]:
    """Satterthwaite's and Kenward-Roger's pieces of a model at its estimates."""
    p, k = model.X.shape[1], model.nu.size
    rows_of = model.parts.rows
    first, second = model.derivatives()
    Vinv = [np.linalg.inv(Vb) for Vb in model.covariance(model.nu)]
    X = [model.X[rows] for rows in rows_of]
    Xt = [Vi @ Xb for Vi, Xb in zip(Vinv, X, strict=True)]
    Phi = np.linalg.inv(
        _sum([np.einsum("gmp,gmq->pq", Xb, xt) for Xb, xt in zip(X, Xt, strict=True)])
    )
    score = _sum(
        [np.einsum("gmp,gm->p", xt, model.y[rows]) for rows, xt in zip(rows_of, Xt, strict=True)]
    )
    beta = Phi @ score
    e = [
        np.einsum("gmn,gn->gm", Vi, model.y[rows] - Xb @ beta)
        for Vi, rows, Xb in zip(Vinv, rows_of, X, strict=True)
    ]
    # V^{-1} V_h per batch, and the sandwiches of each parameter's derivative
    VinvV = [[Vi @ Vh for Vi, Vh in zip(Vinv, dV, strict=True)] for dV in first]
    VinvVe = [
        [np.einsum("gmn,gn->gm", a, ee) for a, ee in zip(row, e, strict=True)] for row in VinvV
    ]
    P = -np.array(
        [
            _sum([np.einsum("gmp,gmn,gnq->pq", xt, Vh, xt) for xt, Vh in zip(Xt, dV, strict=True)])
            for dV in first
        ]
    )
    F = np.array(
        [
            _sum(
                [
                    np.einsum("gmp,gmn,gn->p", xt, Vh, ee)
                    for xt, Vh, ee in zip(Xt, dV, e, strict=True)
                ]
            )
            for dV in first
        ]
    )
    H = np.zeros((k, k))
    Q = np.zeros((k, k, p, p))
    R = np.zeros((k, k, p, p))
    for h in range(k):
        for j in range(h + 1):
            Vhj = second[h][j]
            Q[h, j] = _sum(
                [
                    np.einsum("gmp,gmn,gnq->pq", xt, Vh, a @ xt)
                    for xt, Vh, a in zip(Xt, first[h], VinvV[j], strict=True)
                ]
            )
            Q[j, h] = Q[h, j].T
            R[h, j] = R[j, h] = _sum(
                [np.einsum("gmp,gmn,gnq->pq", xt, Vb, xt) for xt, Vb in zip(Xt, Vhj, strict=True)]
            )
            # tr(V^{-1} V_hj) and tr(V^{-1} V_h V^{-1} V_j), then P's corrections for REML
            trace_second = float(
                _sum([np.einsum("gmn,gnm->", a, b) for a, b in zip(Vinv, Vhj, strict=True)])
            )
            trace_pair = float(
                _sum(
                    [np.einsum("gmn,gnm->", a, b) for a, b in zip(VinvV[h], VinvV[j], strict=True)]
                )
            )
            if model.reml:
                trace_second -= float(np.trace(Phi @ R[h, j]))
                trace_pair += -2.0 * float(np.trace(Phi @ Q[h, j])) + float(
                    np.trace(Phi @ P[h] @ Phi @ P[j])
                )
            quadratic = float(
                _sum(
                    [
                        np.einsum("gm,gmn,gn->", ee, Vh, b)
                        for ee, Vh, b in zip(e, first[h], VinvVe[j], strict=True)
                    ]
                )
            ) - float(F[h] @ Phi @ F[j])
            curvature = float(
                _sum([np.einsum("gm,gmn,gn->", ee, Vb, ee) for ee, Vb in zip(e, Vhj, strict=True)])
            )
            H[h, j] = H[j, h] = trace_second - trace_pair + 2.0 * quadratic - curvature
    W = 2.0 * np.linalg.pinv(H)
    correction = np.zeros((p, p))
    for h in range(k):
        for j in range(k):
            correction += W[h, j] * (Q[h, j] - P[h] @ Phi @ P[j] - 0.25 * R[h, j])
    Phi_P_Phi = np.array([Phi @ P[h] @ Phi for h in range(k)])
    kr = KenwardRoger(Phi=Phi, Phi_A=Phi + 2.0 * Phi @ correction @ Phi, Phi_P_Phi=Phi_P_Phi, W=W)
    return SatterthwaitePieces(Phi, W, -Phi_P_Phi), kr
