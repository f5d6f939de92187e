"""What a formula may name: the data's columns, R's mathematical functions and constants
(:mod:`mixedmodels.design.rmath`), R's formula functions (``scale``, ``center``, ``poly``,
``bs``, ``ns``, ``factor``, ``I``, ``C``) and ``TRUE`` / ``FALSE``. Nothing else is evaluated: a
formula is checked before formulaic sees it, and a call of any other function, an
attribute of a value, or a double-underscore name is refused with the text at fault.

The stateful transforms (``scale``, ``center``, ``poly``, ``bs``) are formulaic's, ``ns``
is :mod:`mixedmodels.design.splines`; each
remembers what it learnt from the training data (the mean and SD, the polynomial basis,
the knots), so predictions on new data apply the training transform.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from formulaic.utils.stateful_transforms import stateful_transform

from mixedmodels.design.literals import check_constants
from mixedmodels.design.rmath import R_MATH
from mixedmodels.design.splines import bs, ns, poly
from mixedmodels.errors import FormulaError, ModelSpecError

__all__ = [
    "FORMULA_CONTEXT",
    "FORMULA_FUNCTIONS",
    "active_functions",
    "check_expression",
    "formula_context",
    "user_functions",
    "column_names",
    "ordered_as_polynomial",
    "r_contrast_name",
    "with_contrasts",
]


def factor(x: Any) -> pd.Series:
    """R's ``factor(x)``: the values as categories, in sorted order (R's default; a
    categorical keeps its own)."""
    values = x if isinstance(x, pd.Series) else pd.Series(np.asarray(x))
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values
    categories = sorted(values.dropna().unique())
    return pd.Series(pd.Categorical(values, categories=categories), index=values.index)


def r_combine(*values: Any) -> list[Any]:
    """R's ``c(...)`` for the arguments of formula functions, ``ns(x, knots = c(3, 6))``:
    the values in one list."""
    out: list[Any] = []
    for value in values:
        out.extend(np.atleast_1d(np.asarray(value)).tolist())
    return out


def _values(x: Any) -> Any:
    return x.to_numpy() if isinstance(x, pd.Series) else np.asarray(x)


def _like(result: np.ndarray, *inputs: Any) -> Any:
    """``result`` as a Series with the index of the first Series among ``inputs``."""
    for x in inputs:
        if isinstance(x, pd.Series):
            return pd.Series(np.broadcast_to(result, (len(x),)), index=x.index)
    return result


def _elementwise(operation: Any, values: tuple[Any, ...]) -> Any:
    result = _values(values[0])
    for value in values[1:]:
        result = operation(result, _values(value))
    return _like(np.asarray(result), *values)


def pmin(*values: Any) -> Any:
    """R's ``pmin``: the elementwise least of the arguments."""
    return _elementwise(np.minimum, values)


def pmax(*values: Any) -> Any:
    """R's ``pmax``: the elementwise greatest of the arguments."""
    return _elementwise(np.maximum, values)


def ifelse(test: Any, yes: Any, no: Any) -> Any:
    """R's ``ifelse``: ``yes`` where ``test`` holds, ``no`` elsewhere."""
    return _like(np.where(_values(test).astype(bool), _values(yes), _values(no)), test, yes, no)


def _relevel(x: Any, ref: Any, _state: dict[str, Any] = {}) -> pd.Series:  # noqa: B006
    """R's ``relevel(f, ref = "B")``: the categorical with ``ref`` as its first level (the
    base of treatment contrasts). The training levels are remembered, so new data with
    only some of them are coded alike."""
    values = factor(x)
    if "levels" not in _state:
        categories = list(values.cat.categories)
        matches = [c for c in categories if c == ref or str(c) == str(ref)]
        if not matches:
            raise ValueError(f"relevel(): {ref!r} is not a level (levels: {categories})")
        _state["levels"] = matches[:1] + [c for c in categories if c is not matches[0]]
    levels = _state["levels"]
    return pd.Series(pd.Categorical(values, categories=levels), index=values.index)


