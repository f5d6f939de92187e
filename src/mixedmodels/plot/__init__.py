"""Matplotlib figures that only read result tables; each returns its Axes.

A colour-blind-safe palette (Okabe & Ito 2008) marks the three estimators throughout.
"""

from mixedmodels.plot.figures import (
    PALETTE,
    caterpillar,
    pooling,
    shrinkage_2d,
    shrinkage_factors,
)

__all__ = ["PALETTE", "caterpillar", "pooling", "shrinkage_2d", "shrinkage_factors"]
