"""Power by simulation: against the closed-form power of a balanced cluster-randomised
design, along a grouping factor, for GLMMs, and its errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import mixedmodels as mm
from mixedmodels.errors import ModelSpecError
from mixedmodels.planning.along import data_along, nested_in


def _cluster_trial(n_clusters: int, size: int, seed: int) -> pd.DataFrame:
    """A balanced design: half the clusters treated, a random intercept per cluster."""
    rng = np.random.default_rng(seed)
    cluster = np.repeat(np.arange(n_clusters), size)
    treat = (cluster % 2).astype(float)
    u = rng.normal(0, 0.6, n_clusters)
    y = 0.5 * treat + u[cluster] + rng.normal(0, 1.0, cluster.size)
    return pd.DataFrame({"y": y, "treat": treat, "cluster": cluster})


@pytest.fixture(scope="module")
def trial() -> mm.LmmResult:
    return mm.lmm("y ~ treat + (1 | cluster)", _cluster_trial(16, 6, 3))


@pytest.fixture(scope="module")
def sleep() -> mm.LmmResult:
    return mm.lmm("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))


def test_closed_form_is_the_t_test_on_cluster_means() -> None:
    """The formula against a direct simulation of the t test it describes (cluster means,
    J - 2 df), 40,000 trials drawn with numpy alone."""
    J, m, effect, su, se = 12, 5, 0.8, 0.5, 1.2
    rng = np.random.default_rng(11)
    n = 40_000
    arm = np.arange(J) % 2
    means = rng.normal(0, np.sqrt(su**2 + se**2 / m), (n, J)) + effect * arm
    t = stats.ttest_ind(means[:, arm == 1], means[:, arm == 0], axis=1).statistic
    simulated = float(np.mean(np.abs(t) > stats.t.isf(0.025, J - 2)))
    formula = mm.cluster_randomized_power(J, m, effect, su, se)
    assert abs(simulated - formula) < 4 * np.sqrt(formula * (1 - formula) / n)
    # the design effect: the same rows without clustering have much more power
    assert mm.cluster_randomized_power(J * m, 1, effect, 0.0, np.sqrt(su**2 + se**2)) > (
        formula + 0.2
    )


def test_simulated_power_matches_the_design_effect_formula(trial: mm.LmmResult) -> None:
    n_sims = 600
    result = mm.power(trial, "treat", value=0.9, n_sims=n_sims, seed=5, progress=False)
    sigma_u = float(np.sqrt(trial.varcorr["variance"].iloc[0]))
    expected = mm.cluster_randomized_power(16, 6, 0.9, sigma_u, trial.sigma)
    row = result.table.iloc[0]
    assert row["n_failed"] == 0 and row["n_sims"] == n_sims
    assert abs(row["power"] - expected) < 4 * np.sqrt(expected * (1 - expected) / n_sims)
    assert row["lower"] < row["power"] < row["upper"]
    # ignoring the clusters would promise far more power than the simulation finds
    naive = mm.cluster_randomized_power(96, 1, 0.9, 0.0, np.sqrt(sigma_u**2 + trial.sigma**2))
    assert naive > row["upper"] + 0.1


def test_the_test_is_the_fits_own(sleep: mm.LmmResult) -> None:
    """Each simulated data set is tested as coef_table tests a fit of it."""
    from mixedmodels.planning.study import _test

    y = sleep.simulate(1, seed=2)[:, 0]
    refit = sleep.refit(y)
    for test, ddf in (("satterthwaite", "satterthwaite"), ("kenward-roger", "kenward-roger")):
        estimate, se, p = _test(refit, 1, test)
        table = refit.coef_table(ddf=ddf)
        assert estimate == pytest.approx(table["estimate"].iloc[1], rel=1e-12)
        assert se == pytest.approx(table["std_error"].iloc[1], rel=1e-10)
        assert p == pytest.approx(table["p_value"].iloc[1], rel=1e-8)


def test_seeded_and_the_same_in_worker_processes(sleep: mm.LmmResult) -> None:
    one = mm.power(sleep, "Days", value=4.0, n_sims=24, seed=9, progress=False)
    again = mm.power(sleep, "Days", value=4.0, n_sims=24, seed=9, progress=False)
    two = mm.power(sleep, "Days", value=4.0, n_sims=24, seed=9, progress=False, n_jobs=2)
    pd.testing.assert_frame_equal(one.simulations, again.simulations)
    pd.testing.assert_frame_equal(one.simulations, two.simulations)
    other = mm.power(sleep, "Days", value=4.0, n_sims=24, seed=10, progress=False)
    assert not np.allclose(one.simulations["p_value"], other.simulations["p_value"])


def test_the_simulated_effect_is_the_value_asked_for(sleep: mm.LmmResult) -> None:
    result = mm.power(sleep, "Days", value=-2.0, n_sims=60, seed=1, progress=False)
    estimates = result.simulations["estimate"]
    assert abs(estimates.mean() + 2.0) < 4 * estimates.std() / np.sqrt(60)


def test_a_power_curve_along_subjects(sleep: mm.LmmResult) -> None:
    result = mm.power(
        sleep,
        "Days",
        value=3.0,
        n_sims=100,
        seed=4,
        progress=False,
        along="Subject",
        levels=[6, 18, 36],
    )
    table = result.table
    assert list(table.index) == [6, 18, 36] and table.index.name == "Subject"
    assert list(table["n_rows"]) == [60, 180, 360]
    assert table.loc[36, "power"] > table.loc[6, "power"] + 0.3
    assert set(result.simulations["design"]) == {6, 18, 36}
    ax = result.plot()
    assert ax.get_xlabel() == "levels of Subject"
    assert len(ax.lines) >= 2  # the curve and the target line
    text = result.to_markdown()
    assert text.splitlines()[0].startswith("| Subject")
    assert "Clopper-Pearson" in repr(result)


def test_designs_along_a_factor_copy_nested_and_keep_crossed_levels() -> None:
    data = pd.DataFrame(
        {
            "school": ["a", "a", "b", "b", "c", "c"],
            "klass": ["a1", "a2", "b1", "b2", "c1", "c2"],
            "item": ["i", "j", "i", "j", "i", "j"],
            "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    nested = nested_in(data, "school", ["school", "klass", "item"])
    assert nested == ("klass",)
    fewer = data_along(data, "school", 2, nested)
    assert list(fewer["school"]) == ["a", "a", "b", "b"]
    more = data_along(data, "school", 7, nested)
    assert more["school"].nunique() == 7 and len(more) == 14
    assert more["klass"].nunique() == 14  # each copy's classes are new classes
    assert set(more["item"]) == {"i", "j"}  # the items are the same items
    assert list(more["x"]) == list(data["x"]) * 2 + [1.0, 2.0]
    with pytest.raises(ModelSpecError, match="at least 2 levels"):
        data_along(data, "school", 1)
    with pytest.raises(ModelSpecError, match="rows"):
        data_along(data, "school", 10**7)


def test_glmm_power_with_wald_z() -> None:
    cbpp = mm.datasets.load("cbpp")
    fit = mm.glmm(
        "cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial"
    )
    result = mm.power(fit, "period[T.2]", value=-1.5, n_sims=40, seed=3, progress=False)
    assert result.test == "z" and result.table["n_failed"].iloc[0] == 0
    assert 0.0 <= result.table["power"].iloc[0] <= 1.0
    from mixedmodels.planning.study import _test

    refit = fit.refit(fit.simulate(1, seed=1)[:, 0])
    estimate, se, p = _test(refit, 1, "z")
    table = refit.coef_table()
    assert se == pytest.approx(table["std_error"].iloc[1], rel=1e-10)
    assert p == pytest.approx(table["p_value"].iloc[1], rel=1e-8)
    curve = mm.power(
        fit,
        "period[T.2]",
        value=-1.5,
        n_sims=20,
        seed=3,
        progress=False,
        along="herd",
        levels=[8, 30],
    )
    herds = list(dict.fromkeys(cbpp["herd"]))  # 15 herds: 30 levels are two copies
    first_eight = int(cbpp["herd"].isin(herds[:8]).sum())
    assert list(curve.table["n_rows"]) == [first_eight, 2 * len(cbpp)]
    with pytest.raises(ModelSpecError, match="'z'"):
        mm.power(fit, "period[T.2]", value=-1.0, test="satterthwaite", progress=False)


def test_failed_refits_are_counted_not_raised(
    sleep: mm.LmmResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mixedmodels.planning.study as study

    calls = iter(range(1000))
    real = study._test

    def sometimes(fit: object, index: int, test: str) -> tuple[float, float, float]:
        if next(calls) % 3 == 0:
            raise ArithmeticError("no convergence")
        return real(fit, index, test)

    monkeypatch.setattr(study, "_test", sometimes)
    result = mm.power(sleep, "Days", value=3.0, n_sims=9, seed=1, progress=False)
    row = result.table.iloc[0]
    assert row["n_failed"] == 3
    assert result.simulations["p_value"].isna().sum() == 3
    assert row["power"] == np.mean(result.simulations["p_value"].dropna() < 0.05)


def test_errors_name_what_is_wrong(sleep: mm.LmmResult) -> None:
    with pytest.raises(ModelSpecError, match="no fixed effect 'day'.*Days"):
        mm.power(sleep, "day", value=1.0)
    with pytest.raises(ModelSpecError, match="not a grouping factor.*Subject"):
        mm.power(sleep, "Days", value=1.0, along="Days", levels=[10])
    with pytest.raises(ModelSpecError, match="needs along="):
        mm.power(sleep, "Days", value=1.0, levels=[10])
    with pytest.raises(ModelSpecError, match="needs levels="):
        mm.power(sleep, "Days", value=1.0, along="Subject")
    with pytest.raises(ModelSpecError, match="whole numbers"):
        mm.power(sleep, "Days", value=1.0, along="Subject", levels=[10.5])
    with pytest.raises(ModelSpecError, match="n_sims"):
        mm.power(sleep, "Days", value=1.0, n_sims=0)
    with pytest.raises(ModelSpecError, match="alpha"):
        mm.power(sleep, "Days", value=1.0, alpha=1.5)
    with pytest.raises(ModelSpecError, match="test must be"):
        mm.power(sleep, "Days", value=1.0, test="lrt")
    with pytest.raises(ModelSpecError, match="finite"):
        mm.power(sleep, "Days", value=float("nan"))
    with pytest.raises(ModelSpecError, match="a fit of mm.lmm or mm.glmm"):
        mm.power("not a fit", "Days", value=1.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mm.power(sleep, "Days", n_sims=2, seed=1, progress=False)
    assert any("observed power" in str(w.message) for w in caught)
