"""Multiplicity adjustments of a family of tests: adjusted p-values and the critical value of
simultaneous confidence intervals.

Tukey's honest significant difference uses the studentized range distribution of the
family's ``n_means`` means (a pairwise difference's ``|t| sqrt(2)``); Bonferroni, Šidák and
Holm (1979) and Benjamini & Hochberg's false discovery rate ("fdr") only the family's size.
Step-down methods (Holm, fdr) have no simultaneous intervals; their intervals are
Bonferroni's, as emmeans reports them.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import integrate, special, stats

from mixedmodels.errors import ModelSpecError

__all__ = ["ADJUSTMENTS", "adjusted_p", "critical_value", "tukey_sf"]

#: The adjustments :func:`adjusted_p` knows.
ADJUSTMENTS = ("tukey", "bonferroni", "holm", "sidak", "fdr", "none")


def check_adjust(adjust: str) -> str:
    """``adjust`` in lower case, when it is one of :data:`ADJUSTMENTS`."""
    name = str(adjust).lower()
    if name not in ADJUSTMENTS:
        raise ModelSpecError(f"adjust must be one of {', '.join(ADJUSTMENTS)}, not {adjust!r}")
    return name


#: Below this, a studentized range tail probability is integrated directly.
TAIL = 1e-7


def _range_sf(w: float, k: int) -> float:
    """``P(range of k standard normals > w)``, as
    ``k int phi(z) [(1 - Phi(z))^(k-1) - (Phi(z + w) - Phi(z))^(k-1)] dz``, whose bracket is
    ``Q(z + w)`` times a sum of positive terms (``Q`` the upper tail), so that nothing is
    lost to cancellation however small the probability."""

    def integrand(z: float) -> float:
        above = special.ndtr(-z)
        tail = special.ndtr(-(z + w))
        inside = above - tail
        terms = sum(above**j * inside ** (k - 2 - j) for j in range(k - 1))
        return float(np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi) * tail * terms)

    value = integrate.quad(integrand, -np.inf, np.inf, epsabs=0.0, epsrel=1e-11, limit=200)[0]
    return float(k * value)


def tukey_sf(q: float, k: int, df: float) -> float:
    """``P(Q > q)`` for the studentized range of ``k`` means with ``df`` degrees of freedom.

    scipy's ``studentized_range.sf`` where it exceeds :data:`TAIL`; further out it loses
    relative accuracy (as R's ``ptukey`` does: at ``q = 11.66, k = 6, df = 210`` scipy gives
    2.04e-13 and R 2.87e-13, where the integral is 2.638e-13), and the tail is integrated
    directly: the range's tail over the density of ``s = sqrt(chi^2_df / df)``."""
    if not np.isfinite(q):
        return float("nan")
    p = float(stats.studentized_range.sf(q, k, df))
    if p > TAIL:
        return p
    if not np.isfinite(df):
        return _range_sf(q, k)
    log_norm = np.log(2.0) + 0.5 * df * np.log(0.5 * df) - special.gammaln(0.5 * df)

    def integrand(s: float) -> float:
        return float(np.exp(log_norm + (df - 1.0) * np.log(s) - 0.5 * df * s * s)) * _range_sf(
            q * s, k
        )

    spread = 1.0 / np.sqrt(2.0 * df)
    lo, hi = max(1e-12, 1.0 - 40.0 * spread), 1.0 + 40.0 * spread
    points = [1.0 + j * spread for j in range(-8, 9, 2) if lo < 1.0 + j * spread < hi]
    value = integrate.quad(integrand, lo, hi, epsabs=0.0, epsrel=1e-9, limit=200, points=points)
    return float(value[0])


def _tukey_p(t: np.ndarray, df: np.ndarray, n_means: int) -> np.ndarray:
    q = np.abs(t) * np.sqrt(2.0)
    return np.array([tukey_sf(float(qi), n_means, float(d)) for qi, d in zip(q, df, strict=True)])


def adjusted_p(
    p: np.ndarray, t: np.ndarray, df: np.ndarray, adjust: str, n_means: int
) -> np.ndarray:
    """The adjusted p-values of one family of two-sided tests.

    Parameters
    ----------
    p : numpy.ndarray
        The unadjusted p-values.
    t, df : numpy.ndarray
        The statistics and their degrees of freedom (``inf`` for z tests): Tukey's method
        reads them.
    adjust : str
        One of :data:`ADJUSTMENTS`.
    n_means : int
        The number of means the family compares (Tukey's range distribution).
    """
    m = p.size
    if adjust == "none" or m <= 1 and adjust != "tukey":
        return p.copy()
    if adjust == "tukey":
        return _tukey_p(t, df, n_means) if n_means >= 2 else p.copy()
    if adjust == "bonferroni":
        return np.asarray(np.minimum(1.0, p * m), dtype=np.float64)
    if adjust == "sidak":
        out: np.ndarray = -np.expm1(m * np.log1p(-np.minimum(p, 1.0)))
        return out
    order = np.argsort(p, kind="stable")
    out = np.empty(m)
    if adjust == "holm":
        stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
        out[order] = np.minimum(1.0, stepped)
        return out
    # fdr (Benjamini-Hochberg): the running minimum from the largest p-value down
    scaled = p[order] * m / np.arange(1, m + 1)
    out[order] = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    return out


@functools.lru_cache(maxsize=256)
def _tukey_quantile(level: float, n_means: int, df: float) -> float:
    return float(stats.studentized_range.ppf(level, n_means, df))


def critical_value(level: float, df: float, adjust: str, m: int, n_means: int) -> float:
    """The multiplier of the standard error in an interval of confidence ``level``, jointly
    for a family of ``m`` estimates (Tukey's: of ``n_means`` means compared pairwise)."""
    alpha = 1.0 - level
    if adjust == "tukey" and n_means >= 2:
        return _tukey_quantile(level, n_means, float(df)) / float(np.sqrt(2.0))
    if adjust in ("bonferroni", "holm", "fdr") and m > 1:
        alpha = alpha / m
    elif adjust == "sidak" and m > 1:
        alpha = -np.expm1(np.log1p(-alpha) / m)
    if np.isfinite(df):
        return float(stats.t.ppf(1.0 - alpha / 2.0, df))
    return float(stats.norm.ppf(1.0 - alpha / 2.0))
