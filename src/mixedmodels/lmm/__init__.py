"""Linear mixed models: the model object, its objective and gradient, the fit and its
record (the user-facing result, above inference, is :mod:`mixedmodels.lmm_result`'s)."""

from mixedmodels.core.optinfo import OptimizerSettings, OptInfo
from mixedmodels.lmm.fit import lmm
from mixedmodels.lmm.record import LmmRecord

__all__ = ["lmm", "LmmRecord", "OptInfo", "OptimizerSettings"]
