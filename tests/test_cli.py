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
