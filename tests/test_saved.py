"""Saved fits: ``fit.save(path)`` and ``mm.load(path)`` give back every estimate and every
prediction to the bit, for LMMs and GLMMs, without the original data; a damaged, foreign or
newer file is refused with a clear message; nothing in the format is pickled."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from lme4_reference import load_data
from mixedmodels.saved import save_fit


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def _round_trip(fit: object, tmp_path: Path) -> object:
    path = tmp_path / "fit.mmfit"
    fit.save(path)  # type: ignore[attr-defined]
    return mm.load(path)


def _check_fields(fit: object, loaded: object) -> None:
    for name in ("beta", "theta", "objective", "fitted"):
        assert _same(getattr(fit, name), getattr(loaded, name)), name
    assert _same(fit.residuals(), loaded.residuals())  # type: ignore[attr-defined]
    assert _same(fit._vcov_array(), loaded._vcov_array())  # type: ignore[attr-defined]
    pd.testing.assert_frame_equal(fit.ranef(), loaded.ranef())  # type: ignore[attr-defined]
    pd.testing.assert_frame_equal(fit.varcorr, loaded.varcorr)  # type: ignore[attr-defined]
    assert fit.summary() == loaded.summary()  # type: ignore[attr-defined]


@pytest.fixture
def sleepstudy() -> pd.DataFrame:
    return mm.datasets.load("sleepstudy")


def test_lmm_round_trip_to_the_bit(sleepstudy: pd.DataFrame, tmp_path: Path) -> None:
    fit = mm.lmm("Reaction ~ Days + (Days | Subject)", sleepstudy)
    loaded = _round_trip(fit, tmp_path)
    assert isinstance(loaded, mm.LmmResult)
    _check_fields(fit, loaded)
    assert fit.sigma == loaded.sigma and fit.optinfo == loaded.optinfo
    new = pd.DataFrame({"Days": [0.5, 11.0], "Subject": ["308", "new"]})
    for re in (True, False):
        a = fit.predict(new, allow_new_levels=True, re=re).to_numpy()
        assert _same(a, loaded.predict(new, allow_new_levels=True, re=re).to_numpy())
    assert _same(fit.simulate(n=3, seed=5), loaded.simulate(n=3, seed=5))
    pd.testing.assert_frame_equal(fit.coef_table(), loaded.coef_table())
    pd.testing.assert_frame_equal(
        mm.emmeans(fit, "Days", at={"Days": [2, 7]}).table,
        mm.emmeans(loaded, "Days", at={"Days": [2, 7]}).table,
    )


def test_lmm_with_factors_transforms_weights_and_missing_rows(tmp_path: Path) -> None:
    """The saved formula is encoded again on the saved columns: factor levels, sum contrasts,
    a stateful transform's centre and scale, prior weights and the rows left out."""
    cake = mm.datasets.load("cake")
    cake["weight"] = 1.0 + (np.arange(len(cake)) % 3)
    cake.loc[[4, 17], "angle"] = np.nan
    cake.index = [f"r{i}" for i in range(len(cake))]
    fit = mm.lmm(
        "angle ~ recipe * scale(temp) + (1 | recipe:replicate)",
        cake,
        weights="weight",
        contrasts={"recipe": "sum"},
    )
    loaded = _round_trip(fit, tmp_path)
    _check_fields(fit, loaded)
    assert loaded.fitted.index.equals(fit.fitted.index)  # type: ignore[attr-defined]
    new = cake.iloc[::7]
    assert _same(fit.predict(new).to_numpy(), loaded.predict(new).to_numpy())  # type: ignore[attr-defined]
    pd.testing.assert_frame_equal(fit.anova(), loaded.anova())  # type: ignore[attr-defined]


def test_glmm_round_trip_to_the_bit(tmp_path: Path) -> None:
    cbpp = mm.datasets.load("cbpp")
    fit = mm.glmm(
        "cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial"
    )
    loaded = _round_trip(fit, tmp_path)
    assert isinstance(loaded, mm.GlmmResult)
    _check_fields(fit, loaded)
    for kind in ("link", "response"):
        assert _same(fit.predict(cbpp, type=kind), loaded.predict(cbpp, type=kind))  # type: ignore[attr-defined]
    assert _same(fit.simulate(n=2, seed=3), loaded.simulate(n=2, seed=3))  # type: ignore[attr-defined]
    a = mm.emmeans(fit, "period", type="response").pairs().table
    pd.testing.assert_frame_equal(a, mm.emmeans(loaded, "period", type="response").pairs().table)


