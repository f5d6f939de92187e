"""The MMRM likelihood: subjects grouped by the set of visits they were observed at.

Subject ``i``'s responses have covariance ``Sigma_i = Sigma[S_i, S_i]``, the rows and
columns of the visits ``S_i`` it has. Subjects with the same visits share ``Sigma_i``, so
each pattern of visits is factored once per evaluation and its subjects are whitened
together: the cost is the number of rows times the visits, never ``n x n``.

Everything is a function of the full ``T x T`` matrix ``Sigma``; the derivative of the
criterion in ``Sigma`` is a ``T x T`` matrix (:meth:`MmrmModel.evaluate`), and the
derivatives in a structure's parameters follow by the chain rule through
``d Sigma / d parameter``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg

__all__ = ["COMMON_PATTERN", "Evaluation", "MmrmModel", "Pattern"]

#: Subjects a pattern of visits needs to be factored on its own (fewer: batched).
COMMON_PATTERN = 32


@dataclass(frozen=True)
class Pattern:
    """Subjects observed at the same visits (a pattern), or at the same number of visits
    (a batch)."""

    visits: np.ndarray
    """The visits' indices (ascending), ``(m,)`` for a pattern, ``(n_subjects, m)`` for a
    batch."""
    rows: np.ndarray
    """Each subject's rows in visit order, ``(n_subjects, m)``."""


@dataclass(frozen=True)
class Evaluation:
    """The criterion and its pieces at one ``Sigma``."""

    value: float
    beta: np.ndarray
    Phi: np.ndarray
    """``(X' Sigma^{-1} X)^{-1}``."""
    gradient: np.ndarray
    """d criterion / d Sigma, ``(T, T)`` (symmetric; the derivative along ``dSigma`` is
    ``sum(gradient * dSigma)``)."""


