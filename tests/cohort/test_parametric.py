"""Drawing populations from parametric specs: trialsim.cohort.parametric."""

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats
from scipy.special import expit, logit

from trialsim.cohort.parametric import backbone_table, draw_covariate, draw_population
from trialsim.cohort.spec import CohortSpec, load_cohort_spec

COHORTS = Path(__file__).resolve().parents[2] / "cohorts"
DIABETES = load_cohort_spec(COHORTS / "us-type2-diabetes.yaml")

# The published numbers, typed again here so the test does not read them from the spec it tests.
# 2020 Census P.L. 94-171 shares; CDC National Diabetes Statistics Report 2023, total diabetes in adults.
CENSUS = {
    "White": 0.578,
    "Hispanic": 0.187,
    "Black": 0.121,
    "Asian": 0.059,
    "Other": 0.046,
    "AIAN": 0.007,
    "NHPI": 0.002,
}
PREVALENCE = {
    "White": 0.136,
    "Hispanic": 0.155,
    "Black": 0.174,
    "Asian": 0.167,
    "Other": 0.147,
    "AIAN": 0.147,
    "NHPI": 0.147,
}
AGE_SHARES = {"18-44": 0.462, "45-64": 0.322, "65+": 0.216}
AGE_PREVALENCE = {"18-44": 0.048, "45-64": 0.189, "65+": 0.292}


def patient_shares(shares: dict[str, float], prevalence: dict[str, float]) -> dict[str, float]:
    total = sum(shares[k] * prevalence[k] for k in shares)
    return {k: shares[k] * prevalence[k] / total for k in shares}


def counts(frame: pl.DataFrame, column: str, levels: list[str]) -> np.ndarray:
    found = dict(frame[column].value_counts().iter_rows())
    return np.array([found.get(level, 0) for level in levels])


def test_backbone_is_census_shares_weighted_by_prevalence() -> None:
    table = backbone_table(DIABETES)
    race = table.marginal("race_ethnicity")
    expected = patient_shares(CENSUS, PREVALENCE)
    for level, share in expected.items():
        assert race[level] == pytest.approx(share, abs=1e-9), level
    # The worked example: 12.1% x 17.4% / sum(share x prevalence).
    assert race["Black"] == pytest.approx(0.121 * 0.174 / sum(CENSUS[k] * PREVALENCE[k] for k in CENSUS), abs=1e-9)
    ages = table.marginal("age_group")
    for level, share in patient_shares(AGE_SHARES, AGE_PREVALENCE).items():
        assert ages[level] == pytest.approx(share, abs=1e-9), level
    assert table.marginal("sex") == pytest.approx({"F": 0.505, "M": 0.495}, abs=1e-9)
    assert table.probabilities.sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_population_of_100000_matches_its_backbone(seed: int) -> None:
    table = backbone_table(DIABETES)
    df = draw_population(DIABETES, 100_000, np.random.default_rng(seed))
    # Joint: every race x sex x age group cell (42 cells, the smallest expected count about 17).
    cells = df.group_by(table.columns).len()
    index = {tuple(row[:-1]): row[-1] for row in cells.iter_rows()}
    observed = np.array(
        [index.get((r, s, a), 0) for r in table.levels[0] for s in table.levels[1] for a in table.levels[2]]
    )
    expected = table.probabilities.ravel() * df.height
    assert expected.min() > 5
    assert stats.chisquare(observed, expected).pvalue > 0.001
    for axis, column in enumerate(table.columns):
        shares = table.marginal(column)
        observed = counts(df, column, table.levels[axis])
        assert stats.chisquare(observed, np.array(list(shares.values())) * df.height).pvalue > 0.001, column


def test_share_of_black_patients_is_the_renormalised_product() -> None:
    df = draw_population(DIABETES, 100_000, np.random.default_rng(7))
    p = 0.121 * 0.174 / sum(CENSUS[k] * PREVALENCE[k] for k in CENSUS)  # 0.1436
    observed = (df["race_ethnicity"] == "Black").mean()
    assert abs(observed - p) < 3.29 * np.sqrt(p * (1 - p) / df.height)  # two-sided p > 0.001
    # Without the weighting it would be the census share, 12.1%: far outside sampling error.
    assert abs(observed - 0.121) > 10 * np.sqrt(p * (1 - p) / df.height)


