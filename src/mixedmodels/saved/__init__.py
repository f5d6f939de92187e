"""Saved fits: :func:`load` reads what ``fit.save(path)`` wrote, without pickle."""

from os import PathLike
from typing import Any

from mixedmodels.saved.fits import load_fit, save_fit

__all__ = ["load", "load_fit", "save_fit"]


def load(path: str | PathLike[str], functions: dict[str, Any] | None = None) -> Any:
    """A fit saved with ``fit.save(path)``: it predicts, simulates, summarises and gives
    marginal means without the original data.

    Parameters
    ----------
    path : str or path-like
    functions : dict, optional
        The user's own functions, when the saved formula calls them (``functions=`` of the
        fit); code is never saved.

    Raises
    ------
    DataError
        For a file that is not a saved fit, one written in a later format version, or a
        damaged one.
    """
    return load_fit(path, functions)
