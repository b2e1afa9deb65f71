"""``trialsim cohort ...``: trialsim.cohort.cli, through typer's test runner."""

import json
import sys
import types
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from trialsim.cohort.cli import cohort_app
from trialsim.cohort.schema import cohort_schema

REPO = Path(__file__).resolve().parents[2]
DIABETES = REPO / "cohorts" / "us-type2-diabetes.yaml"
runner = CliRunner()


def invoke(*args: object):  # type: ignore[no-untyped-def]
    return runner.invoke(cohort_app, [str(a) for a in args])


def test_build_writes_the_same_bytes_for_the_same_seed(tmp_path: Path, population_cache: Path) -> None:
    first = invoke("build", DIABETES, "--size", 3000, "--seed", 8, "--out", tmp_path / "a.parquet")
    assert first.exit_code == 0, first.output
    assert "3000 patients, 12 columns" in first.stdout and "built in" in first.stdout
    again = invoke("build", DIABETES, "--size", 3000, "--seed", 8, "--out", tmp_path / "b.parquet")
    assert again.exit_code == 0 and "reused from the cache" in again.stdout
    other = invoke("build", DIABETES, "--size", 3000, "--seed", 9, "--out", tmp_path / "c.parquet")
    assert other.exit_code == 0
    a, b, c = ((tmp_path / f"{x}.parquet").read_bytes() for x in "abc")
    assert a == b and a != c
    assert pl.read_parquet(tmp_path / "a.parquet").height == 3000
    assert len(list(population_cache.iterdir())) == 2


def test_build_by_name_from_the_project_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = invoke("build", "us-type2-diabetes", "--size", 100)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{REPO / 'cohorts' / 'us-type2-diabetes.yaml'}: 100 patients")


def test_build_reports_a_broken_spec_by_position(tmp_path: Path) -> None:
    spec = tmp_path / "broken.yaml"
    spec.write_text(DIABETES.read_text().replace("sd: 1.5", "sd: -1.5"))
    result = invoke("build", spec, "--size", 10)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(f"{spec}:")
    assert "covariates.hba1c.sd: Input should be greater than 0" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["build", "no-such-cohort"], "unknown cohort 'no-such-cohort'"),
        (["build", "builtin"], "is not a cohort spec"),
        (["build", str(DIABETES), "--out", "x.csv"], "--out must end in .parquet"),
        (["build", str(DIABETES), "--size", "0"], "at least one patient"),
        (["report", "people.xlsx"], "report takes a cohort spec"),
        (["report", "missing.parquet"], "no such file"),
    ],
)
def test_usage_errors(args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2 and message in result.stderr, result.output


def test_validate(tmp_path: Path) -> None:
    result = invoke("validate", DIABETES, REPO / "cohorts" / "us-kidney-transplant.yaml")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith(f"{DIABETES}: ok (us-type2-diabetes, 12 columns: age, ")


def test_schema_is_the_committed_one(tmp_path: Path) -> None:
    result = invoke("schema")
    assert result.exit_code == 0 and json.loads(result.stdout) == cohort_schema()
    assert invoke("schema", "--out", tmp_path / "schema.json").exit_code == 0
    assert (tmp_path / "schema.json").read_text() == (REPO / "cohorts" / "schema.json").read_text()


def test_report_of_a_parquet_file(tmp_path: Path) -> None:
    pl.DataFrame({"age": [40.0, 50.0, 60.0, 70.0], "sex": ["F", "F", "M", None]}).write_parquet(tmp_path / "p.parquet")
    result = invoke("report", tmp_path / "p.parquet")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["rows"] == 4
    assert report["columns"]["age"]["mean"] == 55.0 and report["columns"]["age"]["median"] == 55.0
    assert report["columns"]["sex"] == {"kind": "categorical", "missing": 1, "shares": {"F": 0.6667, "M": 0.3333}}


def test_report_of_a_spec_compares_the_backbone_with_its_targets() -> None:
    result = invoke("report", DIABETES, "--size", 20_000, "--seed", 3)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    black = report["backbone"]["race_ethnicity"]["Black"]
    assert black["target"] == pytest.approx(0.1436, abs=1e-4)
    assert abs(black["observed"] - black["target"]) < 4 * np.sqrt(0.1436 * 0.8564 / 20_000)
    insulin = report["columns"]["insulin"]  # yes/no columns: shares of true and false
    assert insulin["kind"] == "categorical" and set(insulin["shares"]) == {"true", "false"}
    assert "fidelity" not in report


def test_report_of_a_learned_spec_calls_the_fidelity_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "seed.csv").write_text("age,sex\n50,F\n61,M\n")
    (tmp_path / "spec.yaml").write_text(
        "trialsim_cohort: 1\nname: fake\nbackbone: {marginals: {sex: {F: 50%, M: 50%}}}\n"
        "learned: {seed: seed.csv, conditions: [sex], columns: [age]}\n"
    )
    seen: dict = {}

    def learn_population(seed_data, *, size, seed, synthesizer, conditions, max_copy_rate):  # type: ignore[no-untyped-def]
        return conditions.with_columns(pl.Series("age", np.random.default_rng(seed).integers(20, 80, size)))

    def fidelity_report(seed_data, synthetic, *, group_columns, synthesizer, seed):  # type: ignore[no-untyped-def]
        seen.update(seed=seed_data, synthetic=synthetic, groups=group_columns, synthesizer=synthesizer)
        return {"quality": {"overall": 0.9}}

    fake = types.ModuleType("trialsim.cohort.learned")
    fake.load_seed_data = pl.read_csv  # type: ignore[attr-defined]
    fake.learn_population = learn_population  # type: ignore[attr-defined]
    fake.fidelity_report = fidelity_report  # type: ignore[attr-defined]
    fake.PrivacyError = RuntimeError  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "trialsim.cohort.learned", fake)
    import trialsim.cohort

    monkeypatch.setattr(trialsim.cohort, "learned", fake, raising=False)
    result = invoke("report", tmp_path / "spec.yaml", "--size", 50)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["fidelity"] == {"quality": {"overall": 0.9}}
    assert seen["groups"] == ["sex"] and seen["seed"].columns == ["sex", "age"]
    assert seen["synthesizer"] == "gaussian_copula"
    assert seen["synthetic"].columns == ["sex", "age"] and seen["synthetic"].height == 50
