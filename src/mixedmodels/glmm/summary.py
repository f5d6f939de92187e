"""The summary of a generalized linear mixed-model fit, laid out as lme4's ``summary`` of a
glmer fit: as text, and as a report (Markdown, LaTeX, HTML)."""

from __future__ import annotations

import pandas as pd

from mixedmodels.core.report import (
    Report,
    coefficient_cells,
    criteria_cells,
    random_effects_cells,
)
from mixedmodels.core.result import MixedModelResult
from mixedmodels.core.summary import (
    criteria_lines,
    fixed_correlation_lines,
    random_effects_rows,
    text_table,
)
from mixedmodels.glmm.family import Family

__all__ = ["summary_report", "summary_text"]


def _wald_rows(coefficients: pd.DataFrame) -> list[list[str]]:
    rows = [["", "Estimate", "Std. Error", "z value", "Pr(>|z|)"]]
    for name, r in coefficients.iterrows():
        rows.append(
            [
                str(name),
                f"{r.estimate:.4f}",
                f"{r.std_error:.4f}",
                f"{r.statistic:.3f}",
                f"{r.p_value:.3g}",
            ]
        )
    return rows


def summary_text(
    fit: MixedModelResult,
    family: Family,
    method: str,
    coefficients: pd.DataFrame,
    zero_inflation: pd.DataFrame | None = None,
    dispersion_model: pd.DataFrame | None = None,
) -> str:
    """lme4-style text summary of a GLMM.

    Parameters
    ----------
    fit : MixedModelResult
        The fit's fields (a ``GlmmResult``).
    family : Family
        Its response distribution and link.
    method : str
        How its likelihood was approximated, in words (``GlmmResult.method``).
    coefficients : pandas.DataFrame
        The Wald z tests of its fixed effects (``GlmmResult.coef_table()``).
    zero_inflation : pandas.DataFrame, optional
        The same for a zero-inflation model's coefficients.
    dispersion_model : pandas.DataFrame, optional
        The same for a dispersion model's coefficients (log phi).
    """
    lines = [
        f"Generalized linear mixed model fit by maximum likelihood ({method})",
        f" Family: {family.name} ( {family.link} )",
        f"Formula: {fit.formula}",
    ]
    if fit.n_dropped:
        lines.append(f"  {fit.n_dropped} row(s) dropped for missing values")
    lines.append("")
    lines += criteria_lines(fit, "-2*log(L)")
    lines += ["", "Random effects:"]
    lines += text_table(random_effects_rows(fit.varcorr), align_left=2)
    groups = ", ".join(f"{g}, {n}" for g, n in fit.ngroups.items())
    lines.append(f"Number of obs: {fit.nobs}, groups: {groups}")
    has_model = dispersion_model is not None and len(dispersion_model)
    if family.has_dispersion and not has_model:
        lines.append(f"Dispersion (sigma): {getattr(fit, 'dispersion', 1.0):.4g}")
    lines += ["", "Fixed effects:"]
    lines += text_table(_wald_rows(coefficients))
    if zero_inflation is not None and len(zero_inflation):
        lines += ["", "Zero-inflation model (logit of a structural zero):"]
        lines += text_table(_wald_rows(zero_inflation))
    if dispersion_model is not None and len(dispersion_model):
        lines += ["", "Dispersion model (log of the dispersion parameter):"]
        lines += text_table(_wald_rows(dispersion_model))
    lines += fixed_correlation_lines(fit.fixed_names, fit.vcov.to_numpy())
    if fit.is_singular:
        lines += ["", "boundary (singular) fit: " + "; ".join(fit.singular_terms)]
    if fit.optinfo.warnings:
        lines += ["", "notes: " + "; ".join(fit.optinfo.warnings)]
    return "\n".join(lines)


def summary_report(
    fit: MixedModelResult,
    family: Family,
    method: str,
    coefficients: pd.DataFrame,
    zero_inflation: pd.DataFrame | None,
    dispersion_model: pd.DataFrame | None,
    digits: int,
) -> Report:
    """The summary's family, criteria, sizes, random- and fixed-effects tables (and those
    of the side models) as a report, numbers to ``digits`` significant digits; the
    other arguments are :func:`summary_text`'s."""
    facts = [f"Family: {family.name} ({family.link})"]
    if fit.n_dropped:
        facts.append(f"{fit.n_dropped} row(s) dropped for missing values")
    groups = ", ".join(f"{g}, {n}" for g, n in fit.ngroups.items())
    facts.append(f"Number of obs: {fit.nobs}, groups: {groups}")
    has_model = dispersion_model is not None and len(dispersion_model)
    if family.has_dispersion and not has_model:
        facts.append(f"Dispersion (sigma): {getattr(fit, 'dispersion', 1.0):.{digits}g}")
    tables = [
        ("Criteria", criteria_cells(fit, "-2*log(L)", digits)),
        ("Random effects", random_effects_cells(fit.varcorr, digits)),
        ("Fixed effects", coefficient_cells(coefficients, "z", digits)),
    ]
    sides = [
        ("Zero-inflation model (logit of a structural zero)", zero_inflation),
        ("Dispersion model (log of the dispersion parameter)", dispersion_model),
    ]
    for caption, table in sides:
        if table is not None and len(table):
            tables.append((caption, coefficient_cells(table, "z", digits)))
    notes = []
    if fit.is_singular:
        notes.append("Boundary (singular) fit: " + "; ".join(fit.singular_terms))
    if fit.optinfo.warnings:
        notes.append("Notes: " + "; ".join(fit.optinfo.warnings))
    return Report(
        f"Generalized linear mixed model fit by maximum likelihood ({method})",
        fit.formula,
        tuple(facts),
        tuple(tables),
        tuple(notes),
    )
