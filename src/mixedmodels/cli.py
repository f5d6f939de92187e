"""The ``mixedmodels`` command: fit models from a terminal.

mixedmodels fit sleepstudy "Reaction ~ Days + (Days | Subject)"
mixedmodels fit data.csv "y ~ x + (1 | g)" --ml --json
mixedmodels datasets
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mixedmodels.errors import MixedModelsError

if TYPE_CHECKING:  # the work's modules are imported once the arguments are parsed
    import pandas as pd

    from mixedmodels.glmm import GlmmResult
    from mixedmodels.lmm_result import LmmResult

__all__ = ["main"]

#: What --family accepts (R's names; gaussian with the identity link is a linear mixed model).
FAMILIES = [
    "gaussian",
    "binomial",
    "poisson",
    "negative.binomial",
    "nbinom2",
    "nbinom1",
    "Gamma",
    "inverse.gaussian",
    "beta",
]

FORMULA_HELP = """\
formula language (lme4's):
  y ~ x + (1 | g)            random intercept per level of g
  y ~ x + (x | g)            correlated random intercept and slope (same as (1 + x | g))
  y ~ x + (0 + x | g)        random slope only
  y ~ x + (x || g)           uncorrelated intercept and slope: (1 | g) + (0 + x | g)
  y ~ 1 + (1 | a/b)          b nested in a: (1 | b:a) + (1 | a), as lme4
  y ~ 1 + (1 | a) + (1 | b)  crossed factors
  y ~ f + (0 + f | g)        one random effect per level of the factor f
  y ~ a * b                  main effects and interaction (a:b is the interaction alone)
  y ~ x + I(x^2)             a power (as in R, ^ inside I() is a power)
  y ~ 0 + x  /  y ~ x - 1    no intercept
  y ~ x + offset(log(t))     a known term with coefficient 1

examples:
  mixedmodels fit sleepstudy "Reaction ~ Days + (Days | Subject)"
  mixedmodels fit Penicillin "diameter ~ 1 + (1 | plate) + (1 | sample)" --ml
  mixedmodels fit visits.parquet "y ~ x + (1 | clinic)" --json > fit.json
  mixedmodels fit cbpp "cbind(incidence, size - incidence) ~ period + (1 | herd)" \
      --family binomial --nagq 25

exit status:
  0    done (also when the output's reader stops early, as head does)
  2    a problem with the input (file, formula, data, options): one line on stderr
  130  interrupted (Ctrl+C), with where the fit was
"""


def read_data(source: str) -> pd.DataFrame:
    """A shipped data set by name, or a CSV / Parquet file by path. A CSV that is not
    UTF-8 is read as Latin-1 (Windows' and older spreadsheets' text), which any byte
    sequence is; a file that cannot be read is an error naming it, never a traceback."""
    import pandas as pd

    from mixedmodels import datasets

    path = Path(source)
    if path.suffix.lower() in {".csv", ".parquet", ".pq"} or path.exists():
        if not path.exists():
            raise MixedModelsError(f"no such file: {source}")
        if path.is_dir():
            raise MixedModelsError(f"{source} is a folder, not a data file (CSV or Parquet)")
        if path.suffix.lower() in {".parquet", ".pq"}:
            try:
                return pd.read_parquet(path)
            except ImportError:
                raise MixedModelsError(
                    "reading Parquet needs pyarrow: pip install 'mixedmodels[parquet]'"
                ) from None
            except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
                raise MixedModelsError(f"cannot read {source} as Parquet: {exc}") from None
        try:
            try:
                return pd.read_csv(path)
            except UnicodeDecodeError:
                return pd.read_csv(path, encoding="latin-1")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as exc:
            raise MixedModelsError(f"cannot read {source} as CSV: {exc}") from None
    try:
        return datasets.load(source)
    except MixedModelsError:
        raise MixedModelsError(
            f"{source!r} is neither a file nor a shipped data set ({', '.join(datasets.names())})"
        ) from None


def writable_target(target: str) -> Path:
    """The path of a file to write, whose folder must exist."""
    path = Path(target)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise MixedModelsError(f"cannot write {target}: the folder {folder} does not exist")
    if path.is_dir():
        raise MixedModelsError(f"cannot write {target}: it is a folder")
    return path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mixedmodels",
        description="Linear and generalized linear mixed-effects models that match lme4.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=FORMULA_HELP,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    fit = sub.add_parser(
        "fit",
        help="fit a linear or generalized linear mixed model and print its summary",
        description="Fit a linear mixed model (REML unless --ml) or, with --family, a "
        "generalized linear mixed model (maximum likelihood: Laplace unless --nagq), and "
        "print its summary.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=FORMULA_HELP,
    )
    fit.add_argument("data", help="a shipped data set name or a CSV / Parquet file")
    fit.add_argument("formula", help='lme4 formula, e.g. "y ~ x + (1 | g)" (quote it)')
    fit.add_argument("--ml", action="store_true", help="maximum likelihood instead of REML")
    fit.add_argument("--json", action="store_true", help="print the results as JSON")
    fit.add_argument("--weights", help="column of prior weights")
    fit.add_argument("--offset", help="column added to the linear predictor")
    fit.add_argument(
        "--family",
        choices=FAMILIES,
        default="gaussian",
        help="response distribution: gaussian (a linear mixed model, the default; a GLMM "
        "with --link log or inverse), or a GLMM: binomial (0/1, cbind(successes, "
        "failures), or proportions with --weights trials), poisson (counts), "
        "negative.binomial or nbinom2 (overdispersed counts, theta estimated), nbinom1 "
        "(variance proportional to the mean), Gamma or inverse.gaussian (positive "
        "measures; the dispersion is estimated), beta (proportions strictly inside (0, 1))",
    )
    fit.add_argument(
        "--zi",
        help='zero-inflation model of a count family, e.g. "~ 1" or "~ x" (quote it)',
    )
    fit.add_argument(
        "--dispersion",
        help='dispersion model (log phi) of a family with a dispersion, e.g. "~ x"',
    )
    fit.add_argument(
        "--link",
        help="link function (binomial: logit, probit, cloglog; poisson: log, identity, "
        "sqrt; negative.binomial: log, sqrt, identity; gaussian: identity, log, "
        "inverse; Gamma: inverse, log, identity; inverse.gaussian: 1/mu^2, inverse, log, "
        "identity; beta: logit, probit, cloglog)",
    )
    fit.add_argument(
        "--nagq",
        type=int,
        default=None,
        help="GLMMs only (any --family but gaussian; gaussian with --link log or inverse, "
        "--zi or --dispersion): 1 = Laplace (default), >1 = adaptive Gauss-Hermite nodes "
        "(one scalar random term only), 0 = fast approximation",
    )
    sub.add_parser(
        "datasets",
        help="list the shipped data sets",
        description="List the data sets shipped with mixedmodels (any of them can be the "
        "DATA of fit or pooling): name, size and source.",
    )
    pool = sub.add_parser(
        "pooling",
        help="no, complete and partial pooling of cluster means",
        description="Fit a random-intercept model and print each cluster's no-pooling, "
        "complete-pooling and partial-pooling estimate with its shrinkage factor alpha.",
    )
    pool.add_argument("data", help="a shipped data set name or a CSV / Parquet file")
    pool.add_argument("--response", required=True, help="the response column")
    pool.add_argument("--group", required=True, help="the cluster column")
    pool.add_argument(
        "--family",
        choices=FAMILIES,
        default="gaussian",
        help="the response's family (a GLMM on its default link unless gaussian)",
    )
    pool.add_argument("--trials", help="binomial: column of trials (response = successes)")
    pool.add_argument(
        "--plot",
        metavar="PNG",
        help="also write the pooling view to this PNG file (needs matplotlib: "
        "pip install 'mixedmodels[plot]')",
    )
    t1 = sub.add_parser(
        "type1",
        help="Type-I error of tests that ignore or model clustering, by simulation",
        description="Simulate clustered data with no effect of x and report how often each "
        "test rejects at the 5 percent level.",
    )
    t1.add_argument(
        "--clusters", type=int, default=10, help="clusters per data set, at least 3 (default 10)"
    )
    t1.add_argument("--size", type=int, default=10, help="rows per cluster (default 10)")
    t1.add_argument(
        "--icc",
        type=float,
        default=0.1,
        help="intraclass correlation of the simulated data, in [0, 1) (default 0.1)",
    )
    t1.add_argument("--sims", type=int, default=2000, help="simulated data sets (default 2000)")
    t1.add_argument(
        "--covariate",
        choices=["cluster", "within"],
        default="cluster",
        help="x varies between clusters only (cluster, the default) or within them (within)",
    )
    t1.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the simulations, for results that repeat (default: a fresh seed)",
    )
    t1.add_argument("--jobs", type=int, default=-1, help="worker processes (default -1: all cores)")
    explore = sub.add_parser(
        "explore",
        help="serve the interactive shrinkage explorer in the browser",
        description="Serve the shrinkage explorer (a Dash app) and print its address. It "
        "listens on 127.0.0.1 (this computer only) unless --host says otherwise.",
    )
    explore.add_argument("--host", default="127.0.0.1", help="address to listen on")
    explore.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status. Output cut short by its reader
    (``mixedmodels fit ... | head``) ends the command quietly, as other Unix tools do."""
    try:
        status = _run(argv)
        sys.stdout.flush()  # inside the try: a closed pipe shows here, not at exit
        return status
    except KeyboardInterrupt as exc:
        detail = f": {exc}" if str(exc) else ""
        print(f"mixedmodels: interrupted{detail}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader has gone: send what Python still flushes at exit nowhere
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _run(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "datasets":
        from mixedmodels import datasets

        for name in datasets.names():
            info = datasets.describe(name)
            print(f"{name:<12} {info.rows}\n{'':<12} {info.source}")
        return 0
    if args.command in ("pooling", "type1"):
        return _teaching(args)
    if args.command == "explore":
        return _explore(args.host, args.port)
    plain = args.zi is None and args.dispersion is None
    linear = args.family == "gaussian" and args.link in (None, "identity") and plain
    problem = _fit_options_problem(args, linear)
    if problem:
        print(f"mixedmodels: error: {problem}", file=sys.stderr)
        return 2
    from mixedmodels.fitting import lmm
    from mixedmodels.glmm import glmm

    try:
        data = read_data(args.data)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result: LmmResult | GlmmResult
            if linear:
                result = lmm(
                    args.formula,
                    data,
                    reml=not args.ml,
                    weights=args.weights,
                    offset=args.offset,
                )
            else:
                result = glmm(
                    args.formula,
                    data,
                    family=args.family,
                    link=args.link,
                    weights=args.weights,
                    offset=args.offset,
                    nagq=1 if args.nagq is None else args.nagq,
                    zi=args.zi,
                    dispersion=args.dispersion,
                )
    except MixedModelsError as exc:
        print(f"mixedmodels: error: {exc}", file=sys.stderr)
        return 2
    for w in caught:
        print(f"mixedmodels: warning: {w.message}", file=sys.stderr)
    if args.json:
        json.dump(result.to_dict(), sys.stdout, indent=2, allow_nan=False, default=float)
        print()
    else:
        print(result.summary())
    return 0


def _fit_options_problem(args: argparse.Namespace, linear: bool) -> str:
    """What is wrong with a combination of ``fit``'s options, in the command's own terms
    (the library's messages name its Python arguments); empty if nothing."""
    if linear and args.nagq is not None:
        return (
            "--nagq chooses how a GLMM's likelihood is approximated; a linear mixed model "
            "(--family gaussian, identity link) has an exact likelihood and takes none: "
            "drop --nagq, or choose the model's --family (binomial, poisson, ...)"
        )
    response = args.formula.partition("~")[0].strip() if "~" in args.formula else ""
    if args.family != "binomial" and response.startswith("cbind("):
        return (
            f"the response {response!r} is a cbind(successes, failures) pair, which only a "
            "binomial model reads: add --family binomial"
        )
    return ""


def _teaching(args: argparse.Namespace) -> int:
    from mixedmodels.pooling import pooling, type1_error

    try:
        if args.command == "pooling":
            if args.trials and args.family != "binomial":
                raise MixedModelsError("--trials is for a binomial response: add --family binomial")
            target = writable_target(args.plot) if args.plot else None  # before the work
            if target is not None:
                try:
                    import matplotlib
                except ImportError:
                    raise MixedModelsError(
                        "--plot needs matplotlib: pip install 'mixedmodels[plot]'"
                    ) from None
                matplotlib.use("Agg")
            result = pooling(
                read_data(args.data),
                response=args.response,
                group=args.group,
                family=args.family,
                trials=args.trials,
            )
            sd_e = "" if result.sigma_e is None else f", sigma_e = {result.sigma_e:.4g}"
            print(f"sigma_u = {result.sigma_u:.4g}{sd_e}, ICC = {result.icc:.3f}")
            if result.note:
                print(result.note)
            print(result.table.round(4).to_string())
            if target is not None:
                from mixedmodels.plot import pooling as pooling_view

                ax = pooling_view(result)
                ax.figure.tight_layout()
                try:
                    ax.figure.savefig(target, dpi=100)
                except OSError as exc:
                    raise MixedModelsError(f"cannot write {target}: {exc.strerror}") from None
                print(f"wrote {target}")
        else:
            t = type1_error(
                args.clusters,
                args.size,
                args.icc,
                args.sims,
                args.covariate,
                seed=args.seed,
                n_jobs=args.jobs,
            )
            print(
                f"{args.sims} simulations, {args.clusters} clusters of {args.size}, ICC "
                f"{args.icc}, design effect {t.design_effect:.3g}, {args.covariate}-level x"
            )
            print(t.table.round(4).to_string())
    except MixedModelsError as exc:
        print(f"mixedmodels: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _explore(host: str, port: int) -> int:
    if not 0 < port < 65536:
        print(f"mixedmodels: error: --port must be 1-65535, not {port}", file=sys.stderr)
        return 2
    try:
        from mixedmodels.app.server import serve
    except ImportError:
        print(
            "mixedmodels: error: the explorer needs Dash: pip install 'mixedmodels[app]'",
            file=sys.stderr,
        )
        return 2
    import socket

    try:
        with socket.create_server((host, port)):
            pass  # free: say so now rather than after Dash has started
    except OSError as exc:
        print(f"mixedmodels: error: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 2
    try:
        serve(host, port)
    except OSError as exc:
        print(f"mixedmodels: error: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
