"""Text summary of a GlmmResult, laid out as lme4's ``summary`` of a glmer fit."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mixedmodels.glmm.result import GlmmResult

__all__ = ["summary_text"]


def _table(rows: list[list[str]], left: int = 1) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        " "
        + " ".join(
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in rows
    ]


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
    lines += _table(
        [
            ["AIC", "BIC", "logLik", "-2*log(L)", "df.resid"],
            [
                f"{fit.aic:.1f}",
                f"{fit.bic:.1f}",
                f"{fit.loglik:.1f}",
                f"{fit.objective:.1f}",
                str(fit.nobs - fit.n_params),
            ],
        ],
        left=0,
    )
    lines += ["", "Random effects:"]
    rows = [["Groups", "Name", "Variance", "Std.Dev.", "Corr"]]
    vc = fit.varcorr
    for group in dict.fromkeys(vc["group"]):
        part = vc[vc["group"] == group]
        variances = part[part["term2"].isna()]
        corr = part[part["term2"].notna()]
        names = list(variances["term1"])
        for i, r in enumerate(variances.itertuples()):
            cells = [
                f"{c.sd_cor:.2f}"
                for c in corr.itertuples()
                if c.term1 in names[:i] and c.term2 == names[i]
            ]
            rows.append(
                [
                    group if i == 0 else "",
                    str(r.term1),
                    f"{r.variance:.4g}",
                    f"{r.sd_cor:.4g}",
                    " ".join(cells),
                ]
            )
    lines += _table(rows, left=2)
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
    lines += _table(rows)
    if len(fit.beta) > 1:
        v = fit.vcov_matrix
        d = np.sqrt(np.diag(v))
        corr = v / np.outer(d, d)
        rows = [[""] + [n[:6] for n in fit.fixed_names[:-1]]]
        for i in range(1, len(fit.fixed_names)):
            rows.append(
                [fit.fixed_names[i]]
                + [f"{corr[i, j]:.3f}" for j in range(i)]
                + [""] * (len(fit.fixed_names) - 1 - i)
            )
        lines += ["", "Correlation of Fixed Effects:"] + _table(rows)
    if fit.is_singular:
        lines += ["", "boundary (singular) fit: " + "; ".join(fit.singular_terms)]
    if fit.optinfo.warnings:
        lines += ["", "notes: " + "; ".join(fit.optinfo.warnings)]
    return "\n".join(lines)
