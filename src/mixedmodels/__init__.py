"""mixedmodels: linear and generalized linear mixed-effects models that match lme4.

>>> import mixedmodels as mm
>>> fit = mm.lmm("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))

``import mixedmodels`` loads only this file and the errors: each public name is imported
from its module when it is first used (PEP 562), so that the command line and code that
needs one function do not pay for NumPy, SciPy, pandas and formulaic up front.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING

from mixedmodels._version import __version__ as __version__
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

if TYPE_CHECKING:  # what type checkers and editors see: the names bound eagerly
    from mixedmodels import datasets, plot
    from mixedmodels.app import explore
    from mixedmodels.core.resulttable import ResultTable
    from mixedmodels.emm import Contrasts, MarginalMeans, emmeans
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
    from mixedmodels.inference import anova

    # from their own modules: read through the package, mypy takes these functions for
    # the submodules of the same name
    from mixedmodels.inference.bootstrap import BootstrapResult, bootstrap
    from mixedmodels.inference.variance_test import VarianceTest, variance_test
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

#: The public names that are modules of their own.
_SUBMODULES = frozenset({"datasets", "plot"})

#: Where each lazily imported public name lives (a submodule: the module itself).
_LAZY: dict[str, str] = {
    "datasets": "mixedmodels.datasets",
    "plot": "mixedmodels.plot",
    "explore": "mixedmodels.app",
    "ResultTable": "mixedmodels.core.resulttable",
    **dict.fromkeys(("Contrasts", "MarginalMeans", "emmeans"), "mixedmodels.emm"),
    "lmm": "mixedmodels.fitting",
    **dict.fromkeys(("GlmmResult", "PirlsError", "glmm"), "mixedmodels.glmm"),
    **dict.fromkeys(
        (
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
        ),
        "mixedmodels.gls",
    ),
    **dict.fromkeys(("BootstrapResult", "bootstrap"), "mixedmodels.inference.bootstrap"),
    **dict.fromkeys(("VarianceTest", "variance_test"), "mixedmodels.inference.variance_test"),
    "anova": "mixedmodels.inference.lrt",
    **dict.fromkeys(("OptimizerSettings", "OptInfo"), "mixedmodels.lmm"),
    "StructuredLmmResult": "mixedmodels.lmm.structured",
    "LmmResult": "mixedmodels.lmm_result",
    **dict.fromkeys(("MmrmResult", "mmrm"), "mixedmodels.mmrm"),
    **dict.fromkeys(("PowerResult", "cluster_randomized_power", "power"), "mixedmodels.planning"),
    **dict.fromkeys(
        (
            "PoolingResult",
            "PoolingStudy",
            "Type1Result",
            "design_effect",
            "effective_sample_size",
            "icc",
            "pooling",
            "pooling_study",
            "shrinkage_factor",
            "simulate_clusters",
            "type1_error",
        ),
        "mixedmodels.pooling",
    ),
    "load": "mixedmodels.saved",
}

#: Public functions named like a subpackage: importing ``mixedmodels.lmm`` (say) must not
#: put the subpackage where ``mm.lmm``, the function, is looked up.
_SHADOWED = frozenset({"lmm", "glmm", "gls", "mmrm", "pooling"})


def __getattr__(name: str) -> object:
    """The public ``name``, imported from its module on first use and then kept here."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mixedmodels' has no attribute {name!r}")
    value: object = importlib.import_module(module)
    if name not in _SUBMODULES:
        value = getattr(value, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, the ones not yet imported included."""
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """This package's module type: when a subpackage that shares its name with a public
    function is imported, the import system sets it as an attribute here; that would hide
    the function, so the attribute is left to :func:`__getattr__` instead."""

    def __setattr__(self, name: str, value: object) -> None:
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
