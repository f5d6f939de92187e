"""Write ``data/crossed_ar1.csv``: a simulated subjects x items experiment, each subject's
trials in time order with AR(1) residuals, for ``crossed_ar1_reference.R``.

30 subjects see 40 items twice each in a random order (80 trials a subject, 2,400 rows);
``y = 1 + 0.5 x + u_s + v_s x + w_i + e``, ``sd(u) = 1``, ``sd(v) = 0.4``,
``sd(w) = 0.7``, ``e`` AR(1) in trial order with ``Phi = 0.6`` and SD 0.8.
Run: ``python tests/reference/crossed_ar1_data.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

N_SUBJECTS, N_ITEMS, REPS, PHI, SEED = 30, 40, 2, 0.6, 2026


def simulate(n_subjects: int, n_items: int, reps: int, phi: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    u = rng.normal(0.0, [1.0, 0.4], size=(n_subjects, 2))
    w = rng.normal(0.0, 0.7, size=n_items)
    frames = []
    for s in range(n_subjects):
        items = np.concatenate([rng.permutation(n_items) for _ in range(reps)])
        e = np.empty(items.size)
        e[0] = rng.normal()
        for t in range(1, items.size):
            e[t] = phi * e[t - 1] + np.sqrt(1.0 - phi**2) * rng.normal()
        x = rng.normal(size=items.size)
        frames.append(
            pd.DataFrame(
                {
                    "subject": f"s{s:02d}",
                    "item": [f"i{i:02d}" for i in items],
                    "trial": np.arange(1, items.size + 1),
                    "x": x,
                    "y": 1.0 + 0.5 * x + u[s, 0] + u[s, 1] * x + w[items] + 0.8 * e,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


if __name__ == "__main__":
    out = Path(__file__).parent / "data" / "crossed_ar1.csv"
    simulate(N_SUBJECTS, N_ITEMS, REPS, PHI, SEED).to_csv(out, index=False, float_format="%.17g")
    print(out)
