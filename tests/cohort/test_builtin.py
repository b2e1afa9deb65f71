"""The built-in population: trialsim.cohort.builtin."""

import numpy as np
from scipy import stats

from trialsim.cohort.builtin import COLUMNS, RACE_ETHNICITY, builtin_population


def test_columns_and_kinds():
    df = builtin_population(500, np.random.default_rng(0))
    assert df.columns == list(COLUMNS)
    for name, kind in COLUMNS.items():
        assert (df[name].dtype.is_numeric()) == (kind == "number"), name


def test_race_ethnicity_matches_census_shares():
    # 2020 Census P.L. 94-171 shares; a goodness-of-fit test at a fixed seed.
    df = builtin_population(100_000, np.random.default_rng(3))
    counts = df["race_ethnicity"].value_counts()
    observed = np.array([counts.filter(counts["race_ethnicity"] == k)["count"].item() for k in RACE_ETHNICITY])
    shares = np.array(list(RACE_ETHNICITY.values()))
    expected = shares / shares.sum() * df.height
    assert stats.chisquare(observed, expected).pvalue > 0.001
    female = (df["sex"] == "F").mean()
    assert abs(female - 0.505) < 3.5 * np.sqrt(0.505 * 0.495 / df.height)


def test_same_seed_same_population():
    a = builtin_population(1000, np.random.default_rng(5))
    b = builtin_population(1000, np.random.default_rng(5))
    c = builtin_population(1000, np.random.default_rng(6))
    assert a.equals(b) and not a.equals(c)
