"""Residual correlation structures, nlme's ``corStruct``: within each group of the
structure's ``form``, the correlation of two rows as a function of their times (or
positions, or coordinates). A structure reads its form from the data once (:meth:`bind`),
then gives, at unconstrained parameters, the groups' correlation matrices and its
parameters on nlme's natural scale (Phi for the autoregressions, Rho for compound
symmetry, the correlations of an unstructured matrix in nlme's order, Phi1.. and Theta1..
of an ARMA, range and nugget of the spatial ones).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mixedmodels.errors import DataError, ModelSpecError
from mixedmodels.gls.form import data_column, parse_form

__all__ = [
    "BoundCorrelation",
    "Correlation",
    "corAR1",
    "corARMA",
    "corCAR1",
    "corCompSymm",
    "corExp",
    "corGaus",
    "corSpher",
    "corSymm",
]


@dataclass(frozen=True)
class Correlation:
    """A residual correlation structure within the groups of its ``form``."""

    form: str = "~ 1"
    name: str = field(default="", init=False)
    #: whether the structure is Markov in time order (each row depends on the row before
    #: it alone), so whitening needs no factorization (see mixedmodels.gls.whitening)
    markov = False

    def bind(self, data: pd.DataFrame, groups: np.ndarray) -> BoundCorrelation:
        """The structure on these rows; ``groups`` are the codes of the grouping factor."""
        covariate, _ = parse_form(self.form, self.name)
        if covariate is None:
            # the position of each row within its group, in the data's order
            position = pd.Series(np.ones(len(groups))).groupby(groups).cumsum().to_numpy()
        else:
            position = pd.to_numeric(
                data_column(data, covariate, self.name), errors="coerce"
            ).to_numpy(float)
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

    def phi(self, params: np.ndarray) -> float:
        """A Markov structure's correlation at a time step of 1."""
        raise NotImplementedError

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
    markov = True

    def phi(self, params: np.ndarray) -> float:
        """Phi at the unconstrained parameter."""
        return _fisher(params[0])

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
    markov = True

    def phi(self, params: np.ndarray) -> float:
        """Phi at the unconstrained parameter."""
        return float(1.0 / (1.0 + np.exp(-params[0])))

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


def _pacf_to_coefficients(r: np.ndarray) -> np.ndarray:
    """AR coefficients of a stationary polynomial from partial autocorrelations in
    (-1, 1) (the Durbin-Levinson recursion): any such values give a stationary model."""
    phi = np.zeros(0)
    for k, rk in enumerate(r):
        phi = np.concatenate([phi - rk * phi[::-1], [rk]]) if k else np.array([rk])
    return phi


