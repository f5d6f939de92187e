"""Simulation, refits and the parametric bootstrap: reproducible, and calibrated."""

from __future__ import annotations

import numpy as np
import pytest

import mixedmodels as mm


@pytest.fixture(scope="module")
def fit() -> mm.LmmResult:
    return mm.lmm("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))


def test_simulate_is_reproducible_and_shaped(fit) -> None:
    a = fit.simulate(3, seed=11)
    b = fit.simulate(3, seed=11)
    assert a.shape == (180, 3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, fit.simulate(3, seed=12))


def test_conditional_simulation_is_centred_on_the_fitted_values(fit) -> None:
    sims = fit.simulate(4000, seed=1, re="conditional")
    np.testing.assert_allclose(sims.mean(axis=1), fit.fitted, atol=4 * fit.sigma / 63)
    assert sims.std(axis=1).mean() == pytest.approx(fit.sigma, rel=0.02)


def test_new_random_effects_reproduce_the_between_subject_variance(fit) -> None:
    sims = fit.simulate(2000, seed=2, re="new")
    day0 = sims[::10]  # each subject's day-0 row
    # per simulation, the spread of day-0 values across subjects: intercept SD and sigma
    want = np.sqrt(fit.varcorr["variance"].iloc[0] + fit.sigma**2)
    assert day0.std(axis=0, ddof=1).mean() == pytest.approx(want, rel=0.05)


def test_refit_recovers_the_fit_on_its_own_response(fit) -> None:
    data = mm.datasets.load("sleepstudy")
    again = fit.refit(data["Reaction"].to_numpy())
    assert again.objective == pytest.approx(fit.objective, abs=1e-7)
    with pytest.raises(mm.DataError, match="180 responses"):
        fit.refit(np.zeros(5))


def test_bootstrap_same_seed_same_replicates_for_any_n_jobs(fit) -> None:
    one = mm.bootstrap(fit, n=12, seed=5, n_jobs=1, progress=False)
    two = mm.bootstrap(fit, n=12, seed=5, n_jobs=2, progress=False)
    np.testing.assert_array_equal(one.replicates.to_numpy(), two.replicates.to_numpy())
    other = mm.bootstrap(fit, n=12, seed=6, progress=False)
    assert not np.array_equal(one.replicates.to_numpy(), other.replicates.to_numpy())
    table = one.intervals(0.9)
    assert list(table.columns) == ["estimate", "lower", "upper"]
    assert (table["lower"] <= table["upper"]).all()
    assert "sigma" in table.index and "Days" in table.index


def test_bootstrap_shows_progress(fit, capsys) -> None:
    mm.bootstrap(fit, n=3, seed=1, progress=True)
    assert "bootstrap" in capsys.readouterr().err


def test_bootstrap_bad_input(fit) -> None:
    with pytest.raises(mm.ModelSpecError, match="positive whole number"):
        mm.bootstrap(fit, n=0)


def test_coverage_of_satterthwaite_intervals() -> None:
    """A small coverage study: 95 % intervals for the slope, on 120 data sets simulated
    from a known model, cover the true value at a plausible rate (binomial 95 % range
    for 120 trials at p = 0.95 is about 0.90-0.99)."""
    truth = mm.lmm("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    sims = truth.simulate(120, seed=2024)
    slope = truth.fixef["Days"]
    covered = 0
    for i in range(sims.shape[1]):
        table = truth.refit(sims[:, i]).coef_table("satterthwaite")
        covered += int(table.loc["Days", "lower"] <= slope <= table.loc["Days", "upper"])
    rate = covered / sims.shape[1]
    assert 0.88 <= rate <= 1.0, rate


def test_predict_new_data(fit) -> None:
    import pandas as pd

    data = mm.datasets.load("sleepstudy")
    np.testing.assert_allclose(fit.predict(data), fit.fitted, rtol=1e-12)
    new = pd.DataFrame({"Days": [0, 5], "Subject": ["308", "999"]})
    with pytest.raises(mm.DataError, match=r"'Subject' not seen in the fit: '999'"):
        fit.predict(new)
    got = fit.predict(new, allow_new_levels=True)
    coef = fit.coef()["Subject"].loc["308"]
    assert got.iloc[0] == pytest.approx(coef["(Intercept)"])
    assert got.iloc[1] == pytest.approx(fit.fixef["(Intercept)"] + 5 * fit.fixef["Days"])
    population = fit.predict(new, re=False)
    assert population.iloc[0] == pytest.approx(fit.fixef["(Intercept)"])
    with pytest.raises(mm.FormulaError, match="'Days'"):
        fit.predict(pd.DataFrame({"Subject": ["308"]}))


def test_predict_keeps_the_training_encoding() -> None:
    cake = mm.datasets.load("cake")
    fit = mm.lmm("angle ~ recipe * temp + (1 | recipe:replicate)", cake)
    # a single row of recipe C, as a plain string: encoded with the fit's levels
    import pandas as pd

    new = pd.DataFrame({"recipe": ["C"], "temp": [200.0], "replicate": ["1"]})
    got = fit.predict(new, re=False).iloc[0]
    b = fit.fixef
    want = b["(Intercept)"] + b["recipe[T.C]"] + 200 * (b["temp"] + b["recipe[T.C]:temp"])
    assert got == pytest.approx(want)
