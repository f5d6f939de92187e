"""Bad input: each case gives our own error, naming the culprit; never a numpy traceback."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm


@pytest.fixture
def sleep() -> pd.DataFrame:
    return mm.datasets.load("sleepstudy")


def test_unknown_column_is_named_with_a_suggestion(sleep) -> None:
    with pytest.raises(mm.FormulaError, match=r"'Dayz'.*did you mean 'Days'"):
        mm.lmm("Reaction ~ Dayz + (1 | Subject)", sleep)


def test_unknown_grouping_column_is_named(sleep) -> None:
    with pytest.raises(mm.FormulaError, match=r"random term \(1 \| Subj\).*'Subj'"):
        mm.lmm("Reaction ~ Days + (1 | Subj)", sleep)


@pytest.mark.parametrize(
    ("formula", "position"),
    [
        ("Reaction ~ Days + (1 | Subject", 18),
        ("Reaction ~ Days + 1 | Subject)", 29),
        ("Reaction ~ Days ~ (1 | Subject)", 16),
    ],
)
def test_syntax_error_points_at_position(sleep, formula: str, position: int) -> None:
    with pytest.raises(mm.FormulaError) as info:
        mm.lmm(formula, sleep)
    message = str(info.value)
    assert f"position {position}" in message
    caret_line = message.splitlines()[-1]
    assert caret_line.index("^") - 4 == position  # four spaces of indentation


def test_bar_outside_parentheses_is_lme4s_lowest_precedence(sleep) -> None:
    # lme4 reads 'Reaction ~ Days + 1 | Subject' as 'Reaction ~ 1 + (Days + 1 | Subject)'
    bare = mm.lmm("Reaction ~ Days + 1 | Subject", sleep)
    wrapped = mm.lmm("Reaction ~ 1 + (Days + 1 | Subject)", sleep)
    assert bare.loglik == wrapped.loglik
    assert list(bare.fixed_names) == ["(Intercept)"]


def test_grouping_factor_with_a_level_per_row_is_refused(sleep) -> None:
    data = sleep.assign(row=np.arange(len(sleep)).astype(str))
    with pytest.raises(mm.ModelSpecError, match=r"'row'.*180 levels for 180 observations"):
        mm.lmm("Reaction ~ Days + (1 | row)", data)


def test_term_with_more_parameters_than_data_is_refused() -> None:
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(10), 2)  # 10 levels x 2 coefficients = 20 random effects
    data = {"y": rng.normal(size=20), "x": rng.normal(size=20), "g": g}
    with pytest.raises(mm.ModelSpecError, match=r"\(x \| g\).*20 random effects.*20 obs"):
        mm.lmm("y ~ x + (x | g)", data)


def test_single_group_is_refused(sleep) -> None:
    data = sleep.assign(one="a")
    with pytest.raises(mm.ModelSpecError, match="'one'.*at least two groups"):
        mm.lmm("Reaction ~ Days + (1 | one)", data)


def test_non_numeric_response_is_named(sleep) -> None:
    data = sleep.assign(label=sleep["Reaction"].astype(str) + "ms")
    with pytest.raises(mm.DataError, match="response 'label'.*numeric"):
        mm.lmm("label ~ Days + (1 | Subject)", data)


def test_entirely_missing_column_is_named(sleep) -> None:
    data = sleep.assign(z=np.nan)
    with pytest.raises(mm.DataError, match="column 'z'.*no non-missing value"):
        mm.lmm("Reaction ~ z + (1 | Subject)", data)


def test_no_rows_left_after_dropping_missing(sleep) -> None:
    even = np.arange(180) % 2 == 0
    data = sleep.assign(a=np.where(even, np.nan, 1.0), b=np.where(even, 1.0, np.nan))
    with pytest.raises(mm.DataError, match="no rows are left.*'a'.*'b'"):
        mm.lmm("Reaction ~ a + b + (1 | Subject)", data)


def test_infinite_values_are_named(sleep) -> None:
    data = sleep.assign(Days=sleep["Days"].astype(float))
    data.loc[5, "Days"] = np.inf
    with pytest.raises(mm.DataError, match="column 'Days' has 1 infinite value"):
        mm.lmm("Reaction ~ Days + (1 | Subject)", data)


def test_negative_weights_are_refused(sleep) -> None:
    w = np.ones(180)
    w[3] = -1
    with pytest.raises(mm.DataError, match="weights must be non-negative"):
        mm.lmm("Reaction ~ Days + (1 | Subject)", sleep, weights=w)


def test_weights_of_wrong_length_are_refused(sleep) -> None:
    with pytest.raises(mm.DataError, match=r"weights= has shape \(3,\)"):
        mm.lmm("Reaction ~ Days + (1 | Subject)", sleep, weights=[1, 2, 3])


def test_formula_without_random_term_is_refused(sleep) -> None:
    with pytest.raises(mm.FormulaError, match="no random-effects term"):
        mm.lmm("Reaction ~ Days", sleep)


def test_unsupported_data_type_is_refused() -> None:
    with pytest.raises(mm.DataError, match="list is not supported"):
        mm.lmm("y ~ 1 + (1 | g)", [1, 2, 3])


def test_errors_are_value_errors_for_generic_handlers(sleep) -> None:
    with pytest.raises(ValueError):
        mm.lmm("Reaction ~ nope + (1 | Subject)", sleep)


def test_issue_17_silent_answers_are_refused_or_right(sleep) -> None:
    """A REML flag that is not a bool, a random term twice, a random slope on a zero or
    (beside the intercept) constant column, and weights as a Series on another order."""
    formula = "Reaction ~ Days + (1 | Subject)"
    with pytest.raises(mm.ModelSpecError, match="reml must be True or False, not 'no'"):
        mm.lmm(formula, sleep, reml="no")
    with pytest.raises(mm.ModelSpecError, match="reml must be True or False"):
        mm.gls("Reaction ~ Days", sleep, reml="no")
    with pytest.raises(mm.FormulaError, match=r"\(1 \| Subject\) appears twice"):
        mm.lmm("Reaction ~ Days + (1 | Subject) + (1 | Subject)", sleep)
    with pytest.raises(mm.ModelSpecError, match="'zero', which is zero in every row"):
        mm.lmm("Reaction ~ Days + (zero | Subject)", sleep.assign(zero=0.0))
    with pytest.raises(mm.ModelSpecError, match="'c', which is constant"):
        mm.lmm("Reaction ~ Days + (c | Subject)", sleep.assign(c=3.0))
    # without an intercept a constant column is a scaled random intercept: allowed
    scaled = mm.lmm("Reaction ~ Days + (0 + c | Subject)", sleep.assign(c=3.0))
    assert scaled.loglik == pytest.approx(mm.lmm(formula, sleep).loglik, abs=1e-6)
    weights = pd.Series(1 + sleep["Days"] / 10, index=sleep.index)
    shuffled = weights.sample(frac=1.0, random_state=1)
    in_order = mm.lmm(formula, sleep, weights=weights)
    assert mm.lmm(formula, sleep, weights=shuffled).loglik == pytest.approx(in_order.loglik)
    with pytest.raises(mm.DataError, match="Series whose index is not the data's"):
        mm.lmm(formula, sleep, weights=pd.Series(np.ones(180), index=range(1000, 1180)))
