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
        self._points = np.zeros((0, 0))
        self._modes: list[np.ndarray] = []
        self._slopes: dict[int, np.ndarray] = {}

    def record(self, x: np.ndarray, u: np.ndarray) -> None:
        """The modes ``u`` found at ``x``."""
        x = np.array(x, dtype=np.float64)
        if self._modes:
            differ = self._points != x
            for j in np.flatnonzero(differ.sum(axis=1) == 1):
                i = int(np.flatnonzero(differ[j])[0])
                self._slopes[i] = (u - self._modes[j]) / (x[i] - self._points[j, i])
            self._points = np.vstack([self._points, x])
        else:
            self._points = x[None, :]
        self._modes.append(u)
        keep = max(1, MAX_KEPT_VALUES // max(u.size, 1))
        if len(self._modes) > keep:
            self._points = self._points[-keep:]
            del self._modes[:-keep]

    def predict(self, x: np.ndarray) -> np.ndarray | None:
        """The predicted modes at ``x``; None before any are recorded."""
        if not self._modes:
            return None
        differ = self._points != x
        count = differ.sum(axis=1)
        distance = np.max(np.abs(self._points - x), axis=1, initial=0.0)
        # fewest differing coordinates first, then the nearest (the earliest of equals)
        best = int(np.lexsort((np.arange(count.size), distance, count))[0])
        out = self._modes[best].copy()
        for i in np.flatnonzero(differ[best]):
            slope = self._slopes.get(int(i))
            if slope is not None:
                out += slope * (x[i] - self._points[best, i])
        return out
