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
from trialsim.engine.block import Coded, block_columns, blocks_columns
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
