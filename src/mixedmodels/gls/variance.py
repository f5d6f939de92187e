"""Residual variance functions, nlme's ``varFunc``: each row's SD is sigma times a
multiplier of the rows' values of the function's ``form`` (SD ratios to the reference
stratum for ``varIdent``, a power, an exponential rate, a constant plus a power), or the
product of several (``varComb``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mixedmodels.errors import DataError, ModelSpecError
from mixedmodels.gls.form import data_column, parse_form

__all__ = [
    "BoundVariance",
    "Variance",
    "varComb",
    "varConstPower",
    "varExp",
    "varIdent",
    "varPower",
]


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
    parts: tuple[BoundVariance, ...] = ()
    """A combination's functions, each read from the data."""

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


@dataclass(frozen=True, init=False)
class varComb(Variance):  # noqa: N801
    """The product of variance functions: each row's SD multiplier is the product of the
    functions' multipliers, ``varComb(varIdent(form="~ 1 | Diet"), varPower(form="~ Time"))``
    for a different SD per diet that also grows as a power of time. The parameters are
    named as nlme names them: ``A.`` before the first function's, ``B.`` before the
    second's, and so on."""

    name: str = field(default="varComb", init=False)
    parts: tuple[Variance, ...] = ()

    def __init__(self, *parts: Variance) -> None:
        if len(parts) < 2 or not all(isinstance(p, Variance) for p in parts):
            raise ModelSpecError(
                "varComb takes two or more variance functions, e.g. "
                "mm.varComb(mm.varIdent(form='~ 1 | g'), mm.varPower(form='~ v'))"
            )
        object.__setattr__(self, "parts", tuple(parts))
        object.__setattr__(self, "name", "varComb")
        object.__setattr__(self, "form", " * ".join(f"{p.name}({p.form})" for p in parts))

    def bind(self, data: pd.DataFrame) -> BoundVariance:
        return BoundVariance(self, np.zeros(0), (), tuple(p.bind(data) for p in self.parts))

    def _split(self, bound: BoundVariance, params: np.ndarray) -> list[np.ndarray]:
        sizes = [b.n_params for b in bound.parts]
        return np.split(np.asarray(params, dtype=np.float64), np.cumsum(sizes)[:-1])

    def n_params(self, bound: BoundVariance) -> int:
        return sum(b.n_params for b in bound.parts)

    def start(self, bound: BoundVariance) -> np.ndarray:
        return np.concatenate([b.start() for b in bound.parts])

    def multipliers(self, bound: BoundVariance, params: np.ndarray) -> np.ndarray:
        out = np.ones(0)
        for b, p in zip(bound.parts, self._split(bound, params), strict=True):
            m = b.multipliers(p)
            out = m if out.size == 0 else out * m
        return out

    def natural(self, bound: BoundVariance, params: np.ndarray) -> dict[str, float]:
        out: dict[str, float] = {}
        for letter, b, p in zip(
            "ABCDEFGHIJ", bound.parts, self._split(bound, params), strict=False
        ):
            out.update({f"{letter}.{k}": v for k, v in b.natural(p).items()})
        return out
