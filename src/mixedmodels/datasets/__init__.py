"""Small classic data sets shipped with mixedmodels, with their sources.

Each set is a CSV file with a JSON file giving the level order of its factors, written
from the R packages that distribute them (lme4 1.1-31, mlmRev, glmmTMB, nlme), so
treatment contrasts and level orders agree with R's.

Examples
--------
>>> import mixedmodels as mm
>>> mm.datasets.names()[:3]
['Dyestuff', 'Dyestuff2', 'Oxboys']
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

import pandas as pd

from mixedmodels.errors import DataError

__all__ = ["load", "names", "describe", "DatasetInfo"]


@dataclass(frozen=True)
class DatasetInfo:
    """What a shipped data set is and where it comes from."""

    name: str
    rows: str
    description: str
    source: str


_INFO = {
    "sleepstudy": DatasetInfo(
        "sleepstudy",
        "180 rows: 18 subjects x 10 days",
        "Average reaction time (ms) per day for subjects restricted to 3 hours of sleep "
        "per night; days 0-1 were adaptation and training.",
        "Belenky et al. (2003), J. Sleep Research 12, 1-12; as distributed in R package lme4.",
    ),
    "Dyestuff": DatasetInfo(
        "Dyestuff",
        "30 rows: 6 batches x 5 preparations",
        "Yield of dyestuff (grams of standard colour) from 6 batches of an intermediate product.",
        "Davies & Goldsmith (1972), Statistical Methods in Research and Production, Table 6.3; "
        "as distributed in R package lme4.",
    ),
    "Dyestuff2": DatasetInfo(
        "Dyestuff2",
        "30 rows: 6 batches x 5 preparations",
        "Simulated yields whose between-batch variance is estimated as zero (a singular fit).",
        "Box & Tiao (1973), Bayesian Inference in Statistical Analysis, Table 5.1.4; as "
        "distributed in R package lme4.",
    ),
    "Penicillin": DatasetInfo(
        "Penicillin",
        "144 rows: 24 plates x 6 samples (crossed)",
        "Diameter (mm) of the zone of inhibition of growth in an assay of penicillin potency.",
        "Davies & Goldsmith (1972), Table 6.6; as distributed in R package lme4.",
    ),
    "Pastes": DatasetInfo(
        "Pastes",
        "60 rows: 10 batches, 3 casks per batch, 2 assays per cask (nested)",
        "Strength of a chemical paste product; casks are nested in batches (sample = batch:cask).",
        "Davies & Goldsmith (1972), Table 6.5; as distributed in R package lme4.",
    ),
    "cake": DatasetInfo(
        "cake",
        "270 rows: 3 recipes x 15 replicates x 6 temperatures",
        "Breakage angle of chocolate cakes; `temp` is the baking temperature (deg F) as a number.",
        "Cook (1938), MSc thesis, Iowa State College; Cochran & Cox (1957); as distributed in "
        "R package lme4 (temperature converted to numeric `temp`).",
    ),
    "cbpp": DatasetInfo(
        "cbpp",
        "56 rows: 15 herds x up to 4 periods",
        "Contagious bovine pleuropneumonia: new serological cases (`incidence`) among "
        "`size` zebu cattle per herd and period in Ethiopia.",
        "Lesnoff et al. (2004), Preventive Veterinary Medicine 64, 27-40; as distributed in "
        "R package lme4.",
    ),
    "Hsb82": DatasetInfo(
        "Hsb82",
        "7,185 rows: students in 160 schools",
        "Mathematics achievement (mAch) of US high-school students with their socio-"
        "economic status (ses), its school mean (meanses) and the school's sector; the "
        "classic students-in-schools example.",
        "High School and Beyond survey, 1982 (Raudenbush & Bryk 2002, Hierarchical Linear "
        "Models); as distributed in R package mlmRev.",
    ),
    "hospitals": DatasetInfo(
        "hospitals",
        "8 rows: one per hospital",
        "Deaths among patients of 8 hospitals, for the partial-pooling question of the "
        "course this project starts from: hospital A has 500 patients and 4.2 % mortality, "
        "hospital B 5 patients and 60 %.",
        "Illustrative: A and B are the course's; C-H were made up for the example "
        "(sizes 40-200, rates 1.7-11.7 %). Not real data.",
    ),
    "Salamanders": DatasetInfo(
        "Salamanders",
        "644 rows: 23 streams x 4 surveys x 7 species (species-life stages)",
        "Counts of stream salamanders in streams draining mountaintop-removal mining "
        "sites (`mined` = yes) and unmined ones in Appalachia; many counts are zero.",
        "Price et al. (2016), Journal of Applied Ecology 53, 459-468; as distributed in R "
        "package glmmTMB.",
    ),
    "Owls": DatasetInfo(
        "Owls",
        "599 rows: arrivals of a parent at 27 barn-owl nests",
        "Number of calls of the nestlings (`SiblingNegotiation`) in the 30 s before a parent "
        "arrived, by the parent's sex and whether the brood was food-satiated or deprived; "
        "`BroodSize` chicks per nest (the usual offset).",
        "Roulin & Bersier (2007), Animal Behaviour 74, 1099-1106; Zuur et al. (2009), Mixed "
        "Effects Models and Extensions in Ecology with R; as distributed in R package glmmTMB.",
    ),
    "betasim": DatasetInfo(
        "betasim",
        "548 rows: 40 groups of 5 to 25",
        "Simulated proportions strictly inside (0, 1) for the beta family: `logit mu = -0.3 "
        "+ 0.6 x + 0.4 trt + b_g`, b_g ~ N(0, 0.5^2); `y` has precision 12, `yd` a precision "
        "with log phi = 2 + trt - 0.4 x (for a dispersion model).",
        "Simulated for mixedmodels by tests/reference/beta_dispformula.R "
        "(set.seed(20261203)); not real data.",
    ),
    "fev_data": DatasetInfo(
        "fev_data",
        "800 rows: 200 subjects x 4 visits (263 responses missing)",
        "Simulated forced expiratory volume (FEV1) of a two-arm trial at four visits, "
        "with race, sex and the baseline value: the example of a mixed model for "
        "repeated measures, missing visits included.",
        "Simulated by the authors of R package mmrm (openpharma/mmrm, Apache License 2.0), "
        "as distributed in that package.",
    ),
    "Orthodont": DatasetInfo(
        "Orthodont",
        "108 rows: 27 children x 4 ages (8, 10, 12, 14)",
        "Distance (mm) from the pituitary to the pterygomaxillary fissure in 16 boys and "
        "11 girls, measured every two years: repeated measures on each child.",
        "Potthoff & Roy (1964), Biometrika 51, 313-326; as distributed in R package nlme.",
    ),
    "Ovary": DatasetInfo(
        "Ovary",
        "308 rows: 11 mares, about 29 days each",
        "Number of ovarian follicles larger than 10 mm in mares, daily around ovulation; "
        "`Time` is the position in the oestrous cycle (0 and 1 at ovulation): a daily "
        "series per mare, autocorrelated.",
        "Pierson & Ginther (1987), Animal Reproduction Science 14, 219-231; as distributed "
        "in R package nlme.",
    ),
    "Oxboys": DatasetInfo(
        "Oxboys",
        "234 rows: 26 boys x 9 occasions",
        "Height (cm) of boys from Oxford at 9 occasions; `age` is centred and scaled.",
        "Goldstein (1987), Multilevel Models in Educational and Social Research; as "
        "distributed in R package mlmRev.",
    ),
}


def names() -> list[str]:
    """Names of the shipped data sets, sorted."""
    return sorted(_INFO, key=str.lower)


def describe(name: str) -> DatasetInfo:
    """Description and source of a shipped data set."""
    return _INFO[_resolve(name)]


def _resolve(name: str) -> str:
    for key in _INFO:
        if key.lower() == str(name).lower():
            return key
    raise DataError(f"no shipped data set called {name!r}; available: {', '.join(names())}")


def load(name: str) -> pd.DataFrame:
    """Load a shipped data set as a pandas DataFrame with categorical factors.

    Parameters
    ----------
    name : str
        One of :func:`names` (case-insensitive).
    """
    key = _resolve(name)
    folder = resources.files("mixedmodels.datasets") / "data"
    with (folder / f"{key}.csv").open("rb") as fh:
        frame = pd.read_csv(fh)
    levels = json.loads((folder / f"{key}.levels.json").read_text())
    for column, order in levels.items():
        frame[column] = pd.Categorical(frame[column].astype(str), categories=order)
    frame.attrs["name"] = key
    return frame
