"""mixedmodels: linear and generalized linear mixed-effects models that match lme4.

>>> import mixedmodels as mm
>>> fit = mm.lmm("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
"""

from mixedmodels import datasets
from mixedmodels._version import __version__ as __version__
from mixedmodels.app import explore
from mixedmodels.core.resulttable import ResultTable
from mixedmodels.emm import Contrasts, MarginalMeans, emmeans
from mixedmodels.errors import (
    ConvergenceWarning,
    DataError,
    FormulaError,
    MixedModelsError,
    ModelSpecError,
    RankDeficiencyWarning,
    SeparationWarning,
    SingularFitWarning,
)
from mixedmodels.fitting import lmm
from mixedmodels.glmm import GlmmResult, PirlsError, glmm
from mixedmodels.gls import (
    GlsResult,
    corAR1,
    corARMA,
    corCAR1,
    corCompSymm,
    corExp,
    corGaus,
    corSpher,
    corSymm,
    gls,
    varComb,
    varConstPower,
    varExp,
    varIdent,
    varPower,
)
from mixedmodels.inference import BootstrapResult, VarianceTest, anova, bootstrap, variance_test
from mixedmodels.lmm import OptimizerSettings, OptInfo
from mixedmodels.lmm.structured import StructuredLmmResult
from mixedmodels.lmm_result import LmmResult
from mixedmodels.mmrm import MmrmResult, mmrm
from mixedmodels.planning import PowerResult, cluster_randomized_power, power
from mixedmodels.pooling import (
    PoolingResult,
    PoolingStudy,
    Type1Result,
    design_effect,
    effective_sample_size,
    icc,
    pooling,
    pooling_study,
    shrinkage_factor,
    simulate_clusters,
    type1_error,
)
from mixedmodels.saved import load

__all__ = [
    "PowerResult",
    "cluster_randomized_power",
    "power",
    "Contrasts",
    "MarginalMeans",
    "emmeans",
    "StructuredLmmResult",
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
    "mmrm",
    "MmrmResult",
    "varComb",
    "varConstPower",
    "varExp",
    "varIdent",
    "varPower",
    "BootstrapResult",
    "ConvergenceWarning",
    "DataError",
    "FormulaError",
    "GlmmResult",
    "LmmResult",
    "MixedModelsError",
    "ModelSpecError",
    "OptInfo",
    "OptimizerSettings",
    "PoolingResult",
    "PoolingStudy",
    "ResultTable",
    "PirlsError",
    "RankDeficiencyWarning",
    "SeparationWarning",
    "SingularFitWarning",
    "Type1Result",
    "VarianceTest",
    "anova",
    "bootstrap",
    "datasets",
    "design_effect",
    "effective_sample_size",
    "explore",
    "glmm",
    "icc",
    "lmm",
    "load",
    "plot",
    "pooling",
    "pooling_study",
    "shrinkage_factor",
    "simulate_clusters",
    "type1_error",
    "variance_test",
]


def __getattr__(name: str) -> object:
    """``mm.plot``, the matplotlib figures, imported when first used (matplotlib is the
    ``plot`` extra, so ``import mixedmodels`` does not need it)."""
    if name == "plot":
        import importlib

        return importlib.import_module("mixedmodels.plot")
    raise AttributeError(f"module 'mixedmodels' has no attribute {name!r}")
