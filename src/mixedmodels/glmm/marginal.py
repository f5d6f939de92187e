"""Population-averaged (marginal) means of a GLMM: ``E[y | x] = E_b[g^{-1}(x'beta + z'b)]``,
the random effects integrated out, where ``predict(re=False)`` gives ``g^{-1}(x'beta)``, the
mean at ``b = 0`` (lme4 lists the marginal mean among what it does not provide).

For one row, ``z'b`` is normal with mean 0 and variance ``v = sum_t z_t' Sigma_t z_t`` over
the random-effect terms (independent blocks), so the mean is a one-dimensional integral
``int g^{-1}(eta + sqrt(v) u) phi(u) du`` however many terms the model has. It has a closed
form for the identity (``eta``), log (``exp(eta + v / 2)``), probit
(``Phi(eta / sqrt(1 + v))``) and square-root (``eta^2 + v``) links; for logit and cloglog
it is integrated over ``|u| <= 10`` by Gauss-Legendre rules on panels refined where
``g^{-1}`` turns (``u`` near ``-eta / sqrt(v)``), to about 1e-12. Under the inverse links
the integrand has a pole at ``eta + sqrt(v) u = 0`` and the mean does not exist.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from mixedmodels.errors import ModelSpecError

__all__ = ["INTEGRABLE_LINKS", "expected_inverse_link"]

#: The links whose marginal mean exists and is computed.
INTEGRABLE_LINKS = ("identity", "log", "logit", "probit", "cloglog", "sqrt")

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(20)
_REACH = 10.0  # |u| beyond this holds 1.5e-23 of the normal mass


def _panel_edges(turn: float, width: float) -> np.ndarray:
    """Panels of at most 0.5 over ``[-REACH, REACH]``, and of at most ``width / 2`` within
    eight widths of ``turn``."""
    coarse = np.linspace(-_REACH, _REACH, 41)
    lo, hi = max(-_REACH, turn - 8.0 * width), min(_REACH, turn + 8.0 * width)
    fine = np.linspace(lo, hi, 33) if hi > lo else np.empty(0)
    return np.unique(np.concatenate([coarse, fine]))


def _integrate(inverse, eta: np.ndarray, sd: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    out = np.empty(eta.size)
    for i, (e, s) in enumerate(zip(eta, sd, strict=True)):
        if s == 0.0:
            out[i] = inverse(np.array([e]))[0]
            continue
        edges = _panel_edges(-e / s, 1.0 / s)
        half = 0.5 * np.diff(edges)
        mid = 0.5 * (edges[1:] + edges[:-1])
        u = (mid[:, None] + half[:, None] * _NODES[None, :]).ravel()
        w = (half[:, None] * _WEIGHTS[None, :]).ravel()
        density = np.exp(-0.5 * u * u) / np.sqrt(2.0 * np.pi)
        out[i] = float(np.sum(w * density * inverse(e + s * u)))
    return out


def _cloglog_inverse(x: np.ndarray) -> np.ndarray:
    return np.asarray(-np.expm1(-np.exp(np.minimum(x, 700.0))))


def expected_inverse_link(link: str, eta: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """``E[g^{-1}(eta + e)]`` for ``e ~ N(0, variance)``, row by row."""
    eta = np.asarray(eta, dtype=np.float64)
    variance = np.asarray(variance, dtype=np.float64)
    if link == "identity":
        return eta.copy()
    if link == "log":
        return np.asarray(np.exp(eta + 0.5 * variance))
    if link == "probit":
        return np.asarray(special.ndtr(eta / np.sqrt(1.0 + variance)))
    if link == "sqrt":
        return np.asarray(eta * eta + variance)
    sd = np.sqrt(variance)
    if link == "logit":
        return _integrate(special.expit, eta, sd)
    if link == "cloglog":
        return _integrate(_cloglog_inverse, eta, sd)
    raise ModelSpecError(
        f"the marginal mean under the {link} link does not exist: the mean is 1 / (eta + z'b) "
        "(or its square root), which has a pole where the normal random effects reach "
        f"eta + z'b = 0. Links with a marginal mean: {', '.join(INTEGRABLE_LINKS)}"
    )


def random_effect_variance(
    frame: Any, layout: Any, theta: np.ndarray, data: pd.DataFrame
) -> np.ndarray:
    """``Var(z'b)`` of each row of ``data``: ``sum_t z_t' T_t T_t' z_t`` over the layout's
    blocks, ``T_t`` the blocks' covariance factors at ``theta`` (lme4's order), the rows of
    ``Z`` encoded as the fit encoded its own."""
    from mixedmodels.design.materialize import encode_new

    total = np.zeros(len(data))
    templates = layout.theta_map().factors(np.asarray(theta))
    for block, T in zip(layout.blocks, templates, strict=True):
        Z = np.zeros((len(data), block.k))
        for t, start, k in block.term_columns:
            term = frame.terms[t]
            Z[:, start : start + k] = encode_new(
                term.encoding, data, f"random term {term.spec.source}"
            )
        total += np.einsum("ij,ij->i", Z @ T, Z @ T)
    return total
