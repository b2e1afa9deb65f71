"""Building and caching populations: trialsim.cohort.build (and the wiring of the learned part)."""

import sys
import types
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats

from trialsim.cohort import build
from trialsim.cohort.build import (
    build_population,
    build_population_file,
    default_cache_dir,
    learned_seed,
    population_key,
)
from trialsim.cohort.spec import CohortError, load_cohort_spec

COHORTS = Path(__file__).resolve().parents[2] / "cohorts"
DIABETES = COHORTS / "us-type2-diabetes.yaml"
KIDNEY = COHORTS / "us-kidney-transplant.yaml"


def test_same_seed_gives_identical_parquet_bytes(tmp_path: Path) -> None:
    a = build_population_file(DIABETES, 20_000, 42, cache_dir=tmp_path / "a")
    b = build_population_file(DIABETES, 20_000, 42, cache_dir=tmp_path / "b")
    assert not a.reused and not b.reused
    assert a.path.read_bytes() == b.path.read_bytes()


def test_different_seeds_give_different_populations(tmp_path: Path) -> None:
    a = build_population(DIABETES, 5000, 1, cache_dir=tmp_path)
    b = build_population(DIABETES, 5000, 2, cache_dir=tmp_path)
    assert a.columns == b.columns and not a.equals(b)
    # Not just shuffled: the covariates themselves differ.
    assert a["hba1c"].sort().to_list() != b["hba1c"].sort().to_list()


def test_building_twice_reuses_the_cached_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = build_population_file(DIABETES, 1000, 3, cache_dir=tmp_path)
    stamp = first.path.stat().st_mtime_ns

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("built again instead of reusing the cache")

    monkeypatch.setattr(build, "draw", refuse)
    again = build_population_file(DIABETES, 1000, 3, cache_dir=tmp_path)
    assert again.reused and again.path == first.path and again.path.stat().st_mtime_ns == stamp
    assert build_population(DIABETES, 1000, 3, cache_dir=tmp_path).height == 1000
    assert first.path.name == f"{first.key}.parquet"
    assert [p.name for p in tmp_path.iterdir()] == [first.path.name]  # no temporary files left


def test_key_follows_content_seed_and_size_not_layout(tmp_path: Path) -> None:
    key = population_key(DIABETES, 1000, 1)
    assert key != population_key(DIABETES, 1001, 1) and key != population_key(DIABETES, 1000, 2)
    text = DIABETES.read_text()
    reworded = tmp_path / "cohorts" / "us-type2-diabetes.yaml"
    reworded.parent.mkdir()
    reworded.write_text(text.replace("# Clinical covariates, drawn in this order", "# Covariates, in order"))
    assert population_key(reworded, 1000, 1) == key  # comments do not change the population
    reworded.write_text(text.replace("mean: 7.4", "mean: 7.5"))
    assert population_key(reworded, 1000, 1) != key


def test_a_damaged_cache_file_is_built_again(tmp_path: Path) -> None:
    built = build_population_file(DIABETES, 500, 1, cache_dir=tmp_path)
    good = built.path.read_bytes()
    built.path.write_bytes(b"not parquet")
    again = build_population_file(DIABETES, 500, 1, cache_dir=tmp_path)
    assert not again.reused and again.path.read_bytes() == good


def test_cache_location_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIALSIM_CACHE", str(tmp_path / "elsewhere"))
    assert default_cache_dir() == tmp_path / "elsewhere" / "populations"
    built = build_population_file(DIABETES, 100, 1)
    assert built.path.parent == tmp_path / "elsewhere" / "populations"
    monkeypatch.delenv("TRIALSIM_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "trialsim" / "populations"


@pytest.mark.parametrize(("size", "seed"), [(0, 1), (-5, 1), (10, -1), (2.5, 1), (10, True)])
def test_bad_size_or_seed(size: object, seed: object) -> None:
    with pytest.raises(ValueError, match="size|seed"):
        build_population(DIABETES, size, seed)  # type: ignore[arg-type]


def test_learned_seed_is_derived_from_the_population_seed() -> None:
    seeds = {learned_seed(s) for s in range(100)}
    assert len(seeds) == 100 and all(0 <= s < 2**32 for s in seeds)
    expected = np.random.SeedSequence(7, spawn_key=(0,)).generate_state(1)[0]
    assert learned_seed(7) == int(expected)


# -- the learned part, wired to a fake synthesizer (SDV is slow; its own tests are in test_learned.py) ------


LEARNED_SPEC = """\
trialsim_cohort: 1
name: fake-learned
backbone:
  marginals:
    sex: {F: 40%, M: 60%}
    race_ethnicity: {White: 80%, Black: 20%}
learned:
  seed: seed.csv
  synthesizer: tvae
  conditions: [race_ethnicity, sex]
  columns: [age, egfr]
covariates:
  ckd: {distribution: bernoulli, p: 10%, effects: {egfr: {per_unit: -0.05, from: 60}}}
privacy:
  max_copy_rate: 2%
"""


class FakePrivacyError(ValueError):
    pass


@pytest.fixture
def fake_learner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    (tmp_path / "seed.csv").write_text("age,sex,race_ethnicity,egfr,site\n50,F,White,80,a\n61,M,Black,55,b\n")
    (tmp_path / "spec.yaml").write_text(LEARNED_SPEC)
    calls: dict = {"spec": tmp_path / "spec.yaml"}

    def load_seed_data(path: Path) -> pl.DataFrame:
        calls["path"] = Path(path)
        return pl.read_csv(path)

    def learn_population(seed_data, *, size, seed, synthesizer, conditions, max_copy_rate):  # type: ignore[no-untyped-def]
        calls.update(seed_data=seed_data, size=size, seed=seed, synthesizer=synthesizer)
        calls.update(conditions=conditions, max_copy_rate=max_copy_rate)
        if calls.get("refuse"):
            raise FakePrivacyError("refusing the learned population: 5 of its 100 rows are copies")
        rng = np.random.default_rng(seed)
        drawn = pl.DataFrame({"age": rng.integers(20, 80, size), "egfr": rng.normal(70, 15, size)})
        return pl.concat([conditions, drawn], how="horizontal")

    fake = types.ModuleType("trialsim.cohort.learned")
    fake.load_seed_data = load_seed_data  # type: ignore[attr-defined]
    fake.learn_population = learn_population  # type: ignore[attr-defined]
    fake.PrivacyError = FakePrivacyError  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "trialsim.cohort.learned", fake)
    import trialsim.cohort

    monkeypatch.setattr(trialsim.cohort, "learned", fake, raising=False)
    return calls


