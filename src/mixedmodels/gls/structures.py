"""Residual correlation and variance structures, nlme's ``corStruct`` and ``varFunc``.

A structure reads its ``form`` (``"~ 1 | Subject"``, ``"~ Time | Rat"``, ``"~ Time"``)
from the data once (:meth:`bind`), then gives, for a vector of unconstrained parameters,
each group's correlation matrix or each row's standard-deviation multiplier. Parameters
are optimized on an unconstrained scale and reported on nlme's natural one
(:meth:`natural`): Phi for the autoregressions, Rho for compound symmetry, the
correlations of an unstructured matrix in nlme's order, SD ratios to the reference
stratum for ``varIdent`` and the power of ``varPower``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mixedmodels.errors import DataError, ModelSpecError

__all__ = [
    "BoundCorrelation",
    "BoundVariance",
    "Correlation",
    "Variance",
    "corAR1",
    "corCAR1",
    "corCompSymm",
    "corSymm",
    "parse_form",
    "varIdent",
    "varPower",
]


def parse_form(form: str, what: str) -> tuple[str | None, str | None]:
    """``"~ covariate | group"`` as (covariate or None for ``1``, group or None)."""
    text = str(form).strip()
    if not text.startswith("~"):
        raise ModelSpecError(
            f"{what}'s form must be a one-sided formula such as '~ 1 | g', not {form!r}"
        )
    body = text[1:]
    covariate, _, group = body.partition("|")
    covariate, group = covariate.strip(), group.strip()
    return (None if covariate in ("", "1") else covariate), (group or None)


def _column(data: pd.DataFrame, name: str, what: str) -> pd.Series:
    if name not in data.columns:
        raise DataError(f"{what} names the column {name!r}, which is not in the data")
    return data[name]


@dataclass(frozen=True)
class Correlation:
    """A residual correlation structure within the groups of its ``form``."""

    form: str = "~ 1"
    name: str = field(default="", init=False)

    def bind(self, data: pd.DataFrame, groups: np.ndarray) -> BoundCorrelation:
        """The structure on these rows; ``groups`` are the codes of the grouping factor."""
        covariate, _ = parse_form(self.form, self.name)
        if covariate is None:
            # the position of each row within its group, in the data's order
            position = pd.Series(np.ones(len(groups))).groupby(groups).cumsum().to_numpy()
        else:
            position = pd.to_numeric(_column(data, covariate, self.name), errors="coerce").to_numpy(
                float
            )
            if not np.all(np.isfinite(position)):
                raise DataError(
                    f"{self.name}'s time covariate {covariate!r} must be numeric and finite"
                )
        self._check(position, groups, covariate)
        return BoundCorrelation(self, position, groups)

    def _check(self, position: np.ndarray, groups: np.ndarray, covariate: str | None) -> None:
        frame = pd.DataFrame({"g": groups, "t": position})
        if frame.duplicated().any():
            row = int(np.flatnonzero(frame.duplicated().to_numpy())[0])
            raise DataError(
                f"{self.name}: the time {covariate or 'position'} {position[row]:g} appears twice "
                f"in one group (row {row}); each group needs distinct times"
            )

    # per structure
    def n_params(self, bound: BoundCorrelation) -> int:
        raise NotImplementedError

    def start(self, bound: BoundCorrelation) -> np.ndarray:
        return np.zeros(self.n_params(bound))

    def matrices(
        self, times: np.ndarray, params: np.ndarray, bound: BoundCorrelation
    ) -> np.ndarray:
        """``(G, m, m)``: the correlation matrices of ``G`` groups of ``m`` rows each, at
        their times / positions ``times`` (``(G, m)``)."""
        raise NotImplementedError

    def natural(self, params: np.ndarray, bound: BoundCorrelation) -> dict[str, float]:
        raise NotImplementedError


@dataclass(frozen=True)
class BoundCorrelation:
    """A correlation structure read from the data: each row's time or position."""

    structure: Correlation
    times: np.ndarray
    groups: np.ndarray

    @property
    def max_position(self) -> int:
        """The largest time or position."""
        return int(np.max(self.times))

    @property
    def largest(self) -> int:
        """The number of rows of the largest group."""
        return int(np.bincount(self.groups).max())


