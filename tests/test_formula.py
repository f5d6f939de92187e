"""The formula layer: lme4's bar syntax and its expansions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import mixedmodels as mm
from mixedmodels.errors import FormulaError
from mixedmodels.formula import parse_formula

REFERENCE = Path(__file__).parent / "reference"


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
    number of bars times their expansions. (Bars over the same grouping factors could
    expand to one term twice, which is refused: see test_bad_input.)"""
    flat = [g for _, groups, _, _ in bars for g in groups]
    assume(len(set(flat)) == len(flat))
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


@pytest.mark.parametrize(
    "expression",
    [
        "1 + Days",
        "Days",
        "0 + Days",
        "x + Days",
        "Days + x",
        "x + x",
        "-1 + x",
        "x - 1",
        "1",
        "0 + x + Days",
        "y.z",
        "Days + 1",
        "x + 0",
        "0",
        "0 + 1 + x",
    ],
)
def test_plain_columns_are_built_as_formulaic_builds_them(expression: str) -> None:
    """Sums of numeric columns skip formulaic: the same matrix, names and ModelSpec."""
    import pickle

    from formulaic import model_matrix

    from mixedmodels.design.materialize import _plain_columns, encode, encode_new, intercept_name

    rng = np.random.default_rng(1)
    data = pd.DataFrame({"x": rng.normal(size=8), "Days": np.arange(8), "y.z": rng.normal(size=8)})
    assert _plain_columns(expression, data) is not None
    values, names, spec = encode(expression, data, "test")
    reference = model_matrix(expression, data, na_action="raise")
    assert names == [intercept_name(str(c)) for c in reference.columns]
    np.testing.assert_array_equal(values, np.asarray(reference, dtype=float).reshape(8, -1))
    new = data.iloc[::-1].reset_index(drop=True) * 2
    np.testing.assert_array_equal(
        encode_new(spec, new, "test"),
        encode_new(reference.model_spec, new, "test"),
    )
    again = pickle.loads(pickle.dumps(spec))
    np.testing.assert_array_equal(encode_new(again, new, "test"), encode_new(spec, new, "test"))


@pytest.mark.parametrize(
    "expression", ["b", "g", "x:Days", "I(x**2)", "x - Days", "x + -1", "missing", "x + nan"]
)
def test_other_expressions_go_through_formulaic(expression: str) -> None:
    from mixedmodels.design.materialize import _plain_columns

    data = pd.DataFrame(
        {"x": [1.0, 2.0], "Days": [1, 2], "b": [True, False], "g": ["a", "b"], "nan": [1.0, np.nan]}
    )
    assert _plain_columns(expression, data) is None


def test_r_math_functions_in_formulas() -> None:
    """nlme's Ovary formula as nlme writes it, ``sin(2*pi*Time)``: the same fit as with the
    columns computed beforehand, and R's two-argument log."""
    ovary = mm.datasets.load("Ovary")
    written = mm.lmm("follicles ~ sin(2*pi*Time) + cos(2*pi*Time) + (1 | Mare)", ovary)
    computed = mm.lmm(
        "follicles ~ s + c + (1 | Mare)",
        ovary.assign(s=np.sin(2 * np.pi * ovary["Time"]), c=np.cos(2 * np.pi * ovary["Time"])),
    )
    np.testing.assert_allclose(written.fixef.to_numpy(), computed.fixef.to_numpy(), rtol=1e-10)
    assert written.loglik == pytest.approx(computed.loglik, abs=1e-9)
    assert list(written.fixef.index)[1] == "sin(2 * pi * Time)"
    # nlme's own formula for its Ovary example, against nlme's fit
    reference = json.loads((REFERENCE / "gls_ovary_ar1.json").read_text())
    ar1 = mm.corAR1(form="~ 1 | Mare")
    gls_fit = mm.gls(reference["formula"], ovary, correlation=ar1)
    nlme = reference["REML"]
    assert gls_fit.loglik == pytest.approx(nlme["logLik"], abs=1e-4)
    assert list(gls_fit.fixef.index) == list(nlme["coef"])
    coef, se = np.array(list(nlme["coef"].values())), np.array(list(nlme["se"].values()))
    assert np.all(np.abs(gls_fit.beta - coef) < 1e-3 * se)
    base10 = mm.lmm("follicles ~ log(Time + 1, 10) + (1 | Mare)", ovary)
    log10 = mm.lmm("follicles ~ log10(Time + 1) + (1 | Mare)", ovary)
    np.testing.assert_allclose(base10.fixef.to_numpy(), log10.fixef.to_numpy(), rtol=1e-10)
    with pytest.raises(FormulaError, match="did you mean 'Time'"):
        mm.lmm("follicles ~ sin(2*pi*Tim) + (1 | Mare)", ovary)


@pytest.mark.parametrize("formula", ["y ~ x + ({'txt'} | g)", "y ~ {'a'} + (1 | g)"])
def test_a_term_that_is_text_is_refused_by_name(formula: str) -> None:
    rng = np.random.default_rng(0)
    data = pd.DataFrame(
        {"y": rng.normal(size=40), "x": rng.normal(size=40), "g": np.repeat(np.arange(8), 5)}
    )
    with pytest.raises(FormulaError, match="are not numbers"):
        mm.lmm(formula, data)
