"""Fits to Dask DataFrames agree with the same fits in memory; their errors name the
culprit; replicates spread over a Dask cluster give the serial results."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def _data(n: int = 6000, seed: int = 7) -> pd.DataFrame:
    """Slopes by clinic, a crossed rater, a text fixed factor, weights, an offset column,
    a large response mean, and a few missing values."""
    rng = np.random.default_rng(seed)
    clinic = rng.integers(0, 60, n)
    rater = rng.integers(0, 12, n)
    x = rng.normal(size=n)
    u = rng.normal(size=(60, 2)) * [1.0, 0.4]
    v = rng.normal(size=12) * 0.7
    arm = rng.choice(["control", "dose-a", "dose-b"], n)
    y = 1e4 + 2 * x + u[clinic, 0] + u[clinic, 1] * x + v[rater] + rng.normal(size=n)
    y = y + np.where(arm == "dose-b", 0.5, 0.0)
    frame = pd.DataFrame(
        {
            "y": y,
            "x": x,
            "clinic": clinic,
            "rater": np.char.add("r", rater.astype(str)),
            "arm": arm,
            "w": rng.uniform(0.5, 2.0, n),
            "exposure": rng.uniform(0, 1, n),
            "region": np.char.add("region", (clinic // 10).astype(str)),
        }
    )
    frame.loc[[5, n // 6, n - 2], "y"] = np.nan
    frame.loc[[17, n // 2], "x"] = np.nan
    return frame


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return _data()


@pytest.fixture(scope="module")
def ddf(data):
    return dd.from_pandas(data, npartitions=5)


def _assert_same_fit(
    memory: mm.LmmResult, distributed_fit: mm.LmmResult, estimates: float = 1e-8
) -> None:
    # 1e-10 relative in the criterion, 1e-8 in the estimates (issue 7's acceptance)
    assert abs(distributed_fit.objective - memory.objective) <= 1e-10 * abs(memory.objective)
    assert distributed_fit.fixed_names == memory.fixed_names
    assert distributed_fit.theta_names == memory.theta_names
    tol = estimates
    np.testing.assert_allclose(distributed_fit.beta, memory.beta, rtol=tol, atol=tol)
    np.testing.assert_allclose(distributed_fit.theta, memory.theta, rtol=tol, atol=tol)
    assert distributed_fit.sigma == pytest.approx(memory.sigma, rel=tol)
    vcov = memory.vcov.to_numpy()
    np.testing.assert_allclose(
        distributed_fit.vcov.to_numpy(), vcov, rtol=0, atol=tol * np.abs(vcov).max()
    )
    assert (distributed_fit.nobs, distributed_fit.n_dropped) == (memory.nobs, memory.n_dropped)
    assert distributed_fit.ngroups == memory.ngroups
    a, b = memory.ranef(), distributed_fit.ranef()
    assert list(a["level"]) == list(b["level"]) and list(a["term"]) == list(b["term"])
    np.testing.assert_allclose(b["value"], a["value"], rtol=10 * tol, atol=10 * tol)


@pytest.mark.parametrize(
    ("formula", "options"),
    [
        ("y ~ x + arm + (1 + x | clinic)", {}),
        ("y ~ x + arm + (1 + x | clinic)", {"reml": False}),
        ("y ~ x + arm + (1 | clinic)", {"weights": "w", "offset": "exposure"}),
    ],
    ids=["slopes", "slopes-ml", "weights-offset"],
)
def test_dask_fit_on_a_cluster_matches_the_in_memory_fit(
    client, data, ddf, formula: str, options: dict
) -> None:
    memory = mm.lmm(formula, data, **options)
    fit = mm.lmm(formula, ddf, progress=False, **options)
    assert not fit.rows_in_memory and memory.rows_in_memory
    _assert_same_fit(memory, fit)


@pytest.mark.parametrize(
    "formula",
    ["y ~ x + (1 | clinic) + (1 | rater)", "y ~ x + (1 | region/clinic)"],
    ids=["crossed", "nested"],
)
def test_several_grouping_factors_match_to_the_optimizers_precision(
    client, data, ddf, formula: str
) -> None:
    # Several factors are fitted by the derivative-free COBYQA, whose stopping rule
    # (final trust-region radius 1e-7) leaves about 2e-7 in theta: blocks summed in
    # another order (Dask partitions, or the same rows shuffled in memory) end there.
    # The criterion still agrees to 1e-10.
    memory = mm.lmm(formula, data)
    fit = mm.lmm(formula, ddf, progress=False)
    _assert_same_fit(memory, fit, estimates=1e-6)


def test_the_local_scheduler_gives_the_same_fit(data, ddf) -> None:
    memory = mm.lmm("y ~ x + arm + (1 + x | clinic)", data)
    with dask.config.set(scheduler="sync"):
        fit = mm.lmm("y ~ x + arm + (1 + x | clinic)", ddf, progress=False)
    _assert_same_fit(memory, fit)


def test_categorical_columns_and_aliased_columns_match(client) -> None:
    frame = _data(3000, seed=3)
    frame["arm"] = pd.Categorical(frame["arm"], categories=["dose-b", "control", "dose-a"])
    frame["clinic"] = pd.Categorical(frame["clinic"].astype(str))
    frame["x2"] = 2.0 * frame["x"]  # aliased with x: dropped by name in both
    formula = "y ~ x + x2 + arm + (1 | clinic)"
    with pytest.warns(mm.RankDeficiencyWarning, match="x2"):
        memory = mm.lmm(formula, frame)
    with pytest.warns(mm.RankDeficiencyWarning, match="x2"):
        fit = mm.lmm(formula, dd.from_pandas(frame, npartitions=4), progress=False)
    assert fit.aliased == ("x2",)
    assert fit.fixed_names[2:] == ("arm[T.control]", "arm[T.dose-a]")  # level order kept
    _assert_same_fit(memory, fit)


def test_fitted_residuals_and_predict_are_lazy_and_match(client, data, ddf) -> None:
    formula = "y ~ x + arm + (1 + x | clinic)"
    memory = mm.lmm(formula, data)
    fit = mm.lmm(formula, ddf, progress=False)
    complete = data.dropna()
    for lazy, eager in (
        (fit.fitted, memory.fitted),
        (fit.residuals(), memory.residuals()),
        (
            fit.predict(dd.from_pandas(complete, npartitions=2), re=False),
            memory.predict(complete, re=False),
        ),
        (fit.predict(), memory.predict()),
    ):
        assert dask.is_dask_collection(lazy)
        values = lazy.compute()
        pd.testing.assert_index_equal(values.index, eager.index)
        np.testing.assert_allclose(values.to_numpy(), eager.to_numpy(), rtol=1e-9, atol=1e-7)
    assert int(fit.fitted.isna().sum().compute()) == memory.n_dropped
    # an in-memory fit predicts a Dask frame lazily too; pandas rows work on a Dask fit
    lazy = memory.predict(dd.from_pandas(complete, npartitions=3))
    assert dask.is_dask_collection(lazy)
    np.testing.assert_allclose(
        lazy.compute().to_numpy(), fit.predict(complete).to_numpy(), rtol=1e-9
    )


def test_summary_and_small_sample_tests_work_and_row_methods_say_why_not(client, data, ddf) -> None:
    fit = mm.lmm("y ~ x + arm + (1 + x | clinic)", ddf, progress=False)
    text = fit.summary()
    assert "Dask DataFrame (5 partitions)" in text and "Number of obs: 5995" in text
    assert fit.coef_table()["df"].notna().all()
    # Kenward-Roger reads the blocks only, as Satterthwaite does
    kr = fit.coef_table(ddf="kenward-roger")
    memory = mm.lmm("y ~ x + arm + (1 + x | clinic)", data).coef_table(ddf="kenward-roger")
    for column in ("std_error", "df", "p_value"):
        np.testing.assert_allclose(kr[column], memory[column], rtol=1e-6)
    assert fit.confint(method="wald").loc["x"].notna().all()
    fit.to_dict()
    for call in (
        lambda: fit.simulate(1, seed=1),
        lambda: fit.refit(np.zeros(fit.nobs)),
        lambda: fit.anova(),
        lambda: fit.confint(method="profile"),
        lambda: mm.bootstrap(fit, n=2, seed=1, progress=False),
    ):
        with pytest.raises(mm.ModelSpecError, match="Dask DataFrame.*in-memory pandas frame"):
            call()


def test_a_missing_column_is_named(ddf) -> None:
    with pytest.raises(mm.FormulaError, match=r"'x'.*not in the data.*did you mean 'xx'"):
        mm.lmm("y ~ x + (1 | clinic)", ddf.rename(columns={"x": "xx"}))
    with pytest.raises(mm.FormulaError, match=r"random term \(1 \| site\).*'site'"):
        mm.lmm("y ~ x + (1 | site)", ddf)
    with pytest.raises(mm.FormulaError, match="weights=.*'weight'"):
        mm.lmm("y ~ x + (1 | clinic)", ddf, weights="weight")


def test_an_undeclared_category_in_a_later_partition_is_named() -> None:
    frame = _data(2000)
    frame["arm"] = pd.Categorical(frame["arm"])
    ddf = dd.from_pandas(frame, npartitions=4)

    def add_a_category(part: pd.DataFrame, partition_info=None) -> pd.DataFrame:
        if partition_info["number"] == 2:
            arm = part["arm"].cat.add_categories(["placebo"])
            arm.iloc[:3] = "placebo"
            part = part.assign(arm=arm)
        return part

    changed = ddf.map_partitions(add_a_category, meta=ddf._meta)
    with dask.config.set(scheduler="sync"):
        with pytest.raises(mm.DataError, match=r"partition 2 .*category 'placebo' in column 'arm'"):
            mm.lmm("y ~ x + arm + (1 | clinic)", changed, progress=False)


def test_data_that_change_between_the_passes_are_caught() -> None:
    calls = {"n": 0}

    def load(i: int) -> pd.DataFrame:  # the second read of partition 1 has a new clinic
        frame = _data(1000, seed=i)
        calls["n"] += 1
        if i == 1 and calls["n"] > 3:
            frame.loc[10, "clinic"] = 999
        return frame

    ddf = dd.from_map(load, [0, 1, 2], meta=_data(100).iloc[:0])
    with dask.config.set(scheduler="sync"):
        with pytest.raises(mm.DataError, match=r"partition 1 .*999.*'clinic'.*changed"):
            mm.lmm("y ~ x + (1 | clinic)", ddf, progress=False)


def test_levels_that_do_not_fit_on_the_client_are_refused_early(ddf) -> None:
    with dask.config.set(scheduler="sync"):
        # 60 clinics at 256 bytes each: more than 10 kB allows, found in the levels pass
        with pytest.raises(mm.DataError, match=r"'clinic'.*distinct values.*max_block_bytes"):
            mm.lmm("y ~ x + (1 | clinic)", ddf, progress=False, max_block_bytes=10_000)
        # crossed factors: 300 items form a dense 300 x 300 block (about 2 MB with its
        # copies), refused before the blocks pass
        rng = np.random.default_rng(0)
        crossed = pd.DataFrame(
            {"y": rng.normal(size=5000), "a": rng.integers(0, 300, 5000)}
        ).assign(b=lambda d: rng.integers(0, 400, 5000))
        with pytest.raises(mm.DataError, match=r"'a'.*does not fit.*dense 300 x 300 block"):
            mm.lmm(
                "y ~ 1 + (1 | a) + (1 | b)",
                dd.from_pandas(crossed, npartitions=2),
                progress=False,
                max_block_bytes=1_000_000,
            )


def test_other_bad_dask_input_gets_our_errors(ddf) -> None:
    with pytest.raises(mm.DataError, match="name of one of its columns"):
        mm.lmm("y ~ x + (1 | clinic)", ddf, weights=np.ones(6000))
    with pytest.raises(mm.ModelSpecError, match="GLMM.*PIRLS iteration"):
        mm.glmm("y ~ x + (1 | clinic)", ddf, family="poisson")
    with dask.config.set(scheduler="sync"):
        with pytest.raises(mm.DataError, match="response 'arm'"):
            mm.lmm("arm ~ x + (1 | clinic)", ddf, progress=False)


def test_progress_bars_can_be_shown(client, ddf, capsys) -> None:
    fit = mm.lmm("y ~ x + (1 | clinic)", ddf, progress=True)
    with dask.config.set(scheduler="sync"):
        again = mm.lmm("y ~ x + (1 | clinic)", ddf, progress=True)
    assert fit.objective == pytest.approx(again.objective, rel=1e-12)
    captured = capsys.readouterr()
    assert "100%" in captured.err  # dask.diagnostics.ProgressBar, on stderr
    assert "100%" in captured.out or "Finished" in captured.err + captured.out


def test_replicates_on_a_cluster_equal_the_serial_run(client) -> None:
    sleep = mm.datasets.load("sleepstudy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = mm.lmm("Reaction ~ Days + (Days | Subject)", sleep)
        serial = mm.bootstrap(fit, n=6, seed=11, progress=False)
        spread = mm.bootstrap(fit, n=6, seed=11, progress=False, client=client)
    pd.testing.assert_frame_equal(serial.replicates, spread.replicates)
    t_serial = mm.type1_error(6, 5, 0.2, n_sims=8, seed=4, progress=False)
    t_spread = mm.type1_error(6, 5, 0.2, n_sims=8, seed=4, progress=False, client=client)
    pd.testing.assert_frame_equal(t_serial.p_values, t_spread.p_values)
    s_serial = mm.pooling_study(n_datasets=5, seed=2)
    s_spread = mm.pooling_study(n_datasets=5, seed=2, client=client)
    s_forked = mm.pooling_study(n_datasets=5, seed=2, n_jobs=2)
    pd.testing.assert_frame_equal(s_serial.mse, s_spread.mse)
    pd.testing.assert_frame_equal(s_serial.mse, s_forked.mse)
    with pytest.raises(mm.ModelSpecError, match="dask.distributed.Client"):
        mm.pooling_study(n_datasets=2, client="localhost:8786")


def test_importing_mixedmodels_does_not_import_dask() -> None:
    code = "import sys, mixedmodels; sys.exit('dask' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
