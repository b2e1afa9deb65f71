"""The command line: trialsim.cli."""

import json
from pathlib import Path

from typer.testing import CliRunner

from trialsim.cli import app

runner = CliRunner()
DESIGNS = sorted(str(p) for p in Path("designs").glob("*.yaml"))


def test_validate_examples_exit_0():
    result = runner.invoke(app, ["validate", *DESIGNS])
    assert result.exit_code == 0, result.output
    assert result.stdout.count(": ok (") == len(DESIGNS)


def test_validate_reports_every_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(DESIGNS[0]).read_text().replace("alpha: 2.5%", "alpha: 250%"))
    result = runner.invoke(app, ["validate", DESIGNS[1], str(bad), str(tmp_path / "missing.yaml"), str(tmp_path)])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"{bad}:") and "alpha" in lines[0] and "between 0 and 1" in lines[0]
    assert lines[1] == f"{tmp_path / 'missing.yaml'}:1:1: no such file"
    assert lines[2] == f"{tmp_path}:1:1: is a directory, not a YAML file"
    assert "Traceback" not in result.output


def test_schema_prints_json(tmp_path):
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["title"] == "trialsim design"
    out = tmp_path / "s.json"
    assert runner.invoke(app, ["schema", "--out", str(out)]).exit_code == 0
    assert json.loads(out.read_text()) == json.loads(result.stdout)


def test_show_prints_boundaries():
    result = runner.invoke(app, ["show", "designs/two-arm-pfs-gsd.yaml"])
    assert result.exit_code == 0, result.output
    # Classical O'Brien-Fleming, 3 equally spaced looks, one-sided 0.025: rpact getDesignGroupSequential().
    assert "efficacy z 3.471, 2.454, 2.004" in result.stdout


def test_simulate_writes_results_through_dask(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(
        app, ["simulate", "designs/binary-response.yaml", "--trials", "250", "--workers", "1", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    expected = summary["scenarios"]["expected"]
    assert f"{expected['power']:.3f} ± {expected['power_se']:.3f}" in result.stdout
    assert summary["scenarios"]["null"]["trials"] == 250


def test_simulate_refuses_impossible_requests(tmp_path):
    cases = [
        (["--trials", "0"], "--trials must be a positive number"),
        (["--scenario", "nul"], "unknown scenario 'nul'; designs/binary-response.yaml has null, expected"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["simulate", "designs/binary-response.yaml", *args])
        assert result.exit_code == 2 and message in result.stderr, result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path("designs/binary-response.yaml").read_text().replace('"ecog <= 2"', '"ecog > 9"'))
    result = runner.invoke(app, ["simulate", str(bad)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{bad}:") and "no patient of the 100000 screened" in result.stderr
