"""A small built-in adult population, for designs that name no cohort spec.

Demographics follow the 2020 US Census (P.L. 94-171) shares of race and
ethnicity and about 50.5% women; the clinical covariates are plausible adult
values whose dependence on age (eGFR falls about 1 mL/min/1.73m² a year, ECOG
worsens with age) is enough to make eligibility criteria change who enrols.
Richer, cited populations are built by :mod:`trialsim.cohort` specs.
"""

from __future__ import annotations

import numpy as np
import polars as pl

RACE_ETHNICITY = {
    "White": 0.578,
    "Hispanic": 0.187,
    "Black": 0.121,
    "Asian": 0.059,
    "Other": 0.046,
    "AIAN": 0.007,
    "NHPI": 0.002,
}
COLUMNS: dict[str, str] = {
    "age": "number",
    "age_group": "string",
    "sex": "string",
    "race_ethnicity": "string",
    "ecog": "number",
    "egfr": "number",
    "hba1c": "number",
    "bmi": "number",
    "weight": "number",
}


def builtin_population(size: int, rng: np.random.Generator) -> pl.DataFrame:
    """Draw ``size`` adults with the columns of :data:`COLUMNS`.

    Examples
    --------
    >>> df = builtin_population(1000, np.random.default_rng(1))
    >>> df.columns[:4], df.height
    (['age', 'age_group', 'sex', 'race_ethnicity'], 1000)
    """
    if size <= 0:
        raise ValueError(f"a population needs at least one patient, got size={size}")
    age = np.clip(rng.normal(58.0, 13.0, size), 18, 90).round()
    groups = np.array(["18-44", "45-64", "65+"])
    age_group = groups[np.searchsorted([45, 65], age, side="right")]
    sex = np.where(rng.random(size) < 0.505, "F", "M")
    names = np.array(list(RACE_ETHNICITY))
    shares = np.array(list(RACE_ETHNICITY.values()))
    race = names[rng.choice(len(names), size=size, p=shares / shares.sum())]
    # ECOG 0/1/2, worse with age: an ordinal logit on age.
    latent = 0.04 * (age - 58) + rng.logistic(size=size)
    ecog = np.searchsorted([0.3, 2.6], latent).astype(float)
    egfr = np.clip(rng.normal(100 - 1.0 * (age - 40), 16.0), 8, 150).round(1)
    egfr = np.where(race == "Black", np.clip(egfr + rng.normal(-4, 2, size), 8, 150), egfr).round(1)
    hba1c = np.clip(rng.normal(7.6, 1.3, size), 5.0, 14.0).round(1)
    bmi = np.exp(rng.normal(np.log(29.0), 0.18, size)).round(1)
    height = np.where(sex == "F", rng.normal(1.62, 0.07, size), rng.normal(1.76, 0.07, size))
    weight = (bmi * height**2).round(1)
    return pl.DataFrame(
        {
            "age": age,
            "age_group": age_group,
            "sex": sex,
            "race_ethnicity": race,
            "ecog": ecog,
            "egfr": egfr,
            "hba1c": hba1c,
            "bmi": bmi,
            "weight": weight,
        }
    )
