"""The broken-design corpus: every file in tests/design/broken/ holds one mistake a trial designer makes.

Each file's first line says what ``trialsim validate`` must report::

    # expect: LINE:COL: substring of the message

where LINE:COL is the node the designer must fix. The validator must exit 2, print
``FILE:LINE:COL: message`` lines only (no traceback), and one of them must be at the
expected position and contain the expected text.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tests.corpus import assert_clean_report, expectation
from trialsim.cli import app
from trialsim.design.load import DesignError, load_design

HERE = Path(__file__).resolve().parent
BROKEN = HERE / "broken"
DESIGNS = HERE.parents[1] / "designs"
CORPUS = sorted(BROKEN.glob("*.yaml"))
EXAMPLES = sorted(DESIGNS.glob("*.yaml"))


runner = CliRunner()


def validate(*paths: str | Path) -> Result:
    return runner.invoke(app, ["validate", *(str(p) for p in paths)])


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 35, [p.name for p in CORPUS]


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_header(path: Path) -> None:
    line, col, text = expectation(path)
    n_lines = max(1, len(path.read_text(encoding="utf-8").splitlines()))
    assert 1 <= line <= n_lines and col >= 1 and text.strip()


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_broken_design_is_reported_at_the_mistake(path: Path) -> None:
    line, col, text = expectation(path)
    result = validate(path)
    lines = assert_clean_report(result)
    assert result.stdout == "", "a broken design must not be reported ok"
    assert all(out.startswith(f"{path}:") for out in lines), lines
    prefix = f"{path}:{line}:{col}: "
    at = [out for out in lines if out.startswith(prefix)]
    assert at, f"nothing reported at {line}:{col}; got:\n" + "\n".join(lines)
    assert any(text in out for out in at), f"no message at {line}:{col} contains {text!r}; got:\n" + "\n".join(at)


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_broken_design_raises_design_error(path: Path) -> None:
    with pytest.raises(DesignError) as info:
        load_design(path)
    n_lines = len(path.read_text(encoding="utf-8").splitlines())
    for problem in info.value.problems:
        assert problem.file == str(path)
        assert 1 <= problem.line <= max(1, n_lines + 1), problem
        assert problem.col >= 1, problem
        assert problem.message.strip() and "\n" not in problem.message, problem


def test_whole_corpus_at_once() -> None:
    """One invocation over many files reports every file, and keeps going after the first."""
    lines = assert_clean_report(validate(*CORPUS))
    reported = {out.split(":", 1)[0] for out in lines}
    assert reported == {str(p) for p in CORPUS}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_designs_validate(path: Path) -> None:
    result = validate(path)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.startswith(f"{path}: ok (")


def test_examples_exist() -> None:
    assert len(EXAMPLES) >= 3


def test_all_examples_in_one_call() -> None:
    result = validate(*EXAMPLES)
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == len(EXAMPLES)


def test_directory_is_reported(tmp_path: Path) -> None:
    lines = assert_clean_report(validate(tmp_path))
    assert lines == [f"{tmp_path}:1:1: is a directory, not a YAML file"]


def test_missing_file_is_reported(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-design.yaml"
    lines = assert_clean_report(validate(missing))
    assert lines == [f"{missing}:1:1: no such file"]


def test_missing_file_does_not_hide_valid_ones(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-design.yaml"
    result = validate(EXAMPLES[0], missing, EXAMPLES[1])
    lines = assert_clean_report(result)
    assert lines == [f"{missing}:1:1: no such file"]
    assert [out.split(": ok", 1)[0] for out in result.stdout.splitlines()] == [str(EXAMPLES[0]), str(EXAMPLES[1])]


def test_not_utf8_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("trialsim: 1\nname: caf\xe9\n".encode("latin-1"))
    lines = assert_clean_report(validate(path))
    assert len(lines) == 1 and lines[0].startswith(f"{path}:1:1: not UTF-8")


def test_no_files_is_a_usage_error() -> None:
    result = validate()
    assert result.exit_code == 2
    assert "Traceback" not in result.output
