"""The explorer under load: eight clients move the shrinkage page's sliders for a minute
against ``mixedmodels explore`` run as a user runs it (its own process, its threaded
server). Every request must succeed, the 95th percentile of the response times must stay
under half a second, and the server's memory must stay bounded.

``MIXEDMODELS_LOAD_SECONDS`` shortens or lengthens the run (60 s by default)."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from explorer_harness import callback_key
from tiers import full_tier

pytestmark = full_tier

CLIENTS = 8
SECONDS = float(os.environ.get("MIXEDMODELS_LOAD_SECONDS", "60"))
#: A person dragging a slider: the next value some 50 to 150 ms after the last redraw.
THINK = (0.05, 0.15)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _redraw_request() -> tuple[str, list[dict[str, str]], list[str]]:
    """The shrinkage page's redraw callback as the browser names it: its output key, its
    outputs and its inputs' ids (read from the app, so the test follows the page)."""
    from mixedmodels.app.server import create_app

    app = create_app()
    key, outputs = callback_key(app, "shrink-graph.figure")
    inputs = [i["id"] for i in app.callback_map[key]["inputs"]]
    return key, outputs, inputs


def _move(rng: random.Random, state: dict[str, object]) -> str:
    """One slider step (or a change of view), as a drag produces them."""
    name = rng.choice(["shrink-J", "shrink-n", "shrink-su", "shrink-se", "shrink-view"])
    if name == "shrink-J":
        state[name] = min(100, max(2, int(state[name]) + rng.choice([-3, -1, 1, 3])))
    elif name == "shrink-n":
        state[name] = min(100, max(1, int(state[name]) + rng.choice([-5, -1, 1, 5])))
    elif name in ("shrink-su", "shrink-se"):
        step = rng.choice([-0.3, -0.1, 0.1, 0.3])
        state[name] = round(min(6.0, max(0.1, float(state[name]) + step)), 1)
    else:
        state[name] = rng.choice(["complete", "none", "partial", "all"])
    return name


@pytest.fixture(scope="module")
def server() -> tuple[str, int]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mixedmodels.cli", "explore", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/", timeout=5).read()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("the explorer did not start") from None
            time.sleep(0.2)
    yield url, process.pid
    process.terminate()
    process.wait(timeout=20)


def test_eight_clients_for_a_minute(server: tuple[str, int]) -> None:
    url, pid = server
    key, outputs, inputs = _redraw_request()
    latencies: list[list[float]] = [[] for _ in range(CLIENTS)]
    errors: list[str] = []

    def post(state: dict[str, object], changed: str) -> float:
        body = {
            "output": key,
            "outputs": outputs,
            "inputs": [{"id": i, "property": "value", "value": state[i]} for i in inputs],
            "changedPropIds": [f"{changed}.value"],
            "state": [],
        }
        request = urllib.request.Request(
            url + "/_dash-update-component",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        t0 = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = json.loads(response.read())
        elapsed = time.perf_counter() - t0
        answer = payload.get("response", {})
        # a figure, or (one row per cluster: n = 1 with equal sizes) the page's reason why not
        note = str(answer.get("shrink-note", {}).get("children", ""))
        if "shrink-graph" not in answer and not note.startswith("These settings cannot"):
            raise AssertionError(f"neither a figure nor a reason: {str(payload)[:200]}")
        return elapsed

    def start_state(rng: random.Random) -> dict[str, object]:
        return {
            "shrink-J": rng.randint(5, 60),
            "shrink-n": rng.randint(2, 40),
            "shrink-su": 1.5,
            "shrink-se": 2.0,
            "shrink-sizes": rng.choice(["poisson", "equal"]),
            "shrink-seed": rng.randint(0, 1000),
            "shrink-view": "partial",
            "shrink-truth": [],
        }

    # warm the server (imports, first figures) before measuring its memory
    warm_rng = random.Random(0)
    for _ in range(5):
        post(start_state(warm_rng), "shrink-J")
    rss_start = _rss_mb(pid)
    stop = time.monotonic() + SECONDS

    def client(index: int) -> None:
        rng = random.Random(index)
        state = start_state(rng)
        while time.monotonic() < stop:
            changed = _move(rng, state)
            try:
                latencies[index].append(post(state, changed))
            except urllib.error.HTTPError as exc:
                errors.append(f"{exc}: {exc.read()[:300]!r} for {state}")
            except Exception as exc:  # every failure is counted and reported
                errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(rng.uniform(*THINK))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rss_end = _rss_mb(pid)
    every = np.concatenate([np.array(x) for x in latencies])
    p50, p95 = np.percentile(every, [50, 95])
    report = (
        f"{every.size} requests in {SECONDS:.0f} s ({every.size / SECONDS:.1f}/s), "
        f"p50 {p50 * 1e3:.0f} ms, p95 {p95 * 1e3:.0f} ms, max {every.max() * 1e3:.0f} ms; "
        f"server memory {rss_start:.0f} -> {rss_end:.0f} MB"
    )
    print(report)
    assert not errors, f"{len(errors)} failed requests, first: {errors[0]}; {report}"
    assert all(len(x) > 0 for x in latencies), report
    assert p95 < 0.5, report
    assert rss_end < rss_start + 150, report
