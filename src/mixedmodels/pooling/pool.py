"""Complete, no and partial pooling of cluster means, from a real mixed-model fit.

For a random-intercept model the partial-pooling (BLUP) estimate of cluster j is
``mu_hat + alpha_j (ybar_j - mu_hat)`` with ``alpha_j = s_u^2 / (s_u^2 + s_e^2 / n_j)``:
small or noisy clusters borrow strength from the rest, large ones keep their own mean.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mixedmodels._data import as_dataframe, unknown_column_error
from mixedmodels.errors import DataError, SingularFitWarning

__all__ = [
    "PoolingResult",
    "icc",
    "design_effect",
    "effective_sample_size",
    "pooling",
    "shrinkage_factor",
]


@dataclass(frozen=True)
class PoolingResult:
    """The three estimators side by side.

    Attributes
    ----------
    table : pandas.DataFrame
        Per cluster: ``n, no_pooling, complete_pooling, partial_pooling, alpha,
        se_no_pooling, se_partial`` (and ``true_mean`` when the data carry it).
    sigma_u, sigma_e : float
        Estimated between- and within-cluster SDs (sigma_e is None for a GLMM).
    icc : float
    fit : LmmResult or GlmmResult
    mse : dict or None
        Each estimator's mean squared error against the true cluster means, when known.
    note : str
        A plain-language remark, e.g. when the between-cluster variance is estimated as 0.
    """

    table: pd.DataFrame
    sigma_u: float
    sigma_e: float | None
    icc: float
    fit: Any
    mse: dict[str, float] | None
    note: str


def icc(fit: Any) -> dict[str, float]:
    """Intraclass correlation per grouping factor (random-intercept variance over the
    total; for binomial/logit models on the latent scale, residual variance pi^2/3)."""
    vc = fit.varcorr
    intercepts = vc[(vc["term1"] == "(Intercept)") & vc["term2"].isna()]
    if "Residual" in set(vc["group"]):
        residual = float(vc.loc[vc["group"] == "Residual", "variance"].iloc[0])
    else:
        residual = np.pi**2 / 3
    total = float(intercepts["variance"].sum()) + residual
    return {
        str(g): float(v) / total
        for g, v in zip(intercepts["group"], intercepts["variance"], strict=True)
    }


def shrinkage_factor(n: Any, sigma_u: float, sigma_e: float) -> np.ndarray:
    """The weight ``alpha = s_u^2 / (s_u^2 + s_e^2 / n)`` that a cluster of size ``n``
    puts on its own mean (the rest goes to the grand mean)."""
    sizes = np.asarray(n, dtype=float)
    if np.any(sizes <= 0):
        raise DataError("cluster sizes must be positive")
    between = float(sigma_u) ** 2
    return np.asarray(between / (between + float(sigma_e) ** 2 / sizes))


def design_effect(icc: float, mean_size: float) -> float:
    """Kish's design effect ``1 + (m - 1) ICC``: how much clustering inflates the
    variance of a mean; the effective sample size is ``n / design_effect``."""
    if not 0 <= icc < 1:
        raise DataError(f"the ICC must lie in [0, 1), not {icc!r}")
    if not mean_size >= 1:
        raise DataError(f"the mean cluster size must be at least 1, not {mean_size!r}")
    return 1.0 + (mean_size - 1.0) * icc


def effective_sample_size(n: float, icc: float, mean_size: float) -> float:
    """The number of independent observations that ``n`` clustered ones are worth:
    ``n / design_effect(icc, mean_size)``."""
    if not n >= 0:
        raise DataError(f"the number of observations must be non-negative, not {n!r}")
    return float(n) / design_effect(icc, mean_size)


def pooling(
    data: Any,
    response: str = "y",
    group: str = "cluster",
    family: str = "gaussian",
    trials: str | None = None,
) -> PoolingResult:
    """Complete, no and partial pooling of each cluster's mean (or rate).

    Parameters
    ----------
    data : DataFrame or dict of arrays
    response, group : str
        Column names. For ``family="binomial"`` the response is 0/1, or a count of
        successes out of ``trials``.
    family : str
        ``"gaussian"`` (a linear mixed model) or any GLMM family of
        :func:`mixedmodels.glmm` by name (``"binomial"``, ``"poisson"``,
        ``"negative.binomial"``, ``"Gamma"``, ...), each on its default link. For a GLMM
        the partial-pooling estimate is the inverse link of the cluster's coefficient; its
        ``alpha`` is the shrinkage factor on the link scale, with the within-cluster
        variance of one observation there taken by the delta method at the overall mean
        (``phi V(mu) / mu'(eta)^2``; for binomial ``1 / (p (1 - p))``), and its ICC uses
        the latent-scale residual variance ``pi^2 / 3`` for the logit link and that delta
        method variance otherwise.
    """
    from mixedmodels.fitting import lmm
    from mixedmodels.glmm import glmm

    frame = as_dataframe(data)
    for column in (response, group) + ((trials,) if trials else ()):
        if column not in frame.columns:
            raise unknown_column_error(column, frame.columns, "pooling()")
    groups = frame[group].dropna()
    if groups.nunique() < 2:
        raise DataError(
            f"pooling needs at least two clusters in {group!r}; found {groups.nunique()}"
        )
    if frame[response].dtype.kind not in "biuf":
        raise DataError(f"the response {response!r} must be numeric, not {frame[response].dtype}")
    from mixedmodels.errors import ModelSpecError
    from mixedmodels.glmm.family import family as get_family

    fam = None
    if family != "gaussian":
        try:
            fam = get_family(family)
        except ModelSpecError as exc:
            raise DataError(f"pooling(): {exc}") from None
    if trials and (fam is None or fam.name != "binomial"):
        raise DataError("trials= is for a binomial response only")
    note = ""
    fit: Any
    # The model is fitted on a frame with fixed column names: column names (which may come
    # from an uploaded file) are never spliced into a formula, so never evaluated.
    fixed = pd.DataFrame(
        {"y": frame[response].to_numpy(), "cluster": frame[group].to_numpy()}, index=frame.index
    )
    if isinstance(frame[group].dtype, pd.CategoricalDtype):
        fixed["cluster"] = frame[group]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SingularFitWarning)
        if family == "gaussian":
            fit = lmm("y ~ 1 + (1 | cluster)", fixed)
        elif trials:
            fixed["trials"] = frame[trials].to_numpy()
            fit = glmm("cbind(y, trials - y) ~ 1 + (1 | cluster)", fixed, family="binomial")
        else:
            assert fam is not None
            fit = glmm("y ~ 1 + (1 | cluster)", fixed, family=fam)
    if fit.is_singular or any(issubclass(w.category, SingularFitWarning) for w in caught):
        note = (
            "The between-cluster variance is estimated as zero: the data show no more "
            "spread between cluster means than chance alone would give, so partial "
            "pooling equals complete pooling here."
        )
    used = frame.loc[frame[[response, group]].notna().all(axis=1)]
    g = used[group].astype(str)
    key = next(iter(fit._random_columns))
    coef = fit.coef()[key]["(Intercept)"]
    levels = list(coef.index)
    re = fit.ranef()
    cond_sd = re.set_index("level")["cond_sd"]
    su = float(fit.varcorr["sd_cor"].iloc[0])
    if family == "gaussian":
        sizes = g.value_counts().reindex(levels).astype(float)
        means = used.groupby(g, observed=True)[response].mean().reindex(levels)
        se_e = float(fit.sigma)
        table = pd.DataFrame(
            {
                "n": sizes.to_numpy(),
                "no_pooling": means.to_numpy(),
                "complete_pooling": float(used[response].mean()),
                "partial_pooling": coef.reindex(levels).to_numpy(),
                "alpha": shrinkage_factor(sizes.to_numpy(), su, se_e),
                "se_no_pooling": se_e / np.sqrt(sizes.to_numpy()),
                "se_partial": cond_sd.reindex(levels).to_numpy(),
            },
            index=pd.Index(levels, name=group),
        )
        sigma_e: float | None = se_e
        icc_value = su**2 / (su**2 + se_e**2)
    else:
        assert fam is not None
        at = fit._family  # the family at the fit's dispersion
        n_trials = (used[trials] if trials else pd.Series(1.0, index=used.index)).astype(float)
        total = used[response].astype(float)  # successes, or the values themselves
        sizes = n_trials.groupby(g, observed=True).sum().reindex(levels).astype(float)
        sums = total.groupby(g, observed=True).sum().reindex(levels)
        overall = float(sums.sum() / sizes.sum())
        eta_j = coef.reindex(levels).to_numpy()
        partial = at.linkinv(eta_j)
        # one observation's variance, on the response scale and on the link scale
        phi = at.dispersion_of_sigma(fit.dispersion)
        one = np.ones(1)
        scale = float((one / at.weights_at(one, phi))[0])
        mean = np.array([overall])
        variance = float(at.variance(mean)[0]) * scale
        slope = float(at.mu_eta(at.linkfun(mean), mean)[0])
        on_link = variance / slope**2
        table = pd.DataFrame(
            {
                "n": sizes.to_numpy(),
                "no_pooling": (sums / sizes).to_numpy(),
                "complete_pooling": overall,
                "partial_pooling": partial,
                "alpha": su**2 / (su**2 + on_link / sizes.to_numpy()),
                "se_no_pooling": np.sqrt(variance / sizes.to_numpy()),
                "se_partial": cond_sd.reindex(levels).to_numpy()
                * np.abs(at.mu_eta(eta_j, partial)),
            },
            index=pd.Index(levels, name=group),
        )
        sigma_e = None
        residual = np.pi**2 / 3 if at.link.name == "logit" else on_link
        icc_value = su**2 / (su**2 + residual)
    mse = None
    if "true_mean" in used.columns:
        truth = used.groupby(g, observed=True)["true_mean"].first().reindex(levels)
        table["true_mean"] = truth.to_numpy()
        mse = {
            name: float(np.mean((table[name] - table["true_mean"]) ** 2))
            for name in ("no_pooling", "complete_pooling", "partial_pooling")
        }
    return PoolingResult(table, su, sigma_e, float(icc_value), fit, mse, note)