def _lags(times: np.ndarray) -> np.ndarray:
    """``|t_j - t_k|`` within each group: ``(G, m, m)`` from ``(G, m)``."""
    return np.asarray(np.abs(times[:, :, None] - times[:, None, :]))


def _fisher(z: float) -> float:
    return float(np.tanh(z / 2.0))  # (-1, 1) from the real line: log((1 + phi) / (1 - phi))


@dataclass(frozen=True)
class corAR1(Correlation):  # noqa: N801 - nlme's name
    """First-order autoregression on integer times (or positions): ``cor = Phi^|t - s|``."""

    name: str = field(default="corAR1", init=False)

    def n_params(self, bound: BoundCorrelation) -> int:
        return 1

    def start(self, bound: BoundCorrelation) -> np.ndarray:
        return np.array([np.log(1.2 / 0.8)])  # Phi = 0.2

    def matrices(
        self, times: np.ndarray, params: np.ndarray, bound: BoundCorrelation
    ) -> np.ndarray:
        return np.asarray(np.power(_fisher(params[0]), _lags(times)))

    def natural(self, params: np.ndarray, bound: BoundCorrelation) -> dict[str, float]:
        return {"Phi": _fisher(params[0])}


@dataclass(frozen=True)
class corCAR1(Correlation):  # noqa: N801
    """Continuous-time autoregression: ``cor = Phi^|t - s|``, Phi in (0, 1), any times."""

    name: str = field(default="corCAR1", init=False)

    def n_params(self, bound: BoundCorrelation) -> int:
        return 1

    def start(self, bound: BoundCorrelation) -> np.ndarray:
        return np.array([np.log(0.2 / 0.8)])

    def matrices(
        self, times: np.ndarray, params: np.ndarray, bound: BoundCorrelation
    ) -> np.ndarray:
        phi = 1.0 / (1.0 + np.exp(-params[0]))
        return np.asarray(np.power(phi, _lags(times)))

    def natural(self, params: np.ndarray, bound: BoundCorrelation) -> dict[str, float]:
        return {"Phi": float(1.0 / (1.0 + np.exp(-params[0])))}


@dataclass(frozen=True)
class corCompSymm(Correlation):  # noqa: N801
    """Compound symmetry: one correlation Rho between any two rows of a group."""

    name: str = field(default="corCompSymm", init=False)

    def n_params(self, bound: BoundCorrelation) -> int:
        return 1

    def _rho(self, z: float, bound_size: int) -> float:
        # Rho in (-1 / (m - 1), 1) for groups of at most m rows
        low = -1.0 / max(bound_size - 1, 1)
        return float(low + (1.0 - low) / (1.0 + np.exp(-z)))

    def matrices(
        self, times: np.ndarray, params: np.ndarray, bound: BoundCorrelation
    ) -> np.ndarray:
        rho = self._rho(params[0], bound.largest)
        G, m = times.shape
        one = np.full((m, m), rho) + (1.0 - rho) * np.eye(m)
        return np.broadcast_to(one, (G, m, m))

    def start(self, bound: BoundCorrelation) -> np.ndarray:
        low = -1.0 / max(bound.largest - 1, 1)
        p = (0.2 - low) / (1.0 - low)
        return np.array([np.log(p / (1.0 - p))])

    def natural(self, params: np.ndarray, bound: BoundCorrelation) -> dict[str, float]:
        return {"Rho": self._rho(params[0], bound.largest)}


