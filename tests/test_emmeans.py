"""Estimated marginal means and contrasts against R's emmeans
(tests/reference/emmeans_reference.R): Machines, cake by temperature, the reference grid's
weights on an unbalanced cake, an Oxboys growth model's numeric covariate at its mean and at
given values, cbpp on the link and response scales, and sum-coded models. Estimates, SEs and
p-values to the kit's tolerances (1e-3 relative; p 1e-6 absolute when tiny), df to 1e-2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import mixedmodels as mm
from lme4_reference import load_data, load_reference
from mixedmodels.emm.adjust import adjusted_p, tukey_sf
from mixedmodels.emm.contrasts import contrast_family

REF = load_reference("emmeans_reference")
MACHINES = "score ~ Machine + (1 | Worker) + (1 | Worker:Machine)"
CAKE = "angle ~ recipe * temperature + (1 | recipe:replicate)"


def _values(ref: dict, key: str) -> np.ndarray:
    out = np.atleast_1d(np.asarray(ref[key], dtype=np.float64))
    return np.where(out == -1, np.inf, out) if key == "df" else out


def check(ours: mm.MarginalMeans | mm.Contrasts, ref: dict) -> None:
    """Labels, estimates (1e-3 relative, or 1e-3 of the SE near zero), SEs (1e-3), df
    (1e-2) and p-values (1e-3, or 1e-6 absolute when tiny) or interval bounds."""
    table = ours.table
    for column, values in ref["labels"].items():
        assert table[column].astype(str).tolist() == [str(v) for v in np.atleast_1d(values)]
    se = _values(ref, "se")
    estimate = _values(ref, "estimate")
    np.testing.assert_array_less(
        np.abs(table["estimate"].to_numpy() - estimate),
        1e-3 * np.maximum(np.abs(estimate), 1e-3 * se) + 1e-12,
    )
    np.testing.assert_allclose(table["std_error"], se, rtol=1e-3)
    np.testing.assert_allclose(table["df"], _values(ref, "df"), rtol=1e-2)
    if "p" in ref:
        p = _values(ref, "p")
        np.testing.assert_allclose(table["p_value"], p, rtol=1e-3, atol=1e-6)
        np.testing.assert_allclose(
            table["statistic"], _values(ref, "statistic"), rtol=1e-3, atol=1e-9
        )
    else:
        width = _values(ref, "upper") - _values(ref, "lower")
        for bound in ("lower", "upper"):
            np.testing.assert_array_less(
                np.abs(table[bound].to_numpy() - _values(ref, bound)), 1e-3 * width
            )


@pytest.fixture(scope="module")
def machines() -> mm.LmmResult:
    return mm.lmm(MACHINES, load_data("Machines"))


@pytest.fixture(scope="module")
def cake() -> pd.DataFrame:
    data = mm.datasets.load("cake")
    data["temperature"] = data["temp"].astype(str)
    return data


@pytest.fixture(scope="module")
def cake_fit(cake: pd.DataFrame) -> mm.LmmResult:
    return mm.lmm(CAKE, cake)


@pytest.fixture(scope="module")
def oxboys() -> mm.LmmResult:
    data = mm.datasets.load("Oxboys")
    data["half"] = np.where(data["Subject"].astype(int) % 2 == 1, "odd", "even")
    return mm.lmm("height ~ age * half + (age | Subject)", data)


@pytest.fixture(scope="module")
def cbpp() -> mm.GlmmResult:
    data = mm.datasets.load("cbpp")
    return mm.glmm(
        "cbind(incidence, size - incidence) ~ period + (1 | herd)", data, family="binomial"
    )


def test_machines_kenward_roger(machines: mm.LmmResult) -> None:
    ref = REF["machines"]
    emm = mm.emmeans(machines, "Machine")
    assert emm.df_method == "kenward-roger"  # emmeans' default for a REML fit
    check(emm, ref["emm_kr"])
    check(emm.pairs(), ref["pairs_kr"])
    check(emm.pairs(adjust="none"), ref["pairs_none"])


def test_machines_satterthwaite(machines: mm.LmmResult) -> None:
    emm = mm.emmeans(machines, "Machine", ddf="satterthwaite")
    check(emm, REF["machines"]["emm_sat"])
    check(emm.pairs(), REF["machines"]["pairs_sat"])


def test_machines_contrast_families(machines: mm.LmmResult) -> None:
    ref = REF["machines"]
    emm = mm.emmeans(machines, "Machine")
    check(emm.contrasts("trt.vs.ctrl", "holm"), ref["ctrl_holm"])
    custom = {"A_vs_BC": [1, -0.5, -0.5], "B_vs_C": [0, 1, -1]}
    check(emm.contrasts(custom, "bonferroni"), ref["custom_bonferroni"])
    check(emm.contrasts("consec", "none"), ref["consec"])
    check(emm.contrasts("eff", "bonferroni"), ref["eff_bonferroni"])
    check(emm.contrasts("poly"), ref["poly"])


def test_cake_by_temperature(cake_fit: mm.LmmResult) -> None:
    ref = REF["cake"]
    by = mm.emmeans(cake_fit, "recipe", by="temperature")
    check(by, ref["emm_by"])
    check(by.pairs(), ref["pairs_by"])  # Tukey within each temperature: families of 3
    same = mm.emmeans(cake_fit, "~ recipe | temperature", ddf="satterthwaite")
    check(same, ref["emm_by_sat"])
    check(same.pairs(), ref["pairs_by_sat"])


def test_cake_averaged_over_temperature(cake_fit: mm.LmmResult) -> None:
    ref = REF["cake"]
    emm = mm.emmeans(cake_fit, "recipe")
    check(emm, ref["emm_recipe"])
    check(emm.pairs(), ref["pairs_recipe"])
    check(mm.emmeans(cake_fit, ["recipe", "temperature"]), ref["emm_two"])


@pytest.mark.parametrize("weights", ["equal", "proportional", "outer", "cells", "flat"])
def test_reference_grid_weights(cake: pd.DataFrame, weights: str) -> None:
    unbalanced = cake[(np.arange(len(cake)) + 1) % 7 != 0]
    fit = mm.lmm("angle ~ recipe + temperature + (1 | recipe:replicate)", unbalanced)
    check(mm.emmeans(fit, "recipe", weights=weights), REF["cake_weights"][weights])


def test_cells_weights_give_the_mean_prediction(cake: pd.DataFrame) -> None:
    """With ``weights="cells"`` a mean is the average of the data's own predictions."""
    unbalanced = cake[(np.arange(len(cake)) + 1) % 5 != 0]
    fit = mm.lmm("angle ~ recipe + temperature + (1 | recipe:replicate)", unbalanced)
    emm = mm.emmeans(fit, "recipe", weights="cells")
    predicted = fit.predict(unbalanced, re=False).groupby(unbalanced["recipe"]).mean()
    np.testing.assert_allclose(emm.table["estimate"], predicted.to_numpy(), rtol=1e-12)


