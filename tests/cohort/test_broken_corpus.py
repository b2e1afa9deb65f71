"""The broken-cohort corpus: every file in tests/cohort/broken/ holds one mistake a spec author makes.

Each file's first line says what ``trialsim cohort validate`` must report::

    # expect: LINE:COL: substring of the message

where LINE:COL is the node to fix. Validation must exit 2, print ``FILE:LINE:COL: message``
lines only (no traceback), and one of them must be at the expected position and contain the
expected text. Learned specs in the corpus read their seed data from tests/cohort/broken/seeds/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tests.corpus import assert_clean_report, expectation
from trialsim.cohort.cli import cohort_app
from trialsim.cohort.spec import CohortError, load_cohort_spec

HERE = Path(__file__).resolve().parent
CORPUS = sorted((HERE / "broken").glob("*.yaml"))

runner = CliRunner()


def validate(*paths: str | Path) -> Result:
    return runner.invoke(cohort_app, ["validate", *(str(p) for p in paths)])


def test_corpus_covers_the_kinds_of_mistake() -> None:
    names = {p.stem for p in CORPUS}
    assert len(CORPUS) >= 30, sorted(names)
    for kind in ("shares-", "prevalence-", "effect-", "distribution-", "seed-", "learned-", "derived-", "joint-"):
        assert any(n.startswith(kind) for n in names), kind


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_broken_spec_is_reported_at_the_mistake(path: Path) -> None:
    line, col, text = expectation(path)
    result = validate(path)
    lines = assert_clean_report(result)
    assert result.stdout == ""
    assert all(out.startswith(f"{path}:") for out in lines), lines
    at = [out for out in lines if out.startswith(f"{path}:{line}:{col}: ")]
    assert at, f"nothing reported at {line}:{col}; got:\n" + "\n".join(lines)
    assert any(text in out for out in at), f"no message at {line}:{col} contains {text!r}; got:\n" + "\n".join(at)


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_broken_spec_raises_cohort_error(path: Path) -> None:
    with pytest.raises(CohortError) as info:
        load_cohort_spec(path)
    n_lines = len(path.read_text(encoding="utf-8").splitlines())
    for problem in info.value.problems:
        assert problem.file == str(path)
        assert 1 <= problem.line <= n_lines + 1 and problem.col >= 1, problem
        assert problem.message.strip() and "\n" not in problem.message, problem


def test_whole_corpus_at_once() -> None:
    lines = assert_clean_report(validate(*CORPUS))
    assert {out.split(":", 1)[0] for out in lines} == {str(p) for p in CORPUS}


def test_missing_file_and_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert assert_clean_report(validate(missing)) == [f"{missing}:1:1: no such file"]
    assert assert_clean_report(validate(tmp_path)) == [f"{tmp_path}:1:1: is a directory, not a YAML file"]


def test_a_design_is_not_a_cohort_spec() -> None:
    design = HERE.parents[1] / "designs" / "two-arm-pfs-gsd.yaml"
    lines = assert_clean_report(validate(design))
    assert "this looks like a design" in lines[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "1:1: empty file"),
        ("- a\n- b\n", "1:1: a cohort spec is a mapping"),
        ("trialsim_cohort: 1\nname: x\n", "missing required key 'backbone'"),
        ("trialsim_cohort: 1\nname: Bad Name\nbackbone: {marginals: {sex: {F: 1}}}\n", "2:7: name:"),
        ("trialsim_cohort: 1\nname: x\nbackbone: {}\n", "3:11: backbone: a backbone needs at least one column"),
        ("trialsim_cohort: 1\nname: x\nbackbone: {marginals: {sex: {F: 1}}}\nbackbone: {}\n", "4:1: duplicate key"),
        ("trialsim_cohort: 1\nname: x\nbackbone: {marginals: {sex: {F: 1}}}\n\tcovariates: {}\n", "malformed YAML"),
    ],
)
def test_small_mistakes(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    lines = assert_clean_report(validate(path))
    assert any(message in out for out in lines), lines
