"""Power by simulation (the idea of Green & MacLeod's simr, written here): responses are
simulated from a fitted model with the effect of interest set to an assumed value, the
model is refitted to each, and the power is the share of refits whose test of that effect
rejects at ``alpha``. Along a grouping factor the design is first made larger or smaller
(:mod:`mixedmodels.planning.along`) and fitted once; its data sets are refits of that fit, so
each costs one optimisation from a nearby start and no formula reading.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy

from mixedmodels._replicates import progress_bar, run_replicates
from mixedmodels.core.display import table_html, table_latex, table_markdown, table_text
from mixedmodels.errors import MixedModelsError, ModelSpecError
from mixedmodels.planning.along import data_along, nested_in

__all__ = ["PowerResult", "power"]

LMM_TESTS = ("satterthwaite", "kenward-roger", "z")
MAX_SIMULATIONS = 1_000_000


@dataclass(frozen=True)
class PowerResult:
    """Simulated power of the test of one fixed effect, at one design or along a curve.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per design (indexed by the number of levels of ``along``, or by ``"fit"``):
        ``n_rows, n_sims, n_failed, power, mc_se, lower, upper`` (``lower``/``upper``:
        Clopper-Pearson 95 % interval of the power; failed refits are left out).
    simulations : pandas.DataFrame
        One row per simulated data set: ``design, estimate, std_error, p_value``.
    effect : str
        The coefficient tested.
    value : float
        Its value in the simulations.
    alpha : float
    test : str
        ``"satterthwaite"``, ``"kenward-roger"`` or ``"z"`` (Wald).
    along : str or None
        The grouping factor whose number of levels varies.
    """

    table: pd.DataFrame
    simulations: pd.DataFrame
    effect: str
    value: float
    alpha: float
    test: str
    along: str | None

    def plot(self, ax: Any = None) -> Any:
        """The power curve with its intervals (:func:`mixedmodels.plot.power_curve`)."""
        from mixedmodels.plot.power import power_curve

        return power_curve(self, ax=ax)

    def _notes(self) -> list[str]:
        return [
            f"Power of the {self.test} test of {self.effect} = {self.value:.4g} at "
            f"alpha = {self.alpha:g}; 95 % Clopper-Pearson intervals."
        ]

    def __repr__(self) -> str:
        return table_text(self.table.reset_index(), self._notes())

    def _repr_html_(self) -> str:
        return table_html(self.table.reset_index(), self._notes(), "Power by simulation")

    def to_markdown(self, digits: int = 4) -> str:
        """The table as Markdown, its note below."""
        return table_markdown(self.table.reset_index(), self._notes(), digits)

    def to_latex(self, digits: int = 4) -> str:
        """The table as a LaTeX ``tabular``, its note below."""
        return table_latex(self.table.reset_index(), self._notes(), digits)


@dataclass(frozen=True)
class _Design:
    """What each replicate of one design reads: the fit whose design the data sets have,
    the parameters they are simulated with, and the test."""

    template: Any
    beta: np.ndarray
    theta: np.ndarray
    scale: float | None
    index: int
    test: str


def _simulate(design: _Design, rng: np.random.Generator) -> np.ndarray:
    from mixedmodels.glmm.result import GlmmResult

    fit = design.template
    if isinstance(fit, GlmmResult):
        from mixedmodels.glmm.simulate import simulate_responses as glmm_simulate

        return glmm_simulate(
            fit, 1, rng, "new", beta=design.beta, theta=design.theta, dispersion=design.scale
        )[:, 0]
    from mixedmodels.lmm.simulate import simulate_responses

    return simulate_responses(
        fit, 1, rng, "new", beta=design.beta, theta=design.theta, sigma=design.scale
    )[:, 0]


def _test(fit: Any, index: int, test: str) -> tuple[float, float, float]:
    """Estimate, standard error and two-sided p-value of coefficient ``index``."""
    estimate = float(fit.beta[index])
    if test == "satterthwaite":
        from mixedmodels.inference.satterthwaite import SatterthwaitePieces
        from mixedmodels.inference.varpar import VarianceFunctions

        pieces = SatterthwaitePieces.of(VarianceFunctions(fit))
        se = float(np.sqrt(pieces.V[index, index]))
        df = float(pieces.df(np.eye(fit.beta.size)[index]))
        return estimate, se, float(2.0 * scipy.stats.t.sf(abs(estimate / se), df))
    if test == "kenward-roger":
        from mixedmodels.inference.kenward_roger import kenward_roger_t

        kr = kenward_roger_t(fit)
        return estimate, float(kr["std_error"][index]), float(kr["p_value"][index])
    se = float(np.sqrt(fit._vcov_array()[index, index]))
    return estimate, se, float(2.0 * scipy.stats.norm.sf(abs(estimate / se)))


def _replicate(design: _Design, seq: np.random.SeedSequence) -> tuple[float, float, float]:
    """One simulated data set: its refit's estimate, SE and p (NaN when the refit
    fails, as lme4's bootMer records it)."""
    y = _simulate(design, np.random.default_rng(seq))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _test(design.template.refit(y), design.index, design.test)
    except (MixedModelsError, ArithmeticError, np.linalg.LinAlgError, ValueError):
        return math.nan, math.nan, math.nan


