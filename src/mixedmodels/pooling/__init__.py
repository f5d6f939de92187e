"""Partial pooling and the cost of ignoring clusters: simulation, pooling tables, ICC."""

from mixedmodels.pooling.pool import PoolingResult, design_effect, icc, pooling
from mixedmodels.pooling.simulate import simulate_clusters

__all__ = ["PoolingResult", "design_effect", "icc", "pooling", "simulate_clusters"]
