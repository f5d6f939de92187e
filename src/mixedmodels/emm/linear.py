"""Inference on linear functions ``l' beta`` of a fit's fixed effects: their covariance and,
for a linear mixed model, their denominator degrees of freedom.

``"kenward-roger"`` uses the adjusted covariance and Kenward & Roger's (1997) df (as
pbkrtest, which emmeans calls for lmer fits); ``"satterthwaite"`` the usual covariance and
Satterthwaite's df (as lmerTest); ``"asymptotic"`` the usual covariance and ``df = inf``
(z tests: every GLMM, as emmeans treats glmer fits).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mixedmodels.errors import ModelSpecError

__all__ = ["DDF_METHODS", "KR_ROW_LIMIT", "LinearInference", "default_ddf"]

#: The df methods :meth:`LinearInference.of` takes.
DDF_METHODS = ("kenward-roger", "satterthwaite", "asymptotic")

#: emmeans' default (``pbkrtest.limit``): Kenward-Roger for REML fits of up to this many
#: rows, Satterthwaite beyond.
KR_ROW_LIMIT = 3000


@dataclass(frozen=True, eq=False)
class LinearInference:
    """The covariance of ``beta`` a method uses and its df for any ``l' beta``.

    Attributes
    ----------
    beta : numpy.ndarray
    vcov : numpy.ndarray
    method : str
        One of :data:`DDF_METHODS`.
    pieces : object or None
        What the df need: :class:`~mixedmodels.inference.kenward_roger.KenwardRoger` or
        :class:`~mixedmodels.inference.satterthwaite.SatterthwaitePieces`.
    """

    beta: np.ndarray
    vcov: np.ndarray
    method: str
    pieces: Any = None

    @classmethod
    def of(cls, fit: Any, ddf: str | None = None) -> LinearInference:
        """The inference of a fitted LMM or GLMM (``ddf=None``: emmeans' default, see
        :func:`default_ddf`)."""
        from mixedmodels.glmm.result import GlmmResult

        beta = np.asarray(fit.beta, dtype=np.float64)
        if isinstance(fit, GlmmResult):
            if ddf not in (None, "asymptotic"):
                raise ModelSpecError(
                    f"a GLMM's marginal means are z tests (ddf='asymptotic'), not {ddf!r}"
                )
            return cls(beta, np.asarray(fit._vcov_array()), "asymptotic")
        method = default_ddf(fit) if ddf is None else str(ddf).lower()
        if method not in DDF_METHODS:
            raise ModelSpecError(f"ddf must be one of {', '.join(DDF_METHODS)}, not {ddf!r}")
        if method == "asymptotic":
            return cls(beta, np.asarray(fit._vcov_array()), method)
        if method == "kenward-roger":
            from mixedmodels.inference.kenward_roger import KenwardRoger

            kr = KenwardRoger.of(fit)
            return cls(beta, kr.Phi_A, method, kr)
        from mixedmodels.inference.satterthwaite import SatterthwaitePieces
        from mixedmodels.inference.varpar import VarianceFunctions

        pieces = SatterthwaitePieces.of(VarianceFunctions(fit))
        return cls(beta, pieces.V, method, pieces)

    def std_error(self, L: np.ndarray) -> np.ndarray:
        """The standard error of each row's ``l' beta``."""
        out: np.ndarray = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", L, self.vcov, L), 0.0))
        return out

    def df(self, L: np.ndarray) -> np.ndarray:
        """The df of each row's ``l' beta``."""
        if self.method == "asymptotic":
            return np.full(L.shape[0], np.inf)
        if self.method == "kenward-roger":
            return np.array([self.pieces.test(row[None, :], self.beta)[1] for row in L])
        return np.array([self.pieces.df(row) for row in L])


def default_ddf(fit: Any) -> str:
    """emmeans' choice for an lmer fit: Kenward-Roger for a REML fit of at most
    :data:`KR_ROW_LIMIT` rows, else Satterthwaite."""
    if getattr(fit, "reml", False) and fit.nobs <= KR_ROW_LIMIT:
        return "kenward-roger"
    return "satterthwaite"
