"""Generalized least squares with nlme's residual correlation and variance structures."""

from mixedmodels.gls.correlation import (
    corAR1,
    corARMA,
    corCAR1,
    corCompSymm,
    corExp,
    corGaus,
    corSpher,
    corSymm,
)
from mixedmodels.gls.fit import gls
from mixedmodels.gls.result import GlsResult
from mixedmodels.gls.variance import varComb, varConstPower, varExp, varIdent, varPower

__all__ = [
    "GlsResult",
    "corAR1",
    "corARMA",
    "corCAR1",
    "corCompSymm",
    "corExp",
    "corGaus",
    "corSpher",
    "corSymm",
    "gls",
    "varComb",
    "varConstPower",
    "varExp",
    "varIdent",
    "varPower",
]
