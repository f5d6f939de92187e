"""'Show code': the Python that reproduces the current view with the library.

Values come from validated controls; the only user text (a file or column name) enters as
a Python string literal made by ``repr``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["hospitals_code", "ignoring_code", "shrinkage_code", "upload_code"]


def shrinkage_code(state: dict[str, Any], replications: int | None = None) -> str:
    lines = [
        "import mixedmodels as mm",
        "",
        f"data = mm.simulate_clusters({state['J']}, {state['n']}, sigma_u={state['su']}, "
        f"sigma_e={state['se']}, sizes={state['sizes']!r}, seed={state['seed']})",
        "result = mm.pooling(data)",
        "print(result.table)  # n, no / complete / partial pooling, alpha, SEs, true means",
        "print(result.sigma_u, result.sigma_e, result.icc)  # the estimates",
        "print(result.mse)  # each estimator's MSE against the true cluster means",
        "mm.plot.pooling(result)  # this view with matplotlib",
    ]
    if replications:
        lines += [
            "",
            f"study = mm.pooling_study({replications}, {state['J']}, {state['n']}, "
            f"{state['su']}, {state['se']}, {state['sizes']!r}, seed={state['seed']})",
            "print(study.summary())",
        ]
    return "\n".join(lines)


def hospitals_code(rows: list[dict[str, Any]]) -> str:
    names = [r["hospital"] for r in rows]
    patients = [int(r["patients"]) for r in rows]
    deaths = [int(r["deaths"]) for r in rows]
    return "\n".join(
        [
            "import pandas as pd",
            "import mixedmodels as mm",
            "",
            "hospitals = pd.DataFrame({",
            f"    'hospital': {names!r},",
            f"    'patients': {patients!r},",
            f"    'deaths': {deaths!r},",
            "})",
            "result = mm.pooling(hospitals, response='deaths', group='hospital',",
            "                    family='binomial', trials='patients')",
            "print(result.table)  # own rate, overall rate, partially pooled rate, alpha",
            "print(result.fit.summary())  # the binomial GLMM (mm.glmm)",
        ]
    )


def ignoring_code(state: dict[str, Any]) -> str:
    return "\n".join(
        [
            "import mixedmodels as mm",
            "",
            f"result = mm.type1_error(n_clusters={state['J']}, cluster_size={state['m']}, "
            f"icc={state['icc']}, n_sims={int(state['sims'])},",
            f"                        covariate={state['covariate']!r}, seed={state['seed']})",
            "print(result.table)  # rejection rate and Monte Carlo SE per method",
            "print(result.design_effect)",
            "result.p_values.hist(bins=20)  # flat when the test is valid",
        ]
    )


def upload_code(filename: str, response: str, group: str, shipped: bool = False) -> str:
    read = f"mm.datasets.load({filename!r})" if shipped else f"pd.read_csv({filename!r})"
    return "\n".join(
        [
            "import pandas as pd",
            "import mixedmodels as mm",
            "",
            f"data = {read}",
            f"result = mm.pooling(data, response={response!r}, group={group!r})",
            "print(result.table)",
            "mm.plot.pooling(result)",
        ]
    )