def test_poisson_with_an_offset(tmp_path: Path) -> None:
    cbpp = mm.datasets.load("cbpp")
    fit = mm.glmm("incidence ~ period + offset(log(size)) + (1 | herd)", cbpp, family="poisson")
    loaded = _round_trip(fit, tmp_path)
    _check_fields(fit, loaded)
    assert _same(fit.predict(cbpp), loaded.predict(cbpp))  # type: ignore[attr-defined]


def test_no_pickle_in_the_format(sleepstudy: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "fit.mmfit"
    mm.lmm("Reaction ~ Days + (1 | Subject)", sleepstudy).save(path)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["arrays.npz", "manifest.json"]
        manifest = json.loads(archive.read("manifest.json"))
        with archive.open("arrays.npz") as raw, np.load(raw, allow_pickle=False) as arrays:
            assert all(arrays[name].dtype.kind in "biufcU" for name in arrays.files)
    assert manifest["format"] == "mixedmodels.fit" and manifest["library_version"] == mm.__version__


def test_foreign_damaged_and_newer_files_are_refused(
    sleepstudy: pd.DataFrame, tmp_path: Path
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a fit")
    with pytest.raises(mm.DataError, match="not a zip archive"):
        mm.load(text)
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("readme.md", "hello")
    with pytest.raises(mm.DataError, match="has no manifest.json"):
        mm.load(other)
    with pytest.raises(mm.DataError, match="does not exist"):
        mm.load(tmp_path / "missing.mmfit")
    good = tmp_path / "fit.mmfit"
    mm.lmm("Reaction ~ Days + (1 | Subject)", sleepstudy).save(good)
    truncated = tmp_path / "truncated.mmfit"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(mm.DataError):
        mm.load(truncated)
    with zipfile.ZipFile(good) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        arrays = archive.read("arrays.npz")
    for change, message in [
        ({"format_version": 99}, "format version 99.*upgrade mixedmodels"),
        ({"format": "something.else"}, "not a saved mixedmodels fit"),
        ({"kind": "gls"}, "unknown kind"),
    ]:
        forged = tmp_path / "forged.mmfit"
        with zipfile.ZipFile(forged, "w") as archive:
            archive.writestr("manifest.json", json.dumps({**manifest, **change}))
            archive.writestr("arrays.npz", arrays)
        with pytest.raises(mm.DataError, match=message):
            mm.load(forged)
    broken = tmp_path / "broken.mmfit"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("manifest.json", "{not json")
        archive.writestr("arrays.npz", arrays)
    with pytest.raises(mm.DataError, match="manifest.json is damaged"):
        mm.load(broken)


def test_what_is_not_saved_says_so(tmp_path: Path) -> None:
    ovary = load_data("Ovary")
    fit = mm.gls("follicles ~ 1", ovary)
    with pytest.raises(mm.ModelSpecError, match="saving is for the results of mm.lmm and mm.glmm"):
        save_fit(fit, tmp_path / "gls.mmfit")


def test_user_functions_are_asked_for_again(sleepstudy: pd.DataFrame, tmp_path: Path) -> None:
    def half(x: np.ndarray) -> np.ndarray:
        return np.asarray(x) / 2.0

    fit = mm.lmm("Reaction ~ half(Days) + (1 | Subject)", sleepstudy, functions={"half": half})
    path = tmp_path / "fit.mmfit"
    fit.save(path)
    with pytest.raises(mm.ModelSpecError, match="own functions half.*functions="):
        mm.load(path)
    loaded = mm.load(path, functions={"half": half})
    assert _same(fit.beta, loaded.beta)  # type: ignore[attr-defined]
    assert _same(fit.predict(sleepstudy), loaded.predict(sleepstudy))  # type: ignore[attr-defined]
