"""The public names of ``import mixedmodels as mm``: every name in ``__all__`` is there,
``mm.plot`` included (imported on first use), and the functions named like subpackages
(``mm.lmm``, ``mm.glmm``, ``mm.pooling``) stay functions after those subpackages are
imported by name."""

from __future__ import annotations

import importlib

import mixedmodels as mm


def test_every_public_name_resolves() -> None:
    for name in mm.__all__:
        assert getattr(mm, name) is not None, name


def test_plot_is_reachable_from_the_package() -> None:
    assert "plot" in mm.__all__
    assert callable(mm.plot.caterpillar)
    assert mm.plot is importlib.import_module("mixedmodels.plot")


def test_functions_named_like_subpackages_stay_functions() -> None:
    for name in ("lmm", "glmm", "pooling"):
        importlib.import_module(f"mixedmodels.{name}")
        assert callable(getattr(mm, name)), name
    fit = mm.lmm("Reaction ~ Days + (1 | Subject)", mm.datasets.load("sleepstudy"))
    assert fit.nobs == 180
