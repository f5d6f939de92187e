"""Grouping factors: integer codes per row and the level labels, in lme4's level order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["GroupingFactor", "grouping_factor", "radix_digits"]


@dataclass(frozen=True)
class GroupingFactor:
    """A grouping factor reduced to the levels present in the fitted rows.

    Attributes
    ----------
    name : str
        ``"Subject"`` or ``"a:b"`` for an interaction.
    codes : numpy.ndarray
        ``int32`` level index of every row.
    levels : tuple of str
        The level labels, in order (a categorical's own order, else sorted values).
    """

    name: str
    codes: np.ndarray
    levels: tuple[str, ...]

    @property
    def n_levels(self) -> int:
        """Number of levels with at least one row."""
        return len(self.levels)


def _codes_of(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    if isinstance(column.dtype, pd.CategoricalDtype):
        # the categories with a row, in their order (remove_unused_categories, by codes)
        codes = np.asarray(column.array.codes, dtype=np.int64)
        categories = column.dtype.categories
        counts = np.bincount(codes[codes >= 0], minlength=len(categories))
        present = np.flatnonzero(counts)
        if present.size < len(categories):
            remap = np.full(len(categories), -1, dtype=np.int64)
            remap[present] = np.arange(present.size)
            codes = np.where(codes >= 0, remap[codes], -1)
        return codes, _labels(categories[present].tolist())
    codes, uniques = pd.factorize(column, sort=False)
    try:
        order = np.argsort(np.asarray(uniques), kind="stable")
    except TypeError:  # values that do not sort together: keep order of appearance
        order = np.arange(len(uniques))
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    labels = _labels(np.asarray(uniques)[order].tolist())
    return rank[codes].astype(np.int64), labels


def _labels(values: list[object]) -> list[str]:
    """Levels as text (``str`` of each; text levels as they are, without a call each)."""
    if all(type(v) is str for v in values):
        return values  # type: ignore[return-value]
    return [str(v) for v in values]


def grouping_factor(data: pd.DataFrame, factors: Sequence[str]) -> GroupingFactor:
    """Build the grouping factor for the interaction of ``factors`` (one or more columns)."""
    parts = [_codes_of(data[name]) for name in factors]
    if len(parts) == 1:  # its codes are compact already, every label has a row
        codes, labels = parts[0]
        return GroupingFactor(factors[0], codes.astype(np.int32), tuple(labels))
    codes = parts[0][0]
    sizes = [len(labels) for _, labels in parts]
    for (more, _), size in zip(parts[1:], sizes[1:], strict=True):
        codes = codes * size + more
    total = int(np.prod(sizes, dtype=np.float64))
    counts = np.bincount(codes, minlength=total) if total <= 4 * len(codes) + 1024 else None
    if counts is not None:
        present = np.flatnonzero(counts)
        remap = np.full(total, -1, dtype=np.int64)
        remap[present] = np.arange(len(present))
        compact = remap[codes]
    else:
        present, compact = np.unique(codes, return_inverse=True)
    digits = radix_digits(present, sizes)
    names = tuple(
        ":".join(labels[i] for (_, labels), i in zip(parts, combo, strict=True))
        for combo in zip(*digits, strict=True)
    )
    return GroupingFactor(":".join(factors), compact.astype(np.int32), names)


def radix_digits(codes: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    """The per-factor level codes of combined codes ``sum_i d_i * prod(sizes[i+1:])``
    (an interaction's code split back into one code per factor)."""
    digits = []
    rest = codes
    for size in reversed(sizes):
        digits.append(rest % size)
        rest = rest // size
    digits.reverse()
    return digits
