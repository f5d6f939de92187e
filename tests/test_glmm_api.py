"""GLMM inputs, outputs and bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm

CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


@pytest.fixture(scope="module")
def cbpp() -> pd.DataFrame:
    return mm.datasets.load("cbpp")


@pytest.fixture(scope="module")
def fit(cbpp) -> mm.GlmmResult:
    return mm.glmm(CBPP, cbpp, family="binomial")


def test_proportion_with_trials_is_the_same_model(cbpp, fit) -> None:
    data = cbpp.assign(prop=cbpp["incidence"] / cbpp["size"])
    other = mm.glmm("prop ~ period + (1 | herd)", data, family="binomial", weights="size")
    assert other.loglik == pytest.approx(fit.loglik, abs=1e-8)
    np.testing.assert_allclose(other.fixef, fit.fixef, rtol=1e-6)


def test_bernoulli_rows_give_the_same_fit_as_their_counts(cbpp, fit) -> None:
    rows = []
    for r in cbpp.itertuples():
        rows += [(r.herd, r.period, 1)] * r.incidence
        rows += [(r.herd, r.period, 0)] * (r.size - r.incidence)
    long = pd.DataFrame(rows, columns=["herd", "period", "y"]).astype(
        {"herd": cbpp["herd"].dtype, "period": cbpp["period"].dtype}
    )
    for response in (
        long["y"],
        long["y"].astype(bool),
        pd.Categorical(np.where(long["y"] == 1, "Y", "N"), categories=["N", "Y"]),
    ):
        other = mm.glmm("y ~ period + (1 | herd)", long.assign(y=response), family="binomial")
        np.testing.assert_allclose(other.fixef, fit.fixef, rtol=1e-5)
        np.testing.assert_allclose(other.theta, fit.theta, rtol=1e-4)


def test_result_surface(fit) -> None:
    assert fit.family == "binomial" and fit.link == "logit" and fit.nagq == 1
    assert list(fit.varcorr["group"]) == ["herd"]  # no residual row in a GLMM
    assert list(fit.ranef().columns) == ["group", "term", "level", "value", "cond_sd"]
    assert fit.vcov_source == "hessian"
    mu = fit.fitted.to_numpy()
    eta = fit.predict(type="link").to_numpy()
    np.testing.assert_allclose(mu, 1 / (1 + np.exp(-eta)), rtol=1e-12)
    np.testing.assert_allclose(fit.predict(type="response"), fit.fitted)
    table = fit.coef_table()
    assert list(table.columns) == ["estimate", "std_error", "statistic", "p_value"]
    assert "z value" in fit.summary() and "Family: binomial ( logit )" in fit.summary()
    assert fit.aic == pytest.approx(-2 * fit.loglik + 2 * 5)


def test_residual_types(fit, cbpp) -> None:
    y = (cbpp["incidence"] / cbpp["size"]).to_numpy()
    mu = fit.fitted.to_numpy()
    np.testing.assert_allclose(fit.residuals("response"), y - mu)
    pearson = (y - mu) * np.sqrt(cbpp["size"] / (mu * (1 - mu)))
    np.testing.assert_allclose(fit.residuals("pearson"), pearson)
    dev = fit.residuals()  # deviance residuals, lme4's default
    assert np.all(np.sign(dev) == np.sign(y - mu))
    # their squares add up to the deviance (lme4's deviance() is 73.474 at its optimum)
    assert np.sum(dev**2) == pytest.approx(73.47, abs=0.01)
    with pytest.raises(ValueError, match="deviance"):
        fit.residuals("working")


def test_residuals_follow_the_rows_of_the_data(cbpp, fit) -> None:
    """Rows in no order of the grouping factor (the fit sorts them by group inside): each
    row's Pearson residual uses that row's own number of trials."""
    shuffled = cbpp.sample(frac=1.0, random_state=3).reset_index(drop=True)
    other = mm.glmm(CBPP, shuffled, family="binomial")
    y = (shuffled["incidence"] / shuffled["size"]).to_numpy()
    mu = other.fitted.to_numpy()
    pearson = (y - mu) * np.sqrt(shuffled["size"] / (mu * (1 - mu)))
    np.testing.assert_allclose(other.residuals("pearson"), pearson, rtol=1e-10)
    assert np.sum(other.residuals() ** 2) == pytest.approx(np.sum(fit.residuals() ** 2))


def test_poisson_with_offset_column_and_term_agree(cbpp) -> None:
    data = cbpp.assign(log_size=np.log(cbpp["size"]))
    a = mm.glmm("incidence ~ period + offset(log(size)) + (1 | herd)", data, family="poisson")
    b = mm.glmm("incidence ~ period + (1 | herd)", data, family="poisson", offset="log_size")
    assert a.loglik == pytest.approx(b.loglik, abs=1e-8)
    np.testing.assert_allclose(a.fitted, b.fitted, rtol=1e-7)


def test_nagq_zero_is_close_to_laplace(cbpp, fit) -> None:
    fast = mm.glmm(CBPP, cbpp, family="binomial", nagq=0)
    assert fast.nagq == 0 and fast.loglik <= fit.loglik + 1e-6
    np.testing.assert_allclose(fast.fixef, fit.fixef, atol=0.05)


# -- bad input ---------------------------------------------------------------------------


def test_binomial_response_outside_unit_interval(cbpp) -> None:
    with pytest.raises(mm.DataError, match="binomial response 'incidence' must lie in"):
        mm.glmm("incidence ~ period + (1 | herd)", cbpp, family="binomial")


def test_non_integer_successes(cbpp) -> None:
    data = cbpp.assign(prop=cbpp["incidence"] / cbpp["size"] + 0.01)
    with pytest.raises(mm.DataError, match="non-integer number of successes"):
        mm.glmm("prop ~ period + (1 | herd)", data, family="binomial", weights="size")
    bad = cbpp.assign(half=cbpp["incidence"] + 0.5)
    with pytest.raises(mm.DataError, match="successes 'half'.*whole numbers"):
        mm.glmm("cbind(half, size - incidence) ~ period + (1 | herd)", bad, family="binomial")


@pytest.mark.parametrize("value", [-1.0, 2.5])
def test_bad_poisson_counts(cbpp, value: float) -> None:
    data = cbpp.assign(count=cbpp["incidence"].astype(float))
    data.loc[3, "count"] = value
    with pytest.raises(mm.DataError, match="Poisson response 'count'.*whole counts"):
        mm.glmm("count ~ period + (1 | herd)", data, family="poisson")


def test_unknown_family_and_link(cbpp) -> None:
    with pytest.raises(mm.ModelSpecError, match="unknown family 'tweedie'"):
        mm.glmm(CBPP, cbpp, family="tweedie")
    with pytest.raises(mm.ModelSpecError, match="the Gamma family has no link 'logit'"):
        mm.glmm("incidence ~ period + (1 | herd)", cbpp, family="Gamma", link="logit")
    with pytest.raises(mm.ModelSpecError, match="no link 'log'.*logit, probit, cloglog"):
        mm.glmm(CBPP, cbpp, family="binomial", link="log")


def test_quadrature_needs_one_scalar_term(cbpp) -> None:
    data = cbpp.assign(x=np.arange(len(cbpp)) % 3)
    with pytest.raises(mm.ModelSpecError, match=r"nagq = 5.*\(x \| herd\)"):
        mm.glmm(
            "cbind(incidence, size - incidence) ~ period + (x | herd)",
            data,
            family="binomial",
            nagq=5,
        )
    with pytest.raises(mm.ModelSpecError, match=r"\(1 \| herd\) \+ \(1 \| period\)"):
        mm.glmm(
            "cbind(incidence, size - incidence) ~ 1 + (1 | herd) + (1 | period)",
            cbpp,
            family="binomial",
            nagq=5,
        )


def test_complete_separation_is_named() -> None:
    rng = np.random.default_rng(1)
    n = 200
    x = rng.normal(size=n)
    data = pd.DataFrame(
        {"y": (x > 0).astype(int), "x": x, "z": rng.normal(size=n), "g": rng.integers(0, 10, n)}
    )
    with pytest.warns(mm.SeparationWarning, match="separated by the fixed effect 'x'"):
        mm.glmm("y ~ x + z + (1 | g)", data, family="binomial")


def test_pirls_failure_says_what_was_tried(cbpp, monkeypatch) -> None:
    from mixedmodels.glmm import pirls

    monkeypatch.setattr(pirls, "PIRLS_MAX_ITERATIONS", 1)
    monkeypatch.setattr(pirls, "PIRLS_ABSOLUTE", 0.0)
    with pytest.raises(mm.PirlsError, match="did not converge in 1 iterations.*Tried:"):
        mm.glmm(CBPP, cbpp, family="binomial")


def test_no_warnings_on_a_well_determined_fit(cbpp) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mm.glmm(CBPP, cbpp, family="binomial")


def test_hospital_question_matches_lme4() -> None:
    """The shipped illustrative hospitals data, against lme4 1.1-31:
    glmer(cbind(deaths, patients - deaths) ~ 1 + (1 | hospital), family = binomial,
    control = glmerControl(tolPwrss = 1e-12)) gave theta 0.78709053, intercept
    -2.6303501, logLik -25.21062324, and per-hospital intercepts A -3.09084, B -1.38966."""
    fit = mm.glmm(
        "cbind(deaths, patients - deaths) ~ 1 + (1 | hospital)",
        mm.datasets.load("hospitals"),
        family="binomial",
    )
    assert fit.theta[0] == pytest.approx(0.78709053, rel=1e-3)
    se = fit.std_errors["(Intercept)"]
    assert abs(fit.fixef["(Intercept)"] - -2.6303501) <= 1e-3 * se
    assert fit.loglik == pytest.approx(-25.21062324, abs=1e-3)
    coef = fit.coef()["hospital"]["(Intercept)"]
    assert coef["A"] == pytest.approx(-3.09084, abs=1e-3)
    assert coef["B"] == pytest.approx(-1.38966, abs=1e-3)
