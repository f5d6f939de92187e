"""Wald and parametric-bootstrap confidence intervals of a fit, in lme4's rows: the
random-effect SDs and correlations (and sigma) by lme4's names, then the fixed effects."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy

from mixedmodels.inference.bootstrap import bootstrap
from mixedmodels.inference.profile import lme4_order, variance_parameter_names

__all__ = ["wald_or_boot_intervals"]


def wald_or_boot_intervals(
    fit: Any, method: str, level: float, n_boot: int, seed: int | None, n_jobs: int
) -> pd.DataFrame:
    """``lower, upper`` by lme4's names. ``"wald"``: normal quantiles around the fixed
    effects, the variance rows NaN (lme4's ``confint(method = "Wald")``); ``"boot"``:
    percentile intervals of ``n_boot`` bootstrap replicates for every row."""
    names = lme4_order(variance_parameter_names(fit))
    rows = names + list(fit.fixed_names)
    if method == "wald":
        z = float(scipy.stats.norm.ppf(0.5 + level / 2))
        se = fit.std_errors.to_numpy()
        lower = [np.nan] * len(names) + list(fit.beta - z * se)
        upper = [np.nan] * len(names) + list(fit.beta + z * se)
    else:
        table = bootstrap(fit, n=n_boot, seed=seed, n_jobs=n_jobs).intervals(level)
        lower = [table.loc[n, "lower"] for n in rows]
        upper = [table.loc[n, "upper"] for n in rows]
    return pd.DataFrame({"lower": lower, "upper": upper}, index=pd.Index(rows, name="name"))
