"""Estimated marginal means (least-squares means) and contrasts among them.

A marginal mean is the model's prediction at a combination of the variables asked for,
averaged over the reference grid's other variables (:mod:`mixedmodels.emm.grid`): a linear
function ``l' beta`` of the fixed effects, so its standard error is ``sqrt(l' V l)`` and, in a
linear mixed model, its df Kenward-Roger's or Satterthwaite's
(:mod:`mixedmodels.emm.linear`). A GLMM's means are formed on the link scale and, on the
response scale, transformed back with their standard errors by the delta method; the
intervals are the link scale's transformed. Contrasts are formed on the link scale; on the
response scale a log link's are ratios and a logit link's odds ratios.

The quantities are those of Searle, Speed & Milliken (1980) and of Lenth's emmeans for R, to
whose numbers the tests compare.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy

from mixedmodels.core.display import table_html, table_latex, table_markdown, table_text
from mixedmodels.emm.adjust import adjusted_p, check_adjust, critical_value
from mixedmodels.emm.contrasts import contrast_family
from mixedmodels.emm.grid import ReferenceGrid, reference_grid
from mixedmodels.emm.linear import LinearInference
from mixedmodels.errors import ModelSpecError

__all__ = ["Contrasts", "MarginalMeans", "emmeans"]

_RATIO_LINKS = {"log": "ratio", "logit": "odds.ratio"}


def _split(names: Any, what: str) -> list[str]:
    if names is None:
        return []
    if isinstance(names, str):
        parts = [p.strip() for p in re.split(r"[+:*]", names)]
        if any(not p for p in parts):
            raise ModelSpecError(f"{what} {names!r} is not a list of variables such as 'a + b'")
        return parts
    if isinstance(names, Sequence):
        return [str(n) for n in names]
    raise ModelSpecError(f"{what} must be a variable's name or a list of them, not {names!r}")


def _parse_specs(specs: Any, by: Any) -> tuple[list[str], list[str]]:
    """``"a"``, ``["a", "b"]``, ``"a + b"``, ``"~ a | b"`` (b the ``by`` variables)."""
    if isinstance(specs, str):
        text = specs.strip()
        if text.startswith("~"):
            text = text[1:]
        if "~" in text:
            raise ModelSpecError(
                f"specs {specs!r}: write the contrasts with .contrasts(), e.g. "
                "mm.emmeans(fit, 'recipe').contrasts('pairwise')"
            )
        if "|" in text:
            text, _, after = text.partition("|")
            if by is not None:
                raise ModelSpecError(f"specs {specs!r} has a '|' and by= is given too; use one")
            by = after
        specs = text
    spec_vars = _split(specs, "specs")
    by_vars = _split(by, "by")
    if not spec_vars:
        raise ModelSpecError("specs names no variable; give one, e.g. 'recipe'")
    repeated = [v for v in spec_vars if v in by_vars] + [
        v for i, v in enumerate(spec_vars + by_vars) if v in (spec_vars + by_vars)[:i]
    ]
    if repeated:
        raise ModelSpecError(f"the variable {repeated[0]!r} is named twice in specs and by")
    return spec_vars, by_vars


@dataclass(frozen=True)
class _Scale:
    """How the estimates are reported: the link and whether to transform back."""

    link: Any  # a mixedmodels.glmm.links.Link, or None for an LMM
    response: bool

    @property
    def name(self) -> str:
        if self.link is None or self.link.name == "identity":
            return "response"
        return "response" if self.response else f"link ({self.link.name})"


def _scale_of(fit: Any, type: str) -> _Scale:
    if type not in ("link", "response"):
        raise ModelSpecError(f"type must be 'link' or 'response', not {type!r}")
    link_name = getattr(fit, "link", None)
    if link_name is None:
        return _Scale(None, False)
    from mixedmodels.glmm.links import LINKS

    return _Scale(LINKS[link_name](), type == "response")


def _level(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, not {level!r}")
    return float(level)


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class MarginalMeans:
    """Estimated marginal means: what :func:`emmeans` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per mean: the variables' labels, ``estimate, std_error, df, lower, upper``
        (on the scale of :attr:`scale`).
    specs, by : tuple of str
    L : numpy.ndarray
        ``(n_means, p)``: each mean's linear function of the fixed effects.
    offset : numpy.ndarray
        Each mean's offset (0 without one), added to ``L @ beta``.
    inference : LinearInference
        The covariance and df method.
    weights : str
    level : float
    """

    table: pd.DataFrame
    specs: tuple[str, ...]
    by: tuple[str, ...]
    L: np.ndarray
    offset: np.ndarray
    estimable: np.ndarray
    inference: LinearInference
    weights: str
    level: float
    _scale: _Scale

    @property
    def scale(self) -> str:
        """``"response"``, or ``"link (logit)"`` and the like for a GLMM's link scale."""
        return self._scale.name

    @property
    def df_method(self) -> str:
        return self.inference.method

    def _groups(self) -> list[np.ndarray]:
        """The rows of each ``by`` group (one group without ``by``)."""
        if not self.by:
            return [np.arange(len(self.table))]
        key = self.table[list(self.by)].astype(str).agg("\x00".join, axis=1)
        return [np.flatnonzero(key.to_numpy() == k) for k in pd.unique(key)]

    def _labels(self, rows: np.ndarray) -> list[str]:
        parts = []
        for name in self.specs:
            values = self.table[name].to_numpy()[rows].astype(str)
            numeric = all(_is_number(v) for v in values)
            parts.append([f"{name}{v}" if numeric else v for v in values])
        return [" ".join(p) for p in zip(*parts, strict=True)]

    def contrasts(
        self,
        method: Any = "pairwise",
        adjust: str | None = None,
        *,
        ref: int = 0,
        level: float | None = None,
    ) -> Contrasts:
        """Contrasts among the means within each ``by`` group.

        Parameters
        ----------
        method : str, mapping or array-like
            ``"pairwise"``, ``"revpairwise"``, ``"trt.vs.ctrl"``, ``"consec"``, ``"eff"``,
            ``"poly"``; a mapping of names to coefficient vectors (one per mean in a group);
            or a matrix of them.
        adjust : str, optional
            ``"tukey"``, ``"bonferroni"``, ``"holm"``, ``"sidak"``, ``"fdr"`` or ``"none"``,
            within each group. The default is Tukey's for pairwise comparisons, Holm's for
            ``trt.vs.ctrl``, ``consec`` and ``eff``, none for ``poly`` and the user's own.
            Tukey's method applies to pairwise differences only; asked for others, Šidák's
            is used and the table's notes say so.
        ref : int
            The control's position for ``trt.vs.ctrl``.
        level : float, optional
            The intervals' confidence (the means' by default).
        """
        level = self.level if level is None else _level(level)
        rows_out: list[dict[str, Any]] = []
        L_rows: list[np.ndarray] = []
        notes: list[str] = []
        chosen = None
        for rows in self._groups():
            family = contrast_family(method, self._labels(rows), ref)
            chosen = check_adjust(family.default_adjust if adjust is None else adjust)
            used = chosen
            if chosen == "tukey" and not family.pairwise:
                used = "sidak"
                note = "Tukey's method is for pairwise differences; Sidak's is used instead"
                if note not in notes:
                    notes.append(note)
            L = family.coefficients @ self.L[rows]
            delta = family.coefficients @ self.offset[rows]
            ok = ~np.any((family.coefficients != 0) & ~self.estimable[rows], axis=1)
            estimate = np.where(ok, L @ self.inference.beta + delta, np.nan)
            se = np.where(ok, self.inference.std_error(L), np.nan)
            df = self.inference.df(L)
            t = estimate / se
            p = np.asarray(2.0 * scipy.stats.t.sf(np.abs(t), df), dtype=np.float64)
            p_adj = adjusted_p(p, t, df, used, len(rows))
            m = int(np.sum(ok))
            for i, name in enumerate(family.names):
                crit = critical_value(level, df[i], used, m, len(rows))
                row: dict[str, Any] = {"contrast": name}
                for b in self.by:
                    row[b] = self.table[b].iloc[rows[0]]
                row.update(
                    estimate=estimate[i],
                    std_error=se[i],
                    df=df[i],
                    lower=estimate[i] - crit * se[i],
                    upper=estimate[i] + crit * se[i],
                    statistic=t[i],
                    p_value=p_adj[i],
                )
                rows_out.append(row)
            L_rows.append(L)
        table = pd.DataFrame(rows_out)
        ratio = None
        if self._scale.response and self._scale.link is not None:
            ratio = _RATIO_LINKS.get(self._scale.link.name)
            if ratio is not None:
                value = np.exp(table["estimate"].to_numpy())
                table["std_error"] = value * table["std_error"].to_numpy()
                table["lower"] = np.exp(table["lower"].to_numpy())
                table["upper"] = np.exp(table["upper"].to_numpy())
                table["estimate"] = value
                table["contrast"] = table["contrast"].str.replace(" - ", " / ", regex=False)
            elif self._scale.link.name != "identity":
                notes.append(
                    f"contrasts are on the link scale ({self._scale.link.name}): "
                    "their differences have no ratio form on the response scale"
                )
        return Contrasts(
            table=table,
            by=self.by,
            L=_frozen(np.vstack(L_rows)),
            adjust=str(chosen),
            df_method=self.inference.method,
            ratio=ratio,
            level=level,
            notes=tuple(notes),
        )

    def pairs(self, adjust: str | None = None, *, reverse: bool = False) -> Contrasts:
        """Pairwise differences (``reverse``: ``b - a``) with Tukey's adjustment unless
        another is asked for."""
        return self.contrasts("revpairwise" if reverse else "pairwise", adjust)

    # -- display -------------------------------------------------------------------------
    def _notes(self) -> list[str]:
        notes = [f"Degrees of freedom: {self.inference.method}."]
        if self.weights != "equal":
            notes.append(f"Averaged with {self.weights} weights.")
        if self.scale != "response" or self._scale.response:
            notes.append(f"Scale: {self.scale}; confidence level {self.level:g}.")
        if not self.estimable.all():
            notes.append("NaN: not estimable (aliased fixed effects, or an empty cell).")
        return notes

    def __repr__(self) -> str:
        return table_text(self.table, self._notes())

    def _repr_html_(self) -> str:
        return table_html(self.table, self._notes(), "Estimated marginal means")

    def to_markdown(self, digits: int = 4) -> str:
        """The table as Markdown, its notes below."""
        return table_markdown(self.table, self._notes(), digits)

    def to_latex(self, digits: int = 4) -> str:
        """The table as a LaTeX ``tabular``, its notes below."""
        return table_latex(self.table, self._notes(), digits)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, eq=False)
