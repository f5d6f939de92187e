"""SAS PROC MIXED's results on mmrm's FEV data, as mmrm's authors published them in their
repository (openpharma/mmrm, Apache License 2.0: design/ddfm_covtype/*.csv, the
Kenward-Roger fits of ``FEV1 ~ ARMCD`` with ``ddfm=kr`` and ``ddfm=kr(linear)``; and
design/SAS/sas_log_reml.txt, the type 3 tests of the unstructured REML fit of
``FEV1 ~ ARMCD*AVISIT + RACE + SEX``, printed to SAS's precision).

Usage: python tests/reference/mmrm_sas_extract.py <mmrm checkout> tests/reference
"""

import csv
import json
import re
import sys
from pathlib import Path

STRUCTURES = {
    "us": "us",
    "ar1": "ar1",
    "arh1": "ar1h",
    "cs": "cs",
    "csh": "csh",
    "adh": "adh",
    "toep": "toep",
    "toeph": "toeph",
}


def main(repo: Path, out: Path) -> None:
    kr = {}
    for sas_name, ours in STRUCTURES.items():
        for variant, key in (("kr", "kenward-roger"), ("kr1", "kenward-roger-linear")):
            path = repo / "design" / "ddfm_covtype" / f"{variant}_{sas_name}.csv"
            row = next(csv.DictReader(path.open()))
            kr.setdefault(ours, {})[key] = {
                "estimate": float(row["Estimate"]),
                "std_error": float(row["StdErr"]),
                "df": float(row["DF"]),
            }
    text = (repo / "design" / "SAS" / "sas_log_reml.txt").read_text()
    block = text[text.index("Type 3 Tests of Fixed Effects") :].split("Least Squares")[0]
    type3 = {}
    for m in re.finditer(
        r"^\s+(ARMCD|AVISIT\*ARMCD|AVISIT|RACE|SEX)\s+(\d+)\s+(\d+)\s+"
        r"([\d.]+)\s+([\d.]+)",
        block,
        re.M,
    ):
        type3[m.group(1)] = {
            "numdf": int(m.group(2)),
            "dendf": int(m.group(3)),
            "F": float(m.group(5)),
        }
    (out / "mmrm_sas.json").write_text(
        json.dumps(
            {
                "source": "SAS PROC MIXED output in openpharma/mmrm (commit "
                "ec290b2695b25057b31bc98e27c39d3f498cd0d6), Apache-2.0",
                "kenward_roger_armcd": kr,
                "type3_us_reml": type3,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
