"""Zero-inflated counts: with probability ``pi`` a row is a structural zero, otherwise a
draw from the count family (glmmTMB's ``ziformula``).

The log-density is ``log(pi + (1 - pi) f(0; mu))`` at ``y = 0`` and
``log(1 - pi) + log f(y; mu)`` above. ``pi`` is ``logit^{-1}(X_zi gamma)`` row by row; the
random effects enter the count model only. :class:`ZeroInflated` wraps the count family at
given ``pi`` and gives PIRLS what it reads of a family: the log-density (all of it in the
kernel), the score and the observed information in eta.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np

from mixedmodels.glmm.family import Dispersion, Family

__all__ = ["ZeroInflated"]


@dataclass(frozen=True, eq=False)
class ZeroInflated(Family):
    """A count family with a structural-zero probability per row.

    Attributes
    ----------
    base : Family
        The count family (Poisson or negative binomial) at its dispersion.
    pi : numpy.ndarray
        The probability of a structural zero, one per row.
    """

    base: Family = field(default=None)  # type: ignore[assignment]
    pi: np.ndarray = field(default_factory=lambda: np.zeros(0))

    name: ClassVar[str] = "zero-inflated"
    canonical_link: ClassVar[str] = ""
    information: ClassVar[str] = "observed"

    @property
    def has_dispersion(self) -> bool:  # type: ignore[override]
        return self.base.has_dispersion

    def with_dispersion(self, dispersion: Dispersion) -> Family:
        return replace(self, base=self.base.with_dispersion(dispersion))

    def weights_at(self, w: np.ndarray, dispersion: Dispersion) -> np.ndarray:
        return self.base.weights_at(w, dispersion)

    def variance(self, mu: np.ndarray) -> np.ndarray:
        # the count model's: a positive IRLS weight where the observed one is not
        return self.base.variance(mu)

    def variance_derivative(self, mu: np.ndarray) -> np.ndarray:
        return self.base.variance_derivative(mu)

    def _count_logpdf(self, y: np.ndarray, mu: np.ndarray) -> np.ndarray:
        one = np.ones_like(y, dtype=np.float64)
        parameter = getattr(self.base, "theta", 1.0)  # the size of a negative binomial
        return np.asarray(self.base.kernel(y, mu, one) + self.base.normalizer(y, one, parameter))

    def _zero_share(self, y: np.ndarray, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``log(pi + (1 - pi) f(0))`` and the posterior probability ``r`` that a zero
        came from the count model (1 where ``y > 0``)."""
        log_f0 = self._count_logpdf(np.zeros_like(mu), mu)
        count_part = (1.0 - self.pi) * np.exp(log_f0)
        total = self.pi + count_part
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(y == 0, count_part / total, 1.0)
        return np.log(total), share

    def kernel(self, y: np.ndarray, mu: np.ndarray, w: np.ndarray) -> np.ndarray:
        log_zero, _ = self._zero_share(y, mu)
        with np.errstate(divide="ignore"):
            positive = np.log1p(-self.pi) + self._count_logpdf(y, mu)
        return np.asarray(w * np.where(y == 0, log_zero, positive))

    def saturated_kernel(self, y: np.ndarray) -> np.ndarray:
        return np.zeros_like(y, dtype=np.float64)  # the deviance is -2 log L here

    def normalizer(self, y: np.ndarray, w: np.ndarray, dispersion: Dispersion = 1.0) -> np.ndarray:
        return np.zeros_like(y, dtype=np.float64)  # in the kernel

    def log_likelihood(
        self, y: np.ndarray, mu: np.ndarray, w: np.ndarray, dispersion: Dispersion = 1.0
    ) -> np.ndarray:
        return self.kernel(y, mu, w)

    def score(self, y: np.ndarray, eta: np.ndarray, mu: np.ndarray, w: np.ndarray) -> np.ndarray:
        _, share = self._zero_share(y, mu)
        return np.asarray(share * self.base.score(y, eta, mu, w))

    def observed_weights(
        self, y: np.ndarray, eta: np.ndarray, mu: np.ndarray, w: np.ndarray
    ) -> np.ndarray:
        # at y = 0, l = log(pi + (1 - pi) e^g): -l'' = r (-g'') - r (1 - r) g'^2
        _, share = self._zero_share(y, mu)
        g1 = self.base.score(y, eta, mu, w)
        g2 = self.base.observed_weights(y, eta, mu, w)
        return np.asarray(share * g2 - share * (1.0 - share) * g1 * g1 / np.maximum(w, 1e-300))

    def newton_weights(
        self, y: np.ndarray, eta: np.ndarray, mu: np.ndarray, w: np.ndarray, fisher: np.ndarray
    ) -> np.ndarray:
        """The observed information where it is positive; where a zero's is not (its
        log-density is convex there), the count part's curvature times the share of the
        zero the count model explains, which keeps Newton's step length (Fisher's weight
        there, the count model's whole curvature, made PIRLS crawl: 184 iterations)."""
        _, share = self._zero_share(y, mu)
        observed = self.observed_weights(y, eta, mu, w)
        fallback = share * self.base.observed_weights(y, eta, mu, w)
        return np.asarray(np.where(observed > 0, observed, np.maximum(fallback, 1e-12)))

    def check_response(self, y: np.ndarray, name: str, weights: np.ndarray | None) -> None:
        self.base.check_response(y, name, weights)

    def simulate(
        self, mu: np.ndarray, w: np.ndarray, dispersion: Dispersion, rng: np.random.Generator
    ) -> np.ndarray:
        counts = self.base.simulate(mu, w, dispersion, rng)
        return np.where(rng.random(mu.shape) < self.pi, 0.0, counts)
