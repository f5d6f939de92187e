"""Each figure renders to PNG and shows what it should."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import mixedmodels as mm  # noqa: E402
from mixedmodels import plot  # noqa: E402


@pytest.fixture(scope="module")
def result() -> mm.PoolingResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mm.pooling(mm.simulate_clusters(seed=4))


def _save(ax, tmp_path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    ax.figure.savefig(path, dpi=60)
    assert path.stat().st_size > 5000
    plt.close(ax.figure)


def test_pooling_view(result, tmp_path) -> None:
    ax = plot.pooling(result)
    # one segment per cluster, the grand mean line; three estimators and the truth
    dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert len(dashed) == len(result.table) + 1
    sizes = sorted(len(c.get_offsets()) for c in ax.collections)
    assert sizes == [16, 16, 16]
    labels = {t.get_text() for t in ax.get_legend().get_texts()}
    assert {"no pooling", "partial pooling", "true mean"} <= labels
    _save(ax, tmp_path, "pooling")


def test_shrinkage_factors(result, tmp_path) -> None:
    ax = plot.shrinkage_factors(result)
    (line,) = ax.get_lines()
    assert len(line.get_xdata()) == 16
    _save(ax, tmp_path, "alpha")


def test_caterpillar_and_2d_shrinkage(tmp_path) -> None:
    sleep = mm.datasets.load("sleepstudy")
    fit = mm.lmm("Reaction ~ Days + (Days | Subject)", sleep)
    ax = plot.caterpillar(fit, term="Days")
    assert len(ax.get_yticks()) == 18
    _save(ax, tmp_path, "caterpillar")
    ax = plot.shrinkage_2d(fit, sleep, x="Days", group="Subject")
    assert len(ax.patches) == 2  # the 1- and 2-SD ellipses
    assert sum(len(c.get_offsets()) for c in ax.collections) == 18 + 18 + 1
    _save(ax, tmp_path, "shrinkage2d")


def test_type1_figure_and_residuals(tmp_path) -> None:
    results = {
        icc: mm.type1_error(
            n_clusters=6,
            cluster_size=5,
            icc=icc,
            n_sims=20,
            methods=("ols", "cluster_means"),
            seed=1,
            progress=False,
        )
        for icc in (0.0, 0.2)
    }
    ax = plot.type1_by_icc(results)
    assert len(ax.containers) == 2  # one error-bar series per method
    _save(ax, tmp_path, "type1")
    fit = mm.lmm("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    ax = plot.residuals(fit)
    assert len(ax.collections[0].get_offsets()) == 180
    _save(ax, tmp_path, "residuals")


def test_pooling_command_writes_the_figure(tmp_path, capsys) -> None:
    from mixedmodels.cli import main

    out = tmp_path / "pool.png"
    data = mm.simulate_clusters(seed=2)
    csv = tmp_path / "clusters.csv"
    data.to_csv(csv, index=False)
    assert (
        main(["pooling", str(csv), "--response", "y", "--group", "cluster", "--plot", str(out)])
        == 0
    )
    assert out.stat().st_size > 5000
    assert "wrote" in capsys.readouterr().out
