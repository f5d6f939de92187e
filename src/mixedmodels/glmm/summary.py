"""Text summary of a GlmmResult, laid out as lme4's ``summary`` of a glmer fit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mixedmodels.core.summary import (
    criteria_lines,
    fixed_correlation_lines,
    random_effects_rows,
    text_table,
)

if TYPE_CHECKING:
    from mixedmodels.glmm.result import GlmmResult

__all__ = ["summary_text"]


def summary_text(fit: GlmmResult) -> str:
    """lme4-style text summary of a GLMM."""
    lines = [
        f"Generalized linear mixed model fit by maximum likelihood ({fit.method})",
        f" Family: {fit.family} ( {fit.link} )",
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
    lines += ["", "Fixed effects:"]
    table = fit.coef_table()
    rows = [["", "Estimate", "Std. Error", "z value", "Pr(>|z|)"]]
    for name, r in table.iterrows():
        rows.append(
            [
                str(name),
                f"{r.estimate:.4f}",
                f"{r.std_error:.4f}",
                f"{r.statistic:.3f}",
                f"{r.p_value:.3g}",
            ]
        )
    lines += text_table(rows)
    lines += fixed_correlation_lines(fit.fixed_names, fit.vcov_matrix)
    if fit.is_singular:
        lines += ["", "boundary (singular) fit: " + "; ".join(fit.singular_terms)]
    if fit.optinfo.warnings:
        lines += ["", "notes: " + "; ".join(fit.optinfo.warnings)]
    return "\n".join(lines)
