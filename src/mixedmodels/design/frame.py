"""ModelFrame: the rows, response, fixed-effects matrix and random-effects terms of a model."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from mixedmodels._data import as_dataframe, unknown_column_error
from mixedmodels.design.fixed import aliased_columns, independent_columns
from mixedmodels.design.grouping import GroupingFactor, grouping_factor
from mixedmodels.design.materialize import encode, required_columns
from mixedmodels.design.namespace import active_functions
from mixedmodels.design.response import read_response, response_expressions
from mixedmodels.design.rnames import check_name_style, r_style_names
from mixedmodels.errors import DataError, FormulaError, ModelSpecError
from mixedmodels.formula import MixedFormula, RandomTermSpec, parse_formula

__all__ = [
    "ModelFrame",
    "RandomEffectsTerm",
    "check_terms",
    "lme4_term_order",
    "model_frame",
    "named",
    "needed_columns",
    "unique_names",
]


@dataclass(frozen=True)
class RandomEffectsTerm:
    """One random-effects term: a grouping factor and its per-row model matrix.

    Z is never formed: row ``i`` contributes ``matrix[i]`` to the columns of level
    ``factor.codes[i]``.
    """

    spec: RandomTermSpec
    factor: GroupingFactor
    matrix: np.ndarray
    column_names: tuple[str, ...]
    vc_name: str
    encoding: Any = None
    """formulaic's ModelSpec of the term's model matrix, to encode new data."""

    @property
    def n_levels(self) -> int:
        """Number of levels of the grouping factor."""
        return self.factor.n_levels

    @property
    def n_columns(self) -> int:
        """Number of coefficients per level (k)."""
        return int(self.matrix.shape[1])


@dataclass(frozen=True)
class ModelFrame:
    """Everything a fit reads from the data, after dropping rows with missing values.

    Attributes
    ----------
    formula : MixedFormula
    y : numpy.ndarray
        The response, shape (n,).
    X : numpy.ndarray
        The fixed-effects model matrix, shape (n, p), aliased columns removed.
    fixed_names : tuple of str
    weights, offset : numpy.ndarray or None
        Prior weights and offset, shape (n,).
    terms : tuple of RandomEffectsTerm
        In lme4's order (decreasing number of levels).
    rows : numpy.ndarray
        Positions in the input of the rows used.
    n_input : int
        Number of rows in the input.
    aliased : tuple of str
        Fixed-effect columns dropped as linear combinations of others.
    """

    formula: MixedFormula
    response_name: str
    y: np.ndarray
    X: np.ndarray
    fixed_names: tuple[str, ...]
    weights: np.ndarray | None
    offset: np.ndarray | None
    terms: tuple[RandomEffectsTerm, ...]
    rows: np.ndarray
    n_input: int
    aliased: tuple[str, ...]
    data: pd.DataFrame
    """The columns the model reads, for the rows used (to encode it again, e.g. with
    other contrasts)."""
    fixed_encoding: Any = None
    """formulaic's ModelSpec of the fixed-effects matrix (before aliased columns were
    dropped), to encode new data exactly like the training data."""
    kept_columns: tuple[int, ...] = ()
    offset_encodings: tuple[Any, ...] = ()
    prior_weights: np.ndarray | None = None
    """The weights given (``weights=``), before a binomial response's trials multiply
    them into :attr:`weights`."""
    functions: dict[str, Any] | None = None
    """The user's own functions the formula may call (``functions=``), for predictions."""
    name_style: str = "python"
    """How the columns are named: ``"python"`` (formulaic's, ``recipe[S.A]``) or ``"r"``
    (R's, ``recipe1``; :mod:`mixedmodels.design.rnames`)."""
    offset_column: str | None = None

    @property
    def nobs(self) -> int:
        """Number of rows used in the fit."""
        return int(self.y.shape[0])

    @property
    def n_dropped(self) -> int:
        """Number of input rows dropped for missing values."""
        return self.n_input - self.nobs

    def without_rows(self) -> ModelFrame:
        """The same design (names, levels, encodings) holding no rows: what encoding new
        data needs, small enough to send to other processes."""
        empty_codes = np.empty(0, dtype=np.int32)
        terms = tuple(
            replace(
                t,
                factor=replace(t.factor, codes=empty_codes),
                matrix=np.empty((0, t.n_columns)),
            )
            for t in self.terms
        )
        return replace(
            self,
            y=np.empty(0),
            X=np.empty((0, self.X.shape[1])),
            weights=None,
            offset=None,
            terms=terms,
            rows=np.empty(0, dtype=np.int64),
            data=self.data.iloc[:0],
        )


