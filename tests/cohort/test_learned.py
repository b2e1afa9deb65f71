"""Learned populations: SDV fitted to the shipped seed data, seeds, conditions, fidelity and privacy.

References nobody here computed: lifelines' copy of the kidney transplant data, SDMetrics'
QualityReport and NewRowSynthesis run directly, and scipy's brute-force distances.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from scipy.spatial.distance import cdist

from trialsim.cohort.learned import (
    PrivacyError,
    column_sdtypes,
    count_copies,
    distance_to_closest_record,
    fidelity_report,
    format_report,
    learn_population,
    load_seed_data,
)

SEED_FILE = Path(__file__).resolve().parents[2] / "cohorts" / "seeds" / "kidney_transplant.csv"
SIZE = 1_000  # <= NEW_ROW_SYNTHESIS_ROWS, so the report's NewRowSynthesis sees every row
GROUPS = ["race_ethnicity", "sex"]


@pytest.fixture(scope="module")
def seed_data() -> pl.DataFrame:
    return load_seed_data(SEED_FILE, required=GROUPS)


@pytest.fixture(scope="module")
def conditions() -> pl.DataFrame:
    """A backbone that is not the seed's mix: 25% Black (seed: 17.5%), 50% women (seed: 39%)."""
    race = np.repeat(["Black", "White"], [SIZE // 4, SIZE - SIZE // 4])
    sex = np.tile(["F", "M"], SIZE // 2)
    order = np.random.default_rng(4).permutation(SIZE)
    return pl.DataFrame({"race_ethnicity": race[order], "sex": sex[order]})


@pytest.fixture(scope="module")
def population(seed_data: pl.DataFrame, conditions: pl.DataFrame) -> pl.DataFrame:
    return learn_population(seed_data, size=SIZE, seed=11, conditions=conditions)


@pytest.fixture(scope="module")
def report(seed_data: pl.DataFrame, population: pl.DataFrame) -> dict:
    return fidelity_report(seed_data, population, group_columns=GROUPS, seed=5)


def sdmetrics_quality(real: pl.DataFrame, synthetic: pl.DataFrame) -> tuple[float, float, float]:
    """SDMetrics' own QualityReport, every column pair scored (as the report documents)."""
    from sdmetrics.reports import QualityReport

    metadata = {"tables": {"t": {"columns": {k: {"sdtype": v} for k, v in column_sdtypes(real).items()}}}}
    quality = QualityReport()
    quality.real_correlation_threshold = 0
    quality.real_association_threshold = 0
    quality.generate({"t": real.to_pandas()}, {"t": synthetic.to_pandas()}, metadata, verbose=False)
    properties = quality.get_properties().set_index("Property")["Score"]
    return quality.get_score(), properties["Column Shapes"], properties["Column Pair Trends"]


# --- the shipped seed data -------------------------------------------------------------------


def test_seed_file_is_lifelines_kidney_transplant_reshaped(seed_data: pl.DataFrame) -> None:
    from lifelines.datasets import load_kidney_transplant

    raw = pl.from_pandas(load_kidney_transplant())
    assert seed_data.columns == ["age", "sex", "race_ethnicity", "time", "death"]
    assert seed_data.select("age", "time", "death").equals(raw.select("age", "time", "death"))
    one_hot = seed_data.select(
        black_male=((pl.col("race_ethnicity") == "Black") & (pl.col("sex") == "M")).cast(pl.Int64),
        white_male=((pl.col("race_ethnicity") == "White") & (pl.col("sex") == "M")).cast(pl.Int64),
        black_female=((pl.col("race_ethnicity") == "Black") & (pl.col("sex") == "F")).cast(pl.Int64),
    )
    assert one_hot.equals(raw.select("black_male", "white_male", "black_female"))
    assert SEED_FILE.stat().st_size < 200_000


def test_load_seed_data_names_missing_columns(tmp_path: Path, seed_data: pl.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"lack the columns 'ecog', 'egfr'; the file has age, sex, race_ethnicity"):
        load_seed_data(SEED_FILE, required=["sex", "ecog", "egfr"])
    parquet = tmp_path / "seed.parquet"
    seed_data.write_parquet(parquet)
    assert load_seed_data(parquet, required=GROUPS).equals(seed_data)
    spreadsheet = tmp_path / "seed.xlsx"
    spreadsheet.write_bytes(b"")
    with pytest.raises(ValueError, match=r"\.csv or \.parquet"):
        load_seed_data(spreadsheet)
    with pytest.raises(FileNotFoundError, match="no such seed data file"):
        load_seed_data(tmp_path / "absent.csv")


# --- conditions, seeds -----------------------------------------------------------------------


def test_conditions_are_honoured_row_by_row(population: pl.DataFrame, conditions: pl.DataFrame) -> None:
    assert population.columns == ["race_ethnicity", "sex", "age", "time", "death"]
    assert population.select(GROUPS).equals(conditions)
    assert population.schema["age"] == pl.Int64 and population.schema["death"] == pl.Int64
    assert population.null_count().sum_horizontal().item() == 0


def test_conditioned_marginals_are_the_requested_shares(population: pl.DataFrame) -> None:
    assert population["race_ethnicity"].value_counts(normalize=True).sort("race_ethnicity").rows() == [
        ("Black", 0.25),
        ("White", 0.75),
    ]
    assert population["sex"].value_counts(normalize=True).sort("sex").rows() == [("F", 0.5), ("M", 0.5)]


def test_same_seed_same_population_different_seed_different(
    seed_data: pl.DataFrame, conditions: pl.DataFrame, population: pl.DataFrame
) -> None:
    assert learn_population(seed_data, size=SIZE, seed=11, conditions=conditions).equals(population)
    other = learn_population(seed_data, size=SIZE, seed=12, conditions=conditions)
    assert other.select(GROUPS).equals(conditions)
    # Not one changed value: SDV's fixed sampling seed is really replaced, for (nearly) every row.
    assert (other["age"] != population["age"]).mean() > 0.9
    assert (other["time"] != population["time"]).mean() > 0.9
    # The unconditioned path too.
    a, b, c = (learn_population(seed_data, size=300, seed=s) for s in (3, 3, 4))
    assert a.equals(b) and not a.equals(c)
    assert a.columns == seed_data.columns and a.schema == seed_data.schema


def test_learning_leaves_the_global_generators_alone(seed_data: pl.DataFrame) -> None:
    np.random.seed(123)
    torch.manual_seed(123)
    expected = (np.random.random(), torch.rand(1).item())
    np.random.seed(123)
    torch.manual_seed(123)
    learn_population(seed_data, size=50, seed=1)
    assert (np.random.random(), torch.rand(1).item()) == expected


def test_bad_arguments_say_what_is_wrong(seed_data: pl.DataFrame) -> None:
    asian = pl.DataFrame({"race_ethnicity": ["Asian", "White"]})
    with pytest.raises(ValueError, match=r"asks for 'Asian'.*they have 'Black', 'White'"):
        learn_population(seed_data, size=2, seed=0, conditions=asian)
    with pytest.raises(ValueError, match="conditions have 2 rows but size=3"):
        learn_population(seed_data, size=3, seed=0, conditions=asian)
    with pytest.raises(ValueError, match="'ecog' not in the seed data"):
        learn_population(seed_data, size=1, seed=0, conditions=pl.DataFrame({"ecog": [1]}))
    with pytest.raises(ValueError, match="unknown synthesizer 'gan'"):
        learn_population(seed_data, size=1, seed=0, synthesizer="gan")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="epochs applies to the ctgan and tvae"):
        learn_population(seed_data, size=1, seed=0, epochs=5)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        learn_population(seed_data, size=1, seed=-1)
    with pytest.raises(ValueError, match="identifies patients"):
        learn_population(seed_data.with_row_index("id").cast({"id": pl.String}), size=1, seed=0)


# --- fidelity --------------------------------------------------------------------------------


def test_overall_quality_is_at_least_085_and_is_sdmetrics_own(
    report: dict, seed_data: pl.DataFrame, population: pl.DataFrame
) -> None:
    quality = report["quality"]
    assert quality["overall"] >= 0.85
    assert quality["synthetic_rows_scored"] == SIZE
    overall, shapes, pairs = sdmetrics_quality(seed_data, population.select(seed_data.columns))
    assert quality["overall"] == pytest.approx(overall, abs=1e-12)
    assert quality["column_shapes"] == pytest.approx(shapes, abs=1e-12)
    assert quality["column_pair_trends"] == pytest.approx(pairs, abs=1e-12)
    assert overall == pytest.approx((shapes + pairs) / 2)


def test_by_group_lists_every_group_with_counts(
    report: dict, seed_data: pl.DataFrame, population: pl.DataFrame
) -> None:
    by_group = report["by_group"]
    assert set(by_group) == {"race_ethnicity", "sex", "race_ethnicity & sex"}
    assert set(by_group["race_ethnicity"]) == {"Black", "White"}
    assert set(by_group["sex"]) == {"F", "M"}
    assert set(by_group["race_ethnicity & sex"]) == {"Black & F", "Black & M", "White & F", "White & M"}
    real_cells = dict(seed_data.group_by(GROUPS).len().select(pl.concat_str(GROUPS, separator=" & "), "len").rows())
    synth_cells = dict(population.group_by(GROUPS).len().select(pl.concat_str(GROUPS, separator=" & "), "len").rows())
    assert real_cells == {"Black & F": 59, "Black & M": 92, "White & F": 280, "White & M": 432}
    for level, entry in by_group["race_ethnicity & sex"].items():
        assert (entry["n_real"], entry["n_synthetic"]) == (real_cells[level], synth_cells[level])
        assert 0.5 < entry["overall"] <= 1.0
    assert by_group["sex"]["F"]["n_synthetic"] == SIZE // 2
    assert by_group["race_ethnicity"]["Black"]["n_real"] == 151


@pytest.mark.parametrize(
    ("key", "level", "where"),
    [
        ("race_ethnicity", "Black", {"race_ethnicity": "Black"}),
        ("sex", "F", {"sex": "F"}),
        ("race_ethnicity & sex", "Black & F", {"race_ethnicity": "Black", "sex": "F"}),
    ],
)
def test_group_quality_is_sdmetrics_on_that_subset(
    report: dict, seed_data: pl.DataFrame, population: pl.DataFrame, key: str, level: str, where: dict
) -> None:
    keep = [name for name in seed_data.columns if name not in where]
    real = seed_data.filter(**where).select(keep)
    synthetic = population.filter(**where).select(keep)
    overall, shapes, pairs = sdmetrics_quality(real, synthetic)
    entry = report["by_group"][key][level]
    assert entry["overall"] == pytest.approx(overall, abs=1e-12)
    assert entry["column_shapes"] == pytest.approx(shapes, abs=1e-12)
    assert entry["column_pair_trends"] == pytest.approx(pairs, abs=1e-12)


# --- privacy ---------------------------------------------------------------------------------


def test_copy_rate_and_new_row_synthesis(report: dict, seed_data: pl.DataFrame, population: pl.DataFrame) -> None:
    from sdmetrics.single_table import NewRowSynthesis

    privacy = report["privacy"]
    synthetic = population.select(seed_data.columns)
    # Copies counted independently: the synthetic rows found in the set of real rows.
    real_rows = set(seed_data.rows())
    copies = sum(row in real_rows for row in synthetic.rows())
    assert privacy["copies"] == copies == count_copies(seed_data, population)
    assert privacy["copy_rate"] == copies / SIZE
    # Age in years and follow-up in days collide by chance now and then; memorising would not be rare.
    assert privacy["copy_rate"] <= 0.01
    metadata = {"columns": {k: {"sdtype": v} for k, v in column_sdtypes(seed_data).items()}}
    expected = NewRowSynthesis.compute(seed_data.to_pandas(), synthetic.to_pandas(), metadata)
    assert privacy["new_row_synthesis_rows"] == SIZE
    assert privacy["new_row_synthesis"] == pytest.approx(expected)
    assert privacy["new_row_synthesis"] >= 0.9


def test_distance_to_closest_record_against_holdout(report: dict, seed_data: pl.DataFrame) -> None:
    privacy = report["privacy"]
    assert privacy["n_train"] + privacy["n_holdout"] == seed_data.height
    assert privacy["n_holdout"] == pytest.approx(0.3 * seed_data.height, abs=4)
    assert privacy["n_refit"] == SIZE
    assert privacy["dcr_synthetic_to_train_median"] > 0
    # A Gaussian copula does not memorise: its rows are about as far from the training patients
    # as unseen patients are (a ratio well below 1 would mean copying).
    assert privacy["dcr_ratio"] == pytest.approx(
        privacy["dcr_synthetic_to_train_median"] / privacy["dcr_holdout_to_train_median"]
    )
    assert privacy["dcr_ratio"] > 0.8
    assert privacy["dcr_overfitting_protection"] > 0.8


def test_distance_to_closest_record_is_brute_force_distance(seed_data: pl.DataFrame) -> None:
    reference = seed_data.head(300)
    rows = seed_data.tail(100)
    numbers = reference.select("age", "time").to_numpy().astype(float)
    mean, sd = numbers.mean(axis=0), numbers.std(axis=0, ddof=1)

    def points(frame: pl.DataFrame) -> np.ndarray:
        scaled = (frame.select("age", "time").to_numpy() - mean) / sd
        one_hot = [
            (frame[name].to_numpy()[:, None] == np.array(sorted(set(reference[name])))[None, :]) / np.sqrt(2)
            for name in ("sex", "race_ethnicity", "death")
        ]
        return np.hstack([scaled[:, :1], *one_hot[:2], scaled[:, 1:], one_hot[2]])

    expected = cdist(points(rows), points(reference)).min(axis=1)
    np.testing.assert_allclose(distance_to_closest_record(rows, reference), expected, rtol=1e-12, atol=1e-12)


def test_copying_population_is_refused(seed_data: pl.DataFrame) -> None:
    # Three coarse categories: every combination a synthetic row can take is some real patient's.
    coarse = seed_data.select("sex", "race_ethnicity", "death")
    people = learn_population(coarse, size=200, seed=2)
    assert count_copies(coarse, people) == 200
    with pytest.raises(PrivacyError, match=r"200 of its 200 rows \(100.00%\).*max_copy_rate=50.00%") as refused:
        learn_population(coarse, size=200, seed=2, max_copy_rate=0.5)
    assert (refused.value.copies, refused.value.rows, refused.value.copy_rate) == (200, 200, 1.0)
    assert "raise max_copy_rate" in str(refused.value)
    assert isinstance(refused.value, ValueError)


def test_refusal_threshold_on_the_kidney_data(seed_data: pl.DataFrame, population: pl.DataFrame) -> None:
    copies = count_copies(seed_data, population)
    if copies == 0:
        # No copies at all: even a zero threshold passes.
        learn_population(seed_data, size=SIZE, seed=11, conditions=population.select(GROUPS), max_copy_rate=0.0)
        return
    rate = copies / SIZE
    allowed = learn_population(seed_data, size=SIZE, seed=11, conditions=population.select(GROUPS), max_copy_rate=rate)
    assert allowed.equals(population)
    with pytest.raises(PrivacyError, match=f"{copies:,} of its {SIZE:,} rows"):
        learn_population(seed_data, size=SIZE, seed=11, conditions=population.select(GROUPS), max_copy_rate=rate / 2)


# --- the text report, and the neural synthesizers ------------------------------------------


def test_format_report_shows_every_group_and_the_privacy_figures(report: dict) -> None:
    text = format_report(report)
    for line in (
        "race_ethnicity = Black",
        "race_ethnicity = White",
        "sex = F",
        "sex = M",
        "race_ethnicity & sex = Black & F",
        "race_ethnicity & sex = White & M",
        "exact copies of a seed row",
        "NewRowSynthesis",
        "distance to closest training record",
    ):
        assert line in text
    assert f"overall {report['quality']['overall']:.3f}" in text


@pytest.mark.slow
def test_ctgan_smoke_is_seeded_and_conditioned(seed_data: pl.DataFrame) -> None:
    sexes = pl.DataFrame({"sex": ["F", "M"] * 50})
    first = learn_population(seed_data, size=100, seed=3, synthesizer="ctgan", epochs=1, conditions=sexes)
    again = learn_population(seed_data, size=100, seed=3, synthesizer="ctgan", epochs=1, conditions=sexes)
    assert first.equals(again)
    assert first.select("sex").equals(sexes)
    assert first.columns == ["sex", "age", "race_ethnicity", "time", "death"]