def test_numeric_covariate_at_its_mean(oxboys: mm.LmmResult) -> None:
    ref = REF["oxboys"]
    check(mm.emmeans(oxboys, "half"), ref["emm_half"])
    check(mm.emmeans(oxboys, "half").pairs(), ref["pairs_half"])
    check(mm.emmeans(oxboys, "age"), ref["emm_age"])
    assert float(mm.emmeans(oxboys, "age").table["age"].iloc[0]) == pytest.approx(
        ref["mean_age"], rel=1e-12
    )


def test_numeric_covariate_at_given_values(oxboys: mm.LmmResult) -> None:
    ref = REF["oxboys"]
    at = {"age": [-0.5, 0.5]}
    check(mm.emmeans(oxboys, "half", at=at), ref["emm_at"])
    check(mm.emmeans(oxboys, "half", by="age", at=at).pairs(), ref["pairs_at"])


def test_cbpp_link_and_response_scales(cbpp: mm.GlmmResult) -> None:
    ref = REF["cbpp"]
    link = mm.emmeans(cbpp, "period")
    assert link.df_method == "asymptotic" and link.scale == "link (logit)"
    check(link, ref["emm_link"])
    check(mm.emmeans(cbpp, "period", type="response"), ref["emm_response"])
    check(link.pairs(), ref["pairs_link"])
    odds = mm.emmeans(cbpp, "period", type="response").pairs("holm")
    assert odds.ratio == "odds.ratio"
    check(odds, ref["pairs_response_holm"])


def test_response_scale_is_the_delta_method(cbpp: mm.GlmmResult) -> None:
    link = mm.emmeans(cbpp, "period").table
    response = mm.emmeans(cbpp, "period", type="response").table
    p = 1.0 / (1.0 + np.exp(-link["estimate"].to_numpy()))
    np.testing.assert_allclose(response["estimate"], p, rtol=1e-14)
    np.testing.assert_allclose(response["std_error"], p * (1 - p) * link["std_error"], rtol=1e-12)


