"""Character-level scanning of formula text: parentheses, top-level splits, error carets."""

from __future__ import annotations

from mixedmodels.errors import FormulaError


def caret(text: str, position: int, message: str) -> FormulaError:
    """Return a :class:`FormulaError` that points at ``position`` of ``text``."""
    pointer = " " * position + "^"
    return FormulaError(f"{message} (at position {position})\n    {text}\n    {pointer}")


def matching_parens(text: str) -> dict[int, int]:
    """Map the index of every ``(`` in ``text`` to the index of its ``)``.

    Raises
    ------
    FormulaError
        If a parenthesis is unbalanced; the message points at it.
    """
    stack: list[int] = []
    pairs: dict[int, int] = {}
    quote: str | None = None
    for i, ch in enumerate(text):
        if quote is not None:
            if ch == quote:
                quote = None
            continue
        if ch in "`'\"":
            quote = ch
        elif ch == "(":
            stack.append(i)
        elif ch == ")":
            if not stack:
                raise caret(text, i, "unmatched ')' in formula")
            pairs[stack.pop()] = i
    if quote is not None:
        raise caret(text, text.rindex(quote), "unterminated quote in formula")
    if stack:
        raise caret(text, stack[-1], "unclosed '(' in formula")
    return pairs


def split_top_level(text: str, sep: str) -> list[tuple[int, str]]:
    """Split ``text`` at occurrences of ``sep`` outside parentheses and quotes.

    Returns the pieces with their start offsets in ``text``.
    """
    pieces: list[tuple[int, str]] = []
    depth = 0
    quote: str | None = None
    start = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if quote is not None:
            if ch == quote:
                quote = None
        elif ch in "`'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            pieces.append((start, text[start:i]))
            i += len(sep)
            start = i
            continue
        i += 1
    pieces.append((start, text[start:]))
    return pieces


def find_top_level(text: str, token: str) -> int:
    """Index of the first ``token`` outside parentheses, or -1."""
    pieces = split_top_level(text, token)
    return -1 if len(pieces) == 1 else len(pieces[0][1])
