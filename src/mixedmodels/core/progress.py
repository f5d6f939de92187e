"""What a long fit says while it runs, and how it stops when interrupted.

A fit that has run for :data:`PROGRESS_AFTER` seconds reports on stderr, every
:data:`PROGRESS_EVERY` seconds, how many criterion evaluations it has made and the best
criterion so far, so that a slow model is seen to be working (``OptimizerSettings(
progress=False)`` keeps it quiet). Ctrl+C stops it with :class:`FitInterrupted`, a
``KeyboardInterrupt`` whose message says where it was.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["PROGRESS_AFTER", "PROGRESS_EVERY", "FitInterrupted", "FitProgress"]

#: Seconds a fit runs before it reports.
PROGRESS_AFTER = 10.0
#: Seconds between reports.
PROGRESS_EVERY = 5.0


class FitInterrupted(KeyboardInterrupt):
    """A fit stopped by Ctrl+C; the message says after how many evaluations and how
    long, and the best criterion it had reached."""


class FitProgress:
    """Counts a fit's evaluations and reports them once the fit is slow."""

    def __init__(
        self,
        enabled: bool = True,
        after: float | None = None,
        every: float | None = None,
        stream: TextIO | None = None,
        shift: float = 0.0,
    ) -> None:
        self.enabled = enabled
        self.shift = shift  # what turns the optimizer's criterion into the one reported
        after = PROGRESS_AFTER if after is None else after
        self.after = after
        self.every = PROGRESS_EVERY if every is None else every
        self.stream = stream
        self.start = time.perf_counter()
        self.next_report = self.start + after
        self.evaluations = 0
        self.best = float("inf")
        self.reports = 0

    def tick(self, value: float) -> None:
        """One evaluation of the criterion, with its value."""
        self.evaluations += 1
        if value < self.best:
            self.best = value
        if not self.enabled:
            return
        now = time.perf_counter()
        if now >= self.next_report:
            self.next_report = now + self.every
            self.reports += 1
            stream = self.stream if self.stream is not None else sys.stderr
            print(f"mixedmodels: still fitting: {self.status(now)}", file=stream, flush=True)

    def status(self, now: float | None = None) -> str:
        elapsed = (time.perf_counter() if now is None else now) - self.start
        best = f"{self.best + self.shift:.8g}" if self.best < float("inf") else "none yet"
        return f"{self.evaluations} evaluations in {elapsed:.0f} s, best criterion {best}"

    def interrupted(self) -> FitInterrupted:
        """The exception to raise on Ctrl+C."""
        return FitInterrupted(f"the fit was interrupted after {self.status()}")
