"""Designs side by side: trialsim.run.compare and `trialsim compare`."""

import csv
import json

import pytest
from typer.testing import CliRunner

import trialsim
from trialsim.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    base = tmp_path_factory.mktemp("compare")
    pfs = trialsim.simulate("designs/two-arm-pfs-gsd.yaml", trials=250, seed=1).write(base / "pfs")
    binary = trialsim.simulate("designs/binary-response.yaml", trials=250, seed=1).write(base / "binary")
    return pfs, binary


def test_compare_prints_designs_side_by_side_and_writes_csv_and_markdown(results, tmp_path):
    pfs, binary = results
    out_csv, out_md = tmp_path / "t.csv", tmp_path / "t.md"
    result = runner.invoke(app, ["compare", str(pfs), str(binary), "--csv", str(out_csv), "--markdown", str(out_md)])
    assert result.exit_code == 0, result.output
    header = result.stdout.splitlines()[0].split()
    assert header == ["scenario", "figure", "nsclc-pfs-gsd", "binary-response-2to1"]
    s = json.loads((pfs / "summary.json").read_text())["scenarios"]
    lines = result.stdout.splitlines()
    row = next(line for line in lines if line.startswith("null") and "type I error" in line)
    assert f"{s['null']['power']:.3f} ± {s['null']['power_se']:.3f}" in row
    row = next(line for line in lines if line.startswith("expected") and " power " in line)
    assert f"{s['expected']['power']:.3f} ± {s['expected']['power_se']:.3f}" in row
    # Diversity rows come from summaries that have them; a design without goals shows "-".
    goals = next(line for line in lines if line.startswith("expected") and "P(diversity goals met)" in line)
    assert goals.split()[-1] == "-" and "±" in goals
    assert any("representation index" in line for line in lines)
    table = list(csv.DictReader(out_csv.open()))
    power = next(r for r in table if r["scenario"] == "expected" and r["figure"] == "power")
    assert float(power["nsclc-pfs-gsd"]) == s["expected"]["power"]
    assert float(power["nsclc-pfs-gsd se"]) == s["expected"]["power_se"]
    markdown = out_md.read_text().splitlines()
    assert markdown[0] == "| scenario | figure | nsclc-pfs-gsd | binary-response-2to1 |"
    assert len(markdown) == len(table) + 2


def test_compare_says_which_directory_cannot_be_read(results, tmp_path):
    pfs, _ = results
    unfinished = tmp_path / "unfinished"
    (unfinished / "blocks").mkdir(parents=True)
    result = runner.invoke(app, ["compare", str(pfs), str(unfinished)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {unfinished}: blocks of an unfinished run; run trialsim simulate")
    result = runner.invoke(app, ["compare", str(tmp_path / "nothing")])
    assert "no such directory" in result.stderr
    # The same design twice (another seed) is told apart by its folder.
    again = trialsim.simulate("designs/two-arm-pfs-gsd.yaml", trials=250, seed=2).write(tmp_path / "pfs2")
    result = runner.invoke(app, ["compare", str(pfs), str(again)])
    assert f"nsclc-pfs-gsd ({again})" in result.stdout.splitlines()[0]
