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
) -> np.ndarray:
    """``(nobs, n)`` simulated responses; see :meth:`LmmResult.simulate`. ``colour``
    turns the independent standard normal residuals into correlated ones (a residual
    correlation structure's ``W^{-1} z``)."""
    if re not in ("new", "conditional"):
        raise ValueError(f"re must be 'new' or 'conditional', not {re!r}")
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive whole number, not {n!r}")
    frame, layout = fit._frame, fit._layout
    nobs = frame.nobs
    scale = fit.sigma if frame.weights is None else fit.sigma / np.sqrt(frame.weights)
    standard = rng.standard_normal((nobs, n))
    if colour is not None:
        standard = colour(standard)
    noise = standard * np.reshape(scale, (-1, 1))
    if re == "conditional":
        mean = fit.fitted.to_numpy()[frame.rows]
        return np.asarray(mean[:, None] + noise)
    mean = frame.X @ fit.beta
    if frame.offset is not None:
        mean = mean + frame.offset
    out = np.repeat(mean[:, None], n, axis=1) + noise
    templates = fit._theta_map.factors(fit.theta)
    for block, T in zip(layout.blocks, templates, strict=True):
        u = rng.standard_normal((n, block.n_levels, block.k)) * fit.sigma
        b = u @ T.T  # (n, m, k): b = Lambda u
        rows = b[:, block.factor.codes, :]  # (n, nobs, k)
        out += np.einsum("ik,sik->is", block.matrix, rows)
    return np.asarray(out)