class Contrasts:
    """Contrasts among marginal means: what :meth:`MarginalMeans.contrasts` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per contrast: ``contrast``, the ``by`` variables, ``estimate, std_error,
        df, lower, upper, statistic, p_value`` (p adjusted within each ``by`` group; on the
        response scale ``estimate`` is a ratio and the test is of the log ratio).
    L : numpy.ndarray
        ``(n_contrasts, p)``: each contrast's linear function of the fixed effects.
    adjust : str
    df_method : str
    ratio : str or None
        ``"ratio"`` or ``"odds.ratio"`` when the estimates are ratios.
    """

    table: pd.DataFrame
    by: tuple[str, ...]
    L: np.ndarray
    adjust: str
    df_method: str
    ratio: str | None
    level: float
    notes: tuple[str, ...] = ()

    def _notes(self) -> list[str]:
        return [
            f"Degrees of freedom: {self.df_method}.",
            f"P values adjusted: {self.adjust}.",
            *(["Estimates are " + self.ratio.replace(".", " ") + "s."] if self.ratio else []),
            *self.notes,
        ]

    def __repr__(self) -> str:
        return table_text(self.table, self._notes())

    def _repr_html_(self) -> str:
        return table_html(self.table, self._notes(), "Contrasts")

    def to_markdown(self, digits: int = 4) -> str:
        return table_markdown(self.table, self._notes(), digits)

    def to_latex(self, digits: int = 4) -> str:
        return table_latex(self.table, self._notes(), digits)


