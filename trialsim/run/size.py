"""Sample-size search: the smallest sample size (or number of events) whose power reaches a target.

Every candidate is simulated on the same trials: common random numbers. A block of trials is
drawn once, at the largest candidate, and a candidate of ``n`` patients is the first ``n``
patients of each trial: their covariates, arms (a prefix of permuted blocks is permuted blocks),
dropout and outcomes are those the trial would have had. With accrual over a fixed duration the
first ``n`` of ``N`` entry times are stretched by the ``(n+1)``-th, which makes them exactly the
entry times of ``n`` patients accrued over that duration (order statistics of uniforms); with a
rate the first ``n`` arrivals are already those of an ``n``-patient trial. An events search keeps
the patients and moves the looks: the final look at ``D`` events, interim looks at the same
fractions of ``D``.

So the estimated power is a smooth, all but monotone function of the candidate, the search can
bracket the target closely, and the Monte Carlo uncertainty of the answer is that of one power
estimate turned into patients (or events) by the curve's slope: SE(n) = SE(power) / (d power / d n),
with the slope from a probit fit of power against the square root of n (the shape of power for
every test here, to first order).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from scipy.stats import norm

from trialsim.cohort.population import load_population
from trialsim.design.load import Design, load_design
from trialsim.design.model import DesignSpec
from trialsim.engine.block import Patients, analyse_looks, decide, draw_patients, pilot_information
from trialsim.engine.plan import Plan, compile_plan
from trialsim.run.runner import share_arrays
from trialsim.run.seeds import TRIALS_PER_BLOCK, Block, block_rng, blocks

By = Literal["sample_size", "events"]
# Candidates per round of the bracketing search.
PER_ROUND = 8


class SizeError(ValueError):
    """The search cannot answer: the target is out of the range searched, or the design does not fit."""


@dataclass
class SizeResult:
    """The smallest sample size (or number of events) whose estimated power reaches the target.

    ``curve`` holds every candidate evaluated: value -> (power, its MC standard error), all on the
    same trials.
    """

    design: str
    scenario: str
    by: By
    target: float
    trials: int
    seed: int
    value: int
    se: float
    curve: dict[int, tuple[float, float]] = field(default_factory=dict)

    @property
    def power(self) -> float:
        return self.curve[self.value][0]

    def to_dict(self) -> dict:
        return {
            "design": self.design,
            "scenario": self.scenario,
            "by": self.by,
            "target_power": self.target,
            "trials": self.trials,
            "seed": self.seed,
            "value": self.value,
            "value_se": self.se,
            "power": self.power,
            "power_se": self.curve[self.value][1],
            "curve": [{"value": v, "power": p, "power_se": s} for v, (p, s) in sorted(self.curve.items())],
        }

    def table(self) -> str:
        what = "patients" if self.by == "sample_size" else "events"
        lo, hi = self.value - 1.96 * self.se, self.value + 1.96 * self.se
        lines = [
            f"{self.design}, scenario {self.scenario}: power {self.target:.0%} needs {self.value} {what} "
            f"(Monte Carlo SE {self.se:.1f}; about {lo:.0f} to {hi:.0f})",
            f"{what:>10}{'power':>18}",
        ]
        for value, (power, se) in sorted(self.curve.items()):
            mark = "  <- smallest reaching the target" if value == self.value else ""
            lines.append(f"{value:>10}{f'{power:.3f} ± {se:.3f}':>18}{mark}")
        lines.append(f"({self.trials} trials per candidate, the same trials for all; seed {self.seed})")
        return "\n".join(lines)


def first_patients(p: Patients, n: int, draw: Plan) -> Patients:
    """The first ``n`` patients of each trial, as a trial of ``n`` patients would have had them."""
    entry = p.entry[:, :n]
    if draw.accrual.duration is not None and n < p.entry.shape[1]:
        # Uniform accrual: given the (n+1)-th entry, the first n are uniform before it.
        entry = entry / p.entry[:, n : n + 1] * draw.accrual.duration
    cut = slice(0, n)
    site = None if p.site is None else p.site[:, cut]
    return Patients(p.index[:, cut], entry, p.arm[:, cut], p.dropout[:, cut], p.outcome[:, cut], site)


def rejected(plan: Plan, p: Patients) -> np.ndarray:
    """Whether each trial rejects at least one comparison at some look (what ``power`` counts)."""
    a = analyse_looks(plan, p, stop=True)
    reject_look, _, _ = decide(plan, plan.benefit_sign * a.z, a.degenerate)
    return (reject_look < plan.n_looks).any(axis=1)


def size_block(draw: Plan, candidates: tuple[Plan, ...], seed: int, block: Block, prefix: bool) -> np.ndarray:
    """One seed block: which trials reject, for each candidate (candidates, trials), on shared patients."""
    p = draw_patients(draw, TRIALS_PER_BLOCK, block_rng(seed, block))
    out = np.empty((len(candidates), block.trials), dtype=bool)
    for i, plan in enumerate(candidates):
        q = first_patients(p, plan.sample_size, draw) if prefix else p
        out[i] = rejected(plan, q)[: block.trials]
    return out


def find_size(
    design: Design | str | Path,
    target_power: float,
    *,
    scenario: str | None = None,
    by: By | None = None,
    trials: int | None = None,
    seed: int | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
    step: int | None = None,
    client=None,
) -> SizeResult:
    """The smallest sample size (``by="sample_size"``) or final-look events whose power reaches the target.

    Parameters
    ----------
    design : Design or path
    target_power : float
        Between 0 and 1, e.g. 0.9.
    scenario : str, optional
        The scenario whose power counts (default ``expected``, or the design's only scenario).
    by : {"sample_size", "events"}, optional
        Default: events for a time-to-event design whose looks are timed by events, else sample size.
    trials, seed : int, optional
        Trials per candidate (the same trials for all) and seed; default the design's.
    minimum, maximum, step : int, optional
        The range searched and its grain. Defaults: sample size from the smallest that leaves two
        patients per arm to 4 times the design's, in steps of the randomisation block (or of the
        allocation ratio's total); events from 2 per look to nearly all the patients' events, by 1.
    client : distributed.Client, optional
        Compute the blocks on this Dask cluster; the answer is the same.

    Examples
    --------
    >>> r = find_size("designs/binary-response.yaml", 0.8, trials=250, seed=1, maximum=480)
    >>> r.by, r.power >= 0.8
    ('sample_size', True)
    """
    if not isinstance(design, Design):
        design = load_design(design)
    if not 0 < target_power < 1:
        raise SizeError(f"--target-power must be between 0 and 1, got {target_power:g}")
    scenario = _scenario(design, scenario)
    spec = design.scenarios[scenario]
    trials = spec.simulation.trials if trials is None else trials
    seed = spec.simulation.seed if seed is None else seed
    if trials <= 0:
        raise SizeError(f"--trials must be a positive number, got {trials}")
    population = load_population(spec.population.cohort, design.path.resolve().parent, seed=seed)
    base = compile_plan(design, scenario, population)
    looks = [look.kind for look in spec.analysis.looks]
    by = by or ("events" if base.endpoint == "time_to_event" and looks and looks[0] == "events" else "sample_size")
    if by == "events" and (not looks or looks[0] != "events"):
        raise SizeError("--by events needs a time-to-event design whose looks are timed by events, e.g. {events: 240}")
    if by == "sample_size" and base.sites and base.accrual.duration is not None:
        raise SizeError("a sample-size search needs accrual by rate when the design has sites (not a fixed duration)")
    search = _Search(design, scenario, spec, population, base, by, seed, trials, client)
    lo, hi, grain = search.range(minimum, maximum, step)
    value, curve = search.run(target_power, lo, hi, grain)
    se = search.se(value, target_power)
    return SizeResult(design.name, scenario, by, target_power, trials, seed, value, se, curve)


def _scenario(design: Design, scenario: str | None) -> str:
    if scenario is not None:
        if scenario not in design.scenarios:
            raise SizeError(f"unknown scenario {scenario!r}; {design.path} has {', '.join(design.scenarios)}")
        return scenario
    if "expected" in design.scenarios:
        return "expected"
    if len(design.scenarios) == 1:
        return next(iter(design.scenarios))
    raise SizeError(f"which scenario's power? give --scenario (one of {', '.join(design.scenarios)})")


class _Search:
    def __init__(self, design, scenario, spec, population, base: Plan, by: By, seed, trials, client):
        self.design, self.scenario, self.spec, self.population = design, scenario, spec, population
        self.base, self.by, self.seed, self.trials, self.client = base, by, seed, trials, client
        self.blocks = blocks(scenario, trials)
        self.results: dict[int, np.ndarray] = {}  # candidate -> (trials,) rejected
        self.draw: Plan = base
        self.plans: dict[int, Plan] = {}

    # -- candidates ------------------------------------------------------------------------------

    def range(self, minimum: int | None, maximum: int | None, step: int | None) -> tuple[int, int, int]:
        spec = self.spec
        if self.by == "sample_size":
            ratio = spec.randomization.ratio or {a: 1 for a in spec.arms}
            total = sum(ratio.values())
            grain = step or spec.randomization.block_size or total
            smallest = math.ceil(2 * total / min(ratio.values()))
            lo = max(minimum or 0, smallest, grain)
            hi = maximum or 4 * spec.enrollment.sample_size
        else:
            grain = step or 1
            _, reachable = pilot_information(self.base)
            lo = max(minimum or 0, 2 * len(spec.analysis.looks))
            hi = maximum or int(0.98 * reachable)
            if hi > reachable:
                raise SizeError(
                    f"--max {hi} events cannot be reached: {spec.enrollment.sample_size} patients give about "
                    f"{reachable:.0f} events; raise enrollment.sample_size"
                )
        lo = _up(lo, grain)
        hi = _down(hi, grain)
        if lo >= hi:
            raise SizeError(f"nothing to search between {lo} and {hi} (step {grain})")
        if self.by == "sample_size":
            # Patients are drawn once, for the largest candidate; smaller ones take the first n.
            self.draw = self._plan(hi)
        return lo, hi, grain

    def _plan(self, value: int) -> Plan:
        """The scenario with the candidate's sample size (or final events), looks scaled alike."""
        if value in self.plans:
            return self.plans[value]
        data = self.spec.model_dump(mode="json")
        looks = data["analysis"]["looks"]
        if self.by == "sample_size":
            old = data["enrollment"]["sample_size"]
            data["enrollment"]["sample_size"] = value
            scaled = [lk for lk in looks if lk.get("subjects") is not None]
            last = max((lk["subjects"] for lk in scaled), default=old)
            for look in scaled:
                look["subjects"] = max(1, round(look["subjects"] * value / last))
        else:
            last = looks[-1]["events"]
            for look in looks:
                look["events"] = max(1, round(look["events"] * value / last))
        kinds = [lk for lk in looks for k in ("subjects", "events") if lk.get(k) is not None]
        counts = [lk.get("subjects") or lk.get("events") for lk in kinds]
        if any(b <= a for a, b in zip(counts, counts[1:], strict=False)):
            raise SizeError(f"at {value}, the scaled looks {counts} no longer increase; search from a larger --min")
        spec = DesignSpec.model_validate(data)
        design = dataclasses.replace(self.design, spec=spec, scenarios={self.scenario: spec}, grid={})
        plan = compile_plan(design, self.scenario, self.population)
        self.plans[value] = plan
        return plan

    # -- evaluation ------------------------------------------------------------------------------

    def evaluate(self, values: list[int]) -> None:
        values = [v for v in dict.fromkeys(values) if v not in self.results]
        if not values:
            return
        plans = tuple(self._plan(v) for v in values)
        prefix = self.by == "sample_size"
        if self.client is None:
            parts = [size_block(self.draw, plans, self.seed, b, prefix) for b in self.blocks]
        else:
            # Candidates share the population's arrays: shipped once with the plan patients are drawn from.
            both = share_arrays({"draw": self.draw, "plans": plans})
            [shared] = self.client.scatter([(both["draw"], both["plans"])], broadcast=True, hash=False)
            futures = [self.client.submit(_size_task, shared, self.seed, b, prefix, pure=False) for b in self.blocks]
            parts = self.client.gather(futures)
            self.client.cancel(shared)
        rejections = np.concatenate(parts, axis=1)
        for v, row in zip(values, rejections, strict=True):
            self.results[v] = row

    def power(self, value: int) -> float:
        return float(self.results[value].mean())

    def run(self, target: float, lo: int, hi: int, grain: int) -> tuple[int, dict[int, tuple[float, float]]]:
        self.evaluate(_spread(lo, hi, grain, PER_ROUND, geometric=True))
        if self.power(hi) < target:
            what = "patients" if self.by == "sample_size" else "events"
            raise SizeError(
                f"the power at {hi} {what} is {self.power(hi):.3f}, below the target {target:g}; "
                + ("raise --max" if self.by == "sample_size" else "raise enrollment.sample_size (or --max)")
            )
        while True:
            answer = self._answer(target)
            below = [v for v in self.results if v < answer]
            floor = max(below) if below else None
            if floor is None or answer - floor <= grain:
                break
            self.evaluate(_spread(floor, answer, grain, PER_ROUND, geometric=False))
        n = self.trials
        curve = {v: (self.power(v), math.sqrt(self.power(v) * (1 - self.power(v)) / n)) for v in sorted(self.results)}
        return answer, curve

    def _answer(self, target: float) -> int:
        """The smallest evaluated candidate from which every larger one reaches the target."""
        answer = None
        for v in sorted(self.results, reverse=True):
            if self.power(v) < target:
                break
            answer = v
        assert answer is not None
        return answer

    def se(self, value: int, target: float) -> float:
        """MC standard error of the answer: SE of power at the target over the slope of a probit fit."""
        values = np.array(sorted(self.results), dtype=float)
        powers = np.array([self.power(int(v)) for v in values])
        keep = (powers > 0.02) & (powers < 0.995)
        if keep.sum() < 2:
            return math.nan
        x, p = np.sqrt(values[keep]), powers[keep]
        y = norm.ppf(p)
        weight = norm.pdf(y) ** 2 / (p * (1 - p))  # inverse variance of probit(p-hat), up to 1/trials
        a, b = np.polynomial.polynomial.polyfit(x, y, 1, w=np.sqrt(weight))
        slope = norm.pdf(a + b * math.sqrt(value)) * b / (2 * math.sqrt(value))
        if slope <= 0:
            return math.nan
        return math.sqrt(target * (1 - target) / self.trials) / slope


def _size_task(shared: tuple[Plan, tuple[Plan, ...]], seed: int, block: Block, prefix: bool) -> np.ndarray:
    draw, plans = shared
    return size_block(draw, plans, seed, block, prefix)


def _up(x: int, grain: int) -> int:
    return -(-x // grain) * grain


def _down(x: int, grain: int) -> int:
    return x // grain * grain


def _spread(lo: int, hi: int, grain: int, count: int, *, geometric: bool) -> list[int]:
    """About ``count`` multiples of ``grain`` from ``lo`` to ``hi``, both included.

    Examples
    --------
    >>> _spread(10, 20, 2, 4, geometric=False)
    [10, 14, 16, 20]
    """
    points = np.geomspace(lo, hi, count) if geometric else np.linspace(lo, hi, count)
    values = sorted({min(hi, max(lo, int(round(v / grain)) * grain)) for v in points} | {lo, hi})
    return values
