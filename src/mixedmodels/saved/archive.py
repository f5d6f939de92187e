"""The saved-fit file: a zip archive holding ``manifest.json`` (what the fit is, the library
version that wrote it, its settings and scalar fields) and ``arrays.npz`` (every array, read
back with ``allow_pickle=False``). Nothing in it is executed or unpickled on reading.

Layout, format version 1::

    manifest.json   {"format": "mixedmodels.fit", "format_version": 1,
                     "library_version": "0.1.0", "kind": "lmm" | "glmm", "fields": {...},
                     "data": {...}, "tables": {...}}
    arrays.npz      numpy arrays by name (numbers and fixed-width strings only)

A value in ``fields`` is JSON, or ``{"array": name}`` for an array of ``arrays.npz``, or
``{"tuple": [...]}``, ``{"dataclass": name, "fields": {...}}`` for the few compound values.
"""

from __future__ import annotations

import io
import json
import zipfile
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from mixedmodels.errors import DataError

__all__ = ["FORMAT", "FORMAT_VERSION", "MAX_MEMBER_BYTES", "read_archive", "write_archive"]

FORMAT = "mixedmodels.fit"
FORMAT_VERSION = 1
#: The largest member a file may unpack to (a guard against a forged archive).
MAX_MEMBER_BYTES = 8 * 2**30


def write_archive(
    path: str | PathLike[str], manifest: dict[str, Any], arrays: dict[str, np.ndarray]
) -> None:
    """Write the archive; ``manifest`` gets the format's header."""
    for name, array in arrays.items():
        if array.dtype.kind not in "biufcU":
            raise TypeError(f"array {name!r} of dtype {array.dtype} cannot be saved without pickle")
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, **manifest}
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(header, allow_nan=True))
        archive.writestr("arrays.npz", buffer.getvalue())
    partial.replace(target)  # a crash mid-write leaves no truncated file under the name


def _member(archive: zipfile.ZipFile, name: str, path: Path) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise DataError(f"{path} is not a saved mixedmodels fit: it has no {name}") from None
    if info.file_size > MAX_MEMBER_BYTES:
        raise DataError(f"{path}: {name} would unpack to {info.file_size:,} bytes; refused")
    return archive.read(name)


def read_archive(path: str | PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The manifest and arrays of a saved fit, or a :class:`DataError` saying why the file
    is not one this version can read."""
    from mixedmodels import __version__

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file")
    try:
        with zipfile.ZipFile(path) as archive:
            raw_manifest = _member(archive, "manifest.json", path)
            raw_arrays = _member(archive, "arrays.npz", path)
    except zipfile.BadZipFile:
        raise DataError(
            f"{path} is not a saved mixedmodels fit (not a zip archive; saved fits are "
            "written by fit.save(path))"
        ) from None
    except (OSError, zipfile.LargeZipFile, NotImplementedError, RuntimeError) as exc:
        raise DataError(f"{path} cannot be read as a saved fit: {exc}") from None
    try:
        manifest = json.loads(raw_manifest.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: its manifest.json is damaged ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DataError(f"{path} is a zip archive but not a saved mixedmodels fit")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise DataError(
            f"{path} was written in format version {version!r} by mixedmodels "
            f"{manifest.get('library_version', '?')}; this is mixedmodels {__version__}, "
            f"which reads format versions up to {FORMAT_VERSION}: upgrade mixedmodels"
        )
    try:
        with np.load(io.BytesIO(raw_arrays), allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path}: its arrays.npz is damaged ({exc})") from None
    return manifest, arrays
