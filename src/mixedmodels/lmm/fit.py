"""Fit a linear mixed model: frame -> cross-products -> workspace -> optimizer -> result."""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from mixedmodels.design.crossproducts import ZTerm, crossproducts
from mixedmodels.design.frame import ModelFrame, model_frame
from mixedmodels.design.materialize import INTERCEPT
from mixedmodels.errors import ConvergenceWarning, SingularFitWarning
from mixedmodels.lmm.covariance import CovarianceLayout, covariance_layout
from mixedmodels.lmm.optimize import OptimizerSettings, minimize_theta
from mixedmodels.lmm.result import LmmResult
from mixedmodels.lmm.solution import Solution, conditional_covariances, solve
from mixedmodels.lmm.workspace import Workspace

__all__ = ["lmm"]

#: A diagonal element of theta below this counts as on the boundary (lme4's isSingular).
SINGULAR_TOLERANCE = 1e-4


def _term_covariances(
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


def _varcorr(frame: ModelFrame, covs: list[np.ndarray], sigma: float) -> pd.DataFrame:
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


def _singular(
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


def _ranef_table(
    frame: ModelFrame,
    layout: CovarianceLayout,
    sol: Solution,
    condcov: list[np.ndarray],
    sigma: float,
    tail_offsets: np.ndarray,
) -> pd.DataFrame:
    parts = []
    for b, block in enumerate(layout.blocks):
        m, k = block.n_levels, block.k
        if b == 0:
            values = sol.b0
        else:
            start = int(tail_offsets[b - 1])
            values = sol.b_tail[start : start + m * k].reshape(m, k)
        sd = sigma * np.sqrt(np.clip(np.diagonal(condcov[b], axis1=1, axis2=2), 0, None))
        names = [
            n
            for term_index, _, _ in block.term_columns
            for n in frame.terms[term_index].column_names
        ]
        levels = np.asarray(block.factor.levels, dtype=object)
        for a, name in enumerate(names):
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


def _fitted(
    frame: ModelFrame, layout: CovarianceLayout, sol: Solution, tail_offsets: np.ndarray
) -> np.ndarray:
    fitted = frame.X @ sol.beta
    if frame.offset is not None:
        fitted = fitted + frame.offset
    for b, block in enumerate(layout.blocks):
        m, k = block.n_levels, block.k
        if b == 0:
            values = sol.b0
        else:
            start = int(tail_offsets[b - 1])
            values = sol.b_tail[start : start + m * k].reshape(m, k)
        fitted = fitted + np.einsum("ik,ik->i", block.matrix, values[block.factor.codes])
    out: np.ndarray = fitted
    return out


def lmm(
    formula: str,
    data: Any,
    *,
    reml: bool = True,
    weights: Any = None,
    offset: Any = None,
    settings: OptimizerSettings | None = None,
) -> LmmResult:
    """Fit a linear mixed-effects model, as lme4's ``lmer``.

    The model is ``y = X beta + Z b + e`` with ``b ~ N(0, sigma^2 Lambda Lambda')`` and
    ``e ~ N(0, sigma^2 W^{-1})``; theta (the entries of Lambda) is found by minimizing the
    profiled REML criterion (``reml=True``) or deviance (``reml=False``).

    Parameters
    ----------
    formula : str
        lme4 formula, e.g. ``"Reaction ~ Days + (Days | Subject)"``.
    data : pandas.DataFrame, polars.DataFrame or dict of arrays
    reml : bool, default True
    weights : str or array-like, optional
        Prior weights (a column name or one value per row).
    offset : str or array-like, optional
        A known term added to the linear predictor.
    settings : OptimizerSettings, optional

    Returns
    -------
    LmmResult

    Examples
    --------
    >>> import mixedmodels as mm
    >>> fit = mm.lmm("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> round(fit.objective, 3)
    1743.628
    """
    settings = settings or OptimizerSettings()
    frame = model_frame(formula, data, weights=weights, offset=offset)
    layout = covariance_layout(frame)
    response = frame.y if frame.offset is None else frame.y - frame.offset
    # With an intercept, fit y - mean(y): the objective is unchanged and the
    # cross-products lose no precision to a large mean (the intercept is shifted back).
    intercept = INTERCEPT in frame.fixed_names
    shift = float(np.mean(response)) if intercept else 0.0
    B = np.column_stack([frame.X, response - shift])
    zterms = [ZTerm(b.factor.codes, b.matrix, b.n_levels) for b in layout.blocks]
    products = crossproducts(zterms, B, frame.weights)
    ws = Workspace(products, [(b.n_levels, b.k) for b in layout.blocks[1:]])

    def objective(theta: np.ndarray) -> float:
        try:
            return ws.objective(ws.factorize(layout.factors(theta)), reml)
        except (np.linalg.LinAlgError, ValueError, FloatingPointError):
            return np.inf

    with np.errstate(all="ignore"):
        check = settings.check_convergence
        if check is None:
            check = frame.nobs < settings.check_max_nobs
        theta, info = minimize_theta(objective, layout.initial(), layout.lower, settings, check)
    templates = layout.factors(theta)
    fac = ws.factorize(templates)
    sol = solve(ws, fac)
    if intercept:
        beta = sol.beta.copy()
        beta[frame.fixed_names.index(INTERCEPT)] += shift
        sol = replace(sol, beta=beta)
    n, p = ws.n, ws.p
    sigma = float(np.sqrt(sol.rss_penalized / (n - p if reml else n)))
    covs = _term_covariances(layout, frame, templates, sigma)
    singular = _singular(frame, layout, theta, covs)
    for note in info.warnings:
        warnings.warn(f"{frame.formula.text}: {note}", ConvergenceWarning, stacklevel=2)
    if singular:
        warnings.warn(
            f"boundary (singular) fit for {frame.formula.text!r}: "
            + "; ".join(singular)
            + ". The data do not support this random-effects structure; consider dropping "
            "the term (or the correlation) at the boundary.",
            SingularFitWarning,
            stacklevel=2,
        )
    condcov = conditional_covariances(ws, fac)
    tail_offsets = ws._tail_offsets
    ranef = _ranef_table(frame, layout, sol, condcov, sigma, tail_offsets)
    fitted_rows = _fitted(frame, layout, sol, tail_offsets)
    fitted_all = np.full(frame.n_input, np.nan)
    fitted_all[frame.rows] = fitted_rows
    resid_all = np.full(frame.n_input, np.nan)
    resid_all[frame.rows] = frame.y - fitted_rows
    index = data.index if isinstance(data, pd.DataFrame) else pd.RangeIndex(frame.n_input)
    random_columns: dict[str, tuple[str, ...]] = {}
    for block in layout.blocks:
        random_columns[block.factor.name] = tuple(
            n
            for term_index, _, _ in block.term_columns
            for n in frame.terms[term_index].column_names
        )
    return LmmResult(
        formula=frame.formula.text,
        reml=reml,
        fixed_names=frame.fixed_names,
        beta=sol.beta,
        vcov_unscaled=sol.var_beta_unscaled,
        theta=theta,
        theta_names=layout.names,
        sigma=sigma,
        objective=ws.objective(fac, reml),
        nobs=n,
        n_dropped=frame.n_dropped,
        ngroups={b.factor.name: b.n_levels for b in layout.blocks},
        is_singular=bool(singular),
        singular_terms=singular,
        optinfo=info,
        aliased=frame.aliased,
        data_label=getattr(data, "attrs", {}).get("name", "data")
        if hasattr(data, "attrs")
        else "data",
        _varcorr=_varcorr(frame, covs, sigma),
        _ranef=ranef,
        _fitted=fitted_all,
        _residuals=resid_all,
        _index=index,
        _random_columns=random_columns,
    )
