"""Scenario grids: trialsim.design.grid, from the design file to summary.json."""

import json
from pathlib import Path

import polars as pl
import pytest

import trialsim
from trialsim.design.load import DesignError, load_design

PFS = Path("designs/two-arm-pfs-gsd.yaml")


def with_grid(tmp_path: Path, grid: str, *, scenarios: str | None = None) -> Path:
    """The PFS design with a grid (YAML lines) inserted before ``simulation:``, optionally other scenarios."""
    text = PFS.read_text()
    if scenarios is not None:
        start, end = text.index("scenarios:"), text.index("simulation:")
        text = text[:start] + scenarios + "\n" + text[end:]
    text = text.replace("simulation:", grid.rstrip() + "\nsimulation:")
    path = tmp_path / "grid.yaml"
    path.write_text(text)
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(DesignError) as exc:
        load_design(path)
    return [str(p) for p in exc.value.problems]


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_every_point_of_every_scenario_is_a_scenario(tmp_path):
    path = with_grid(
        tmp_path, "grid:\n  enrollment.sample_size: [300, 450]\n  endpoints.pfs.effect.hazard_ratio: [1.0, 0.75]"
    )
    design = load_design(path)
    assert list(design.scenarios)[:4] == [
        "null[sample_size=300,hazard_ratio=1.0]",
        "null[sample_size=300,hazard_ratio=0.75]",
        "null[sample_size=450,hazard_ratio=1.0]",
        "null[sample_size=450,hazard_ratio=0.75]",
    ]
    assert len(design.scenarios) == 8
    point = design.scenarios["expected[sample_size=450,hazard_ratio=0.75]"]
    assert point.enrollment.sample_size == 450 and point.endpoints["pfs"].effect.hazard_ratio == 0.75
    assert point.enrollment.dropout.rate == 0.05  # the rest of the design is kept
    assert design.grid["expected[sample_size=450,hazard_ratio=0.75]"].base == "expected"
    # Without named scenarios, the points patch the design itself.
    alone = load_design(with_grid(tmp_path, "grid:\n  enrollment.sample_size: [300, 450]", scenarios=""))
    assert list(alone.scenarios) == ["default[sample_size=300]", "default[sample_size=450]"]


def test_a_point_draws_its_base_scenarios_numbers_and_summary_json_says_where_it_is(tmp_path):
    path = with_grid(tmp_path, "grid:\n  endpoints.pfs.effect.hazard_ratio: [0.7, 0.8]")
    result = trialsim.simulate(path, trials=300, seed=5, scenarios=["expected"], out=tmp_path / "out")
    plain = trialsim.simulate(PFS, trials=300, seed=5, scenarios=["expected"])
    same = result.trials.filter(pl.col("scenario") == "expected[hazard_ratio=0.7]").drop("scenario")
    assert same.equals(plain.trials.drop("scenario"))  # common random numbers: HR 0.7 is the design
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert list(summary["scenarios"]) == ["expected[hazard_ratio=0.7]", "expected[hazard_ratio=0.8]"]
    point = summary["scenarios"]["expected[hazard_ratio=0.8]"]
    assert point["base_scenario"] == "expected"
    assert point["grid"] == {"endpoints.pfs.effect.hazard_ratio": 0.8}
    assert point["power"] < summary["scenarios"]["expected[hazard_ratio=0.7]"]["power"]


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ("enrollment.sampel_size: [300]", "unknown key 'sampel_size' in enrollment; did you mean 'sample_size'?"),
        ("endpoints.pfss.effect.hazard_ratio: [1]", "no 'pfss' in endpoints; did you mean 'pfs'? (it has: pfs)"),
        ("simulation.trials: [10, 20]", "a grid cannot vary 'simulation'"),
        ("analysis.looks.events: [10]", "analysis.looks is a list, so the path cannot go on to 'events'"),
        ("enrollment.sample_size.n: [10]", "enrollment.sample_size is a value, so the path cannot go on to 'n'"),
    ],
)
def test_a_bad_path_is_reported_at_its_key(tmp_path, grid, message):
    path = with_grid(tmp_path, "grid:\n  " + grid)
    [problem] = problems(path)
    assert problem.startswith(f"{path}:{line_of(path, grid)}:3: grid['{grid.split(':')[0]}']: ")
    assert message in problem


def test_a_bad_value_is_reported_at_the_value(tmp_path):
    path = with_grid(tmp_path, "grid:\n  endpoints.pfs.effect.hazard_ratio: [0.7, -1]")
    [problem] = problems(path)
    line = line_of(path, "hazard_ratio: [0.7, -1]")
    col = 1 + next(i for i, c in enumerate(path.read_text().splitlines()[line - 1]) if c == "-")
    assert problem.startswith(f"{path}:{line}:{col}: in 'null[hazard_ratio=-1]': endpoints.pfs.effect.hazard_ratio")
    assert "greater than 0" in problem
    path = with_grid(tmp_path, "grid:\n  enrollment.sample_size: [300, 300]")
    [problem] = problems(path)
    assert "grid['enrollment.sample_size']: 300 is listed twice (items 1 and 2)" in problem
    path = with_grid(tmp_path, "grid:\n  enrollment.sample_size: []")
    [problem] = problems(path)
    assert "grid['enrollment.sample_size']: List should have at least 1 item" in problem


def test_a_scenario_cannot_change_the_grid(tmp_path):
    path = with_grid(
        tmp_path,
        "grid:\n  enrollment.sample_size: [300]",
        scenarios="scenarios:\n  odd: {grid: {enrollment.sample_size: [1]}}",
    )
    assert "scenarios.odd: a scenario cannot change 'grid'" in problems(path)[0]


def test_naming_a_base_scenario_runs_its_points(tmp_path):
    path = with_grid(tmp_path, "grid:\n  enrollment.sample_size: [300, 450]")
    result = trialsim.simulate(path, trials=10, seed=1, scenarios=["null"])
    assert list(result.summary()["scenarios"]) == ["null[sample_size=300]", "null[sample_size=450]"]
    with pytest.raises(ValueError, match=r"unknown scenario 'nul'; .* \(or a grid's base: null, expected\)"):
        trialsim.simulate(path, trials=10, seed=1, scenarios=["nul"])
