"""A design scenario compiled to plain arrays: what one block of trials needs, and nothing else.

Everything that does not change from trial to trial is done here, once: the
eligibility filter over the population, each eligible patient's prognostic
linear predictor, effect modifier, strata and subgroup membership, the arms'
treatment effects and the group-sequential boundaries. A trial then only draws
patient indices into these arrays (see :mod:`trialsim.engine.block`).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import re
import weakref
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import polars as pl
from scipy.special import expit, logit
from scipy.stats import norm

from trialsim.design.expressions import parse_expression
from trialsim.design.load import Design, DesignError
from trialsim.design.model import NAME_PATTERN, DesignSpec, Subgroup
from trialsim.engine.accrual import Accrual, dropout_hazard
from trialsim.engine.boundaries import Boundaries, group_sequential_design
from trialsim.engine.diversity import Covariate, Demographic, Goal, demographic, tally_pool
from trialsim.engine.dose_response import dose_effect
from trialsim.engine.multiplicity import levels
from trialsim.engine.outcomes import risk_difference_to_log_odds_ratio
from trialsim.engine.survival import Baseline
from trialsim.engine.tallies import PackedPool

LookKind = Literal["subjects", "events", "time"]
# Demographic columns whose screen-failure rates are reported when the population has them.
DEMOGRAPHICS = ("sex", "race_ethnicity", "age_group")


class PlanError(ValueError):
    """A scenario cannot be simulated; ``path`` is the design node to blame."""

    def __init__(self, path: tuple[str | int, ...], message: str):
        super().__init__(message)
        self.path = path
        self.message = message


@dataclass(frozen=True)
class Comparison:
    name: str  # "treatment vs control"
    treatment: int
    control: int
    true_effect: float  # on the estimate's scale, averaged over the eligible population


@dataclass(frozen=True)
class SubgroupMask:
    subgroup: str  # column name or the subgroup's name
    level: str
    mask: np.ndarray  # (P,) bool over the eligible pool


@dataclass(frozen=True)
class SitePlan:
    """A recruitment channel: when it opens, its rate, and the cumulative draw weights over the eligible pool."""

    name: str
    start: float
    rate: float
    cdf: np.ndarray  # (P,) cumulative, normalised to 1


@dataclass(frozen=True)
class Plan:
    """One scenario of a design, ready for :func:`trialsim.engine.block.simulate_block`."""

    design: str
    scenario: str
    sample_size: int
    arms: tuple[str, ...]
    ratio: tuple[int, ...]
    randomization: Literal["simple", "permuted_block", "stratified"]
    block_size: int | None
    accrual: Accrual
    dropout_hazard: np.ndarray  # (A,) per month
    endpoint: Literal["continuous", "binary", "time_to_event"]
    # Outcome model (the control arm's, for a patient with average covariates).
    mean: float = 0.0
    sd: float = 1.0
    rate: float = 0.5
    baseline: Baseline | None = None
    delay: float = 0.0
    timepoint: float = 0.0
    follow_up: float = 0.0
    benefit_sign: float = 1.0  # +1 when a higher estimate is better, -1 when lower is
    arm_effect: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (A,) linear-predictor scale
    # The eligible pool, one entry per patient a trial may draw.
    prognostic: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (P,)
    effect_scale: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (P,)
    strata: np.ndarray | None = None  # (P,) randomisation strata codes
    analysis_strata: np.ndarray | None = None  # (P,) stratified log-rank codes
    adjust: np.ndarray | None = None  # (P, q) ANCOVA / logistic covariates
    subgroups: tuple[SubgroupMask, ...] = ()
    screening: dict = field(default_factory=dict)
    # Diversity: demographic columns and numeric covariates against the whole population, and the goals.
    sites: tuple[SitePlan, ...] = ()
    demographics: tuple[Demographic, ...] = ()
    covariates: tuple[Covariate, ...] = ()
    goals: tuple[Goal, ...] = ()
    tally_pool: PackedPool | None = None  # their columns packed for the tallies: made here, shipped to workers
    # Analysis.
    test: str = "t_test"
    comparisons: tuple[Comparison, ...] = ()
    alpha: float = 0.025  # one-sided level (the design's alpha / sided)
    multiplicity: str = "none"
    looks: tuple[tuple[LookKind, float], ...] = ()
    information: np.ndarray | None = None  # planned information fractions (K,)
    efficacy: dict[float, np.ndarray] = field(default_factory=dict)  # alpha fraction -> (K,) bounds
    futility: np.ndarray | None = None  # (K,)
    notes: tuple[str, ...] = ()  # what the design asks for that this simulation leaves out

    @property
    def n_looks(self) -> int:
        return len(self.looks)

    @property
    def pool_size(self) -> int:
        return len(self.prognostic)


def _codes(df: pl.DataFrame, columns: list[str]) -> np.ndarray:
    """Dense integer codes of the combinations of ``columns``."""
    return (df.select(pl.struct(columns).rank("dense").alias("c"))["c"].to_numpy() - 1).astype(np.int32)


def _screen(spec: DesignSpec, population: pl.DataFrame) -> tuple[np.ndarray, dict]:
    """Eligibility mask over the population and the screen-failure report (overall, per criterion, per group)."""
    columns = {name: ("number" if dt.is_numeric() else "string") for name, dt in population.schema.items()}
    criteria = spec.population.eligibility
    masks = [
        population.select(parse_expression(text, columns).to_polars().fill_null(False))
        .to_series()
        .to_numpy()
        .astype(bool)
        for text in criteria
    ]
    eligible = np.logical_and.reduce(masks) if masks else np.ones(population.height, dtype=bool)
    report: dict = {
        "screened": population.height,
        "eligible": int(eligible.sum()),
        "excluded_by_criterion": {text: float(1 - m.mean()) for text, m in zip(criteria, masks, strict=True)},
    }
    if not eligible.any():
        worst = max(report["excluded_by_criterion"], key=report["excluded_by_criterion"].get)
        share = report["excluded_by_criterion"][worst]
        raise PlanError(
            ("population", "eligibility", criteria.index(worst)),
            f"no patient of the {population.height} screened meets every criterion; "
            f"{worst!r} alone excludes {share:.0%}",
        )
    return eligible, report


@dataclass(frozen=True)
class _Pool:
    """The eligible part of a population, and what is described of it against the whole population."""

    frame: pl.DataFrame  # the eligible patients
    screening: dict
    demographics: tuple[Demographic, ...]
    covariates: tuple[Covariate, ...]
    known: dict = field(default_factory=dict)  # the codes of its columns computed so far

    def levels(self, column: str) -> tuple[list[str], np.ndarray]:
        """:func:`_levels` of a column of the pool, computed once."""
        key = ("levels", column)
        if key not in self.known:
            self.known[key] = _levels(self.frame[column])
        return self.known[key]

    def codes(self, columns: list[str]) -> np.ndarray:
        """:func:`_codes` of columns of the pool, computed once."""
        key = ("codes", *columns)
        if key not in self.known:
            self.known[key] = _codes(self.frame, columns)
        return self.known[key]


# (id(population), eligibility criteria, goal columns) -> (a weak reference to the population, its pool);
# an entry goes when its population does, and the oldest when more than _POOLS_KEPT are held.
_POOLS: dict[tuple, tuple[weakref.ref, _Pool]] = {}
_POOLS_KEPT = 8


def _pool(spec: DesignSpec, population: pl.DataFrame) -> _Pool:
    """The screened pool of a population, computed once per population and eligibility criteria.

    The scenarios of a design, the candidates of a sample-size search and repeated ``simulate()``
    calls in a process mostly screen the same population (the built-in one is made once per
    process, and nothing changes a polars frame in place) by the same criteria.
    """
    goal_columns = list(spec.population.diversity_goals)
    key = (id(population), tuple(spec.population.eligibility), tuple(goal_columns))
    known = _POOLS.get(key)
    if known is not None and known[0]() is population:
        return known[1]
    eligible, screening = _screen(spec, population)
    frame = population.filter(pl.Series(eligible))
    demographics = tuple(
        demographic(population, eligible, c)
        for c in dict.fromkeys([*DEMOGRAPHICS, *goal_columns])
        if c in population.columns
    )
    screening["screen_failure_by_group"] = {
        d.column: dict(zip(d.levels, d.screen_failure.tolist(), strict=True)) for d in demographics
    }
    numeric = [c for c, dt in population.schema.items() if dt.is_numeric() and c not in goal_columns]
    covariates = tuple(
        Covariate(c, frame[c].cast(pl.Float64).fill_null(np.nan).to_numpy(), *_moments(population[c])) for c in numeric
    )
    pool = _Pool(frame, screening, demographics, covariates)
    if len(_POOLS) >= _POOLS_KEPT:
        del _POOLS[next(iter(_POOLS))]
    _POOLS[key] = (weakref.ref(population, lambda _, key=key: _POOLS.pop(key, None)), pool)
    return pool


def _moments(column: pl.Series) -> tuple[float, float]:
    x = column.cast(pl.Float64).drop_nulls()
    return float(x.mean()), float(x.std())


def _levels(column: pl.Series) -> tuple[list[str], np.ndarray]:
    """The sorted distinct values of a column as strings (nulls as "missing") and each row's index among them.

    ``np.unique(values, return_inverse=True)`` without sorting Python strings, as in
    :func:`trialsim.engine.diversity.demographic`: the sorted distinct values (UTF-8 byte order is
    code point order, as numpy's) are an Enum's categories, whose physical codes are the inverse index.
    """
    values = column.cast(pl.String).fill_null("missing")
    levels = values.unique().sort().to_list()
    return levels, values.cast(pl.Enum(levels)).to_physical().to_numpy()


def _prognostic(spec_covariates: dict, pool: _Pool) -> np.ndarray:
    """Sum of covariate effects; numeric ones about the eligible pool's mean so the baseline is the average patient."""
    lp = np.zeros(pool.frame.height)
    for name, coef in spec_covariates.items():
        column = pool.frame[name]
        if isinstance(coef, dict):
            levels, codes = pool.levels(name)
            lp += np.array([coef.get(level, 0.0) for level in levels])[codes]
        else:
            x = column.cast(pl.Float64).to_numpy()
            lp += coef * (np.nan_to_num(x - np.nanmean(x)))
    return lp


def _arm_effects(spec: DesignSpec, endpoint) -> np.ndarray:
    """Each arm's treatment effect on the linear-predictor scale (mean, log odds, log hazard)."""
    arms = list(spec.arms)
    control = spec.control_arm
    effect = endpoint.effect
    out = np.zeros(len(arms))
    if effect is None:
        return out

    def convert(measure: str, value: float) -> float:
        if measure == "difference":
            if endpoint.type == "binary":
                return float(risk_difference_to_log_odds_ratio(endpoint.baseline.rate, value))
            return value
        return float(np.log(value))

    if effect.measure is not None:
        value = convert(effect.measure, getattr(effect, effect.measure))
        out[[i for i, a in enumerate(arms) if a != control]] = value
    elif effect.by_arm is not None:
        for arm, m in effect.by_arm.items():
            measure = next(k for k in ("difference", "odds_ratio", "hazard_ratio") if getattr(m, k) is not None)
            out[arms.index(arm)] = convert(measure, getattr(m, measure))
    else:
        dr = effect.dose_response
        doses = np.array([spec.arms[a].dose.amount for a in arms])
        out = dose_effect(
            doses,
            spec.arms[control].dose.amount,
            dr.model,
            slope=dr.slope,
            emax=dr.emax,
            ed50=dr.ed50.amount if dr.ed50 else None,
            hill=dr.hill,
        )
    return np.asarray(out, dtype=float)


def _baseline(endpoint) -> Baseline:
    b = endpoint.baseline
    if b.distribution == "exponential":
        return Baseline.exponential(rate=b.rate, median=b.median)
    if b.distribution == "weibull":
        return Baseline.weibull(b.shape, scale=b.scale, median=b.median)
    return Baseline.piecewise(np.array([p.start for p in b.pieces]), np.array([p.rate for p in b.pieces]))


def _accrual(spec: DesignSpec) -> Accrual:
    a = spec.enrollment.accrual
    if a is None:
        # Sites: the total rate steps up as each site opens.
        sites = spec.enrollment.sites
        starts = np.unique([site.start for site in sites])
        rates = np.array([sum(site.rate for site in sites if site.start <= t) for t in starts])
        return Accrual.piecewise(starts, rates)
    if a.duration is not None:
        return Accrual.uniform(a.duration)
    if a.rate is not None:
        return Accrual.constant(a.rate, ramp_up=a.ramp_up or 0.0)
    return Accrual.piecewise(np.array([p.start for p in a.piecewise]), np.array([p.rate for p in a.piecewise]))


def _subgroups(spec: DesignSpec, pool: _Pool) -> tuple[SubgroupMask, ...]:
    out = []
    for item in spec.analysis.subgroups:
        if isinstance(item, Subgroup) or not re.match(NAME_PATTERN, item):
            name, text = (item.name, item.when) if isinstance(item, Subgroup) else (item, item)
            mask = pool.frame.select(parse_expression(text).to_polars().fill_null(False)).to_series().to_numpy()
            out.append(SubgroupMask(name, "true", mask.astype(bool)))
        else:
            levels, codes = pool.levels(item)
            out.extend(SubgroupMask(item, level, codes == i) for i, level in enumerate(levels))
    return tuple(out)


def _sites(spec: DesignSpec, pool: _Pool) -> tuple[SitePlan, ...]:
    """Each site draws a pool patient with probability proportional to the product of its reach of their groups."""
    out = []
    for site in spec.enrollment.sites or []:
        weights = np.ones(pool.frame.height)
        for column, reach in site.reach.items():
            levels, codes = pool.levels(column)
            for level, factor in reach.items():
                if level in levels:
                    weights[codes == levels.index(level)] *= factor
        if weights.sum() <= 0:
            raise PlanError(("enrollment", "sites"), f"site {site.name!r} reaches no eligible patient")
        cdf = np.cumsum(weights)
        out.append(SitePlan(site.name, site.start, site.rate, cdf / cdf[-1]))
    return tuple(out)


def _adjust(columns: list[str], pool: _Pool) -> np.ndarray | None:
    """Covariates for ANCOVA/logistic: numeric as they are, categorical as dummies (first level dropped)."""
    if not columns:
        return None
    parts = []
    for name in columns:
        column = pool.frame[name]
        if column.dtype.is_numeric():
            parts.append(column.cast(pl.Float64).to_numpy()[:, None])
        else:
            levels, codes = pool.levels(name)
            parts.append((codes[:, None] == np.arange(1, len(levels))).astype(float))
    return np.concatenate(parts, axis=1)


def _looks(spec: DesignSpec) -> tuple[tuple[LookKind, float], ...]:
    """Looks as (kind, value); information fractions become subject counts, no looks one final analysis."""
    n = spec.enrollment.sample_size
    looks: list[tuple[LookKind, float]] = []
    for look in spec.analysis.looks:
        if look.kind == "information":
            looks.append(("subjects", float(max(1, round(look.value * n)))))
        else:
            looks.append((look.kind, look.value))
    return tuple(looks) or (("subjects", float(n)),)


def _alpha_fractions(method: str, m: int) -> list[float]:
    """The shares of alpha a comparison can be tested at (Hochberg: single look, p-value based)."""
    if method == "hochberg":
        return [1.0]
    return levels(method, m)


def _bounds(spec: DesignSpec, information: np.ndarray, fractions: list[float]) -> tuple[dict, np.ndarray | None]:
    a = spec.analysis
    alpha = a.primary.alpha / a.primary.sided
    if len(information) == 1:
        return {f: np.array([norm.isf(alpha * f)]) for f in fractions}, None
    eff, fut = a.efficacy, a.futility
    designs = {
        f: _design(
            tuple(information.tolist()),
            alpha * f,
            beta=fut.beta if fut else 0.2,
            efficacy=eff.spending or eff.boundary,
            efficacy_gamma=eff.gamma,
            efficacy_kind="spending" if eff.spending else "classical",
            futility=fut.spending if fut else None,
            futility_gamma=fut.gamma if fut else None,
            binding=fut.binding if fut else False,
        )
        for f in fractions
    }
    return {f: d.efficacy for f, d in designs.items()}, designs[max(fractions)].futility


@functools.lru_cache(maxsize=64)
def _design(information: tuple[float, ...], alpha: float, **options: str | float | bool | None) -> Boundaries:
    """:func:`~trialsim.engine.boundaries.group_sequential_design`, remembered on its arguments.

    Its root-finding takes milliseconds (tens with binding futility bounds), and the scenarios of a
    grid and repeated ``simulate()`` calls in a process mostly ask for the same boundaries. The
    plans share the bounds, which are therefore read-only.
    """
    design = group_sequential_design(np.array(information), alpha, **options)
    for bounds in (design.efficacy, design.futility):
        if bounds is not None:
            bounds.flags.writeable = False
    return design


def _true_effect(plan_kind: str, test: str, delta: float, control_effect: float, p: Plan) -> float:
    """The effect a test estimates, averaged over the eligible pool (modifiers included)."""
    s = p.effect_scale
    if test == "two_proportion_z":
        base = logit(p.rate) + p.prognostic
        return float(np.mean(expit(base + (control_effect + delta) * s) - expit(base + control_effect * s)))
    return float(delta * s.mean())


def compile_plan(design: Design, scenario: str, population: pl.DataFrame) -> Plan:
    """Compile one scenario of a design against a population.

    Raises
    ------
    DesignError
        When the scenario cannot be simulated (no eligible patient, unreachable looks,
        boundaries that cannot be computed), pointing at the design's line.
    """
    if scenario not in design.scenarios:
        raise ValueError(f"unknown scenario {scenario!r}; the design has {', '.join(design.scenarios)}")
    spec = design.scenarios[scenario]
    try:
        return _compile(spec, design.name, scenario, population)
    except PlanError as exc:
        prefix = "" if scenario == "default" else f"in scenario {scenario!r}: "
        raise DesignError([design.source.problem(exc.path, prefix + exc.message)]) from None


def _compile(spec: DesignSpec, name: str, scenario: str, population: pl.DataFrame) -> Plan:
    pool = _pool(spec, population)
    goals = tuple(
        Goal(column, level, share)
        for column, shares in spec.population.diversity_goals.items()
        for level, share in shares.items()
    )
    endpoint = spec.endpoints[spec.analysis.primary.endpoint]
    arms = tuple(spec.arms)
    ratio = spec.randomization.ratio or {a: 1 for a in arms}
    dropout = spec.enrollment.dropout
    hazards = np.zeros(len(arms))
    if dropout is not None:
        by_arm = dropout if isinstance(dropout, dict) else {a: dropout for a in arms}
        for i, arm in enumerate(arms):
            if arm in by_arm:
                hazards[i] = dropout_hazard(by_arm[arm].rate, by_arm[arm].per)
    test = spec.analysis.primary
    modifiers = np.ones(pool.frame.height)
    for mod in endpoint.modifiers:
        hit = pool.frame.select(parse_expression(mod.when).to_polars().fill_null(False)).to_series().to_numpy()
        modifiers = np.where(hit, modifiers * mod.effect_scale, modifiers)
    strata_cols = spec.randomization.strata
    kind = endpoint.type
    plan = Plan(
        design=name,
        scenario=scenario,
        sample_size=spec.enrollment.sample_size,
        arms=arms,
        ratio=tuple(int(ratio[a]) for a in arms),
        randomization=spec.randomization.method,
        block_size=spec.randomization.block_size,
        accrual=_accrual(spec),
        dropout_hazard=hazards,
        endpoint=kind,
        mean=endpoint.baseline.mean if kind == "continuous" else 0.0,
        sd=endpoint.baseline.sd if kind == "continuous" else 1.0,
        rate=endpoint.baseline.rate if kind == "binary" else 0.5,
        baseline=_baseline(endpoint) if kind == "time_to_event" else None,
        delay=(endpoint.effect.delay or 0.0) if endpoint.effect is not None else 0.0,
        timepoint=getattr(endpoint, "timepoint", 0.0),
        follow_up=spec.enrollment.follow_up or 0.0,
        benefit_sign=1.0 if endpoint.better == "higher" else -1.0,
        arm_effect=_arm_effects(spec, endpoint),
        prognostic=_prognostic(endpoint.covariates, pool),
        effect_scale=modifiers,
        strata=pool.codes(strata_cols) if strata_cols else None,
        analysis_strata=pool.codes(test.strata) if test.strata else None,
        adjust=_adjust(test.adjust, pool),
        subgroups=_subgroups(spec, pool),
        screening=copy.deepcopy(pool.screening),
        sites=_sites(spec, pool),
        demographics=pool.demographics,
        covariates=pool.covariates,
        goals=goals,
        tally_pool=tally_pool(pool.demographics, pool.covariates),
        test=test.test,
        alpha=test.alpha / test.sided,
        multiplicity=spec.analysis.multiplicity,
        looks=_looks(spec),
        notes=(
            ("secondary analyses (analysis.secondary) are validated but not simulated yet",)
            if spec.analysis.secondary
            else ()
        ),
    )
    pairs = spec.comparisons(test)
    comparisons = tuple(
        Comparison(
            f"{t} vs {c}",
            arms.index(t),
            arms.index(c),
            _true_effect(
                kind,
                test.test,
                plan.arm_effect[arms.index(t)] - plan.arm_effect[arms.index(c)],
                plan.arm_effect[arms.index(c)],
                plan,
            ),
        )
        for t, c in pairs
    )
    plan = dataclasses.replace(plan, comparisons=comparisons)
    information = _planned_information(plan)
    try:
        efficacy, futility = _bounds(spec, information, _alpha_fractions(plan.multiplicity, len(comparisons)))
    except ValueError as exc:
        raise PlanError(("analysis", "efficacy"), f"the boundaries cannot be computed: {exc}") from None
    return dataclasses.replace(plan, information=information, efficacy=efficacy, futility=futility)


def _planned_information(plan: Plan) -> np.ndarray:
    """Information fractions of the looks: from their targets, or (calendar looks) from a pilot run.

    Events and subjects looks have their information fixed by design. A calendar-time look's
    information is what it is expected to be: the mean events (or analysed patients) at that
    time over a pilot block, relative to the final look. A pilot also checks that an events
    target can be reached at all with the planned sample size.
    """
    from trialsim.engine.block import pilot_information

    kinds = {kind for kind, _ in plan.looks}
    values = np.array([v for _, v in plan.looks])
    if kinds == {"time"} or "events" in kinds:
        expected, reachable = pilot_information(plan)
        if "events" in kinds:
            for i, (_, target) in enumerate(plan.looks):
                if target > reachable:
                    raise PlanError(
                        ("analysis", "looks", i, "events"),
                        f"{target:g} events cannot be reached: {plan.sample_size} patients give about "
                        f"{reachable:.0f} events even when all are followed until the event or dropout",
                    )
            return values / values[-1]
        if expected[-1] <= 0:
            raise PlanError(("analysis", "looks"), "no information is expected by the last look's time")
        return expected / expected[-1]
    return values / values[-1]