def _coefficient(fit: Any, effect: str) -> int:
    names = list(fit.fixed_names)
    if effect in names:
        return names.index(effect)
    # a term with one column: "treat" for "treat[T.b]"
    columns = [i for i, n in enumerate(names) if n.startswith(f"{effect}[")]
    if len(columns) == 1:
        return columns[0]
    if columns:
        raise ModelSpecError(
            f"{effect!r} has {len(columns)} coefficients "
            f"({', '.join(names[i] for i in columns)}); name one of them"
        )
    raise ModelSpecError(f"no fixed effect {effect!r}; the fit's are {', '.join(names)}")


def _parts(fit: Any) -> tuple[pd.DataFrame, tuple[str, ...], bool]:
    """The fit's data, its grouping columns, and whether it has side models a larger
    design could not copy (a GLMM's zero-inflation or dispersion formula)."""
    from mixedmodels.glmm.result import GlmmResult
    from mixedmodels.lmm_result import LmmResult

    if isinstance(fit, GlmmResult):
        model = fit._require_model("power()")
        sides = model.zi_formula is not None or model.disp_formula is not None
        frame, blocks = model.frame, model.layout.blocks
    elif isinstance(fit, LmmResult):
        fit._require_rows("power()")
        frame, blocks, sides = fit._frame, fit._layout.blocks, False
    else:
        raise ModelSpecError(
            f"power() takes a fit of mm.lmm or mm.glmm, not a {type(fit).__name__}"
        )
    grouping = tuple(dict.fromkeys(p for b in blocks for p in b.factor.name.split(":")))
    return frame.data, grouping, sides


def _template(fit: Any, data: pd.DataFrame, along: str, n_levels: int) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fit.update(data=data)
    if tuple(out.fixed_names) != tuple(fit.fixed_names) or len(out.theta) != len(fit.theta):
        raise ModelSpecError(
            f"with {n_levels} levels of {along!r} the model has other coefficients "
            f"({', '.join(out.fixed_names)}) than the fit; a fixed-effect factor lost levels"
        )
    return out


def _check_levels(along: str | None, levels: Sequence[int] | None) -> tuple[int, ...]:
    if along is None:
        if levels is not None:
            raise ModelSpecError("levels= needs along=, the grouping factor they count")
        return ()
    if levels is None or isinstance(levels, (str, bytes)) or not len(levels):
        raise ModelSpecError(f"along={along!r} needs levels=, the numbers of its levels")
    out = []
    for k in levels:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
            raise ModelSpecError(f"levels of {along!r} must be whole numbers >= 2, not {k!r}")
        out.append(int(k))
    if len(set(out)) != len(out):
        raise ModelSpecError(f"levels of {along!r} repeat a value: {out}")
    return tuple(out)


