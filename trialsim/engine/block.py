"""One block of simulated trials: patients, outcomes, data cuts, analyses and decisions.

Every array is (trials × patients), so a block of B trials costs a handful of
numpy operations per step, never a Python loop over patients or trials (loops
run over looks, comparisons and subgroups, a few each).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import polars as pl
from scipy.stats import norm

from trialsim.engine import draws, pcg64
from trialsim.engine import looks as looks_kernel
from trialsim.engine.accrual import dropout_times, entry_times
from trialsim.engine.competing import event_or_dropout
from trialsim.engine.cox import cox
from trialsim.engine.diversity import Tallies, figures, tally
from trialsim.engine.logrank import logrank
from trialsim.engine.looks import LookAnalyses
from trialsim.engine.means import ancova, t_test
from trialsim.engine.memo import IdentityMemo
from trialsim.engine.multiplicity import reject as reject_at_level
from trialsim.engine.multiplicity import sequential_reject
from trialsim.engine.outcomes import binary_outcomes, continuous_outcomes
from trialsim.engine.plan import Plan
from trialsim.engine.proportions import logistic, two_proportion_z
from trialsim.engine.randomization import randomize
from trialsim.engine.results import TestResult
from trialsim.engine.survival import event_times

PILOT_TRIALS = 200
PILOT_KEY = (1, 0)  # the pilot's generator, apart from every block's (scenario, block) key


@dataclass(frozen=True)
class Patients:
    """The patients of a block of trials, in enrolment order: arrays (trials, n)."""

    index: np.ndarray  # rows of the eligible pool
    entry: np.ndarray  # months from the first patient in, sorted
    arm: np.ndarray
    # Months from entry to dropout, and the event time from entry (time-to-event) or the outcome
    # value. +inf: no dropout, or (event and dropout drawn as competing risks) the later of the two.
    dropout: np.ndarray
    outcome: np.ndarray
    site: np.ndarray | None = None  # recruitment site of each patient, when the design has sites

    @property
    def trials(self) -> int:
        return self.entry.shape[0]

    def rows(self, lo: int, hi: int) -> Patients:
        """Trials ``lo:hi`` (views)."""
        arrays = (getattr(self, field.name) for field in dataclasses.fields(self))  # astuple would copy them
        return Patients(*(None if a is None else a[lo:hi] for a in arrays))


def draw_patients(
    plan: Plan, trials: int, rng: np.random.Generator, *, fast: bool = True, out: Patients | None = None
) -> Patients:
    """Enrol, randomise and follow ``trials`` trials' patients (the order of draws is part of the seed contract).

    ``fast``: the common cases through the compiled kernels of :mod:`trialsim.engine.draws`, which
    give the same numbers as the numpy functions (``fast=False``, the reference). ``out``: arrays of
    ``trials`` rows to hold the patients (rows of a larger block, see :func:`blocks_columns`); the
    kernels draw straight into them, anything else is copied in.
    """
    p = _draw(plan, trials, rng, fast, out)
    if out is None:
        return p
    for name in ("index", "entry", "arm", "dropout", "outcome", "site"):
        drawn, into = getattr(p, name), getattr(out, name)
        if drawn is not into:
            np.copyto(into, drawn)
    return out


def _draw(plan: Plan, trials: int, rng: np.random.Generator, fast: bool, out: Patients | None) -> Patients:
    """The body of :func:`draw_patients`: ``out``'s arrays are filled by the kernels that can, else new ones made."""
    n = plan.sample_size
    site = None
    into = out if out is not None else Patients(*(None,) * 5)
    fast = fast and pcg64.supports(rng)  # the compiled draws step numpy's default generator
    if plan.sites:
        entry = entry_times(plan.accrual, n, trials, rng)
        site, index = _recruit(plan, entry, rng)
    else:
        shape = (trials, n)
        if fast:
            index = pcg64.integers(rng, plan.pool_size, shape, out=into.index)
        else:
            index = rng.integers(0, plan.pool_size, shape)
        if fast and plan.accrual.is_uniform:
            entry = draws.uniform_entry(plan.accrual.duration, n, trials, rng, out=into.entry)
        else:
            entry = entry_times(plan.accrual, n, trials, rng)
    strata = plan.strata[index] if plan.strata is not None else None
    arm = randomize(plan.ratio, n, trials, rng, method=plan.randomization, block_size=plan.block_size, strata=strata)
    hazard = plan.dropout_hazard
    if _competing(plan):
        return _event_or_dropout(plan, index, entry, arm, site, rng, fast, into)
    if fast and not hazard.any():
        dropout = np.full(arm.shape, np.inf)  # nobody drops out: what dropout_times returns, unchecked
    elif fast and hazard[0] > 0.0 and (hazard == hazard[0]).all():
        dropout = draws.exponential_by_arm(np.ones(hazard.size), hazard[0], arm, rng, out=into.dropout)
    else:
        dropout = dropout_times(hazard, arm, rng)
    if fast and draws.plain(plan.prognostic, plan.effect_scale):
        # Every patient's linear predictor is their arm's: 0 + b * 1 = b, as the numpy path computes it.
        effect = np.add(0.0, plan.arm_effect * 1.0)
        if plan.endpoint == "time_to_event" and plan.delay == 0.0 and plan.baseline.kind == "exponential":
            outcome = draws.exponential_by_arm(np.exp(-effect), plan.baseline.rate, arm, rng, out=into.outcome)
            return Patients(index, entry, arm, dropout, outcome, site)
        if plan.endpoint == "continuous":
            outcome = draws.normal_by_arm(plan.mean, effect, plan.sd, arm, rng, out=into.outcome)
            return Patients(index, entry, arm, dropout, outcome, site)
    prognostic = plan.prognostic[index]
    effect = plan.arm_effect[arm] * plan.effect_scale[index]
    if plan.endpoint == "time_to_event":
        outcome = event_times(plan.baseline, prognostic, effect, rng, delay=plan.delay)
    elif plan.endpoint == "continuous":
        outcome = continuous_outcomes(plan.mean, plan.sd, prognostic + effect, rng)
    else:
        outcome = binary_outcomes(plan.rate, prognostic + effect, rng).astype(float)
    return Patients(index, entry, arm, dropout, outcome, site)


