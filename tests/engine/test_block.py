"""trialsim.engine.block: blocks simulated together, the group-sequential decisions, the attainable events.

- Blocks simulated together (blocks_columns) give each block its own columns, bit for bit: the
  reference is each block simulated alone (block_columns) on the same generator; every column of the
  three tables and every tally must be equal, not close.
- decide(): on z values set by hand against the plan's bounds.
- expected_events(): by hand for W1 (the competing-risks formula), and against the events counted in
  2,000 drawn trials (within 3.5 standard errors).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trialsim.cohort.population import load_population
from trialsim.design.load import load_design
from trialsim.engine.block import (
    Coded,
    block_columns,
    blocks_columns,
    decide,
    draw_patients,
    event_calendar_times,
    expected_events,
)
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


def _design_plan(tmp_path: Path, text: str):
    """The plan of a design's one scenario, from its text."""
    path = tmp_path / "design.yaml"
    path.write_text(text)
    design = load_design(path)
    return compile_plan(design, "default", load_population(design.spec.population.cohort, tmp_path, seed=1))


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
    return _design_plan(tmp_path, text)


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


def _pilot_events(plan, trials: int = 2000) -> tuple[float, float]:
    """Mean and standard error of the events per trial with everyone followed to the end: drawn patients."""
    p = draw_patients(plan, trials, np.random.default_rng(11))
    events = np.isfinite(event_calendar_times(plan, p)).sum(axis=1)
    return float(events.mean()), float(events.std(ddof=1) / np.sqrt(trials))


EVENTS = """\
trialsim: 1
name: events
enrollment: {{sample_size: 400, accrual: {{duration: 24 months}}{dropout}}}
randomization: {{method: permuted_block, block_size: 3, ratio: {{control: 1, treatment: 2}}}}
arms: {{control: {{}}, treatment: {{}}}}
endpoints:
  os: {{type: time_to_event, baseline: {{distribution: {baseline}, median: 8 months}}, effect: {{hazard_ratio: 0.6}}}}
analysis:
  primary: {{endpoint: os, test: logrank, alpha: 0.025}}
  looks: [{{events: 100}}, {{events: 200}}]
  efficacy: {{spending: obrien_fleming}}
"""


def test_expected_events_w1_by_hand() -> None:
    # Control hazard ln 2 / 8, treated 0.7 times it, dropout -ln(0.95) / 12 in both arms, 1:1:
    # 600 (r0 / (r0 + h) + r1 / (r1 + h)) / 2 = 600 (0.952986 + 0.934163) / 2 = 566.145.
    design = load_design(ROOT / "bench" / "designs" / "w1-survival-gsd.yaml")
    plan = compile_plan(design, "expected", load_population("builtin", ROOT, seed=1))
    r0, h = np.log(2.0) / 8.0, -np.log(0.95) / 12.0
    by_hand = 600 * (r0 / (r0 + h) + 0.7 * r0 / (0.7 * r0 + h)) / 2
    assert expected_events(plan) == pytest.approx(by_hand, rel=1e-12)
    assert by_hand == pytest.approx(566.145, abs=1e-3)


@pytest.mark.parametrize(
    ("path", "scenario"),
    [(ROOT / "bench" / "designs" / "w1-survival-gsd.yaml", "expected"),
     (ROOT / "designs" / "two-arm-pfs-gsd.yaml", None)],
)  # fmt: skip
def test_expected_events_agree_with_drawn_patients(path: Path, scenario: str | None) -> None:
    design = load_design(path)
    population = load_population(design.spec.population.cohort, path.parent, seed=1)
    for name in [scenario] if scenario else design.scenarios:
        plan = compile_plan(design, name, population)
        mean, se = _pilot_events(plan)
        assert abs(expected_events(plan) - mean) <= 3.5 * se, (name, expected_events(plan), mean, se)


@pytest.mark.parametrize(
    ("dropout", "baseline", "closed_form"),
    [(", dropout: {rate: 10%, per: 12 months}", "exponential", True),
     (", dropout: {control: {rate: 0%, per: 12 months}, treatment: {rate: 30%, per: 12 months}}", "exponential", True),
     ("", "exponential", True),
     ("", "weibull, shape: 1.5", True),
     (", dropout: {rate: 10%, per: 12 months}", "weibull, shape: 1.5", False)],
    ids=["dropout", "dropout-in-one-arm", "no-dropout", "weibull-no-dropout", "weibull-dropout"],
)  # fmt: skip
def test_expected_events_in_closed_form_or_none(tmp_path: Path, dropout: str, baseline: str, closed_form: bool) -> None:
    plan = _design_plan(tmp_path, EVENTS.format(dropout=dropout, baseline=baseline))
    expected = expected_events(plan)
    if not closed_form:
        assert expected is None
        return
    if not dropout:
        assert expected == plan.sample_size
        return
    mean, se = _pilot_events(plan)
    assert abs(expected - mean) <= 3.5 * se, (expected, mean, se)
