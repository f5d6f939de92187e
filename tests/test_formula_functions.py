"""R's formula functions as lme4 evaluates them (tests/reference/formula_functions.R on
sleepstudy): estimates, SEs and log-likelihoods, and predictions on new data with the
training transform (the mean and SD of ``scale``, the basis of ``poly`` and ``bs``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from lme4_reference import load_reference, r_name

REF = load_reference("formula_functions")
# ours where R's formula differs: center() is stateful, R's I(Days - mean(Days)) is not
OURS = {"center": "Reaction ~ center(Days) + (1 | Subject)"}
CASES = sorted(
    k
    for k in REF
    if k not in ("lme4_version", "ordered_cake", "sum_cake", "base_cake")
    and not k.startswith("idiom_")
)


@pytest.mark.parametrize("case", CASES)
def test_formula_functions_match_lme4(case: str) -> None:
    ref = REF[case]
    data = mm.datasets.load("sleepstudy")
    fit = mm.lmm(OURS.get(case, ref["formula"]), data)
    assert len(fit.fixed_names) == len(ref["names"])
    assert fit.loglik == pytest.approx(ref["loglik"], abs=1e-6)
    se = np.array(ref["se"])
    # the tolerances of tests/reference/README.md
    np.testing.assert_array_less(np.abs(fit.beta - ref["fixef"]), 1e-3 * se)
    np.testing.assert_allclose(fit.std_errors.to_numpy(), se, rtol=1e-3)
    if case == "center":
        return  # R re-evaluates mean(Days) on the new data; ours keeps the training mean
    new = pd.DataFrame(
        {
            "Days": ref["new_days"],
            "Subject": pd.Categorical(["308"] * 3, data["Subject"].cat.categories),
        }
    )
    # a transform applied to the new data with other than the training state would miss
    # by percents; the estimates' own differences (within the tolerances above) move the
    # predictions by up to 2e-6 relative (the random slope's modes)
    np.testing.assert_allclose(
        fit.predict(new, re=False).to_numpy(), ref["predict_population"], rtol=1e-5
    )
    np.testing.assert_allclose(fit.predict(new).to_numpy(), ref["predict_subject"], rtol=1e-5)


def test_names_follow_r_where_formulaic_counts_otherwise() -> None:
    data = mm.datasets.load("sleepstudy")
    raw = mm.lmm("Reaction ~ poly(Days, 2, raw=TRUE) + (1 | Subject)", data)
    assert list(raw.fixed_names) == [
        "(Intercept)",
        "poly(Days, 2, raw=TRUE)[1]",
        "poly(Days, 2, raw=TRUE)[2]",
    ]
    np.testing.assert_allclose(raw.beta, REF["poly_raw"]["fixef"], rtol=1e-6)


def test_a_column_named_like_a_function_is_a_column() -> None:
    data = mm.datasets.load("sleepstudy").rename(columns={"Days": "scale"})
    fit = mm.lmm("Reaction ~ scale + (1 | Subject)", data)
    assert list(fit.fixed_names) == ["(Intercept)", "scale"]


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("Reaction ~ I(__import__('os').getpid()) + (1 | Subject)", "'__import__' is not allowed"),
        ("Reaction ~ np.log(Days + 1) + (1 | Subject)", r"calls np.log\(\)"),
        ("Reaction ~ open('x') + (1 | Subject)", r"calls open\(\)"),
        ("Reaction ~ {Days.__class__} + (1 | Subject)", "is not allowed"),
        ("Reaction ~ I((Days).real) + (1 | Subject)", "attributes of values"),
        ("Reaction ~ I(Days[0]) + (1 | Subject)", "indexing"),
        ("Reaction ~ I(Days + 9**9**9) + (1 | Subject)", "raised again is not evaluated"),
        ("Reaction ~ I(Days ^ 100000) + (1 | Subject)", "exponent 100000 is not evaluated"),
    ],
)
def test_nothing_else_in_a_formula_is_evaluated(formula: str, message: str) -> None:
    data = mm.datasets.load("sleepstudy")
    with pytest.raises(mm.FormulaError, match=message):
        mm.lmm(formula, data)


@pytest.mark.parametrize("case", ["bar_intercept", "bar_slope", "bar_log"])
def test_a_bar_without_parentheses_is_read_as_lme4_reads_it(case: str) -> None:
    """lme4 gives ``|`` the lowest precedence: the right-hand side is one random term."""
    ref = REF[f"idiom_{case}"]
    fit = mm.lmm(ref["formula"], mm.datasets.load(ref["data"]))
    assert list(fit.fixed_names) == ["(Intercept)"]
    assert fit.loglik == pytest.approx(ref["loglik"], abs=1e-6)
    np.testing.assert_allclose(fit.theta, ref["theta"], rtol=1e-3)


def test_an_arithmetic_response_is_arithmetic() -> None:
    """glmer's help page writes cbpp's binomial model as a proportion with the trials as
    prior weights; it is the cbind() model. lme4's two fits agree exactly and so do ours;
    ours matches lme4's within the 1.4e-3 SE that lme4's inexact Laplace value (its
    PIRLS tolerance) moves cbpp's estimates (tests/reference/README.md)."""
    ref = REF["idiom_ratio_response"]
    cbind = load_reference("cbpp_laplace")
    assert ref["loglik"] == pytest.approx(cbind["logLik"], abs=1e-9)
    data = mm.datasets.load("cbpp")
    ratio = mm.glmm(ref["formula"], data, family="binomial", weights="size")
    counts = mm.glmm(
        "cbind(incidence, size - incidence) ~ period + (1 | herd)", data, family="binomial"
    )
    assert ratio.loglik == pytest.approx(counts.loglik, abs=1e-10)
    np.testing.assert_allclose(ratio.beta, counts.beta, rtol=1e-10)
    se = ratio.std_errors.to_numpy()
    np.testing.assert_array_less(np.abs(ratio.beta - ref["fixef"]), 2e-3 * se)


