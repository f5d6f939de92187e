"""Kenward-Roger in the space of the random effects against the plain n x n formulas."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels.core import tailstorage
from mixedmodels.core.tables import term_covariances
from mixedmodels.inference import kenward_roger
from mixedmodels.inference.kenward_roger import KenwardRoger


def dense_kenward_roger(fit: mm.LmmResult) -> KenwardRoger:
    """Halekoh & Hojsgaard's (2014) formulas with the n x n marginal covariance, its
    inverse and one n x n ``G_r`` per variance parameter (pbkrtest's parametrization)."""
    frame = fit._frame
    n, X = frame.nobs, frame.X
    covs = term_covariances(fit._layout, frame, fit._theta_map.factors(fit.theta), fit.sigma)
    G, s = [], []
    for term, cov in zip(frame.terms, covs, strict=True):
        Z = []
        for a in range(term.n_columns):
            Za = np.zeros((n, term.n_levels))
            Za[np.arange(n), term.factor.codes] = term.matrix[:, a]
            Z.append(Za)
        for a in range(len(Z)):
            for b in range(a, len(Z)):
                Gab = Z[a] @ Z[b].T
                G.append(Gab if a == b else Gab + Gab.T)
                s.append(cov[a, b])
    G.append(np.diag(1.0 / (np.ones(n) if frame.weights is None else frame.weights)))
    s.append(fit.sigma**2)
    Si = np.linalg.inv(sum(si * Gi for si, Gi in zip(s, G, strict=True)))
    SiX = Si @ X
    Phi = np.linalg.inv(X.T @ SiX)
    M = Si - SiX @ Phi @ SiX.T
    P = [-(SiX.T @ Gi @ SiX) for Gi in G]
    MG = [M @ Gi for Gi in G]
    info = np.array([[0.5 * np.sum(a * b.T) for b in MG] for a in MG])
    W = np.linalg.inv(info)
    correction = sum(
        W[i, j] * (SiX.T @ G[i] @ Si @ G[j] @ SiX - P[i] @ Phi @ P[j])
        for i in range(len(G))
        for j in range(len(G))
    )
    return KenwardRoger(
        Phi=Phi,
        Phi_A=Phi + 2.0 * Phi @ correction @ Phi,
        Phi_P_Phi=np.array([Phi @ Pi @ Phi for Pi in P]),
        W=W,
    )


def _simulated(n: int = 240, seed: int = 5) -> pd.DataFrame:
    """Two crossed factors, a covariate far from zero (the fit centres it) and weights."""
    rng = np.random.default_rng(seed)
    g, h = rng.integers(0, 15, n), rng.integers(0, 6, n)
    x = rng.normal(size=n) + 3.0
    y = (
        1.0
        + 0.5 * x
        + rng.normal(size=15)[g]
        + (0.4 * rng.normal(size=6))[h] * (x - 3.0)
        + rng.normal(size=n)
    )
    return pd.DataFrame(
        {"y": y, "x": x, "g": g.astype(str), "h": h.astype(str), "w": rng.uniform(0.5, 2, n)}
    )


CASES = {
    "slope": ("Reaction ~ Days + (Days | Subject)", "sleepstudy", {}),
    "weights": ("Reaction ~ Days + (1 | Subject)", "sleepstudy", {"weights": "w"}),
    "uncorrelated": ("Reaction ~ Days + (Days || Subject)", "sleepstudy", {}),
    "crossed": ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin", {}),
    "crossed-slope": ("y ~ x + (1 | g) + (x | h)", "simulated", {"weights": "w"}),
}


def _fit(case: str) -> mm.LmmResult:
    formula, name, options = CASES[case]
    if name == "simulated":
        data = _simulated()
    else:
        data = mm.datasets.load(name)
        data = data.assign(w=np.random.default_rng(2).uniform(0.3, 3.0, len(data)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.SingularFitWarning)
        return mm.lmm(formula, data, **options)


def _assert_same(got: KenwardRoger, want: KenwardRoger, beta: np.ndarray) -> None:
    scale = np.abs(want.Phi_A).max()
    np.testing.assert_allclose(got.Phi, want.Phi, rtol=0, atol=1e-8 * np.abs(want.Phi).max())
    np.testing.assert_allclose(got.Phi_A, want.Phi_A, rtol=0, atol=1e-8 * scale)
    p = beta.size
    tests = [np.eye(p)[i : i + 1] for i in range(p)] + [np.eye(p)]
    for L in tests:
        np.testing.assert_allclose(got.test(L, beta), want.test(L, beta), rtol=1e-8)


@pytest.mark.parametrize("case", list(CASES))
def test_the_q_space_computation_is_the_n_by_n_one(case: str) -> None:
    fit = _fit(case)
    _assert_same(KenwardRoger.of(fit), dense_kenward_roger(fit), fit.beta)


def test_a_sparse_tail_factor_gives_the_same_adjustment(monkeypatch) -> None:
    # every level of g meets a few levels of h, so the sparse tail factor's fill-reducing
    # order permutes h's levels: its solves come back in that order
    monkeypatch.setattr(tailstorage, "TAIL_KIND", "sparse")
    rng = np.random.default_rng(4)
    g = np.repeat(np.arange(60), 5)
    h = (7 * g + rng.integers(0, 3, g.size)) % 40
    y = rng.normal(size=60)[g] + rng.normal(size=40)[h] + rng.normal(size=g.size)
    data = pd.DataFrame(
        {"y": y, "x": rng.normal(size=g.size), "g": g.astype(str), "h": h.astype(str)}
    )
    fit = mm.lmm("y ~ x + (1 | g) + (1 | h)", data)
    kind = fit.model.workspace.tail_kind
    assert kind.name == "sparse"
    assert np.any(kind.symbolic.perm != np.arange(40))
    _assert_same(KenwardRoger.of(fit), dense_kenward_roger(fit), fit.beta)


def test_the_origin_of_a_random_slope_changes_nothing() -> None:
    # Days + 2010 is the same model as Days: the slope's adjusted SE and df are the same.
    # The n x n formulas in pbkrtest's parametrization lose them there (the information
    # of the original covariance elements has a condition number of 1e22: SE 1.87, not 1.55)
    sleep = mm.datasets.load("sleepstudy")
    base = mm.lmm("Reaction ~ Days + (Days | Subject)", sleep).coef_table("kenward-roger")
    shifted = mm.lmm(
        "Reaction ~ Year + (Year | Subject)", sleep.assign(Year=sleep["Days"] + 2010.0)
    ).coef_table("kenward-roger")
    for column in ("std_error", "df", "p_value"):
        assert shifted[column].iloc[1] == pytest.approx(base[column].iloc[1], rel=1e-8)


def test_too_many_random_effects_are_refused_before_any_work(monkeypatch) -> None:
    fit = _fit("weights")  # 18 subjects

    def fail(*args: object) -> None:
        raise AssertionError("the q x q work started")

    monkeypatch.setattr(kenward_roger, "MAX_RANDOM_EFFECTS", 17)
    monkeypatch.setattr(kenward_roger, "marginal_products", fail)
    with pytest.raises(mm.ModelSpecError, match=r"18 x 18 .* use ddf='satterthwaite'"):
        fit.coef_table(ddf="kenward-roger")
