"""The result surface (a contract other tools read) and input handling."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm


@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    return mm.datasets.load("sleepstudy")


@pytest.fixture(scope="module")
def fit(sleep) -> mm.LmmResult:
    return mm.lmm("Reaction ~ Days + (Days | Subject)", sleep)


def test_result_types_and_names(fit) -> None:
    assert isinstance(fit.fixef, pd.Series)
    assert list(fit.fixef.index) == ["(Intercept)", "Days"]
    assert isinstance(fit.vcov, pd.DataFrame)
    assert list(fit.vcov.columns) == list(fit.fixef.index)
    assert isinstance(fit.theta, np.ndarray) and fit.theta.shape == (3,)
    assert fit.theta_names == ("Subject.(Intercept)", "Subject.Days.(Intercept)", "Subject.Days")
    assert list(fit.varcorr.columns) == ["group", "term1", "term2", "variance", "sd_cor"]
    assert fit.varcorr["term2"].iloc[0] is None
    assert fit.varcorr["group"].iloc[-1] == "Residual"
    assert list(fit.ranef().columns) == ["group", "term", "level", "value", "cond_sd"]
    assert fit.nobs == 180 and fit.ngroups == {"Subject": 18}
    assert fit.reml and not fit.is_singular
    assert fit.optinfo.converged and fit.optinfo.n_evaluations > 0
    assert fit.optinfo.scaled_gradient is not None and fit.optinfo.scaled_gradient < 2e-3
    assert fit.aic == pytest.approx(fit.objective + 2 * 6)


def test_results_are_immutable(fit) -> None:
    with pytest.raises(ValueError):
        fit.theta[0] = 0.0
    with pytest.raises(AttributeError):
        fit.sigma = 1.0  # type: ignore[misc]
    copy = fit.fixef
    copy.iloc[0] = 0.0  # a copy: the fit is unchanged
    assert fit.fixef.iloc[0] != 0.0


def test_coef_adds_fixed_and_random(fit) -> None:
    table = fit.coef()["Subject"]
    re = fit.ranef()
    first = re[(re["level"] == "308") & (re["term"] == "Days")]["value"].iloc[0]
    assert table.loc["308", "Days"] == pytest.approx(fit.fixef["Days"] + first)
    assert list(table.index[:3]) == ["308", "309", "310"]


def test_fitted_plus_residuals_is_the_response(fit, sleep) -> None:
    np.testing.assert_allclose(fit.fitted + fit.residuals(), sleep["Reaction"], rtol=1e-12)


def test_missing_rows_are_dropped_and_results_aligned(sleep) -> None:
    data = sleep.copy()
    data.loc[[3, 50], "Reaction"] = np.nan
    data.loc[77, "Subject"] = np.nan
    fit = mm.lmm("Reaction ~ Days + (Days | Subject)", data)
    assert fit.nobs == 177 and fit.n_dropped == 3
    assert "3 row(s) dropped for missing values" in fit.summary()
    assert len(fit.fitted) == 180
    assert fit.fitted.isna().sum() == 3 and np.isnan(fit.residuals()[50])
    reference = mm.lmm("Reaction ~ Days + (Days | Subject)", data.drop(index=[3, 50, 77]))
    assert fit.objective == pytest.approx(reference.objective, rel=1e-12)


def test_polars_and_dict_inputs_give_the_same_fit(sleep, fit) -> None:
    pl = pytest.importorskip("polars")
    as_polars = pl.from_pandas(sleep.assign(Subject=sleep["Subject"].astype(str)))
    as_dict = {
        c: sleep[c].astype(str).to_numpy() if c == "Subject" else sleep[c].to_numpy()
        for c in sleep.columns
    }
    for data in (as_polars, as_dict):
        other = mm.lmm("Reaction ~ Days + (Days | Subject)", data)
        assert other.objective == pytest.approx(fit.objective, abs=1e-8)
        np.testing.assert_allclose(other.fixef, fit.fixef, rtol=1e-7)


@pytest.mark.parametrize("kind", ["str", "int", "category"])
def test_grouping_column_of_any_dtype(sleep, fit, kind: str) -> None:
    codes = sleep["Subject"].astype(str)
    column = {"str": codes, "int": codes.astype(int), "category": pd.Categorical(codes)}[kind]
    other = mm.lmm("Reaction ~ Days + (Days | Subject)", sleep.assign(Subject=column))
    assert other.objective == pytest.approx(fit.objective, abs=1e-8)
    assert list(other.ranef()["level"][:2]) == ["308", "309"]


def test_categorical_level_order_sets_the_reference_level() -> None:
    cake = mm.datasets.load("cake")
    fit = mm.lmm("angle ~ recipe + (1 | replicate)", cake)
    assert [n for n in fit.fixed_names if "recipe" in n] == ["recipe[T.B]", "recipe[T.C]"]
    reordered = cake.assign(recipe=cake["recipe"].cat.reorder_categories(["C", "A", "B"]))
    other = mm.lmm("angle ~ recipe + (1 | replicate)", reordered)
    assert [n for n in other.fixed_names if "recipe" in n] == ["recipe[T.A]", "recipe[T.B]"]
    assert other.objective == pytest.approx(fit.objective, abs=1e-6)
    levels = other.ranef()["level"].tolist()
    assert levels[:3] == ["1", "2", "3"]


def test_interaction_grouping_and_nesting_agree() -> None:
    pastes = mm.datasets.load("Pastes")
    nested = mm.lmm("strength ~ 1 + (1 | batch/cask)", pastes)
    explicit = mm.lmm("strength ~ 1 + (1 | batch) + (1 | batch:cask)", pastes)
    assert nested.objective == pytest.approx(explicit.objective, abs=1e-8)
    assert nested.ngroups == {"cask:batch": 30, "batch": 10}  # lme4's names
    assert explicit.ngroups == {"batch:cask": 30, "batch": 10}
    assert nested.ranef()["level"].iloc[0] == "a:A"


def test_categorical_left_hand_side_gives_one_effect_per_level() -> None:
    cake = mm.datasets.load("cake")
    with pytest.warns(mm.SingularFitWarning, match=r"\(0 \+ recipe \| replicate\)"):
        fit = mm.lmm("angle ~ recipe + (0 + recipe | replicate)", cake)
    assert set(fit.ranef()["term"]) == {"recipe[A]", "recipe[B]", "recipe[C]"}
    assert len(fit.theta) == 6


def test_rank_deficient_columns_are_dropped_by_name(sleep) -> None:
    data = sleep.assign(Days2=2.0 * sleep["Days"])
    with pytest.warns(mm.RankDeficiencyWarning, match="Days2"):
        fit = mm.lmm("Reaction ~ Days + Days2 + (1 | Subject)", data)
    assert fit.aliased == ("Days2",)
    assert list(fit.fixef.index) == ["(Intercept)", "Days"]


def test_singular_fit_is_flagged_and_named() -> None:
    data = mm.datasets.load("Dyestuff2")
    with pytest.warns(mm.SingularFitWarning, match=r"variance of '\(Intercept\)'.*\(1 \| Batch\)"):
        fit = mm.lmm("Yield ~ 1 + (1 | Batch)", data)
    assert fit.is_singular
    assert fit.varcorr["variance"].iloc[0] == 0.0


def test_well_determined_fits_raise_no_warning(sleep) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mm.lmm("Reaction ~ Days + (Days | Subject)", sleep)
        mm.lmm("diameter ~ 1 + (1 | plate) + (1 | sample)", mm.datasets.load("Penicillin"))


def test_offset_column_and_offset_term_agree(sleep) -> None:
    data = sleep.assign(base=0.5 * sleep["Days"])
    a = mm.lmm("Reaction ~ Days + (1 | Subject) + offset(base)", data)
    b = mm.lmm("Reaction ~ Days + (1 | Subject)", data, offset="base")
    c = mm.lmm("Reaction ~ Days + (1 | Subject)", data.assign(Reaction=data.Reaction - data.base))
    assert a.objective == pytest.approx(b.objective) == pytest.approx(c.objective)
    assert a.fixef["Days"] == pytest.approx(c.fixef["Days"], rel=1e-9)
    np.testing.assert_allclose(a.fitted - c.fitted, data["base"], atol=1e-8)


def test_power_inside_I_is_a_power() -> None:
    ox = mm.datasets.load("Oxboys")
    fit = mm.lmm("height ~ age + I(age^2) + (age | Subject)", ox, reml=False)
    assert "I(age ** 2)" in fit.fixed_names
    assert fit.objective == pytest.approx(680.195138765095, abs=1e-4)


def test_summary_and_html_show_the_fit(fit) -> None:
    text = fit.summary()
    for piece in (
        "REML criterion at convergence: 1743.6283",
        "Random effects:",
        "Subject",
        "Residual",
        "Number of obs: 180, groups: Subject, 18",
        "Fixed effects (df: Satterthwaite):",
        "Pr(>|t|)",
        "Correlation of Fixed Effects:",
    ):
        assert piece in text
    html = fit._repr_html_()
    assert "<table" in html and "Reaction ~ Days" in html


def test_to_dict_is_json_ready(fit) -> None:
    import json

    out = json.loads(json.dumps(fit.to_dict()))
    assert out["theta"]["Subject.Days"] == pytest.approx(fit.theta[2])
    assert out["varcorr"][0]["term2"] is None


def test_a_zero_start_of_the_gradient_search_is_not_taken_for_the_optimum() -> None:
    """theta = 0 is a stationary point of the objective (it is even in theta); L-BFGS-B
    once stopped there on this data set (a local maximum) and reported a singular fit."""
    data = mm.simulate_clusters(n_clusters=16, seed=2)
    fit = mm.lmm("y ~ 1 + (1 | cluster)", data)
    assert not fit.is_singular and fit.theta[0] > 0.3
    assert fit.objective < 537.2  # the criterion at theta = 0 is 542.88