@pytest.mark.parametrize(
    ("dataset", "formula", "case", "re_form"),
    [
        ("Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", "all", None),
        ("Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", "plate", "~ (1 | plate)"),
        ("Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", "sample", "~(1|sample)"),
        ("Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", "none", "NA"),
        ("sleepstudy", "Reaction ~ Days + (Days || Subject)", "slope", "~ (0 + Days | Subject)"),
        ("sleepstudy", "Reaction ~ Days + (Days || Subject)", "intercept", "~ (1 | Subject)"),
    ],
)
def test_predict_conditions_on_the_terms_of_re_form(
    dataset: str, formula: str, case: str, re_form: str | None
) -> None:
    """lme4's predict(re.form = ...) (tests/reference/predict_re_form.R)."""
    ref = load_reference("predict_re_form")[dataset.lower()]
    data = mm.datasets.load(dataset)
    fit = mm.lmm(formula, data)
    new = data.iloc[ref["rows"]]
    got = fit.predict(new, re_form=re_form).to_numpy()
    np.testing.assert_allclose(got, ref[case], rtol=1e-6)


def test_re_form_names_a_term_the_model_has() -> None:
    data = mm.datasets.load("Penicillin")
    fit = mm.lmm("diameter ~ 1 + (1 | plate) + (1 | sample)", data)
    with pytest.raises(mm.ModelSpecError, match=r"\(1 \| batch\) is not one of the model's"):
        fit.predict(data, re_form="~ (1 | batch)")
    with pytest.raises(mm.ModelSpecError, match="re_form must be"):
        fit.predict(data, re_form="plate")


def test_glmm_predicts_new_rows_as_glmer() -> None:
    """glmer's predict(newdata=, type=, re.form=) at tolPwrss = 1e-12, where lme4's
    Laplace optimum is converged (tests/reference/README.md on its default)."""
    ref = load_reference("predict_re_form")["cbpp"]
    data = mm.datasets.load("cbpp")
    fit = mm.glmm(
        "cbind(incidence, size - incidence) ~ period + (1 | herd)", data, family="binomial"
    )
    new = data.iloc[ref["rows"]]
    np.testing.assert_allclose(fit.predict(new, type="link"), ref["link"], rtol=1e-4)
    np.testing.assert_allclose(fit.predict(new), ref["response"], rtol=1e-4)
    np.testing.assert_allclose(fit.predict(new, re_form="NA"), ref["population"], rtol=1e-4)
    # the training rows through the new-data path are the fitted values
    np.testing.assert_allclose(fit.predict(data, type="link"), fit.predict(type="link"))
    with pytest.raises(mm.ModelSpecError, match=r"pass the type by name"):
        fit.predict("link")


