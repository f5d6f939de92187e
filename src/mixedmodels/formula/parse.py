"""Split an lme4 formula into its response, fixed part, offsets and random-effect terms.

The fixed part is handed to formulaic; the random terms ``(expr | group)`` are found here,
with lme4's expansions: ``(x || g)`` becomes one uncorrelated term per column,
``(1 | a/b)`` becomes ``(1 | b:a) + (1 | a)`` and ``(1 | a:b)`` groups by the interaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from formulaic import Formula

from mixedmodels.errors import FormulaError
from mixedmodels.formula.scan import caret, find_top_level, matching_parens, split_top_level

__all__ = ["MixedFormula", "RandomTermSpec", "parse_formula"]

_NAME = re.compile(r"^\s*`?([A-Za-z_.][A-Za-z0-9_.]*)`?\s*$")


@dataclass(frozen=True)
class RandomTermSpec:
    """One random-effects term ``(lhs | factor1:factor2:...)`` after expansion.

    Attributes
    ----------
    lhs : str
        The term's model formula (formulaic syntax), e.g. ``"1 + Days"`` or ``"0 + Days"``.
    factors : tuple of str
        The columns whose interaction is the grouping factor.
    source : str
        The text of the bar term as the user wrote it, for messages.
    """

    lhs: str
    factors: tuple[str, ...]
    source: str

    @property
    def group_name(self) -> str:
        """The grouping factor's name as lme4 prints it (``a:b`` for an interaction)."""
        return ":".join(self.factors)


@dataclass(frozen=True)
class MixedFormula:
    """A parsed mixed-model formula.

    Attributes
    ----------
    text : str
        The formula as given.
    response : str
        The left-hand side of ``~``.
    fixed : str
        The fixed-effects right-hand side in formulaic syntax (lme4 habits rewritten).
    offsets : tuple of str
        Expressions inside ``offset(...)`` terms of the fixed part.
    random : tuple of RandomTermSpec
        The random-effects terms, expanded, in the order written.
    """

    text: str
    response: str
    fixed: str
    offsets: tuple[str, ...]
    random: tuple[RandomTermSpec, ...]


def _rewrite_powers(text: str) -> str:
    """Inside ``I(...)``, read ``^`` as a power, as R does (Python would read xor)."""
    pairs = matching_parens(text)
    out = list(text)
    for match in re.finditer(r"(?<![A-Za-z0-9_.])I\s*\(", text):
        open_at = match.end() - 1
        for i in range(open_at, pairs[open_at]):
            if text[i] == "^":
                out[i] = "**"
    return "".join(out)


def _group_factors(text: str, source: str) -> list[tuple[str, ...]]:
    """Expand a grouping expression as lme4 does: ``a/b`` gives ``b:a`` and ``a``;
    ``a:b`` is one factor."""
    text = text.strip()
    if text.startswith("(") and matching_parens(text).get(0) == len(text) - 1:
        text = text[1:-1]
    nested = [piece for _, piece in split_top_level(text, "/")]
    out: list[tuple[str, ...]] = []
    prefix: tuple[str, ...] = ()
    # lme4 writes the inner factors of a/b as b:a and lists the innermost term first
    for piece in nested:
        names = []
        for _, part in split_top_level(piece, ":"):
            match = _NAME.match(part)
            if match is None:
                raise FormulaError(
                    f"cannot read the grouping factor {part.strip()!r} in random term "
                    f"{source!r}: a grouping factor is a column name, an interaction "
                    "'a:b' or a nesting 'a/b'"
                )
            names.append(match.group(1))
        prefix = tuple(names) + prefix
        out.append(prefix)
    return out[::-1]


def _lhs_terms(lhs: str, source: str) -> list[str]:
    """Split the left side of ``||`` into one formula per term (intercept first)."""
    try:
        terms = [str(t) for t in Formula(lhs)]
    except Exception as exc:  # formulaic raises several types for bad syntax
        raise FormulaError(f"cannot read {lhs!r} in random term {source!r}: {exc}") from None
    out = []
    for term in terms:
        out.append("1" if term == "1" else f"0 + {term}")
    return out


def _random_term(text: str, offset: int, whole: str) -> list[RandomTermSpec]:
    inner = text.strip()[1:-1]
    double = find_top_level(inner, "||")
    bar = double if double >= 0 else find_top_level(inner, "|")
    lhs = inner[:bar].strip()
    rhs = inner[bar + (2 if double >= 0 else 1) :]
    source = text.strip()
    if not lhs:
        raise caret(whole, offset, f"random term {source!r} has nothing left of '|'; write (1 | g)")
    if not rhs.strip():
        raise caret(whole, offset, f"random term {source!r} has no grouping factor right of '|'")
    lhs = _rewrite_powers(lhs)
    groups = _group_factors(rhs, source)
    lhs_parts = _lhs_terms(lhs, source) if double >= 0 else [lhs]
    return [RandomTermSpec(part, factors, source) for factors in groups for part in lhs_parts]


