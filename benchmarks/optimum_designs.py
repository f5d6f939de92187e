"""Simulated data sets for checking that every linear mixed-model fit reaches its optimum.

``make(design, seed)`` returns ``(data, formula, reml)``: a small pandas DataFrame (at most
about 1,000 rows), an lme4 formula and whether the fit is REML. It is a pure function of its
arguments: the same design and seed always give the same rows (numpy's ``default_rng``,
seeded with the seed and a fixed number per design). The true parameters are in
``data.attrs["truth"]``: ``sigma``, ``beta`` (fixed effects in the formula's order), and per
random-effects term its standard deviations, correlation matrix and relative Cholesky factor
``theta`` (lme4's column-wise lower triangle of the covariance divided by sigma^2).

Designs (``DESIGNS``), each meant to be run for 200 seeds or more:

- ``slope``: ``y ~ x + (1 + x | g)``, SDs log-uniform on [0.05, 2], correlation uniform on
  [-0.9, 0.9], 20-80 groups of 5-20 rows.
- ``three``: ``y ~ x1 + x2 + (1 + x1 + x2 | g)``, a random 3 x 3 covariance.
- ``two_terms``: ``y ~ x + (1 | g) + (0 + x | g)`` (independent intercept and slope).
- ``nested``: ``y ~ x + (1 + x | a) + (1 | a:b)`` and ``y ~ x + (1 | a/b)`` (alternate seeds).
- ``crossed``: ``y ~ x + (1 | s) + (1 | i)`` and ``y ~ x + (1 + x | s) + (1 | i)``.
- ``boundary``: ``y ~ x + (1 + x | g)`` with truths on the boundary (an SD of 0, both SDs 0,
  correlation exactly +1 or -1) and near it (an SD of 0.01-0.05, |correlation| 0.98-0.999).
- ``uncentred``: ``y ~ x + (1 + x | g)`` with the covariate as users' data have it: calendar
  years (2010 + 0..m-1), ``z * 1e3``, ``z * 1e-3 + 100``, uniform on 1..10,000.

Helpers shared by ``optimum.py`` and ``tests/test_optimum.py``: ``blocks_from_lower``,
``min_diagonal``, ``standardized_min_diagonal``, ``theta_terms``, ``theta_from_cov`` and
``random_starts``.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "DESIGNS",
    "Design",
    "blocks_from_lower",
    "make",
    "min_diagonal",
    "random_starts",
    "random_terms",
    "standardized_min_diagonal",
    "theta_from_cov",
    "theta_terms",
]

#: Largest number of rows a data set may have (lme4 then fits in a few hundredths of a second).
MAX_ROWS = 1_000


# --------------------------------------------------------------------------- theta helpers


def theta_from_cov(cov: Any, sigma: float = 1.0) -> list[float]:
    """lme4's theta of one term: the lower Cholesky factor of ``cov / sigma^2``, column by
    column. A singular covariance (an SD of 0 or a correlation of +-1) is allowed."""
    rel = np.asarray(cov, dtype=float) / sigma**2
    k = rel.shape[0]
    chol = np.zeros((k, k))
    # an outer-product Cholesky that tolerates a zero pivot (numpy's refuses it)
    work = rel.copy()
    for j in range(k):
        pivot = work[j, j]
        if pivot > 1e-14 * max(1.0, float(np.abs(rel).max())):
            chol[j, j] = np.sqrt(pivot)
            chol[j + 1 :, j] = work[j + 1 :, j] / chol[j, j]
            work[j + 1 :, j + 1 :] -= np.outer(chol[j + 1 :, j], chol[j + 1 :, j])
    return [float(chol[i, j]) for j in range(k) for i in range(j, k)]


def lower_factor(a: Any) -> np.ndarray:
    """The lower-triangular L with a non-negative diagonal and ``L L' = A A'``, from a QR
    decomposition of ``A'`` (no covariance is formed, so a nearly singular ``A A'`` keeps
    its small diagonal entries: forming it loses them to rounding)."""
    r = np.linalg.qr(np.asarray(a, dtype=float).T, mode="r")
    signs = np.where(np.diag(r) < 0, -1.0, 1.0)
    return np.asarray((signs[:, None] * r).T)


def theta_of_factor(lam: np.ndarray) -> list[float]:
    """lme4's theta (column by column) of a lower-triangular factor."""
    k = lam.shape[0]
    return [float(lam[i, j]) for j in range(k) for i in range(j, k)]


