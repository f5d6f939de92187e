"""The relative covariance factor Lambda_theta: lme4's theta and the blocks it fills.

Terms on the same grouping factor (``(x || g)``, or several terms on ``g``) are stored as
one block with a block-diagonal template, so the Cholesky factor stays block-diagonal;
theta keeps lme4's order and naming.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mixedmodels.design.frame import ModelFrame, RandomEffectsTerm
from mixedmodels.design.grouping import GroupingFactor

__all__ = ["FactorBlock", "CovarianceLayout", "ThetaMap", "covariance_layout"]


@dataclass(frozen=True)
class FactorBlock:
    """The random effects of one grouping factor (one or more terms).

    Attributes
    ----------
    factor : GroupingFactor
    matrix : numpy.ndarray
        ``(n, k)``: the terms' model matrices side by side.
    term_columns : tuple of (int, int, int)
        For each term in the block: its index in ``ModelFrame.terms``, first column, k.
    """

    factor: GroupingFactor
    matrix: np.ndarray
    term_columns: tuple[tuple[int, int, int], ...]

    @property
    def n_levels(self) -> int:
        """m, the number of levels."""
        return self.factor.n_levels

    @property
    def k(self) -> int:
        """Number of coefficients per level."""
        return int(self.matrix.shape[1])


@dataclass(frozen=True)
class CovarianceLayout:
    """Where each element of theta goes.

    Attributes
    ----------
    blocks : tuple of FactorBlock
        Storage order: decreasing number of levels.
    position : numpy.ndarray
        ``(n_theta, 3)`` integer array: block, row, column of each theta element.
    names : tuple of str
        lme4's names, e.g. ``Subject.Days.(Intercept)``.
    lower : numpy.ndarray
        Lower bounds: 0 for diagonal elements, -inf otherwise.
    """

    blocks: tuple[FactorBlock, ...]
    position: np.ndarray
    names: tuple[str, ...]
    lower: np.ndarray

    @property
    def n_theta(self) -> int:
        """Number of covariance parameters."""
        return int(self.position.shape[0])

    def initial(self) -> np.ndarray:
        """lme4's starting point: 1 on the diagonal of each term's factor, 0 elsewhere."""
        return np.where(self.lower == 0.0, 1.0, 0.0)

    def factors(self, theta: np.ndarray) -> list[np.ndarray]:
        """The lower-triangular ``k x k`` template of every block for this theta."""
        return self.theta_map().factors(theta)

    def theta_map(self) -> ThetaMap:
        """The part of the layout that maps theta to templates, without the data."""
        return ThetaMap(self.position, tuple(b.k for b in self.blocks))

    def term_slots(self) -> list[np.ndarray]:
        """For every random-effects term, the indices of its theta elements in column-major
        lower-triangle order (so that they fill the term's k x k factor)."""
        term_of: dict[tuple[int, int], int] = {}
        for b, block in enumerate(self.blocks):
            for term_index, start, k in block.term_columns:
                for col in range(start, start + k):
                    term_of[(b, col)] = term_index
        slots: dict[int, list[int]] = {}
        for i, (b, _, col) in enumerate(self.position):
            slots.setdefault(term_of[(int(b), int(col))], []).append(i)
        return [np.asarray(slots[t], dtype=np.int64) for t in sorted(slots)]


@dataclass(frozen=True)
class ThetaMap:
    """Where each theta element goes: ``position`` rows (block, row, column) and the size
    ``k`` of each block's template."""

    position: np.ndarray
    block_sizes: tuple[int, ...]

    def factors(self, theta: np.ndarray) -> list[np.ndarray]:
        """The lower-triangular ``k x k`` template of every block for this theta."""
        out = [np.zeros((k, k)) for k in self.block_sizes]
        for value, (block, row, col) in zip(theta, self.position, strict=True):
            out[block][row, col] = value
        return out

    def theta_of(self, templates: list[np.ndarray]) -> np.ndarray:
        """The theta that fills ``templates`` (the inverse of :meth:`factors`)."""
        return np.array([templates[b][r, c] for b, r, c in self.position])


def _term_theta(term: RandomEffectsTerm) -> list[tuple[int, int, str]]:
    """Column-major lower triangle of one term's factor, with lme4's names."""
    names = term.column_names
    out = []
    for col in range(len(names)):
        for row in range(col, len(names)):
            label = (
                f"{term.factor.name}.{names[row]}"
                if row == col
                else f"{term.factor.name}.{names[row]}.{names[col]}"
            )
            out.append((row, col, label))
    return out


def covariance_layout(frame: ModelFrame, first: str | None = None) -> CovarianceLayout:
    """Group the frame's terms by grouping factor and map theta onto the blocks.

    The blocks go by decreasing number of levels, or with the factor named ``first``
    ahead of the others (the one whose rows a residual structure keeps together, say).
    Theta keeps the order of the terms either way."""
    by_factor: dict[str, list[int]] = {}
    for i, term in enumerate(frame.terms):
        by_factor.setdefault(term.factor.name, []).append(i)
    groups = sorted(
        by_factor.values(),
        key=lambda idx: (frame.terms[idx[0]].factor.name != first, -frame.terms[idx[0]].n_levels),
    )
    blocks: list[FactorBlock] = []
    where: dict[int, tuple[int, int]] = {}
    for b, members in enumerate(groups):
        columns = []
        start = 0
        for i in members:
            k = frame.terms[i].n_columns
            columns.append((i, start, k))
            where[i] = (b, start)
            start += k
        matrix = (
            np.hstack([frame.terms[i].matrix for i in members])
            if len(members) > 1
            else (frame.terms[members[0]].matrix)
        )
        blocks.append(FactorBlock(frame.terms[members[0]].factor, matrix, tuple(columns)))
    position = []
    names = []
    lower = []
    for i, term in enumerate(frame.terms):
        b, start = where[i]
        for row, col, label in _term_theta(term):
            position.append((b, start + row, start + col))
            names.append(label)
            lower.append(0.0 if row == col else -np.inf)
    return CovarianceLayout(
        tuple(blocks),
        np.asarray(position, dtype=np.int64).reshape(-1, 3),
        tuple(names),
        np.asarray(lower),
    )
