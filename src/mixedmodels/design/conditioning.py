"""Internal centring and scaling of the model matrices, undone in the results.

A model is the same model whatever the origin and unit of its covariates: ``Days + 2010``
fits what ``Days`` fits. Its numbers are not the same, though. With a covariate far from
zero the cross-products lose digits (the Schur complements subtract nearly equal sums), and
the covariance parameters of a random slope become a nearly singular pair that no
optimizer moves along. So every fit works on conditioned matrices:

* fixed effects: ``X_c = X S`` where each column other than the intercept is centred (when
  the model has an intercept) and divided by its root mean square, so ``beta = S beta_c``
  and ``vcov(beta) = S vcov(beta_c) S'``;
* each random-effects term likewise, ``Z_c = Z M`` per term (centred only when the term has
  its own intercept column, since only then is the shifted model the same model), so the
  modes are ``b = M b_c`` and the relative covariance factor is the lower-triangular
  ``Lambda`` with ``Lambda Lambda' = M Lambda_c Lambda_c' M'`` (``Z b = Z_c M^{-1} b``).

The likelihood is unchanged by both. The REML criterion carries ``log|R_X|^2``, which the
fixed-effects transformation shifts by the constant ``2 log|det S|``: it is added back, so
the criterion reported is the one of the original matrices (lme4's).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from mixedmodels.design.frame import ModelFrame
from mixedmodels.design.materialize import INTERCEPT

__all__ = ["ColumnTransform", "Conditioning", "conditioning", "lower_factor"]


@dataclass(frozen=True)
class ColumnTransform:
    """``Q_c = Q C`` for a matrix ``Q`` with an optional intercept column: column ``j`` of
    ``Q_c`` is ``(q_j - center_j) / scale_j`` (the intercept column is kept as it is).

    Attributes
    ----------
    center, scale : numpy.ndarray
        One value per column (0 and 1 for the intercept and for columns left alone).
    intercept : int or None
        Index of the intercept column, which absorbs the centres.
    """

    center: np.ndarray
    scale: np.ndarray
    intercept: int | None

    @classmethod
    def of(cls, Q: np.ndarray, intercept: int | None) -> ColumnTransform:
        """Centre (when there is an intercept) and scale every other column of ``Q``."""
        k = Q.shape[1]
        center = np.zeros(k)
        scale = np.ones(k)
        if Q.shape[0] == 0:
            return cls(center, scale, intercept)
        for j in range(k):
            if j == intercept:
                continue
            column = Q[:, j]
            c = float(np.mean(column)) if intercept is not None else 0.0
            s = float(np.sqrt(np.mean((column - c) ** 2)))
            if not np.isfinite(c) or not np.isfinite(s) or s == 0.0:
                c, s = 0.0, 1.0
            center[j], scale[j] = c, s
        return cls(center, scale, intercept)

    @property
    def is_identity(self) -> bool:
        """True when the transform changes nothing."""
        return bool(np.all(self.center == 0.0) and np.all(self.scale == 1.0))

    def apply(self, Q: np.ndarray) -> np.ndarray:
        """``Q C``, column by column."""
        if self.is_identity:
            return Q
        # one new array, written in place (a 1M-row matrix: two passes, not four)
        out: np.ndarray = np.subtract(Q, self.center, order="C")
        np.divide(out, self.scale, out=out)
        if self.intercept is not None:
            out[:, self.intercept] = Q[:, self.intercept]
        return out

    def matrix(self) -> np.ndarray:
        """C itself: ``Q_c = Q C``."""
        C = np.diag(1.0 / self.scale)
        if self.intercept is not None:
            C[self.intercept] -= self.center / self.scale
            C[self.intercept, self.intercept] = 1.0
        return C

    def log_abs_det(self) -> float:
        """``log|det C|``."""
        return float(-np.sum(np.log(self.scale)))


def lower_factor(A: np.ndarray) -> np.ndarray:
    """The lower-triangular L with non-negative diagonal and ``L L' = A A'``."""
    _, r = np.linalg.qr(A.T)
    L = np.ascontiguousarray(r.T)
    signs = np.where(np.diag(L) < 0.0, -1.0, 1.0)
    out: np.ndarray = L * signs
    return out


@dataclass(frozen=True)
class Conditioning:
    """The transformations of one model: fixed effects and each random-effects term.

    Attributes
    ----------
    fixed : ColumnTransform
    terms : tuple of ColumnTransform
        In the frame's term order.
    """

    fixed: ColumnTransform
    terms: tuple[ColumnTransform, ...]

    @property
    def is_identity(self) -> bool:
        """True when nothing is transformed (then every map below is the identity)."""
        return self.fixed.is_identity and all(t.is_identity for t in self.terms)

    def apply(self, frame: ModelFrame) -> ModelFrame:
        """The frame with conditioned fixed and random-effects matrices."""
        if self.is_identity:
            return frame
        terms = tuple(
            replace(term, matrix=np.ascontiguousarray(t.apply(term.matrix)))
            for term, t in zip(frame.terms, self.terms, strict=True)
        )
        return replace(frame, X=np.ascontiguousarray(self.fixed.apply(frame.X)), terms=terms)

    # -- fixed effects ---------------------------------------------------------------------
    def beta(self, beta_c: np.ndarray) -> np.ndarray:
        """``beta = S beta_c``."""
        out: np.ndarray = self.fixed.matrix() @ beta_c
        return out

    def vcov(self, vcov_c: np.ndarray) -> np.ndarray:
        """``S vcov_c S'``."""
        S = self.fixed.matrix()
        out: np.ndarray = S @ vcov_c @ S.T
        return out

    def reml_shift(self) -> float:
        """What the REML criterion of the original matrices adds to the conditioned one:
        ``-2 log|det S|`` (``log|R_X|^2`` of ``X = X_c S^{-1}``)."""
        return -2.0 * self.fixed.log_abs_det()

    # -- random effects ----------------------------------------------------------------------
    def _term_maps(self, blocks: tuple[tuple[tuple[int, int, int], ...], ...]) -> list[np.ndarray]:
        """Block-diagonal M of every storage block, from its (term, start, k) columns."""
        out = []
        for columns in blocks:
            k = sum(c[2] for c in columns)
            M = np.zeros((k, k))
            for term_index, start, size in columns:
                M[start : start + size, start : start + size] = self.terms[term_index].matrix()
            out.append(M)
        return out

    def templates_to_original(
        self,
        templates: list[np.ndarray],
        blocks: tuple[tuple[tuple[int, int, int], ...], ...],
    ) -> list[np.ndarray]:
        """Lambda of the original matrices from the conditioned one, term by term."""
        return self._map_templates(templates, blocks, inverse=False)

    def templates_to_internal(
        self,
        templates: list[np.ndarray],
        blocks: tuple[tuple[tuple[int, int, int], ...], ...],
    ) -> list[np.ndarray]:
        """Lambda_c of the conditioned matrices from the original one, term by term."""
        return self._map_templates(templates, blocks, inverse=True)

    def _map_templates(
        self,
        templates: list[np.ndarray],
        blocks: tuple[tuple[tuple[int, int, int], ...], ...],
        inverse: bool,
    ) -> list[np.ndarray]:
        if self.is_identity:
            return templates
        out = []
        for T, columns in zip(templates, blocks, strict=True):
            mapped = np.zeros_like(T)
            for term_index, start, size in columns:
                t = self.terms[term_index]
                part = T[start : start + size, start : start + size]
                if not t.is_identity:
                    M = t.matrix()
                    # b = M b_c: Lambda = tri(M Lambda_c), Lambda_c = tri(M^{-1} Lambda)
                    left = np.linalg.inv(M) if inverse else M
                    part = lower_factor(left @ part)
                mapped[start : start + size, start : start + size] = part
            out.append(mapped)
        return out

    def modes(
        self, modes_c: list[np.ndarray], blocks: tuple[tuple[tuple[int, int, int], ...], ...]
    ) -> list[np.ndarray]:
        """Conditional modes ``b = M b_c`` of every block, each ``(m, k)``."""
        if self.is_identity:
            return modes_c
        return [b @ M.T for b, M in zip(modes_c, self._term_maps(blocks), strict=True)]

    def conditional_covariances(
        self, cov_c: list[np.ndarray], blocks: tuple[tuple[tuple[int, int, int], ...], ...]
    ) -> list[np.ndarray]:
        """``M C_l M'`` for every level's block, each ``(m, k, k)``."""
        if self.is_identity:
            return cov_c
        out = []
        for cov, M in zip(cov_c, self._term_maps(blocks), strict=True):
            out.append(np.einsum("ia,lab,jb->lij", M, cov, M))
        return out


def conditioning(frame: ModelFrame) -> Conditioning:
    """Centre and scale the columns of a frame's fixed and random-effects matrices."""
    fixed_intercept = frame.fixed_names.index(INTERCEPT) if INTERCEPT in frame.fixed_names else None
    terms = []
    for term in frame.terms:
        intercept = term.column_names.index(INTERCEPT) if INTERCEPT in term.column_names else None
        terms.append(ColumnTransform.of(term.matrix, intercept))
    return Conditioning(ColumnTransform.of(frame.X, fixed_intercept), tuple(terms))


def identity_conditioning(frame: ModelFrame) -> Conditioning:
    """No transformation (for designs whose rows are not at hand)."""
    fixed = ColumnTransform(np.zeros(len(frame.fixed_names)), np.ones(len(frame.fixed_names)), None)
    terms = tuple(
        ColumnTransform(np.zeros(t.n_columns), np.ones(t.n_columns), None) for t in frame.terms
    )
    return Conditioning(fixed, terms)
