"""Diversity metrics: trialsim.engine.diversity, and their summaries over simulated trials."""

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats

import trialsim
from trialsim.engine.diversity import (
    enrolled_shares,
    evenness,
    representation_index,
    row_sums,
    shannon,
    simpson,
    standardized_difference,
)


def test_indices_against_references():
    p = np.array([[0.5, 0.3, 0.2], [1.0, 0.0, 0.0]])
    assert shannon(p) == pytest.approx([stats.entropy(p[0]), 0.0])
    assert simpson(p) == pytest.approx([1 - 0.25 - 0.09 - 0.04, 0.0])
    assert evenness(p, 3) == pytest.approx([stats.entropy(p[0]) / np.log(3), 0.0])
    q = np.array([0.2, 0.3, 0.5])
    assert representation_index(p, q) == pytest.approx([1 - 0.3, 1 - 0.8])


def test_enrolled_shares_and_standardized_difference():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, (5, 50))
    enrolled = rng.random((5, 50)) < 0.7
    shares = enrolled_shares(codes, enrolled, 4)
    for t in range(5):
        expected = np.bincount(codes[t][enrolled[t]], minlength=4) / enrolled[t].sum()
        assert shares[t] == pytest.approx(expected)
    values = rng.normal(size=(5, 50))
    d = standardized_difference(values, enrolled, 0.1, 2.0)
    assert d == pytest.approx([(values[t][enrolled[t]].mean() - 0.1) / 2.0 for t in range(5)])


FIXED = """\
trialsim: 1
name: diversity
population:
  cohort: builtin
  eligibility: ["{criterion}"]
  diversity_goals: {{race_ethnicity: {{Black: 12%}}}}
enrollment: {{sample_size: 400, accrual: {{duration: 12 months}}}}
arms: {{control: {{}}, treatment: {{}}}}
endpoints:
  y: {{type: continuous, baseline: {{mean: 0, sd: 1}}}}
analysis:
  primary: {{endpoint: y, test: t_test}}
"""


def test_restrictive_egfr_cutoff_lowers_ppr_of_the_groups_it_excludes(tmp_path):
    # In the built-in population Black patients have lower eGFR, so an eGFR >= 90 criterion excludes them
    # more. Trials draw at random from the eligible pool, so the expected enrolled share of a group is
    # target * (1 - screen failure of the group) / (1 - overall screen failure), i.e. its PPR.
    path = tmp_path / "d.yaml"
    path.write_text(FIXED.format(criterion="egfr >= 90"))
    result = trialsim.simulate(path, trials=1000, seed=4)
    s = result.summary()["scenarios"]["default"]
    race = s["diversity"]["columns"]["race_ethnicity"]
    screening = s["screening"]
    overall = 1 - screening["eligible"] / screening["screened"]
    for group in ("Black", "White", "Hispanic"):
        expected = (1 - race[group]["screen_failure"]) / (1 - overall)
        assert abs(race[group]["ppr"] - expected) < 3.5 * race[group]["ppr_se"], group
    assert race["Black"]["screen_failure"] > race["White"]["screen_failure"] + 0.05
    assert race["Black"]["ppr"] < 0.9 < race["White"]["ppr"]
    # The goal of 12% Black: each trial enrols 400 from the pool, so meeting it is a binomial tail.
    pool_share = race["Black"]["target"] * (1 - race["Black"]["screen_failure"]) / (1 - overall)
    goals = s["diversity"]["goals"]
    probability = stats.binom.sf(np.ceil(0.12 * 400) - 1, 400, pool_share)
    assert abs(goals["probability_met"] - probability) < 3.5 * goals["probability_met_se"]
    # The loosest criterion keeps everyone and the ratio near 1.
    path.write_text(FIXED.format(criterion="egfr >= 0"))
    loose = trialsim.simulate(path, trials=400, seed=4).summary()["scenarios"]["default"]["diversity"]
    black = loose["columns"]["race_ethnicity"]["Black"]
    assert abs(black["ppr"] - 1) < 3.5 * black["ppr_se"]


def test_diversity_table_is_written(tmp_path):
    out = trialsim.simulate("designs/two-arm-pfs-gsd.yaml", trials=250, seed=1).write(tmp_path / "r")
    table = pl.read_parquet(Path(out) / "diversity.parquet")
    assert table.height == 2 * 250
    assert {"share:race_ethnicity=Black", "representation:sex", "stddiff:egfr", "goals_met"} <= set(table.columns)


@pytest.mark.parametrize("levels", range(1, 13))
def test_row_sums_are_numpys_sums_to_the_bit(levels):
    # The figures are summed across levels column by column; numpy's pairwise sum must give the same bits.
    rng = np.random.default_rng(levels)
    x = rng.random((5_000, levels)) * rng.choice([1e-9, 1.0, 1e9], size=(5_000, levels))
    assert np.array_equal(row_sums(x), np.sum(x, axis=-1))
    assert np.array_equal(row_sums(x[0]), np.sum(x[0], axis=-1))