@dataclass(frozen=True)
class corSymm(Correlation):  # noqa: N801
    """Unstructured correlations between the positions 1..M of a group (M the largest
    position), through a unit-diagonal Cholesky factor (any positive-definite matrix)."""

    name: str = field(default="corSymm", init=False)

    def n_params(self, bound: BoundCorrelation) -> int:
        m = bound.max_position
        return m * (m - 1) // 2

    def full(self, params: np.ndarray, size: int) -> np.ndarray:
        L = np.eye(size)
        L[np.tril_indices(size, -1)] = params
        C = L @ L.T
        d = 1.0 / np.sqrt(np.diag(C))
        return np.asarray(C * np.outer(d, d))

    def matrices(
        self, times: np.ndarray, params: np.ndarray, bound: BoundCorrelation
    ) -> np.ndarray:
        R = self.full(params, bound.max_position)
        index = times.astype(np.int64) - 1
        return np.asarray(R[index[:, :, None], index[:, None, :]])

    def natural(self, params: np.ndarray, bound: BoundCorrelation) -> dict[str, float]:
        m = bound.max_position
        R = self.full(params, m)
        rows, cols = np.triu_indices(m, 1)
        return {f"cor({i + 1},{j + 1})": float(R[i, j]) for i, j in zip(rows, cols, strict=True)}

    def _check(self, position: np.ndarray, groups: np.ndarray, covariate: str | None) -> None:
        super()._check(position, groups, covariate)
        if not np.all((position == np.round(position)) & (position >= 1)):
            raise DataError("corSymm's positions must be whole numbers from 1 (the visits)")


@dataclass(frozen=True)
class Variance:
    """A residual variance function: each row's SD is sigma times a multiplier."""

    form: str = "~ 1"
    name: str = field(default="", init=False)

    def bind(self, data: pd.DataFrame) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class BoundVariance:
    """A variance function read from the data."""

    structure: Variance
    values: np.ndarray
    levels: tuple[str, ...] = ()

    @property
    def n_params(self) -> int:
        return len(self.levels) - 1 if self.levels else 1

    def start(self) -> np.ndarray:
        return np.zeros(self.n_params)

    def multipliers(self, params: np.ndarray) -> np.ndarray:
        """Each row's SD multiplier."""
        if self.levels:
            delta = np.concatenate([[1.0], np.exp(params)])
            return np.asarray(delta[self.values.astype(np.int64)])
        return np.asarray(np.abs(self.values) ** params[0])

    def natural(self, params: np.ndarray) -> dict[str, float]:
        if self.levels:
            return {
                level: float(np.exp(p)) for level, p in zip(self.levels[1:], params, strict=True)
            }
        return {"power": float(params[0])}


@dataclass(frozen=True)
class varIdent(Variance):  # noqa: N801
    """A different residual SD per stratum of ``form = "~ 1 | stratum"`` (the first level is
    the reference, with ratio 1)."""

    name: str = field(default="varIdent", init=False)

    def bind(self, data: pd.DataFrame) -> BoundVariance:
        _, stratum = parse_form(self.form, self.name)
        if stratum is None:
            raise ModelSpecError("varIdent needs strata: form = '~ 1 | stratum'")
        column = _column(data, stratum, self.name)
        # the reference: a categorical's first category present, else the first value seen
        codes, found = pd.factorize(column, sort=False)
        levels = list(found)
        if isinstance(column.dtype, pd.CategoricalDtype):
            levels = [c for c in column.cat.categories if c in set(column)]
            codes = pd.Categorical(column, categories=levels).codes
        if np.any(codes < 0):
            raise DataError(f"varIdent's stratum {stratum!r} has missing values")
        return BoundVariance(self, np.asarray(codes, float), tuple(str(v) for v in levels))


@dataclass(frozen=True)
class varPower(Variance):  # noqa: N801
    """A residual SD proportional to ``|v|^power`` for a covariate ``form = "~ v"``."""

    name: str = field(default="varPower", init=False)

    def bind(self, data: pd.DataFrame) -> BoundVariance:
        covariate, _ = parse_form(self.form, self.name)
        if covariate is None:
            raise ModelSpecError("varPower needs a covariate: form = '~ v'")
        values = pd.to_numeric(_column(data, covariate, self.name), errors="coerce").to_numpy(float)
        if not np.all(np.isfinite(values)) or np.any(values == 0):
            raise DataError(f"varPower's covariate {covariate!r} must be finite and non-zero")
        return BoundVariance(self, values)
