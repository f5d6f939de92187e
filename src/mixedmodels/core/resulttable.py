"""ResultTable: the data frame that test tables (coefficient tables, type III and
likelihood-ratio anova tables) are returned as, with renderers for reports.

It is a :class:`pandas.DataFrame` in every other respect (pandas' documented way to
subclass: ``_constructor`` and ``_metadata``), so indexing, arithmetic and comparisons
work as on any frame and give ResultTables again.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from mixedmodels.core.display import (
    Cells,
    escape_latex,
    escape_markdown,
    frame_cells,
    html_table,
    latex_table,
    markdown_table,
)

__all__ = ["ResultTable", "ddf_caption", "result_table"]

_DDF_NAMES = {
    "satterthwaite": "Satterthwaite",
    "kenward-roger": "Kenward-Roger",
    "kenward-roger-linear": "Kenward-Roger (linear)",
    "residual": "residual",
}


class ResultTable(pd.DataFrame):
    """A table of tests: a data frame with Markdown, LaTeX and HTML renderings.

    The renderings show the index as the first column, numbers to ``digits``
    significant digits, p values (the ``p_value`` column) below double precision's
    epsilon as ``<2e-16``, missing values (the first row of a likelihood-ratio table) as
    blanks, and ``attrs["note"]`` (when there is one) as a note below the table.
    """

    _metadata = ["_caption"]
    _caption: str = ""

    @property
    def _constructor(self) -> Any:
        return ResultTable

    def _cells(self, digits: int) -> Cells:
        return frame_cells(self, digits, index=True, missing="")

    def _notes(self) -> list[str]:
        note = self.attrs.get("note")
        return [str(note)] if note else []

    def to_markdown(self, digits: int = 4) -> str:  # type: ignore[override]
        """The table as a GitHub-flavoured Markdown (pipe) table, its note below."""
        lines = [markdown_table(self._cells(digits))]
        lines += [line for n in self._notes() for line in ("", escape_markdown(n))]
        return "\n".join(lines)

    def to_latex(self, digits: int = 4) -> str:  # type: ignore[override]
        """The table as a LaTeX ``tabular`` with booktabs rules, its note below."""
        lines = [latex_table(self._cells(digits))]
        lines += [r"{\footnotesize " + escape_latex(n) + "}" for n in self._notes()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        title = f"<p><b>{html.escape(self._caption)}</b></p>" if self._caption else ""
        foot = "".join(f"<p><small>{html.escape(n)}</small></p>" for n in self._notes())
        return f"<div>{title}{html_table(self._cells(4))}{foot}</div>"


def result_table(frame: pd.DataFrame, caption: str) -> ResultTable:
    """``frame`` (its data, index and ``attrs``) as a ResultTable with a caption, which
    the HTML rendering shows above the table."""
    table = ResultTable(frame)
    table.attrs = dict(frame.attrs)
    table._caption = caption
    return table


def ddf_caption(tests: str, ddf: str) -> str:
    """A caption for ``tests`` (``"t tests of the fixed effects"``) with ``ddf``'s
    denominator degrees of freedom; Wald z tests for ``"normal"``."""
    if ddf == "normal":
        return tests.replace("t tests", "Wald z tests")
    return f"{tests} ({_DDF_NAMES.get(ddf, ddf)} df)"
