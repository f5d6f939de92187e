"""Generalized least squares with nlme's residual correlation and variance structures."""

from mixedmodels.gls.fit import gls
from mixedmodels.gls.result import GlsResult
from mixedmodels.gls.structures import corAR1, corCAR1, corCompSymm, corSymm, varIdent, varPower

__all__ = [
    "GlsResult",
    "corAR1",
    "corCAR1",
    "corCompSymm",
    "corSymm",
    "gls",
    "varIdent",
    "varPower",
]
