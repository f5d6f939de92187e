"""What ``update`` fits again: lme4's formula shorthand read against the old formula, and
the rows, weights and offset a fit holds (or those of other data)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from mixedmodels.design.frame import ModelFrame, needed_columns
from mixedmodels.design.materialize import encode_new, required_columns
from mixedmodels.design.namespace import user_functions
from mixedmodels.errors import ModelSpecError
from mixedmodels.formula import parse_formula

__all__ = ["UpdateInputs", "update_inputs", "updated_formula"]


def _signed_terms(rhs: str) -> list[tuple[str, str]]:
    """The ``(sign, text)`` terms of a right-hand side, split at the ``+`` and ``-``
    outside parentheses."""
    terms: list[tuple[str, str]] = []
    depth = 0
    sign = "+"
    start = 0
    for i, char in enumerate(rhs):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char in "+-" and depth == 0:
            if rhs[start:i].strip():
                terms.append((sign, rhs[start:i].strip()))
            sign, start = char, i + 1
    if rhs[start:].strip():
        terms.append((sign, rhs[start:].strip()))
    return terms


def _is_random(term: str) -> bool:
    return term.startswith("(") and term.endswith(")") and "|" in term


def _joined(terms: list[tuple[str, str]]) -> str:
    text = " ".join(f"{sign} {term}" for sign, term in terms).strip()
    return text[2:] if text.startswith("+ ") else text


def updated_formula(old: str, new: str | None) -> str:
    """lme4's ``update`` of a formula: ``"."`` on the left keeps the old response, a
    ``"."`` on the right stands for the old right-hand side (``". ~ . + x"``), and
    ``- term`` removes a term, a random one too (``". ~ . - (1 | g)"``); ``log(.)`` on
    the left is the log of the old response. The old ``offset()`` and random terms go
    after the fixed ones, so that ``". ~ . - x"`` leaves ``x - x + (1 | g)``."""
    if new is None:
        return old
    old_lhs, _, old_rhs = old.partition("~")
    lhs, tilde, rhs = str(new).partition("~")
    if not tilde:
        raise ModelSpecError(f"update's formula must contain '~', not {new!r}")
    lhs = re.sub(r"(?<![\w.])\.(?![\w.])", lambda _: old_lhs.strip(), lhs)  # log(.)
    terms = _signed_terms(rhs)
    if not any(term == "." for _, term in terms):
        return f"{lhs.strip()} ~ {rhs.strip()}"
    old_terms = _signed_terms(old_rhs)
    removed = {"".join(t.split()) for sign, t in terms if sign == "-" and _is_random(t)}
    random = [("+", t) for _, t in old_terms if _is_random(t) and "".join(t.split()) not in removed]
    offsets = [(s, t) for s, t in old_terms if t.startswith("offset(")]
    fixed_old = [(s, t) for s, t in old_terms if not _is_random(t) and (s, t) not in offsets]
    out: list[tuple[str, str]] = []
    for sign, term in terms:
        if term == ".":
            out += fixed_old or [("+", "1")]
        elif not (sign == "-" and _is_random(term)):
            out.append((sign, term))
    fixed = [(s, t) for s, t in out if not _is_random(t)]
    added = [(s, t) for s, t in out if _is_random(t)]
    return f"{lhs.strip()} ~ {_joined(fixed + offsets + random + added)}"


@dataclass(frozen=True)
class UpdateInputs:
    """The data, prior weights and offset of a fit's update."""

    data: Any
    weights: Any
    offset: Any


def update_inputs(
    frame: ModelFrame,
    formula: str,
    data: Any,
    response_kind: str = "numeric",
    side_formulas: tuple[str, ...] = (),
) -> UpdateInputs:
    """The inputs of ``update``: without ``data``, the rows and columns ``frame`` holds,
    with its prior weights and its ``offset=`` values (the formula's ``offset()`` terms
    come again with the formula); with other data, that data and the offset column.
    ``side_formulas`` are one-sided formulas the fit also reads (a GLMM's zero-inflation
    and dispersion models).

    Raises
    ------
    ModelSpecError
        When the new formula reads a column the fit did not keep (pass ``data=``), or
        when other data should take over prior weights or an offset given as values.
    """
    if data is None:
        parsed = parse_formula(formula)
        held = {str(c) for c in frame.data.columns}
        with user_functions(frame.functions):
            read = list(needed_columns(parsed, response_kind, None, None))
            for side in side_formulas:
                read += sorted(required_columns(side.strip().lstrip("~") or "1", "a side model"))
        missing = list(dict.fromkeys(c for c in read if c not in held))
        if missing:
            raise ModelSpecError(
                f"the updated formula {formula!r} reads {', '.join(repr(c) for c in missing)}, "
                "which this fit did not keep (it holds the columns its formula read): pass "
                "the data, update(..., data=df)"
            )
        offset = None
        if frame.offset is not None:
            with user_functions(frame.functions):
                formula_part = sum(
                    (encode_new(e, frame.data, "offset()")[:, 0] for e in frame.offset_encodings),
                    np.zeros(frame.y.size),
                )
            offset = frame.offset - formula_part
            if not np.any(offset):
                offset = None
        return UpdateInputs(frame.data, frame.prior_weights, offset)
    formula_offsets = bool(frame.offset_encodings)
    if frame.prior_weights is not None or (
        frame.offset is not None and frame.offset_column is None and not formula_offsets
    ):
        raise ModelSpecError(
            "this fit has prior weights or an offset given as values, which other data "
            "cannot take over: fit it again with weights= and offset="
        )
    return UpdateInputs(data, None, frame.offset_column)
