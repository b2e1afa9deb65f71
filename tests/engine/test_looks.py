"""The fused kernels (trialsim.engine.looks, trialsim.engine.tallies) against the numpy reference path.

The reference is what the kernels replace: look_times, data_cut and the batched tests per look and
comparison (trialsim.engine.block.analyse_looks(fast=False)), and enrolled_shares /
standardized_difference for the diversity tallies. Counts, cuts and decisions must be equal;
statistics equal to rounding (the kernels add sequentially where numpy sums pairwise).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from trialsim.cohort.population import load_population
from trialsim.design.load import load_design
from trialsim.engine import block
from trialsim.engine import looks as looks_kernel
from trialsim.engine.block import Patients, analyse_looks, decide, draw_patients
from trialsim.engine.diversity import enrolled_shares, standardized_difference
from trialsim.engine.plan import compile_plan
from trialsim.engine.tallies import enrolled_tallies

SURVIVAL = """\
trialsim: 1
name: kernel
enrollment:
  sample_size: {n}
  accrual: {{duration: 24 months}}
{extra}randomization: {randomization}
arms:
{arms}
endpoints:
  os:
    type: time_to_event
    baseline: {{distribution: exponential, median: 8 months}}
    effect: {effect}
analysis:
  primary: {{endpoint: os, test: {test}, {compare}alpha: 0.025}}
  looks: [{looks}]
{bounds}"""

TWO_ARMS = "  control: {}\n  treatment: {}"
THREE_ARMS = "  control: {control: true}\n  low: {}\n  high: {}"

CONTINUOUS = """\
trialsim: 1
name: kernel-t
enrollment:
  sample_size: {n}
  accrual: {{duration: 12 months}}
{extra}randomization: {{method: permuted_block, block_size: {block}}}
arms:
{arms}
endpoints:
  y:
    type: continuous
    timepoint: {timepoint}
    baseline: {{mean: 0.0, sd: 1.0}}
    effect: {effect}
