"""Bad input: each case gives our own error, naming the culprit; never a numpy traceback."""

from __future__ import annotations

import warnings

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


FORMULA = "Reaction ~ Days + (1 | Subject)"
CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


def _cases(sleep: pd.DataFrame) -> list[tuple[str, object, type[Exception], str]]:
    n = len(sleep)
    dates = pd.Timestamp("2020-01-01") + pd.to_timedelta(sleep["Days"], unit="D")
    mixed = sleep.assign(g=[1 if i % 2 else "1" for i in range(n)])
    labels = pd.cut(sleep["Reaction"], 3, labels=["a", "b", "c"]).astype(str)
    return [
        (
            "two columns of one name",
            lambda: mm.lmm(FORMULA, pd.concat([sleep, sleep[["Days"]]], axis=1)),
            mm.DataError,
            "more than one column named 'Days'",
        ),
        (
            "an identical response",
            lambda: mm.lmm(FORMULA, sleep.assign(Reaction=1.0)),
            mm.DataError,
            "same value .* in all 180 rows",
        ),
        (
            "an identical GLMM response",
            lambda: mm.glmm("y ~ Days + (1 | Subject)", sleep.assign(y=1), family="poisson"),
            mm.DataError,
            "same value",
        ),
        (
            "a response scaled by 1e-300",
            lambda: mm.lmm(FORMULA, sleep.assign(Reaction=sleep["Reaction"] * 1e-300)),
            mm.DataError,
            "rescale it",
        ),
        (
            "a response scaled by 1e300",
            lambda: mm.lmm(FORMULA, sleep.assign(Reaction=sleep["Reaction"] * 1e300)),
            mm.DataError,
            "rescale it",
        ),
        (
            "a predictor scaled by 1e300",
            lambda: mm.lmm(FORMULA, sleep.assign(Days=sleep["Days"] * 1e300)),
            mm.DataError,
            "column 'Days' reaches",
        ),
        (
            "all-zero weights",
            lambda: mm.lmm(FORMULA, sleep, weights=np.zeros(n)),
            mm.DataError,
            "or a zero weight",
        ),
        (
            "infinite weights",
            lambda: mm.lmm(FORMULA, sleep, weights=np.full(n, np.inf)),
            mm.DataError,
            "weights= must be finite",
        ),
        (
            "a weights column of text",
            lambda: mm.lmm(FORMULA, sleep.assign(w="a"), weights="w"),
            mm.DataError,
            "weights= names column 'w', which is not numeric",
        ),
        (
            "an offset column of text",
            lambda: mm.lmm(FORMULA, sleep.assign(o="a"), offset="o"),
            mm.DataError,
            "offset= names column 'o'",
        ),
        (
            "a dict with a scalar",
            lambda: mm.lmm(
                FORMULA,
                {
                    "Reaction": sleep["Reaction"].to_numpy(),
                    "Days": 1.0,
                    "Subject": sleep["Subject"].to_numpy(),
                },
            ),
            mm.DataError,
            "column 'Days' has shape \\(\\)",
        ),
        (
            "a dict with a 2-D array",
            lambda: mm.lmm(
                FORMULA,
                {
                    "Reaction": sleep["Reaction"].to_numpy(),
                    "Days": np.ones((n, 2)),
                    "Subject": sleep["Subject"].to_numpy(),
                },
            ),
            mm.DataError,
            "has shape \\(180, 2\\)",
        ),
        (
            "nagq = 10**6",
            lambda: mm.glmm(CBPP, mm.datasets.load("cbpp"), family="binomial", nagq=10**6),
            mm.ModelSpecError,
            "at most 100",
        ),
        (
            "nagq = 500",
            lambda: mm.glmm(CBPP, mm.datasets.load("cbpp"), family="binomial", nagq=500),
            mm.ModelSpecError,
            "at most 100",
        ),
        (
            "a datetime predictor",
            lambda: mm.lmm("Reaction ~ t + (1 | Subject)", sleep.assign(t=dates)),
            mm.DataError,
            "dates or times .* convert it to a number",
        ),
        (
            "a group column mixing 1 and '1'",
            lambda: mm.lmm("Reaction ~ Days + (1 | g)", mixed),
            mm.DataError,
            "mixes values that print alike",
        ),
        (
            "a binomial response of three labels",
            lambda: mm.glmm("y ~ Days + (1 | Subject)", sleep.assign(y=labels), family="binomial"),
            mm.DataError,
            "has 3 labels",
        ),
    ]


