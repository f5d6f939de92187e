"""Inference for fitted mixed models: small-sample tests and model comparison.

The names below load on first use, so that a module of this package (the dense
covariances GLS reads, say) can be imported without the bootstrap and its GLMMs. The
functions named like their modules (``bootstrap``, ``variance_test``) are read from those
modules: a package attribute of that name is the submodule once it is imported.
"""

from typing import TYPE_CHECKING

from mixedmodels._lazy import lazy_exports

if TYPE_CHECKING:
    from mixedmodels.inference.bootstrap import BootstrapResult
    from mixedmodels.inference.lrt import anova
    from mixedmodels.inference.satterthwaite import satterthwaite_f, satterthwaite_t
    from mixedmodels.inference.variance_test import VarianceTest
    from mixedmodels.inference.varpar import VarianceFunctions

__all__ = [
    "BootstrapResult",
    "VarianceFunctions",
    "VarianceTest",
    "anova",
    "satterthwaite_f",
    "satterthwaite_t",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "BootstrapResult": "bootstrap",
        "anova": "lrt",
        "satterthwaite_f": "satterthwaite",
        "satterthwaite_t": "satterthwaite",
        "VarianceTest": "variance_test",
        "VarianceFunctions": "varpar",
    },
)
