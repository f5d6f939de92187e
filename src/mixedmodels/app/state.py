"""The explorer's controls as plain data: their ranges, defaults, and the URL query string.

Every control of every page is declared here once. A page's state is a dict of validated
values; it is read from the URL (so a view can be shared) and written back to it. Text from
the URL is only ever compared with these declarations or parsed as a number: it is never
evaluated.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

__all__ = [
    "Choice",
    "Number",
    "PAGES",
    "HOSPITAL_NAME",
    "decode_hospitals",
    "encode_hospitals",
    "state_from_query",
    "query_from_state",
    "validated",
]


@dataclass(frozen=True)
class Number:
    """A numeric control: a slider or a number field."""

    key: str
    label: str
    default: float
    low: float
    high: float
    step: float

    def parse(self, text: str) -> float | None:
        """The value of ``text`` if it is a finite number, snapped to the grid and clamped
        to the range; None otherwise."""
        try:
            value = float(text)
        except (TypeError, ValueError):
            return None
        if not math.isfinite(value):
            return None
        value = min(max(value, self.low), self.high)
        snapped = self.low + round((value - self.low) / self.step) * self.step
        snapped = round(min(snapped, self.high), 10)
        return int(snapped) if self.is_integer else snapped

    @property
    def is_integer(self) -> bool:
        return float(self.step).is_integer() and float(self.low).is_integer()


@dataclass(frozen=True)
class Choice:
    """A control with a fixed set of options (radio buttons, a checkbox, a dropdown)."""

    key: str
    label: str
    default: str
    options: tuple[str, ...]

    def parse(self, text: str) -> str | None:
        return text if text in self.options else None


Control = Number | Choice

SHRINKAGE = (
    Number("J", "Number of clusters J", 16, 2, 100, 1),
    Number("n", "Mean cluster size n̄", 8, 1, 100, 1),
    Number("su", "Between-cluster SD σ_u", 1.5, 0.1, 6.0, 0.1),
    Number("se", "Within-cluster SD σ_e", 2.0, 0.1, 8.0, 0.1),
    Choice("sizes", "Cluster sizes", "poisson", ("poisson", "equal")),
    Number("seed", "Seed", 1, 0, 2**31 - 1, 1),
    Choice("view", "View", "partial", ("complete", "none", "partial", "all")),
    Choice("truth", "Show the true cluster means", "0", ("0", "1")),
)

IGNORING = (
    Number("icc", "Intraclass correlation (ICC)", 0.1, 0.0, 0.9, 0.01),
    Number("J", "Number of clusters", 10, 3, 60, 1),
    Number("m", "Cluster size", 10, 2, 60, 1),
    Choice("covariate", "The covariate varies", "cluster", ("cluster", "within")),
    Choice("sims", "Simulations", "200", ("100", "200", "500", "1000")),
    Number("seed", "Seed", 1, 0, 2**31 - 1, 1),
)

YOUR_DATA = (Choice("view", "View", "partial", ("complete", "none", "partial", "all")),)

#: Controls per page path.
PAGES: dict[str, tuple[Control, ...]] = {
    "/": SHRINKAGE,
    "/hospitals": (),
    "/ignoring": IGNORING,
    "/data": YOUR_DATA,
}

#: A hospital's name in the URL and in the table: letters, digits, space, dot, dash.
HOSPITAL_NAME = re.compile(r"^[A-Za-z0-9 ._-]{1,24}$")


def state_from_query(path: str, query: str) -> dict[str, Any]:
    """The page's control values from a URL query string; a missing, unknown or invalid
    entry takes the control's default."""
    pairs = dict(parse_qsl(query.lstrip("?"), keep_blank_values=True))
    state: dict[str, Any] = {}
    for control in PAGES.get(path, ()):
        value = control.parse(pairs[control.key]) if control.key in pairs else None
        state[control.key] = control.default if value is None else value
    return state


def validated(path: str, values: dict[str, Any]) -> dict[str, Any]:
    """Control values as a page holds them, validated as URL values are (missing or
    invalid ones take the default)."""
    state: dict[str, Any] = {}
    for control in PAGES.get(path, ()):
        value = values.get(control.key)
        parsed = control.parse(str(value)) if value is not None else None
        state[control.key] = control.default if parsed is None else parsed
    return state


def query_from_state(path: str, state: dict[str, Any]) -> str:
    """The URL query string of a page's state (only the page's declared controls, each
    validated as when read back)."""
    pairs = []
    for control in PAGES.get(path, ()):
        if control.key not in state or state[control.key] is None:
            continue
        value = control.parse(str(state[control.key]))
        if value is not None:
            pairs.append((control.key, _format(value)))
    return "?" + urlencode(pairs) if pairs else ""


def _format(value: float | str) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def encode_hospitals(rows: list[dict[str, Any]]) -> str:
    """The hospitals table as ``name:patients:deaths`` items joined by commas."""
    return ",".join(f"{r['hospital']}:{r['patients']}:{r['deaths']}" for r in rows)


def decode_hospitals(text: str) -> list[dict[str, Any]] | None:
    """The hospitals table from :func:`encode_hospitals`'s text, or None when any item is
    malformed (names must match :data:`HOSPITAL_NAME`, counts be whole numbers)."""
    rows = []
    for item in text.split(","):
        parts = item.split(":")
        if len(parts) != 3 or not HOSPITAL_NAME.match(parts[0]):
            return None
        if not (parts[1].isdigit() and parts[2].isdigit()):
            return None
        rows.append({"hospital": parts[0], "patients": int(parts[1]), "deaths": int(parts[2])})
    return rows or None
