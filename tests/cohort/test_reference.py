"""Resolving a design's population.cohort: trialsim.cohort.reference."""

import shutil
from pathlib import Path

import pytest

from trialsim.cohort.reference import resolve_cohort, spec_folders

COHORTS = Path(__file__).resolve().parents[2] / "cohorts"
DIABETES = COHORTS / "us-type2-diabetes.yaml"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project elsewhere: designs/ next to cohorts/, run from an unrelated folder."""
    (tmp_path / "designs").mkdir()
    (tmp_path / "cohorts").mkdir()
    shutil.copy(DIABETES, tmp_path / "cohorts" / "t2d.yaml")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    return tmp_path


def test_builtin_and_tables(project: Path) -> None:
    base = project / "designs"
    assert resolve_cohort("builtin", base).kind == "builtin"
    ref = resolve_cohort("data/people.parquet", base)
    assert ref.kind == "table" and ref.path == base / "data" / "people.parquet"
    assert resolve_cohort("/abs/people.csv", base).path == Path("/abs/people.csv")


def test_name_is_found_in_the_sibling_cohorts_folder(project: Path) -> None:
    assert resolve_cohort("t2d", project / "designs").path == project / "cohorts" / "t2d.yaml"


def test_search_order(project: Path) -> None:
    base = project / "designs"
    assert spec_folders(base) == [base.parent / "cohorts", base / "cohorts", base, project / "work" / "cohorts"]
    for folder in (base / "cohorts", base, project / "work" / "cohorts"):
        folder.mkdir(exist_ok=True)
        shutil.copy(DIABETES, folder / "local.yaml")
    assert resolve_cohort("local", base).path == base / "cohorts" / "local.yaml"
    (base / "cohorts" / "local.yaml").unlink()
    assert resolve_cohort("local", base).path == base / "local.yaml"
    (base / "local.yaml").unlink()
    assert resolve_cohort("local", base).path == project / "work" / "cohorts" / "local.yaml"


def test_yaml_path_is_a_spec(project: Path) -> None:
    ref = resolve_cohort("../cohorts/t2d.yaml", project / "designs")
    assert ref.kind == "spec" and ref.path is not None and ref.path.resolve() == (project / "cohorts" / "t2d.yaml")
    with pytest.raises(ValueError, match=r"cohort spec 'nope.yaml' not found \(looked for .*designs/nope.yaml\)"):
        resolve_cohort("nope.yaml", project / "designs")


def test_unknown_name_lists_what_exists(project: Path) -> None:
    with pytest.raises(ValueError) as info:
        resolve_cohort("t2", project / "designs")
    message = str(info.value)
    assert message.startswith("unknown cohort 't2'; did you mean 't2d'?")
    assert "(t2d)" in message and ".parquet/.csv" in message
    with pytest.raises(ValueError, match="unknown cohort 'built-in'; did you mean 'builtin'"):
        resolve_cohort("built-in", project / "designs")
