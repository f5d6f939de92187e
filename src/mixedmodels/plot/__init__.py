"""Matplotlib figures that only read result tables; each returns its Axes.

A colour-blind-safe palette (Okabe & Ito 2008) marks the three estimators throughout.
"""

from mixedmodels.plot.checks import simulated_residuals
from mixedmodels.plot.figures import (
    PALETTE,
    caterpillar,
    pooling,
    residuals,
    shrinkage_2d,
    shrinkage_factors,
    type1_by_icc,
)
from mixedmodels.plot.power import power_curve

__all__ = [
    "PALETTE",
    "caterpillar",
    "pooling",
    "power_curve",
    "residuals",
    "shrinkage_2d",
    "shrinkage_factors",
    "simulated_residuals",
    "type1_by_icc",
]
