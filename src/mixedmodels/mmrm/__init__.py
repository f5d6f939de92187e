"""Mixed models for repeated measures (MMRM) with mmrm's formula syntax."""

from mixedmodels.mmrm.fit import mmrm
from mixedmodels.mmrm.result import MmrmResult

__all__ = ["MmrmResult", "mmrm"]