def power(
    fit: Any,
    effect: str,
    value: float | None = None,
    *,
    n_sims: int = 1000,
    alpha: float = 0.05,
    test: str | None = None,
    along: str | None = None,
    levels: Sequence[int] | None = None,
    seed: int | None = None,
    n_jobs: int = 1,
    progress: bool = True,
    client: Any = None,
) -> PowerResult:
    """Power of the test of one fixed effect, by simulating from a fitted model.

    Each data set draws new random effects and residuals from ``fit`` with the
    coefficient ``effect`` set to ``value``, the model is refitted to it and the effect is
    tested; the power is the share of tests that reject at ``alpha``.

    Parameters
    ----------
    fit : LmmResult or GlmmResult
        The model and design (a pilot fit, or a fit to data laid out as planned).
    effect : str
        A fixed-effect coefficient, or a term with a single one (``"treat"`` for
        ``"treat[T.b]"``).
    value : float, optional
        The effect size to detect. By default the fitted value, which is "observed
        power" (a restatement of the p-value, not a plan); a warning says so.
    n_sims : int
        Data sets per design.
    alpha : float
        Level of the two-sided test.
    test : {"satterthwaite", "kenward-roger", "z"}, optional
        LMMs: Satterthwaite's t (the default, as lmerTest), Kenward-Roger's or Wald's z;
        GLMMs: Wald's z.
    along : str, optional
        A grouping factor of the fit whose number of levels varies (simr's
        ``powerCurve(along=)``): fewer levels keep the first ones, more copy the design
        (:mod:`mixedmodels.planning.along`).
    levels : sequence of int
        The numbers of levels of ``along``.
    seed : int, optional
        Data set ``i`` of each design draws from its own generator spawned from it, so the
        result does not depend on ``n_jobs`` or ``client``.
    n_jobs : int
        Worker processes (-1: one per core).
    progress : bool
        Show a progress bar.
    client : dask.distributed.Client, optional
        Run the refits on its workers.

    Returns
    -------
    PowerResult
    """
    from mixedmodels.glmm.result import GlmmResult

    data, grouping, sides = _parts(fit)
    index = _coefficient(fit, effect)
    name = fit.fixed_names[index]
    is_glmm = isinstance(fit, GlmmResult)
    if test is None:
        test = "z" if is_glmm else "satterthwaite"
    if test not in (("z",) if is_glmm else LMM_TESTS):
        allowed = "'z'" if is_glmm else "'satterthwaite', 'kenward-roger' or 'z'"
        raise ModelSpecError(f"test must be {allowed} for this fit, not {test!r}")
    if isinstance(n_sims, bool) or not isinstance(n_sims, (int, np.integer)):
        raise ModelSpecError(f"n_sims must be a whole number, not {n_sims!r}")
    if not 1 <= n_sims <= MAX_SIMULATIONS:
        raise ModelSpecError(f"n_sims must lie between 1 and {MAX_SIMULATIONS:,}, not {n_sims}")
    if not 0 < alpha < 1:
        raise ModelSpecError(f"alpha must lie strictly between 0 and 1, not {alpha!r}")
    sizes = _check_levels(along, levels)
    if along is not None and along not in grouping:
        raise ModelSpecError(
            f"along={along!r} is not a grouping factor of the fit; its grouping columns "
            f"are {', '.join(grouping)}"
        )
    if value is None:
        value = float(fit.beta[index])
        warnings.warn(
            f"power at the fitted {name} = {value:.4g} is observed power, a restatement of "
            "the fit's p-value; pass value= with the effect the study should detect",
            UserWarning,
            stacklevel=2,
        )
    if not np.isfinite(value):
        raise ModelSpecError(f"value must be a finite number, not {value!r}")
    if along is not None and sides:
        raise ModelSpecError(
            "a power curve copies the design, which a GLMM with a zero-inflation or "
            "dispersion model cannot (its side models are fitted per row); leave out along="
        )
    beta = np.array(fit.beta, dtype=np.float64)
    beta[index] = float(value)
    theta = np.array(fit.theta, dtype=np.float64)
    scale = float(fit.sigma) if not is_glmm else None
    if is_glmm and along is not None:
        scale = float(np.asarray(fit.dispersion))

    nested = nested_in(data, along, grouping) if along is not None else ()
    keys: list[Any] = list(sizes) if sizes else ["fit"]
    roots = np.random.SeedSequence(seed).spawn(len(keys))
    bar = progress_bar(len(keys) * int(n_sims), progress, "power", "fit")
    jobs = (os.cpu_count() or 1) if n_jobs == -1 else max(1, int(n_jobs))
    rows, sims = [], []
    try:
        for key, root in zip(keys, roots, strict=True):
            if along is None:
                template = fit
            else:
                template = _template(fit, data_along(data, along, key, nested), along, key)
            design = _Design(template, beta, theta, scale, index, test)
            out = run_replicates(
                _replicate,
                design,
                root.spawn(int(n_sims)),
                n_jobs=n_jobs,
                client=client,
                bar=bar,
                batch_size=max(1, int(n_sims) // (8 * jobs)),
            )
            result = np.array(out, dtype=np.float64).reshape(-1, 3)
            p = result[:, 2]
            done = np.isfinite(p)
            hits, n_done = int(np.sum(p[done] < alpha)), int(done.sum())
            rate = hits / n_done if n_done else math.nan
            if n_done:
                ci = scipy.stats.binomtest(hits, n_done).proportion_ci(method="exact")
                lower, upper = float(ci.low), float(ci.high)
            else:
                lower = upper = math.nan
            rows.append(
                {
                    "n_rows": int(template.nobs),
                    "n_sims": int(n_sims),
                    "n_failed": int(n_sims) - n_done,
                    "power": rate,
                    "mc_se": math.sqrt(rate * (1 - rate) / n_done) if n_done else math.nan,
                    "lower": lower,
                    "upper": upper,
                }
            )
            sims.append(
                pd.DataFrame(
                    {
                        "design": key,
                        "estimate": result[:, 0],
                        "std_error": result[:, 1],
                        "p_value": p,
                    }
                )
            )
    finally:
        if bar is not None:
            bar.close()
    table = pd.DataFrame(rows, index=pd.Index(keys, name=along or "design"))
    return PowerResult(
        table,
        pd.concat(sims, ignore_index=True),
        name,
        float(value),
        float(alpha),
        test,
        along,
    )
