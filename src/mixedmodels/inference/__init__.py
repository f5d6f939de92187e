"""Inference for fitted mixed models: small-sample tests and model comparison."""

from mixedmodels.inference.bootstrap import BootstrapResult, bootstrap
from mixedmodels.inference.lrt import anova
from mixedmodels.inference.satterthwaite import satterthwaite_f, satterthwaite_t
from mixedmodels.inference.variance_test import VarianceTest, variance_test
from mixedmodels.inference.varpar import VarianceFunctions

__all__ = [
    "BootstrapResult",
    "VarianceFunctions",
    "VarianceTest",
    "anova",
    "bootstrap",
    "satterthwaite_f",
    "satterthwaite_t",
    "variance_test",
]
