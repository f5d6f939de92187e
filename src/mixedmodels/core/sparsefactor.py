"""The supernodal factor of a sparse tail, whose selected inverse takes L's storage.

The gradient needs ``S^{-1}`` on L's pattern, as many entries as L itself; on a crossed
design with 17,000 long-tailed items that is 500 MB each. The selected inverse is
computed in L's own storage (:func:`~mixedmodels.linalg.selinv.selected_inverse` with
``overwrite``), so a fit holds one of them at a time. A solve asked after the inverse
(rare: the fit solves before it reads the inverse) factors S again from its values on
S's pattern, formed anew from the Schur complement the factorization keeps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

import numpy as np

from mixedmodels.core.memory import release_freed
from mixedmodels.linalg.selinv import selected_inverse
from mixedmodels.linalg.supernodal import SupernodalFactor

__all__ = ["SparseTailFactor"]

Inverse = TypeVar("Inverse", covariant=True)


class FactorKind(Protocol[Inverse]):
    """What a sparse tail kind gives its factor: L from S's values, and the inverse's
    reader."""

    def factor_values(self, values: Callable[[], np.ndarray]) -> SupernodalFactor: ...

    def inverse_of(self, selected: SupernodalFactor) -> Inverse: ...


class SparseTailFactor(Generic[Inverse]):
    """The supernodal factor of S (in a fill-reducing order), from S's values as the
    ``kind`` stores them (``values`` forms them: they are formed again, not kept, for a
    second factorization).

    Attributes
    ----------
    refactorizations : int
        How often a solve came after the inverse and factored S again.
    """

    def __init__(self, kind: FactorKind[Inverse], values: Callable[[], np.ndarray]) -> None:
        self.kind = kind
        self._values = values
        release_freed()  # the last evaluation's arrays, before L's storage is taken
        self._factor: SupernodalFactor | None = kind.factor_values(values)
        self._logdet = self._factor.logdet()
        self._inverse: Inverse | None = None
        self.refactorizations = 0

    @property
    def factor(self) -> SupernodalFactor:
        """L (factored again when the inverse has taken its storage)."""
        if self._factor is None:
            self._factor = self.kind.factor_values(self._values)
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
