"""Testing a variance component: is the between-group variance zero?

The restricted likelihood-ratio statistic compares the REML criterion of the model at
theta = 0 (no random effect: the linear model) with its minimum. Under the null the
variance lies on the boundary of its range, so the usual chi-square(1) reference is
wrong; this gives (a) the asymptotic 50:50 mixture of chi-square(0) and chi-square(1)
(Self & Liang 1987; Stram & Lee 1994) and (b) the finite-sample null distribution by
simulation, as RLRsim's exactRLRT targets (Crainiceanu & Ruppert 2004): responses
simulated from the fitted linear model, the mixed model refitted to each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy

from mixedmodels.errors import ModelSpecError
from mixedmodels.lmm.record import LmmRecord
from mixedmodels.lmm.refit import refit_response

__all__ = ["VarianceTest", "variance_test"]


@dataclass(frozen=True)
class VarianceTest:
    """Result of :func:`variance_test`.

    Attributes
    ----------
    statistic : float
        The restricted (REML fits) or ordinary likelihood-ratio statistic.
    p_mixture : float
        p-value from the 50:50 mixture of chi-square(0) and chi-square(1).
    p_simulated : float
        Share of simulated null statistics at least as large (with the observed one
        counted, so never 0).
    n_sim : int
    """

    statistic: float
    p_mixture: float
    p_simulated: float
    n_sim: int


def _criterion_at_zero(fit: LmmRecord) -> float:
    return fit.model.objective(np.zeros_like(fit.theta))


def variance_test(fit: LmmRecord, n_sim: int = 1000, seed: int | None = None) -> VarianceTest:
    """Test that the variance of a model's single scalar random effect is zero.

    Parameters
    ----------
    fit : LmmRecord
        A fit of :func:`mixedmodels.lmm` (an ``LmmResult``) or its record, of a model with
        exactly one random-effects term with one coefficient, e.g. ``(1 | g)``.
    n_sim : int
        Simulated data sets for the finite-sample p-value.
    seed : int, optional
    """
    fit._require_rows("variance_test")
    if len(fit.theta) != 1:
        raise ModelSpecError(
            f"variance_test takes a model with one scalar random effect such as (1 | g); "
            f"this one has {len(fit.theta)} covariance parameters ({', '.join(fit.theta_names)})"
        )
    observed = max(0.0, _criterion_at_zero(fit) - fit.objective)
    p_mix = 0.5 * float(scipy.stats.chi2.sf(observed, 1)) if observed > 0 else 1.0
    frame = fit._frame
    # the null model: ordinary (weighted) least squares
    w = np.ones(frame.nobs) if frame.weights is None else frame.weights
    y = frame.y if frame.offset is None else frame.y - frame.offset
    sw = np.sqrt(w)
    beta0, *_ = np.linalg.lstsq(frame.X * sw[:, None], y * sw, rcond=None)
    resid = (y - frame.X @ beta0) * sw
    dof = frame.nobs - frame.X.shape[1] if fit.reml else frame.nobs
    sigma0 = float(np.sqrt(resid @ resid / dof))
    mean = frame.X @ beta0 + (0.0 if frame.offset is None else frame.offset)
    rng = np.random.default_rng(seed)
    exceed = 0
    for _ in range(int(n_sim)):
        ystar = mean + sigma0 * rng.standard_normal(frame.nobs) / sw
        refit = refit_response(fit, ystar)
        stat = max(0.0, _criterion_at_zero(refit) - refit.objective)
        exceed += stat >= observed - 1e-10
    return VarianceTest(observed, p_mix, (exceed + 1) / (int(n_sim) + 1), int(n_sim))