def test_age_is_uniform_within_its_band() -> None:
    df = draw_population(DIABETES, 100_000, np.random.default_rng(11))
    for group, (low, high) in {"18-44": (18, 44), "45-64": (45, 64), "65+": (65, 85)}.items():
        ages = df.filter(pl.col("age_group") == group)["age"].to_numpy()
        assert ages.min() >= low and ages.max() <= high
        observed = np.bincount(ages.astype(int) - low, minlength=high - low + 1)
        assert stats.chisquare(observed).pvalue > 0.001, group


def ols(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and their standard errors."""
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    residual = y - x @ beta
    sigma2 = residual @ residual / (len(y) - x.shape[1])
    return beta, np.sqrt(np.diag(sigma2 * np.linalg.inv(x.T @ x)))


def test_covariate_effects_are_recovered_by_regression() -> None:
    df = draw_population(DIABETES, 200_000, np.random.default_rng(5))
    # hba1c = 7.4 - 0.015 (age - 60) + 0.3 Black + 0.3 Hispanic + 0.1 Asian + N(0, 1.5^2), clipped to [4.5, 15]
    # (clipping moves the mean by about 0.02: allowed on top of 4 standard errors).
    x = np.column_stack(
        [
            np.ones(df.height),
            df["age"].to_numpy() - 60,
            *((df["race_ethnicity"] == level).to_numpy() for level in ("Black", "Hispanic", "Asian")),
        ]
    )
    beta, se = ols(x, df["hba1c"].to_numpy())
    assert np.all(np.abs(beta - [7.4, -0.015, 0.3, 0.3, 0.1]) < 4 * se + 0.025), (beta, se)
    # egfr = 82 - 0.9 (age - 60) - 1.0 (hba1c - 7.4) + N(0, 20^2), clipped to [5, 140].
    x = np.column_stack([np.ones(df.height), df["age"].to_numpy() - 60, df["hba1c"].to_numpy() - 7.4])
    beta, se = ols(x, df["egfr"].to_numpy())
    assert np.all(np.abs(beta - [82, -0.9, -1.0]) < 4 * se + [0.3, 0.01, 0.05]), (beta, se)


def test_derived_weight_is_bmi_times_height_squared() -> None:
    df = draw_population(DIABETES, 10_000, np.random.default_rng(2))
    weight = np.clip(df["bmi"].to_numpy() * df["height"].to_numpy() ** 2, 35, 250)
    np.testing.assert_allclose(df["weight"].to_numpy(), weight, atol=0.05 + 1e-9)


def test_columns_and_kinds_are_the_specs() -> None:
    df = draw_population(DIABETES, 1000, np.random.default_rng(3))
    assert df.columns == list(DIABETES.columns)
    kinds = {pl.Float64: "number", pl.String: "string", pl.Boolean: "bool"}
    assert {c: kinds[df[c].dtype] for c in df.columns} == DIABETES.columns
    assert set(df["ecog"].unique()) <= {0.0, 1.0, 2.0, 3.0}


# -- each distribution's parametrisation, on a population where every patient has the same x ---------

N = 400_000


def frame(x: float, group: str = "a") -> pl.DataFrame:
    return pl.DataFrame({"x": np.full(N, x), "g": np.full(N, group)})


def covariate(body: dict) -> object:
    spec = CohortSpec.model_validate(
        {
            "trialsim_cohort": 1,
            "name": "t",
            "backbone": {"marginals": {"g": {"a": 0.5, "b": 0.5}}},
            "covariates": {"y": body},
        }
    )
    return spec.covariates["y"]


def z(observed: float, p: float) -> float:
    return abs(observed - p) / np.sqrt(p * (1 - p) / N)


def test_normal_effects_shift_the_mean() -> None:
    cov = covariate(
        {"distribution": "normal", "mean": 10, "sd": 2, "effects": {"x": {"per_unit": 0.5, "from": 60}, "g": {"b": -1}}}
    )
    rng = np.random.default_rng(1)
    assert draw_covariate(frame(60), "y", cov, rng).mean() == pytest.approx(10, abs=4 * 2 / np.sqrt(N))
    assert draw_covariate(frame(70, "b"), "y", cov, rng).mean() == pytest.approx(10 + 5 - 1, abs=4 * 2 / np.sqrt(N))


def test_lognormal_effects_scale_the_median() -> None:
    cov = covariate({"distribution": "lognormal", "median": 30, "sdlog": 0.2, "effects": {"x": 0.1}})
    y = draw_covariate(frame(1.0), "y", cov, np.random.default_rng(2)).to_numpy()
    assert np.median(y) == pytest.approx(30 * np.exp(0.1), rel=0.003)
    assert np.log(y).std() == pytest.approx(0.2, rel=0.01)


def test_bernoulli_effects_shift_the_log_odds() -> None:
    cov = covariate({"distribution": "bernoulli", "p": "20%", "effects": {"x": {"per_unit": 0.7, "from": 1}}})
    rng = np.random.default_rng(3)
    assert z(draw_covariate(frame(1), "y", cov, rng).mean(), 0.2) < 3.29
    assert z(draw_covariate(frame(2), "y", cov, rng).mean(), expit(logit(0.2) + 0.7)) < 3.29


def test_ordinal_effects_are_proportional_odds() -> None:
    cov = covariate({"distribution": "ordinal", "probabilities": {"0": 0.5, "1": 0.3, "2": 0.2}, "effects": {"x": 1.0}})
    rng = np.random.default_rng(4)
    at_reference = draw_covariate(frame(0), "y", cov, rng).to_numpy()
    for level, p in ((0, 0.5), (1, 0.3), (2, 0.2)):
        assert z((at_reference == level).mean(), p) < 3.29
    shifted = draw_covariate(frame(1), "y", cov, rng).to_numpy()
    for j, cumulative in enumerate((0.5, 0.8)):
        assert z((shifted <= j).mean(), expit(logit(cumulative) - 1.0)) < 3.29  # higher x: later levels


def test_categorical_effects_shift_a_levels_log_odds() -> None:
    cov = covariate(
        {
            "distribution": "categorical",
            "probabilities": {"never": 0.5, "former": 0.3, "current": 0.2},
            "effects": {"current": {"g": {"b": np.log(2)}}},
        }
    )
    rng = np.random.default_rng(5)
    y = draw_covariate(frame(0, "b"), "y", cov, rng).to_numpy()
    odds = np.array([0.5, 0.3, 0.2 * 2])
    for level, p in zip(("never", "former", "current"), odds / odds.sum(), strict=True):
        assert z((y == level).mean(), p) < 3.29


def test_joint_table_keeps_its_associations_and_takes_on_the_marginals() -> None:
    spec = CohortSpec.model_validate(
        {
            "trialsim_cohort": 1,
            "name": "joint",
            "backbone": {
                "marginals": {"sex": {"F": "50.5%", "M": "49.5%"}, "age_group": {"young": "60%", "old": "40%"}},
                "joint": {
                    "columns": ["age_group", "sex"],
                    "table": {"young": {"F": 40, "M": 45}, "old": {"F": 30, "M": 20}},
                },
                "prevalence": {"age_group": {"young": "5%", "old": "20%"}},
            },
        }
    )
    table = backbone_table(spec)
    assert table.columns == ["sex", "age_group"]
    p = table.probabilities  # sex x age_group
    assert table.marginal("sex") == pytest.approx({"F": 0.505, "M": 0.495}, abs=1e-9)
    assert table.marginal("age_group") == pytest.approx(
        patient_shares({"young": 0.6, "old": 0.4}, {"young": 0.05, "old": 0.2}), abs=1e-9
    )
    odds_ratio = p[0, 1] * p[1, 0] / (p[0, 0] * p[1, 1])  # (F old)(M young) / (F young)(M old)
    assert odds_ratio == pytest.approx(30 * 45 / (40 * 20), rel=1e-8)


def test_a_learned_spec_is_not_drawn_here() -> None:
    with pytest.raises(ValueError, match="learns columns from seed data"):
        draw_population(load_cohort_spec(COHORTS / "us-kidney-transplant.yaml"), 10, np.random.default_rng(1))
