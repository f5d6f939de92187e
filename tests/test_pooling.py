"""The course's partial-pooling scenarios, on real fits of simulated clustered data."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import mixedmodels as mm


def _pool(**kwargs: float) -> mm.PoolingResult:
    settings = {"n_clusters": 40, "seed": 3, **kwargs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mm.pooling(mm.simulate_clusters(**settings))


def _distance(table, a: str, b: str) -> float:
    return float(np.mean(np.abs(table[a] - table[b])))


def test_default_settings_shrink_small_clusters_most() -> None:
    result = _pool()
    t = result.table.sort_values("n")
    assert np.all(np.diff(t["alpha"].to_numpy()) >= -1e-12)  # alpha grows with n_j
    # the BLUP identity: each mean moves toward mu_hat by (1 - alpha_j) of the way
    mu = result.fit.fixef["(Intercept)"]
    moved = t["no_pooling"] - t["partial_pooling"]
    np.testing.assert_allclose(moved, (1 - t["alpha"]) * (t["no_pooling"] - mu), atol=1e-6)


def test_small_between_cluster_sd_pools_everything() -> None:
    t = _pool(sigma_u=0.2).table
    assert _distance(t, "partial_pooling", "complete_pooling") < 0.25 * _distance(
        t, "no_pooling", "complete_pooling"
    )


def test_large_between_cluster_sd_barely_pools() -> None:
    t = _pool(sigma_u=5.0).table
    assert _distance(t, "partial_pooling", "no_pooling") < 0.1 * _distance(
        t, "no_pooling", "complete_pooling"
    )


def test_noisy_clusters_and_small_clusters_shrink_harder() -> None:
    base = _pool().table["alpha"].mean()
    assert _pool(sigma_e=5.0).table["alpha"].mean() < base
    assert _pool(mean_size=3).table["alpha"].mean() < base


def test_partial_pooling_usually_beats_both_extremes() -> None:
    """The course's claim, at its default settings (J = 16, n = 8, sigma_u = 1.5,
    sigma_e = 2): averaged over data sets partial pooling has the smallest error, and it
    wins on most single data sets (with alpha near 0.8 its edge over no pooling is modest,
    so it does not win every time)."""
    results = [_pool(n_clusters=16, seed=seed).mse for seed in range(20)]
    mean = {k: np.mean([r[k] for r in results if r]) for k in results[0] or {}}
    assert mean["partial_pooling"] < mean["no_pooling"] < mean["complete_pooling"]
    wins = sum(
        r["partial_pooling"] < min(r["no_pooling"], r["complete_pooling"]) for r in results if r
    )
    assert wins > len(results) / 2


def test_zero_between_cluster_variance_is_said_plainly() -> None:
    data = mm.simulate_clusters(n_clusters=6, mean_size=4, sigma_u=0.01, sigma_e=3.0, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = mm.pooling(data)
    if result.fit.is_singular:
        assert "estimated as zero" in result.note
        np.testing.assert_allclose(
            result.table["partial_pooling"], result.table["complete_pooling"], atol=1e-6
        )
    else:  # the draw happened to show some spread: then no note
        assert result.note == ""


def test_icc_and_design_effect() -> None:
    result = _pool()
    got = mm.icc(result.fit)
    assert got["cluster"] == pytest.approx(result.icc)
    assert mm.design_effect(0.1, 11) == pytest.approx(2.0)
    assert mm.effective_sample_size(1100, 0.1, 11) == pytest.approx(550.0)
    with pytest.raises(mm.DataError, match="ICC must lie in"):
        mm.design_effect(1.0, 10)


def test_binomial_pooling_of_the_hospitals() -> None:
    hospitals = mm.datasets.load("hospitals")
    result = mm.pooling(
        hospitals, response="deaths", group="hospital", family="binomial", trials="patients"
    )
    t = result.table
    assert t.loc["B", "partial_pooling"] == pytest.approx(0.199, abs=0.005)
    assert t.loc["A", "alpha"] > 0.9 > 0.4 > t.loc["B", "alpha"]


def test_pooling_bad_input() -> None:
    data = mm.simulate_clusters(seed=1)
    with pytest.raises(mm.DataError, match="at least two clusters"):
        mm.pooling(data.assign(cluster="only"))
    with pytest.raises(mm.DataError, match="must be numeric"):
        mm.pooling(data.assign(y=data["y"].astype(str)))
    with pytest.raises(mm.FormulaError, match="'yy'"):
        mm.pooling(data, response="yy")
    for bad in ({"sigma_u": 0.0}, {"sigma_e": -1.0}, {"n_clusters": 1}):
        with pytest.raises(mm.ModelSpecError):
            mm.simulate_clusters(**bad)


def test_type1_error_of_ignoring_clusters() -> None:
    """10 clusters of 10, ICC 0.1 (design effect 1.9), a cluster-level covariate. The
    usual large-sample approximation of naive OLS's Type-I rate is
    2 Phi(-1.96 / sqrt(deff)) = 0.155 (Kish 1965; Donner & Klar 2000, ch. 1); the mixed
    model with Satterthwaite df and the analysis of cluster means hold 0.05."""
    from scipy import stats

    result = mm.type1_error(
        n_clusters=10, cluster_size=10, icc=0.1, n_sims=400, seed=8, n_jobs=2, progress=False
    )
    table = result.table
    expected_ols = 2 * stats.norm.sf(1.96 / np.sqrt(result.design_effect))
    assert abs(table.loc["ols", "rejection_rate"] - expected_ols) < 3.5 * table.loc["ols", "mc_se"]
    for method in ("lmm", "cluster_means"):
        assert abs(table.loc[method, "rejection_rate"] - 0.05) < 3.5 * np.sqrt(0.05 * 0.95 / 400)
    assert result.p_values.shape == (400, 3)


def test_type1_error_within_cluster_covariate_and_reproducibility() -> None:
    one = mm.type1_error(n_sims=40, covariate="within", methods=("ols",), seed=3, progress=False)
    two = mm.type1_error(
        n_sims=40, covariate="within", methods=("ols",), seed=3, n_jobs=2, progress=False
    )
    np.testing.assert_array_equal(one.p_values.to_numpy(), two.p_values.to_numpy())
    with pytest.raises(mm.ModelSpecError, match="ICC must lie in"):
        mm.type1_error(icc=1.2)
    with pytest.raises(mm.ModelSpecError, match="fewer simulations"):
        mm.type1_error(n_sims=10**9, n_clusters=100, cluster_size=100)


def test_pooling_study_summary() -> None:
    study = mm.pooling_study(n_datasets=12, seed=5)
    summary = study.summary()
    assert list(summary.index) == ["no_pooling", "complete_pooling", "partial_pooling"]
    assert summary["share_best"].sum() == pytest.approx(1.0)
    assert summary.loc["partial_pooling", "mean_mse"] < summary.loc["complete_pooling", "mean_mse"]


@pytest.mark.parametrize("family", ["poisson", "negative.binomial"])
def test_pooling_of_counts(family: str) -> None:
    """Every GLMM family pools: the partial-pooling rate is the inverse link of the fit's
    cluster coefficient, alpha grows with the cluster's size, and a family or a trials
    column that does not fit is refused."""
    from lme4_reference import load_data

    data = load_data("Salamanders")
    result = mm.pooling(data, response="count", group="site", family=family)
    coef = result.fit.coef()["cluster"]["(Intercept)"]
    table = result.table
    np.testing.assert_allclose(table["partial_pooling"], np.exp(coef.reindex(table.index)))
    order = np.argsort(table["n"].to_numpy(), kind="stable")
    assert np.all(np.diff(table["alpha"].to_numpy()[order]) >= -1e-12)
    assert ((table["alpha"] > 0) & (table["alpha"] < 1)).all()
    assert (table["se_partial"] > 0).all() and 0 < result.icc < 1
    assert table["complete_pooling"].iloc[0] == pytest.approx(data["count"].mean())
    with pytest.raises(mm.DataError, match="unknown family 'tweedie'"):
        mm.pooling(data, response="count", group="site", family="tweedie")
    with pytest.raises(mm.DataError, match="trials= is for a binomial"):
        mm.pooling(data, response="count", group="site", family=family, trials="cover")


@pytest.mark.parametrize("family", ["beta", "Gamma"])
def test_pooling_of_proportions_and_positive_measures(family: str) -> None:
    """The beta (logit link) and Gamma (its inverse link) pool like the counts: the
    partial-pooling estimate is the inverse link of the cluster coefficient, alpha grows
    with the cluster's size and lies in (0, 1)."""
    data = mm.datasets.load("betasim")
    if family == "Gamma":
        data = data.assign(y=1.0 / data["y"])
    result = mm.pooling(data, response="y", group="g", family=family)
    coef = result.fit.coef()["cluster"]["(Intercept)"].reindex(result.table.index)
    inverse = 1.0 / (1.0 + np.exp(-coef)) if family == "beta" else 1.0 / coef
    np.testing.assert_allclose(result.table["partial_pooling"], inverse)
    table = result.table
    order = np.argsort(table["n"].to_numpy(), kind="stable")
    assert np.all(np.diff(table["alpha"].to_numpy()[order]) >= -1e-12)
    assert ((table["alpha"] > 0) & (table["alpha"] < 1)).all()
