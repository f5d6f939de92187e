"""Constant arithmetic in a formula, bounded before anything is evaluated.

Data columns are float arrays, so arithmetic on them takes time in proportion to the rows.
Arithmetic on literals does not: Python's integers have unbounded precision and its text
repeats, so ``I(((2**1000)**1000)**1000)`` computes a 300-million-digit number for minutes
and ``I('a' * 10**9)`` builds a gigabyte of text, before any float is made of them. Each
call in a formula (``I(...)``, ``log(...)``) is parsed as the Python expression formulaic
evaluates, and its constant subexpressions are bounded on their logarithms: a constant
beyond a float's range (1e308), which could only become ``inf`` in the model matrix, and
text or tuples in arithmetic are refused, naming the piece at fault.
"""

from __future__ import annotations

import ast
import math
import re

from mixedmodels.errors import FormulaError
from mixedmodels.formula.scan import matching_parens

__all__ = ["FLOAT_DIGITS", "check_constants"]

#: A constant with more decimal digits than a float can hold is refused.
FLOAT_DIGITS = 308.0


class _Text:
    """A text (or tuple) constant: it may not take part in arithmetic."""


_TEXT = _Text()
Bound = float | _Text | None  # log10 of a constant's magnitude; text; not a constant


#: A name followed by ``(``: a call, when its parenthesis is outside quotes.
_CALL = re.compile(r"[A-Za-z_.][A-Za-z0-9_.]*\s*\(")


def _calls(expression: str) -> list[str]:
    """The outermost calls ``name(...)`` of ``expression``, as text."""
    try:
        pairs = matching_parens(expression)
    except FormulaError:
        return []  # (unbalanced text: the formula's parser reports it)
    out: list[str] = []
    end = -1
    for match in _CALL.finditer(expression):
        opening = match.end() - 1
        if opening in pairs and match.start() > end:  # (a "(" in a quote has no pair)
            end = pairs[opening]
            out.append(expression[match.start() : end + 1])
    return out


def _negative(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return not _negative(node.operand)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return bool(node.value < 0)
    return False


class _Bounds:
    def __init__(self, expression: str, where: str) -> None:
        self.expression = expression
        self.where = where

    def refuse(self, node: ast.AST, why: str) -> FormulaError:
        piece = ast.unparse(node)
        if len(piece) > 60:
            piece = piece[:57] + "..."
        return FormulaError(f"{self.where} {self.expression!r}: {piece!r} {why}")

    def bound(self, node: ast.AST) -> Bound:
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, (str, bytes)):
                return _TEXT
            if isinstance(value, bool) or not isinstance(value, (int, float, complex)):
                return None
            size = abs(value)
            return -math.inf if size == 0 else math.log10(size) if math.isfinite(size) else None
        if isinstance(node, ast.Tuple):
            for item in node.elts:
                self.bound(item)
            return _TEXT
        if isinstance(node, ast.UnaryOp):
            inner = self.bound(node.operand)
            if isinstance(inner, _Text) and not isinstance(node.op, ast.Not):
                raise self.refuse(node, "uses text in arithmetic")
            return inner if isinstance(node.op, (ast.USub, ast.UAdd)) else None
        if isinstance(node, ast.BinOp):
            return self.binop(node)
        for child in ast.iter_child_nodes(node):
            self.bound(child)
        return None

    def binop(self, node: ast.BinOp) -> Bound:
        left, right = self.bound(node.left), self.bound(node.right)
        if isinstance(left, _Text) or isinstance(right, _Text):
            raise self.refuse(node, "uses text or a tuple in arithmetic")
        op = node.op
        if isinstance(op, (ast.Pow, ast.BitXor)):  # (^ is R's power)
            if right is None or left is None:
                return None
            if _negative(node.right):
                return -math.inf  # (a negative power of a constant is small)
            exponent = 10.0**right if right < 4 else math.inf
            out = left * exponent if left > 0 else (0.0 if left == 0 else -math.inf)
        elif isinstance(op, ast.LShift):
            if right is None or left is None:
                return None
            out = left + (10.0**right if right < 4 else math.inf) * math.log10(2.0)
        elif left is None or right is None:
            return None
        elif isinstance(op, ast.Mult):
            out = left + right
        elif isinstance(op, (ast.Div, ast.FloorDiv)):
            out = left - right if right > -math.inf else math.inf
        elif isinstance(op, (ast.Add, ast.Sub, ast.BitOr, ast.BitAnd)):
            out = max(left, right) + math.log10(2.0)
        else:  # %, >>: no larger than the left operand
            out = left
        if out > FLOAT_DIGITS:
            raise self.refuse(node, f"is a constant beyond a float's range (1e{FLOAT_DIGITS:.0f})")
        return out


def check_constants(expression: str, where: str) -> None:
    """Refuse constant arithmetic in the calls of ``expression`` that would overflow a
    float or repeat text (see the module text)."""
    bounds = _Bounds(expression, where)
    for call in _calls(expression):
        try:
            tree = ast.parse(call.replace("^", "**"), mode="eval")
        except SyntaxError:
            continue  # (R syntax inside, such as %in%: formulaic reports it)
        bounds.bound(tree)
