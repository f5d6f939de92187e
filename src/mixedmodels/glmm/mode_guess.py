"""A first-order prediction of the conditional modes at a point from those found nearby.

Finite differences evaluate the deviance at points that differ from a centre, or from one
another, in one or two coordinates, each a small step apart; COBYQA's first points, and
the curvature scaling before them, are steps along one coordinate from the start as well.
The modes found at two points that differ in one coordinate give the slope of the modes in
it; at a new point the prediction starts from the recorded point that differs from it in
fewest coordinates (the nearest of those) and follows the slopes along the coordinates
where they differ. Its error is second order in the distance, so PIRLS started there needs
fewer iterations than from the modes of the point before.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ModeGuess"]

#: Most mode values (points times modes) kept; the oldest points go first.
MAX_KEPT_VALUES = 4_000_000


class ModeGuess:
    """Predicts the modes at a point from the modes recorded at nearby points."""

    def __init__(self) -> None:
        self._points: list[np.ndarray] = []
        self._modes: list[np.ndarray] = []
        self._slopes: dict[int, np.ndarray] = {}

    def record(self, x: np.ndarray, u: np.ndarray) -> None:
        """The modes ``u`` found at ``x``."""
        x = np.array(x, dtype=np.float64)
        for y, v in zip(self._points, self._modes, strict=True):
            differ = np.flatnonzero(x != y)
            if differ.size == 1:
                i = int(differ[0])
                self._slopes[i] = (u - v) / (x[i] - y[i])
        self._points.append(x)
        self._modes.append(u)
        while len(self._points) > 1 and len(self._points) * u.size > MAX_KEPT_VALUES:
            del self._points[0], self._modes[0]

    def predict(self, x: np.ndarray) -> np.ndarray | None:
        """The predicted modes at ``x``; None before any are recorded."""
        if not self._points:
            return None
        best = min(
            range(len(self._points)),
            key=lambda j: (
                int(np.count_nonzero(x != self._points[j])),
                float(np.max(np.abs(x - self._points[j]), initial=0.0)),
            ),
        )
        base = self._points[best]
        out = self._modes[best].copy()
        for i in np.flatnonzero(x != base):
            slope = self._slopes.get(int(i))
            if slope is not None:
                out += slope * (x[i] - base[i])
        return out
