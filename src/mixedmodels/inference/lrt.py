"""Likelihood-ratio tests between nested fits (lme4's ``anova(m1, m2)``)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from mixedmodels.errors import ModelSpecError
from mixedmodels.lmm.fit import lmm

__all__ = ["anova"]


def _refit_ml(fit: Any, data: Any) -> Any:
    """The fit again by ML, with its residual structures if it has any."""
    structures = {
        name: getattr(fit, name)
        for name in ("correlation", "variance")
        if getattr(fit, name, None) is not None
    }
    if structures:
        from mixedmodels.fitting import lmm as lmm_with_structures

        return lmm_with_structures(fit.formula, data, reml=False, **structures)
    return lmm(fit.formula, data, reml=False)


def anova(*fits: Any, data: Any = None) -> pd.DataFrame:
    """Compare nested fits by likelihood-ratio tests, ordered by number of parameters.

    REML fits are compared on their ML log-likelihoods, as lme4 does: with ``data=``
    they are refitted by ML (and the result's ``attrs["note"]`` says so); without it
    REML fits whose fixed effects differ are refused, since their REML likelihoods are
    not comparable.

    Returns
    -------
    pandas.DataFrame
        One row per fit: ``npar, aic, bic, loglik, deviance, chisq, df, p_value``.
    """
    if len(fits) < 2:
        raise ModelSpecError("anova needs at least two fits to compare")
    nobs = {f.nobs for f in fits}
    if len(nobs) > 1:
        raise ModelSpecError(
            f"the fits use different numbers of observations ({sorted(nobs)}): they were "
            "fitted to different data (check missing values) and cannot be compared"
        )
    responses = [f._frame.y for f in fits if hasattr(f, "_frame")]
    if len(responses) == len(fits) and any(
        r.shape != responses[0].shape or not np.allclose(r, responses[0]) for r in responses
    ):
        raise ModelSpecError(
            "the fits have different responses: they were fitted to different data and "
            "cannot be compared"
        )
    note = ""
    if any(getattr(f, "reml", False) for f in fits):
        if data is None:
            fixed = {tuple(f.fixed_names) for f in fits}
            if len(fixed) > 1:
                raise ModelSpecError(
                    "these REML fits have different fixed effects, so their REML "
                    "likelihoods are not comparable: pass data= to refit them by ML"
                )
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fits = tuple(_refit_ml(f, data) if f.reml else f for f in fits)
            note = "REML fits were refitted by maximum likelihood for the comparison"
    ordered = sorted(fits, key=lambda f: f.n_params)
    rows = []
    previous = None
    for f in ordered:
        row = {
            "formula": f.formula,
            "npar": f.n_params,
            "aic": f.aic,
            "bic": f.bic,
            "loglik": f.loglik,
            "deviance": -2.0 * f.loglik,
            "chisq": np.nan,
            "df": np.nan,
            "p_value": np.nan,
        }
        if previous is not None:
            chisq = max(0.0, 2.0 * (f.loglik - previous.loglik))
            df = f.n_params - previous.n_params
            row.update(
                chisq=chisq, df=df, p_value=float(stats.chi2.sf(chisq, df)) if df > 0 else np.nan
            )
        rows.append(row)
        previous = f
    table = pd.DataFrame(rows).set_index("formula")
    table.attrs["note"] = note
    return table
