"""Linear mixed models: workspace, profiled objective, fit and result."""

from mixedmodels.lmm.fit import lmm
from mixedmodels.lmm.optimize import OptimizerSettings, OptInfo
from mixedmodels.lmm.result import LmmResult

__all__ = ["lmm", "LmmResult", "OptInfo", "OptimizerSettings"]
