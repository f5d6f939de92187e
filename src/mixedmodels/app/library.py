"""The library's modules that the explorer's callbacks compute with, loaded early.

The explorer's own modules import Dash and NumPy only, so that the server answers within
a second of starting; the callbacks reach the library through ``import mixedmodels as
mm`` (``mm.pooling``, ``mm.type1_error``), which imports each module on first use.
:func:`load_in_background` imports pandas, SciPy and the fitting code in a thread while
the browser fetches the page, so the page's first callback finds them loaded, or waits in
the import system's own per-module lock for the one that is still loading.
"""

from __future__ import annotations

import importlib
import threading

__all__ = ["MODULES", "load", "load_in_background"]

#: What the pages' callbacks use: the data sets, the pooling and Type-I studies, the
#: linear and binomial mixed models they fit, and the distributions of the Type-I
#: study's p-values (``scipy.stats``, which a fit itself never loads: 0.26 s of the
#: "ignoring clusters" page's first answer when left to it).
MODULES = (
    "pandas",
    "mixedmodels.datasets",
    "mixedmodels.pooling",
    "mixedmodels.fitting",
    "mixedmodels.glmm",
    "scipy.stats",
)


def load() -> None:
    """Import :data:`MODULES` (at once for those already loaded)."""
    for name in MODULES:
        importlib.import_module(name)


def load_in_background() -> threading.Thread:
    """Start :func:`load` in a daemon thread and return the thread."""
    thread = threading.Thread(target=load, daemon=True, name="explorer-library")
    thread.start()
    return thread
