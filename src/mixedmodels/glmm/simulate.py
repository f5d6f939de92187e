"""Responses simulated from a fitted GLMM: new random effects ``b* ~ N(0, Lambda Lambda')``
(or the conditional modes), ``eta* = X beta + Z b* + offset``, and draws from the family at
``mu* = g^{-1}(eta*)`` with the fit's dispersion (row by row under a dispersion model) and
structural zeros with the zero-inflation model's probabilities."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mixedmodels.errors import ModelSpecError
from mixedmodels.glmm.family import Family
from mixedmodels.glmm.zeroinflation import ZeroInflated

if TYPE_CHECKING:
    from mixedmodels.glmm.result import GlmmResult

__all__ = ["simulate_responses"]


def _family_of_rows(
    fit: GlmmResult, dispersion: float | None = None
) -> tuple[Family, float | np.ndarray]:
    """The family at the fit's dispersion (or at ``dispersion``) in the rows of the fit
    (zero-inflated where the fit is), and that dispersion."""
    model = fit._model
    assert model is not None
    rows = model.frame.rows
    sigma = np.array(fit.dispersion if dispersion is None else dispersion)
    base = model.family
    phi = base.dispersion_of_sigma(sigma[rows] if sigma.ndim else float(sigma))
    at = base.with_dispersion(phi)
    if fit.zi_names:
        pi = 1.0 / (1.0 + np.exp(-np.array(fit._zi_eta)[rows]))
        at = ZeroInflated(at.link, at, pi)
    return at, phi


def simulate_responses(
    fit: GlmmResult,
    n: int,
    rng: np.random.Generator,
    re: str,
    *,
    beta: np.ndarray | None = None,
    theta: np.ndarray | None = None,
    dispersion: float | None = None,
) -> np.ndarray:
    """``(nobs, n)`` simulated responses; see :meth:`GlmmResult.simulate`. ``beta``,
    ``theta`` and a scalar ``dispersion`` replace the fit's (a power analysis simulates an
    assumed effect on a fit's design)."""
    if re not in ("new", "conditional"):
        raise ValueError(f"re must be 'new' or 'conditional', not {re!r}")
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive whole number, not {n!r}")
    model = fit._model
    if model is None:
        raise ModelSpecError("this fit does not hold its model, so it cannot simulate")
    frame, layout = model.frame, model.layout
    weights = frame.weights if frame.weights is not None else np.ones(frame.nobs)
    if re == "conditional" and not (beta is None and theta is None and dispersion is None):
        raise ValueError("conditional simulations keep the fit's parameters")
    at, phi = _family_of_rows(fit, dispersion)
    fixed = frame.X @ np.array(fit.beta if beta is None else beta)
    if frame.offset is not None:
        fixed = fixed + frame.offset
    templates = layout.theta_map().factors(np.array(fit.theta if theta is None else theta))
    out = np.empty((frame.nobs, n))
    for s in range(n):
        if re == "conditional":
            eta = np.array(fit._eta)[frame.rows]
        else:
            eta = fixed.copy()
            for block, T in zip(layout.blocks, templates, strict=True):
                b = rng.standard_normal((block.n_levels, block.k)) @ T.T
                eta += np.einsum("ik,ik->i", block.matrix, b[block.factor.codes])
        out[:, s] = at.simulate(at.linkinv(eta), weights, phi, rng)
    return out
