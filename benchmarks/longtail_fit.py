"""Whole REML fits of long-tailed crossed designs: mixedmodels beside mixedlm (issue 12).

``y ~ x + (1 | subj) + (1 | item)`` on the data of ``crossed_longtail.py``. Every fit runs
in a fresh process of its own, which builds the data, imports the program and fits a small
design of the same kind (5,000 rows) to warm up, resets its peak-memory counter, fits and
reports the wall time of the fit, the number of criterion evaluations, the REML
criterion and two peaks of resident memory (VmHWM): of the whole process and of the fit
alone (the counter is reset after the data are built).

Usage::

    python benchmarks/longtail_fit.py --presets longtail_2k,longtail_8k,longtail_17k \\
        --programs mixedmodels,mixedlm --out benchmarks/longtail_fit.json [--timeout 2400]

With ``--timeout`` a fit still running after that many seconds is stopped, its whole
process group with it, and its row says so; a worker that crashes leaves the fault
handler's traceback in its row.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FORMULA = "y ~ x + (1 | subj) + (1 | item)"


def _vm(field: str, pid: int | str = "self") -> int:
    """A /proc/<pid>/status field in bytes (-1 where it cannot be read)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return -1


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def worker(program: str, preset: str) -> dict[str, object]:
    """Fit one design with one program in this process (a crash of the interpreter
    leaves Python's traceback on stderr)."""
    faulthandler.enable()
    sys.path.insert(0, str(HERE))
    import crossed_longtail

    n_rows, n_subjects, n_items = crossed_longtail.PRESETS[preset]
    df = crossed_longtail.make(n_rows, n_subjects, n_items)
    # imports and one small fit of the same kind first, as benchmarks/run.py does: the
    # first fit of a process loads scipy.optimize, formulaic and the rest, which is not
    # the fit's time
    warm_up = crossed_longtail.make(5_000, 500, 100, seed=1)
    if program == "mixedmodels":
        import mixedmodels as mm

        mm.lmm(FORMULA, warm_up, reml=True)
    else:
        import mixedlm

        mixedlm.lmer(FORMULA, warm_up, REML=True)
    data_peak = _vm("VmHWM")
    reset = _reset_peak()
    start = time.perf_counter()
    if program == "mixedmodels":
        import importlib

        workspace = importlib.import_module("mixedmodels.core.workspace")
        chosen: list[str] = []
        choose = workspace.choose_tail

        def recording(*args: object, **kwargs: object) -> object:
            kind = choose(*args, **kwargs)
            chosen.append(kind.name)
            return kind

        workspace.choose_tail = recording
        fit = mm.lmm(FORMULA, df, reml=True)
        seconds = time.perf_counter() - start
        criterion = float(fit.objective)
        evaluations: object = fit.optinfo.n_evaluations
        theta = [float(t) for t in fit.theta]
        note = f"optimizer {fit.optinfo.optimizer}; tail kind {'/'.join(sorted(set(chosen)))}"
    else:
        res = mixedlm.lmer(FORMULA, df, REML=True)
        seconds = time.perf_counter() - start
        criterion = float(res.REMLcrit())
        evaluations = f"{getattr(res, 'n_iter', '?')} iterations"
        theta = [float(t) for t in getattr(res, "theta", [])]
        note = f"mixedlm {getattr(mixedlm, '__version__', '?')}"
    return {
        "program": program,
        "preset": preset,
        "rows": n_rows,
        "subjects": n_subjects,
        "items": n_items,
        "seconds": seconds,
        "evaluations": evaluations if isinstance(evaluations, int) else str(evaluations),
        "criterion": criterion,
        "theta": theta,
        "peak_bytes": _vm("VmHWM") if reset else -1,
        "process_peak_bytes": max(_vm("VmHWM"), data_peak),
        "note": note,
    }


