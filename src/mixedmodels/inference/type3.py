"""Type III F tests of each fixed-effect term (lmerTest's ``anova(m, type = 3)``).

A term's type III hypothesis is that its coefficients are zero when every factor is
coded with sum-to-zero contrasts (numeric covariates as they are). The model is encoded
again with those contrasts, ``X_trt = X_sum M`` gives the map ``beta_sum = M beta`` to
our treatment-coded coefficients, and the rows of ``M`` for the term are the hypothesis.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import scipy
from formulaic import model_matrix

from mixedmodels.design.frame import ModelFrame
from mixedmodels.design.namespace import formula_context, r_contrast_name, user_functions
from mixedmodels.errors import ModelSpecError
from mixedmodels.inference.satterthwaite import satterthwaite_f
from mixedmodels.inference.varpar import VarianceFunctions
from mixedmodels.lmm.record import LmmRecord

__all__ = ["type3_anova", "type3_hypotheses", "wald_type3_anova"]


def _sum_coded(formula: str, data: pd.DataFrame) -> tuple[str, dict[str, str]]:
    """The fixed formula with each categorical variable written ``C(v, contr.sum)``."""
    renamed: dict[str, str] = {}
    for column in data.columns:
        values = data[column]
        if values.dtype.kind in "iuf" and not isinstance(values.dtype, pd.CategoricalDtype):
            continue
        coded = f"C({column}, contr.sum)"
        pattern = rf"(?<![\w.]){re.escape(str(column))}(?![\w.(])"
        formula, count = re.subn(pattern, coded, formula)
        if count:
            renamed[coded] = str(column)
    return formula, renamed


def type3_anova(fit: LmmRecord, ddf: str = "satterthwaite") -> pd.DataFrame:
    """One row per fixed-effect term: ``numdf, dendf, F, p_value``."""
    if ddf not in ("satterthwaite", "kenward-roger"):
        raise ValueError(f"ddf must be 'satterthwaite' or 'kenward-roger', not {ddf!r}")
    fit._require_rows("type III tests (fit.anova())")
    frame = fit._frame
    if frame.aliased:
        raise ModelSpecError(
            "type III tests need a full-rank fixed-effects matrix; these columns were "
            f"dropped as aliased: {', '.join(frame.aliased)}"
        )
    if ddf == "satterthwaite":
        vf = VarianceFunctions(fit)

        def test(L: np.ndarray) -> tuple[float, float, float, float]:
            return satterthwaite_f(vf, fit.beta, L)
    else:
        from mixedmodels.inference.kenward_roger import KenwardRoger

        kr = KenwardRoger.of(fit)

        def test(L: np.ndarray) -> tuple[float, float, float, float]:
            return kr.test(L, fit.beta)

    with user_functions(frame.functions):
        hypotheses = type3_hypotheses(frame.formula.fixed, frame.data, frame.X)
    rows = [(name, *test(L)) for name, L in hypotheses]
    return pd.DataFrame(rows, columns=["term", "numdf", "dendf", "F", "p_value"]).set_index("term")


def wald_type3_anova(frame: ModelFrame, beta: np.ndarray, vcov: np.ndarray) -> pd.DataFrame:
    """Type III Wald chi-square tests of each fixed-effect term (a GLMM's, as
    ``car::Anova(m, type = 3)`` computes them on a sum-coded fit): one row per term,
    ``df, chisq, p_value``, with ``chisq = (L b)' (L V L')^{-1} (L b)``."""
    if frame.aliased:
        raise ModelSpecError(
            "type III tests need a full-rank fixed-effects matrix; these columns were "
            f"dropped as aliased: {', '.join(frame.aliased)}"
        )
    rows = []
    with user_functions(frame.functions):
        hypotheses = type3_hypotheses(frame.formula.fixed, frame.data, frame.X)
    for name, L in hypotheses:
        estimate = L @ beta
        covariance = L @ vcov @ L.T
        df = int(np.linalg.matrix_rank(covariance))
        chisq = float(estimate @ np.linalg.lstsq(covariance, estimate, rcond=None)[0])
        rows.append((name, df, chisq, float(scipy.stats.chi2.sf(chisq, df))))
    return pd.DataFrame(rows, columns=["term", "df", "chisq", "p_value"]).set_index("term")


def type3_hypotheses(fixed: str, data: pd.DataFrame, X: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Each fixed-effect term's type III hypothesis ``L beta = 0`` on the columns of ``X``
    (the treatment-coded matrix of ``fixed`` on ``data``)."""
    formula, renamed = _sum_coded(fixed, data)
    encoded = model_matrix(formula, data, na_action="raise", context=formula_context())
    X_sum = np.asarray(encoded, dtype=np.float64)
    M = np.linalg.lstsq(X_sum, X, rcond=None)[0]
    out = []
    for term, columns in encoded.model_spec.term_indices.items():
        name = str(term)
        if name == "1":
            continue
        for coded, original in renamed.items():
            name = name.replace(coded, original)
        out.append((r_contrast_name(name), M[list(columns), :]))
    return out
