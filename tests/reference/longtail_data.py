"""Write the long-tailed crossed designs of ``benchmarks/crossed_longtail.py`` as CSV for
``longtail_lme4.R`` (columns y, x, subj, item; the same seed as the benchmark).

    python tests/reference/longtail_data.py DIR [PRESET ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import crossed_longtail  # noqa: E402


def main(argv: list[str]) -> None:
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    for preset in argv[1:] or ["longtail_2k", "longtail_8k"]:
        frame = crossed_longtail.make(*crossed_longtail.PRESETS[preset])
        frame[["y", "x", "subj", "item"]].to_csv(out / f"{preset}.csv", index=False)


if __name__ == "__main__":
    main(sys.argv[1:])
