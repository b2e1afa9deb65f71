"""trialsim.dashboard: the checks of result directories and the `streamlit run` command it starts."""

from __future__ import annotations

import doctest
import json
import sys
from pathlib import Path

import pytest
import typer
from statsmodels.stats.proportion import proportion_confint
from typer.testing import CliRunner

from dashboards import loading, tables
from trialsim import dashboard as command


def test_a_good_result_dir_is_read(results):
    checked = command.inspect_results_dir(results["pfs"])
    assert checked.ok and not checked.errors and not checked.notes
    assert checked.summary == json.loads((results["pfs"] / "summary.json").read_text())


def test_gaps_of_a_readable_dir_are_notes(results, tmp_path):
    copy = tmp_path / "partial"
    copy.mkdir()
    (copy / "summary.json").write_text((results["pfs"] / "summary.json").read_text())
    (copy / ".partial-x1").mkdir()
    checked = command.inspect_results_dir(copy)
    assert checked.ok
    notes = "\n".join(checked.notes)
    assert "trials.parquet is missing" in notes and "design.yaml is missing" in notes
    assert "writing a new version here" in notes


def test_unrelated_folder_is_not_a_result_dir(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    [error] = command.inspect_results_dir(tmp_path).errors
    assert "not a trialsim result directory" in error and "notes.txt" in error


def test_streamlit_command_listens_on_localhost_by_default(tmp_path):
    argv = command.streamlit_command([tmp_path / "a", Path("relative")])
    assert argv[:5] == [sys.executable, "-m", "streamlit", "run", str(command.APP)]
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1"
    assert argv[argv.index("--server.port") + 1] == "8501"
    assert argv[argv.index("--server.headless") + 1] == "true"
    assert argv[argv.index("--") + 1 :] == [str(tmp_path / "a"), str(Path("relative").absolute())]
    assert command.APP.is_file()


def test_dashboard_command_registers_with_typer_and_warns(monkeypatch, results, tmp_path):
    calls = []
    monkeypatch.setattr(command.subprocess, "call", lambda argv, env: calls.append((argv, env)) or 0)
    app = typer.Typer()
    app.command("dashboard")(command.dashboard_command)
    app.command("other")(lambda: None)  # a multi-command app, as trialsim's
    missing = tmp_path / "missing"
    result = CliRunner().invoke(app, ["dashboard", str(results["pfs"]), str(missing), "--port", "8600"])
    assert result.exit_code == 0, result.output
    [(argv, env)] = calls
    assert argv[argv.index("--server.port") + 1] == "8600"
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1"
    assert argv[argv.index("--") + 1 :] == [str(results["pfs"]), str(missing)]
    assert "TRIALSIM_RESULTS" not in env
    assert f"warning: {missing}: no such directory" in result.stderr
    bad = CliRunner().invoke(app, ["dashboard", "--port", "0"])
    assert bad.exit_code == 2 and not calls[1:]


def test_labels_are_unique_and_colours_follow_the_order(results, tmp_path):
    twin = tmp_path / "pfs-again"
    twin.mkdir()
    (twin / "summary.json").write_text((results["pfs"] / "summary.json").read_text())
    loaded = loading.label_and_colour(
        [loading.load_result(p) for p in (results["pfs"], tmp_path / "missing", twin, results["dose"])]
    )
    assert [r.label for r in loaded] == [
        "nsclc-pfs-gsd (pfs)",
        str(tmp_path / "missing"),
        "nsclc-pfs-gsd (pfs-again)",
        "t2d-hba1c-dose-ranging",
    ]
    assert loading.colour_map(loaded) == {
        "nsclc-pfs-gsd (pfs)": loading.PALETTE[0],
        "nsclc-pfs-gsd (pfs-again)": loading.PALETTE[1],
        "t2d-hba1c-dose-ranging": loading.PALETTE[2],
    }


def test_requested_dirs_prefer_the_environment():
    assert loading.requested_dirs(["app.py", "a", "b"], {}) == [Path("a"), Path("b")]
    assert loading.requested_dirs(["app.py", "a"], {"TRIALSIM_RESULTS": ""}) == []


def test_wilson_interval_against_a_published_value():
    # Newcombe (1998), Statistics in Medicine 17:857, Table I: 81/263 -> 0.2553 to 0.3662 (score method).
    low, high = tables.wilson(81 / 263, 263)
    assert round(low, 4) == 0.2553 and round(high, 4) == 0.3662
    assert (low, high) == pytest.approx(proportion_confint(81, 263, method="wilson"))
    assert tables.wilson(1.0, 300)[1] == 1.0 and tables.wilson(0.5, 0) == (None, None)


@pytest.mark.parametrize("module", [loading, tables], ids=lambda m: m.__name__)
def test_doctests_of_the_dashboard_modules(module):
    # dashboards/ is not under pytest's testpaths, so its examples are run here.
    assert doctest.testmod(module).failed == 0
