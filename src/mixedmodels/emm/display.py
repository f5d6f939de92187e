"""Tables for reports: a frame with its notes as plain text, HTML (Jupyter), Markdown and
LaTeX, numbers to a fixed number of significant digits."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

__all__ = ["table_html", "table_latex", "table_markdown", "table_text"]


def _cell(value: object, digits: int) -> str:
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if np.isnan(v):
            return "NA"
        if np.isinf(v):
            return "Inf" if v > 0 else "-Inf"
        if v != 0 and abs(v) < 1e-4:
            return f"{v:.{max(digits - 1, 1)}e}"
        return f"{v:.{digits}g}"
    return str(value)


def _rows(frame: pd.DataFrame, digits: int) -> tuple[list[str], list[list[str]]]:
    header = [str(c) for c in frame.columns]
    body = [[_cell(v, digits) for v in row] for row in frame.itertuples(index=False)]
    return header, body


def table_text(frame: pd.DataFrame, notes: list[str], digits: int = 4) -> str:
    """Aligned columns (text left, numbers right) and the notes below."""
    header, body = _rows(frame, digits)
    numeric = [frame[c].dtype.kind in "iuf" for c in frame.columns]
    widths = [max(len(r[j]) for r in [header, *body]) for j in range(len(header))]

    def line(cells: list[str]) -> str:
        parts = [
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(cells, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(header), *(line(r) for r in body), *([""] + notes if notes else [])])


def table_markdown(frame: pd.DataFrame, notes: list[str], digits: int = 4) -> str:
    """A GitHub-flavoured Markdown table, the notes as a paragraph below."""
    header, body = _rows(frame, digits)
    numeric = [frame[c].dtype.kind in "iuf" for c in frame.columns]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    rule = "|" + "|".join("---:" if num else ":---" for num in numeric) + "|"
    lines = [line(header), rule, *(line(r) for r in body)]
    if notes:
        lines += ["", "  \n".join(notes)]
    return "\n".join(lines)


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
}


def _latex(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def table_latex(frame: pd.DataFrame, notes: list[str], digits: int = 4) -> str:
    """A ``tabular`` (booktabs rules), the notes as a footnote-sized paragraph."""
    header, body = _rows(frame, digits)
    numeric = [frame[c].dtype.kind in "iuf" for c in frame.columns]
    spec = "".join("r" if num else "l" for num in numeric)
    lines = [rf"\begin{{tabular}}{{{spec}}}", r"\toprule"]
    lines.append(" & ".join(_latex(h) for h in header) + r" \\")
    lines.append(r"\midrule")
    lines += [" & ".join(_latex(c) for c in row) + r" \\" for row in body]
    lines += [r"\bottomrule", r"\end{tabular}"]
    if notes:
        lines.append(r"{\footnotesize " + _latex(" ".join(notes)) + "}")
    return "\n".join(lines)


def table_html(frame: pd.DataFrame, notes: list[str], title: str, digits: int = 4) -> str:
    """An HTML table with a title and the notes, for Jupyter."""
    header, body = _rows(frame, digits)
    numeric = [frame[c].dtype.kind in "iuf" for c in frame.columns]

    def cells(tag: str, row: list[str]) -> str:
        return "".join(
            f'<{tag} style="text-align:{"right" if num else "left"}">{html.escape(c)}</{tag}>'
            for c, num in zip(row, numeric, strict=True)
        )

    rows = "".join(f"<tr>{cells('td', r)}</tr>" for r in body)
    foot = "".join(f"<p><small>{html.escape(n)}</small></p>" for n in notes)
    return (
        f"<div><p><b>{html.escape(title)}</b></p><table><thead><tr>{cells('th', header)}"
        f"</tr></thead><tbody>{rows}</tbody></table>{foot}</div>"
    )