def _fit_in_process(
    program: str, preset: str, limit: int, timeout: float | None
) -> dict[str, object]:
    """One fit in a fresh process (its own session) under an address-space limit; past
    ``timeout`` seconds the whole session is killed, so no worker outlives the run."""
    cmd = ["prlimit", f"--as={limit}", sys.executable, __file__, "--worker", program, preset]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # its peak so far (prlimit runs the worker in its own process: this pid), read
        # before it is stopped: a fit stopped for its time still shows its memory
        peak = _vm("VmHWM", proc.pid)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {
            "program": program,
            "preset": preset,
            "error": f"stopped after {timeout:g} s",
            "peak_bytes_so_far": peak,
        }
    if proc.returncode != 0:
        lines = stderr.strip().splitlines()
        if proc.returncode < 0:
            # the fault handler's dump, from its first line: the innermost frames first
            starts = [i for i, line in enumerate(lines) if line.startswith("Fatal Python")]
            kept = lines[starts[-1] :][:16] if starts else lines[-16:]
            how = f"ended by signal {-proc.returncode}"
        else:
            kept, how = lines[-3:], f"exit status {proc.returncode}"  # an exception's end
        return {"program": program, "preset": preset, "error": how, "stderr": kept}
    row: dict[str, object] = json.loads(stdout.strip().splitlines()[-1])
    return row


def run(
    presets: list[str], programs: list[str], limit: int, timeout: float | None = None
) -> list[dict[str, object]]:
    """Every (preset, program) fit in a fresh process under an address-space limit."""
    out = []
    for preset in presets:
        for program in programs:
            row = _fit_in_process(program, preset, limit, timeout)
            print(json.dumps(row), flush=True)
            out.append(row)
    return out


def markdown(rows: list[dict[str, object]]) -> str:
    """The table of the results, with each criterion against mixedlm's."""
    ref = {r["preset"]: r for r in rows if r.get("program") == "mixedlm" and "criterion" in r}
    lines = [
        "| design | program | fit s | evaluations | REML criterion | rel. diff. to mixedlm "
        "| peak MB (fit) | peak MB (process) | speed-up | notes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            so_far = int(r.get("peak_bytes_so_far", -1))  # type: ignore[call-overload]
            peak = f"{so_far / 2**20:.0f} (so far)" if so_far > 0 else ""
            lines.append(
                f"| {r['preset']} | {r['program']} | failed | | | | {peak} | | | {r['error']} |"
            )
            continue
        base = ref.get(r["preset"])
        rel = speed = ""
        if base is not None:
            crit, bcrit = float(r["criterion"]), float(base["criterion"])  # type: ignore[arg-type]
            rel = f"{abs(crit - bcrit) / abs(bcrit):.1e}"
            speed = f"{float(base['seconds']) / float(r['seconds']):.2f}x"  # type: ignore[arg-type]
        design = f"{r['preset']} ({r['rows']:,} x {r['subjects']:,} x {r['items']:,})"
        lines.append(
            f"| {design} | {r['program']} | {float(r['seconds']):.1f} | {r['evaluations']} | "  # type: ignore[arg-type]
            f"{float(r['criterion']):.6f} | {rel} | {int(r['peak_bytes']) / 2**20:.0f} | "  # type: ignore[call-overload]
            f"{int(r['process_peak_bytes']) / 2**20:.0f} | {speed} | {r['note']} |"  # type: ignore[call-overload]
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs=2, metavar=("PROGRAM", "PRESET"))
    parser.add_argument("--presets", default="longtail_2k,longtail_8k,longtail_17k")
    parser.add_argument("--programs", default="mixedmodels,mixedlm")
    parser.add_argument("--limit", type=int, default=12_000_000_000, help="bytes of address space")
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--timeout", type=float, help="seconds before one fit (its whole process) is stopped"
    )
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return
    rows = run(args.presets.split(","), args.programs.split(","), args.limit, args.timeout)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1) + "\n")
        args.out.with_suffix(".table.md").write_text(markdown(rows))
    print(markdown(rows))


if __name__ == "__main__":
    main()