def _vector(value: Any, data: pd.DataFrame, what: str) -> tuple[np.ndarray | None, str | None]:
    """A weights/offset argument: a column name, or an array aligned with the rows."""
    if value is None:
        return None, None
    if isinstance(value, str):
        if value not in data.columns:
            raise unknown_column_error(value, data.columns, f"{what}=")
        return None, value
    if isinstance(value, pd.Series) and not value.index.equals(data.index):
        # a Series is matched to the rows by its index, as pandas aligns
        if len(value) != len(data) or not value.index.sort_values().equals(
            data.index.sort_values()
        ):
            raise DataError(
                f"{what}= is a Series whose index is not the data's: give one value per "
                "row with the same index labels (or a plain array, in row order)"
            )
        value = value.reindex(data.index)
    array = np.asarray(value)
    if array.shape != (len(data),):
        raise DataError(
            f"{what}= has shape {array.shape}; it must be a column name or one value per row "
            f"({len(data)} rows)"
        )
    if array.dtype.kind not in "biuf":
        raise DataError(f"{what}= must be numeric, not {array.dtype}")
    values = array.astype(np.float64)
    if np.isinf(values).any():
        raise DataError(f"{what}= must be finite; found {values[np.isinf(values)][0]!r}")
    return values, None


def lme4_term_order(terms: list[RandomEffectsTerm]) -> list[RandomEffectsTerm]:
    """Sort terms by decreasing number of levels, as lme4 does (only when out of order,
    and then by reversing a stable ascending sort, which is lme4's tie order)."""
    levels = [t.n_levels for t in terms]
    if any(b > a for a, b in zip(levels, levels[1:], strict=False)):
        ascending = sorted(range(len(terms)), key=lambda i: levels[i])
        terms = [terms[i] for i in reversed(ascending)]
    return terms


