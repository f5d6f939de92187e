"""Partial pooling and the cost of ignoring clusters: simulation, pooling tables, ICC."""

from mixedmodels.pooling.pool import (
    PoolingResult,
    design_effect,
    effective_sample_size,
    icc,
    pooling,
    shrinkage_factor,
)
from mixedmodels.pooling.simulate import simulate_clusters
from mixedmodels.pooling.study import PoolingStudy, pooling_study
from mixedmodels.pooling.type1 import Type1Result, type1_error

__all__ = [
    "PoolingResult",
    "PoolingStudy",
    "Type1Result",
    "design_effect",
    "shrinkage_factor",
    "effective_sample_size",
    "icc",
    "pooling",
    "pooling_study",
    "simulate_clusters",
    "type1_error",
]
