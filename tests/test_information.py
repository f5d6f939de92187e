"""The average information of the profiled criterion, against its definition in dense
algebra and against the Hessian it stands for."""

from __future__ import annotations

import numpy as np
import pytest

import mixedmodels as mm
from mixedmodels.core import tailstorage
from mixedmodels.core.solution import solve
from mixedmodels.core.workspace import Workspace
from mixedmodels.design.crossproducts import ZTerm, crossproducts
from mixedmodels.lmm.information import average_information
from test_tailstorage import crossed_terms


def _positions(shapes: list[tuple[int, int]]) -> np.ndarray:
    return np.array(
        [(b, r, c) for b, (_, k) in enumerate(shapes) for c in range(k) for r in range(c, k)]
    )


def _templates(position: np.ndarray, shapes: list[tuple[int, int]], theta: np.ndarray):
    templates = [np.zeros((k, k)) for _, k in shapes]
    for (b, r, c), t in zip(position, theta, strict=True):
        templates[b][r, c] = t
    return templates


def _dense_information(
    terms: list[ZTerm], B: np.ndarray, w: np.ndarray | None, templates, position, reml: bool
) -> np.ndarray:
    """``dof (b_ij / s - a_i a_j / s^2)`` with every matrix formed in full."""
    n = B.shape[0]
    X, y = B[:, :-1], B[:, -1]
    blocks = []
    for term in terms:
        Zt = np.zeros((n, term.n_levels * term.k))
        for a in range(term.k):
            Zt[np.arange(n), term.codes * term.k + a] = term.matrix[:, a]
        blocks.append(Zt)
    Z = np.hstack(blocks)
    sizes = [t.n_levels * t.k for t in terms]
    starts = np.cumsum([0, *sizes])

    def sigma(mats):
        out = np.zeros((Z.shape[1], Z.shape[1]))
        for b, (term, M) in enumerate(zip(terms, mats, strict=True)):
            for level in range(term.n_levels):
                at = starts[b] + level * term.k
                out[at : at + term.k, at : at + term.k] = M
        return out

    weights = np.ones(n) if w is None else w
    V = np.diag(1.0 / weights) + Z @ sigma([T @ T.T for T in templates]) @ Z.T
    Vi = np.linalg.inv(V)
    P = Vi - Vi @ X @ np.linalg.solve(X.T @ Vi @ X, X.T @ Vi)
    Py = P @ y
    s = float(y @ Py)
    q = []
    for b, r, c in position:
        derivs = [np.zeros_like(T) for T in templates]
        E = np.zeros_like(templates[b])
        E[r, c] = 1.0
        derivs[b] = E @ templates[b].T + templates[b] @ E.T
        q.append(Z @ sigma(derivs) @ Z.T @ Py)
    a = np.array([float(Py @ qi) for qi in q])
    bmat = np.array([[float(qi @ P @ qj) for qj in q] for qi in q])
    dof = n - X.shape[1] if reml else n
    return dof * (bmat / s - np.outer(a, a) / s**2)


CASES = [
    (0, [(30, 1), (20, 1)], False, "dense"),
    (1, [(40, 1), (15, 1), (6, 1)], True, "sparse"),  # two scalar tail factors
    (2, [(25, 2), (12, 1)], False, "dense"),  # a vector first factor
    (3, [(25, 1), (10, 2)], True, "dense"),  # a vector tail factor
    (4, [(35, 2), (12, 2)], False, "dense"),
    (5, [(30, 1), (18, 1)], False, "pairs"),
    (6, [(25, 2), (12, 1)], True, "sparse"),  # the sparse kind on S's whole pattern
]


@pytest.mark.parametrize(("seed", "shapes", "weighted", "kind"), CASES)
@pytest.mark.parametrize("reml", [True, False])
def test_average_information_matches_its_dense_definition(
    seed, shapes, weighted, kind, reml, monkeypatch
) -> None:
    n = 240
    terms, B = crossed_terms(seed, n, shapes, shapes[0][1])
    w = np.random.default_rng(seed).uniform(0.5, 2.0, n) if weighted else None
    monkeypatch.setattr(tailstorage, "TAIL_KIND", "dense" if kind == "pairs" else kind)
    if kind == "dense":
        monkeypatch.setattr(tailstorage, "MAX_PAIRS", 0)
    ws = Workspace(crossproducts(terms, B, w), shapes[1:])
    assert ws.tail_kind is not None
    # a scalar first factor's sparse tail keeps E on its pairs of levels too
    on_pairs = kind == "pairs" or (kind == "sparse" and shapes[0][1] == 1)
    assert ws.tail_kind.name == ("dense" if kind == "pairs" else kind)
    assert (getattr(ws.tail_kind, "pairs", None) is not None) == on_pairs
    position = _positions(shapes)
    rng = np.random.default_rng(seed + 50)
    theta = rng.uniform(0.3, 1.2, len(position))
    templates = _templates(position, shapes, theta)
    fac = ws.factorize(templates, keep_schur=True)
    H = average_information(ws, fac, solve(ws, fac), position, reml)
    expected = _dense_information(terms, B, w, templates, position, reml)
    np.testing.assert_allclose(H, expected, rtol=1e-8, atol=1e-8 * np.abs(expected).max())


