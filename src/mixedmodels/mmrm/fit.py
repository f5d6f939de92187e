"""``mm.mmrm``: a mixed model for repeated measures with mmrm's formula syntax,
``"FEV1 ~ RACE + SEX + ARMCD * AVISIT + us(AVISIT | USUBJID)"``.

The covariance term names the structure, the visit factor and the subject. Rows with a
missing value in any variable of the model are dropped (a subject keeps its other
visits), as mmrm and SAS do; visits that no row is left at are dropped from the levels.
"""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

from mixedmodels._data import as_dataframe
from mixedmodels.design.materialize import design_matrix
from mixedmodels.errors import DataError, ModelSpecError
from mixedmodels.mmrm.covariance import STRUCTURES, CovarianceStructure
from mixedmodels.mmrm.model import MmrmModel
from mixedmodels.mmrm.result import MmrmResult

__all__ = ["mmrm"]

#: The optimizer's tolerance on the criterion's gradient (unconstrained scale).
GRADIENT_TOLERANCE = 1e-6
#: Central-difference step of d Sigma / d nu (relative to the parameter, at least 1).
STEP = 1e-6

_TERM = re.compile(r"(?<![\w.])([A-Za-z_][\w.]*)\s*\(([^()]*\|[^()]*)\)")


def _covariance_term(rhs: str) -> tuple[str, str, str, str]:
    """The structure, visit and subject of the one covariance term, and the rhs without it."""
    found = list(_TERM.finditer(rhs))
    if not found:
        raise ModelSpecError(
            "an mmrm formula needs a covariance term such as us(AVISIT | USUBJID); one of "
            + ", ".join(STRUCTURES)
        )
    if len(found) > 1:
        raise ModelSpecError(
            "an mmrm formula takes one covariance term, found "
            + ", ".join(repr(m.group(0)) for m in found)
        )
    match = found[0]
    name, inside = match.group(1), match.group(2)
    if name not in STRUCTURES:
        raise ModelSpecError(
            f"unknown covariance structure {name!r} in {match.group(0)!r}; mmrm's are "
            + ", ".join(STRUCTURES)
        )
    visit, _, subject = (part.strip() for part in inside.partition("|"))
    if "/" in subject:
        raise ModelSpecError(
            f"{match.group(0)!r}: covariance matrices by group ('group / subject') are not "
            "supported; fit the groups separately or use one matrix"
        )
    for role, column in (("visit", visit), ("subject", subject)):
        if not re.fullmatch(r"[A-Za-z_][\w.]*", column):
            raise ModelSpecError(
                f"{match.group(0)!r}: the {role} must be one column name, not {column!r}"
            )
    rest = (rhs[: match.start()] + rhs[match.end() :]).strip()
    rest = re.sub(r"\+\s*\+", "+", rest).strip().strip("+").strip()
    return name, visit, subject, rest or "1"