def unique_names(names: list[str]) -> list[str]:
    """R's make.unique: repeats of a name get ``.1``, ``.2``, ..."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            out.append(f"{name}.{seen[name]}")
        else:
            seen[name] = 0
            out.append(name)
    return out


#: A fit's sums of squares and cross-products must stay inside double precision: for n
#: rows of magnitude m, log10(n m^2) at most this (double precision ends at 1.8e308: the
#: largest sum a fit forms is the response's, y'y, the others are smaller) ...
MAX_LOG10_SQUARES = 308.0
#: ... and the response's spread s at least this (log10(n s^2); squares underflow below
#: 1e-308). A rescaling of the data by 1e+-150 is well inside both.
MIN_LOG10_SQUARES = -300.0


def _log10_squares(magnitude: float, n: int) -> float:
    return 2.0 * float(np.log10(magnitude)) + float(np.log10(max(n, 1)))


def _check_values(data: pd.DataFrame, column: str) -> None:
    values = data[column]
    if values.dtype.kind in "mM" or isinstance(values.dtype, pd.DatetimeTZDtype):
        raise DataError(
            f"column {column!r} holds dates or times ({values.dtype}); convert it to a "
            "number (e.g. days since the first date) or to a category before fitting"
        )
    if values.dtype == object:
        _check_one_kind(values, column)
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values.to_numpy())
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"column {column!r} has {int(bad.sum())} infinite value(s) (first at row "
                f"{data.index[row]!r}); replace or drop them before fitting"
            )


def _check_one_kind(values: pd.Series, column: str) -> None:
    """Refuse a text column whose values print alike but differ (``1`` and ``"1"``): its
    levels would be told apart by a type the user does not see."""
    present = values.dropna()
    if len({type(v) for v in present}) < 2:
        return
    seen: dict[str, Any] = {}
    for value in present.unique():
        label = str(value)
        if label in seen and seen[label] is not value and type(seen[label]) is not type(value):
            raise DataError(
                f"column {column!r} mixes values that print alike: {seen[label]!r} and "
                f"{value!r}; make the column one type (e.g. df[{column!r}].astype(str))"
            )
        seen.setdefault(label, value)


def _check_numeric(data: pd.DataFrame, column: str | None, what: str) -> None:
    if column is not None and data[column].dtype.kind not in "biuf":
        raise DataError(
            f"{what}= names column {column!r}, which is not numeric ({data[column].dtype})"
        )


def _check_response_spread(y: np.ndarray, name: str, residual_variance: bool) -> None:
    """A response must vary (a GLMM's all-zero or all-one binomial is separated, its
    constant counts leave nothing to estimate), and an LMM's within what double
    precision squares and sums."""
    spread = float(np.max(np.abs(y - np.mean(y)))) if y.size else 0.0
    if spread == 0.0:
        raise DataError(
            f"the response {name!r} has the same value ({y[0]!r}) in all {y.size} rows: there "
            "is no variation to model"
        )
    if not residual_variance:
        return
    largest = float(np.max(np.abs(y)))
    if (
        not np.isfinite(spread)
        or _log10_squares(largest, y.size) > MAX_LOG10_SQUARES
        or _log10_squares(spread, y.size) < MIN_LOG10_SQUARES
    ):
        raise DataError(
            f"the response {name!r} reaches {largest:.3g} and varies by {spread:.3g}: its "
            "sums of squares do not fit in double precision (about 1e-300 to 1e308); "
            "rescale it (multiply by a power of ten) and scale the estimates back"
        )


def _check_fixed_magnitude(X: np.ndarray, names: list[str]) -> None:
    if X.size == 0:
        return
    overall = max(float(X.max()), -float(X.min()))  # contiguous passes, no copy of X
    if overall == 0 or _log10_squares(overall, X.shape[0]) <= MAX_LOG10_SQUARES:
        return
    largest = np.max(np.abs(X), axis=0)
    for j, magnitude in enumerate(largest):
        if magnitude > 0 and _log10_squares(float(magnitude), X.shape[0]) > MAX_LOG10_SQUARES:
            raise DataError(
                f"the fixed-effect column {names[j]!r} reaches {magnitude:.3g}: its sums of "
                "squares overflow double precision (1e308); rescale it"
            )


def needed_columns(
    parsed: MixedFormula,
    response_kind: str,
    weight_column: str | None,
    offset_column: str | None,
) -> dict[str, str]:
    """The data columns a model reads, each with the part of the model that reads it (for
    error messages), in the order the parts appear."""
    needed: dict[str, str] = {}
    for expression in response_expressions(parsed.response, response_kind):
        for name in sorted(required_columns(expression, "the response")):
            needed.setdefault(name, "the response")
    needed.update(predictor_columns(parsed, needed))
    for col in (weight_column, offset_column):
        if col is not None:
            needed.setdefault(col, "weights=/offset=")
    return needed


def predictor_columns(parsed: MixedFormula, before: dict[str, str] | None = None) -> dict[str, str]:
    """The columns the right-hand side reads (the fixed part, offsets and random terms:
    what new data for a prediction must have), each with the first part that reads it
    (after the parts in ``before``)."""
    needed: dict[str, str] = dict(before or {})
    for name in sorted(required_columns(parsed.fixed, "the fixed part")):
        needed.setdefault(name, "the fixed part")
    for expr in parsed.offsets:
        for name in sorted(required_columns(expr, "offset()")):
            needed.setdefault(name, f"offset({expr})")
    for spec in parsed.random:
        for name in sorted(required_columns(spec.lhs, "random term")):
            needed.setdefault(name, f"random term {spec.source}")
        for name in spec.factors:
            needed.setdefault(name, f"random term {spec.source}")
    return {k: v for k, v in needed.items() if before is None or k not in before}


def check_terms(terms: Sequence[RandomEffectsTerm], n: int, residual_variance: bool) -> None:
    """Refuse random-effects terms the data cannot identify (see :func:`model_frame`)."""
    for t in terms:
        if t.n_levels < 2:
            raise ModelSpecError(
                f"the grouping factor {t.factor.name!r} of {t.spec.source!r} has only "
                f"{t.n_levels} level in the rows used: a random effect needs at least two "
                "groups"
            )
        if residual_variance and t.n_levels >= n:
            raise ModelSpecError(
                f"the grouping factor {t.factor.name!r} of {t.spec.source!r} has "
                f"{t.n_levels} levels for {n} observations: each level needs more than one "
                "observation on average, otherwise its variance cannot be told apart from "
                "the residual variance (lme4 refuses this too)"
            )
        if residual_variance and t.n_levels * t.n_columns >= n:
            raise ModelSpecError(
                f"the random term {t.spec.source!r} has {t.n_levels * t.n_columns} random "
                f"effects ({t.n_levels} levels x {t.n_columns} coefficients) for {n} "
                "observations: its variances and the residual variance are not identifiable; "
                "simplify the term, e.g. drop a random slope"
            )


def check_term_columns(terms: Sequence[RandomEffectsTerm]) -> None:
    """Refuse a random-effect column that is zero in every row, or constant beside the
    term's intercept (the intercept again): its variance cannot be estimated. (The terms
    must hold the rows: a Dask fit's prototype terms do not.)"""
    for t in terms:
        intercept = "(Intercept)" in t.column_names
        for column, values in zip(t.column_names, t.matrix.T, strict=True):
            zero = not np.any(values)
            if column != "(Intercept)" and (zero or (intercept and np.ptp(values) == 0)):
                raise ModelSpecError(
                    f"the random term {t.spec.source!r} has the column {column!r}, which is "
                    f"{'zero' if zero else 'constant'} in every row used: its variance "
                    "cannot be estimated apart from the others; drop it from the term"
                )