def _competing(plan: Plan) -> bool:
    """Whether the event and dropout are drawn as competing risks: both hazards constant, some dropout."""
    return (plan.endpoint == "time_to_event" and plan.baseline.kind == "exponential" and plan.delay == 0.0
            and bool(plan.dropout_hazard.any()))  # fmt: skip


def _event_or_dropout(
    plan: Plan,
    index: np.ndarray,
    entry: np.ndarray,
    arm: np.ndarray,
    site: np.ndarray | None,
    rng: np.random.Generator,
    fast: bool,
    into: Patients,
) -> Patients:
    """The patients of :func:`_draw` with the first of their event and dropout (:mod:`trialsim.engine.competing`)."""
    if fast and draws.plain(plan.prognostic, plan.effect_scale):
        # 0 + b * 1 = b: each arm's rate is the one the numpy path computes for its patients.
        rate = _event_rate(plan, 0.0, plan.arm_effect, 1.0)
        out = None if into.outcome is None else (into.outcome, into.dropout)
        outcome, dropout = draws.event_or_dropout_by_arm(rate, plan.dropout_hazard, arm, rng, out=out)
        return Patients(index, entry, arm, dropout, outcome, site)
    rate = _event_rate(plan, plan.prognostic[index], plan.arm_effect[arm], plan.effect_scale[index])
    outcome, dropout = event_or_dropout(rate, plan.dropout_hazard[arm], rng)
    return Patients(index, entry, arm, dropout, outcome, site)


def _event_rate(plan: Plan, prognostic, arm_effect, effect_scale) -> np.ndarray:
    """Exponential event hazard ``rate e^(x + b s)``: prognostic log hazard x, arm's log hazard ratio b, scale s."""
    return plan.baseline.rate * np.exp(np.add(prognostic, arm_effect * effect_scale))


