"""Start-up times: ``import mixedmodels``, ``mixedmodels --help``, ``mixedmodels explore``
until its first answer, and each explorer page until its numbers are shown and until its
first figure is drawn.

Every measurement starts a new Python process, as a user does; the page timings start a
new explorer per run, open ``/`` at once after its first answer (the first visitor, while
the library still loads), then each page on that running explorer, and drive Debian's
Chromium with Playwright from the navigation to the page's callbacks' text and tables on
screen, and to its first Plotly figure (which waits for plotly.js to be evaluated).

    python benchmarks/startup.py                 # 5 runs of each, prints a Markdown table
    python benchmarks/startup.py --runs 3 --out benchmarks/startup.md
    python benchmarks/startup.py --no-pages      # without the browser

It times the checkout it sits in (its ``src`` goes first on ``PYTHONPATH``).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: Each page, what in the browser says its numbers and controls are shown (the callbacks'
#: answers, as text and tables), and what says its first figure is drawn (which needs
#: plotly.js evaluated in the browser as well).
SHOWN = {
    "/": "() => document.querySelectorAll('#shrink-clusters .ag-cell').length > 0",
    "/hospitals": "() => document.querySelectorAll('#hosp-table .ag-cell').length > 0",
    "/ignoring": """() => { const s = document.querySelector('#ign-summary');
        return !!(s && s.innerText.length > 0); }""",
    "/data": "() => !!document.querySelector('#data-upload')",
}
DRAWN = {
    "/": """() => { const gd = document.querySelector('#shrink-graph .js-plotly-plot');
        return !!(gd && gd._fullData && gd._fullData.length >= 6
                  && gd._fullData[5].x.length > 0); }""",
    "/hospitals": """() => { const gd = document.querySelector('#hosp-graph .js-plotly-plot');
        return !!(gd && gd._fullData && gd._fullData.some(t => (t.x || []).length > 0)); }""",
    "/ignoring": """() => { const gd = document.querySelector('#ign-rates .js-plotly-plot');
        return !!(gd && gd._fullData && gd._fullData.some(t => (t.x || []).length > 0)); }""",
    "/data": "() => !!document.querySelector('#data-graph .js-plotly-plot')",
}
PAGES = tuple(SHOWN)


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), env.get("PYTHONPATH", "")) if p
    )
    return env


def _timed(command: list[str]) -> float:
    """Seconds from starting ``command`` to its exit (it must succeed)."""
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=_environment())
    return time.perf_counter() - start


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _explorer() -> Iterator[tuple[str, float]]:
    """A new ``mixedmodels explore`` process; yields its URL and the seconds from its
    start to its first answer."""
    port = _free_port()
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "mixedmodels.cli", "explore", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_environment(),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                with urllib.request.urlopen(url + "/", timeout=5) as response:
                    response.read()
                break
            except OSError:
                if process.poll() is not None or time.perf_counter() - start > 120:
                    raise RuntimeError("the explorer did not start") from None
                time.sleep(0.01)
        yield url, time.perf_counter() - start
    finally:
        process.terminate()
        process.wait(timeout=20)


def _first_answer() -> float:
    with _explorer() as (_, seconds):
        return seconds


def _open(browser: Any, url: str, path: str, times: dict[str, list[float]], label: str) -> None:
    """Open ``path`` in a new tab; note the seconds to its numbers and to its figure."""
    tab = browser.new_page()
    start = time.perf_counter()
    tab.goto(url + path)
    for kind, ready in (("numbers shown", SHOWN[path]), ("figure drawn", DRAWN[path])):
        tab.wait_for_function(ready, timeout=120_000, polling=10)
        times.setdefault(f"{label}: {kind}", []).append(time.perf_counter() - start)
    tab.close()


def _follow_links(browser: Any, url: str, times: dict[str, list[float]]) -> None:
    """Open ``/`` and wait for its figure, then click the explorer's link to each other
    page and back to ``/``; note the seconds from each click to the page's numbers and
    figure."""
    tab = browser.new_page()
    tab.goto(url + "/")
    tab.wait_for_function(DRAWN["/"], timeout=120_000, polling=10)
    for path in (*PAGES[1:], PAGES[0]):
        start = time.perf_counter()
        tab.click(f"#nav-{PAGES.index(path)}")
        for kind, ready in (("numbers shown", SHOWN[path]), ("figure drawn", DRAWN[path])):
            tab.wait_for_function(ready, timeout=120_000, polling=10)
            label = f"`{path}` by the explorer's link: {kind}"
            times.setdefault(label, []).append(time.perf_counter() - start)
    tab.close()


def _returning(playwright: Any, url: str, times: dict[str, list[float]]) -> None:
    """Each page opened three times in new tabs of a browser with a profile on disk
    (the returning visitor: its HTTP cache and V8's code cache kept); the third visit's
    times are noted."""
    from explorer_harness import CHROMIUM_ARGS, chromium_path

    with tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=chromium_path(), args=CHROMIUM_ARGS
        )
        for path in PAGES:
            for visit in range(3):
                label = f"`{path}` in a returning browser, third visit"
                scratch: dict[str, list[float]] = {}
                _open(context, url, path, times if visit == 2 else scratch, label)
        context.close()


def _page_times(runs: int) -> dict[str, list[float]]:
    """Seconds from opening a page to its numbers shown and to its first figure drawn:
    the first visitor's ``/`` right after the server's first answer (while the library
    still loads), then each page opened on that running explorer."""
    sys.path.insert(0, str(ROOT / "tests"))
    from playwright.sync_api import sync_playwright

    from explorer_harness import CHROMIUM_ARGS, chromium_path

    times: dict[str, list[float]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        for _ in range(runs):
            with _explorer() as (url, _):
                _open(browser, url, "/", times, "`/` at once after the first answer")
                for path in PAGES:
                    _open(browser, url, path, times, f"`{path}` on the running explorer")
                _follow_links(browser, url, times)
                _returning(p, url, times)
        browser.close()
    return times


def _row(name: str, values: list[float]) -> str:
    return (
        f"| {name} | {len(values)} | {statistics.median(values):.2f} | "
        f"{min(values):.2f} | {max(values):.2f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each measurement")
    parser.add_argument("--no-pages", action="store_true", help="skip the browser timings")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)

    python = sys.executable
    measures: list[tuple[str, Callable[[], float]]] = [
        ("`import mixedmodels`", lambda: _timed([python, "-c", "import mixedmodels"])),
        (
            "`mixedmodels --help`",
            lambda: _timed([python, "-m", "mixedmodels.cli", "--help"]),
        ),
        ("`mixedmodels explore`: first answer", _first_answer),
    ]
    rows = ["| measurement | runs | median s | min s | max s |", "|---|---:|---:|---:|---:|"]
    for name, measure in measures:
        rows.append(_row(name, [measure() for _ in range(args.runs)]))
        print(rows[-1], flush=True)
    if not args.no_pages:
        for name, values in _page_times(args.runs).items():
            rows.append(_row(name, values))
            print(rows[-1], flush=True)
    table = "\n".join(rows)
    print(table)
    if args.out is not None:
        args.out.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