def _dummy(x: Any, level: Any, _state: dict[str, Any] = {}) -> Any:  # noqa: B006
    """lme4's ``dummy(f, "A")``: 1 where the factor is at ``level``, else 0 (one level;
    e.g. a random effect for one level, ``(0 + dummy(f, "A") | g)``). The level is
    checked against the training data's."""
    if isinstance(level, (list, tuple, np.ndarray)):
        raise ValueError("dummy(): give one level, e.g. dummy(f, 'A')")
    values = factor(x)
    if "checked" not in _state:
        categories = [str(c) for c in values.cat.categories]
        if str(level) not in categories:
            raise ValueError(f"dummy(): {level!r} is not a level (levels: {categories})")
        _state["checked"] = True
    return (values.astype(str) == str(level)).astype(np.float64)


#: ``relevel`` and ``dummy`` as formulaic stateful transforms (the decorator is untyped).
relevel: Any = stateful_transform(_relevel)
dummy: Any = stateful_transform(_dummy)


#: R's constants and formula functions besides the mathematical ones.
FORMULA_CONTEXT: dict[str, Any] = {
    **R_MATH,
    "TRUE": True,
    "FALSE": False,
    "factor": factor,
    "ns": ns,
    "bs": bs,
    "poly": poly,
    "c": r_combine,
    "pmin": pmin,
    "pmax": pmax,
    "ifelse": ifelse,
    "relevel": relevel,
    "dummy": dummy,
}

#: The functions a formula may call: R's mathematical functions and formula functions
#: (formulaic's stateful transforms among them).
FORMULA_FUNCTIONS = frozenset(
    {name for name, value in R_MATH.items() if callable(value)}
    | {"factor", "I", "Q", "C", "scale", "center", "poly", "bs", "ns", "c", "offset"}
    | {"pmin", "pmax", "ifelse", "relevel", "dummy"}
)

#: What to write instead of R functions a formula does not call.
_R_SPELLINGS = {
    "as.factor": "; write factor(x)",
    "as.numeric": "; a numeric column is used as it is",
    "as.integer": "; a numeric column is used as it is",
    "as.ordered": "; make the column an ordered pandas Categorical",
    "ordered": "; make the column an ordered pandas Categorical",
    "cut": "; bin the column with pandas.cut before the fit",
}

#: Functions of the user's own a formula may call, by name: set for the duration of a fit
#: (``functions=`` of :func:`mixedmodels.lmm`) and of its predictions.
_USER_FUNCTIONS: ContextVar[Mapping[str, Callable[..., Any]]] = ContextVar(
    "mixedmodels_user_functions", default=MappingProxyType({})
)

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def _checked_functions(functions: Mapping[str, Any] | None) -> dict[str, Callable[..., Any]]:
    if functions is None:
        return {}
    if not isinstance(functions, Mapping):
        raise ModelSpecError(
            f"functions must map names to callables, e.g. {{'logit': my_logit}}, not {functions!r}"
        )
    out: dict[str, Callable[..., Any]] = {}
    for name, function in functions.items():
        if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
            raise ModelSpecError(f"functions: {name!r} is not a name a formula can call")
        if name in FORMULA_FUNCTIONS or name in _CONSTANTS:
            raise ModelSpecError(
                f"functions: {name!r} is already a formula function; give yours another name"
            )
        if not callable(function):
            raise ModelSpecError(f"functions: {name!r} is {function!r}, which is not callable")
        out[name] = function
    return out


@contextmanager
def user_functions(functions: Mapping[str, Any] | None) -> Iterator[None]:
    """Let formulas call the user's own ``functions`` (name -> callable) inside the
    block, besides the formula language's: the explicit opt-in of ``functions=``."""
    token = _USER_FUNCTIONS.set(_checked_functions(functions))
    try:
        yield
    finally:
        _USER_FUNCTIONS.reset(token)


def active_functions() -> dict[str, Callable[..., Any]]:
    """The user's functions formulas may call now (none outside :func:`user_functions`)."""
    return dict(_USER_FUNCTIONS.get())


def formula_context() -> Mapping[str, Any]:
    """What a formula is evaluated with: :data:`FORMULA_CONTEXT` and the user's
    functions in force."""
    extra = _USER_FUNCTIONS.get()
    return {**FORMULA_CONTEXT, **extra} if extra else FORMULA_CONTEXT


