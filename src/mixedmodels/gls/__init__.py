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

#: The module of each public name that is not a correlation (``cor*``, in
#: ``correlation``) or a variance function (``var*``, in ``variance``).
_OTHERS = {"gls": "fit", "GlsResult": "result"}

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        name: _OTHERS.get(name) or ("correlation" if name.startswith("cor") else "variance")
        for name in __all__
    },
)
