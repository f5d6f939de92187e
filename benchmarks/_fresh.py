"""One measurement of a program in a fresh process: the result line it prints after a tag,
and the process's peak memory (shared by the side-by-side benchmark scripts)."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile

__all__ = ["measure"]


def measure(command: list[str], tag: str) -> dict[str, float]:
    """Run ``command``; its last line starting with ``tag`` (JSON after the tag) and
    ``peak_mb``, the child's maximum resident set in MB."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        _, _status, usage = os.wait4(proc.pid, 0)
        out.seek(0)
        err.seek(0)
        lines = [line for line in out.read().splitlines() if line.startswith(tag)]
        if not lines:
            raise RuntimeError(f"{command[0]} failed: {err.read()[-2000:]}")
    result: dict[str, float] = json.loads(lines[-1][len(tag) :])
    result["peak_mb"] = usage.ru_maxrss / 1024  # kilobytes on Linux
    return result