@dataclass(frozen=True)
class corARMA(Correlation):  # noqa: N801
    """An ARMA(p, q) process on integer times (or positions), nlme's ``corARMA``:
    ``e_t = Phi_1 e_{t-1} + ... + a_t + Theta_1 a_{t-1} + ...``, stationary and
    invertible (its parameters are those of partial autocorrelations in (-1, 1))."""

    p: int = 0
    q: int = 0
    name: str = field(default="corARMA", init=False)

    def __post_init__(self) -> None:
        for order, value in (("p", self.p), ("q", self.q)):
            if not isinstance(value, (int, np.integer)) or value < 0:
                raise ModelSpecError(
                    f"corARMA's {order} must be a whole number >= 0, not {value!r}"
                )
        if self.p + self.q == 0:
            raise ModelSpecError("corARMA needs p > 0 or q > 0 (p = q = 0 is no correlation)")

    def n_params(self, bound: BoundCorrelation) -> int:
        return self.p + self.q

    def _coefficients(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        phi = _pacf_to_coefficients(np.tanh(params[: self.p] / 2.0))
        theta = -_pacf_to_coefficients(np.tanh(params[self.p :] / 2.0))
        return phi, theta

    def autocorrelations(self, params: np.ndarray, max_lag: int) -> np.ndarray:
        """The process's autocorrelations at lags 0..max_lag (from its MA(infinity) weights,
        summed until they are below 1e-14 of the first)."""
        from scipy import signal

        phi, theta = self._coefficients(params)
        length = 256 + max_lag
        while True:
            impulse = np.zeros(length)
            impulse[0] = 1.0
            psi = signal.lfilter(
                np.concatenate([[1.0], theta]), np.concatenate([[1.0], -phi]), impulse
            )
            if abs(psi[-1]) < 1e-14 * np.max(np.abs(psi)) or length > 1_000_000:
                break
            length *= 4
        gamma = np.array([psi[: length - k] @ psi[k:] for k in range(max_lag + 1)])
        return np.asarray(gamma / gamma[0])

    def matrices(
        self, times: np.ndarray, params: np.ndarray, bound: BoundCorrelation
    ) -> np.ndarray:
        lags = _lags(times).astype(np.int64)
        return np.asarray(self.autocorrelations(params, int(lags.max(initial=0)))[lags])

    def natural(self, params: np.ndarray, bound: BoundCorrelation) -> dict[str, float]:
        phi, theta = self._coefficients(params)
        out = {f"Phi{i + 1}": float(v) for i, v in enumerate(phi)}
        out.update({f"Theta{i + 1}": float(v) for i, v in enumerate(theta)})
        return out

    def _check(self, position: np.ndarray, groups: np.ndarray, covariate: str | None) -> None:
        super()._check(position, groups, covariate)
        if not np.all(position == np.round(position)):
            raise DataError("corARMA's times must be whole numbers (it is a discrete-time process)")


@dataclass(frozen=True)
class _Spatial(Correlation):
    """An isotropic spatial correlation of the Euclidean distance between the rows'
    coordinates (``form = "~ x + y"`` or ``"~ x + y | g"``): ``(1 - nugget) f(d / range)``
    off the diagonal, with ``nugget`` only when asked for."""

    value: tuple[float, ...] | None = None
    nugget: bool = False

    def bind(self, data: pd.DataFrame, groups: np.ndarray) -> BoundCorrelation:
        covariate, _ = parse_form(self.form, self.name)
        if covariate is None:
            raise ModelSpecError(
                f"{self.name} needs coordinates: form = '~ x + y' (or '~ x + y | g')"
            )
        columns = [c.strip() for c in covariate.split("+")]
        coords = np.column_stack(
            [
                pd.to_numeric(data_column(data, c, self.name), errors="coerce").to_numpy(float)
                for c in columns
            ]
        )
        if not np.all(np.isfinite(coords)):
            raise DataError(
                f"{self.name}'s coordinates {', '.join(columns)} must be numeric and finite"
            )
        return BoundCorrelation(self, coords, groups)

    def shape(self, s: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def n_params(self, bound: BoundCorrelation) -> int:
        return 1 + int(self.nugget)

    def start(self, bound: BoundCorrelation) -> np.ndarray:
        if self.value is not None:
            values = np.atleast_1d(np.asarray(self.value, dtype=float))
            if values.size != self.n_params(bound) or values[0] <= 0:
                raise ModelSpecError(
                    f"{self.name}'s value must be (range,{' nugget' if self.nugget else ''}) "
                    f"with range > 0, not {self.value!r}"
                )
            out = [np.log(values[0])]
            if self.nugget:
                if not 0 < values[1] < 1:
                    raise ModelSpecError(
                        f"{self.name}'s nugget must lie in (0, 1), not {values[1]!r}"
                    )
                out.append(np.log(values[1] / (1 - values[1])))
            return np.array(out)
        # a tenth of the largest distance within a group, and a nugget of 0.1
        span = float(np.max(np.ptp(bound.times, axis=0))) if bound.times.size else 1.0
        out = [np.log(max(span, 1e-8) / 10.0)]
        if self.nugget:
            out.append(np.log(0.1 / 0.9))
        return np.array(out)

    def matrices(
        self, times: np.ndarray, params: np.ndarray, bound: BoundCorrelation
    ) -> np.ndarray:
        distance = np.sqrt(np.sum((times[:, :, None, :] - times[:, None, :, :]) ** 2, axis=-1))
        R = self.shape(distance / np.exp(params[0]))
        if self.nugget:
            nugget = 1.0 / (1.0 + np.exp(-params[1]))
            m = times.shape[1]
            R = (1.0 - nugget) * R + nugget * np.eye(m)
        else:
            m = times.shape[1]
            R = np.where(np.eye(m, dtype=bool), 1.0, R)
        return np.asarray(R)

    def natural(self, params: np.ndarray, bound: BoundCorrelation) -> dict[str, float]:
        out = {"range": float(np.exp(params[0]))}
        if self.nugget:
            out["nugget"] = float(1.0 / (1.0 + np.exp(-params[1])))
        return out


@dataclass(frozen=True)
class corExp(_Spatial):  # noqa: N801
    """Exponential spatial correlation: ``exp(-d / range)``."""

    name: str = field(default="corExp", init=False)

    def shape(self, s: np.ndarray) -> np.ndarray:
        return np.asarray(np.exp(-s))


@dataclass(frozen=True)
class corGaus(_Spatial):  # noqa: N801
    """Gaussian spatial correlation: ``exp(-(d / range)^2)``."""

    name: str = field(default="corGaus", init=False)

    def shape(self, s: np.ndarray) -> np.ndarray:
        return np.asarray(np.exp(-s * s))


@dataclass(frozen=True)
class corSpher(_Spatial):  # noqa: N801
    """Spherical spatial correlation: ``1 - 1.5 s + 0.5 s^3`` for ``s = d / range < 1``,
    0 beyond."""

    name: str = field(default="corSpher", init=False)

    def shape(self, s: np.ndarray) -> np.ndarray:
        return np.asarray(np.where(s < 1.0, 1.0 - 1.5 * s + 0.5 * s**3, 0.0))