def lambda_of_theta(theta: Sequence[float], k: int) -> np.ndarray:
    """The lower-triangular factor of one term from its theta."""
    lam = np.zeros((k, k))
    pos = 0
    for j in range(k):
        for i in range(j, k):
            lam[i, j] = theta[pos]
            pos += 1
    return lam


def cov_from_theta(theta: Sequence[float], k: int) -> np.ndarray:
    """The relative covariance ``Lambda Lambda'`` of one term from its theta."""
    lam = lambda_of_theta(theta, k)
    return np.asarray(lam @ lam.T)


def blocks_from_lower(lower: Sequence[float]) -> list[int]:
    """The number of coefficients of each term, read from lme4's lower bounds of theta.

    A term of k coefficients contributes k(k+1)/2 entries, column by column: a diagonal
    entry (bound 0) followed by the k-1, k-2, ... unbounded entries below it.
    """
    lower = [float(v) for v in lower]
    blocks: list[int] = []
    pos = 0
    while pos < len(lower):
        if lower[pos] != 0.0:
            raise ValueError(f"theta entry {pos} should be a diagonal one (lower bound 0)")
        k = 1
        while pos + k < len(lower) and lower[pos + k] != 0.0:
            k += 1
        blocks.append(k)
        pos += k * (k + 1) // 2
    if pos != len(lower):
        raise ValueError(f"lower bounds {lower} do not split into whole terms")
    return blocks


def diagonal_positions(blocks: Sequence[int]) -> list[int]:
    """Where the diagonal entries of Lambda are in theta (the entries lme4 bounds by 0)."""
    out: list[int] = []
    pos = 0
    for k in blocks:
        for j in range(k):
            out.append(pos)
            pos += k - j
    return out


def min_diagonal(theta: Sequence[float], blocks: Sequence[int]) -> float:
    """The smallest diagonal entry of Lambda: below 1e-4 is lme4's ``isSingular``."""
    theta = np.asarray(theta, dtype=float)
    return float(min(abs(theta[p]) for p in diagonal_positions(blocks)))


def random_starts(
    blocks: Sequence[int],
    references: Sequence[Sequence[float]],
    n: int,
    rng: np.random.Generator,
) -> list[list[float]]:
    """``n`` random thetas around plausible values for a multi-start search.

    The scale of each random-effect column is the largest SD (relative to sigma) any of the
    ``references`` (thetas of fits to the same data) gives it; a column every reference puts
    at 0 gets a hundredth of its term's largest scale (or 0.1). Each start multiplies those
    scales by a log-uniform factor in [0.2, 5] and draws a random correlation matrix.
    """
    refs = [np.asarray(r, dtype=float) for r in references if r is not None and len(r)]
    starts: list[list[float]] = []
    for _ in range(n):
        theta: list[float] = []
        pos = 0
        for k in blocks:
            size = k * (k + 1) // 2
            scale = np.zeros(k)
            for ref in refs:
                cov = cov_from_theta(ref[pos : pos + size], k)
                scale = np.maximum(scale, np.sqrt(np.clip(np.diag(cov), 0.0, None)))
            top = float(scale.max()) if scale.max() > 0 else 10.0
            scale = np.where(scale > 0, scale, 0.01 * top)
            sd = scale * np.exp(rng.uniform(np.log(0.2), np.log(5.0), size=k))
            corr = random_correlation(k, rng)
            theta += theta_from_cov(corr * np.outer(sd, sd))
            pos += size
        starts.append(theta)
    return starts


def random_terms(formula: str) -> list[tuple[str, list[str]]]:
    """The random-effects terms of one of these designs' formulas, as written: (grouping
    factor, column names) each. ``(1 | a/b)`` is ``(1 | a) + (1 | a:b)``. Only the simple
    forms the designs use are understood (``1``, ``0``, covariate names, ``+``)."""
    terms: list[tuple[str, list[str]]] = []
    for lhs, group in re.findall(r"\(([^()|]+)\|([^()|]+)\)", formula):
        parts = [p.strip() for p in lhs.split("+")]
        cols = [] if "0" in parts else ["(Intercept)"]
        cols += [p for p in parts if p not in ("0", "1")]
        factors = [f.strip() for f in group.split("/")]
        for depth in range(1, len(factors) + 1):
            terms.append((":".join(factors[:depth]), cols))
    return terms


