"""A fit's summary as a report, for notebooks and documents.

A :class:`Report` holds what a summary shows (a title, the formula, a few facts such as
the criterion and the numbers of observations and groups, captioned tables, notes) and
renders it as Markdown, LaTeX or HTML with :mod:`mixedmodels.core.display`'s renderers.
:class:`Reportable` gives a result ``to_markdown``, ``to_latex`` and ``_repr_html_`` from
the report its ``_report`` builds; the functions below build the tables that the fits
share.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mixedmodels.core.display import (
    Cells,
    escape_latex,
    escape_markdown,
    frame_cells,
    html_table,
    latex_table,
    markdown_code,
    markdown_table,
)
from mixedmodels.core.summary import random_effects_rows

__all__ = [
    "Report",
    "Reportable",
    "coefficient_cells",
    "criteria_cells",
    "criteria_decimals",
    "measure_cells",
    "random_effects_cells",
]


@dataclass(frozen=True)
class Report:
    """What a fit's summary shows, ready to render.

    Attributes
    ----------
    title : str
        The model and how it was fitted (``"Linear mixed model fit by REML"``).
    formula : str
    facts : tuple of str
        Short lines: the criterion, the numbers of observations and groups.
    tables : tuple of (str, Cells)
        Captioned tables, in order.
    notes : tuple of str
        Warnings about the fit (a boundary fit, a convergence failure).
    """

    title: str
    formula: str
    facts: tuple[str, ...] = ()
    tables: tuple[tuple[str, Cells], ...] = ()
    notes: tuple[str, ...] = ()

    def markdown(self) -> str:
        """GitHub-flavoured Markdown: the title in bold, pipe tables under their
        captions, the notes in italics."""
        parts = [f"**{escape_markdown(self.title)}**", ""]
        parts.append(f"Formula: {markdown_code(self.formula)}")
        if self.facts:
            parts += ["", "  \n".join(escape_markdown(f) for f in self.facts)]
        for caption, cells in self.tables:
            parts += ["", f"{escape_markdown(caption)}:", "", markdown_table(cells)]
        parts += [p for n in self.notes for p in ("", f"*{escape_markdown(n)}*")]
        return "\n".join(parts)

    def latex(self) -> str:
        """LaTeX for a document's body: paragraphs and ``tabular`` environments with
        booktabs rules (``\\usepackage{booktabs}``)."""
        parts = [
            rf"\noindent\textbf{{{escape_latex(self.title)}}}\\",
            rf"Formula: \texttt{{{escape_latex(self.formula)}}}\par",
        ]
        if self.facts:
            parts += [r"\smallskip", r"\noindent " + "\\\\\n".join(map(escape_latex, self.facts))]
            parts[-1] += r"\par"
        for caption, cells in self.tables:
            parts += [r"\medskip", rf"\noindent {escape_latex(caption)}:\par", r"\smallskip"]
            parts += [r"\noindent", latex_table(cells), r"\par"]
        if self.notes:
            notes = escape_latex(" ".join(self.notes))
            parts += [r"\medskip", r"{\footnotesize " + notes + r"\par}"]
        return "\n".join(parts)

    def html(self) -> str:
        """An HTML fragment for Jupyter, every name escaped."""
        parts = [
            f"<div><p><b>{html.escape(self.title)}</b><br>"
            f"Formula: <code>{html.escape(self.formula)}</code></p>"
        ]
        if self.facts:
            parts.append("<p>" + "<br>".join(html.escape(f) for f in self.facts) + "</p>")
        for caption, cells in self.tables:
            parts.append(f"<p><b>{html.escape(caption)}</b></p>{html_table(cells)}")
        parts += [f"<p><small>{html.escape(n)}</small></p>" for n in self.notes]
        parts.append("</div>")
        return "\n".join(parts)


class Reportable:
    """Report renderings for a result whose ``_report(digits)`` builds its
    :class:`Report`."""

    def _report(self, digits: int) -> Report:
        raise NotImplementedError

    def to_markdown(self, digits: int = 4) -> str:
        """The summary as Markdown for a report: the title and formula, the criteria and
        the numbers of observations and groups, then the random- and fixed-effects
        tables, numbers to ``digits`` significant digits (p values below ``2e-16`` as
        ``<2e-16``)."""
        return self._report(digits).markdown()

    def to_latex(self, digits: int = 4) -> str:
        """The summary as LaTeX (``tabular`` environments with booktabs rules), with
        the same content as :meth:`to_markdown`."""
        return self._report(digits).latex()

    def _repr_html_(self) -> str:
        return self._report(4).html()


def criteria_decimals(digits: int) -> int:
    """Decimals of the criteria (AIC, log-likelihood, ...): ``digits - 3``, at least one,
    so that the default of 4 digits shows lme4's one decimal."""
    return max(1, digits - 3)


def measure_cells(values: dict[str, float | int], digits: int) -> Cells:
    """One row of criteria under their names: floats to :func:`criteria_decimals`
    decimals, integers (degrees of freedom) as they are."""
    d = criteria_decimals(digits)
    row = [str(v) if isinstance(v, int) else f"{v:.{d}f}" for v in values.values()]
    return Cells.of_rows([list(values), row], [True] * len(row))


def criteria_cells(fit: Any, deviance_label: str, digits: int) -> Cells:
    """The AIC / BIC / logLik / deviance / df.resid row of a summary."""
    values = {"AIC": fit.aic, "BIC": fit.bic, "logLik": fit.loglik, deviance_label: fit.objective}
    return measure_cells({**values, "df.resid": int(fit.nobs - fit.n_params)}, digits)


def random_effects_cells(varcorr: pd.DataFrame, digits: int) -> Cells:
    """The random-effects table (Groups, Name, Variance, Std.Dev., Corr) of a varcorr
    table."""
    rows = random_effects_rows(varcorr, digits)
    return Cells.of_rows(rows, [False, False, True, True, False])


_COEFFICIENT_HEADERS = {
    "estimate": "Estimate",
    "std_error": "Std. Error",
    "df": "df",
    "statistic": "{} value",
    "p_value": "Pr(>|{}|)",
}


def coefficient_cells(table: pd.DataFrame, statistic: str, digits: int) -> Cells:
    """A summary's fixed-effects table from a coefficient table: Estimate, Std. Error,
    df (when the table has finite ones), the ``statistic`` (``"t"`` or ``"z"``) value
    and its p value."""
    keep = [c for c in _COEFFICIENT_HEADERS if c in table.columns]
    if "df" in keep and not np.isfinite(table["df"].to_numpy(dtype=np.float64)).any():
        keep.remove("df")
    headers = {c: _COEFFICIENT_HEADERS[c].format(statistic) for c in keep}
    shown = pd.DataFrame(table[keep]).rename(columns=headers)
    shown.index.name = None
    return frame_cells(shown, digits, index=True, p_columns=(headers.get("p_value", ""),))
