"""Tables of a fitted mixed model shared by LMMs and GLMMs: variance components,
conditional modes, the boundary check and the random part of the linear predictor."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mixedmodels.core.covariance import CovarianceLayout
from mixedmodels.core.solution import Solution
from mixedmodels.design.frame import ModelFrame

__all__ = [
    "SINGULAR_TOLERANCE",
    "coef_tables",
    "modes_by_block",
    "fitted_values",
    "random_columns",
    "result_dict",
    "ranef_table",
    "singular_terms",
    "term_covariances",
    "varcorr_table",
]

#: A diagonal element of theta below this counts as on the boundary (lme4's isSingular).
SINGULAR_TOLERANCE = 1e-4


def term_covariances(
    layout: CovarianceLayout, frame: ModelFrame, templates: list[np.ndarray], sigma: float
) -> list[np.ndarray]:
    """sigma^2 T T' for every term, in the frame's (lme4's) term order."""
    out = []
    index = {}
    for b, block in enumerate(layout.blocks):
        for term_index, start, k in block.term_columns:
            index[term_index] = (b, start, k)
    for i in range(len(frame.terms)):
        b, start, k = index[i]
        T = templates[b][start : start + k, start : start + k]
        out.append(sigma**2 * (T @ T.T))
    return out


def varcorr_table(frame: ModelFrame, covs: list[np.ndarray], sigma: float | None) -> pd.DataFrame:
    """lme4's ``as.data.frame(VarCorr(m))``; ``sigma=None`` (GLMMs) has no Residual row."""
    rows: list[dict[str, Any]] = []
    for term, cov in zip(frame.terms, covs, strict=True):
        names = term.column_names
        sd = np.sqrt(np.diag(cov))
        for a, name in enumerate(names):
            rows.append(
                dict(group=term.vc_name, term1=name, term2=None, variance=cov[a, a], sd_cor=sd[a])
            )
        for a in range(len(names)):
            for b in range(a + 1, len(names)):
                denom = sd[a] * sd[b]
                corr = cov[a, b] / denom if denom > 0 else np.nan
                rows.append(
                    dict(
                        group=term.vc_name,
                        term1=names[a],
                        term2=names[b],
                        variance=cov[a, b],
                        sd_cor=corr,
                    )
                )
    if sigma is not None:
        rows.append(dict(group="Residual", term1=None, term2=None, variance=sigma**2, sd_cor=sigma))
    columns = ["group", "term1", "term2", "variance", "sd_cor"]
    table = pd.DataFrame(
        {
            c: pd.Series(
                [r[c] for r in rows],
                dtype=object if c in ("group", "term1", "term2") else np.float64,
            )
            for c in columns
        }
    )
    return table


def singular_terms(
    frame: ModelFrame, layout: CovarianceLayout, theta: np.ndarray, covs: list[np.ndarray]
) -> tuple[str, ...]:
    """Describe, term by term, what lies on the boundary (lme4's isSingular rule: a
    diagonal element of theta below ``SINGULAR_TOLERANCE``)."""
    on_boundary = (layout.lower == 0.0) & (theta < SINGULAR_TOLERANCE)
    if not on_boundary.any():
        return ()
    term_of_theta = []
    for term in frame.terms:
        k = term.n_columns
        term_of_theta += [term.vc_name] * (k * (k + 1) // 2)
    flagged = {term_of_theta[i] for i in np.flatnonzero(on_boundary)}
    notes: list[str] = []
    for term, cov in zip(frame.terms, covs, strict=True):
        if term.vc_name not in flagged:
            continue
        names = term.column_names
        sd = np.sqrt(np.clip(np.diag(cov), 0, None))
        found = False
        for a, name in enumerate(names):
            if sd[a] <= SINGULAR_TOLERANCE * max(float(sd.max()), 1e-300):
                notes.append(f"the variance of {name!r} in {term.spec.source} is estimated as 0")
                found = True
        for a in range(len(names)):
            for b in range(a + 1, len(names)):
                if sd[a] > 0 and sd[b] > 0 and abs(cov[a, b] / (sd[a] * sd[b])) > 1 - 1e-4:
                    notes.append(
                        f"the correlation of {names[a]!r} and {names[b]!r} in "
                        f"{term.spec.source} is estimated as +-1"
                    )
                    found = True
        if not found:
            rank = int(np.linalg.matrix_rank(cov, tol=SINGULAR_TOLERANCE * float(cov.max())))
            notes.append(
                f"the covariance matrix of {term.spec.source} is singular (rank {rank} of "
                f"{len(names)}): some combination of its effects has zero variance"
            )
    return tuple(notes)


def modes_by_block(
    layout: CovarianceLayout, sol: Solution, tail_offsets: np.ndarray
) -> list[np.ndarray]:
    """The conditional modes b of each grouping factor as an ``(m, k)`` array."""
    out = [sol.b0]
    for b, block in enumerate(layout.blocks[1:]):
        start = int(tail_offsets[b])
        size = block.n_levels * block.k
        out.append(sol.b_tail[start : start + size].reshape(block.n_levels, block.k))
    return out


def ranef_table(
    frame: ModelFrame,
    layout: CovarianceLayout,
    sol: Solution,
    condcov: list[np.ndarray],
    sigma: float,
    tail_offsets: np.ndarray,
) -> pd.DataFrame:
    """lme4's ``as.data.frame(ranef(m, condVar = TRUE))``: one row per level and term."""
    parts = []
    columns = random_columns(frame, layout)
    modes = modes_by_block(layout, sol, tail_offsets)
    for block, values, cov in zip(layout.blocks, modes, condcov, strict=True):
        sd = sigma * np.sqrt(np.clip(np.diagonal(cov, axis1=1, axis2=2), 0, None))
        levels = np.asarray(block.factor.levels, dtype=object)
        for a, name in enumerate(columns[block.factor.name]):
            parts.append(
                pd.DataFrame(
                    {
                        "group": block.factor.name,
                        "term": name,
                        "level": levels,
                        "value": values[:, a],
                        "cond_sd": sd[:, a],
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)


def fitted_values(
    frame: ModelFrame, layout: CovarianceLayout, sol: Solution, tail_offsets: np.ndarray
) -> np.ndarray:
    """X beta + Z b (+ offset) for the rows of the frame."""
    fitted = frame.X @ sol.beta
    if frame.offset is not None:
        fitted = fitted + frame.offset
    for block, values in zip(layout.blocks, modes_by_block(layout, sol, tail_offsets), strict=True):
        fitted = fitted + np.einsum("ik,ik->i", block.matrix, values[block.factor.codes])
    out: np.ndarray = fitted
    return out


def random_columns(frame: ModelFrame, layout: CovarianceLayout) -> dict[str, tuple[str, ...]]:
    """The coefficient names of each grouping factor, in storage order."""
    out: dict[str, tuple[str, ...]] = {}
    for block in layout.blocks:
        out[block.factor.name] = tuple(
            n
            for term_index, _, _ in block.term_columns
            for n in frame.terms[term_index].column_names
        )
    return out


def coef_tables(
    beta: np.ndarray,
    fixed_names: tuple[str, ...],
    ranef: pd.DataFrame,
    columns: dict[str, tuple[str, ...]],
) -> dict[str, pd.DataFrame]:
    """Per-level coefficients (lme4's ``coef``): fixed effects plus each level's modes."""
    out: dict[str, pd.DataFrame] = {}
    for group, cols in columns.items():
        part = ranef[ranef["group"] == group]
        wide = part.pivot(index="level", columns="term", values="value")
        levels = list(dict.fromkeys(part["level"]))
        wide = wide.loc[levels]
        table = pd.DataFrame(
            np.tile(beta, (len(levels), 1)), index=levels, columns=list(fixed_names)
        )
        for col in cols:
            if col in table.columns:
                table[col] = table[col] + wide[col].to_numpy()
            else:
                table[col] = wide[col].to_numpy()
        table.index.name = group
        out[group] = table
    return out


def t_table(
    beta: np.ndarray, se: np.ndarray, df: np.ndarray, names: Any, level: float
) -> pd.DataFrame:
    """t tests of fixed effects with ``level`` intervals: ``estimate, std_error, df,
    statistic, p_value, lower, upper`` (``df`` infinite for Wald z)."""
    from scipy import stats

    t = beta / se
    q = stats.t.ppf(0.5 + level / 2, df)
    return pd.DataFrame(
        {
            "estimate": beta,
            "std_error": se,
            "df": df,
            "statistic": t,
            "p_value": 2.0 * stats.t.sf(np.abs(t), df),
            "lower": beta - q * se,
            "upper": beta + q * se,
        },
        index=list(names),
    )


def result_dict(fit: Any) -> dict[str, Any]:
    """The parts of an LMM or GLMM result that both write to JSON, as plain values."""
    return {
        "formula": fit.formula,
        "objective": fit.objective,
        "loglik": fit.loglik,
        "aic": fit.aic,
        "bic": fit.bic,
        "nobs": fit.nobs,
        "n_dropped": fit.n_dropped,
        "ngroups": dict(fit.ngroups),
        "fixef": {k: float(v) for k, v in fit.fixef.items()},
        "std_errors": {k: float(v) for k, v in fit.std_errors.items()},
        "vcov": fit.vcov.to_numpy().tolist(),
        "theta": {n: float(v) for n, v in zip(fit.theta_names, fit.theta, strict=True)},
        "varcorr": fit.varcorr.replace({np.nan: None}).to_dict(orient="records"),
        "is_singular": fit.is_singular,
        "singular_terms": list(fit.singular_terms),
        "aliased": list(fit.aliased),
        "optinfo": {
            "optimizer": fit.optinfo.optimizer,
            "n_evaluations": fit.optinfo.n_evaluations,
            "converged": fit.optinfo.converged,
            "objective": fit.optinfo.objective,
            "scaled_gradient": fit.optinfo.scaled_gradient,
            "warnings": list(fit.optinfo.warnings),
        },
    }
