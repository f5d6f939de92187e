"""R's mathematical functions and constants by their R names, so that formulas written for
R (``sin(2*pi*Time)``, ``log(dose)``, ``sqrt(age)``) mean here what they mean there. They
are the names a formula's terms may call besides the data's columns; a column of the same
name comes first."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["R_MATH"]


def _log(x: Any, base: float = math.e) -> Any:
    """R's ``log(x, base = exp(1))``."""
    out = np.log(x)
    return out if base == math.e else out / np.log(base)


R_MATH: dict[str, Any] = {
    "pi": math.pi,
    "exp": np.exp,
    "log": _log,
    "log10": np.log10,
    "log2": np.log2,
    "log1p": np.log1p,
    "expm1": np.expm1,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "asin": np.arcsin,
    "acos": np.arccos,
    "atan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "floor": np.floor,
    "ceiling": np.ceil,
}