class MmrmModel:
    """The rows of an MMRM, grouped by pattern of visits.

    Parameters
    ----------
    X, y : numpy.ndarray
        The fixed-effects matrix and the response (complete rows).
    visit, subject : numpy.ndarray
        Each row's visit index (0..T-1) and subject code.
    n_visits : int
    reml : bool
    """

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        visit: np.ndarray,
        subject: np.ndarray,
        n_visits: int,
        reml: bool,
    ) -> None:
        self.X, self.y, self.T, self.reml = X, y, n_visits, reml
        self.n, self.p = X.shape
        order = np.lexsort((visit, subject))
        s_sorted = subject[order]
        starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
        bounds = np.r_[starts, order.size]
        masks: dict[bytes, list[np.ndarray]] = {}
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            rows = order[a:b]
            key = visit[rows].astype(np.int64).tobytes()
            masks.setdefault(key, []).append(rows)
        self.patterns = [
            Pattern(np.frombuffer(key, dtype=np.int64).copy(), np.stack(rows))
            for key, rows in masks.items()
        ]
        self.n_subjects = len(bounds) - 1
        # for the criterion: a pattern of many subjects is one factorization and matrix
        # products over all its rows; the subjects of the rare patterns are batched by
        # their number of visits, each with its own visits (one batched factorization
        # for any number of patterns)
        self.common = [pat for pat in self.patterns if pat.rows.shape[0] >= COMMON_PATTERN]
        by_size: dict[int, list[Pattern]] = {}
        for pat in self.patterns:
            if pat.rows.shape[0] < COMMON_PATTERN:
                by_size.setdefault(pat.visits.size, []).append(pat)
        self.batches = [
            Pattern(
                np.concatenate([np.tile(p.visits, (p.rows.shape[0], 1)) for p in group]),
                np.concatenate([p.rows for p in group]),
            )
            for group in by_size.values()
        ]
        # the rows of each, gathered once: a batch's (G, m, p) and (G, m); a common
        # pattern's visit-major, (m, G p) and (m, G), for its matrix products
        self._common_rows = [
            (
                self.X[pat.rows].transpose(1, 0, 2).reshape(pat.visits.size, -1),
                self.y[pat.rows].T.copy(),
            )
            for pat in self.common
        ]
        self._batch_rows = [(self.X[b.rows], self.y[b.rows]) for b in self.batches]

    def _whitened(
        self, Sigma: np.ndarray
    ) -> list[tuple[Pattern, np.ndarray, np.ndarray, np.ndarray, float]]:
        """Per pattern: its Cholesky factor, ``L^{-1} X_i`` ``(n_k, m, p)`` and
        ``L^{-1} y_i`` ``(n_k, m)``, and the pattern's total log-determinant."""
        out = []
        for pat in self.patterns:
            L = np.linalg.cholesky(Sigma[np.ix_(pat.visits, pat.visits)])
            nk, m = pat.rows.shape
            Xk = self.X[pat.rows]  # (nk, m, p)
            Xw = linalg.solve_triangular(
                L, Xk.transpose(1, 0, 2).reshape(m, -1), lower=True
            ).reshape(m, nk, self.p)
            yw = linalg.solve_triangular(L, self.y[pat.rows].T, lower=True)
            logdet = nk * 2.0 * float(np.sum(np.log(np.diag(L))))
            out.append((pat, L, Xw.transpose(1, 0, 2), yw.T, logdet))
        return out

    def evaluate(self, Sigma: np.ndarray, with_gradient: bool = True) -> Evaluation:
        """-2 log L (ML) or the REML criterion at ``Sigma``, with beta profiled out.

        Raises
        ------
        numpy.linalg.LinAlgError
            Where ``Sigma`` (or one of its patterns) is not positive definite.
        """
        T, p = self.T, self.p
        XtX = np.zeros((p, p))
        Xty = np.zeros(p)
        yty = logdet = 0.0
        parts = []
        common = []
        for pat, (Xvm, yvm) in zip(self.common, self._common_rows, strict=True):
            # visit-major: row a of Xvm holds every subject's X at visit a, (m, G p)
            v = pat.visits
            Sk = Sigma[np.ix_(v, v)]
            inv = np.linalg.inv(Sk)
            logdet += pat.rows.shape[0] * float(np.linalg.slogdet(Sk)[1])
            Xt = inv @ Xvm
            yt = inv @ yvm
            XtX += Xvm.reshape(-1, p).T @ Xt.reshape(-1, p)
            Xty += Xt.reshape(-1, p).T @ yvm.ravel()
            yty += float(yvm.ravel() @ yt.ravel())
            common.append((v, inv, Xt, yt))
        for batch, (Xb, yb) in zip(self.batches, self._batch_rows, strict=True):
            v = batch.visits
            S = Sigma[v[:, :, None], v[:, None, :]]  # (G, m, m)
            L = np.linalg.cholesky(S)
            logdet += 2.0 * float(np.sum(np.log(np.diagonal(L, axis1=1, axis2=2))))
            inv = np.linalg.inv(S)
            Xt = inv @ Xb  # Sigma_i^{-1} X_i
            yt = np.einsum("gmn,gn->gm", inv, yb)
            XtX += Xb.reshape(-1, p).T @ Xt.reshape(-1, p)
            Xty += Xt.reshape(-1, p).T @ yb.ravel()
            yty += float(yb.ravel() @ yt.ravel())
            parts.append((v, inv, Xt, yt))
        R = np.linalg.cholesky(XtX)
        beta = linalg.cho_solve((R, True), Xty)
        Phi = linalg.cho_solve((R, True), np.eye(p))
        rss = yty - float(beta @ Xty)
        dof = self.n - p if self.reml else self.n
        value = logdet + rss + dof * np.log(2.0 * np.pi)
        if self.reml:
            value += 2.0 * float(np.sum(np.log(np.diag(R))))
        G = np.zeros(T * T)
        if with_gradient:
            Gm = np.zeros((T, T))
            for v, inv, Xt, yt in common:
                m = v.size
                rt = yt - (Xt.reshape(-1, p) @ beta).reshape(m, -1)
                Gk = rt.shape[1] * inv - rt @ rt.T
                if self.reml:
                    Gk -= (Xt.reshape(-1, p) @ Phi).reshape(m, -1) @ Xt.T
                Gm[np.ix_(v, v)] += Gk
            G += Gm.ravel()
            for v, inv, Xt, yt in parts:
                rt = yt - Xt @ beta  # Sigma_i^{-1} r_i
                Gi = inv - rt[:, :, None] * rt[:, None, :]
                if self.reml:
                    Gi -= (Xt @ Phi) @ Xt.transpose(0, 2, 1)
                flat = v[:, :, None] * T + v[:, None, :]
                G += np.bincount(flat.ravel(), weights=Gi.ravel(), minlength=T * T)
        return Evaluation(float(value), beta, Phi, G.reshape(T, T))

    def tilde_products(self, Sigma: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """``sum_i Xt_i[a]' Xt_i[b]`` over subjects (``Xt_i = Sigma_i^{-1} X_i``), scattered
        to ``(T, T, p, p)``, and per pattern the same sums ``(m, m, p, p)``."""
        S_full = np.zeros((self.T, self.T, self.p, self.p))
        per_pattern = []
        for pat, L, Xw, _, _ in self._whitened(Sigma):
            m = L.shape[0]
            Xt = linalg.solve_triangular(
                L, Xw.transpose(1, 0, 2).reshape(m, -1), lower=True, trans="T"
            ).reshape(m, -1, self.p)
            Sk = np.einsum("aip,biq->abpq", Xt, Xt)
            per_pattern.append(Sk)
            S_full[np.ix_(pat.visits, pat.visits)] += Sk
        return S_full, per_pattern
