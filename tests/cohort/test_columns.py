"""Column kinds of a cohort, without building it: trialsim.cohort.columns, and design checks that use them."""

import shutil
from pathlib import Path

import polars as pl
import pytest

from trialsim.cohort import builtin
from trialsim.cohort.columns import cohort_columns
from trialsim.cohort.spec import load_cohort_spec
from trialsim.design.load import DesignError, load_design

REPO = Path(__file__).resolve().parents[2]
DIABETES = REPO / "cohorts" / "us-type2-diabetes.yaml"
KIDNEY = REPO / "cohorts" / "us-kidney-transplant.yaml"
DESIGN = (REPO / "designs" / "two-arm-pfs-gsd.yaml").read_text()


def test_builtin_and_table_columns(tmp_path: Path) -> None:
    assert cohort_columns("builtin", tmp_path) == builtin.COLUMNS
    pl.DataFrame({"age": [50.0], "sex": ["F"], "smoker": [True]}).write_parquet(tmp_path / "people.parquet")
    assert cohort_columns("people.parquet", tmp_path) == {"age": "number", "sex": "string", "smoker": "bool"}
    with pytest.raises(ValueError, match="not found"):
        cohort_columns("missing.csv", tmp_path)


def test_spec_columns_come_from_the_spec(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from trialsim.cohort import build

    monkeypatch.setattr(build, "draw", lambda *a, **k: pytest.fail("cohort_columns built a population"))
    assert cohort_columns("us-type2-diabetes", REPO / "designs") == load_cohort_spec(DIABETES).columns
    assert cohort_columns("../cohorts/us-kidney-transplant.yaml", REPO / "designs") == load_cohort_spec(KIDNEY).columns


def test_a_spec_with_problems_says_where(tmp_path: Path) -> None:
    (tmp_path / "cohorts").mkdir()
    bad = tmp_path / "cohorts" / "bad.yaml"
    bad.write_text(DIABETES.read_text().replace("Black: 12.1%", "Black: 21.1%"))
    with pytest.raises(ValueError, match=r"cohort spec 'bad' has problems: .*bad.yaml:\d+:\d+: .*add up to 109%"):
        cohort_columns("bad", tmp_path / "designs")


# -- a design naming a spec cohort: `trialsim validate` checks its columns against the spec ----------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "designs").mkdir()
    (tmp_path / "cohorts").mkdir()
    shutil.copy(DIABETES, tmp_path / "cohorts" / "us-type2-diabetes.yaml")
    return tmp_path


def design(project: Path, old: str, new: str) -> Path:
    text = DESIGN.replace("cohort: builtin ", "cohort: us-type2-diabetes ")
    assert old in text
    path = project / "designs" / "t2d.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_design_with_a_spec_cohort_validates(project: Path) -> None:
    path = design(project, "    - egfr >= 30\n", "    - egfr >= 30\n    - hba1c between 7 and 10.5\n")
    loaded = load_design(path)
    assert loaded.spec.population.cohort == "us-type2-diabetes"


def test_design_stratified_by_a_column_the_spec_lacks(project: Path) -> None:
    path = design(project, "strata: [sex]", "strata: [region]")
    with pytest.raises(DesignError) as info:
        load_design(path)
    (problem,) = [p for p in info.value.problems if "region" in p.message]
    assert (problem.line, problem.col) == (line_of(path, "strata: [region]"), 12)
    columns = ", ".join(sorted(load_cohort_spec(DIABETES).columns))
    assert problem.message == (
        f"randomization.strata[0]: the cohort 'us-type2-diabetes' has no column 'region' (columns: {columns})"
    )


def test_design_eligibility_naming_a_misspelt_column(project: Path) -> None:
    path = design(project, "    - egfr >= 30\n", "    - egfr >= 30\n    - hbac1 < 10\n")
    with pytest.raises(DesignError) as info:
        load_design(path)
    (problem,) = info.value.problems
    assert (problem.line, problem.col) == (line_of(path, "hbac1 < 10"), 7)
    assert "unknown column 'hbac1'; did you mean 'hba1c'?" in problem.message
    assert "insulin" in problem.message and "smoking" in problem.message  # the spec's columns are listed


def test_design_grouping_by_a_numeric_spec_column(project: Path) -> None:
    path = design(project, "subgroups: [sex, race_ethnicity, age_group]", "subgroups: [sex, hba1c]")
    with pytest.raises(DesignError, match=r"t2d.yaml:\d+:\d+: analysis.subgroups\[1\]: 'hba1c' is numeric"):
        load_design(path)


def test_design_naming_a_spec_with_problems(project: Path) -> None:
    spec = project / "cohorts" / "us-type2-diabetes.yaml"
    spec.write_text(spec.read_text().replace("distribution: lognormal", "distribution: lognormla"))
    path = design(project, "strata: [sex]", "strata: [sex]")
    with pytest.raises(DesignError) as info:
        load_design(path)
    (problem,) = info.value.problems
    assert problem.line == line_of(path, "cohort: us-type2-diabetes")
    assert "population.cohort: cohort spec 'us-type2-diabetes' has problems: " in problem.message
    assert "covariates.bmi.distribution" in problem.message and "did you mean 'lognormal'?" in problem.message


def test_shipped_designs_could_switch_to_the_diabetes_cohort(project: Path) -> None:
    for name in ("two-arm-pfs-gsd", "binary-response", "dose-ranging-hba1c"):
        text = (REPO / "designs" / f"{name}.yaml").read_text()
        lines = [
            ("  cohort: us-type2-diabetes" if line.startswith("  cohort:") else line) for line in text.splitlines()
        ]
        path = project / "designs" / f"{name}.yaml"
        path.write_text("\n".join(lines) + "\n")
        assert load_design(path).spec.population.cohort == "us-type2-diabetes"