def test_issue_17_inputs_are_refused_with_the_culprit_named(sleep) -> None:
    cases = _cases(sleep)
    assert len(cases) == 17
    for label, call, error, message in cases:
        with pytest.raises(error, match=message):
            call()
            pytest.fail(f"{label}: accepted")


def test_zero_weights_are_dropping_the_rows(sleep) -> None:
    """A row of weight 0 is left out: the fit is that of the data without it, criterion
    and all (lme4 keeps such rows in n, and its criterion differs)."""
    weights = np.ones(len(sleep))
    weights[:20] = 0.0
    weighted = mm.lmm("Reaction ~ Days + (Days | Subject)", sleep, weights=weights)
    dropped = mm.lmm("Reaction ~ Days + (Days | Subject)", sleep.iloc[20:])
    assert weighted.objective == pytest.approx(dropped.objective, rel=1e-10)
    np.testing.assert_allclose(weighted.beta, dropped.beta, rtol=1e-10)
    np.testing.assert_allclose(weighted.theta, dropped.theta, rtol=1e-8)
    assert weighted.nobs == dropped.nobs == len(sleep) - 20
    np.testing.assert_allclose(weighted.std_errors, dropped.std_errors, rtol=1e-8)


def test_a_yes_no_response_counts_yes_as_success_as_r(sleep) -> None:
    """R's factor levels sort "no" before "Yes" (its collation ignores case), so "Yes"
    is the success; a plain sort would put "Yes" first and flip every sign."""
    answer = (sleep["Reaction"] > 300).map({True: "Yes", False: "no"})
    text = mm.glmm("y ~ Days + (1 | Subject)", sleep.assign(y=answer), family="binomial")
    logical = mm.glmm(
        "y ~ Days + (1 | Subject)", sleep.assign(y=sleep["Reaction"] > 300), family="binomial"
    )
    np.testing.assert_array_equal(text.beta, logical.beta)
    assert text.beta[1] > 0


@pytest.mark.parametrize("term", ["poly(Days, 100000)", "bs(Days, df=100000)", "ns(Days, 100000)"])
def test_a_basis_larger_than_the_data_is_refused_before_it_is_built(sleep, term: str) -> None:
    """ns(Days, 100000) asked numpy for 74.5 GiB; a basis needs fewer columns than the
    distinct values of x (R's poly says so of its degree)."""
    with pytest.raises(mm.FormulaError, match=r"100000 columns need more than the 10 distinct"):
        mm.lmm(f"Reaction ~ {term} + (1 | Subject)", sleep)


def test_a_non_finite_fit_is_an_error_not_a_result() -> None:
    from mixedmodels.errors import NonFiniteFitError, check_finite_fit

    check_finite_fit("y ~ x + (1 | g)", criterion=1.0, beta=[1.0, 2.0])
    with pytest.raises(NonFiniteFitError, match=r"non-finite beta \(\[1.0, nan\]\)"):
        check_finite_fit("y ~ x + (1 | g)", criterion=1.0, beta=[1.0, np.nan])
    with pytest.raises(mm.MixedModelsError, match="non-finite criterion"):
        check_finite_fit("y ~ x + (1 | g)", criterion=np.inf)


def test_a_response_the_random_effects_reproduce_is_named_not_a_linalg_error() -> None:
    # y constant within each group: the criterion falls without bound as theta grows,
    # and the search runs theta off to where the final factorization fails
    rng = np.random.default_rng(0)
    data = pd.DataFrame(
        {
            "y": np.repeat([1.0, 2.0, 3.0], 10),
            "x": rng.normal(size=30),
            "g": np.repeat(list("abc"), 10),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(
            mm.MixedModelsError, match=r"'y ~ x \+ \(x \| g\)'.*g\.\(Intercept\) reached"
        ):
            mm.lmm("y ~ x + (x | g)", data)
