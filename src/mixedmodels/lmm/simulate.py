"""Responses simulated from a fitted LMM: y* = X beta + Z b* + offset + e*."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mixedmodels.lmm.record import LmmRecord

__all__ = ["simulate_responses"]


def simulate_responses(
    fit: LmmRecord,
    n: int,
    rng: np.random.Generator,
    re: str,
    colour: Callable[[np.ndarray], np.ndarray] | None = None,
    *,
    beta: np.ndarray | None = None,
    theta: np.ndarray | None = None,
    sigma: float | None = None,
) -> np.ndarray:
    """``(nobs, n)`` simulated responses; see :meth:`LmmResult.simulate`. ``colour``
    turns the independent standard normal residuals into correlated ones (a residual
    correlation structure's ``W^{-1} z``). ``beta``, ``theta`` and ``sigma`` replace the
    fit's parameters (a power analysis simulates an assumed effect on a fit's design)."""
    if re not in ("new", "conditional"):
        raise ValueError(f"re must be 'new' or 'conditional', not {re!r}")
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive whole number, not {n!r}")
    frame, layout = fit._frame, fit._layout
    overridden = beta is not None or theta is not None or sigma is not None
    beta = fit.beta if beta is None else beta
    theta = fit.theta if theta is None else theta
    sigma = fit.sigma if sigma is None else sigma
    nobs = frame.nobs
    scale = sigma if frame.weights is None else sigma / np.sqrt(frame.weights)
    standard = rng.standard_normal((nobs, n))
    if colour is not None:
        standard = colour(standard)
    noise = standard * np.reshape(scale, (-1, 1))
    if re == "conditional":
        if overridden:
            raise ValueError("conditional simulations keep the fit's parameters")
        mean = fit.fitted.to_numpy()[frame.rows]
        return np.asarray(mean[:, None] + noise)
    mean = frame.X @ beta
    if frame.offset is not None:
        mean = mean + frame.offset
    out = np.repeat(mean[:, None], n, axis=1) + noise
    templates = fit._theta_map.factors(theta)
    for block, T in zip(layout.blocks, templates, strict=True):
        u = rng.standard_normal((n, block.n_levels, block.k)) * sigma
        b = u @ T.T  # (n, m, k): b = Lambda u
        rows = b[:, block.factor.codes, :]  # (n, nobs, k)
        out += np.einsum("ik,sik->is", block.matrix, rows)
    return np.asarray(out)
