"""Generated formulas against the formula layer (``model_frame``: the checks, the parse
and the model matrices, without a fit): whatever the text, it is read or refused with
the library's own error, and nothing in it runs (no file appears, no other exception).

The tokens mix the formula language (columns, R's functions, operators, bars) with
what must never run: builtins, numpy's namespace, attributes and dunder names."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mixedmodels.design.frame import model_frame
from mixedmodels.errors import MixedModelsError
from tiers import by_tier

ROWS = 40
DATA = pd.DataFrame(
    {
        "y": np.random.default_rng(1).normal(size=ROWS),
        "x": np.linspace(1.0, 4.0, ROWS),
        "z": np.tile([0.5, 1.5], ROWS // 2),
        "g": np.repeat([f"g{i}" for i in range(8)], ROWS // 8),
        "f": pd.Categorical(np.tile(["a", "b", "c", "d"], ROWS // 4)),
    }
)

ATOMS = ["x", "z", "f", "1", "0", "2", "pi", "TRUE", "'txt'", "nope", "x.y", "`x`"]
CALLS = [
    "log",
    "sqrt",
    "exp",
    "scale",
    "center",
    "poly",
    "I",
    "C",
    "factor",
    "bs",
    "open",
    "eval",
    "exec",
    "getattr",
    "print",
    "np.save",
    "np.load",
    "os.system",
    "__import__",
    "globals",
    "np.frombuffer",
    "x.__class__",
    "breakpoint",
]
#: Whole calls that write a file if they ever run.
PAYLOADS = [
    "np.save('w', x)",
    "open('w', 'w')",
    "x.tofile('w')",
    "np.frombuffer(b'ab').tofile('w')",
    "__import__('os').system('touch w')",
    "getattr(np, 'save')('w', x)",
    "{np.savetxt('w', x)}",
    "x.__class__.__init__.__globals__",
]
OPERATORS = [" + ", " * ", ":", " - ", " / ", "^", " ** ", " %in% "]
SUFFIXES = ["", ".real", ".__class__", "[0]", ".tofile('w')"]


@st.composite
def expressions(draw: st.DrawFn, depth: int = 0) -> str:
    """A random right-hand-side expression."""
    choice = draw(st.integers(0, 6 if depth < 2 else 1))
    if choice == 6:
        return draw(st.sampled_from(PAYLOADS))
    if choice <= 1:
        text = draw(st.sampled_from(ATOMS + PAYLOADS))
    elif choice == 2:
        name = draw(st.sampled_from(CALLS))
        args = draw(st.lists(expressions(depth + 1), min_size=1, max_size=2))
        text = f"{name}({', '.join(args)})"
    elif choice == 3:
        left, right = draw(expressions(depth + 1)), draw(expressions(depth + 1))
        text = f"{left}{draw(st.sampled_from(OPERATORS))}{right}"
    elif choice == 4:
        text = f"({draw(expressions(depth + 1))})"
    else:
        text = "{" + draw(expressions(depth + 1)) + "}"
    return text + draw(st.sampled_from(SUFFIXES))


@st.composite
def formulas(draw: st.DrawFn) -> str:
    fixed = draw(expressions())
    bar = draw(st.sampled_from(["|", "||"]))
    random = f"({draw(expressions())} {bar} {draw(st.sampled_from(['g', 'f', 'g:f', 'nope']))})"
    lhs = draw(st.sampled_from(["y", "log(y + 5)", "y / 2", "open('y')"]))
    return f"{lhs} ~ {fixed} + {random}"


@settings(
    max_examples=by_tier(fast=400, full=5000),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(formula=formulas())
def test_no_formula_runs_code_or_leaks_an_exception(
    formula: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model_frame(formula, DATA)
        except MixedModelsError:
            pass
    assert os.listdir(tmp_path) == [], f"{formula!r} wrote {os.listdir(tmp_path)}"
