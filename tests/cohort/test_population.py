"""The population a design draws from: trialsim.cohort.population."""

from pathlib import Path

import polars as pl
import pytest

from trialsim.cohort.build import build_population
from trialsim.cohort.population import load_population, population_digest

REPO = Path(__file__).resolve().parents[2]


def test_builtin_keeps_working() -> None:
    df = load_population("builtin", REPO / "designs", seed=1, size=100)
    assert df.height == 100 and "egfr" in df.columns


def test_the_builtin_population_is_drawn_and_hashed_once_per_seed_and_size(monkeypatch) -> None:
    population = load_population("builtin", REPO / "designs", seed=11, size=500)
    assert load_population("builtin", REPO, seed=11, size=500) is population
    assert not load_population("builtin", REPO, seed=12, size=500).equals(population)
    digest = population_digest(population)
    assert population_digest(population.clone()) == digest  # another frame, the same bytes: hashed again
    monkeypatch.setattr(pl.DataFrame, "write_ipc", lambda *args, **kwargs: pytest.fail("hashed again"))
    assert population_digest(population) == digest


def test_spec_by_name_is_built_through_the_cache(population_cache: Path) -> None:
    df = load_population("us-type2-diabetes", REPO / "designs", seed=4, size=2000)
    assert df.height == 2000 and df.columns[:4] == ["age", "age_group", "sex", "race_ethnicity"]
    (cached,) = population_cache.iterdir()
    assert pl.read_parquet(cached).equals(df)
    assert df.equals(build_population(REPO / "cohorts" / "us-type2-diabetes.yaml", 2000, 4))
    assert not df.equals(load_population("us-type2-diabetes", REPO / "designs", seed=5, size=2000))


def test_tables_are_read_as_they_are(tmp_path: Path) -> None:
    frame = pl.DataFrame({"age": [40.0, 50.0], "sex": ["F", "M"]})
    frame.write_parquet(tmp_path / "p.parquet")
    frame.write_csv(tmp_path / "p.csv")
    assert load_population("p.parquet", tmp_path, seed=1).equals(frame)
    assert load_population("p.csv", tmp_path, seed=1).equals(frame)
