"""Estimated marginal means and contrasts (:func:`emmeans`)."""

from mixedmodels.emm.means import Contrasts, MarginalMeans, emmeans

__all__ = ["Contrasts", "MarginalMeans", "emmeans"]
