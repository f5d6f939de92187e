"""The formula layer: lme4's bar syntax and its expansions."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mixedmodels.errors import FormulaError
from mixedmodels.formula import parse_formula


def test_bars_are_split_from_the_fixed_part() -> None:
    f = parse_formula("Reaction ~ Days + (Days | Subject)")
    assert f.response == "Reaction" and f.fixed == "Days"
    assert [(t.lhs, t.factors) for t in f.random] == [("Days", ("Subject",))]


def test_double_bar_gives_uncorrelated_terms() -> None:
    f = parse_formula("y ~ x + (1 + x + z || g)")
    assert [t.lhs for t in f.random] == ["1", "0 + x", "0 + z"]
    f = parse_formula("y ~ x + (0 + x || g)")
    assert [t.lhs for t in f.random] == ["0 + x"]


def test_nesting_and_interaction_groups() -> None:
    f = parse_formula("y ~ 1 + (1 | a/b/c)")
    # lme4's expansion: innermost first, written c:b:a
    assert [t.factors for t in f.random] == [("c", "b", "a"), ("b", "a"), ("a",)]
    assert parse_formula("y ~ (1 | a:b)").random[0].group_name == "a:b"


def test_lme4_habits() -> None:
    f = parse_formula("y ~ x + I(x^2) + offset(log(t)) + (1 | g)")
    assert f.fixed == "x + I(x**2)" and f.offsets == ("log(t)",)
    assert parse_formula("y ~ x - 1 + (1 | g)").fixed == "x - 1"
    assert parse_formula("y ~ (1 | g)").fixed == "1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("y ~ x + (1 | g", "unclosed '('"),
        ("y ~ x + (1 | )", "no grouping factor"),
        ("y ~ x + ( | g)", "nothing left of '|'"),
        ("y x", "has no '~'"),
        ("~ x + (1 | g)", "no response"),
        ("y ~ x + (1 | g + h)", "cannot read the grouping factor"),
        ("", "non-empty string"),
    ],
)
def test_syntax_errors(text: str, message: str) -> None:
    with pytest.raises(FormulaError, match=re.escape(message)):
        parse_formula(text)


names = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)


@given(
    fixed=st.lists(names, min_size=0, max_size=3),
    bars=st.lists(
        st.tuples(
            st.lists(names, min_size=1, max_size=3),
            st.lists(names, min_size=1, max_size=2),
            st.booleans(),
            st.booleans(),
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_parse_round_trip(fixed, bars) -> None:
    """Any well-formed formula parses to its parts: the number of random terms is the
    number of bars times their expansions."""
    pieces = list(fixed)
    expected = 0
    for lhs, groups, double, nested in bars:
        sep = "/" if nested else ":"
        pieces.append(f"({' + '.join(lhs)} {'||' if double else '|'} {sep.join(groups)})")
        per_group = len(groups) if nested else 1
        per_lhs = len(dict.fromkeys(lhs)) + 1 if double else 1  # intercept + each term
        expected += per_group * per_lhs
    f = parse_formula("resp ~ " + " + ".join(pieces))
    assert f.response == "resp"
    assert len(f.random) == expected
    assert all(t.factors for t in f.random)
