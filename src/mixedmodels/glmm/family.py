"""Response distributions of generalized linear mixed models, one class each.

Every family is an exponential dispersion model: with prior weight ``w`` and dispersion
``phi`` the log-density of a response is

    log f(y; mu) = (w / phi) k(y, mu) + c(y, w, phi),

where the *kernel* ``k`` carries all the dependence on the mean and ``c`` (the
:meth:`Family.normalizer`) the constants, written out so that log-likelihoods are
complete (as R's ``family$aic`` makes them, and as lme4 and glmmTMB report them). The unit
deviance is ``2 (k(y, y) - k(y, mu))``. A family gives its variance function (and its
derivative), the links it accepts, a check of its support, a start for the mean, and a
sampler for simulation. Binomial and Poisson have ``phi = 1``; Gaussian, Gamma and inverse
Gaussian estimate it.

The negative binomial's parameter is of another kind: its size ``theta`` enters the
variance function ``mu + mu^2 / theta`` instead of scaling the weights. Both kinds are a
family's *dispersion parameter*: :meth:`Family.with_dispersion` gives the family at a
value of it and :meth:`Family.weights_at` the weights its log-density takes there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
from scipy import special

from mixedmodels.errors import DataError, ModelSpecError
from mixedmodels.glmm.links import LINKS, Link

#: A dispersion parameter: one value, or one per row under a dispersion model.
Dispersion = float | np.ndarray

__all__ = [
    "FAMILIES",
    "Dispersion",
    "Beta",
    "Binomial",
    "Family",
    "Gamma",
    "Gaussian",
    "InverseGaussian",
    "NegativeBinomial",
    "NegativeBinomial1",
    "Poisson",
    "family",
]


def _parameter(value: Dispersion) -> Dispersion:
    """A dispersion as a float, or as an array of one value per row (a dispersion model)."""
    if np.ndim(value) == 0:
        return float(value)
    return np.asarray(value, dtype=np.float64)


def _same(a: Dispersion, b: Dispersion) -> bool:
    """Whether two dispersions are the same (one object, or equal scalars)."""
    return a is b or (np.ndim(a) == 0 and np.ndim(b) == 0 and float(a) == float(b))


@dataclass(frozen=True)
class Family:
    """A response distribution with its link.

    Attributes
    ----------
    link : Link
        The link function (``str(family.link)`` is its R name).

    Class attributes
    ----------------
    name : str
        R's name of the family (``"binomial"``, ``"Gamma"``, ...).
    links : tuple of str
        The links the family accepts, its default first.
    canonical_link : str
        The link with which IRLS is Newton's method.
    canonical_scale : float
        ``d theta / d eta`` on the canonical link (theta the natural parameter): R's
        canonical links are canonical up to this constant (-1 for Gamma's ``1/mu``),
        so there ``d mu / d eta = canonical_scale V(mu)``.
    has_dispersion : bool
        Whether the family has a dispersion parameter the fit estimates (else ``phi = 1``).
    counts : bool
        Whether its responses are counts (a zero-inflation model applies).
    start_dispersion : float
        The parameter's value while the GLM that starts a fit is found.
    information : str
        Which curvature of the log-density the Laplace approximation takes on a
        non-canonical link: ``"expected"`` (Fisher's, lme4's choice, whose numbers
        binomial and Poisson fits reproduce) or ``"observed"`` (the exact second
        derivative, glmmTMB's, for the families lme4 fits only approximately).
    """

    link: Link

    name: ClassVar[str] = ""
    links: ClassVar[tuple[str, ...]] = ()
    canonical_link: ClassVar[str] = ""
    canonical_scale: ClassVar[float] = 1.0
    has_dispersion: ClassVar[bool] = False
    counts: ClassVar[bool] = False
    start_dispersion: ClassVar[float] = 1.0
    information: ClassVar[str] = "expected"

    def __str__(self) -> str:
        return f"{self.name}({self.link.name})"

    @property
    def canonical(self) -> bool:
        """Whether the link is the family's canonical one (observed information equals the
        expected one there)."""
        return self.link.name == self.canonical_link

    @property
    def observed_information(self) -> bool:
        """Whether the Laplace approximation needs the observed information (it differs
        from the expected one off the canonical link)."""
        return self.information == "observed" and not self.canonical

    # -- the link -------------------------------------------------------------------------
    def linkfun(self, mu: np.ndarray) -> np.ndarray:
        """eta = g(mu)."""
        return self.link.link(mu)

    def linkinv(self, eta: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """mu = g^{-1}(eta) (into ``out`` if given, which may not be ``eta``)."""
        return self.link.inverse(eta, out)

    def mu_eta(self, eta: np.ndarray, mu: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """d mu / d eta (into ``out`` if given, which may not be ``mu``)."""
        return self.link.mu_eta(eta, mu, out)

    # -- the distribution ---------------------------------------------------------------
    def variance(self, mu: np.ndarray) -> np.ndarray:
        """Var(y) / (phi / w) as a function of mu."""
        raise NotImplementedError

    def variance_derivative(self, mu: np.ndarray) -> np.ndarray:
        """d V / d mu."""
        raise NotImplementedError

    def kernel(self, y: np.ndarray, mu: np.ndarray, w: np.ndarray) -> np.ndarray:
        """``w k(y, mu)`` for a mean inside the support (``w`` may include ``1 / phi``)."""
        raise NotImplementedError

    def saturated_kernel(self, y: np.ndarray) -> np.ndarray:
        """``k(y, y)``, the kernel of the saturated model (``0 log 0 = 0``)."""
        raise NotImplementedError

    def normalizer(self, y: np.ndarray, w: np.ndarray, dispersion: Dispersion = 1.0) -> np.ndarray:
        """``c(y, w, phi)``, the constants of each log-density."""
        raise NotImplementedError

    def deviance_residuals(self, y: np.ndarray, mu: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Unit deviances times prior weights (squared deviance residuals)."""
        return np.asarray(2.0 * (w * self.saturated_kernel(y) - self.kernel(y, mu, w)))

    def log_likelihood(
        self, y: np.ndarray, mu: np.ndarray, w: np.ndarray, dispersion: Dispersion = 1.0
    ) -> np.ndarray:
        """Log-density of each response, with its constants."""
        at = self.with_dispersion(dispersion)
        kernel = at.kernel(y, mu, at.weights_at(w, dispersion))
        return np.asarray(kernel + at.normalizer(y, w, dispersion))

    def with_dispersion(self, dispersion: Dispersion) -> Family:
        """The family at the dispersion parameter's value (itself where the parameter
        only scales the weights)."""
        return self

    def weights_at(self, w: np.ndarray, dispersion: Dispersion) -> np.ndarray:
        """The weights of the kernel at a dispersion: ``w / phi``."""
        return w if _same(dispersion, 1.0) else w / dispersion

    def initial_dispersion(self, y: np.ndarray, mu: np.ndarray, w: np.ndarray, dof: int) -> float:
        """A start for the dispersion from a fit's means: Pearson's ``X^2 / dof``."""
        pearson = float(np.sum(w * (y - mu) ** 2 / self.variance(mu)))
        return pearson / max(dof, 1)

    def mu_derivatives(self, y: np.ndarray, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The first and second derivatives of the log-density in mu, per unit weight (and
        per ``1 / phi`` where the dispersion scales the weights): for an exponential
        dispersion model ``(y - mu) / V`` and ``-1 / V - (y - mu) V' / V^2``; a family
        that is not one (nbinom1, beta) gives its own."""
        V = self.variance(mu)
        first = (y - mu) / V
        second = -1.0 / V - (y - mu) * self.variance_derivative(mu) / (V * V)
        return np.asarray(first), np.asarray(second)

    def score(self, y: np.ndarray, eta: np.ndarray, mu: np.ndarray, w: np.ndarray) -> np.ndarray:
        """``d log f / d eta`` per row (``w`` may include ``1 / phi``)."""
        first, _ = self.mu_derivatives(y, mu)
        return np.asarray(w * first * self.link.mu_eta(eta, mu))

    def observed_weights(
        self, y: np.ndarray, eta: np.ndarray, mu: np.ndarray, w: np.ndarray
    ) -> np.ndarray:
        """``-d^2 log f / d eta^2`` per row (``w`` may include ``1 / phi``): for an
        exponential dispersion model the expected information ``w mu'^2 / V`` less
        ``w (y - mu) d(mu' / V)/d eta``."""
        first, second = self.mu_derivatives(y, mu)
        d = self.link.mu_eta(eta, mu)
        return np.asarray(-w * (second * d * d + first * self.link.mu_eta2(eta, mu)))

    def newton_weights(
        self, y: np.ndarray, eta: np.ndarray, mu: np.ndarray, w: np.ndarray, fisher: np.ndarray
    ) -> np.ndarray:
        """PIRLS's weights for a Newton step: the observed information where it is
        positive, Fisher's (``fisher``) where it is not."""
        observed = self.observed_weights(y, eta, mu, w)
        return np.asarray(np.where(observed > 0, observed, fisher))

    def check_response(self, y: np.ndarray, name: str, weights: np.ndarray | None) -> None:
        """Raise :class:`DataError` for a response outside the family's support."""

    def initial_mean(self, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        """A mean inside the support to start the iterations from (R's ``mustart``)."""
        return np.asarray(y, dtype=np.float64)

    def simulate(
        self, mu: np.ndarray, w: np.ndarray, dispersion: Dispersion, rng: np.random.Generator
    ) -> np.ndarray:
        """Responses drawn at means ``mu`` (prior weights ``w``, dispersion ``phi``)."""
        raise NotImplementedError

    def dispersion_boundary(self, dispersion: Dispersion, mu: np.ndarray) -> str | None:
        """Why an estimated dispersion has no finite value, when it has run to a limit in
        which the family is another one (None otherwise)."""
        return None

    def sigma(self, dispersion: Dispersion) -> Dispersion:
        """glmmTMB's ``sigma()`` for a dispersion ``phi``: ``sqrt(phi)`` (the residual SD
        of a Gaussian, the coefficient of variation of a Gamma), 1 without dispersion."""
        return _parameter(np.sqrt(dispersion)) if self.has_dispersion else 1.0

    def dispersion_of_sigma(self, sigma: Dispersion) -> Dispersion:
        """The dispersion parameter whose :meth:`sigma` is ``sigma``."""
        return _parameter(np.square(sigma)) if self.has_dispersion else 1.0


def _positive(y: np.ndarray, name: str, family: str) -> None:
    bad = ~(y > 0) | ~np.isfinite(y)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"the {family} response {name!r} must be positive and finite; row {i} has "
            f"{float(y[i])!r} (zeros are outside a {family} distribution's support: model them "
            "apart, or choose another family)"
        )


@dataclass(frozen=True)
class Binomial(Family):
    """Successes out of ``w`` trials, as a proportion ``y``; Var = mu (1 - mu) / w."""

    name: ClassVar[str] = "binomial"
    links: ClassVar[tuple[str, ...]] = ("logit", "probit", "cloglog")
    canonical_link: ClassVar[str] = "logit"

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return np.asarray(mu * (1.0 - mu))

    def variance_derivative(self, mu: np.ndarray) -> np.ndarray:
        return np.asarray(1.0 - 2.0 * mu)

    def kernel(self, y: np.ndarray, mu: np.ndarray, w: np.ndarray) -> np.ndarray:
        # mu is kept inside (0, 1) by the links
        return np.asarray(w * (y * np.log(mu) + (1.0 - y) * np.log1p(-mu)))

    def saturated_kernel(self, y: np.ndarray) -> np.ndarray:
        return np.asarray(special.xlogy(y, y) + special.xlogy(1.0 - y, 1.0 - y))

    def normalizer(self, y: np.ndarray, w: np.ndarray, dispersion: Dispersion = 1.0) -> np.ndarray:
        n = np.round(w)
        k = np.round(w * y)
        return np.asarray(
            special.gammaln(n + 1.0) - special.gammaln(k + 1.0) - special.gammaln(n - k + 1.0)
        )

    def log_likelihood(
        self, y: np.ndarray, mu: np.ndarray, w: np.ndarray, dispersion: Dispersion = 1.0
    ) -> np.ndarray:
        # 0 log 0 = 0, so a mean of exactly 0 or 1 (a saturated model) is allowed
        k = np.round(w * y)
        n = np.round(w)
        return np.asarray(
            special.xlogy(k, mu) + special.xlog1py(n - k, -mu) + self.normalizer(y, w)
        )

    def check_response(self, y: np.ndarray, name: str, weights: np.ndarray | None) -> None:
        bad = (y < 0) | (y > 1)
        if bad.any():
            raise DataError(
                f"the binomial response {name!r} must lie in [0, 1] (0/1 outcomes or "
                f"proportions with weights= trials); found {float(y[bad][0])!r}"
            )
        trials = weights if weights is not None else np.ones_like(y)
        successes = y * trials
        off = np.abs(successes - np.round(successes)) > 1e-7 * np.maximum(trials, 1)
        if off.any():
            i = int(np.flatnonzero(off)[0])
            raise DataError(
                f"the binomial response {name!r} gives a non-integer number of successes "
                f"({successes[i]:.6g} = {y[i]:.6g} x {trials[i]:.6g} trials at row {i}); "
                "give 0/1 outcomes, cbind(successes, failures), or proportions with the "
                "number of trials as weights="
            )

    def initial_mean(self, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        return np.asarray((w * y + 0.5) / (w + 1.0))

    def simulate(
        self, mu: np.ndarray, w: np.ndarray, dispersion: Dispersion, rng: np.random.Generator
    ) -> np.ndarray:
        n = np.maximum(np.round(w), 1).astype(np.int64)
        return np.asarray(rng.binomial(n, mu) / n)


@dataclass(frozen=True)
class _Counts(Family):
    """What every count family shares: its support, its start, and ``counts``."""

    counts: ClassVar[bool] = True
    label: ClassVar[str] = ""

    def check_response(self, y: np.ndarray, name: str, weights: np.ndarray | None) -> None:
        bad = (y < 0) | (y != np.round(y))
        if bad.any():
            raise DataError(
                f"the {self.label} response {name!r} must be non-negative whole counts; "
                f"found {float(y[bad][0])!r}"
            )

    def initial_mean(self, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        return np.asarray(y + 0.1)


@dataclass(frozen=True)
class _SizedCounts(_Counts):
    """Counts whose dispersion parameter sits in the variance function (the negative
    binomials): it leaves the weights alone and is glmmTMB's ``sigma()`` itself."""

    has_dispersion: ClassVar[bool] = True
    information: ClassVar[str] = "observed"

    #: the variance's excess over a Poisson's, relative to the mean, below which the
    #: dispersion is taken to have run to the Poisson limit
    POISSON_LIMIT: ClassVar[float] = 1e-5
    #: the dispersion parameter's name
    parameter: ClassVar[str] = ""

    def weights_at(self, w: np.ndarray, dispersion: Dispersion) -> np.ndarray:
        return w

    def overdispersion(self, dispersion: Dispersion, mu: np.ndarray) -> float:
        """The largest ``(Var - mu) / mu`` over the rows at the dispersion."""
        raise NotImplementedError

    def dispersion_boundary(self, dispersion: Dispersion, mu: np.ndarray) -> str | None:
        excess = self.overdispersion(dispersion, mu)
        if excess >= self.POISSON_LIMIT:
            return None
        return (
            f"the {self.label}'s {self.parameter} did not converge: it ran to the Poisson "
            f"limit, where the variance exceeds the mean by a fraction {excess:.2g} of it, "
            "so the data show no overdispersion for it to estimate; fit family='poisson'"
        )

    def sigma(self, dispersion: Dispersion) -> Dispersion:
        return _parameter(dispersion)

    def dispersion_of_sigma(self, sigma: Dispersion) -> Dispersion:
        return _parameter(sigma)


@dataclass(frozen=True)
class Poisson(_Counts):
    """Counts; Var = mu / w."""

    name: ClassVar[str] = "poisson"
    label: ClassVar[str] = "Poisson"
    links: ClassVar[tuple[str, ...]] = ("log", "identity", "sqrt")
    canonical_link: ClassVar[str] = "log"

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return np.asarray(mu)

    def variance_derivative(self, mu: np.ndarray) -> np.ndarray:
        return np.ones_like(mu)

    def kernel(self, y: np.ndarray, mu: np.ndarray, w: np.ndarray) -> np.ndarray:
        return np.asarray(w * (y * np.log(mu) - mu))

    def saturated_kernel(self, y: np.ndarray) -> np.ndarray:
        return np.asarray(special.xlogy(y, y) - y)

    def normalizer(self, y: np.ndarray, w: np.ndarray, dispersion: Dispersion = 1.0) -> np.ndarray:
        return np.asarray(-w * special.gammaln(y + 1.0))

    def log_likelihood(
        self, y: np.ndarray, mu: np.ndarray, w: np.ndarray, dispersion: Dispersion = 1.0
    ) -> np.ndarray:
        return np.asarray(w * (special.xlogy(y, mu) - mu - special.gammaln(y + 1.0)))

    def simulate(
        self, mu: np.ndarray, w: np.ndarray, dispersion: Dispersion, rng: np.random.Generator
    ) -> np.ndarray:
        return np.asarray(rng.poisson(mu), dtype=np.float64)


@dataclass(frozen=True)
class Gaussian(Family):
    """Normal responses; Var = phi / w (phi = sigma^2)."""

    name: ClassVar[str] = "gaussian"
    links: ClassVar[tuple[str, ...]] = ("identity", "log", "inverse")
    canonical_link: ClassVar[str] = "identity"
    has_dispersion: ClassVar[bool] = True
    information: ClassVar[str] = "observed"

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return np.ones_like(mu)

    def variance_derivative(self, mu: np.ndarray) -> np.ndarray:
        return np.zeros_like(mu)

    def kernel(self, y: np.ndarray, mu: np.ndarray, w: np.ndarray) -> np.ndarray:
        return np.asarray(w * (y * mu - 0.5 * mu * mu))

    def saturated_kernel(self, y: np.ndarray) -> np.ndarray:
        return np.asarray(0.5 * y * y)

    def normalizer(self, y: np.ndarray, w: np.ndarray, dispersion: Dispersion = 1.0) -> np.ndarray:
        a = w / dispersion
        with np.errstate(divide="ignore"):
            out = np.where(a > 0, 0.5 * np.log(a / (2.0 * np.pi)) - 0.5 * a * y * y, 0.0)
        return np.asarray(out)

    def check_response(self, y: np.ndarray, name: str, weights: np.ndarray | None) -> None:
        bad = ~np.isfinite(y)
        if bad.any():
            raise DataError(
                f"the gaussian response {name!r} has a non-finite value {float(y[bad][0])!r}"
            )

    def simulate(
        self, mu: np.ndarray, w: np.ndarray, dispersion: Dispersion, rng: np.random.Generator
    ) -> np.ndarray:
        return np.asarray(rng.normal(mu, np.sqrt(dispersion / w)))


@dataclass(frozen=True)
class Gamma(Family):
    """Positive responses with a constant coefficient of variation; Var = phi mu^2 / w
    (shape ``w / phi``)."""

    name: ClassVar[str] = "Gamma"
    links: ClassVar[tuple[str, ...]] = ("inverse", "log", "identity")
    canonical_link: ClassVar[str] = "inverse"
    canonical_scale: ClassVar[float] = -1.0
    has_dispersion: ClassVar[bool] = True
    information: ClassVar[str] = "observed"

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return np.asarray(mu * mu)

    def variance_derivative(self, mu: np.ndarray) -> np.ndarray:
        return np.asarray(2.0 * mu)

    def kernel(self, y: np.ndarray, mu: np.ndarray, w: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(w * (-y / mu - np.log(mu)))

    def saturated_kernel(self, y: np.ndarray) -> np.ndarray:
        return np.asarray(-1.0 - np.log(y))

    def normalizer(self, y: np.ndarray, w: np.ndarray, dispersion: Dispersion = 1.0) -> np.ndarray:
        a = w / dispersion
        return np.asarray(special.xlogy(a, a) + (a - 1.0) * np.log(y) - special.gammaln(a))

    def check_response(self, y: np.ndarray, name: str, weights: np.ndarray | None) -> None:
        _positive(y, name, "Gamma")

    def simulate(
        self, mu: np.ndarray, w: np.ndarray, dispersion: Dispersion, rng: np.random.Generator
    ) -> np.ndarray:
        shape = w / dispersion
        return np.asarray(rng.gamma(shape, mu / shape))


@dataclass(frozen=True)
class InverseGaussian(Family):
    """Positive, right-skewed responses; Var = phi mu^3 / w."""

    name: ClassVar[str] = "inverse.gaussian"
    links: ClassVar[tuple[str, ...]] = ("1/mu^2", "inverse", "log", "identity")
    canonical_link: ClassVar[str] = "1/mu^2"
    canonical_scale: ClassVar[float] = -0.5
    has_dispersion: ClassVar[bool] = True
    information: ClassVar[str] = "observed"

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return np.asarray(mu**3)

    def variance_derivative(self, mu: np.ndarray) -> np.ndarray:
        return np.asarray(3.0 * mu * mu)

    def kernel(self, y: np.ndarray, mu: np.ndarray, w: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(w * (1.0 / mu - 0.5 * y / (mu * mu)))

    def saturated_kernel(self, y: np.ndarray) -> np.ndarray:
        return np.asarray(0.5 / y)

    def normalizer(self, y: np.ndarray, w: np.ndarray, dispersion: Dispersion = 1.0) -> np.ndarray:
        a = w / dispersion
        with np.errstate(divide="ignore"):
            out = np.where(a > 0, 0.5 * np.log(a / (2.0 * np.pi * y**3)) - 0.5 * a / y, 0.0)
        return np.asarray(out)

    def check_response(self, y: np.ndarray, name: str, weights: np.ndarray | None) -> None:
        _positive(y, name, "inverse Gaussian")

    def simulate(
        self, mu: np.ndarray, w: np.ndarray, dispersion: Dispersion, rng: np.random.Generator
    ) -> np.ndarray:
        return np.asarray(rng.wald(mu, w / dispersion))


@dataclass(frozen=True)
class NegativeBinomial(_SizedCounts):
    """Overdispersed counts (NB2, lme4's ``glmer.nb`` and glmmTMB's ``nbinom2``):
    Var = mu + mu^2 / theta, theta the size (``theta -> inf`` is Poisson).

    Attributes
    ----------
    theta : float
        The size; the fit estimates it (``fit.dispersion``, glmmTMB's ``sigma()``).
    """

    theta: Dispersion = 1.0

    name: ClassVar[str] = "negative.binomial"
    label: ClassVar[str] = "negative binomial"
    links: ClassVar[tuple[str, ...]] = ("log", "sqrt", "identity")
    canonical_link: ClassVar[str] = ""  # log(mu / (mu + theta)), which R does not offer

    def with_dispersion(self, dispersion: Dispersion) -> Family:
        return (
            self if _same(dispersion, self.theta) else replace(self, theta=_parameter(dispersion))
        )

    parameter: ClassVar[str] = "size theta"

    def overdispersion(self, dispersion: Dispersion, mu: np.ndarray) -> float:
        return float(np.max(mu / dispersion, initial=0.0))

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return np.asarray(mu + mu * mu / self.theta)

    def variance_derivative(self, mu: np.ndarray) -> np.ndarray:
        return np.asarray(1.0 + 2.0 * mu / self.theta)

    def kernel(self, y: np.ndarray, mu: np.ndarray, w: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(
                w * (special.xlogy(y, mu) - (y + self.theta) * np.log(mu + self.theta))
            )

    def saturated_kernel(self, y: np.ndarray) -> np.ndarray:
        return np.asarray(special.xlogy(y, y) - (y + self.theta) * np.log(y + self.theta))

    def normalizer(self, y: np.ndarray, w: np.ndarray, dispersion: Dispersion = 1.0) -> np.ndarray:
        t = dispersion
        return np.asarray(
            w
            * (
                special.gammaln(y + t)
                - special.gammaln(t)
                - special.gammaln(y + 1.0)
                + t * np.log(t)
            )
        )

    def initial_dispersion(self, y: np.ndarray, mu: np.ndarray, w: np.ndarray, dof: int) -> float:
        """theta by moments: ``E (y - mu)^2 = mu + mu^2 / theta`` summed over the rows."""
        excess = float(np.sum(w * ((y - mu) ** 2 - mu)))
        scale = float(np.sum(w * mu * mu))
        inverse = excess / scale if scale > 0 else 0.0
        return float(np.clip(1.0 / max(inverse, 1e-4), 1e-3, 1e4))

    def simulate(
        self, mu: np.ndarray, w: np.ndarray, dispersion: Dispersion, rng: np.random.Generator
    ) -> np.ndarray:
        t = dispersion
        return np.asarray(rng.negative_binomial(t, t / (t + mu)), dtype=np.float64)


@dataclass(frozen=True)
class NegativeBinomial1(_SizedCounts):
    """Overdispersed counts with a variance proportional to the mean (glmmTMB's
    ``nbinom1``): Var = mu (1 + phi), the negative binomial of size ``mu / phi``.

    Not an exponential dispersion model in mu, so it gives its own log-density (the
    kernel holds all of it), score and observed information.

    Attributes
    ----------
    phi : float
        The dispersion (``fit.dispersion``, glmmTMB's ``sigma()``).
    """

    phi: Dispersion = 1.0

    name: ClassVar[str] = "nbinom1"
    label: ClassVar[str] = "nbinom1"
    links: ClassVar[tuple[str, ...]] = ("log",)
    canonical_link: ClassVar[str] = ""

    def with_dispersion(self, dispersion: Dispersion) -> Family:
        return self if _same(dispersion, self.phi) else replace(self, phi=_parameter(dispersion))

    parameter: ClassVar[str] = "dispersion phi"

    def overdispersion(self, dispersion: Dispersion, mu: np.ndarray) -> float:
        return float(np.max(dispersion))

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return np.asarray(mu * (1.0 + self.phi))

    def variance_derivative(self, mu: np.ndarray) -> np.ndarray:
        return np.full_like(mu, 1.0 + self.phi, dtype=np.float64)

    def _log_density(self, y: np.ndarray, mu: np.ndarray) -> np.ndarray:
        size = mu / self.phi
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(
                special.gammaln(y + size)
                - special.gammaln(size)
                - special.gammaln(y + 1.0)
                - size * np.log1p(self.phi)
                + y * (np.log(self.phi) - np.log1p(self.phi))
            )

    def kernel(self, y: np.ndarray, mu: np.ndarray, w: np.ndarray) -> np.ndarray:
        return np.asarray(w * self._log_density(y, mu))

    def saturated_kernel(self, y: np.ndarray) -> np.ndarray:
        # the log-density at mu = y (y = 0: the limit mu -> 0, log f = 0)
        positive = y > 0
        return np.where(positive, self._log_density(y, np.where(positive, y, 1.0)), 0.0)

    def normalizer(self, y: np.ndarray, w: np.ndarray, dispersion: Dispersion = 1.0) -> np.ndarray:
        return np.zeros_like(y, dtype=np.float64)

    def mu_derivatives(self, y: np.ndarray, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        size = mu / self.phi
        first = special.digamma(y + size) - special.digamma(size) - np.log1p(self.phi)
        second = (special.polygamma(1, y + size) - special.polygamma(1, size)) / self.phi
        return first / self.phi, second / self.phi

    def initial_dispersion(self, y: np.ndarray, mu: np.ndarray, w: np.ndarray, dof: int) -> float:
        """phi by moments: Pearson's ``sum (y - mu)^2 / mu / dof = 1 + phi``."""
        pearson = float(np.sum(w * (y - mu) ** 2 / mu)) / max(dof, 1)
        return float(np.clip(pearson - 1.0, 1e-3, 1e4))

    def simulate(
        self, mu: np.ndarray, w: np.ndarray, dispersion: Dispersion, rng: np.random.Generator
    ) -> np.ndarray:
        size = mu / dispersion
        return np.asarray(rng.negative_binomial(size, 1.0 / (1.0 + dispersion)), dtype=float)


@dataclass(frozen=True)
class Beta(Family):
    """Proportions strictly inside (0, 1) (glmmTMB's ``beta_family``): y ~ Beta(mu phi,
    (1 - mu) phi), Var = mu (1 - mu) / (1 + phi), phi the precision.

    Not an exponential dispersion model in mu: the kernel holds the whole log-density and
    the family gives its own score and observed information.

    Attributes
    ----------
    phi : float or numpy.ndarray
        The precision (``fit.dispersion``, glmmTMB's ``sigma()``), one per row under a
        dispersion model.
    """

    phi: Dispersion = 1.0

    name: ClassVar[str] = "beta"
    links: ClassVar[tuple[str, ...]] = ("logit", "probit", "cloglog")
    canonical_link: ClassVar[str] = ""
    has_dispersion: ClassVar[bool] = True
    information: ClassVar[str] = "observed"

    def with_dispersion(self, dispersion: Dispersion) -> Family:
        if _same(dispersion, self.phi):
            return self
        return replace(self, phi=_parameter(dispersion))

    def weights_at(self, w: np.ndarray, dispersion: Dispersion) -> np.ndarray:
        return w

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return np.asarray(mu * (1.0 - mu) / (1.0 + self.phi))

    def variance_derivative(self, mu: np.ndarray) -> np.ndarray:
        return np.asarray((1.0 - 2.0 * mu) / (1.0 + self.phi))

    def _log_density(self, y: np.ndarray, mu: np.ndarray) -> np.ndarray:
        a, b = mu * self.phi, (1.0 - mu) * self.phi
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(
                special.gammaln(self.phi)
                - special.gammaln(a)
                - special.gammaln(b)
                + (a - 1.0) * np.log(y)
                + (b - 1.0) * np.log1p(-y)
            )

    def kernel(self, y: np.ndarray, mu: np.ndarray, w: np.ndarray) -> np.ndarray:
        return np.asarray(w * self._log_density(y, mu))

    def saturated_kernel(self, y: np.ndarray) -> np.ndarray:
        return self._log_density(y, y)

    def normalizer(self, y: np.ndarray, w: np.ndarray, dispersion: Dispersion = 1.0) -> np.ndarray:
        return np.zeros_like(y, dtype=np.float64)

    def mu_derivatives(self, y: np.ndarray, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        phi = self.phi
        a, b = mu * phi, (1.0 - mu) * phi
        first = phi * (special.digamma(b) - special.digamma(a) + np.log(y) - np.log1p(-y))
        second = -phi * phi * (special.polygamma(1, a) + special.polygamma(1, b))
        return first, second

    def check_response(self, y: np.ndarray, name: str, weights: np.ndarray | None) -> None:
        bad = ~((y > 0) & (y < 1))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"the beta response {name!r} must lie strictly between 0 and 1; row {i} has "
                f"{float(y[i])!r} (exact zeros and ones are outside a beta distribution's support: "
                "squeeze them in, e.g. (y (n - 1) + 0.5) / n, or model them apart)"
            )

    def initial_mean(self, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        return np.asarray(y, dtype=np.float64)

    def initial_dispersion(self, y: np.ndarray, mu: np.ndarray, w: np.ndarray, dof: int) -> float:
        """phi by moments: Pearson's ``sum (y - mu)^2 / (mu (1 - mu)) / dof = 1 / (1 + phi)``."""
        pearson = float(np.sum(w * (y - mu) ** 2 / (mu * (1.0 - mu)))) / max(dof, 1)
        return float(np.clip(1.0 / max(pearson, 1e-8) - 1.0, 1e-2, 1e6))

    def simulate(
        self,
        mu: np.ndarray,
        w: np.ndarray,
        dispersion: Dispersion,
        rng: np.random.Generator,
    ) -> np.ndarray:
        return np.asarray(rng.beta(mu * dispersion, (1.0 - mu) * dispersion))

    def sigma(self, dispersion: Dispersion) -> Dispersion:
        return _parameter(dispersion)

    def dispersion_of_sigma(self, sigma: Dispersion) -> Dispersion:
        return _parameter(sigma)


#: Every family by its R name.
FAMILIES: dict[str, type[Family]] = {
    cls.name: cls
    for cls in (
        Binomial,
        Poisson,
        Gaussian,
        Gamma,
        InverseGaussian,
        NegativeBinomial,
        NegativeBinomial1,
        Beta,
    )
}
_ALIASES = {
    "nbinom2": "negative.binomial",
    "negative_binomial": "negative.binomial",
    "negativebinomial": "negative.binomial",
    "bernoulli": "binomial",
    "normal": "gaussian",
    "gamma": "Gamma",
    "inverse_gaussian": "inverse.gaussian",
    "inversegaussian": "inverse.gaussian",
    "beta_family": "beta",
}


#: R's call of a family function: ``binomial``, ``binomial()``, ``binomial(link = "probit")``,
#: ``binomial("probit")``.
_R_FAMILY_CALL = re.compile(
    r"(?P<name>[A-Za-z][A-Za-z0-9._]*)\s*\(\s*(?:(?:link\s*=\s*)?"
    r"[\"'](?P<link>[^\"']+)[\"']\s*)?\)"
)


def family(name: str | Family, link: str | None = None) -> Family:
    """Look up a family by R's name, with its default link unless ``link`` is given.
    R's call is read too: ``"binomial(link = 'probit')"``, ``"poisson()"``.

    Raises
    ------
    ModelSpecError
        For an unknown family or a link the family does not offer.
    """
    if isinstance(name, Family):
        if link is not None and str(link) != name.link.name:
            return family(name.name, link)
        return name
    text = str(name).strip()
    call = _R_FAMILY_CALL.fullmatch(text)
    if call is not None:  # R's spelling: binomial(link = "probit"), poisson()
        given = call["link"]
        if given is not None and link is not None and given != str(link):
            raise ModelSpecError(f"family {name!r} and link={link!r} name two links")
        return family(call["name"], given if given is not None else link)
    key = text if text in FAMILIES else _ALIASES.get(text.lower(), text.lower())
    if key not in FAMILIES:
        raise ModelSpecError(
            f"unknown family {name!r}: use one of {', '.join(FAMILIES)} "
            "(a linear mixed model for Gaussian data is mm.lmm)"
        )
    cls = FAMILIES[key]
    choice = cls.links[0] if link is None else str(link).lower()
    if choice not in cls.links:
        raise ModelSpecError(
            f"the {key} family has no link {link!r}; choose one of {', '.join(cls.links)}"
        )
    return cls(LINKS[choice]())
