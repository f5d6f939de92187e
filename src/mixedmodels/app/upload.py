"""Uploaded files, read as data only: size-limited, decoded as text, parsed as CSV.

Nothing in an upload (cell, column name or file name) is evaluated: the CSV reader only
splits text into columns and converts numbers, and the pooling fit renames the chosen
columns before building its formula.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
from typing import TYPE_CHECKING

from mixedmodels.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MAX_CELLS",
    "MAX_CLUSTERS",
    "MAX_COLUMNS",
    "MAX_UPLOAD_BYTES",
    "UploadError",
    "check_columns",
    "read_table",
    "read_upload",
]

#: The largest file the explorer reads (bytes of the file, before base64).
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
#: The most columns and cells (rows x columns) of a table the explorer reads: checked on
#: the text before it is parsed (150,000 columns in 1.6 MB would tie the parser up).
MAX_COLUMNS = 200
MAX_CELLS = 2_000_000
#: The most clusters drawn in the pooling view of uploaded data.
MAX_CLUSTERS = 500


class UploadError(DataError):
    """An uploaded file that cannot be used, with a message for the page."""


def _megabytes(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


def read_upload(contents: str, filename: str) -> pd.DataFrame:
    """The DataFrame in a ``dcc.Upload`` payload (``data:<type>;base64,<data>``).

    Raises
    ------
    UploadError
        With a message naming the file and what is wrong: too large, not text, not a CSV
        table, no numeric column.
    """
    name = filename or "the file"
    head, _, payload = contents.partition(",")
    if not head.startswith("data:") or ";base64" not in head:
        raise UploadError(f"{name}: the upload arrived in an unknown form; please try again")
    if len(payload) * 3 // 4 > MAX_UPLOAD_BYTES + 3:
        raise UploadError(
            f"{name} is about {_megabytes(len(payload) * 3 // 4)}; the explorer reads files "
            f"up to {_megabytes(MAX_UPLOAD_BYTES)}. Use a sample of the rows, or fit it with "
            "mm.pooling() in Python."
        )
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise UploadError(f"{name}: the upload is damaged; please try again") from None
    if len(raw) > MAX_UPLOAD_BYTES:
        raise UploadError(
            f"{name} is {_megabytes(len(raw))}; the explorer reads files up to "
            f"{_megabytes(MAX_UPLOAD_BYTES)}"
        )
    if b"\x00" in raw[:8192]:
        raise UploadError(f"{name} is not a CSV file: it holds binary data")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("latin-1")
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes any bytes
            raise UploadError(f"{name} is not a text file") from None
    return read_table(text, name)


def read_table(text: str, name: str) -> pd.DataFrame:
    """The CSV table in ``text`` (separator comma, semicolon or tab), within
    :data:`MAX_UPLOAD_BYTES`, :data:`MAX_COLUMNS` and :data:`MAX_CELLS`, checked before
    it is parsed: what the upload callback reads, and what the drawing callback reads
    again from the page's store (which a client may send altered).

    Raises
    ------
    UploadError
    """
    if not isinstance(text, str):
        raise UploadError(f"{name}: the table arrived in an unknown form; please load it again")
    if len(text) > 2 * MAX_UPLOAD_BYTES:
        raise UploadError(
            f"{name} is {_megabytes(len(text))}; the explorer reads files up to "
            f"{_megabytes(MAX_UPLOAD_BYTES)}"
        )
    if not text.strip():
        raise UploadError(f"{name} is empty")
    head = text[:8192]
    try:
        dialect = csv.Sniffer().sniff(head, delimiters=",;\t")
        sep = dialect.delimiter
    except csv.Error:
        sep = ","
    first = text.lstrip().split("\n", 1)[0]
    n_columns = first.count(sep) + 1
    if n_columns > MAX_COLUMNS:
        raise UploadError(
            f"{name} has {n_columns} columns; the explorer reads tables of up to "
            f"{MAX_COLUMNS} (keep the response and group columns)"
        )
    n_rows = text.count("\n") + 1
    if n_rows * n_columns > MAX_CELLS:
        raise UploadError(
            f"{name} has about {n_rows * n_columns:,} cells; the explorer reads up to "
            f"{MAX_CELLS:,} (use a sample of the rows, or mm.pooling() in Python)"
        )
    import pandas as pd

    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, engine="c")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else "it could not be read"
        raise UploadError(f"{name} is not a CSV table: {reason}") from None
    if frame.shape[1] < 2:
        raise UploadError(
            f"{name} has {frame.shape[1]} column; a CSV table with a response column and a "
            "group column is needed (is the separator a comma, semicolon or tab?)"
        )
    frame.columns = [str(c) for c in frame.columns]
    if not numeric_columns(frame):
        raise UploadError(
            f"{name} has no numeric column: the response must be numbers "
            f"(columns: {', '.join(frame.columns[:10])})"
        )
    return frame


def numeric_columns(frame: pd.DataFrame) -> list[str]:
    """Columns holding numbers (candidates for the response)."""
    return [
        c for c in frame.columns if frame[c].dtype.kind in "biuf" and frame[c].notna().sum() > 0
    ]


def check_columns(frame: pd.DataFrame, response: str, group: str) -> None:
    """Raise UploadError unless ``response`` is numeric and ``group`` has between 2 and
    :data:`MAX_CLUSTERS` levels (rows missing either are left out of the fit)."""
    if response not in frame.columns or group not in frame.columns:
        raise UploadError("choose a response column and a group column")
    if response == group:
        raise UploadError("the response and the group must be different columns")
    if response not in numeric_columns(frame):
        raise UploadError(f"the response {response!r} is not numeric")
    used = frame[[response, group]].dropna()
    n_levels = used[group].nunique()
    if n_levels < 2:
        raise UploadError(
            f"the group column {group!r} has {n_levels} group"
            f"{'' if n_levels == 1 else 's'} with a response; pooling needs at least two"
        )
    if n_levels > MAX_CLUSTERS:
        raise UploadError(
            f"the group column {group!r} has {n_levels} groups; the explorer draws up to "
            f"{MAX_CLUSTERS} (fit it with mm.pooling() in Python)"
        )
