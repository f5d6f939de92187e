"""Coefficient names as R prints them, for code ported from R that indexes by name.

Our default names are formulaic's, which keep the variable and the level apart and say
how a column is coded: ``recipe[S.A]``, ``period[T.2]``, ``poly(Days, 2)[1]``, a boolean's
``late[T.True]``. R pastes the variable and the level together and numbers the
columns of contrasts that have no level names: ``recipe1``, ``period2``,
``poly(Days, 2)1``, ``lateTRUE``. :func:`r_style_names` turns the first into the second;
the expressions inside the names are written as R's ``deparse`` writes them
(``bs(x, df = 4)``, ``I(x^2)``, ``I(x * 2)``).
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterable, Sequence

import pandas as pd

from mixedmodels.errors import ModelSpecError

__all__ = ["NAME_STYLES", "check_name_style", "r_deparse", "r_style_names"]

#: The coefficient naming styles the fit functions take (``names=``).
NAME_STYLES = ("python", "r")

#: Binary operators R's deparse writes with a space on each side (``/``, ``^`` and ``:``
#: it writes without).
_SPACED = frozenset({"+", "-", "*", "==", "!=", "<", ">", "<=", ">=", "&", "|", "%%", "%/%"})
#: Tokens after which a ``+`` or ``-`` is unary.
_OPENING = frozenset({"(", ",", "=", "[", "~"}) | _SPACED | {"/", "^", ":", "**"}


def check_name_style(names: str) -> str:
    """``names`` if it is one of :data:`NAME_STYLES`, else a ModelSpecError."""
    if names not in NAME_STYLES:
        raise ModelSpecError(
            f"names must be one of {', '.join(repr(s) for s in NAME_STYLES)}, not {names!r}"
        )
    return names


def r_deparse(expression: str) -> str:
    """An expression spaced as R's ``deparse`` writes it: ``", "`` between arguments,
    ``" = "`` for a named one, spaces around ``+ - * ==`` but not ``/ ^ :``; Python's
    ``**`` is R's ``^``. Text that does not tokenize is returned as it is."""
    try:
        tokens = [
            t
            for t in tokenize.generate_tokens(io.StringIO(expression).readline)
            if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT)
        ]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return expression
    out: list[str] = []
    previous = "("
    for token in tokens:
        text = "^" if token.string == "**" else token.string
        if token.type == tokenize.STRING and text.startswith("'") and text.endswith("'"):
            text = '"' + text[1:-1].replace('"', '\\"') + '"'  # R deparses with "
        if text == ",":
            out.append(", ")
        elif text == "=":
            out.append(" = ")
        elif text in ("+", "-") and previous in _OPENING:
            out.append(text)  # unary
        elif text in _SPACED:
            out.append(f" {text} ")
        else:
            out.append(text)
        previous = text
    return "".join(out)


def _split_interaction(name: str) -> list[str]:
    """The factors of an interaction column, ``a[T.x]:b`` -> ``a[T.x]``, ``b``: split at
    the colons outside parentheses and brackets."""
    parts: list[str] = []
    depth = 0
    start = 0
    for i, char in enumerate(name):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == ":" and depth == 0:
            parts.append(name[start:i])
            start = i + 1
    parts.append(name[start:])
    return parts


_CODED = re.compile(r"^(?P<variable>.*)\[(?P<suffix>[^\[\]]*)\]$")


def _numbered_levels(names: Iterable[str]) -> dict[tuple[str, str], int]:
    """R's number for each sum- and Helmert-coded column: its position among the coded
    columns of its variable (``f[S.a]`` -> 1, ``f[S.b]`` -> 2), in their order."""
    numbers: dict[tuple[str, str], int] = {}
    count: dict[str, int] = {}
    for name in names:
        for part in _split_interaction(name):
            match = _CODED.match(part)
            if match is None or match["suffix"][:2] not in ("S.", "H."):
                continue
            key = (match["variable"], match["suffix"])
            coding = f"{match['variable']}[{match['suffix'][:2]}"
            if key not in numbers:
                count[coding] = count.get(coding, 0) + 1
                numbers[key] = count[coding]
    return numbers


_WHOLE_FLOAT = re.compile(r"^-?\d+\.0$")


def _r_part(part: str, numbers: dict[tuple[str, str], int], booleans: frozenset[str]) -> str:
    """One factor of a column name in R's spelling."""
    if part == "(Intercept)":
        return part
    match = _CODED.match(part)
    if match is None:
        return r_deparse(part)
    variable, suffix = match["variable"], match["suffix"]
    written = r_deparse(variable)
    if (variable, suffix) in numbers:
        return f"{written}{numbers[(variable, suffix)]}"
    if suffix.startswith("T."):
        suffix = suffix[2:]
    if variable in booleans and suffix in ("True", "False"):
        suffix = suffix.upper()
    if variable.startswith("factor(") and _WHOLE_FLOAT.match(suffix):
        suffix = suffix[:-2]  # R prints the level 1 of factor(x) for x = 1.0 as "1"
    return f"{written}{suffix}"


def r_style_names(names: Sequence[str], data: pd.DataFrame) -> list[str]:
    """Column names in R's spelling (see the module's docstring). ``data`` holds the
    columns the names refer to: a boolean column's ``late[T.True]`` is ``lateTRUE``."""
    booleans = frozenset(
        str(c) for c, dtype in data.dtypes.items() if pd.api.types.is_bool_dtype(dtype)
    )
    numbers = _numbered_levels(names)
    return [
        ":".join(_r_part(p, numbers, booleans) for p in _split_interaction(name)) for name in names
    ]
