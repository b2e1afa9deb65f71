"""Blocks simulated together (trialsim.engine.block.blocks_columns) give each block its own columns, bit for bit.

The reference is each block simulated alone (block_columns) on the same generator: every column of
the three tables and every tally must be equal, not close.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trialsim.cohort.population import load_population
from trialsim.design.load import load_design
from trialsim.engine.block import Coded, block_columns, blocks_columns, decide
from trialsim.engine.plan import compile_plan

ROOT = Path(__file__).resolve().parents[2]
DESIGNS = sorted((ROOT / "designs").glob("*.yaml")) + sorted((ROOT / "bench" / "designs").glob("*.yaml"))
SITES = """\
trialsim: 1
name: sites
population: {cohort: builtin}
enrollment:
  sample_size: 120
  sites:
    - {name: academic, rate: 20 per month, reach: {race_ethnicity: {Black: 0.5}}}
    - {name: community, rate: 10 per month, start: 2 months}
arms: {control: {}, treatment: {}}
endpoints:
  y: {type: continuous, baseline: {mean: 0, sd: 1}}
analysis:
  primary: {endpoint: y, test: t_test}
"""


def _same(a, b, where: str) -> None:
    if isinstance(a, Coded):
        assert a.values == b.values, where
        a, b = a.codes, b.codes
    if a is None:
        assert b is None, where
        return
    np.testing.assert_array_equal(a, b, err_msg=where)


def _assert_blocks_alone(path: Path, trials: int = 60) -> None:
    design = load_design(path)
    population = load_population(design.spec.population.cohort, path.resolve().parent, seed=1)
    for scenario in design.scenarios:
        plan = compile_plan(design, scenario, population)
        firsts = [0, trials, 5 * trials]  # not necessarily consecutive
        together = blocks_columns(plan, [(f, np.random.default_rng(f + 7)) for f in firsts], trials)
        for first, part in zip(firsts, together, strict=True):
            alone = block_columns(plan, first, trials, np.random.default_rng(first + 7))
            for table in ("looks", "subgroups", "diversity"):
                mine, reference = getattr(part, table), getattr(alone, table)
                assert list(mine) == list(reference), table
                for name in reference:
                    _same(mine[name], reference[name], f"{path.name} {scenario} {table}.{name}")
            _same(part.tallies.sums, alone.tallies.sums, "tallies.sums")
            _same(part.tallies.enrolled, alone.tallies.enrolled, "tallies.enrolled")
            for mine, reference in zip(part.tallies.counts, alone.tallies.counts, strict=True):
                _same(mine, reference, "tallies.counts")


@pytest.mark.parametrize("path", DESIGNS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_blocks_together_are_the_blocks_alone(path: Path) -> None:
    _assert_blocks_alone(path)


def test_blocks_together_with_recruitment_sites(tmp_path: Path) -> None:
    path = tmp_path / "sites.yaml"
    path.write_text(SITES)
    _assert_blocks_alone(path)


DECIDE = """\
trialsim: 1
name: decide
enrollment: {{sample_size: 300, accrual: {{duration: 24 months}}}}
arms: {arms}
endpoints:
  os: {{type: time_to_event, baseline: {{distribution: exponential, median: 8 months}}, effect: {{hazard_ratio: 0.7}}}}
analysis:
  primary: {{endpoint: os, test: logrank, {compare}alpha: 0.025}}
  looks: [{{events: 60}}, {{events: 120}}, {{events: 180}}]
  efficacy: {{spending: obrien_fleming}}
  futility: {{spending: pocock, binding: false, beta: 20%}}
{multiplicity}"""


def _decide_plan(tmp_path: Path, *, arms: int):
    if arms == 2:
        text = DECIDE.format(arms="{control: {}, treatment: {}}", compare="", multiplicity="")
    else:
        text = DECIDE.format(arms="{control: {control: true}, low: {}, high: {}}",
                             compare="compare: [high vs control, low vs control], ",
                             multiplicity="  multiplicity: holm\n")  # fmt: skip
    path = tmp_path / "decide.yaml"
    path.write_text(text)
    design = load_design(path)
    return compile_plan(design, "default", load_population(design.spec.population.cohort, tmp_path, seed=1))


def test_decide_stops_at_the_first_bound_crossed(tmp_path: Path) -> None:
    plan = _decide_plan(tmp_path, arms=2)
    no = np.zeros((4, 3, 1), dtype=bool)
    z = np.array([[10.0, 0.0, 0.0], [1.0, -5.0, 10.0], [1.0, 1.5, 1.0], [1.0, 1.5, 2.5]])[:, :, None]
    reject, futility, stop = decide(plan, z, no)
    # rejected at look 1; futile at look 2 (not rejected after it); neither before the last look,
    # where the bounds meet (1.0 futile, 2.5 rejected)
    assert reject[:, 0].tolist() == [0, 3, 3, 2]
    assert futility[:, 0].tolist() == [3, 1, 2, 3]
    assert stop.tolist() == [0, 1, 2, 2]


def test_decide_a_rejected_comparison_is_never_futile_later(tmp_path: Path) -> None:
    # Trial 0: one comparison rejected at look 1 (z = 10), the other goes on and is futile at look 2
    # (z = -5), where the first one's z falls below the futility bound too: that is no futility stop.
    # Trial 1: one comparison alone (2 arms), rejected at look 1, z below the bound at look 2 (an
    # analysis after the stop).
    plan = _decide_plan(tmp_path, arms=3)
    z = np.array([[[10.0, 1.0], [-5.0, -5.0], [0.0, 0.0]]])
    reject, futility, stop = decide(plan, z, np.zeros(z.shape, dtype=bool))
    assert reject.tolist() == [[0, 3]] and futility.tolist() == [[3, 1]] and stop.tolist() == [1]
    plan = _decide_plan(tmp_path, arms=2)
    z = np.array([[[10.0], [-5.0], [0.0]]])
    reject, futility, stop = decide(plan, z, np.zeros(z.shape, dtype=bool))
    assert reject.tolist() == [[0]] and futility.tolist() == [[3]] and stop.tolist() == [0]


def test_decide_degenerate_analyses_neither_reject_nor_stop(tmp_path: Path) -> None:
    plan = _decide_plan(tmp_path, arms=2)
    z = np.array([[[10.0], [-5.0], [0.0]]])
    degenerate = np.array([[[True], [True], [False]]])
    reject, futility, stop = decide(plan, z, degenerate)
    assert reject.tolist() == [[3]] and futility.tolist() == [[2]] and stop.tolist() == [2]
