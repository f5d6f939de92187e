"""Linear mixed models: workspace, profiled objective, fit and result."""

from mixedmodels.core.optimize import OptimizerSettings, OptInfo
from mixedmodels.lmm.fit import lmm
from mixedmodels.lmm.result import LmmResult

__all__ = ["lmm", "LmmResult", "OptInfo", "OptimizerSettings"]