#: The time a formula's terms may take to evaluate, in seconds. Each term's work is
#: bounded by the data (constants are bounded before evaluation, the formula's length by
#: the parser); this bounds their sum, checked after each term.
FORMULA_SECONDS = 300.0


def _in_time(deadline: float, where: str) -> None:
    if time.monotonic() > deadline:
        raise FormulaError(
            f"evaluating the formula took more than {FORMULA_SECONDS:g} s (stopped after "
            f"{where}); simplify its terms or fit a sample of the rows first"
        )


def _missing(column: pd.Series) -> np.ndarray | None:
    """Which rows of ``column`` are missing, or None when none can be (pandas' ``isna``,
    read off the values where their type tells without it)."""
    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iub" and len(column):
        return None
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        missing: np.ndarray = np.isnan(column.to_numpy())
        return missing
    if isinstance(dtype, pd.CategoricalDtype):
        return np.asarray(column.array.codes) < 0
    return np.asarray(column.isna().to_numpy(), dtype=bool)


def _columns(frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """The columns ``names`` of ``frame`` (which holds them): reindexing is 3x faster than
    ``frame[names]`` in pandas 3, and refuses duplicate names, which indexing keeps."""
    try:
        return frame.reindex(columns=names)
    except ValueError:
        return frame[names]


def model_frame(
    formula: str | MixedFormula,
    data: Any,
    *,
    weights: Any = None,
    offset: Any = None,
    require_random: bool = True,
    response_kind: str = "numeric",
    residual_variance: bool = True,
    names: str = "python",
) -> ModelFrame:
    """Read a formula against the data.

    Parameters
    ----------
    formula : str or MixedFormula
        lme4-style formula.
    data : pandas.DataFrame, polars.DataFrame or dict of arrays
    weights, offset : str or array-like, optional
        A column name or one value per row.
    require_random : bool
        Raise if the formula has no random-effects term.
    residual_variance : bool
        The model has a residual variance (an LMM): then, as lme4 does, refuse grouping
        factors with a level per row and terms with as many effects as rows, which it
        could not tell apart. GLMMs (binomial, Poisson) have none and allow both, as
        glmer does (e.g. an observation-level random effect for overdispersion).
    response_kind : str
        ``"numeric"``, or ``"binomial"`` to also accept ``cbind(successes, failures)``
        (the trials become the weights), factor and boolean responses.
    names : {"python", "r"}
        The columns' names: formulaic's (``recipe[S.A]``, ``late[T.True]``, ``poly(Days, 2)[1]``)
        or R's (``recipe1``, ``lateTRUE``, ``poly(Days, 2)1``).

    Raises
    ------
    FormulaError, DataError, ModelSpecError
        With a message naming the column, term or value at fault.
    """
    parsed = formula if isinstance(formula, MixedFormula) else parse_formula(formula)
    check_name_style(names)
    frame = as_dataframe(data)
    if require_random and not parsed.random:
        raise FormulaError(
            f"formula {parsed.text!r} has no random-effects term such as (1 | group); "
            "for a model without one use ordinary least squares"
        )
    if response_kind != "binomial" and parsed.response.strip().startswith("cbind("):
        raise FormulaError(
            f"the response {parsed.response!r} is a cbind(successes, failures) pair, "
            "which only a binomial model reads: use mm.glmm(..., family='binomial')"
        )
    weight_values, weight_col = _vector(weights, frame, "weights")
    offset_values, offset_col = _vector(offset, frame, "offset")

    needed = needed_columns(parsed, response_kind, weight_col, offset_col)
    columns = {str(c) for c in frame.columns}
    for name, where in needed.items():
        if name not in columns:
            raise unknown_column_error(name, frame.columns, where)

    used = _columns(frame, list(needed))
    keep = np.ones(len(used), dtype=bool)
    for name in needed:
        missing = _missing(used[name])
        if missing is None:
            continue
        if missing.all():
            raise DataError(f"column {name!r} (used by {needed[name]}) has no non-missing value")
        keep &= ~missing
    for extra in (weight_values, offset_values):
        if extra is not None:
            keep &= ~np.isnan(extra)
    _check_numeric(frame, weight_col, "weights")
    _check_numeric(frame, offset_col, "offset")
    # a row of weight 0 carries nothing: it is left out, as a missing one, so that the
    # fit (its criterion and df too) is that of the data without it
    given = weight_values if weight_col is None else frame[weight_col].to_numpy(np.float64)
    if given is not None:
        keep &= given != 0
    rows = np.flatnonzero(keep)
    if rows.size == 0:
        raise DataError(
            "no rows are left after dropping rows with a missing value in "
            f"{', '.join(repr(n) for n in needed)}"
            + (" or a zero weight" if given is not None else "")
        )
    subset = used if rows.size == len(frame) else used.iloc[rows]
    for name in needed:
        _check_values(subset, name)

    y, trials = read_response(parsed.response, subset, response_kind)
    _check_response_spread(y, parsed.response, residual_variance)
    deadline = time.monotonic() + FORMULA_SECONDS
    X, fixed_names, fixed_encoding = encode(parsed.fixed, subset, "the fixed part")
    _in_time(deadline, "the fixed part")
    _check_fixed_magnitude(X, fixed_names)
    n_fixed = X.shape[1]
    keep_cols = independent_columns(X)
    aliased = aliased_columns(fixed_names, keep_cols, stacklevel=3)
    if aliased:
        X = np.ascontiguousarray(X[:, keep_cols])
        fixed_names = [fixed_names[i] for i in keep_cols]

    off = None
    offset_encodings = []
    for expr in parsed.offsets:
        values, _, enc = encode(f"0 + {expr}", subset, "offset()")
        _in_time(deadline, f"offset({expr})")
        offset_encodings.append(enc)
        off = values[:, 0] if off is None else off + values[:, 0]
    if offset_col is not None:
        extra = subset[offset_col].to_numpy(dtype=np.float64)
        off = extra if off is None else off + extra
    elif offset_values is not None:
        off = offset_values[rows] if off is None else off + offset_values[rows]

    w = None
    if weight_col is not None:
        w = subset[weight_col].to_numpy(dtype=np.float64)
    elif weight_values is not None:
        w = weight_values[rows]
    if w is not None and (w < 0).any():
        raise DataError(f"weights must be non-negative; found {w[w < 0][0]!r}")
    prior = w
    if trials is not None:
        w = trials if w is None else w * trials

    n = rows.size
    terms: list[RandomEffectsTerm] = []
    for spec in parsed.random:
        factor = grouping_factor(subset, spec.factors)
        matrix, cols, enc = encode(spec.lhs, subset, f"random term {spec.source}:")
        _in_time(deadline, f"the random term {spec.source}")
        if matrix.shape[1] == 0:
            raise FormulaError(f"random term {spec.source!r} has no columns")
        terms.append(RandomEffectsTerm(spec, factor, matrix, tuple(cols), factor.name, enc))
    terms = lme4_term_order(terms)
    vc_names = unique_names([t.factor.name for t in terms])
    terms = [
        RandomEffectsTerm(t.spec, t.factor, t.matrix, t.column_names, v, t.encoding)
        for t, v in zip(terms, vc_names, strict=True)
    ]
    check_terms(terms, n, residual_variance)
    check_term_columns(terms)
    frame_read = ModelFrame(
        formula=parsed,
        response_name=parsed.response,
        y=y,
        X=X,
        fixed_names=tuple(fixed_names),
        weights=w,
        offset=off,
        terms=tuple(terms),
        rows=rows,
        n_input=len(frame),
        aliased=aliased,
        data=subset,
        fixed_encoding=fixed_encoding,
        kept_columns=tuple(int(i) for i in keep_cols) if aliased else tuple(range(n_fixed)),
        offset_encodings=tuple(offset_encodings),
        offset_column=offset_col,
        prior_weights=prior,
        functions=active_functions() or None,
    )
    return named(frame_read, names)


def named(frame: ModelFrame, names: str) -> ModelFrame:
    """``frame`` with its fixed-effect and random-effect columns named in the style
    ``names`` (``"python"``: as read; ``"r"``: :func:`~mixedmodels.design.rnames.r_style_names`)."""
    check_name_style(names)
    if names == "python":
        return frame
    terms = tuple(
        replace(t, column_names=tuple(r_style_names(t.column_names, frame.data)))
        for t in frame.terms
    )
    return replace(
        frame,
        fixed_names=tuple(r_style_names(frame.fixed_names, frame.data)),
        terms=terms,
        name_style=names,
    )
