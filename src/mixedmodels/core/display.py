"""Tables for reports: a frame (or cells already formatted) as plain text, HTML (Jupyter),
Markdown and LaTeX, numbers to a fixed number of significant digits.

Every renderer escapes what its format would otherwise read as markup, so that a factor
level or a column name such as ``<b>x</b>``, ``log_dose`` or ``a|b`` is shown as written.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "Cells",
    "escape_latex",
    "escape_markdown",
    "format_number",
    "format_p",
    "frame_cells",
    "html_table",
    "latex_table",
    "markdown_code",
    "markdown_table",
    "table_html",
    "table_latex",
    "table_markdown",
    "table_text",
]

#: Below this a p value is shown as ``<2e-16`` (R's ``format.pval`` at double epsilon).
P_FLOOR = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class Cells:
    """A table as strings: a header, the body's rows, and which columns hold numbers
    (right-aligned)."""

    header: tuple[str, ...]
    body: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]

    @classmethod
    def of_rows(cls, rows: Sequence[Sequence[str]], numeric: Sequence[bool]) -> Cells:
        """Cells from a header row followed by the body's rows."""
        return cls(tuple(rows[0]), tuple(tuple(r) for r in rows[1:]), tuple(numeric))


def format_number(value: object, digits: int, missing: str = "NA") -> str:
    """A number to ``digits`` significant digits (scientific below 1e-4), ``missing`` for
    NaN; anything else as ``str``."""
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if np.isnan(v):
            return missing
        if np.isinf(v):
            return "Inf" if v > 0 else "-Inf"
        if v != 0 and abs(v) < 1e-4:
            return f"{v:.{max(digits - 1, 1)}e}"
        return f"{v:.{digits}g}"
    return str(value)


def format_p(value: object, digits: int, missing: str = "NA") -> str:
    """A p value as :func:`format_number`, but ``<2e-16`` below double precision's
    epsilon (where the tail probability is no longer accurate)."""
    if isinstance(value, (float, np.floating, int, np.integer)) and 0 <= value < P_FLOOR:
        return "<2e-16"
    return format_number(value, digits, missing)


def frame_cells(
    frame: pd.DataFrame,
    digits: int = 4,
    *,
    index: bool = False,
    p_columns: Collection[str] = ("p_value",),
    missing: str = "NA",
) -> Cells:
    """A data frame's cells: numbers by :func:`format_number`, the ``p_columns`` by
    :func:`format_p`; with ``index``, the index as a first column headed by its name."""
    columns = [str(c) for c in frame.columns]
    header = ([str(frame.index.name or "")] if index else []) + columns
    numeric = [frame[c].dtype.kind in "iuf" for c in frame.columns]
    if index:
        numeric.insert(0, frame.index.dtype.kind in "iuf")
    formats = [format_p if c in p_columns else format_number for c in columns]
    body = []
    for label, row in zip(frame.index, frame.itertuples(index=False), strict=True):
        cells = [f(v, digits, missing) for f, v in zip(formats, row, strict=True)]
        body.append(tuple(([format_number(label, digits)] if index else []) + cells))
    return Cells(tuple(header), tuple(body), tuple(numeric))


# -- Markdown -------------------------------------------------------------------------------
#: Markup characters: the table's pipe, emphasis (an underscore only at a word's edge, as
#: within a word it emphasizes nothing), code, a ``](`` that would close a link's text, a
#: ``<`` that could open a raw HTML tag (``<b``, ``</``, ``<!``) and an ``&`` that could
#: open an entity (``&lt;``).
_MARKDOWN_SPECIAL = re.compile(
    r"[\\|*`]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])|\](?=[(\[])|<(?=[A-Za-z/!?])|&(?=#?\w+;)"
)


def escape_markdown(text: str) -> str:
    """Text with Markdown's markup characters (and a ``<`` that would open raw HTML)
    backslash-escaped."""
    return _MARKDOWN_SPECIAL.sub(lambda m: "\\" + m.group(0), text)


def markdown_code(text: str) -> str:
    """Text as an inline code span, fenced by more backticks than it holds in a row."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def markdown_table(cells: Cells) -> str:
    """A GitHub-flavoured Markdown (pipe) table."""

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(escape_markdown(c) for c in row) + " |"

    rule = "|" + "|".join("---:" if num else ":---" for num in cells.numeric) + "|"
    return "\n".join([line(cells.header), rule, *(line(r) for r in cells.body)])


# -- LaTeX ----------------------------------------------------------------------------------
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\^{}",
    "|": r"\textbar{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "[": "{[}",  # not an optional argument of the \\ before it
    "]": "{]}",
}


def escape_latex(text: str) -> str:
    """Text with LaTeX's special characters written as the commands that print them."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def latex_table(cells: Cells) -> str:
    """A ``tabular`` with booktabs rules (``\\usepackage{booktabs}``)."""
    spec = "".join("r" if num else "l" for num in cells.numeric)
    lines = [rf"\begin{{tabular}}{{{spec}}}", r"\toprule"]
    lines.append(" & ".join(escape_latex(h) for h in cells.header) + r" \\")
    lines.append(r"\midrule")
    lines += [" & ".join(escape_latex(c) for c in row) + r" \\" for row in cells.body]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines)


# -- HTML -----------------------------------------------------------------------------------
def html_table(cells: Cells) -> str:
    """An HTML ``<table>``, every cell escaped."""

    def row(tag: str, values: Sequence[str]) -> str:
        return "".join(
            f'<{tag} style="text-align:{"right" if num else "left"}">{html.escape(c)}</{tag}>'
            for c, num in zip(values, cells.numeric, strict=True)
        )

    body = "".join(f"<tr>{row('td', r)}</tr>" for r in cells.body)
    return f"<table><thead><tr>{row('th', cells.header)}</tr></thead><tbody>{body}</tbody></table>"


# -- a frame with its notes -----------------------------------------------------------------
def table_text(frame: pd.DataFrame, notes: list[str], digits: int = 4) -> str:
    """Aligned columns (text left, numbers right) and the notes below."""
    cells = frame_cells(frame, digits)
    rows = [cells.header, *cells.body]
    widths = [max(len(r[j]) for r in rows) for j in range(len(cells.header))]

    def line(values: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(values, widths, cells.numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([*(line(r) for r in rows), *([""] + notes if notes else [])])


def table_markdown(frame: pd.DataFrame, notes: list[str], digits: int = 4) -> str:
    """A GitHub-flavoured Markdown table, the notes as a paragraph below."""
    lines = [markdown_table(frame_cells(frame, digits))]
    if notes:
        lines += ["", "  \n".join(escape_markdown(n) for n in notes)]
    return "\n".join(lines)


def table_latex(frame: pd.DataFrame, notes: list[str], digits: int = 4) -> str:
    """A ``tabular`` (booktabs rules), the notes as a footnote-sized paragraph."""
    lines = [latex_table(frame_cells(frame, digits))]
    if notes:
        lines.append(r"{\footnotesize " + escape_latex(" ".join(notes)) + "}")
    return "\n".join(lines)


def table_html(frame: pd.DataFrame, notes: list[str], title: str, digits: int = 4) -> str:
    """An HTML table with a title and the notes, for Jupyter."""
    foot = "".join(f"<p><small>{html.escape(n)}</small></p>" for n in notes)
    table = html_table(frame_cells(frame, digits))
    return f"<div><p><b>{html.escape(title)}</b></p>{table}{foot}</div>"