analysis:
  primary: {{endpoint: y, test: t_test, {compare}alpha: 0.025}}
{looks}"""


def _plan(tmp_path: Path, text: str):
    path = tmp_path / "design.yaml"
    path.write_text(text)
    design = load_design(path)
    population = load_population("builtin", path.parent, seed=1, size=5_000)
    return compile_plan(design, next(iter(design.scenarios)), population)


def _assert_same(fast, reference) -> None:
    for name in ("cuts", "reached", "enrolled", "analysed", "degenerate"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(reference, name), err_msg=name)
    if reference.events is None:
        assert fast.events is None
    else:
        np.testing.assert_array_equal(fast.events, reference.events)
    for name in ("estimate", "se", "z"):
        np.testing.assert_allclose(getattr(fast, name), getattr(reference, name), rtol=1e-10, atol=1e-12, err_msg=name)


def _compare(plan, p: Patients) -> None:
    fast = analyse_looks(plan, p)
    reference = analyse_looks(plan, p, fast=False)
    _assert_same(fast, reference)
    for a in (fast, reference):  # the decisions are the same too
        benefit = plan.benefit_sign * a.z
        if a is fast:
            decisions = decide(plan, benefit, a.degenerate)
        else:
            for x, y in zip(decisions, decide(plan, benefit, a.degenerate), strict=True):
                np.testing.assert_array_equal(x, y)


SURVIVAL_CASES = {
    "three looks, O'Brien-Fleming": dict(
        n=300, extra="  dropout: {rate: 5%, per: 12 months}\n", randomization="{method: permuted_block, block_size: 2}",
        arms=TWO_ARMS, effect="{hazard_ratio: 0.7}", test="logrank", compare="",
        looks="{events: 40}, {events: 80}, {events: 120}", bounds="  efficacy: {boundary: obrien_fleming}\n",
    ),
    "one look, no dropout": dict(
        n=200, extra="", randomization="{method: simple}", arms=TWO_ARMS, effect="{hazard_ratio: 0.6}",
        test="logrank", compare="", looks="{events: 150}", bounds="",
    ),
    "unreachable events look": dict(
        # heavy dropout: about 59 of 100 patients have their event, and many trials never see 58
        n=100, extra="  dropout: {rate: 10%, per: 2 months}\n", randomization="{method: simple}", arms=TWO_ARMS,
        effect="{hazard_ratio: 0.8}", test="logrank", compare="", looks="{events: 40}, {events: 58}",
        bounds="  efficacy: {spending: obrien_fleming}\n",
    ),
    "calendar looks, delayed effect": dict(
        n=240, extra="  dropout: {rate: 10%, per: 12 months}\n",
        randomization="{method: permuted_block, block_size: 4}", arms=TWO_ARMS,
        effect="{hazard_ratio: 0.6, delay: 3 months}", test="logrank", compare="",
        looks="{time: 14 months}, {time: 26 months}, {time: 40 months}",
        bounds="  efficacy: {spending: pocock}\n",
    ),
    "subjects looks, final analysis after follow-up": dict(
        n=240, extra="  follow_up: 12 months\n", randomization="{method: permuted_block, block_size: 4}",
        arms=TWO_ARMS, effect="{hazard_ratio: 0.6}", test="logrank", compare="",
        looks="{subjects: 120}, {subjects: 240}", bounds="  efficacy: {spending: obrien_fleming}\n",
    ),
    "three arms, two comparisons, Holm": dict(
        n=300, extra="", randomization="{method: permuted_block, block_size: 3}", arms=THREE_ARMS,
        effect="{by_arm: {low: {hazard_ratio: 0.8}, high: {hazard_ratio: 0.6}}}", test="logrank",
        compare="compare: [high vs control, low vs control], ", looks="{events: 100}, {events: 200}",
        bounds="  multiplicity: holm\n  efficacy: {spending: obrien_fleming}\n",
    ),
    "stratified log-rank": dict(
        n=300, extra="", randomization="{method: stratified, block_size: 4, strata: [sex]}", arms=TWO_ARMS,
        effect="{hazard_ratio: 0.7}", test="stratified_logrank", compare="strata: [sex, age_group], ",
        looks="{events: 60}, {events: 150}", bounds="  efficacy: {boundary: obrien_fleming}\n",
    ),
}  # fmt: skip


STOPPING_CASES = {
    **SURVIVAL_CASES,
    "futility and efficacy bounds": dict(
        SURVIVAL_CASES["three looks, O'Brien-Fleming"], effect="{hazard_ratio: 0.85}",
        bounds="  efficacy: {spending: obrien_fleming}\n  futility: {spending: pocock, binding: false, beta: 20%}\n",
    ),
}  # fmt: skip


@pytest.mark.parametrize("bad", [np.nan, -1.0])
def test_entry_times_out_of_enrolment_order_are_refused(tmp_path, bad):
    plan = _plan(tmp_path, SURVIVAL.format(**SURVIVAL_CASES["three looks, O'Brien-Fleming"]))
    p = draw_patients(plan, 5, np.random.default_rng(1))
    entry = p.entry.copy()
    entry[3, 100] = bad  # before the patient enrolled ahead of them (or not a time at all)
    with pytest.raises(ValueError, match="trial 3 is not"):
        analyse_looks(plan, Patients(p.index, entry, p.arm, p.dropout, p.outcome))


@pytest.mark.parametrize("case", list(STOPPING_CASES))
def test_stopped_trials_are_not_analysed_after_their_stop(tmp_path, case):
    # The table keeps the looks up to each trial's stop, so stop=True may skip the rest; decide()
    # must find the same stops, rejections and futility looks, from the same numbers up to them.
    plan = _plan(tmp_path, SURVIVAL.format(**STOPPING_CASES[case]))
    p = draw_patients(plan, 200, np.random.default_rng(5))
    full = analyse_looks(plan, p)
    short = analyse_looks(plan, p, stop=True)
    decisions = decide(plan, plan.benefit_sign * full.z, full.degenerate)
    for x, y in zip(decisions, decide(plan, plan.benefit_sign * short.z, short.degenerate), strict=True):
        np.testing.assert_array_equal(x, y)
    stop = decisions[2]
    performed = np.arange(plan.n_looks)[None, :] <= stop[:, None]
    for name in ("enrolled", "events", "analysed", "estimate", "se", "z", "degenerate"):
        a, b = getattr(full, name), getattr(short, name)
        np.testing.assert_array_equal(a[performed], b[performed], err_msg=name)
    np.testing.assert_array_equal(full.cuts, short.cuts)
    skipped = ~performed
    if len(plan.comparisons) == 1 and plan.multiplicity != "hochberg":
        assert short.degenerate[skipped].all() and (short.analysed[skipped] == 0).all()
        if plan.n_looks > 1:
            assert skipped.any(), "no trial stopped early: the case does not test the skipping"
        if plan.futility is not None:
            assert (decisions[1] < plan.n_looks - 1).any(), "no trial stopped for futility before the last look"
    else:  # decide() reads every comparison at every look: nothing is skipped
        np.testing.assert_array_equal(full.z, short.z)


@pytest.mark.parametrize("case", list(SURVIVAL_CASES))
def test_survival_kernel_matches_the_numpy_path(tmp_path, case):
    plan = _plan(tmp_path, SURVIVAL.format(**SURVIVAL_CASES[case]))
    assert looks_kernel.supports(plan)
    for seed in range(3):
        p = draw_patients(plan, 60, np.random.default_rng(seed))
        _compare(plan, p)


def test_survival_kernel_with_ties_everywhere(tmp_path):
    # Times on a coarse grid: ties among events, between events and censorings, between entries,
    # at the cuts themselves; and a trial with no event at all.
    plan = _plan(tmp_path, SURVIVAL.format(**SURVIVAL_CASES["three looks, O'Brien-Fleming"]))
    plan = dataclasses.replace(plan, looks=(("events", 20.0), ("time", 30.0), ("events", 60.0)))
    rng = np.random.default_rng(7)
    p = draw_patients(plan, 80, rng)
    entry = np.sort(np.round(p.entry / 3.0) * 3.0, axis=1)
    outcome = np.round(p.outcome)
    dropout = np.where(rng.random(p.dropout.shape) < 0.2, np.round(p.dropout / 4.0) * 4.0, np.inf)
    outcome[0] = 1e6  # no event before the end of time in trial 0
    tied = dataclasses.replace(p, entry=entry, outcome=outcome, dropout=dropout)
    _compare(plan, tied)


def test_survival_kernel_stratified_with_ties(tmp_path):
    plan = _plan(tmp_path, SURVIVAL.format(**SURVIVAL_CASES["stratified log-rank"]))
    p = draw_patients(plan, 50, np.random.default_rng(3))
    tied = dataclasses.replace(p, outcome=np.round(p.outcome * 2) / 2, entry=np.sort(np.round(p.entry), axis=1))
    _compare(plan, tied)


@pytest.mark.parametrize(
    "case", ["three looks, O'Brien-Fleming", "one look, no dropout", "calendar looks, delayed effect"]
)
def test_the_kernel_for_simple_comparisons_gives_the_general_kernels_numbers(tmp_path, monkeypatch, case):
    # Two arms, one comparison, no strata: the kernel compiled for them, bit for bit the general one.
    plan = _plan(tmp_path, SURVIVAL.format(**SURVIVAL_CASES[case]))
    p = draw_patients(plan, 120, np.random.default_rng(4))
    simple = analyse_looks(plan, p, stop=True)
    assert looks_kernel._SURVIVAL_LOOKS[True] is not looks_kernel._SURVIVAL_LOOKS[False]
    monkeypatch.setitem(looks_kernel._SURVIVAL_LOOKS, True, looks_kernel._SURVIVAL_LOOKS[False])
    general = analyse_looks(plan, p, stop=True)
    for field in dataclasses.fields(simple):
        np.testing.assert_array_equal(getattr(simple, field.name), getattr(general, field.name), err_msg=field.name)


CONTINUOUS_CASES = {
    "two arms": dict(n=120, extra="", block=2, arms=TWO_ARMS, timepoint="0 weeks", effect="{difference: 0.4}",
                     compare="", looks=""),
    "three arms, looks, dropout before the timepoint": dict(
        n=150, extra="  dropout: {rate: 20%, per: 6 months}\n", block=3, arms=THREE_ARMS, timepoint="26 weeks",
        effect="{by_arm: {low: {difference: 0.2}, high: {difference: 0.5}}}",
        compare="compare: [high vs control, low vs control], ",
        looks="  multiplicity: holm\n  looks: [{information: 0.5}, {information: 1.0}]\n"
        "  efficacy: {spending: obrien_fleming}\n",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CONTINUOUS_CASES))
def test_t_test_kernel_matches_the_numpy_path(tmp_path, case):
    plan = _plan(tmp_path, CONTINUOUS.format(**CONTINUOUS_CASES[case]))
    assert looks_kernel.supports_t_test(plan)
    for seed in range(3):
        _compare(plan, draw_patients(plan, 60, np.random.default_rng(seed)))


def test_t_test_kernel_degenerate_trials(tmp_path):
    plan = _plan(tmp_path, CONTINUOUS.format(**CONTINUOUS_CASES["two arms"]))
    p = draw_patients(plan, 4, np.random.default_rng(0))
    y = p.outcome.copy()
    y[0] = 1.5  # constant outcomes: zero variance
    arm = p.arm.copy()
    arm[1] = 0  # an empty arm
    _compare(plan, dataclasses.replace(p, outcome=y, arm=arm))


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(0).standard_exponential(500),
        np.round(np.random.default_rng(1).standard_exponential(500), 1),  # ties
        np.concatenate([np.full(300, 1.0), [1e300, 2.0, 0.0]]),  # crowded: one huge outlier
        np.random.default_rng(2).standard_exponential(20) ** 8,  # small and skewed
        np.zeros(100),
    ],
)
def test_sort_by(values):
    n = len(values)
    scratch = looks_kernel._scratch(n)
    order = np.random.default_rng(3).permutation(n).astype(np.int64)
    order = np.concatenate([order, [0]])
    looks_kernel._sort_by(order, n, values, scratch)
    np.testing.assert_array_equal(values[order[:n]], np.sort(values))
    assert sorted(order[:n].tolist()) == list(range(n))
    for r in (0, n // 3, n - 1):
        order = np.random.default_rng(r).permutation(n + 1).astype(np.int64)[: n + 1]
        order[:n] = np.random.default_rng(r).permutation(n)
        buckets = looks_kernel._partial_sort(order, n, values, scratch)
        assert looks_kernel._order_statistic(order, n, values, scratch, buckets, r) == np.sort(values)[r]


@pytest.mark.parametrize("numeric", [4, 10])  # 16-byte coded rows or one 64-byte row per patient; two 64-byte rows
@pytest.mark.parametrize("coded", [True, False])
@pytest.mark.parametrize("joint", [True, False])
def test_tallies_match_shares_and_standardized_differences(monkeypatch, joint, coded, numeric):
    import trialsim.engine.tallies as tallies

    if not joint:
        monkeypatch.setattr(tallies, "_MAX_JOINT", 1)
    if not coded:  # too many distinct values for the coded rows
        monkeypatch.setattr(tallies, "_MAX_DISTINCT", 100)
    rng = np.random.default_rng(5)
    pool = 1_000
    levels = (2, 7, 3)
    codes = tuple(rng.integers(0, k, pool).astype(np.int32) for k in levels)
    missing = np.where(rng.random(pool) < 0.01, np.nan, 1.0)
    values = tuple(rng.normal(size=pool) for _ in range(numeric - 1)) + (missing,)
    values = (np.round(values[0], 1),) + values[1:]  # repeated values, as ages or lab values to one decimal
    index = rng.integers(0, pool, (40, 90))
    enrolled = rng.random((40, 90)) < 0.8
    enrolled[0] = False  # nobody enrolled
    packed = tallies.pack_pool(codes, levels, values)
    assert packed.rows.shape[0] == (pool if joint and coded and numeric <= tallies._CODED_COLUMNS else 0)
    counts, sums = enrolled_tallies(codes, levels, values, index, enrolled)
    for column, k, count in zip(codes, levels, counts, strict=True):
        total = count.sum(axis=1, keepdims=True)
        shares = np.divide(count, total, out=np.zeros_like(count), where=total > 0)
        np.testing.assert_array_equal(shares, enrolled_shares(column[index], enrolled, k))
    n = enrolled.sum(axis=1)
    for c, column in enumerate(values):
        mean = np.divide(sums[:, c], n, out=np.full(len(n), np.nan), where=n > 0)
        expected = standardized_difference(column[index], enrolled, 0.0, 1.0)
        np.testing.assert_allclose(mean, expected, rtol=1e-12, atol=1e-14, equal_nan=True)
    # The first k patients of each trial, given as counts k: the same as their mask, to the bit.
    leading = rng.integers(0, 91, 40)
    prefix = np.arange(90)[None, :] < leading[:, None]
    by_count = enrolled_tallies(codes, levels, values, index, leading)
    by_mask = enrolled_tallies(codes, levels, values, index, prefix)
    for a, b in zip(by_count[0], by_mask[0], strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(by_count[1], by_mask[1])


@pytest.mark.parametrize("stratified", [False, True])
@pytest.mark.parametrize("ties", [False, True])
def test_compiled_logrank_matches_logrank(stratified, ties):
    from trialsim.engine.logrank import logrank

    rng = np.random.default_rng(11)
    trials, n = 30, 150
    time = rng.standard_exponential((trials, n)) * 10
    if ties:
        time = np.round(time)
    event = rng.random((trials, n)) < 0.7
    group = rng.integers(0, 2, (trials, n))
    valid = rng.random((trials, n)) < 0.8
    valid[0] = False  # nobody: degenerate
    valid[1, :] = group[1] == 1  # one arm only: degenerate
    event[2] = False  # no events: degenerate
    strata = rng.integers(3, 7, (trials, n)) if stratified else None
    fast = looks_kernel.logrank_compiled(time, event, group, valid, strata=strata)
    reference = logrank(time, event, group, valid, strata=strata)
    np.testing.assert_array_equal(fast.degenerate, reference.degenerate)
    np.testing.assert_array_equal(fast.n, reference.n)
    np.testing.assert_array_equal(fast.events, reference.events)
    for name in ("estimate", "se", "z"):
        np.testing.assert_allclose(getattr(fast, name), getattr(reference, name), rtol=1e-10, atol=1e-12)
    assert fast.degenerate[:3].all()


@pytest.mark.parametrize("case", ["three arms, two comparisons, Holm", "stratified log-rank"])
def test_subgroup_tests_in_one_pass_match_one_test_per_level(tmp_path, case):
    # Each level against the reference (analyse per level and comparison, numpy log-rank), on ties too.
    text = SURVIVAL.format(**SURVIVAL_CASES[case]).replace("  looks:", "  subgroups: [sex, race_ethnicity]\n  looks:")
    plan = _plan(tmp_path, text)
    assert len(plan.subgroups) > 2
    p = draw_patients(plan, 40, np.random.default_rng(5))
    tied = dataclasses.replace(p, outcome=np.round(p.outcome * 2) / 2)
    for patients in (p, tied):
        cut = analyse_looks(plan, patients).cuts[:, -1]
        fast = block._frame(block._subgroups(plan, patients, cut, np.arange(40)))
        reference = block._frame(block._subgroups(plan, patients, cut, np.arange(40), fast=False))
        assert fast.height == len(plan.subgroups) * len(plan.comparisons) * 40
        floats = ["estimate", "z"]
        assert fast.drop(floats).equals(reference.drop(floats))
        for name in floats:
            np.testing.assert_allclose(fast[name].to_numpy(), reference[name].to_numpy(), rtol=1e-10, atol=1e-12)
