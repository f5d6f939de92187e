"""Link functions: ``eta = g(mu)``, the inverse, and the first two derivatives of the
inverse, which IRLS weights (the first) and the observed information of a non-canonical
link (the second) need.

Each link is one small class; a family lists the links it accepts by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy import special

__all__ = [
    "LINKS",
    "Cloglog",
    "Identity",
    "Inverse",
    "InverseSquare",
    "Link",
    "Log",
    "Logit",
    "Probit",
    "Sqrt",
]

_EPS = np.finfo(np.float64).eps
_SQRT_2PI = float(np.sqrt(2.0 * np.pi))


def _into(value: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """``value`` as an array, copied into ``out`` when one is given."""
    if out is None:
        return np.asarray(value)
    out[...] = value
    return out


@dataclass(frozen=True)
class Link:
    """A link function ``g``: ``eta = g(mu)``.

    Subclasses give :meth:`link`, :meth:`inverse`, :meth:`mu_eta` (``d mu / d eta``) and
    :meth:`mu_eta2` (``d^2 mu / d eta^2``). Links of probabilities and of positive means
    keep ``mu`` inside the open parameter space by a margin of one rounding unit.
    """

    name: ClassVar[str] = ""

    def __str__(self) -> str:
        return self.name

    def link(self, mu: np.ndarray) -> np.ndarray:
        """``eta = g(mu)``."""
        raise NotImplementedError

    def inverse(self, eta: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``mu = g^{-1}(eta)`` (into ``out`` if given, which may not be ``eta``)."""
        raise NotImplementedError

    def mu_eta(self, eta: np.ndarray, mu: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``d mu / d eta`` at ``eta`` (``mu`` its inverse; into ``out``, not ``mu``)."""
        raise NotImplementedError

    def mu_eta2(self, eta: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """``d^2 mu / d eta^2``."""
        raise NotImplementedError


@dataclass(frozen=True)
class Logit(Link):
    """``log(mu / (1 - mu))``."""

    name: ClassVar[str] = "logit"

    def link(self, mu: np.ndarray) -> np.ndarray:
        return np.asarray(special.logit(mu))

    def inverse(self, eta: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        # 1 / (1 + exp(-eta)), as special.expit, in one buffer
        mu = np.negative(eta, out=out)
        np.exp(mu, out=mu)
        mu += 1.0
        np.divide(1.0, mu, out=mu)
        clipped: np.ndarray = np.clip(mu, _EPS, 1 - _EPS, out=mu)
        return clipped

    def mu_eta(self, eta: np.ndarray, mu: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        d = np.subtract(1.0, mu, out=out)
        d *= mu
        floored: np.ndarray = np.maximum(d, _EPS, out=d)
        return floored

    def mu_eta2(self, eta: np.ndarray, mu: np.ndarray) -> np.ndarray:
        return np.asarray(mu * (1.0 - mu) * (1.0 - 2.0 * mu))


@dataclass(frozen=True)
class Probit(Link):
    """The standard normal quantile function."""

    name: ClassVar[str] = "probit"

    def link(self, mu: np.ndarray) -> np.ndarray:
        return np.asarray(special.ndtri(mu))

    def inverse(self, eta: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return _into(np.clip(special.ndtr(eta), _EPS, 1 - _EPS), out)

    def mu_eta(self, eta: np.ndarray, mu: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return _into(np.maximum(np.exp(-0.5 * eta * eta) / _SQRT_2PI, _EPS), out)

    def mu_eta2(self, eta: np.ndarray, mu: np.ndarray) -> np.ndarray:
        return np.asarray(-eta * np.exp(-0.5 * eta * eta) / _SQRT_2PI)


@dataclass(frozen=True)
class Cloglog(Link):
    """``log(-log(1 - mu))``."""

    name: ClassVar[str] = "cloglog"

    def link(self, mu: np.ndarray) -> np.ndarray:
        return np.asarray(np.log(-np.log1p(-mu)))

    def inverse(self, eta: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        value = np.clip(-np.expm1(-np.exp(np.minimum(eta, 700.0))), _EPS, 1 - _EPS)
        return _into(value, out)

    def mu_eta(self, eta: np.ndarray, mu: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        e = np.exp(np.minimum(eta, 700.0))
        return _into(np.maximum(e * np.exp(-e), _EPS), out)

    def mu_eta2(self, eta: np.ndarray, mu: np.ndarray) -> np.ndarray:
        e = np.exp(np.minimum(eta, 700.0))
        return np.asarray(e * np.exp(-e) * (1.0 - e))


@dataclass(frozen=True)
class Log(Link):
    """``log(mu)``."""

    name: ClassVar[str] = "log"

    def link(self, mu: np.ndarray) -> np.ndarray:
        return np.asarray(np.log(mu))

    def inverse(self, eta: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return _into(np.maximum(np.exp(np.minimum(eta, 700.0)), _EPS), out)

    def mu_eta(self, eta: np.ndarray, mu: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return _into(np.maximum(mu, _EPS), out)

    def mu_eta2(self, eta: np.ndarray, mu: np.ndarray) -> np.ndarray:
        return np.asarray(mu)


@dataclass(frozen=True)
class Identity(Link):
    """``mu`` itself."""

    name: ClassVar[str] = "identity"

    def link(self, mu: np.ndarray) -> np.ndarray:
        return np.asarray(mu, dtype=np.float64)

    def inverse(self, eta: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return _into(np.asarray(eta, dtype=np.float64), out)

    def mu_eta(self, eta: np.ndarray, mu: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return _into(np.ones_like(eta, dtype=np.float64), out)

    def mu_eta2(self, eta: np.ndarray, mu: np.ndarray) -> np.ndarray:
        return np.zeros_like(eta, dtype=np.float64)


@dataclass(frozen=True)
class Inverse(Link):
    """``1 / mu`` (R's ``"inverse"``, the Gamma family's canonical link)."""

    name: ClassVar[str] = "inverse"

    def link(self, mu: np.ndarray) -> np.ndarray:
        return np.asarray(1.0 / mu)

    def inverse(self, eta: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return _into(1.0 / eta, out)

    def mu_eta(self, eta: np.ndarray, mu: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return _into(-mu * mu, out)

    def mu_eta2(self, eta: np.ndarray, mu: np.ndarray) -> np.ndarray:
        return np.asarray(2.0 * mu**3)


@dataclass(frozen=True)
class InverseSquare(Link):
    """``1 / mu^2`` (R's ``"1/mu^2"``, the inverse Gaussian family's canonical link)."""

    name: ClassVar[str] = "1/mu^2"

    def link(self, mu: np.ndarray) -> np.ndarray:
        return np.asarray(1.0 / (mu * mu))

    def inverse(self, eta: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return _into(1.0 / np.sqrt(eta), out)

    def mu_eta(self, eta: np.ndarray, mu: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return _into(-0.5 * mu**3, out)

    def mu_eta2(self, eta: np.ndarray, mu: np.ndarray) -> np.ndarray:
        return np.asarray(0.75 * mu**5)


@dataclass(frozen=True)
class Sqrt(Link):
    """``sqrt(mu)``."""

    name: ClassVar[str] = "sqrt"

    def link(self, mu: np.ndarray) -> np.ndarray:
        return np.asarray(np.sqrt(mu))

    def inverse(self, eta: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return _into(eta * eta, out)

    def mu_eta(self, eta: np.ndarray, mu: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return _into(2.0 * eta, out)

    def mu_eta2(self, eta: np.ndarray, mu: np.ndarray) -> np.ndarray:
        return np.full_like(eta, 2.0, dtype=np.float64)


#: Every link by its R name.
LINKS: dict[str, type[Link]] = {
    cls.name: cls for cls in (Logit, Probit, Cloglog, Log, Identity, Inverse, InverseSquare, Sqrt)
}
