"""The errors and warnings that mixedmodels raises.

Every message names the column, term or value at fault and says what to do about it.
"""

from __future__ import annotations

__all__ = [
    "MixedModelsError",
    "FormulaError",
    "DataError",
    "ModelSpecError",
    "ModelTooLargeError",
    "ConvergenceWarning",
    "SingularFitWarning",
    "RankDeficiencyWarning",
    "MissingDataWarning",
    "SeparationWarning",
]


class MixedModelsError(Exception):
    """Base class of every error raised by mixedmodels."""


class FormulaError(MixedModelsError, ValueError):
    """A model formula that cannot be read, or that names something absent."""


class DataError(MixedModelsError, ValueError):
    """Data that cannot be used as given: wrong type, missing values, too few rows."""


class ModelSpecError(MixedModelsError, ValueError):
    """A model that the data cannot identify, or options that do not fit together."""


class ConvergenceWarning(UserWarning):
    """The optimizer stopped without meeting its convergence criteria."""


class SingularFitWarning(UserWarning):
    """The fit lies on the boundary: a variance is zero or a correlation is +-1."""


class RankDeficiencyWarning(UserWarning):
    """Fixed-effect columns that are linear combinations of others were dropped."""


class MissingDataWarning(UserWarning):
    """Rows with missing values were dropped before fitting."""


class SeparationWarning(UserWarning):
    """A fixed effect separates the binary outcomes: its estimate diverges."""


class ModelTooLargeError(ModelSpecError):
    """A model whose factorization would need more memory than the fit may use."""