def test_learned_part_is_called_with_the_backbone_as_conditions(fake_learner: dict, tmp_path: Path) -> None:
    df = build_population(fake_learner["spec"], 2000, 9, cache_dir=tmp_path / "cache")
    assert fake_learner["path"] == tmp_path / "seed.csv"
    assert fake_learner["seed_data"].columns == ["race_ethnicity", "sex", "age", "egfr"]  # not 'site'
    assert fake_learner["size"] == 2000 and fake_learner["seed"] == learned_seed(9)
    assert fake_learner["synthesizer"] == "tvae" and fake_learner["max_copy_rate"] == pytest.approx(0.02)
    conditions = fake_learner["conditions"]
    assert conditions.columns == ["race_ethnicity", "sex"]
    assert df.columns == ["age", "sex", "race_ethnicity", "egfr", "ckd"]
    assert df.select("race_ethnicity", "sex").equals(conditions)
    # The covariate after the learned part is drawn given it: lower egfr, more ckd.
    low = df.filter(pl.col("egfr") < 60)["ckd"].mean()
    high = df.filter(pl.col("egfr") >= 80)["ckd"].mean()
    assert low > high


def test_learned_part_refused_for_privacy_points_at_the_limit(fake_learner: dict, tmp_path: Path) -> None:
    fake_learner["refuse"] = True
    with pytest.raises(CohortError) as info:
        build_population(fake_learner["spec"], 100, 1, cache_dir=tmp_path / "cache")
    (problem,) = info.value.problems
    assert (problem.line, problem.col) == (15, 18)
    assert "privacy.max_copy_rate: refusing the learned population" in problem.message
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_seed_data_enter_the_key(fake_learner: dict, tmp_path: Path) -> None:
    key = population_key(fake_learner["spec"], 100, 1)
    with (tmp_path / "seed.csv").open("a") as f:
        f.write("70,F,White,40,c\n")
    assert population_key(fake_learner["spec"], 100, 1) != key


# -- the shipped learned spec, with SDV ---------------------------------------------------------------------


@pytest.mark.slow
def test_kidney_transplant_population_is_learned_reproducibly(tmp_path: Path) -> None:
    pytest.importorskip("sdv")
    learned = pytest.importorskip("trialsim.cohort.learned")
    assert hasattr(learned, "learn_population")
    spec = load_cohort_spec(KIDNEY)
    a = build_population_file(spec, 3000, 5, cache_dir=tmp_path / "a")
    b = build_population_file(spec, 3000, 5, cache_dir=tmp_path / "b")
    assert a.path.read_bytes() == b.path.read_bytes()
    df = pl.read_parquet(a.path)
    assert df.columns == ["age", "race_ethnicity", "sex", "time", "death"]
    for column, shares in {"race_ethnicity": {"White": 0.825, "Black": 0.175}, "sex": {"M": 0.607, "F": 0.393}}.items():
        found = dict(df[column].value_counts().iter_rows())
        observed = [found[level] for level in shares]
        assert stats.chisquare(observed, np.array(list(shares.values())) * df.height).pvalue > 0.001
    assert 0 < df["age"].min() and df["age"].max() <= 80 and set(df["death"].unique()) <= {0, 1}
    other = build_population(spec, 3000, 6, cache_dir=tmp_path / "a")
    assert not other.equals(df)
