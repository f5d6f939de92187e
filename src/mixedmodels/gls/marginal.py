"""The marginal covariance of rows with residual structures (and random effects) as a
function of SAS PROC MIXED's parameters: the random effects' variances and covariances,
``sigma^2`` and the structures' parameters on nlme's natural scales. It feeds
:mod:`mixedmodels.inference.dense_covariance` (Satterthwaite and Kenward-Roger).

A component's residual covariance is ``sigma^2 Omega_c`` with ``Omega_c = (W_c' W_c)^{-1}``,
``W_c`` the whitening of its rows (:meth:`~mixedmodels.gls.whitening.Whitener.matrix`);
the random effects add ``Z_c G Z_c'``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from mixedmodels.gls.whitening import Whitener
from mixedmodels.inference.dense_covariance import Components, natural_inverse

__all__ = ["RandomBlock", "StructureCovariance"]


@dataclass(frozen=True)
class RandomBlock:
    """One grouping factor's random effects: each row's level and its ``k`` columns of Z,
    and which entries of its ``k x k`` covariance are parameters (lower triangle)."""

    codes: np.ndarray
    matrix: np.ndarray
    entries: tuple[tuple[int, int], ...]


class StructureCovariance:
    """``nu -> V`` block by block for rows with residual structures.

    Parameters
    ----------
    whitener : Whitener
    parts : Components
        The rows' independent components (each a union of the structures' groups and of
        the random effects' levels).
    natural : callable
        The structures' unconstrained parameters to their natural ones (a vector).
    params : numpy.ndarray
        The unconstrained structure parameters at the estimates.
    blocks : sequence of RandomBlock
        The random effects (none for ``gls``).
    """

    def __init__(
        self,
        whitener: Whitener,
        parts: Components,
        natural: Callable[[np.ndarray], np.ndarray],
        params: np.ndarray,
        blocks: Sequence[RandomBlock] = (),
    ) -> None:
        self.whitener, self.parts, self.natural = whitener, parts, natural
        self.params = np.asarray(params, dtype=np.float64)
        self.blocks = tuple(blocks)
        self.n_random = sum(len(b.entries) for b in self.blocks)
        self.n_structure = self.params.size
        n = whitener.n
        # each row's batch, component within it and position within the component
        self.batch = np.empty(n, dtype=np.int64)
        self.component = np.empty(n, dtype=np.int64)
        self.position = np.empty(n, dtype=np.int64)
        for s, rows in enumerate(parts.rows):
            G, m = rows.shape
            self.batch[rows] = s
            self.component[rows] = np.arange(G)[:, None]
            self.position[rows] = np.arange(m)[None, :]

    def _omega(self, u: np.ndarray) -> list[np.ndarray]:
        W = sp.coo_matrix(self.whitener.matrix(self.whitener.at(u)))
        out = []
        for s, rows in enumerate(self.parts.rows):
            G, m = rows.shape
            Wb = np.zeros((G, m, m))
            keep = self.batch[W.row] == s
            i, j = W.row[keep], W.col[keep]
            Wb[self.component[i], self.position[i], self.position[j]] = W.data[keep]
            out.append(np.linalg.inv(np.einsum("gki,gkj->gij", Wb, Wb)))
        return out

    def covariance(self, nu: np.ndarray) -> list[np.ndarray]:
        """``V`` of each batch ``(G, m, m)`` at ``nu = (random-effect (co)variances,
        sigma^2, structure parameters)``."""
        sigma2 = float(nu[self.n_random])
        target = nu[self.n_random + 1 :]
        u = natural_inverse(self.natural, self.params, target) if target.size else target
        V = [sigma2 * om for om in self._omega(u)]
        at = 0
        for block in self.blocks:
            k = block.matrix.shape[1]
            S = np.zeros((k, k))
            for a, b in block.entries:
                S[a, b] = S[b, a] = nu[at]
                at += 1
            for s, rows in enumerate(self.parts.rows):
                Zb = block.matrix[rows]  # (G, m, k)
                same = block.codes[rows][:, :, None] == block.codes[rows][:, None, :]
                V[s] = V[s] + same * np.einsum("gmk,kl,gnl->gmn", Zb, S, Zb)
        return V

    def estimates(self, random: np.ndarray, sigma2: float) -> np.ndarray:
        """``nu`` at the fit: the random effects' (co)variances, sigma^2 and the natural
        structure parameters."""
        return np.concatenate([random, [sigma2], self.natural(self.params)])
