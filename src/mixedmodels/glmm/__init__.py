"""Generalized linear mixed models: families, PIRLS, Laplace and adaptive quadrature."""

from mixedmodels.glmm.family import Family, family
from mixedmodels.glmm.fit import glmm
from mixedmodels.glmm.pirls import PirlsError
from mixedmodels.glmm.result import GlmmResult

__all__ = ["Family", "GlmmResult", "PirlsError", "family", "glmm"]
