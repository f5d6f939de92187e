"""The summary of a linear mixed-model fit, laid out as lme4's ``summary``: as text, and as
a report (Markdown, LaTeX, HTML)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mixedmodels.core.report import (
    Report,
    coefficient_cells,
    criteria_cells,
    criteria_decimals,
    random_effects_cells,
)
from mixedmodels.core.summary import (
    criteria_lines,
    fixed_correlation_lines,
    random_effects_rows,
    text_table,
)
from mixedmodels.lmm.record import LmmRecord

__all__ = ["summary_report", "summary_text"]


def summary_text(fit: LmmRecord, coefficients: pd.DataFrame | None) -> str:
    """lme4-style text summary.

    Parameters
    ----------
    fit : LmmRecord
    coefficients : pandas.DataFrame or None
        The Satterthwaite t tests of the fixed effects (``LmmResult.coef_table()``), as
        lmerTest prints them; None when they could not be computed, and then the table
        shows Wald t values without df.
    """
    kind = "REML" if fit.reml else "maximum likelihood"
    lines = [f"Linear mixed model fit by {kind} (mixedmodels)", f"Formula: {fit.formula}"]
    if fit.n_dropped:
        lines.append(f"  {fit.n_dropped} row(s) dropped for missing values")
    if fit.aliased:
        lines.append(f"  dropped aliased fixed-effect column(s): {', '.join(fit.aliased)}")
    lines.append("")
    if fit.reml:
        lines.append(f"REML criterion at convergence: {fit.objective:.4f}")
    else:
        lines += criteria_lines(fit, "deviance")
    if fit.rows_in_memory:
        resid = fit.residuals().dropna().to_numpy() / fit.sigma
        q = np.quantile(resid, [0, 0.25, 0.5, 0.75, 1]) if resid.size else np.zeros(5)
        lines += ["", "Scaled residuals:"]
        lines += text_table(
            [["Min", "1Q", "Median", "3Q", "Max"], [f"{v:.4f}" for v in q]], align_left=0
        )
    else:  # quantiles would take another pass over the data, and a sort
        lines += ["", f"Fitted to {fit.data_label}: fit.residuals() is a lazy Dask series"]
    lines += ["", "Random effects:"]
    lines += text_table(random_effects_rows(fit.varcorr), align_left=2)
    groups = ", ".join(f"{g}, {n}" for g, n in fit.ngroups.items())
    lines.append(f"Number of obs: {fit.nobs}, groups: {groups}")
    lines += ["", "Fixed effects (df: Satterthwaite):"]
    if coefficients is not None:
        rows = [["", "Estimate", "Std. Error", "df", "t value", "Pr(>|t|)"]]
        for name, r in coefficients.iterrows():
            rows.append(
                [
                    str(name),
                    f"{r.estimate:.4f}",
                    f"{r.std_error:.4f}",
                    f"{r.df:.2f}",
                    f"{r.statistic:.3f}",
                    f"{r.p_value:.3g}",
                ]
            )
    else:
        rows = [["", "Estimate", "Std. Error", "t value"]]
        se = fit.std_errors.to_numpy()
        for name, est, err in zip(fit.fixed_names, fit.beta, se, strict=True):
            rows.append([name, f"{est:.4f}", f"{err:.4f}", f"{est / err:.3f}"])
    lines += text_table(rows)
    lines += fixed_correlation_lines(fit.fixed_names, fit.vcov.to_numpy())
    if fit.is_singular:
        lines += ["", "boundary (singular) fit: " + "; ".join(fit.singular_terms)]
    if not fit.optinfo.converged:
        lines += ["", "convergence: " + "; ".join(fit.optinfo.warnings)]
    return "\n".join(lines)


def summary_report(fit: LmmRecord, coefficients: pd.DataFrame | None, digits: int) -> Report:
    """The summary's criterion, sizes, random- and fixed-effects tables as a report
    (``coefficients`` as :func:`summary_text`'s; numbers to ``digits`` significant
    digits)."""
    kind = "REML" if fit.reml else "maximum likelihood"
    facts = []
    if fit.n_dropped:
        facts.append(f"{fit.n_dropped} row(s) dropped for missing values")
    if fit.aliased:
        facts.append(f"Dropped aliased fixed-effect column(s): {', '.join(fit.aliased)}")
    if fit.reml:
        facts.append(
            f"REML criterion at convergence: {fit.objective:.{criteria_decimals(digits)}f}"
        )
    groups = ", ".join(f"{g}, {n}" for g, n in fit.ngroups.items())
    facts.append(f"Number of obs: {fit.nobs}, groups: {groups}")
    tables = [] if fit.reml else [("Criteria", criteria_cells(fit, "deviance", digits))]
    tables.append(("Random effects", random_effects_cells(fit.varcorr, digits)))
    if coefficients is not None:
        caption = "Fixed effects (df: Satterthwaite)"
    else:
        caption = "Fixed effects (Wald t values)"
        coefficients = pd.DataFrame(
            {"estimate": fit.beta, "std_error": fit.std_errors.to_numpy()},
            index=list(fit.fixed_names),
        )
        coefficients["statistic"] = coefficients["estimate"] / coefficients["std_error"]
    tables.append((caption, coefficient_cells(coefficients, "t", digits)))
    notes = []
    if fit.is_singular:
        notes.append("Boundary (singular) fit: " + "; ".join(fit.singular_terms))
    if not fit.optinfo.converged:
        notes.append("Convergence: " + "; ".join(fit.optinfo.warnings))
    return Report(
        f"Linear mixed model fit by {kind}", fit.formula, tuple(facts), tuple(tables), tuple(notes)
    )
