"""Generalized least squares with nlme's residual correlation and variance structures.

The names below load on first use: an LMM fit reads the structure classes of
:mod:`mixedmodels.gls.structures` without loading GLS fitting and its inference.
"""

from typing import TYPE_CHECKING

from mixedmodels._lazy import lazy_exports

if TYPE_CHECKING:
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

_CORRELATIONS = (
    "corAR1",
    "corARMA",
    "corCAR1",
    "corCompSymm",
    "corExp",
    "corGaus",
    "corSpher",
    "corSymm",
)
_VARIANCES = ("varComb", "varConstPower", "varExp", "varIdent", "varPower")

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

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        **dict.fromkeys(_CORRELATIONS, "correlation"),
        **dict.fromkeys(_VARIANCES, "variance"),
        "gls": "fit",
        "GlsResult": "result",
    },
)
