"""The generalized linear model without random effects, fitted by IRLS: where a GLMM of a
family with a dispersion starts (its fixed effects, and the family's start for the
dispersion at the GLM's means: Pearson's statistic, as R's ``summary.glm`` estimates it,
or the negative binomial's size by moments)."""

from __future__ import annotations

import numpy as np

from mixedmodels.errors import DataError
from mixedmodels.glmm.family import Family

__all__ = ["glm_start"]

#: IRLS stops when the deviance changes by less than this (relative), as R's glm.fit.
GLM_TOLERANCE = 1e-8
GLM_MAX_ITERATIONS = 50


def glm_start(
    family: Family, X: np.ndarray, y: np.ndarray, w: np.ndarray, offset: np.ndarray
) -> tuple[np.ndarray, float]:
    """beta of the GLM (at the family's ``start_dispersion``) and the dispersion's start
    (:meth:`Family.initial_dispersion`, Pearson's ``sum w (y - mu)^2 / V(mu) / (n - p)``
    for the families whose dispersion scales the weights).

    Starts, as R's ``glm.fit``, from the family's start for the mean (``y`` itself for
    the continuous families) and halves a step that leaves the mean's support.

    Raises
    ------
    DataError
        When no step keeps the mean inside the family's support (a link that cannot reach
        the data, such as an identity link with a negative linear predictor for Gamma).
    """
    n, p = X.shape
    family = family.with_dispersion(family.start_dispersion)
    mu = family.initial_mean(y, w)
    eta = family.linkfun(mu)
    beta = np.zeros(p)
    deviance = np.inf
    for _ in range(GLM_MAX_ITERATIONS):
        d = family.mu_eta(eta, mu)
        weights = w * d * d / family.variance(mu)
        z = eta - offset + (y - mu) / d
        root = np.sqrt(weights)
        new, *_ = np.linalg.lstsq(X * root[:, None], z * root, rcond=None)
        step = new - beta
        for _ in range(30):
            trial_eta = offset + X @ (beta + step)
            trial_mu = family.linkinv(trial_eta)
            trial = float(np.sum(family.deviance_residuals(y, trial_mu, w)))
            if np.isfinite(trial) and np.all(np.isfinite(trial_mu)):
                break
            step = 0.5 * step
        else:
            raise DataError(
                f"the {family} model without random effects leaves the mean's support at "
                "every step: choose another link, or check the response"
            )
        beta, eta, mu = beta + step, trial_eta, trial_mu
        done = abs(deviance - trial) <= GLM_TOLERANCE * (abs(trial) + 0.1)
        deviance = trial
        if done:
            break
    dispersion = family.initial_dispersion(y, mu, w, n - p)
    if not (np.isfinite(dispersion) and dispersion > 0):
        dispersion = 1.0
    return beta, dispersion
