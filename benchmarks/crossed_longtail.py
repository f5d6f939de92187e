"""Long-tailed crossed data: subjects x items with Zipf item popularity and skewed activity.

The uniform ``sim_crossed`` design (every subject and item equally likely) hides what real
crossed data look like: a few items are seen by nearly everyone, most items by a handful of
subjects, and a few subjects are far more active than the rest.  That is the case where the
Schur complement on the items fills in, so it is the case the sparse Cholesky has to win.

Choices (fixed, so every size is the same kind of data):

- **Item popularity** is Zipf: the item of popularity rank ``r`` (1 = most popular) is drawn
  with probability proportional to ``1 / r**ITEM_EXPONENT`` with ``ITEM_EXPONENT = 1.0``, the
  classical Zipf law of word and product frequencies.  Ranks are assigned to item labels at
  random, so a label says nothing about popularity.
- **Subject activity** is log-normal: subject ``s`` is drawn with probability proportional to
  ``exp(SUBJECT_SIGMA * z_s)``, ``z_s ~ N(0, 1)``, ``SUBJECT_SIGMA = 1.2``.  With 300k rows
  and 20k subjects (15 rows each on average) the median subject has 8 rows and the most
  active ones 700-1,100: many light users, few heavy ones.
- Subject and item are drawn independently for each row, so a pair can repeat.
- Every subject and every item appears at least once (the first ``n_subjects`` rows cover
  the subjects, the first ``n_items`` rows the items; the rows are then shuffled), so the
  factors have exactly ``n_subjects`` and ``n_items`` levels.
- Measured at the issue's sizes (seed 12): the top 1% of items hold 44% (2k items) to 57%
  (2M rows, 30k items) of the rows; the most popular item has 27k-37k of 300k rows.
- ``y = 1 + 0.3 x + b_subj + b_item + e`` with ``x, e ~ N(0, 1)``, subject effects
  ``N(0, 0.8^2)`` and item effects ``N(0, 0.5^2)`` (the scales of ``sim_crossed``).

Usage::

    python benchmarks/crossed_longtail.py --rows 300000 --subjects 20000 --items 2000 out.parquet
    python benchmarks/crossed_longtail.py --preset all --out-dir benchmarks/data

``make(n_rows, n_subjects, n_items, seed)`` returns the pandas DataFrame.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["ITEM_EXPONENT", "SUBJECT_SIGMA", "PRESETS", "make", "make_codes"]

ITEM_EXPONENT = 1.0
SUBJECT_SIGMA = 1.2
SUBJECT_SD = 0.8
ITEM_SD = 0.5

#: The sizes of issue 12: name -> (rows, subjects, items).
PRESETS: dict[str, tuple[int, int, int]] = {
    "longtail_2k": (300_000, 20_000, 2_000),
    "longtail_8k": (300_000, 20_000, 7_800),
    "longtail_17k": (300_000, 20_000, 17_000),
    "longtail_2m": (2_000_000, 100_000, 30_000),
    # the largest fitted here (benchmarks/longtail_fit.md): the 2M design with a third
    # more items
    "longtail_2m40k": (2_000_000, 100_000, 40_000),
    # twice its rows and subjects: refused before anything is allocated (its estimate
    # passes what the machine can take)
    "longtail_4m": (4_000_000, 200_000, 40_000),
}


def _draw(rng: np.random.Generator, weights: np.ndarray, n_rows: int) -> np.ndarray:
    """``n_rows`` level codes with the given (unnormalised) weights; each level at least once."""
    m = weights.size
    if n_rows < m:
        raise ValueError(f"{n_rows} rows cannot cover {m} levels")
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    rest = np.searchsorted(cdf, rng.random(n_rows - m), side="right")
    return np.concatenate([np.arange(m), np.minimum(rest, m - 1)])


def make_codes(n_rows: int, n_subjects: int, n_items: int, seed: int = 12) -> dict[str, np.ndarray]:
    """The data as integer codes: ``y``, ``x``, ``subj`` and ``item`` (0-based) arrays."""
    rng = np.random.default_rng(seed)
    item_rank = rng.permutation(n_items)  # item j has popularity rank item_rank[j] + 1
    item_w = 1.0 / (item_rank + 1.0) ** ITEM_EXPONENT
    subj_w = np.exp(SUBJECT_SIGMA * rng.standard_normal(n_subjects))
    subj = _draw(rng, subj_w, n_rows)
    item = _draw(rng, item_w, n_rows)
    # Shuffle each column on its own: the coverage prefixes land on random rows, unpaired.
    subj = subj[rng.permutation(n_rows)]
    item = item[rng.permutation(n_rows)]
    x = rng.standard_normal(n_rows)
    b_subj = rng.normal(scale=SUBJECT_SD, size=n_subjects)
    b_item = rng.normal(scale=ITEM_SD, size=n_items)
    y = 1.0 + 0.3 * x + b_subj[subj] + b_item[item] + rng.standard_normal(n_rows)
    return {"y": y, "x": x, "subj": subj.astype(np.int32), "item": item.astype(np.int32)}


def _labels(prefix: str, codes: np.ndarray, m: int) -> pd.Categorical:
    categories = np.char.add(prefix, np.arange(m).astype(str))
    return pd.Categorical.from_codes(codes, categories=categories)


def make(n_rows: int, n_subjects: int, n_items: int, seed: int = 12) -> pd.DataFrame:
    """A DataFrame with ``y, x`` (float) and ``subj, item`` (categorical, "s0"..., "i0"...)."""
    c = make_codes(n_rows, n_subjects, n_items, seed)
    return pd.DataFrame(
        {
            "y": c["y"],
            "x": c["x"],
            "subj": _labels("s", c["subj"], n_subjects),
            "item": _labels("i", c["item"], n_items),
        }
    )


def describe(df: pd.DataFrame) -> str:
    """One line on how skewed the levels are."""
    s = df["subj"].value_counts().to_numpy()
    i = df["item"].value_counts().to_numpy()
    return (
        f"{len(df):,} rows; subjects {s.size:,} (rows per subject median {np.median(s):.0f}, "
        f"max {s.max():,}); items {i.size:,} (median {np.median(i):.0f}, max {i.max():,}, "
        f"top 1% of items hold {np.sort(i)[::-1][: max(1, i.size // 100)].sum() / len(df):.0%} "
        "of rows)"
    )


def _write(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        df.to_parquet(path, index=False)
    elif path.suffix == ".csv":
        df.to_csv(path, index=False, float_format="%.10g")
    else:
        raise ValueError(f"{path}: use .parquet or .csv")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("output", nargs="?", type=Path, help="file to write (.parquet or .csv)")
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--subjects", type=int, default=20_000)
    ap.add_argument("--items", type=int, default=2_000)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--preset", choices=[*PRESETS, "all"], help="one of the issue's sizes")
    ap.add_argument("--out-dir", type=Path, default=Path("benchmarks/data"))
    ap.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    args = ap.parse_args(argv)
    if args.preset is not None:
        names = list(PRESETS) if args.preset == "all" else [args.preset]
        for name in names:
            df = make(*PRESETS[name], seed=args.seed)
            path = args.out_dir / f"{name}.{args.format}"
            _write(df, path)
            print(f"wrote {path}: {describe(df)}")
        return
    if args.output is None:
        ap.error("give an output file or --preset")
    df = make(args.rows, args.subjects, args.items, seed=args.seed)
    _write(df, args.output)
    print(f"wrote {args.output}: {describe(df)}")


if __name__ == "__main__":
    main()
