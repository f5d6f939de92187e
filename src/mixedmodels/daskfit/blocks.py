"""The blocks pass: each partition's cross-product blocks, summed over partitions.

Besides the blocks of ``[Z X y]'W[Z X y]`` each partition gives the R factor of its
(unweighted) fixed-effects matrix; R factors combine by a QR of the two stacked, so the
total is R of the whole X (tall-and-skinny QR). Aliased columns are found from it with
the same rule and tolerance as in memory, and dropped from the summed blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.linalg

from mixedmodels.daskfit.encoding import RowEncoder, encode_partition
from mixedmodels.design.crossproducts import CrossProducts, crossproducts

__all__ = ["PartialBlocks", "combine_blocks", "partition_blocks", "select_fixed_columns"]


@dataclass(frozen=True)
class PartialBlocks:
    """The blocks of some partitions and the R factor of their fixed-effects matrix."""

    products: CrossProducts
    r: np.ndarray


def _r_factor(X: np.ndarray) -> np.ndarray:
    if X.shape[0] == 0:
        return np.empty((0, X.shape[1]))
    r = scipy.linalg.qr(X, mode="r", check_finite=False)[0]
    return np.asarray(r[: X.shape[1]])


def partition_blocks(part: pd.DataFrame, enc: RowEncoder, number: int) -> PartialBlocks:
    """The blocks of one partition (the response less ``enc.shift``)."""
    rows = encode_partition(part, enc, number)
    response = rows.y if rows.offset is None else rows.y - rows.offset
    B = np.column_stack([rows.X, response - enc.shift])
    return PartialBlocks(crossproducts(rows.zterms, B, rows.weights), _r_factor(rows.X))


def combine_blocks(parts: list[PartialBlocks]) -> PartialBlocks:
    """Sum the blocks of consecutive partitions and combine their R factors."""
    products = parts[0].products
    for more in parts[1:]:
        products = products + more.products
    return PartialBlocks(products, _r_factor(np.vstack([p.r for p in parts])))


def select_fixed_columns(products: CrossProducts, keep: np.ndarray) -> CrossProducts:
    """The blocks with only the fixed-effect columns ``keep`` (the response stays last)."""
    p = products.bb.shape[0] - 1
    index = np.concatenate([np.asarray(keep, dtype=np.int64), [p]])
    if index.size == p + 1 and np.array_equal(index, np.arange(p + 1)):
        return products
    return CrossProducts(
        zz0=products.zz0,
        bz0=np.ascontiguousarray(products.bz0[:, :, index]),
        zt0=products.zt0,
        ztt=products.ztt,
        bzt=None if products.bzt is None else np.ascontiguousarray(products.bzt[:, index]),
        bb=np.ascontiguousarray(products.bb[np.ix_(index, index)]),
        n=products.n,
        sum_log_weights=products.sum_log_weights,
    )