def _complete_rows(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    return frame[columns].notna().all(axis=1).to_numpy()


def mmrm(formula: str, data: Any, *, reml: bool = True) -> MmrmResult:
    """Fit a mixed model for repeated measures (a marginal model of each subject's visits).

    Parameters
    ----------
    formula : str
        The fixed effects and one covariance term ``structure(visit | subject)`` with
        ``structure`` one of ``us``, ``toep``, ``toeph``, ``ar1``, ``ar1h``, ``cs``,
        ``csh``, ``ad``, ``adh`` (:mod:`mixedmodels.mmrm.covariance`).
    data : pandas.DataFrame, polars.DataFrame or dict of arrays
        The visit column's order of levels is its categories' (or the sorted values').
    reml : bool, default True
        REML (mmrm's and SAS's default) or maximum likelihood.

    Raises
    ------
    ModelSpecError
        For a formula without exactly one covariance term, or an unknown structure.
    DataError
        For a column that is not in the data, a subject with a visit twice, or more
        covariance parameters than the data support.
    """
    if not isinstance(reml, (bool, np.bool_)):
        raise ModelSpecError(f"reml must be True or False, not {reml!r}")
    frame = as_dataframe(data)
    text = str(formula)
    lhs, tilde, rhs = text.partition("~")
    if not tilde or not lhs.strip():
        raise ModelSpecError(
            f"formula must be two-sided, 'y ~ x + us(visit | subject)', not {formula!r}"
        )
    structure_name, visit_col, subject_col, fixed = _covariance_term(rhs)
    response = lhs.strip()
    for role, column in (("response", response), ("visit", visit_col), ("subject", subject_col)):
        if column not in frame.columns:
            raise DataError(f"the {role} column {column!r} is not in the data")
    used = [
        c for c in frame.columns if re.search(rf"(?<![\w.]){re.escape(str(c))}(?![\w.])", fixed)
    ]
    keep = _complete_rows(frame, [response, visit_col, subject_col, *used])
    if not keep.any():
        raise DataError("no row has every variable of the model")
    visits_all = frame[visit_col]
    levels = (
        list(visits_all.cat.categories)
        if isinstance(visits_all.dtype, pd.CategoricalDtype)
        else sorted(visits_all.dropna().unique().tolist())
    )
    sub = frame.loc[keep].reset_index(drop=True)
    present = set(sub[visit_col].tolist())
    levels = [v for v in levels if v in present]
    visit = pd.Categorical(sub[visit_col], categories=levels).codes.astype(np.int64)
    subject, subject_names = pd.factorize(sub[subject_col], sort=False)
    dup = pd.DataFrame({"s": subject, "v": visit}).duplicated()
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataError(
            f"subject {subject_names[subject[row]]!r} has visit {levels[visit[row]]!r} twice; "
            f"each subject needs distinct values of {visit_col!r}"
        )
    y = pd.to_numeric(sub[response], errors="coerce").to_numpy(float)
    if not np.all(np.isfinite(y)):
        raise DataError(f"the response {response!r} must be numeric and finite")
    X, names = design_matrix(fixed, sub, "the fixed-effects formula")
    rank = np.linalg.matrix_rank(X)
    if rank < X.shape[1]:
        raise ModelSpecError(
            f"the fixed-effects matrix has rank {rank} < {X.shape[1]} columns; drop aliased terms"
        )
    structure = STRUCTURES[structure_name]
    T = len(levels)
    k = structure.n_params(T)
    if k + X.shape[1] >= len(y):
        raise DataError(
            f"{structure_name} over {T} visits has {k} covariance parameters, more than "
            f"{len(y)} rows can support with {X.shape[1]} fixed effects"
        )
    model = MmrmModel(X, y, visit, subject, T, reml)
    t0 = time.perf_counter()
    u, converged, message, count = _optimize(model, structure, float(np.var(y)))
    nu = structure.natural(u, T)
    Sigma = structure.matrix(nu, T)
    ev = model.evaluate(Sigma, with_gradient=False)
    return MmrmResult(
        formula=text,
        method="REML" if reml else "ML",
        structure=structure_name,
        visits=tuple(str(v) for v in levels),
        fixed_names=tuple(names),
        beta=ev.beta,
        Phi=ev.Phi,
        covariance=Sigma,
        covariance_params=dict(zip(structure.names(T), map(float, nu), strict=True)),
        objective=ev.value,
        nobs=len(y),
        n_subjects=model.n_subjects,
        converged=converged,
        message=message,
        n_evaluations=count,
        seconds=time.perf_counter() - t0,
        model=model,
        _nu=nu,
        _data=sub,
        _fixed=fixed,
    )


def sigma_jacobian(structure: CovarianceStructure, T: int, nu: np.ndarray) -> np.ndarray:
    """``d Sigma / d nu`` in the natural parameters by central differences, ``(k, T, T)``."""
    out = np.empty((nu.size, T, T))
    for h in range(nu.size):
        step = STEP * max(1.0, abs(float(nu[h])))
        e = np.zeros(nu.size)
        e[h] = step
        out[h] = (structure.matrix(nu + e, T) - structure.matrix(nu - e, T)) / (2.0 * step)
    return out


def _optimize(
    model: MmrmModel, structure: CovarianceStructure, variance: float
) -> tuple[np.ndarray, bool, str, int]:
    T = model.T
    count = 0

    def fun(u: np.ndarray) -> tuple[float, np.ndarray]:
        nonlocal count
        count += 1
        try:
            ev = model.evaluate(structure.matrix(structure.natural(u, T), T))
        except (np.linalg.LinAlgError, ValueError, FloatingPointError):
            return np.inf, np.zeros(u.size)
        if not np.isfinite(ev.value):
            return np.inf, np.zeros(u.size)
        J = structure.jacobian(u, T)
        return ev.value, np.einsum("hab,ab->h", J, ev.gradient)

    start = structure.start(T, variance)
    found = optimize.minimize(
        fun, start, jac=True, method="BFGS", options={"gtol": GRADIENT_TOLERANCE, "maxiter": 2000}
    )
    grad = fun(found.x)[1]
    converged = bool(found.success) or float(np.max(np.abs(grad))) < 1e-3
    return found.x, converged, str(found.message), count
