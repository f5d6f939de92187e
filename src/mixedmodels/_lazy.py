"""Package namespaces that import their public names on first use (PEP 562).

A fitting package's ``__init__`` that imported all of its modules would make every
import of one of its submodules pay for the others: ``mixedmodels.gls.structures``, read
by every LMM fit, would load GLS fitting, inference, bootstrap, GLMMs and ``scipy.stats``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` for ``exports`` (public name: the
    module, relative to ``package``, that defines it).

    Each name is imported when first read and then bound in the package, so later reads
    cost nothing.
    """
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
