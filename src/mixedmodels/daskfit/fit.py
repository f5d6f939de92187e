"""Fit a linear mixed model to a Dask DataFrame: plan, levels pass, encodings, blocks pass,
then the same optimizer and record as in memory."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from mixedmodels._data import shared_in_graph
from mixedmodels.core.covariance import covariance_layout
from mixedmodels.core.optinfo import OptimizerSettings
from mixedmodels.daskfit.blocks import combine_blocks, partition_blocks, select_fixed_columns
from mixedmodels.daskfit.compute import compute, progress_default, tree_reduce
from mixedmodels.daskfit.encoding import (
    BlockEncoder,
    RowEncoder,
    check_stateless,
    factor_lookups,
    is_text,
    prototype_frame,
    random_terms,
)
from mixedmodels.daskfit.levels import LevelsSummary, combine_summaries, summarize_partition
from mixedmodels.daskfit.limits import (
    BYTES_PER_LEVEL,
    DEFAULT_MAX_BLOCK_BYTES,
    check_block_size,
    format_bytes,
    level_cap,
)
from mixedmodels.daskfit.plan import ModelPlan, plan_model
from mixedmodels.daskfit.rows import DaskRows
from mixedmodels.design.conditioning import identity_conditioning
from mixedmodels.design.fixed import aliased_columns, independent_columns
from mixedmodels.design.frame import (
    ModelFrame,
    check_terms,
    lme4_term_order,
    named,
    unique_names,
)
from mixedmodels.design.materialize import INTERCEPT, encode
from mixedmodels.design.response import read_response
from mixedmodels.errors import DataError
from mixedmodels.lmm.fit import build_record, estimate, make_model
from mixedmodels.lmm.record import LmmRecord

__all__ = ["lmm_dask"]


def _levels_pass(plan: ModelPlan, parts: list[Any], cap: int, progress: bool) -> LevelsSummary:
    from dask import delayed

    summaries = [
        delayed(summarize_partition, pure=True)(part, plan, number, cap)
        for number, part in enumerate(parts)
    ]
    summary: LevelsSummary = compute(tree_reduce(summaries, combine_summaries, cap), progress)
    return summary


def _check_levels(plan: ModelPlan, summary: LevelsSummary, limit: int) -> None:
    for name, where in plan.needed.items():
        if summary.non_missing[name] == 0:
            raise DataError(f"column {name!r} (used by {where}) has no non-missing value")
    if summary.n_kept == 0:
        raise DataError(
            "no rows are left after dropping rows with a missing value in "
            f"{', '.join(repr(n) for n in plan.needed)}"
        )
    too_many = [(c, f.count) for c, f in summary.columns.items() if f.values is None]
    too_many += [
        (":".join(f), summary.combination_counts[f])
        for f, combos in summary.combinations.items()
        if combos is None
    ]
    if too_many:
        column, count = too_many[0]
        where = plan.needed.get(column, "a grouping factor")
        raise DataError(
            f"{column!r} ({where}) has more than {count - 1:,} distinct values, too many to "
            f"bring to the client: at about {BYTES_PER_LEVEL} bytes per level at least, "
            f"max_block_bytes={format_bytes(limit)} allows {level_cap(limit):,}. Raise "
            "max_block_bytes if the client has the memory, or use a grouping factor (or "
            "categorical column) with fewer levels."
        )


def lmm_dask(
    formula: str,
    ddf: Any,
    *,
    reml: bool = True,
    weights: Any = None,
    offset: Any = None,
    settings: OptimizerSettings | None = None,
    progress: bool | None = None,
    max_block_bytes: int | None = None,
    names: str = "python",
) -> LmmRecord:
    """:func:`mixedmodels.lmm` for a Dask DataFrame (see :mod:`mixedmodels.daskfit`).

    Parameters
    ----------
    formula, reml, settings
        As for :func:`mixedmodels.lmm`.
    ddf : dask.dataframe.DataFrame
    weights, offset : str, optional
        Column names (arrays cannot be aligned with partitions).
    progress : bool, optional
        Show Dask's progress bar during the two passes (default: when stderr is a
        terminal).
    max_block_bytes : int, optional
        Limit on the client memory the model's levels and blocks may need (estimated;
        default :data:`~mixedmodels.daskfit.limits.DEFAULT_MAX_BLOCK_BYTES`).
    """
    from dask import delayed

    settings = settings or OptimizerSettings()
    show = progress_default() if progress is None else bool(progress)
    limit = DEFAULT_MAX_BLOCK_BYTES if max_block_bytes is None else int(max_block_bytes)
    if limit <= 0:
        raise DataError(f"max_block_bytes must be positive, not {max_block_bytes!r}")
    plan = plan_model(formula, ddf, weights, offset)
    parsed = plan.parsed
    parts = list(ddf[list(plan.needed)].to_delayed())

    summary = _levels_pass(plan, parts, level_cap(limit), show)
    _check_levels(plan, summary, limit)

    proto = prototype_frame(plan, summary)
    read_response(parsed.response, proto, "numeric")  # a non-numeric response: our error
    check_stateless(encode(f"0 + {parsed.response}", proto, "the response")[2], parsed.response)
    _, fixed_names, fixed_spec = encode(parsed.fixed, proto, "the fixed part")
    check_stateless(fixed_spec, parsed.fixed)
    offset_specs = []
    for expr in parsed.offsets:
        spec = encode(f"0 + {expr}", proto, "offset()")[2]
        check_stateless(spec, f"offset({expr})")
        offset_specs.append(spec)
    lookups = factor_lookups(plan, summary)
    terms = lme4_term_order(random_terms(plan, proto, lookups))
    vc_names = unique_names([t.factor.name for t in terms])
    terms = [replace(t, vc_name=v) for t, v in zip(terms, vc_names, strict=True)]
    n = summary.n_kept
    check_terms(terms, n, residual_variance=True)
    p_full = len(fixed_names)
    skeleton = ModelFrame(
        formula=parsed,
        response_name=parsed.response,
        y=np.empty(0),
        X=np.empty((0, p_full)),
        fixed_names=tuple(fixed_names),
        weights=None,
        offset=None,
        terms=tuple(terms),
        rows=np.empty(0, dtype=np.int64),
        n_input=summary.n_input,
        aliased=(),
        data=proto.iloc[:0],
        fixed_encoding=fixed_spec,
        kept_columns=tuple(range(p_full)),
        offset_encodings=tuple(offset_specs),
        offset_column=plan.offset_column,
    )
    layout = covariance_layout(skeleton)
    check_block_size([(b.factor.name, b.n_levels, b.k) for b in layout.blocks], p_full, limit)

    shift = summary.response_sum / n if INTERCEPT in fixed_names else 0.0
    blocks = tuple(
        BlockEncoder(
            lookups[block.factor.name],
            tuple(skeleton.terms[t].encoding for t, _, _ in block.term_columns),
            " + ".join(skeleton.terms[t].spec.source for t, _, _ in block.term_columns),
        )
        for block in layout.blocks
    )
    encoder = RowEncoder(
        needed=tuple(plan.needed),
        where=dict(plan.needed),
        response=parsed.response,
        fixed=fixed_spec,
        offset_encodings=tuple(offset_specs),
        offset_column=plan.offset_column,
        weight_column=plan.weight_column,
        encoded_levels=tuple(
            (c, pd.Index(lookup_values)) for c, lookup_values in _encoded_levels(plan, summary)
        ),
        as_categorical=tuple(
            (c, pd.CategoricalDtype(proto[c].cat.categories))
            for c in plan.encoded_columns
            if is_text(plan.dtypes[c])
        ),
        blocks=blocks,
        shift=shift,
    )
    shared = shared_in_graph(encoder)
    partial = [
        delayed(partition_blocks, pure=True)(part, shared, number)
        for number, part in enumerate(parts)
    ]
    total = compute(tree_reduce(partial, combine_blocks), show)

    keep = independent_columns(total.r)
    aliased = aliased_columns(list(fixed_names), keep, stacklevel=3)
    products = select_fixed_columns(total.products, keep)
    frame = named(
        replace(
            skeleton,
            X=np.empty((0, keep.size)),
            fixed_names=tuple(fixed_names[i] for i in keep),
            aliased=aliased,
            kept_columns=tuple(int(i) for i in keep),
        ),
        names,
    )
    # the rows are not at hand to centre and scale: the model keeps the original matrices
    model = make_model(products, shift, frame, layout, identity_conditioning(frame), reml)
    est = estimate(model, frame, layout, settings)
    label = f"a Dask DataFrame ({ddf.npartitions} partitions)"
    return build_record(
        est,
        frame,
        layout,
        model,
        np.empty(0),
        np.empty(0),
        pd.RangeIndex(0),
        label,
        summary.n_input - n,
        rows_source=DaskRows(ddf, encoder),
    )


def _encoded_levels(plan: ModelPlan, summary: LevelsSummary) -> list[tuple[str, np.ndarray]]:
    from mixedmodels.daskfit.levels import ordered_levels

    return [(c, ordered_levels(plan, c, summary.columns[c])) for c in plan.encoded_columns]
