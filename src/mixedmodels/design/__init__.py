"""From data to the model's pieces: ModelFrame, grouping factors, cross-product blocks."""

from mixedmodels.design.crossproducts import CrossProducts, ZTerm, crossproducts
from mixedmodels.design.frame import ModelFrame, RandomEffectsTerm, model_frame
from mixedmodels.design.grouping import GroupingFactor, grouping_factor

__all__ = [
    "CrossProducts",
    "GroupingFactor",
    "ModelFrame",
    "RandomEffectsTerm",
    "ZTerm",
    "crossproducts",
    "grouping_factor",
    "model_frame",
]
