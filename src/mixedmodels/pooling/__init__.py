"""Partial pooling and the cost of ignoring clusters: simulation, pooling tables, ICC."""

from mixedmodels.pooling.pool import PoolingResult, design_effect, icc, pooling
from mixedmodels.pooling.simulate import simulate_clusters
from mixedmodels.pooling.type1 import Type1Result, type1_error

__all__ = [
    "PoolingResult",
    "Type1Result",
    "design_effect",
    "icc",
    "pooling",
    "simulate_clusters",
    "type1_error",
]
