"""Power analysis: by simulation from a fitted model (:func:`power`), along the number of
levels of a grouping factor, and in closed form for a balanced cluster-randomised design
(:func:`cluster_randomized_power`)."""

from mixedmodels.planning.closed_form import cluster_randomized_power
from mixedmodels.planning.study import PowerResult, power

__all__ = ["PowerResult", "cluster_randomized_power", "power"]