def test_sum_coded_models(cake: pd.DataFrame) -> None:
    fit = mm.lmm(MACHINES, load_data("Machines"), contrasts={"Machine": "sum"})
    check(mm.emmeans(fit, "Machine"), REF["sum_machines"]["emm"])
    check(mm.emmeans(fit, "Machine").pairs(), REF["sum_machines"]["pairs"])
    coded = mm.lmm(CAKE, cake, contrasts={"recipe": "sum", "temperature": "sum"})
    check(mm.emmeans(coded, "temperature"), REF["sum_cake"]["emm"])
    check(mm.emmeans(coded, "temperature").pairs(), REF["sum_cake"]["pairs"])


def test_the_coding_does_not_change_the_means(cake: pd.DataFrame, cake_fit: mm.LmmResult) -> None:
    coded = mm.lmm(CAKE, cake, contrasts={"recipe": "sum", "temperature": "helmert"})
    a = mm.emmeans(cake_fit, "recipe", by="temperature").table
    b = mm.emmeans(coded, "recipe", by="temperature").table
    np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=1e-7)
    np.testing.assert_allclose(a["std_error"], b["std_error"], rtol=1e-5)


def test_tukey_tail_is_integrated_directly() -> None:
    """Where scipy's studentized range (and R's ptukey) lose relative accuracy, the tail is
    integrated directly; checked against a 30-digit integration (tests/reference/tukey_tail.py)."""
    cases = json.loads((Path(__file__).parent / "reference" / "tukey_tail.json").read_text())
    for case in cases:
        assert tukey_sf(case["q"], case["k"], case["df"]) == pytest.approx(case["sf"], rel=1e-6)
    # and it joins scipy's where scipy is accurate
    assert tukey_sf(3.5, 3, 10) == pytest.approx(stats.studentized_range.sf(3.5, 3, 10), rel=1e-9)


def test_step_down_adjustments() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005])
    t = np.zeros(4)
    holm = adjusted_p(p, t, t, "holm", 4)
    np.testing.assert_allclose(holm, [0.03, 0.06, 0.06, 0.02])
    fdr = adjusted_p(p, t, t, "fdr", 4)
    np.testing.assert_allclose(fdr, [0.02, 0.04, 0.04, 0.02])
    np.testing.assert_allclose(adjusted_p(p, t, t, "bonferroni", 4), [0.04, 0.16, 0.12, 0.02])


def test_poly_contrasts_are_the_integer_tables() -> None:
    five = contrast_family("poly", list("abcde")).coefficients
    np.testing.assert_array_equal(
        five, [[-2, -1, 0, 1, 2], [2, -1, -2, -1, 2], [-1, 2, 0, -2, 1], [1, -4, 6, -4, 1]]
    )


def test_bad_requests_name_what_is_wrong(machines: mm.LmmResult, cbpp: mm.GlmmResult) -> None:
    with pytest.raises(mm.ModelSpecError, match="'Worker' is not a variable of the model's fixed"):
        mm.emmeans(machines, "Worker")
    with pytest.raises(mm.ModelSpecError, match="weights must be one of"):
        mm.emmeans(machines, "Machine", weights="balanced")
    with pytest.raises(mm.ModelSpecError, match="adjust must be one of"):
        mm.emmeans(machines, "Machine").pairs(adjust="scheffe")
    with pytest.raises(mm.ModelSpecError, match="each contrast needs 3 coefficients"):
        mm.emmeans(machines, "Machine").contrasts([[1, -1]])
    with pytest.raises(mm.ModelSpecError, match="not among its levels"):
        mm.emmeans(machines, "Machine", at={"Machine": ["Z"]})
    with pytest.raises(mm.ModelSpecError, match="z tests"):
        mm.emmeans(cbpp, "period", ddf="kenward-roger")
    with pytest.raises(mm.ModelSpecError, match="named twice"):
        mm.emmeans(machines, "Machine", by="Machine")


def test_tables_for_reports(machines: mm.LmmResult) -> None:
    emm = mm.emmeans(machines, "Machine")
    pairs = emm.pairs()
    assert "| Machine |" in emm.to_markdown() and "A - B" in pairs.to_markdown()
    assert r"\begin{tabular}" in pairs.to_latex() and "A - C" in pairs.to_latex()
    assert "<table>" in emm._repr_html_() and "kenward-roger" in repr(emm)
    assert not emm.L.flags.writeable
