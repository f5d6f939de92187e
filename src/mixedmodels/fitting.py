"""The fitting entry points: rows in memory go to :mod:`mixedmodels.lmm`, a Dask DataFrame
to :mod:`mixedmodels.daskfit`, which reduces its partitions to the same blocks; either fit's
record comes back as the user-facing :class:`~mixedmodels.lmm_result.LmmResult`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from mixedmodels._data import is_dask_dataframe
from mixedmodels.core.optinfo import OptimizerSettings
from mixedmodels.design.namespace import user_functions, with_contrasts
from mixedmodels.design.rnames import check_name_style
from mixedmodels.errors import ModelSpecError
from mixedmodels.gls.structures import Correlation, Variance
from mixedmodels.lmm.fit import lmm as lmm_in_memory
from mixedmodels.lmm_result import LmmResult

if TYPE_CHECKING:
    from mixedmodels.lmm.structured import StructuredLmmResult

__all__ = ["lmm"]


@overload
def lmm(
    formula: str,
    data: Any,
    *,
    reml: bool = ...,
    weights: Any = ...,
    offset: Any = ...,
    settings: OptimizerSettings | None = ...,
    start: Any = ...,
    progress: bool | None = ...,
    max_block_bytes: int | None = ...,
    correlation: None = ...,
    variance: None = ...,
    contrasts: Mapping[str, Any] | None = ...,
    names: str = ...,
    functions: Mapping[str, Any] | None = ...,
) -> LmmResult: ...


@overload
def lmm(
    formula: str,
    data: Any,
    *,
    reml: bool = ...,
    weights: Any = ...,
    offset: Any = ...,
    settings: OptimizerSettings | None = ...,
    start: Any = ...,
    progress: bool | None = ...,
    max_block_bytes: int | None = ...,
    correlation: Correlation | None = ...,
    variance: Variance | None = ...,
    contrasts: Mapping[str, Any] | None = ...,
    names: str = ...,
    functions: Mapping[str, Any] | None = ...,
) -> LmmResult | StructuredLmmResult: ...


def lmm(
    formula: str,
    data: Any,
    *,
    reml: bool = True,
    weights: Any = None,
    offset: Any = None,
    settings: OptimizerSettings | None = None,
    start: Any = None,
    progress: bool | None = None,
    max_block_bytes: int | None = None,
    correlation: Correlation | None = None,
    variance: Variance | None = None,
    contrasts: Mapping[str, Any] | None = None,
    names: str = "python",
    functions: Mapping[str, Any] | None = None,
) -> LmmResult | StructuredLmmResult:
    """Fit a linear mixed-effects model, as lme4's ``lmer``.

    The model is ``y = X beta + Z b + e`` with ``b ~ N(0, sigma^2 Lambda Lambda')`` and
    ``e ~ N(0, sigma^2 W^{-1})``; theta (the entries of Lambda) is found by minimizing the
    profiled REML criterion (``reml=True``) or deviance (``reml=False``).

    Parameters
    ----------
    formula : str
        lme4 formula, e.g. ``"Reaction ~ Days + (Days | Subject)"``.
    data : pandas.DataFrame, polars.DataFrame, dict of arrays or dask.dataframe.DataFrame
        A Dask DataFrame is fitted in two passes over its partitions, bringing only the
        cross-product blocks to this process (see ``docs/dask.md``); its ``fitted``,
        ``residuals`` and ``predict`` are then lazy Dask series.
    reml : bool, default True
    weights : str or array-like, optional
        Prior weights (a column name or one value per row).
    offset : str or array-like, optional
        A known term added to the linear predictor.
    settings : OptimizerSettings, optional
    start : array-like, optional
        Starting theta, in lme4's order and parametrization (``fit.theta_names``);
        default lme4's start (1 on the diagonal of each term's factor, 0 elsewhere,
        here on the centred and scaled matrices of :mod:`mixedmodels.design.conditioning`).
    progress : bool, optional
        Dask data only: show Dask's progress bar during the passes (default: when stderr
        is a terminal).
    max_block_bytes : int, optional
        Dask data only: the most client memory the levels and blocks may need (an
        estimate checked before they are built; default 4 GiB).

    correlation : Correlation, optional
        A residual correlation structure (nlme's ``correlation=``: ``mm.corAR1``,
        ``mm.corCAR1``, ``mm.corCompSymm``, ``mm.corSymm``, ``mm.corARMA``, the spatial
        ones), within groups nested in the random effects' grouping factors.
    variance : Variance, optional
        A residual variance function (nlme's ``weights=``: ``mm.varIdent``,
        ``mm.varPower``, ``mm.varExp``, ``mm.varConstPower``).

    contrasts : dict, optional
        R's ``contrasts=``: a coding for categorical columns, ``{"recipe": "sum"}``
        (``"sum"``, ``"helmert"``, ``"poly"``, ``"treatment"`` or
        ``("treatment", base)``); by default treatment contrasts against the first level,
        polynomial ones for ordered categoricals (see ``docs/formulas.md``).
    names : {"python", "r"}, default "python"
        The coefficients' names: formulaic's, which keep variable and level apart
        (``recipe[S.A]``, ``period[T.2]``, ``poly(Days, 2)[1]``, a boolean's ``late[T.True]``), or
        R's, for code ported from R that indexes by name (``recipe1``, ``period2``,
        ``poly(Days, 2)1``, ``lateTRUE``).
    functions : dict, optional
        The user's own functions the formula may call, by name (``{"logit": my_logit}``
        for ``y ~ logit(p) + (1 | g)``): the explicit opt-in to running code of one's
        own from a formula, which otherwise calls only the formula language's
        functions. They are called again on new data by ``predict``; not for Dask data.

    Returns
    -------
    LmmResult
        Or, with ``correlation=`` or ``variance=``, a
        :class:`~mixedmodels.lmm.structured.StructuredLmmResult`.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> fit = mm.lmm("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> round(fit.objective, 3)
    1743.628
    """
    if not isinstance(reml, (bool, np.bool_)):
        raise ModelSpecError(f"reml must be True or False, not {reml!r}")
    formula = with_contrasts(formula, contrasts)
    check_name_style(names)
    if functions and is_dask_dataframe(data):
        raise ModelSpecError(
            "functions= is for data in memory: a Dask DataFrame's partitions are encoded in "
            "other processes; add the transformed column to the frame instead"
        )
    with user_functions(functions):
        return _lmm(
            formula,
            data,
            reml=reml,
            weights=weights,
            offset=offset,
            settings=settings,
            start=start,
            progress=progress,
            max_block_bytes=max_block_bytes,
            correlation=correlation,
            variance=variance,
            names=names,
        )


def _lmm(
    formula: str,
    data: Any,
    *,
    reml: bool,
    weights: Any,
    offset: Any,
    settings: OptimizerSettings | None,
    start: Any,
    progress: bool | None,
    max_block_bytes: int | None,
    correlation: Correlation | None,
    variance: Variance | None,
    names: str,
) -> LmmResult | StructuredLmmResult:
    if correlation is not None or variance is not None:
        if is_dask_dataframe(data) or weights is not None or start is not None:
            raise ModelSpecError(
                "residual structures (correlation=, variance=) are fitted on in-memory data "
                "without prior weights or start="
            )
        from mixedmodels.lmm.structured import lmm_structured  # its inference on use

        return lmm_structured(
            formula,
            data,
            correlation=correlation,
            variance=variance,
            reml=reml,
            offset=offset,
            settings=settings or OptimizerSettings(),
            names=names,
        )
    if is_dask_dataframe(data):
        from mixedmodels.daskfit.fit import lmm_dask

        if start is not None:
            raise ModelSpecError("start= is not supported for Dask data")
        record = lmm_dask(
            formula,
            data,
            reml=reml,
            weights=weights,
            offset=offset,
            settings=settings,
            progress=progress,
            max_block_bytes=max_block_bytes,
            names=names,
        )
    else:
        record = lmm_in_memory(
            formula,
            data,
            reml=reml,
            weights=weights,
            offset=offset,
            settings=settings,
            start=start,
            names=names,
        )
    return LmmResult.of(record)