#: Names that are neither columns nor calls: constants and keyword values.
_CONSTANTS = frozenset({"TRUE", "FALSE", "True", "False", "None", "pi"})

_TOKEN = re.compile(
    r"""(?P<string>'[^']*'|"[^"]*")"""
    r"|(?P<backtick>`[^`]*`)"
    r"|(?P<number>\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
    r"|(?P<name>[A-Za-z_.][A-Za-z0-9_.]*)"
    r"|(?P<space>\s+)"
    r"|(?P<other>.)"
)


def _tokens(expression: str) -> list[tuple[str, str]]:
    return [(m.lastgroup or "other", m.group()) for m in _TOKEN.finditer(expression)]


def check_expression(expression: str, where: str) -> None:
    """Refuse what a formula must not evaluate: calls of functions outside
    :data:`FORMULA_FUNCTIONS`, attributes of values, double-underscore names."""
    tokens = [t for t in _tokens(expression) if t[0] != "space"]
    for i, (kind, text) in enumerate(tokens):
        after = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        before = tokens[i - 1] if i > 0 else ("", "")
        if kind == "name" and "__" in text:
            raise FormulaError(f"{where} {expression!r}: the name {text!r} is not allowed")
        allowed = (
            text in FORMULA_FUNCTIONS or text.startswith("contr.") or text in _USER_FUNCTIONS.get()
        )
        if kind == "name" and after == "(" and not allowed:
            known = ", ".join(sorted(FORMULA_FUNCTIONS))
            hint = _R_SPELLINGS.get(text, "")
            raise FormulaError(
                f"{where} {expression!r} calls {text}(), which a formula cannot use"
                f"{hint} (its functions: {known})"
            )
        if (
            kind == "name"
            and text.startswith(".")
            and (before[1] in (")", "]") or before[0] == "string")
        ):
            raise FormulaError(
                f"{where} {expression!r}: attributes of values ({text!r}) are not allowed"
            )
        if kind == "other" and text == "[":
            raise FormulaError(f"{where} {expression!r}: indexing ('[') is not allowed")
    _check_powers(tokens, expression, where)
    check_constants(expression, where)


#: The largest literal exponent a formula may raise to (9**9**9 would pin a core).
MAX_EXPONENT = 1000


def _check_powers(tokens: list[tuple[str, str]], expression: str, where: str) -> None:
    """Refuse powers that would take unbounded time: a literal exponent above
    :data:`MAX_EXPONENT`, or a power of literals used as an exponent (``9**9**9``)."""
    # the power operators (``**``, ``^``) as single tokens
    merged: list[tuple[str, str]] = []
    for kind, text in tokens:
        if text == "*" and merged and merged[-1][1] == "*":
            merged[-1] = ("power", "**")
        elif text == "^":
            merged.append(("power", "^"))
        else:
            merged.append((kind, text))
    for i, (kind, _) in enumerate(merged):
        if kind != "power" or i + 1 >= len(merged):
            continue
        nxt_kind, nxt = merged[i + 1]
        chained = i + 2 < len(merged) and merged[i + 2][0] == "power"
        if nxt_kind == "number" and (float(nxt) > MAX_EXPONENT or chained):
            raise FormulaError(
                f"{where} {expression!r}: the power with exponent {nxt}"
                f"{' raised again' if chained else ''} is not evaluated (exponents up to "
                f"{MAX_EXPONENT})"
            )


def column_names(expression: str) -> set[str]:
    """The data columns an expression reads: its names that are not called, not keyword
    arguments, not constants and not contrasts (``contr.sum``), and its backticked names."""
    tokens = [t for t in _tokens(expression) if t[0] != "space"]
    out: set[str] = set()
    for i, (kind, text) in enumerate(tokens):
        after = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        after2 = tokens[i + 2][1] if i + 2 < len(tokens) else ""
        if kind == "backtick":
            out.add(text[1:-1])
        elif kind == "name":
            if after == "(" or (after == "=" and after2 != "="):
                continue
            if text in _CONSTANTS or text.startswith("contr."):
                continue
            out.add(text)
    return out