def test_average_information_is_close_to_the_hessian_at_the_optimum() -> None:
    # the approximation replaces traces by their expectations: at the optimum of a
    # crossed fit it is within a few percent of the Hessian differenced from the gradient
    from mixedmodels.core.newton import gradient_differences
    from mixedmodels.lmm.gradient import objective_gradient

    rng = np.random.default_rng(9)
    n = 3000
    subj = rng.integers(0, 150, n)
    item = rng.integers(0, 60, n)
    y = rng.normal(size=150)[subj] * 0.8 + rng.normal(size=60)[item] * 0.5 + rng.normal(size=n)
    data = {"y": y + 2.0, "subj": subj.astype(str), "item": item.astype(str)}
    import pandas as pd

    fit = mm.lmm("y ~ 1 + (1 | subj) + (1 | item)", pd.DataFrame(data))
    model = fit.model
    ws = model.workspace
    theta = model.internal_theta(fit.theta)
    position = model.theta_map.position

    def gradient(t: np.ndarray) -> tuple[float, np.ndarray]:
        fac = ws.factorize(model.theta_map.factors(t), keep_schur=True)
        sol = solve(ws, fac)
        return ws.objective(fac, True), objective_gradient(ws, fac, sol, position, True)

    value, g = gradient(theta)
    differenced = gradient_differences(gradient, theta, g, 1e-6)
    fac = ws.factorize(model.theta_map.factors(theta), keep_schur=True)
    H = average_information(ws, fac, solve(ws, fac), position, True)
    np.testing.assert_allclose(H, differenced, rtol=0.05, atol=0.05 * np.abs(differenced).max())


def _crossed_data(seed: int, n: int, subjects: int, items: int):
    import pandas as pd

    rng = np.random.default_rng(seed)
    subj = rng.integers(0, subjects, n)
    weights = 1.0 / np.arange(1, items + 1) ** 1.1  # long-tailed item popularity
    item = rng.choice(items, n, p=weights / weights.sum())
    x = rng.normal(size=n)
    y = (
        0.8 * rng.normal(size=subjects)[subj]
        + 0.5 * rng.normal(size=items)[item]
        + 0.3 * x
        + rng.normal(size=n)
    )
    return pd.DataFrame({"y": y, "x": x, "subj": subj.astype(str), "item": item.astype(str)})


@pytest.mark.parametrize("reml", [True, False])
def test_a_crossed_fit_starts_its_newton_steps_from_the_average_information(
    reml: bool, monkeypatch
) -> None:
    from mixedmodels.core.newton import INFORMATION_HESSIAN, STARTED_HESSIAN
    from mixedmodels.lmm import fit as lmm_fit

    data = _crossed_data(11, 8_000, 800, 300)
    formula = "y ~ x + (1 | subj) + (1 | item)"
    fit = mm.lmm(formula, data, reml=reml)
    assert fit.model.dense_system is None  # the blocked path, which has the information
    assert fit.optinfo.check == INFORMATION_HESSIAN
    assert "average information" in fit.optinfo.optimizer

    def unavailable(*args, **kwargs):
        raise ValueError("no average information")

    monkeypatch.setattr(lmm_fit, "average_information", unavailable)
    differenced = mm.lmm(formula, data, reml=reml)
    assert differenced.optinfo.check == STARTED_HESSIAN
    # the same optimum, in fewer evaluations (the differences cost n_theta gradients)
    assert fit.objective == pytest.approx(differenced.objective, rel=1e-12)
    np.testing.assert_allclose(fit.theta, differenced.theta, rtol=1e-7)
    assert fit.optinfo.n_evaluations < differenced.optinfo.n_evaluations
