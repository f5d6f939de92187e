"""The pieces of lme4-style summaries that LMMs and GLMMs share: aligned tables, the
random-effects rows, the criteria lines, the correlation of the fixed effects."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "criteria_lines",
    "fixed_correlation_lines",
    "random_effects_rows",
    "text_table",
]


def text_table(rows: list[list[str]], align_left: int = 1) -> list[str]:
    """Rows of cells as aligned lines: the first ``align_left`` columns left-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [
            c.ljust(w) if i < align_left else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        out.append(" " + " ".join(cells).rstrip())
    return out


def random_effects_rows(vc: pd.DataFrame, digits: int = 4) -> list[list[str]]:
    """lme4's "Random effects" block (Groups, Name, Variance, Std.Dev., Corr) from a
    varcorr table: variances and SDs to ``digits`` significant digits, correlations to
    ``digits - 2`` decimals (at least 2)."""
    g = f".{digits}g"
    r_format = f".{max(2, digits - 2)}f"
    rows = [["Groups", "Name", "Variance", "Std.Dev.", "Corr"]]
    for group in dict.fromkeys(vc["group"]):
        part = vc[vc["group"] == group]
        if group == "Residual":
            r = part.iloc[0]
            rows.append(["Residual", "", format(r.variance, g), format(r.sd_cor, g), ""])
            continue
        variances = part[part["term2"].isna()]
        corr = part[part["term2"].notna()]
        names = list(variances["term1"])
        for i, r in enumerate(variances.itertuples()):
            cells = [
                format(c.sd_cor, r_format)
                for c in corr.itertuples()
                if c.term1 in names[:i] and c.term2 == names[i]
            ]
            rows.append(
                [
                    str(group) if i == 0 else "",
                    str(r.term1),
                    format(r.variance, g),
                    format(r.sd_cor, g),
                    " ".join(cells),
                ]
            )
    return rows


def criteria_lines(fit: Any, deviance_label: str) -> list[str]:
    """The AIC / BIC / logLik / -2 log L / df.resid line pair of a summary."""
    rows = [
        ["AIC", "BIC", "logLik", deviance_label, "df.resid"],
        [
            f"{fit.aic:.1f}",
            f"{fit.bic:.1f}",
            f"{fit.loglik:.1f}",
            f"{fit.objective:.1f}",
            str(fit.nobs - fit.n_params),
        ],
    ]
    return text_table(rows, align_left=0)


def fixed_correlation_lines(names: tuple[str, ...], vcov: np.ndarray) -> list[str]:
    """lme4's "Correlation of Fixed Effects" block (nothing for a single effect)."""
    if len(names) < 2:
        return []
    d = np.sqrt(np.diag(vcov))
    corr = vcov / np.outer(d, d)
    rows = [[""] + [n[:6] for n in names[:-1]]]
    for i in range(1, len(names)):
        rows.append(
            [names[i]] + [f"{corr[i, j]:.3f}" for j in range(i)] + [""] * (len(names) - 1 - i)
        )
    return ["", "Correlation of Fixed Effects:"] + text_table(rows)
