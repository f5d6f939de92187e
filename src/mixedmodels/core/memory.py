"""How much memory this process may use: the machine's, an address-space limit's, and
what is still available now. Large layouts are checked against these before anything is
allocated (a clear refusal instead of numpy's ``MemoryError``)."""

from __future__ import annotations

import os

__all__ = ["available_bytes", "memory_cap"]


def memory_cap() -> int:
    """Three quarters of the memory this process may use: the machine's, or less under
    an address-space limit (``ulimit -v``, ``prlimit --as``)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        total = 16 * 2**30
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY and soft > 0:
            total = min(total, soft)
    except (ImportError, ValueError, OSError):  # pragma: no cover - not POSIX
        pass
    return int(0.75 * total)


def available_bytes() -> int | None:
    """Bytes this process can still allocate now, or None where that cannot be read: the
    memory the system reports available (``MemAvailable``: other programs' use counts),
    and under an address-space limit the limit less the address space already in use."""
    found: list[int] = []
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
                    break
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY and soft > 0:
            with open("/proc/self/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("VmSize:"):
                        found.append(soft - int(line.split()[1]) * 1024)
                        break
    except (ImportError, OSError, ValueError, IndexError):  # pragma: no cover - not POSIX
        pass
    return max(min(found), 0) if found else None
