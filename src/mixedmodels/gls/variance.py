"""Residual variance functions, nlme's ``varFunc``: each row's SD is sigma times a
multiplier of the rows' values of the function's ``form`` (SD ratios to the reference
stratum for ``varIdent``, a power, an exponential rate, a constant plus a power).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mixedmodels.errors import DataError, ModelSpecError
from mixedmodels.gls.form import data_column, parse_form

__all__ = ["BoundVariance", "Variance", "varConstPower", "varExp", "varIdent", "varPower"]


@dataclass(frozen=True)
class Variance:
    """A residual variance function: each row's SD is sigma times a multiplier of the
    rows' values of its ``form``."""

    form: str = "~ 1"
    name: str = field(default="", init=False)

    def bind(self, data: pd.DataFrame) -> BoundVariance:
        covariate, _ = parse_form(self.form, self.name)
        if covariate is None:
            raise ModelSpecError(f"{self.name} needs a covariate: form = '~ v'")
        column = pd.to_numeric(data_column(data, covariate, self.name), errors="coerce")
        values = np.asarray(column, dtype=float)
        if not np.all(np.isfinite(values)):
            raise DataError(f"{self.name}'s covariate {covariate!r} must be numeric and finite")
        self._check(values, covariate)
        return BoundVariance(self, values)

    def _check(self, values: np.ndarray, covariate: str) -> None:
        """Refuse values the function is not defined at."""

    # per function
    def n_params(self, bound: BoundVariance) -> int:
        return 1

    def start(self, bound: BoundVariance) -> np.ndarray:
        return np.zeros(self.n_params(bound))

    def multipliers(self, bound: BoundVariance, params: np.ndarray) -> np.ndarray:
        """Each row's SD multiplier at the unconstrained ``params``."""
        raise NotImplementedError

    def natural(self, bound: BoundVariance, params: np.ndarray) -> dict[str, float]:
        raise NotImplementedError


@dataclass(frozen=True)
class BoundVariance:
    """A variance function read from the data: the rows' values (stratum codes for
    ``varIdent``, with the strata's names)."""

    structure: Variance
    values: np.ndarray
    levels: tuple[str, ...] = ()

    @property
    def n_params(self) -> int:
        return self.structure.n_params(self)

    def start(self) -> np.ndarray:
        return self.structure.start(self)

    def multipliers(self, params: np.ndarray) -> np.ndarray:
        return self.structure.multipliers(self, params)

    def natural(self, params: np.ndarray) -> dict[str, float]:
        return self.structure.natural(self, params)


@dataclass(frozen=True)
class varIdent(Variance):  # noqa: N801
    """A different residual SD per stratum of ``form = "~ 1 | stratum"`` (the first level is
    the reference, with ratio 1: a categorical's first category present, else the first
    value in the data)."""

    name: str = field(default="varIdent", init=False)

    def bind(self, data: pd.DataFrame) -> BoundVariance:
        _, stratum = parse_form(self.form, self.name)
        if stratum is None:
            raise ModelSpecError("varIdent needs strata: form = '~ 1 | stratum'")
        column = data_column(data, stratum, self.name)
        codes, found = pd.factorize(column, sort=False)
        levels = list(found)
        if isinstance(column.dtype, pd.CategoricalDtype):
            levels = [c for c in column.cat.categories if c in set(column)]
            codes = pd.Categorical(column, categories=levels).codes
        if np.any(codes < 0):
            raise DataError(f"varIdent's stratum {stratum!r} has missing values")
        return BoundVariance(self, np.asarray(codes, float), tuple(str(v) for v in levels))

    def n_params(self, bound: BoundVariance) -> int:
        return len(bound.levels) - 1

    def multipliers(self, bound: BoundVariance, params: np.ndarray) -> np.ndarray:
        delta = np.concatenate([[1.0], np.exp(params)])
        return np.asarray(delta[bound.values.astype(np.int64)])

    def natural(self, bound: BoundVariance, params: np.ndarray) -> dict[str, float]:
        return {level: float(np.exp(p)) for level, p in zip(bound.levels[1:], params, strict=True)}


@dataclass(frozen=True)
class varPower(Variance):  # noqa: N801
    """A residual SD proportional to ``|v|^power`` for a covariate ``form = "~ v"``."""

    name: str = field(default="varPower", init=False)

    def _check(self, values: np.ndarray, covariate: str) -> None:
        if np.any(values == 0):
            raise DataError(f"varPower's covariate {covariate!r} must be non-zero")

    def multipliers(self, bound: BoundVariance, params: np.ndarray) -> np.ndarray:
        return np.asarray(np.abs(bound.values) ** params[0])

    def natural(self, bound: BoundVariance, params: np.ndarray) -> dict[str, float]:
        return {"power": float(params[0])}


@dataclass(frozen=True)
class varExp(Variance):  # noqa: N801
    """A residual SD proportional to ``exp(expon v)``."""

    name: str = field(default="varExp", init=False)

    def multipliers(self, bound: BoundVariance, params: np.ndarray) -> np.ndarray:
        return np.asarray(np.exp(params[0] * bound.values))

    def natural(self, bound: BoundVariance, params: np.ndarray) -> dict[str, float]:
        return {"expon": float(params[0])}


@dataclass(frozen=True)
class varConstPower(Variance):  # noqa: N801
    """A residual SD proportional to ``const + |v|^power``, ``const > 0``."""

    name: str = field(default="varConstPower", init=False)

    def n_params(self, bound: BoundVariance) -> int:
        return 2

    def multipliers(self, bound: BoundVariance, params: np.ndarray) -> np.ndarray:
        return np.asarray(np.exp(params[0]) + np.abs(bound.values) ** params[1])

    def natural(self, bound: BoundVariance, params: np.ndarray) -> dict[str, float]:
        return {"const": float(np.exp(params[0])), "power": float(params[1])}