def theta_terms(formula: str, df: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """The random-effects terms in theta's order: lme4 puts them in decreasing order of their
    factor's number of levels when the formula's order is not that already (mkReTrms)."""
    terms = random_terms(formula)
    levels = [len(df.groupby(g.split(":"), observed=True)) for g, _ in terms]
    if any(b > a for a, b in zip(levels, levels[1:], strict=False)):
        order = np.argsort(levels, kind="stable")[::-1]
        terms = [terms[i] for i in order]
    return terms


def standardized_min_diagonal(
    theta: Sequence[float], terms: Sequence[tuple[str, list[str]]], df: pd.DataFrame
) -> float:
    """The smallest diagonal entry of Lambda once each term's covariates are centred (in a term
    with an intercept) and scaled to root mean square 1: how close the fit is to the boundary
    in a way that does not depend on the covariates' units (``x + 2010``, ``x * 1e3``),
    unlike lme4's ``isSingular``, which reads theta as it is."""
    theta = np.asarray(theta, dtype=float)
    pos, out = 0, math.inf
    for _, cols in terms:
        k = len(cols)
        lam = lambda_of_theta(theta[pos : pos + k * (k + 1) // 2], k)
        pos += k * (k + 1) // 2
        # Z_c = Z M with Z_c's covariate columns (x - m) / s: then Lambda_c = M^-1 Lambda
        m_inv = np.eye(k)
        has_intercept = cols[0] == "(Intercept)"
        for j, col in enumerate(cols):
            if col == "(Intercept)":
                continue
            x = df[col].to_numpy(dtype=float)
            mean = float(x.mean()) if has_intercept else 0.0
            scale = float(np.sqrt(np.mean((x - mean) ** 2)))
            m_inv[j, j] = scale
            if has_intercept:
                m_inv[0, j] = mean
        out = min(out, float(np.diag(lower_factor(m_inv @ lam)).min()))
    return out


def random_correlation(k: int, rng: np.random.Generator) -> np.ndarray:
    """A random k x k correlation matrix (normalised ``W W'`` with W of shape k x (k+1))."""
    if k == 1:
        return np.ones((1, 1))
    w = rng.normal(size=(k, k + 1))
    cov = w @ w.T
    d = np.sqrt(np.diag(cov))
    return np.asarray(cov / np.outer(d, d))


# --------------------------------------------------------------------------- simulation


@dataclass(frozen=True)
class Design:
    """A family of simulated data sets, one per seed."""

    name: str
    description: str
    build: Callable[[np.random.Generator, int], tuple[pd.DataFrame, str, dict[str, Any]]]


def _log_uniform(rng: np.random.Generator, low: float, high: float, size: Any = None) -> Any:
    return np.exp(rng.uniform(np.log(low), np.log(high), size=size))


def _reml(seed: int) -> bool:
    """Three seeds in four are REML fits, the fourth maximum likelihood."""
    return seed % 4 != 3


def _labels(prefix: str, n: int) -> np.ndarray:
    width = len(str(n))
    return np.array([f"{prefix}{i:0{width}d}" for i in range(n)])


def _term(sd: Sequence[float], corr: Any, sigma: float = 1.0) -> dict[str, Any]:
    sd = np.asarray(sd, dtype=float)
    corr = np.asarray(corr, dtype=float).reshape(len(sd), len(sd))
    cov = corr * np.outer(sd, sd)
    return {
        "sd": sd.tolist(),
        "corr": corr.tolist(),
        "theta": theta_from_cov(cov, sigma),
        "cov": cov.tolist(),
    }


def _draw_effects(rng: np.random.Generator, cov: np.ndarray, n: int) -> np.ndarray:
    """n draws from N(0, cov) for a possibly singular cov (via its eigendecomposition)."""
    vals, vecs = np.linalg.eigh(np.asarray(cov, dtype=float))
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))
    return np.asarray(rng.normal(size=(n, len(vals))) @ root.T)


def _groups(rng: np.random.Generator, low: int = 20, high: int = 80) -> tuple[int, int]:
    """Number of groups and rows per group, at most MAX_ROWS rows in all."""
    n_groups = int(rng.integers(low, high + 1))
    per = int(rng.integers(5, min(20, MAX_ROWS // n_groups) + 1))
    return n_groups, per


def _slope_frame(
    rng: np.random.Generator,
    cov: np.ndarray,
    n_groups: int,
    per: int,
    z: np.ndarray | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows of ``y = b0 + b1 z + u0_g + u1_g z + e`` (sigma 1) with ``(u0, u1) ~ N(0, cov)``."""
    g = np.repeat(np.arange(n_groups), per)
    if z is None:
        z = rng.normal(size=g.size)
    beta = rng.normal(0.0, 1.0, size=2)
    u = _draw_effects(rng, cov, n_groups)
    y = beta[0] + beta[1] * z + u[g, 0] + u[g, 1] * z + rng.normal(size=g.size)
    df = pd.DataFrame({"y": y, "x": z, "g": _labels("g", n_groups)[g]})
    return df, beta


def _build_slope(rng: np.random.Generator, seed: int) -> tuple[pd.DataFrame, str, dict[str, Any]]:
    sd = _log_uniform(rng, 0.05, 2.0, size=2)
    rho = rng.uniform(-0.9, 0.9)
    corr = np.array([[1.0, rho], [rho, 1.0]])
    n_groups, per = _groups(rng)
    df, beta = _slope_frame(rng, corr * np.outer(sd, sd), n_groups, per)
    truth = {"sigma": 1.0, "beta": beta.tolist(), "terms": {"g": _term(sd, corr)}}
    return df, "y ~ x + (1 + x | g)", truth


def _build_three(rng: np.random.Generator, seed: int) -> tuple[pd.DataFrame, str, dict[str, Any]]:
    sd = _log_uniform(rng, 0.05, 2.0, size=3)
    corr = random_correlation(3, rng)
    cov = corr * np.outer(sd, sd)
    n_groups = int(rng.integers(30, 81))
    per = int(rng.integers(6, min(20, MAX_ROWS // n_groups) + 1))
    g = np.repeat(np.arange(n_groups), per)
    x1 = rng.normal(size=g.size)
    x2 = 0.3 * x1 + rng.normal(size=g.size)
    beta = rng.normal(0.0, 1.0, size=3)
    u = _draw_effects(rng, cov, n_groups)
    y = (
        beta[0]
        + beta[1] * x1
        + beta[2] * x2
        + u[g, 0]
        + u[g, 1] * x1
        + u[g, 2] * x2
        + rng.normal(size=g.size)
    )
    df = pd.DataFrame({"y": y, "x1": x1, "x2": x2, "g": _labels("g", n_groups)[g]})
    truth = {"sigma": 1.0, "beta": beta.tolist(), "terms": {"g": _term(sd, corr)}}
    return df, "y ~ x1 + x2 + (1 + x1 + x2 | g)", truth


def _build_two_terms(
    rng: np.random.Generator, seed: int
) -> tuple[pd.DataFrame, str, dict[str, Any]]:
    sd = _log_uniform(rng, 0.05, 2.0, size=2)
    n_groups, per = _groups(rng)
    df, beta = _slope_frame(rng, np.diag(sd**2), n_groups, per)
    truth = {
        "sigma": 1.0,
        "beta": beta.tolist(),
        "terms": {"g": _term(sd[:1], [[1.0]]), "g.1": _term(sd[1:], [[1.0]])},
    }
    return df, "y ~ x + (1 | g) + (0 + x | g)", truth


def _build_nested(rng: np.random.Generator, seed: int) -> tuple[pd.DataFrame, str, dict[str, Any]]:
    n_a = int(rng.integers(10, 31))
    n_b = int(rng.integers(2, 6))
    per = int(rng.integers(3, min(8, MAX_ROWS // (n_a * n_b)) + 1))
    a = np.repeat(np.arange(n_a), n_b * per)
    b = np.tile(np.repeat(np.arange(n_b), per), n_a)
    cell = a * n_b + b
    x = rng.normal(size=a.size)
    beta = rng.normal(0.0, 1.0, size=2)
    sd_ab = _log_uniform(rng, 0.05, 2.0)
    if seed % 2 == 0:
        sd = _log_uniform(rng, 0.05, 2.0, size=2)
        rho = rng.uniform(-0.9, 0.9)
        corr = np.array([[1.0, rho], [rho, 1.0]])
        u = _draw_effects(rng, corr * np.outer(sd, sd), n_a)
        formula = "y ~ x + (1 + x | a) + (1 | a:b)"
        top = _term(sd, corr)
        eta = u[a, 0] + u[a, 1] * x
    else:
        sd = _log_uniform(rng, 0.05, 2.0, size=1)
        corr = np.ones((1, 1))
        u = _draw_effects(rng, corr * sd[0] ** 2, n_a)
        formula = "y ~ x + (1 | a/b)"
        top = _term(sd, corr)
        eta = u[a, 0]
    v = rng.normal(0.0, sd_ab, size=n_a * n_b)
    y = beta[0] + beta[1] * x + eta + v[cell] + rng.normal(size=a.size)
    # b's labels repeat across a (b1 of a1 is not b1 of a2): only a:b identifies a cell
    df = pd.DataFrame({"y": y, "x": x, "a": _labels("a", n_a)[a], "b": _labels("b", n_b)[b]})
    truth = {
        "sigma": 1.0,
        "beta": beta.tolist(),
        "terms": {"a": top, "a:b": _term([sd_ab], [[1.0]])},
    }
    return df, formula, truth


def _build_crossed(rng: np.random.Generator, seed: int) -> tuple[pd.DataFrame, str, dict[str, Any]]:
    n_s = int(rng.integers(15, 41))
    n_i = int(rng.integers(10, 31))
    pairs = np.array([(s, i) for s in range(n_s) for i in range(n_i)])
    if len(pairs) > MAX_ROWS:  # each subject sees a random subset of the items
        pairs = pairs[np.sort(rng.choice(len(pairs), size=MAX_ROWS, replace=False))]
    s, i = pairs[:, 0], pairs[:, 1]
    x = rng.normal(size=n_i)[i] + 0.5 * rng.normal(size=len(s))
    beta = rng.normal(0.0, 1.0, size=2)
    sd_i = _log_uniform(rng, 0.05, 2.0)
    if seed % 2 == 0:
        sd = _log_uniform(rng, 0.05, 2.0, size=1)
        corr = np.ones((1, 1))
        formula = "y ~ x + (1 | s) + (1 | i)"
        u = _draw_effects(rng, corr * sd[0] ** 2, n_s)
        eta = u[s, 0]
    else:
        sd = _log_uniform(rng, 0.05, 2.0, size=2)
        rho = rng.uniform(-0.9, 0.9)
        corr = np.array([[1.0, rho], [rho, 1.0]])
        formula = "y ~ x + (1 + x | s) + (1 | i)"
        u = _draw_effects(rng, corr * np.outer(sd, sd), n_s)
        eta = u[s, 0] + u[s, 1] * x
    w = rng.normal(0.0, sd_i, size=n_i)
    y = beta[0] + beta[1] * x + eta + w[i] + rng.normal(size=len(s))
    df = pd.DataFrame({"y": y, "x": x, "s": _labels("s", n_s)[s], "i": _labels("i", n_i)[i]})
    truth = {
        "sigma": 1.0,
        "beta": beta.tolist(),
        "terms": {"s": _term(sd, corr), "i": _term([sd_i], [[1.0]])},
    }
    return df, formula, truth


#: The boundary design's truths, one per seed in turn: (kind, description).
BOUNDARY_KINDS = (
    ("intercept_sd_0", "intercept SD exactly 0"),
    ("slope_sd_0", "slope SD exactly 0"),
    ("corr_plus_1", "correlation exactly +1 (rank-1 covariance)"),
    ("corr_minus_1", "correlation exactly -1 (rank-1 covariance)"),
    ("both_sd_0", "no random effects at all (both SDs 0)"),
    ("intercept_sd_near_0", "intercept SD 0.01-0.05"),
    ("slope_sd_near_0", "slope SD 0.01-0.05"),
    ("corr_near_1", "|correlation| 0.98-0.999"),
)


def _build_boundary(
    rng: np.random.Generator, seed: int
) -> tuple[pd.DataFrame, str, dict[str, Any]]:
    kind = BOUNDARY_KINDS[seed % len(BOUNDARY_KINDS)][0]
    sd = _log_uniform(rng, 0.2, 2.0, size=2)
    rho = rng.uniform(-0.5, 0.5)
    if kind == "intercept_sd_0":
        sd[0] = 0.0
    elif kind == "slope_sd_0":
        sd[1] = 0.0
    elif kind == "corr_plus_1":
        rho = 1.0
    elif kind == "corr_minus_1":
        rho = -1.0
    elif kind == "both_sd_0":
        sd[:] = 0.0
    elif kind == "intercept_sd_near_0":
        sd[0] = rng.uniform(0.01, 0.05)
    elif kind == "slope_sd_near_0":
        sd[1] = rng.uniform(0.01, 0.05)
    elif kind == "corr_near_1":
        rho = rng.uniform(0.98, 0.999) * rng.choice([-1.0, 1.0])
    corr = np.array([[1.0, rho], [rho, 1.0]])
    n_groups, per = _groups(rng)
    df, beta = _slope_frame(rng, corr * np.outer(sd, sd), n_groups, per)
    truth = {"sigma": 1.0, "beta": beta.tolist(), "kind": kind, "terms": {"g": _term(sd, corr)}}
    return df, "y ~ x + (1 + x | g)", truth


#: The uncentred design's covariates, one per seed in turn.
UNCENTRED_KINDS = ("year", "times_1e3", "times_1e-3_plus_100", "uniform_1_10000")


def _build_uncentred(
    rng: np.random.Generator, seed: int
) -> tuple[pd.DataFrame, str, dict[str, Any]]:
    kind = UNCENTRED_KINDS[seed % len(UNCENTRED_KINDS)]
    sd = _log_uniform(rng, 0.05, 2.0, size=2)
    rho = rng.uniform(-0.9, 0.9)
    corr = np.array([[1.0, rho], [rho, 1.0]])
    n_groups, per = _groups(rng)
    # z is the covariate on a unit scale (what the effects were drawn for); x = shift + scale * z
    # is what the data set holds
    if kind == "year":
        years = np.tile(np.arange(per, dtype=float), n_groups)  # 0, 1, ..., per - 1
        shift, scale = 2010.0 + (per - 1) / 2.0, 1.0
        x = 2010.0 + years
        z = x - shift
    elif kind == "times_1e3":
        z = rng.normal(size=n_groups * per)
        shift, scale = 0.0, 1e3
        x = z * 1e3
    elif kind == "times_1e-3_plus_100":
        z = rng.normal(size=n_groups * per)
        shift, scale = 100.0, 1e-3
        x = z * 1e-3 + 100.0
    else:
        x = rng.uniform(1.0, 10_000.0, size=n_groups * per)
        shift, scale = 5000.5, 10_000.0 / np.sqrt(12.0)
        z = (x - shift) / scale
    cov_z = corr * np.outer(sd, sd)
    df, beta = _slope_frame(rng, cov_z, n_groups, per, z=z)
    df["x"] = x
    # the same model in x: u0' = u0 - u1 shift / scale, u1' = u1 / scale
    t = np.array([[1.0, -shift / scale], [0.0, 1.0 / scale]])
    cov_x = t @ cov_z @ t.T
    sd_x = np.sqrt(np.diag(cov_x))
    corr_x = cov_x / np.outer(sd_x, sd_x)
    # theta from the transformed factor: cov_x itself has lost the small Schur complement
    theta_x = theta_of_factor(lower_factor(t @ lambda_of_theta(theta_from_cov(cov_z), 2)))
    beta_x = [beta[0] - beta[1] * shift / scale, beta[1] / scale]
    truth = {
        "sigma": 1.0,
        "beta": beta_x,
        "kind": kind,
        "shift": shift,
        "scale": scale,
        "terms": {"g": {**_term(sd_x, corr_x), "theta": theta_x}},
        "terms_unit_scale": {"g": _term(sd, corr)},
    }
    return df, "y ~ x + (1 + x | g)", truth


DESIGNS: dict[str, Design] = {
    d.name: d
    for d in (
        Design("slope", "y ~ x + (1 + x | g), SDs 0.05-2, |rho| <= 0.9", _build_slope),
        Design("three", "y ~ x1 + x2 + (1 + x1 + x2 | g), random 3 x 3 covariance", _build_three),
        Design("two_terms", "y ~ x + (1 | g) + (0 + x | g)", _build_two_terms),
        Design("nested", "(1 + x | a) + (1 | a:b) / (1 | a/b), alternating", _build_nested),
        Design("crossed", "(1 | s) + (1 | i) / (1 + x | s) + (1 | i), alternating", _build_crossed),
        Design("boundary", "(1 + x | g), truths on and near the boundary", _build_boundary),
        Design("uncentred", "(1 + x | g), x: years, z 1e3, z 1e-3 + 100, 1..1e4", _build_uncentred),
    )
}


def make(design: str, seed: int) -> tuple[pd.DataFrame, str, bool]:
    """The data set, formula and REML flag of one design and seed (the truth is in
    ``data.attrs["truth"]``)."""
    if design not in DESIGNS:
        raise KeyError(f"unknown design {design!r}; known: {', '.join(DESIGNS)}")
    if seed < 0:
        raise ValueError("seed must be >= 0")
    rng = np.random.default_rng([seed, zlib.crc32(design.encode())])
    df, formula, truth = DESIGNS[design].build(rng, seed)
    reml = _reml(seed)
    truth = {"design": design, "seed": seed, "reml": reml, **truth}
    df.attrs["name"] = f"{design}-{seed}"
    df.attrs["truth"] = truth
    return df, formula, reml