def _recruit(plan: Plan, entry: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Which open site recruits each patient (in proportion to the sites' rates) and whom it recruits."""
    starts = np.array([s.start for s in plan.sites])
    rates = np.array([s.rate for s in plan.sites])
    cumulative = np.cumsum(np.where(entry[..., None] >= starts, rates, 0.0), axis=-1)
    u = rng.random(entry.shape) * cumulative[..., -1]
    site = (u[..., None] >= cumulative).sum(axis=-1)
    index = np.empty(entry.shape, dtype=np.int64)
    for s, plan_site in enumerate(plan.sites):
        here = site == s
        index[here] = np.searchsorted(plan_site.cdf, rng.random(int(here.sum())), side="right")
    return site, np.minimum(index, plan.pool_size - 1)


def event_calendar_times(plan: Plan, p: Patients) -> np.ndarray:
    """Calendar time of each patient's event, +inf when dropout comes first (time-to-event only)."""
    return np.where(p.outcome <= p.dropout, p.entry + p.outcome, np.inf)


def look_times(plan: Plan, p: Patients) -> tuple[np.ndarray, np.ndarray]:
    """Calendar time of each look (trials, K), and whether its target was reached.

    An events look that a trial never reaches (too few events in total) is taken at that trial's last
    event and flagged unreached.
    """
    cuts = np.empty((p.trials, plan.n_looks))
    reached = np.ones((p.trials, plan.n_looks), dtype=bool)
    kinds = [k for k, _ in plan.looks]
    if "events" in kinds:
        calendar = event_calendar_times(plan, p)
        targets = sorted({int(v) - 1 for k, v in plan.looks if k == "events"})
        ordered = np.partition(calendar, targets, axis=1)
        last = np.max(np.where(np.isfinite(calendar), calendar, -np.inf), axis=1)
    for k, (kind, value) in enumerate(plan.looks):
        if kind == "time":
            cuts[:, k] = value
        elif kind == "events":
            at = ordered[:, int(value) - 1]
            reached[:, k] = np.isfinite(at)
            cuts[:, k] = np.where(reached[:, k], at, np.maximum(last, p.entry[:, -1]))
        elif plan.endpoint == "time_to_event":
            # A subjects look on a time-to-event endpoint: when that many have enrolled (plus
            # follow-up for the final analysis of a design with no looks).
            extra = plan.follow_up if k == plan.n_looks - 1 and int(value) == plan.sample_size else 0.0
            cuts[:, k] = p.entry[:, int(value) - 1] + extra
        else:
            # When that many patients have reached the endpoint's timepoint.
            cuts[:, k] = p.entry[:, int(value) - 1] + plan.timepoint
    return np.maximum.accumulate(cuts, axis=1), reached


@dataclass(frozen=True)
class Cut:
    """The data as seen at a calendar time per trial."""

    valid: np.ndarray  # (trials, n): the patient's data is in the analysis
    time: np.ndarray | None  # observed time (time-to-event)
    event: np.ndarray | None
    enrolled: np.ndarray  # (trials,)
    events: np.ndarray | None  # (trials,) all arms


def data_cut(plan: Plan, p: Patients, cut: np.ndarray) -> Cut:
    """Administrative censoring at ``cut`` (trials,): who is in, what has been observed."""
    cut = cut[:, None]
    enrolled = p.entry <= cut
    if plan.endpoint == "time_to_event":
        follow = np.maximum(cut - p.entry, 0.0)
        time = np.minimum(np.minimum(p.outcome, p.dropout), follow)
        # Compared on the calendar, as the events look was timed, so the look's own event counts.
        event = (p.outcome <= p.dropout) & (p.entry + p.outcome <= cut)
        return Cut(enrolled, time, event, enrolled.sum(axis=1), event.sum(axis=1))
    valid = (p.entry + plan.timepoint <= cut) & (p.dropout > plan.timepoint)
    return Cut(valid, None, None, enrolled.sum(axis=1), None)


def analyse(
    plan: Plan,
    p: Patients,
    data: Cut,
    treatment: int,
    control: int,
    extra: np.ndarray | None = None,
    *,
    fast: bool = True,
) -> TestResult:
    """The design's test of ``treatment`` against ``control`` on the data cut (optionally within a subgroup).

    ``fast``: the log-rank test by the compiled kernel (:func:`trialsim.engine.looks.logrank_compiled`)
    rather than :func:`trialsim.engine.logrank.logrank`, the reference it is tested against.
    """
    valid = data.valid & ((p.arm == treatment) | (p.arm == control))
    if extra is not None:
        valid &= extra
    group = p.arm == treatment
    test = plan.test
    if test in ("logrank", "stratified_logrank"):
        strata = plan.analysis_strata[p.index] if plan.analysis_strata is not None else None
        test_logrank = looks_kernel.logrank_compiled if fast else logrank
        return test_logrank(data.time, data.event, group, valid, strata=strata)
    if test == "cox":
        return cox(data.time, data.event, group, valid)
    if test == "t_test":
        return t_test(p.outcome, group, valid)
    if test == "ancova":
        return ancova(p.outcome, group, plan.adjust[p.index], valid)
    if test == "two_proportion_z":
        return two_proportion_z(p.outcome, group, valid)
    covariates = plan.adjust[p.index] if plan.adjust is not None else None
    return logistic(p.outcome, group, covariates, valid)


def _first(cross: np.ndarray) -> np.ndarray:
    """Index of the first True along axis 1, K where none."""
    k = cross.shape[1]
    return np.where(cross.any(axis=1), cross.argmax(axis=1), k)


def decide(plan: Plan, z: np.ndarray, degenerate: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group-sequential decisions from benefit-oriented z (trials, K, m).

    Returns the look each comparison is rejected at, the look it stops for futility at (K when
    never), and the look each trial stops at. Degenerate analyses neither reject nor stop.
    """
    trials, looks, m = z.shape
    z = np.where(degenerate, -np.inf, z)
    if plan.futility is not None:
        futile = (z <= plan.futility[None, :, None]) & ~degenerate
        futile &= z < plan.efficacy[max(plan.efficacy)][None, :, None]  # at the last look the bounds meet
        futility_look = _first(futile)
        z = np.where(np.arange(looks)[None, :, None] >= futility_look[:, None, :], -np.inf, z)
    else:
        futility_look = np.full((trials, m), looks)
    if plan.multiplicity == "hochberg":
        rejected = reject_at_level(norm.sf(z[:, -1, :]), plan.alpha, "hochberg")
        reject_look = np.where(rejected, looks - 1, looks)
    elif plan.multiplicity == "none" or m == 1:
        reject_look = _first(z >= plan.efficacy[1.0][None, :, None])
    else:
        reject_look = sequential_reject(z, plan.efficacy, plan.multiplicity).look
        reject_look = np.where(reject_look < 0, looks, reject_look)
    reject_look = np.minimum(reject_look, looks)
    # A comparison rejected is settled: its z crossing the futility bound at a later look (while
    # the trial goes on for another comparison, or in an analysis of the looks after the stop) is
    # not a stop for futility. (No rejection comes at or after a futility look: z is masked from there.)
    futility_look = np.where(futility_look < reject_look, futility_look, looks)
    resolved = np.minimum(reject_look, futility_look)
    stop = np.where((resolved < looks).all(axis=1), resolved.max(axis=1), looks - 1)
    return reject_look, futility_look, stop


@dataclass(frozen=True)
class BlockResult:
    """The tables of a block of trials.

    ``looks``: one row per trial, performed look and comparison. ``subgroups``: one row per trial,
    comparison and subgroup level, at the trial's last look. ``diversity``: one row per trial, who
    was enrolled by its last look (see :mod:`trialsim.engine.diversity`).
    """

    looks: pl.DataFrame
    subgroups: pl.DataFrame
    diversity: pl.DataFrame

    TABLES = ("looks", "subgroups", "diversity")


def analyse_looks(plan: Plan, p: Patients, *, fast: bool = True, stop: bool = False) -> LookAnalyses:
    """Every look's data cut and every comparison's test there, for a block of trials.

    Time-to-event designs analysed by log-rank go through the fused kernel of
    :mod:`trialsim.engine.looks` (one sort per trial for all looks); ``fast=False``, and every
    other design, cut the data at :func:`look_times` with :func:`data_cut` and run
    :func:`analyse` per look and comparison: the reference the kernel is tested against.
    ``stop``: the kernel may leave the looks after a trial's stopping look unanalysed
    (see :func:`trialsim.engine.looks.survival_looks`); :func:`decide` reads the same stops.
    """
    if fast and looks_kernel.supports(plan):
        return looks_kernel.survival_looks(plan, p, stop=stop)
    trials = p.trials
    cuts, reached = look_times(plan, p)
    if fast and looks_kernel.supports_t_test(plan):
        return looks_kernel.t_test_looks(plan, p, cuts, reached)
    looks, m = plan.n_looks, len(plan.comparisons)
    shape = (trials, looks, m)
    estimate, se, z, analysed = np.empty(shape), np.empty(shape), np.empty(shape), np.empty(shape, dtype=np.int64)
    degenerate = np.empty(shape, dtype=bool)
    enrolled = np.empty((trials, looks), dtype=np.int64)
    events = np.zeros((trials, looks), dtype=np.int64)
    for k in range(looks):
        data = data_cut(plan, p, cuts[:, k])
        enrolled[:, k] = data.enrolled
        if data.events is not None:
            events[:, k] = data.events
        for j, comparison in enumerate(plan.comparisons):
            result = analyse(plan, p, data, comparison.treatment, comparison.control, fast=fast)
            estimate[:, k, j], se[:, k, j], z[:, k, j] = result.estimate, result.se, result.z
            analysed[:, k, j], degenerate[:, k, j] = result.n, result.degenerate
    has_events = plan.endpoint == "time_to_event"
    return LookAnalyses(
        cuts, reached, enrolled, events if has_events else None, estimate, se, z, analysed, degenerate
    )  # fmt: skip


class Coded(NamedTuple):
    """A string column as codes into its values: it becomes a polars column once per batch of blocks."""

    values: tuple[str, ...]
    codes: np.ndarray


# A column of a block's table: numbers, coded strings, or None for an all-null Int64 column.
Column = np.ndarray | Coded | None


@dataclass(frozen=True)
class BlockColumns:
    """A block's tables before they are polars frames: see :func:`block_columns` and :func:`stack`.

    Building a frame costs a few microseconds per column whatever its length, as much as a block's
    trials cost to simulate in some designs; so blocks are simulated as columns and a few blocks'
    columns become frames together. ``tallies`` are who each trial enrolled, from which the diversity
    figures are computed batch by batch too.
    """

    looks: dict[str, Column]
    subgroups: dict[str, Column]
    diversity: dict[str, Column]
    tallies: Tallies


def simulate_block(plan: Plan, first_trial: int, trials: int, rng: np.random.Generator) -> BlockResult:
    """Simulate ``trials`` trials numbered from ``first_trial``."""
    return stack(plan, [block_columns(plan, first_trial, trials, rng)])


def block_columns(plan: Plan, first_trial: int, trials: int, rng: np.random.Generator) -> BlockColumns:
    """Simulate ``trials`` trials numbered from ``first_trial``: the columns of their tables (see :func:`stack`)."""
    return blocks_columns(plan, [(first_trial, rng)], trials)[0]


def blocks_columns(
    plan: Plan, blocks: Sequence[tuple[int, np.random.Generator]], trials: int
) -> list[BlockColumns]:
    """:func:`block_columns` of several blocks of ``trials`` trials, each given as (first trial, generator).

    Each block's patients are drawn from its own generator into its rows of arrays the blocks share;
    the analyses, decisions, tallies and table columns then run once over all their trials. Each of
    those steps costs some hundred microseconds a call whatever its size, which for a block of 250
    trials is microseconds a trial. Every figure is computed trial by trial (the subgroup tests block
    by block, in their row order), so each block gets the columns it has when simulated alone.
    """
    count = len(blocks)
    total = count * trials
    if count == 1:
        p = draw_patients(plan, trials, blocks[0][1])
    else:
        p = _shared_patients(total, plan.sample_size, bool(plan.sites))
        for i, (_, rng) in enumerate(blocks):
            draw_patients(plan, trials, rng, out=p.rows(i * trials, (i + 1) * trials))
    a = analyse_looks(plan, p, stop=True)  # the table keeps only the looks performed
    cuts, reached, enrolled, estimate, se, z, analysed, degenerate = (
        a.cuts, a.reached, a.enrolled, a.estimate, a.se, a.z, a.analysed, a.degenerate
    )  # fmt: skip
    looks, m = plan.n_looks, len(plan.comparisons)
    shape = (total, looks, m)
    benefit = plan.benefit_sign * z
    reject_look, futility_look, stop = decide(plan, benefit, degenerate)

    trial_ids = np.concatenate([first + np.arange(trials) for first, _ in blocks])
    k_index = np.arange(looks)
    performed = k_index[None, :] <= stop[:, None]
    b, k, j = np.nonzero(np.broadcast_to(performed[:, :, None], shape))
    table = {
        "scenario": Coded((plan.scenario,), np.zeros(len(b), dtype=np.int64)),
        "trial": trial_ids[b],
        "look": (k + 1).astype(np.int16),
        "comparison": Coded(tuple(c.name for c in plan.comparisons), j),
        "time": cuts[b, k],
        "reached": reached[b, k],
        "enrolled": enrolled[b, k],
        "analysed": analysed[b, k, j],
        "events": a.events[b, k] if a.events is not None else None,
        "estimate": estimate[b, k, j],
        "se": se[b, k, j],
        "z": z[b, k, j],
        "degenerate": degenerate[b, k, j],
        "reject": reject_look[b, j] == k,
        "futility": futility_look[b, j] == k,
        "stopped": stop[b] == k,
    }
    every = np.arange(total)
    last_cut = cuts[every, stop]
    diversity: dict[str, Column] = {
        "scenario": Coded((plan.scenario,), np.zeros(total, dtype=np.int64)),
        "trial": trial_ids,
    }
    # Who is in the trial by its last look: the patients enrolled by then, a prefix in enrolment order.
    in_trial = enrolled[every, stop]
    if p.site is not None:
        in_site = np.arange(p.entry.shape[1])[None, :] < in_trial[:, None]
        n = np.maximum(in_trial, 1)
        for s, plan_site in enumerate(plan.sites):
            diversity[f"site:{plan_site.name}"] = np.count_nonzero((p.site == s) & in_site, axis=1) / n
    tallies = tally(plan.demographics, plan.covariates, p.index, in_trial, plan.tally_pool)
    # Each block's rows: the looks table has (stop + 1) * m rows a trial, the others one.
    ends = np.concatenate(([0], np.cumsum((stop + 1) * m)))
    parts = []
    for i in range(count):
        lo, hi = i * trials, (i + 1) * trials
        parts.append(BlockColumns(
            {name: _rows(column, int(ends[lo]), int(ends[hi])) for name, column in table.items()},
            _subgroups(plan, p.rows(lo, hi), last_cut[lo:hi], trial_ids[lo:hi]),
            {name: _rows(column, lo, hi) for name, column in diversity.items()},
            tallies.rows(lo, hi),
        ))  # fmt: skip
    return parts


# The arrays of blocks_columns' patients, kept per thread: made anew for each call, their megabytes
# went back to the system and came back as page faults (7 us a W1 trial of system time).
_SHARED = threading.local()


def _shared_patients(trials: int, n: int, sites: bool) -> Patients:
    """Arrays for ``trials`` trials' patients, reused from this thread's last call of the same shape."""
    key = (trials, n, sites)
    if getattr(_SHARED, "key", None) != key:
        shape = (trials, n)
        _SHARED.patients = Patients(
            np.empty(shape, dtype=np.int64), np.empty(shape), np.empty(shape, dtype=np.int8), np.empty(shape),
            np.empty(shape), np.empty(shape, dtype=np.int64) if sites else None,
        )  # fmt: skip
        _SHARED.key = key
    return _SHARED.patients


def _rows(column: Column, lo: int, hi: int) -> Column:
    """Rows ``lo:hi`` of a table column."""
    if column is None:
        return None
    if isinstance(column, Coded):
        return Coded(column.values, column.codes[lo:hi])
    return column[lo:hi]


def stack(plan: Plan, parts: list[BlockColumns]) -> BlockResult:
    """The tables of one or more blocks of a plan, rows in the order of ``parts``.

    Every figure is computed trial by trial, so the tables are those of each block made frames on
    its own, concatenated: how many blocks are stacked changes no value.
    """
    diversity = {
        "scenario": _stacked([p.diversity["scenario"] for p in parts]),
        "trial": _stacked([p.diversity["trial"] for p in parts]),
    }
    tallies = Tallies.concat([p.tallies for p in parts])
    diversity["enrolled"] = tallies.enrolled
    diversity.update(figures(plan.demographics, plan.covariates, plan.goals, tallies))
    for name in parts[0].diversity:  # the sites' shares, after the figures
        if name not in diversity:
            diversity[name] = _stacked([p.diversity[name] for p in parts])
    return BlockResult(
        _frame({name: _stacked([p.looks[name] for p in parts]) for name in parts[0].looks}),
        _frame({name: _stacked([p.subgroups[name] for p in parts]) for name in parts[0].subgroups}),
        _frame(diversity),
    )


def _stacked(columns: list[Column]) -> Column:
    """One column of several blocks' tables, in order."""
    first = columns[0]
    if len(columns) == 1 or first is None:
        return first
    if isinstance(first, Coded):
        return Coded(first.values, np.concatenate([c.codes for c in columns]))
    return np.concatenate(columns)


def _frame(columns: dict[str, Column]) -> pl.DataFrame:
    """A polars frame of the columns: coded strings as strings, None as a null Int64 column."""
    rows = next((len(c.codes if isinstance(c, Coded) else c) for c in columns.values() if c is not None), 0)
    out = {}
    for name, column in columns.items():
        if column is None:
            out[name] = pl.Series([None], dtype=pl.Int64).new_from_index(0, rows)
        elif isinstance(column, Coded):
            values = pl.Series(column.values, dtype=pl.String)
            out[name] = values.new_from_index(0, rows) if len(column.values) == 1 else values.gather(column.codes)
        else:
            out[name] = column
    return pl.DataFrame(out)


def _subgroups(
    plan: Plan, p: Patients, cut: np.ndarray, trial_ids: np.ndarray, *, fast: bool = True
) -> dict[str, Column]:
    """Each subgroup's test at the trial's last look, at the nominal one-sided level (not adjusted).

    Rows by subgroup level, then comparison, then trial. ``fast``: log-rank tests of every level
    and comparison in one compiled pass (:func:`trialsim.engine.looks.logrank_sets`); else one
    :func:`analyse` per level and comparison, the reference.
    """
    if not plan.subgroups:
        return {}
    data = data_cut(plan, p, cut)
    levels, m, trials = len(plan.subgroups), len(plan.comparisons), len(trial_ids)
    if fast and looks_kernel.supports(plan) and levels <= _MAX_LEVELS:
        strata = plan.analysis_strata[p.index] if plan.analysis_strata is not None else None
        r = looks_kernel.logrank_sets(
            data.time, data.event, p.arm, data.valid, [(c.treatment, c.control) for c in plan.comparisons],
            bits=_level_bits(plan.subgroups)[p.index], levels=levels, strata=strata,
            n_strata=int(plan.analysis_strata.max()) + 1 if strata is not None else 1,
        )  # fmt: skip
        # (trials, L, m) -> rows by level, comparison, trial
        n, estimate, z, degenerate = (
            np.moveaxis(v.reshape(trials, levels, m), 0, -1).ravel() for v in (r.n, r.estimate, r.z, r.degenerate)
        )
    else:
        results = [
            analyse(plan, p, data, c.treatment, c.control, extra=sub.mask[p.index], fast=fast)
            for sub in plan.subgroups
            for c in plan.comparisons
        ]
        n, estimate, z, degenerate = (
            np.concatenate([getattr(r, f) for r in results]) for f in ("n", "estimate", "z", "degenerate")
        )
    rows = levels * m * trials
    level_of_row = np.repeat(np.arange(levels), m * trials)
    critical = norm.isf(plan.alpha)
    return {
        "scenario": Coded((plan.scenario,), np.zeros(rows, dtype=np.int64)),
        "trial": np.tile(trial_ids, levels * m),
        "comparison": Coded(tuple(c.name for c in plan.comparisons), np.tile(np.repeat(np.arange(m), trials), levels)),
        "subgroup": Coded(tuple(s.subgroup for s in plan.subgroups), level_of_row),
        "level": Coded(tuple(s.level for s in plan.subgroups), level_of_row),
        "analysed": n,
        "estimate": estimate,
        "z": z,
        "degenerate": degenerate,
        "reject": (plan.benefit_sign * z >= critical) & ~degenerate,
    }


# Subgroup levels are bits of one integer per pool patient.
_MAX_LEVELS = 64
_LEVEL_BITS: IdentityMemo[np.ndarray] = IdentityMemo(size=8)


def _level_bits(subgroups: tuple) -> np.ndarray:
    """(P,) uint64 over the pool: bit l set for the patients in subgroup level l; computed once per plan."""

    def compute() -> np.ndarray:
        bits = np.zeros(len(subgroups[0].mask), dtype=np.uint64)
        for level, sub in enumerate(subgroups):
            bits |= sub.mask.astype(np.uint64) << np.uint64(level)
        return bits

    return _LEVEL_BITS.get((subgroups,), compute)


def expected_events(plan: Plan) -> float | None:
    """Expected events of a trial whose every patient is followed until the event or dropout, if in closed form.

    Without dropout every patient has their event: the sample size. With constant event and dropout
    hazards (:mod:`trialsim.engine.competing`) a patient has theirs with probability ``r / (r + h)``,
    averaged over the eligible pool (drawn uniformly) and the arms (each patient's arm is the
    allocation ratio's share, whatever the randomisation). None otherwise (recruitment sites weight
    the pool, other hazards): then the pilot block estimates them.

    Examples
    --------
    600 patients, control median 8 months, hazard ratio 0.7, 5% dropout a year in both arms:

    >>> from pathlib import Path
    >>> import trialsim
    >>> from trialsim.cohort.population import load_population
    >>> from trialsim.design.load import load_design
    >>> from trialsim.engine.plan import compile_plan
    >>> design = load_design(Path(trialsim.__file__).parents[1] / "bench" / "designs" / "w1-survival-gsd.yaml")
    >>> plan = compile_plan(design, "expected", load_population("builtin", Path("."), seed=1))
    >>> round(expected_events(plan), 1)
    566.1
    """
    if plan.endpoint != "time_to_event":
        return None
    if not plan.dropout_hazard.any():
        return float(plan.sample_size)
    if not _competing(plan) or plan.sites:
        return None
    share = np.asarray(plan.ratio, dtype=float) / sum(plan.ratio)
    hazard = plan.dropout_hazard
    if draws.plain(plan.prognostic, plan.effect_scale):
        rate = _event_rate(plan, 0.0, plan.arm_effect, 1.0)
        first = rate / (rate + hazard)
    else:  # every pool patient (rows) in every arm (columns)
        rate = _event_rate(plan, plan.prognostic[:, None], plan.arm_effect, plan.effect_scale[:, None])
        first = (rate / (rate + hazard)).mean(axis=0)
    return plan.sample_size * float(share @ first)


def pilot_information(plan: Plan) -> tuple[np.ndarray, float]:
    """Mean information at each look over a fixed pilot block, and the mean attainable events.

    Information is the number of events (time-to-event) or of analysed patients. The pilot's
    generator is fixed, so a design's boundaries do not depend on the run's seed. Events looks need
    only the attainable events: when :func:`expected_events` has them in closed form, no pilot is run.
    """
    if any(kind == "events" for kind, _ in plan.looks) and (reachable := expected_events(plan)) is not None:
        return np.zeros(plan.n_looks), reachable
    rng = np.random.default_rng(np.random.SeedSequence(0, spawn_key=PILOT_KEY))
    p = draw_patients(plan, PILOT_TRIALS, rng)
    reachable = float("inf")
    if plan.endpoint == "time_to_event":
        reachable = float(np.isfinite(event_calendar_times(plan, p)).sum(axis=1).mean())
    if any(kind == "events" for kind, _ in plan.looks):
        return np.zeros(plan.n_looks), reachable
    cuts, _ = look_times(plan, p)
    info = np.empty(plan.n_looks)
    for k in range(plan.n_looks):
        data = data_cut(plan, p, cuts[:, k])
        info[k] = (data.events if data.events is not None else data.valid.sum(axis=1)).mean()
    return info, reachable