def test_an_ordered_factor_gets_polynomial_contrasts_as_in_r() -> None:
    """lme4's cake has temperature as an ordered factor: R codes it by contr.poly."""
    ref = REF["ordered_cake"]
    data = mm.datasets.load("cake")
    data["temperature"] = pd.Categorical(data["temp"], ordered=True)
    fit = mm.lmm(ref["formula"], data)
    assert [r_name(n) for n in fit.fixed_names] == ref["names"]
    assert fit.loglik == pytest.approx(ref["loglik"], abs=1e-6)
    se = np.array(ref["se"])
    np.testing.assert_array_less(np.abs(fit.beta - ref["fixef"]), 1e-3 * se)
    np.testing.assert_allclose(fit.std_errors.to_numpy(), se, rtol=1e-3)
    # its own contrasts win: C(temperature, contr.treatment) is treatment-coded
    treated = mm.lmm("angle ~ C(temperature, contr.treatment) + (1 | recipe:replicate)", data)
    assert "[T." in treated.fixed_names[1]


@pytest.mark.parametrize(
    ("case", "contrasts", "names"),
    [
        ("sum_cake", {"recipe": "sum"}, ["recipe[S.A]", "recipe[S.B]"]),
        ("base_cake", {"recipe": ("treatment", "B")}, ["recipe[T.A]", "recipe[T.C]"]),
    ],
)
def test_contrasts_argument_is_rs(case: str, contrasts: dict, names: list[str]) -> None:
    """lmer(..., contrasts = list(recipe = "contr.sum")) and a treatment base other than
    the first level (R: relevel). R numbers sum-coded columns (recipe1, recipe2); ours
    name the level each stands for."""
    ref = REF[case]
    data = mm.datasets.load("cake")
    fit = mm.lmm(ref["formula"], data, contrasts=contrasts)
    assert list(fit.fixed_names[1:3]) == names
    assert fit.loglik == pytest.approx(ref["loglik"], abs=1e-6)
    se = np.array(ref["se"])
    np.testing.assert_array_less(np.abs(fit.beta - ref["fixef"]), 1e-3 * se)
    np.testing.assert_allclose(fit.std_errors.to_numpy(), se, rtol=1e-3)
    if case == "sum_cake":
        assert list(fit.anova().index) == ["recipe", "temp", "recipe:temp"]


def test_contrasts_argument_names_what_is_wrong() -> None:
    data = mm.datasets.load("cake")
    formula = "angle ~ recipe + temp + (1 | recipe:replicate)"
    with pytest.raises(mm.ModelSpecError, match="'deviation' is not one of"):
        mm.lmm(formula, data, contrasts={"recipe": "deviation"})
    with pytest.raises(mm.ModelSpecError, match="names 'replicate', which the formula"):
        mm.lmm(formula, data, contrasts={"replicate": "sum"})


def test_a_users_own_function_is_an_explicit_opt_in() -> None:
    """functions= lets a formula call the user's function, for the fit, its predictions,
    its type III tests and its updates; without it, or after it, the call is refused."""
    data = mm.datasets.load("sleepstudy")
    calls: list[int] = []

    def weeks(x: object) -> np.ndarray:
        calls.append(len(np.asarray(x)))
        return np.asarray(x, dtype=float) / 7

    formula = "Reaction ~ weeks(Days) + (1 | Subject)"
    with pytest.raises(mm.FormulaError, match=r"calls weeks\(\)"):
        mm.lmm(formula, data)
    fit = mm.lmm(formula, data, functions={"weeks": weeks})
    plain = mm.lmm("Reaction ~ I(Days / 7) + (1 | Subject)", data)
    np.testing.assert_allclose(fit.beta, plain.beta, rtol=1e-10)
    new = data.head(4)
    np.testing.assert_allclose(fit.predict(new), plain.predict(new), rtol=1e-10)
    assert calls[-1] == 4  # called again on the new rows
    assert list(fit.anova().index) == ["weeks(Days)"]
    assert list(fit.update(reml=False).fixed_names) == ["(Intercept)", "weeks(Days)"]
    with pytest.raises(mm.FormulaError, match=r"calls weeks\(\)"):
        mm.lmm(formula, data)  # the opt-in was for that fit alone
    with pytest.raises(mm.ModelSpecError, match="already a formula function"):
        mm.lmm(formula, data, functions={"scale": weeks})
    with pytest.raises(mm.ModelSpecError, match="not callable"):
        mm.lmm(formula, data, functions={"weeks": 7})
