"""Likelihood-ratio tests between nested fits (lme4's ``anova(m1, m2)``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy

from mixedmodels.core.resulttable import ResultTable, result_table
from mixedmodels.errors import ModelSpecError
from mixedmodels.lmm.fit import lmm

__all__ = ["anova"]


def _refit_ml(fit: Any, data: Any) -> Any:
    """The fit again by ML: from the rows it holds (weights and offset included), or
    for a fit whose rows are elsewhere (a Dask DataFrame) from ``data``."""
    if getattr(fit, "rows_in_memory", True) or data is None:
        return fit.refit_ml()
    return lmm(fit.formula, data, reml=False)


def anova(*fits: Any, refit: bool = True, data: Any = None) -> ResultTable:
    """Compare nested fits by likelihood-ratio tests, ordered by number of parameters.

    As lme4's ``anova``: REML fits are refitted by maximum likelihood first (from the
    rows each fit holds, with its weights and offset; the table's ``attrs["note"]`` says
    so). With ``refit=False`` REML fits are compared on their REML likelihoods, which is
    valid only when their fixed effects are the same (otherwise refused).

    Parameters
    ----------
    *fits
        Two or more fits of the same response.
    refit : bool, default True
    data : DataFrame, optional
        Only for fits to a Dask DataFrame, whose rows are not in memory: the data to
        refit them by ML from.

    Returns
    -------
    ResultTable
        A data frame of one row per fit, indexed by formula: ``npar, aic, bic, loglik,
        deviance, chisq, df, p_value``.
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
        if refit:
            fits = tuple(_refit_ml(f, data) if f.reml else f for f in fits)
            note = "REML fits were refitted by maximum likelihood for the comparison"
        else:
            fixed = {tuple(f.fixed_names) for f in fits}
            if len(fixed) > 1 or not all(getattr(f, "reml", False) for f in fits):
                raise ModelSpecError(
                    "with refit=False, REML likelihoods are compared, which needs REML fits "
                    "with the same fixed effects; these differ (use refit=True)"
                )
            note = "REML likelihoods compared (refit=False)"
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
                chisq=chisq,
                df=df,
                p_value=float(scipy.stats.chi2.sf(chisq, df)) if df > 0 else np.nan,
            )
        rows.append(row)
        previous = f
    table = pd.DataFrame(rows).set_index("formula")
    table.attrs["note"] = note
    return result_table(table, "Likelihood-ratio tests")
