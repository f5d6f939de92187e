"""Families and links of generalized linear mixed models: binomial and Poisson.

Each family gives the inverse link and its derivative, the variance function, the deviance
residuals and the log-likelihood of a response value (with its normalizing constants, as
R's ``family$aic`` does, so log-likelihoods agree with lme4's).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from mixedmodels.errors import ModelSpecError

__all__ = ["Family", "family"]

_EPS = np.finfo(np.float64).eps


@dataclass(frozen=True)
class Family:
    """A response distribution with its link.

    Attributes
    ----------
    name : str
        ``"binomial"`` or ``"poisson"``.
    link : str
        ``"logit"``, ``"probit"``, ``"cloglog"`` or ``"log"``.
    """

    name: str
    link: str

    # -- link --------------------------------------------------------------------------
    def linkfun(self, mu: np.ndarray) -> np.ndarray:
        """eta = g(mu)."""
        if self.link == "logit":
            return np.asarray(special.logit(mu))
        if self.link == "probit":
            return np.asarray(special.ndtri(mu))
        if self.link == "cloglog":
            return np.asarray(np.log(-np.log1p(-mu)))
        return np.asarray(np.log(mu))

    def linkinv(self, eta: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """mu = g^{-1}(eta), kept inside the open parameter space (into ``out`` if given,
        which may not be ``eta``)."""
        if self.link == "logit":  # 1 / (1 + exp(-eta)), as special.expit, in one buffer
            mu = np.negative(eta, out=out)
            np.exp(mu, out=mu)
            mu += 1.0
            np.divide(1.0, mu, out=mu)
            clipped: np.ndarray = np.clip(mu, _EPS, 1 - _EPS, out=mu)
            return clipped
        if self.link == "probit":
            value = np.clip(special.ndtr(eta), _EPS, 1 - _EPS)
        elif self.link == "cloglog":
            value = np.clip(-np.expm1(-np.exp(np.minimum(eta, 700.0))), _EPS, 1 - _EPS)
        else:
            value = np.maximum(np.exp(np.minimum(eta, 700.0)), _EPS)
        return _into(value, out)

    def mu_eta(self, eta: np.ndarray, mu: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """d mu / d eta (into ``out`` if given, which may not be ``mu``)."""
        if self.link == "logit":
            d = np.subtract(1.0, mu, out=out)
            d *= mu
            floored: np.ndarray = np.maximum(d, _EPS, out=d)
            return floored
        if self.link == "probit":
            value = np.maximum(stats.norm.pdf(eta), _EPS)
        elif self.link == "cloglog":
            e = np.exp(np.minimum(eta, 700.0))
            value = np.maximum(e * np.exp(-e), _EPS)
        else:
            value = np.maximum(mu, _EPS)
        return _into(value, out)

    # -- distribution ------------------------------------------------------------------
    def variance(self, mu: np.ndarray) -> np.ndarray:
        """Var(y) / phi as a function of mu."""
        if self.name == "binomial":
            return mu * (1.0 - mu)
        return mu

    def deviance_residuals(self, y: np.ndarray, mu: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Unit deviances times prior weights (squared deviance residuals)."""
        if self.name == "binomial":
            a = special.xlogy(y, y) - special.xlogy(y, mu)
            b = special.xlogy(1 - y, 1 - y) - special.xlogy(1 - y, 1 - mu)
            return np.asarray(2.0 * w * (a + b))
        return np.asarray(2.0 * w * (special.xlogy(y, y) - special.xlogy(y, mu) - (y - mu)))

    def kernel(self, y: np.ndarray, mu: np.ndarray, w: np.ndarray) -> np.ndarray:
        """The part of each log-density that depends on mu: binomial
        ``w (y log mu + (1 - y) log(1 - mu))``, Poisson ``w (y log mu - mu)``.

        The log-likelihood is the kernel plus :meth:`normalizer`; a unit deviance is twice
        the kernel at ``mu = y`` minus the kernel at ``mu``.
        """
        if self.name == "binomial":  # mu is kept inside (0, 1) by linkinv
            return np.asarray(w * (y * np.log(mu) + (1.0 - y) * np.log1p(-mu)))
        return np.asarray(w * (y * np.log(mu) - mu))

    def normalizer(self, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Per-row constants of the log-density (log binomial coefficients, -log y!)."""
        if self.name == "binomial":
            n = np.round(w)
            k = np.round(w * y)
            return np.asarray(
                special.gammaln(n + 1.0) - special.gammaln(k + 1.0) - special.gammaln(n - k + 1.0)
            )
        return np.asarray(-w * special.gammaln(y + 1.0))

    def log_likelihood(self, y: np.ndarray, mu: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Log-density of each response, with constants (R's ``family$aic`` / -2)."""
        if self.name == "binomial":
            # w holds the number of trials; y the proportion of successes
            k = np.round(w * y)
            n = np.round(w)
            return np.asarray(stats.binom.logpmf(k, n, mu))
        return np.asarray(w * (special.xlogy(y, mu) - mu - special.gammaln(y + 1.0)))


def _into(value: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """``value`` as an array, copied into ``out`` when one is given."""
    if out is None:
        return np.asarray(value)
    out[...] = value
    return out


_LINKS = {"binomial": ("logit", "probit", "cloglog"), "poisson": ("log",)}
_ALIASES = {"bernoulli": "binomial"}


def family(name: str | Family, link: str | None = None) -> Family:
    """Look up a family by name, with its canonical link unless ``link`` is given.

    Raises
    ------
    ModelSpecError
        For an unknown family or a link the family does not offer.
    """
    if isinstance(name, Family):
        return name
    key = _ALIASES.get(str(name).lower(), str(name).lower())
    if key not in _LINKS:
        raise ModelSpecError(
            f"unknown family {name!r}: use one of {', '.join(sorted(_LINKS))} "
            "(a linear mixed model for Gaussian data is mm.lmm)"
        )
    choice = _LINKS[key][0] if link is None else str(link).lower()
    if choice not in _LINKS[key]:
        raise ModelSpecError(
            f"the {key} family has no link {link!r}; choose one of {', '.join(_LINKS[key])}"
        )
    return Family(key, choice)