def _frame_of(fit: Any) -> Any:
    model = getattr(fit, "_model", None)
    frame = model.frame if model is not None else getattr(fit, "_frame", None)
    if frame is None or len(frame.data) == 0:
        raise ModelSpecError("this fit holds no data to build the reference grid from")
    return frame


def emmeans(
    fit: Any,
    specs: Any,
    by: Any = None,
    *,
    at: Mapping[str, Any] | None = None,
    weights: str = "equal",
    ddf: str | None = None,
    type: str = "link",
    level: float = 0.95,
) -> MarginalMeans:
    """Estimated marginal means of a fitted LMM or GLMM.

    Parameters
    ----------
    fit : LmmResult or GlmmResult
    specs : str or list of str
        The variables whose means are wanted: ``"recipe"``, ``["recipe", "temperature"]``,
        ``"recipe + temperature"``, or ``"~ recipe | temperature"`` (means of recipe within
        each temperature).
    by : str or list of str, optional
        Variables within whose levels the means (and their contrasts) are taken.
    at : dict, optional
        Values of grid variables: numeric covariates at these values instead of their mean,
        factors restricted to these levels.
    weights : {"equal", "proportional", "outer", "cells", "flat"}
        How the grid is averaged over the variables not named
        (:mod:`mixedmodels.emm.grid`).
    ddf : {"kenward-roger", "satterthwaite", "asymptotic"}, optional
        An LMM's degrees of freedom. The default is emmeans': Kenward-Roger for a REML fit of
        at most 3,000 rows, else Satterthwaite. A GLMM's are asymptotic (z).
    type : {"link", "response"}
        A GLMM's scale: the linear predictor's, or the mean's (delta-method standard errors,
        intervals transformed from the link scale).
    level : float
        The intervals' confidence.

    Returns
    -------
    MarginalMeans

    Examples
    --------
    >>> import mixedmodels as mm
    >>> cake = mm.datasets.load("cake")
    >>> cake["temperature"] = cake["temp"].astype(str)
    >>> fit = mm.lmm("angle ~ recipe * temperature + (1 | recipe:replicate)", cake)
    >>> emm = mm.emmeans(fit, "recipe", by="temperature")
    >>> tukey = emm.pairs()
    """
    level = _level(level)
    spec_vars, by_vars = _parse_specs(specs, by)
    frame = _frame_of(fit)
    scale = _scale_of(fit, type)
    grid: ReferenceGrid = reference_grid(frame, at)
    for name in spec_vars + by_vars:
        grid.variable(name)
    keep = spec_vars + by_vars
    groups, L, offset, estimable = grid.average(keep, weights)
    inference = LinearInference.of(fit, ddf)
    eta = np.where(estimable, L @ inference.beta + offset, np.nan)
    se = np.where(estimable, inference.std_error(L), np.nan)
    df = inference.df(L)
    crit = np.array([critical_value(level, d, "none", 1, 1) for d in df])
    lower, upper = eta - crit * se, eta + crit * se
    if scale.response and scale.link is not None:
        mu = scale.link.inverse(eta)
        se = np.abs(scale.link.mu_eta(eta, mu)) * se
        lo, up = scale.link.inverse(lower), scale.link.inverse(upper)
        lower, upper, eta = np.minimum(lo, up), np.maximum(lo, up), mu
    table = groups.copy() if keep else pd.DataFrame(index=range(1))
    table = table.assign(estimate=eta, std_error=se, df=df, lower=lower, upper=upper)
    return MarginalMeans(
        table=table,
        specs=tuple(spec_vars),
        by=tuple(by_vars),
        L=_frozen(L),
        offset=_frozen(offset),
        estimable=_frozen(estimable),
        inference=inference,
        weights=weights,
        level=level,
        _scale=scale,
    )