def ordered_as_polynomial(expression: str, data: pd.DataFrame) -> str:
    """``expression`` with each ordered categorical column coded by R's default for
    ordered factors, orthogonal polynomial contrasts (``C(f, contr.poly)``), unless the
    formula gives it contrasts of its own (``C(f, ...)``)."""
    tokens = _tokens(expression)
    significant = [i for i, t in enumerate(tokens) if t[0] != "space"]
    out = [text for _, text in tokens]
    for n, i in enumerate(significant):
        kind, text = tokens[i]
        if kind != "name" or text not in data.columns:
            continue
        column = data[text]
        if not (isinstance(column.dtype, pd.CategoricalDtype) and column.dtype.ordered):
            continue
        after = tokens[significant[n + 1]][1] if n + 1 < len(significant) else ""
        before = [tokens[significant[m]][1] for m in range(max(0, n - 2), n)]
        if after == "(" or before == ["C", "("]:
            continue
        out[i] = f"C({text}, contr.poly)"
    return "".join(out)


_CODED_NAME = re.compile(r"C\(([A-Za-z_.][A-Za-z0-9_.]*), contr\.[a-z]+(?:\([^()]*\))?\)")


def r_contrast_name(name: str) -> str:
    """A coded column or term named by its variable: ``temperature[.L]`` (R:
    ``temperature.L``) or ``recipe[S.A]``, not ``C(temperature, contr.poly)[.L]``; the
    term ``recipe``, not ``C(recipe, contr.sum)``."""
    return _CODED_NAME.sub(r"\1", name)


#: The contrasts ``contrasts=`` takes, by their R names without ``contr.``.
CONTRASTS = ("treatment", "sum", "helmert", "poly")


def _contrast_code(column: str, spec: Any) -> str:
    """formulaic's coding of ``column`` for a ``contrasts=`` entry: ``"sum"`` (or R's
    ``"contr.sum"``), ``"helmert"``, ``"poly"``, ``"treatment"`` or
    ``("treatment", base)``."""
    base = None
    if isinstance(spec, tuple) and len(spec) == 2:
        spec, base = spec
    kind = str(spec).removeprefix("contr.")
    if kind not in CONTRASTS or (base is not None and kind != "treatment"):
        raise ModelSpecError(
            f"contrasts for {column!r}: {spec!r} is not one of {', '.join(CONTRASTS)} (or "
            "('treatment', base) for another reference level)"
        )
    if base is not None:
        return f"C({column}, contr.treatment(base={base!r}))"
    return f"C({column}, contr.{kind})"


def with_contrasts(formula: str, contrasts: Mapping[str, Any] | None) -> str:
    """The formula with the columns of ``contrasts`` coded as asked (R's ``contrasts =
    list(f = "contr.sum")``) wherever they enter the fixed part or a random term's
    left-hand side (not as grouping factors, not in the response)."""
    if not contrasts:
        return formula
    if not isinstance(contrasts, Mapping):
        raise ModelSpecError(
            f"contrasts must map columns to contrasts, e.g. {{'recipe': 'sum'}}, not {contrasts!r}"
        )
    codes = {str(c): _contrast_code(str(c), spec) for c, spec in contrasts.items()}
    lhs, tilde, rhs = formula.partition("~")
    tokens = _tokens(rhs)
    significant = [i for i, t in enumerate(tokens) if t[0] != "space"]
    out = [text for _, text in tokens]
    grouping: list[bool] = []  # per open parenthesis: past its '|'
    used = set()
    for n, i in enumerate(significant):
        kind, text = tokens[i]
        if text == "(":
            grouping.append(False)
        elif text == ")" and grouping:
            grouping.pop()
        elif text == "|" and grouping:
            grouping[-1] = True
        if kind != "name" or text not in codes or any(grouping):
            continue
        after = tokens[significant[n + 1]][1] if n + 1 < len(significant) else ""
        before = [tokens[significant[m]][1] for m in range(max(0, n - 2), n)]
        if after == "(" or before == ["C", "("]:
            continue
        out[i] = codes[text]
        used.add(text)
    unused = sorted(set(codes) - used)
    if unused:
        raise ModelSpecError(
            f"contrasts names {', '.join(repr(c) for c in unused)}, which the formula "
            f"{formula!r} does not use as a predictor"
        )
    return lhs + tilde + "".join(out)
