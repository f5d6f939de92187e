"""How much of a model must fit on the client, checked before anything large is built.

The client holds, per level of every grouping factor, its label, a lookup entry, its rows
of the ``ranef`` table and its share of the blocks; the factors after the first (the one
with most levels) form one dense block of ``q x q`` doubles, ``q`` their total number of
random effects, which is what makes crossed factors with very many levels expensive.
"""

from __future__ import annotations

from collections.abc import Sequence

from mixedmodels.errors import DataError

__all__ = [
    "BYTES_PER_LEVEL",
    "DEFAULT_MAX_BLOCK_BYTES",
    "check_block_size",
    "estimated_client_bytes",
    "format_bytes",
    "level_cap",
]

#: Default limit on the estimated client memory of a model's levels and blocks (4 GiB).
DEFAULT_MAX_BLOCK_BYTES = 4 * 2**30

#: Client memory per level at least: its label, a lookup entry, its rows of the ranef
#: table (measured at about 200 bytes for a scalar term) and its blocks.
BYTES_PER_LEVEL = 256

#: Copies of the dense tail block alive at once: A's, L's and one being added to.
DENSE_COPIES = 3


def format_bytes(n: float) -> str:
    """``1.5 GB``-style text (powers of 1000, as people read sizes)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def level_cap(max_block_bytes: int) -> int:
    """The most distinct values a column may have before the levels pass stops collecting
    them (each level costs at least ``BYTES_PER_LEVEL`` on the client)."""
    return max(2, int(max_block_bytes // BYTES_PER_LEVEL))


def estimated_client_bytes(blocks: Sequence[tuple[str, int, int]], p: int) -> dict[str, int]:
    """Estimated client memory of each grouping factor's levels and blocks.

    Parameters
    ----------
    blocks : sequence of (name, levels, k)
        The grouping factors in storage order (most levels first).
    p : int
        Number of fixed-effect columns.

    Returns
    -------
    dict
        Bytes per factor name; the first factor's ``(m, k, k)`` and ``(m, k, p + 1)``
        blocks (in A and L), each later factor's share of the dense tail block (its rows
        of ``q x q``, ``DENSE_COPIES`` times) and every level's ``BYTES_PER_LEVEL``.
    """
    out: dict[str, int] = {}
    q_tail = sum(m * k for _, m, k in blocks[1:])
    for i, (name, m, k) in enumerate(blocks):
        labels = m * BYTES_PER_LEVEL
        if i == 0:
            stored = 2 * 8 * m * (k * k + k * (p + 1))
        else:
            stored = DENSE_COPIES * 8 * m * k * (q_tail + p + 1)
        out[name] = out.get(name, 0) + labels + stored
    return out


def check_block_size(blocks: Sequence[tuple[str, int, int]], p: int, max_block_bytes: int) -> None:
    """Raise :class:`DataError` when the model's levels and blocks would not fit on the
    client, naming the factor that needs most and what to do."""
    need = estimated_client_bytes(blocks, p)
    total = sum(need.values())
    if total <= max_block_bytes:
        return
    levels = {name: m for name, m, _ in blocks}
    q_tail = sum(m * k for _, m, k in blocks[1:])
    dense_bytes = DENSE_COPIES * 8 * q_tail * (q_tail + p + 1)
    if len(blocks) > 1 and dense_bytes >= total / 2:  # the crossed factors' dense block
        worst = max((name for name, _, _ in blocks[1:]), key=lambda name: levels[name])
    else:
        worst = max(need, key=lambda name: need[name])
    dense = (
        f"; the factors after the first form one dense {q_tail:,} x {q_tail:,} block"
        if len(blocks) > 1
        else ""
    )
    raise DataError(
        f"the grouping factor {worst!r} ({levels[worst]:,} levels) does not fit on the client: "
        f"this model's levels and blocks need about {format_bytes(total)} there "
        f"({format_bytes(need[worst])} for {worst!r}{dense}), above "
        f"max_block_bytes={format_bytes(max_block_bytes)}. Raise max_block_bytes if the "
        "client has that much memory, or use a grouping factor with fewer levels (crossed "
        "factors with very many levels need a dense block of size levels squared)."
    )
