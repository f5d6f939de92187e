"""The supernodal factor of a sparse tail, whose selected inverse takes L's storage.

The gradient needs ``S^{-1}`` on L's pattern, as many entries as L itself; on a crossed
design with 17,000 long-tailed items that is 500 MB each. The selected inverse is
computed in L's own storage (:func:`~mixedmodels.linalg.selinv.selected_inverse` with
``overwrite``), so a fit holds one of them at a time. A solve asked after the inverse
(rare: the fit solves before it reads the inverse) factors S again from its values on
S's pattern, formed anew from the Schur complement the factorization keeps.
"""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

import numpy as np

from mixedmodels.core.memory import release_freed
from mixedmodels.linalg.selinv import selected_inverse
from mixedmodels.linalg.supernodal import SupernodalFactor, Symbolic, factor_in_place

__all__ = ["SparseTailFactor"]

Inverse = TypeVar("Inverse", covariant=True)


class FactorKind(Protocol[Inverse]):
    """What a sparse tail kind gives its factor: S's pattern as index arrays (``rows``,
    ``cols``, the positions of the ``diagonal``), where each position lives in L
    (``in_factor``), the analysis, and the reader of the inverse."""

    @property
    def symbolic(self) -> Symbolic: ...

    @property
    def rows(self) -> np.ndarray: ...

    @property
    def cols(self) -> np.ndarray: ...

    @property
    def diagonal(self) -> np.ndarray: ...

    @property
    def in_factor(self) -> np.ndarray: ...

    def inverse_of(self, selected: SupernodalFactor) -> Inverse: ...


class SparseTailFactor(Generic[Inverse]):
    """The supernodal factor of ``S = Lambda_T D Lambda_T + I`` (in a fill-reducing
    order), for D's values on the ``kind``'s pattern and Lambda_T's diagonal ``scale``.

    Attributes
    ----------
    refactorizations : int
        How often a solve came after the inverse and factored S again.
    """

    def __init__(self, kind: FactorKind[Inverse], D: np.ndarray, scale: np.ndarray) -> None:
        self.kind = kind
        self._D = D
        self._scale = scale
        release_freed()  # the last evaluation's arrays, before L's storage is taken
        self._factor: SupernodalFactor | None = self._factorize()
        self._logdet = self._factor.logdet()
        self._inverse: Inverse | None = None
        self.refactorizations = 0

    def _factorize(self) -> SupernodalFactor:
        """S's values scattered into L's storage (and dropped), then factored there."""
        kind, scale = self.kind, self._scale
        stored = np.zeros(kind.symbolic.nnz)
        data = self._D * scale[kind.rows]
        data *= scale[kind.cols]
        data[kind.diagonal] += 1.0
        stored[kind.in_factor] = data  # (the general kind: an entry above the diagonal
        del data  # writes its transpose's place, with the same value)
        return factor_in_place(kind.symbolic, stored)

    @property
    def factor(self) -> SupernodalFactor:
        """L (factored again when the inverse has taken its storage)."""
        if self._factor is None:
            self._factor = self._factorize()
            self.refactorizations += 1
        return self._factor

    def logdet(self) -> float:
        """``log det S``."""
        return self._logdet

    def solve_lower(self, B: np.ndarray) -> np.ndarray:
        """``L^{-1} B[perm]``, in the factor's order."""
        return self.factor.solve_lower(B)

    def solve_upper(self, Y: np.ndarray) -> np.ndarray:
        """``L^{-T} Y`` taken back to the original order."""
        return self.factor.solve_upper(Y)

    def inverse(self) -> Inverse:
        """``S^{-1}`` on L's pattern, computed in L's storage and kept for later readers."""
        if self._inverse is None:
            factor = self.factor
            self._factor = None
            self._inverse = self.kind.inverse_of(selected_inverse(factor, overwrite=True))
        return self._inverse
