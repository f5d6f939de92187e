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
    "NonFiniteFitError",
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


class NonFiniteFitError(MixedModelsError, ArithmeticError):
    """A fit whose estimates or criterion came out NaN or infinite: never returned as a
    result."""


def check_finite_fit(formula: str, **values: object) -> None:
    """Raise :class:`NonFiniteFitError` naming the first of ``values`` (estimates, the
    criterion) that holds a NaN or an infinity."""
    import numpy as np

    for name, value in values.items():
        array = np.asarray(value, dtype=np.float64)
        if array.size and not np.all(np.isfinite(array)):
            raise NonFiniteFitError(
                f"fitting {formula!r} gave a non-finite {name} ({array.ravel()[:4].tolist()}); "
                "the data may hold values too far apart in scale, or a model it cannot "
                "identify: rescale the columns or simplify the model"
            )