#: The longest formula read: with the bounds on constants (``design/literals.py``) this
#: bounds the work of evaluating one by the size of the data.
MAX_FORMULA_CHARACTERS = 20_000


def parse_formula(text: str) -> MixedFormula:
    """Parse an lme4-style mixed-model formula.

    Parameters
    ----------
    text : str
        A formula such as ``"Reaction ~ Days + (Days | Subject)"``.

    Returns
    -------
    MixedFormula

    Raises
    ------
    FormulaError
        On a syntax error (the message points at the position) or a formula without
        a response.
    """
    if not isinstance(text, str) or not text.strip():
        raise FormulaError("the formula must be a non-empty string such as 'y ~ x + (1 | g)'")
    if len(text) > MAX_FORMULA_CHARACTERS:
        raise FormulaError(
            f"the formula has {len(text):,} characters (at most {MAX_FORMULA_CHARACTERS:,}): "
            "build many similar terms from columns, e.g. with poly() or a factor"
        )
    return _parsed(text)


def _signed_pieces(rhs: str) -> list[tuple[int, str, str]]:
    """The terms of a right-hand side with their offsets and signs: split at the ``+``
    and then the ``-`` outside parentheses and quotes, so that a term may follow a
    random one with either (``(1 + Days | Subject) - 1``, as lme4 reads it). A leading
    ``-`` (``-1 + x``) is the sign of the first term."""
    out: list[tuple[int, str, str]] = []
    for start, piece in split_top_level(rhs, "+"):
        parts = split_top_level(piece, "-")
        for i, (offset, part) in enumerate(parts):
            if i == 0 and not part.strip() and len(parts) > 1:
                continue  # a leading minus: the next part carries it
            out.append((start + offset, part, "+" if i == 0 else "-"))
    return out


@lru_cache(maxsize=256)
def _parsed(text: str) -> MixedFormula:
    """:func:`parse_formula` of a non-empty string; the result is immutable, so a formula
    fitted again and again (simulations, bootstraps, the explorer) is parsed once."""
    pairs = matching_parens(text)
    tilde = split_top_level(text, "~")
    if len(tilde) != 2:
        where = text.find("~")
        if where < 0:
            raise FormulaError(
                f"formula {text!r} has no '~': write the response on the left, "
                "e.g. 'y ~ x + (1 | g)'"
            )
        second = tilde[2][0] - 1 if len(tilde) > 2 else where
        raise caret(text, second, "a formula has exactly one '~'")
    response = tilde[0][1].strip()
    if not response:
        raise caret(text, 0, "the formula has no response left of '~'")
    rhs_start, rhs = tilde[1]
    fixed: list[str] = []
    offsets: list[str] = []
    random: list[RandomTermSpec] = []
    if find_top_level(rhs, "|") >= 0:
        # lme4 reads a bar outside parentheses with the lowest precedence: the whole
        # right-hand side is one random term and the fixed part is the intercept
        # ('Yield ~ 1 | Batch', 'y ~ x | g' is 'y ~ 1 + (x | g)')
        at = rhs_start + len(rhs) - len(rhs.lstrip())
        random.extend(_random_term(f"({rhs.strip()})", at - 1, text))
        return MixedFormula(text, _rewrite_powers(response), "1", (), tuple(random))
    for start, piece, sign in _signed_pieces(rhs):
        stripped = piece.strip()
        at = rhs_start + start + (len(piece) - len(piece.lstrip()))
        if not stripped:
            raise caret(text, at, f"missing term around '{sign}'")
        if stripped.startswith("(") and pairs.get(at) == at + len(stripped) - 1:
            if find_top_level(stripped[1:-1], "|") >= 0:
                if sign == "-":
                    raise caret(text, at, "a random term is added, not subtracted")
                random.extend(_random_term(stripped, at, text))
                continue
        match = re.fullmatch(r"offset\s*\((.*)\)", stripped, flags=re.S)
        if match is not None and sign == "+":
            offsets.append(_rewrite_powers(match.group(1)))
            continue
        if "|" in stripped:
            raise caret(
                text,
                at + stripped.find("|"),
                "a random term must be its own '+' term, as in 'y ~ x + (1 | g)'",
            )
        stripped = re.sub(r"\s*%in%\s*", ":", stripped)  # R's a %in% b is a:b
        fixed.append(stripped if sign == "+" else f"- {stripped}")
    seen: dict[tuple[str, tuple[str, ...]], str] = {}
    for spec in random:
        key = (spec.lhs.replace(" ", ""), spec.factors)
        if key in seen:
            raise FormulaError(
                f"the random term {spec.source} appears twice in {text!r} (as "
                f"{seen[key]}): each term once"
            )
        seen[key] = spec.source
    fixed_text = _rewrite_powers(" + ".join(fixed).replace("+ -", "-")) if fixed else "1"
    if fixed_text.strip().startswith("-"):
        fixed_text = "1 " + fixed_text
    return MixedFormula(text, _rewrite_powers(response), fixed_text, tuple(offsets), tuple(random))
