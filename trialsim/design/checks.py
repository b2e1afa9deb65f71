"""Rules that relate several fields of a design, each pointing at the node to fix.

The pydantic models check every value on its own; here we check that the
values fit together: comparisons name arms that exist, looks increase, the
allocation ratio covers every arm, a test suits its endpoint, expressions name
columns the cohort has, and so on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from trialsim.cohort.columns import cohort_columns
from trialsim.design.errors import suggest
from trialsim.design.expressions import ExpressionError, parse_expression
from trialsim.design.model import (
    MEASURES_BY_TYPE,
    NAME_PATTERN,
    TESTS_BY_TYPE,
    DesignSpec,
    HypothesisTest,
    Subgroup,
    parse_comparison,
)
from trialsim.design.source import PathKey

TYPE_NAMES = {"continuous": "continuous", "binary": "binary", "time_to_event": "time-to-event"}


@dataclass(frozen=True)
class Finding:
    """A cross-field problem: where (a data path) and what."""

    path: PathKey
    message: str
    key: bool = False  # point at the key of ``path`` rather than its value
    offset: int | None = None  # characters into a one-line scalar's text (expressions)


def _unknown(kind: str, name: str, known: list[str]) -> str:
    return f"unknown {kind} {name!r}{suggest(name, known)} (known: {', '.join(known)})"


def check_design(spec: DesignSpec, base: Path) -> list[Finding]:
    """All cross-field problems of a design whose fields already validated on their own."""
    findings: list[Finding] = []
    try:
        columns: dict[str, str] | None = cohort_columns(spec.population.cohort, base)
    except ValueError as exc:
        findings.append(Finding(("population", "cohort"), str(exc)))
        columns = None
    for check in (_arms, _randomization, _enrollment, _endpoints, _analysis):
        findings.extend(check(spec))
    findings.extend(_columns(spec, columns))
    return findings


def _arms(spec: DesignSpec) -> Iterator[Finding]:
    controls = [name for name, arm in spec.arms.items() if arm.control]
    for name in controls[1:]:
        yield Finding(("arms", name, "control"), f"only one arm can be the control; {controls[0]!r} already is")
    units = {arm.dose.unit for arm in spec.arms.values() if arm.dose is not None}
    if len(units) > 1:
        yield Finding(("arms",), f"all arms' doses must use one unit, found {', '.join(sorted(units))}")


def _randomization(spec: DesignSpec) -> Iterator[Finding]:
    r = spec.randomization
    arms = list(spec.arms)
    if r.ratio is not None:
        for name in r.ratio:
            if name not in spec.arms:
                yield Finding(("randomization", "ratio", name), _unknown("arm", name, arms), key=True)
        missing = [a for a in arms if a not in r.ratio]
        if missing:
            yield Finding(
                ("randomization", "ratio"), f"the ratio must give every arm a share; missing {', '.join(missing)}"
            )
    total = sum((r.ratio or {a: 1 for a in arms}).values())
    if r.method == "simple":
        if r.block_size is not None:
            yield Finding(
                ("randomization", "block_size"), "block_size applies to permuted_block or stratified, not simple"
            )
        if r.strata:
            yield Finding(
                ("randomization", "strata"), "strata need method: stratified (simple randomisation has no strata)"
            )
    elif r.block_size is not None and r.block_size % total:
        yield Finding(
            ("randomization", "block_size"),
            f"block_size {r.block_size} must be a multiple of the ratio's total {total} so every block keeps the ratio",
        )
    if r.method == "stratified" and not r.strata:
        yield Finding(("randomization",), "method stratified needs strata, e.g. strata: [sex]")
    if r.method == "permuted_block" and r.strata:
        yield Finding(("randomization", "method"), "strata are given: use method: stratified")


def _increasing(starts: list[float], path: PathKey, what: str) -> Iterator[Finding]:
    if starts and starts[0] != 0:
        yield Finding(path + (0, "start"), f"the first {what} must start at 0 months, got {starts[0]:g}")
    for i in range(1, len(starts)):
        if starts[i] <= starts[i - 1]:
            yield Finding(
                path + (i, "start"), f"{what} starts must increase: {starts[i]:g} after {starts[i - 1]:g} months"
            )


def _enrollment(spec: DesignSpec) -> Iterator[Finding]:
    e = spec.enrollment
    if e.sites:
        names = [site.name for site in e.sites]
        for i, name in enumerate(names):
            if name in names[:i]:
                yield Finding(("enrollment", "sites", i, "name"), f"site {name!r} is listed twice")
        if min(site.start for site in e.sites) != 0:
            yield Finding(("enrollment", "sites"), "at least one site must open at 0 months")
    if e.accrual is not None and e.accrual.piecewise:
        yield from _increasing(
            [p.start for p in e.accrual.piecewise], ("enrollment", "accrual", "piecewise"), "accrual piece"
        )
    if isinstance(e.dropout, dict):
        for arm in e.dropout:
            if arm not in spec.arms:
                yield Finding(("enrollment", "dropout", arm), _unknown("arm", arm, list(spec.arms)), key=True)
    ratio = spec.randomization.ratio or {a: 1 for a in spec.arms}
    smallest = min(ratio.values()) / sum(ratio.values()) * e.sample_size
    if smallest < 2:
        yield Finding(
            ("enrollment", "sample_size"), f"sample_size {e.sample_size} leaves fewer than 2 patients in an arm"
        )


def _endpoints(spec: DesignSpec) -> Iterator[Finding]:
    arms = list(spec.arms)
    control = spec.control_arm
    for name, ep in spec.endpoints.items():
        path: PathKey = ("endpoints", name)
        if ep.type == "time_to_event" and ep.baseline.distribution == "piecewise_exponential":
            yield from _increasing([p.start for p in ep.baseline.pieces], path + ("baseline", "pieces"), "hazard piece")
        if ep.type == "binary" and ep.baseline.rate in (0.0, 1.0):
            yield Finding(path + ("baseline", "rate"), "a response rate of 0% or 100% leaves nothing to compare")
        effect = ep.effect
        if effect is None:
            continue
        allowed = MEASURES_BY_TYPE[ep.type]
        kind = TYPE_NAMES[ep.type]
        measures = [(path + ("effect",), effect.measure)] if effect.measure else []
        for arm, m in (effect.by_arm or {}).items():
            measures.append(
                (
                    path + ("effect", "by_arm", arm),
                    next(k for k in ("difference", "odds_ratio", "hazard_ratio") if getattr(m, k) is not None),
                )
            )
            if arm not in spec.arms:
                yield Finding(path + ("effect", "by_arm", arm), _unknown("arm", arm, arms), key=True)
            elif arm == control:
                yield Finding(
                    path + ("effect", "by_arm", arm), f"{arm!r} is the control arm; effects are against it", key=True
                )
        for where, measure in measures:
            if measure not in allowed:
                yield Finding(
                    where + (measure,),
                    f"{measure} does not fit a {kind} endpoint; use {' or '.join(allowed)}",
                    key=True,
                )
        if effect.delay is not None and ep.type != "time_to_event":
            yield Finding(
                path + ("effect", "delay"), "a delayed effect applies to time-to-event endpoints only", key=True
            )
        if effect.dose_response is not None:
            undosed = [a for a, arm in spec.arms.items() if arm.dose is None]
            if undosed:
                yield Finding(
                    path + ("effect", "dose_response"),
                    f"a dose-response needs a dose on every arm; none on {', '.join(undosed)}",
                )
            ed50 = effect.dose_response.ed50
            units = {arm.dose.unit for arm in spec.arms.values() if arm.dose is not None}
            if ed50 is not None and units and ed50.unit not in units:
                yield Finding(
                    path + ("effect", "dose_response", "ed50"),
                    f"ed50 is in {ed50.unit} but the arms' doses are in {', '.join(units)}",
                )


def _test(spec: DesignSpec, test: HypothesisTest, path: PathKey, n_looks: int) -> Iterator[Finding]:
    if test.endpoint not in spec.endpoints:
        yield Finding(path + ("endpoint",), _unknown("endpoint", test.endpoint, list(spec.endpoints)))
        return
    ep = spec.endpoints[test.endpoint]
    allowed = TESTS_BY_TYPE[ep.type]
    if test.test not in allowed:
        yield Finding(
            path + ("test",),
            f"{test.test} does not fit the {TYPE_NAMES[ep.type]} endpoint {test.endpoint!r}; use {', '.join(allowed)}",
        )
    if test.adjust and test.test not in ("ancova", "logistic"):
        yield Finding(path + ("adjust",), f"adjust applies to ancova or logistic, not {test.test}", key=True)
    if test.test == "stratified_logrank" and not test.strata:
        yield Finding(path, "stratified_logrank needs strata, e.g. strata: [sex]")
    if test.strata and test.test != "stratified_logrank":
        yield Finding(path + ("strata",), f"strata apply to stratified_logrank, not {test.test}", key=True)
    seen: set[tuple[str, str]] = set()
    for i, text in enumerate(test.compare or []):
        a, b = parse_comparison(text)
        for arm in (a, b):
            if arm not in spec.arms:
                yield Finding(path + ("compare", i), _unknown("arm", arm, list(spec.arms)))
        if a == b:
            yield Finding(path + ("compare", i), f"{text!r} compares an arm with itself")
        if (a, b) in seen:
            yield Finding(path + ("compare", i), f"{text!r} is listed twice")
        seen.add((a, b))


def _analysis(spec: DesignSpec) -> Iterator[Finding]:
    a = spec.analysis
    looks = a.looks
    yield from _test(spec, a.primary, ("analysis", "primary"), len(looks))
    for i, test in enumerate(a.secondary):
        yield from _test(spec, test, ("analysis", "secondary", i), len(looks))
    primary = spec.endpoints.get(a.primary.endpoint)
    kinds = {look.kind for look in looks}
    if len(kinds) > 1:
        yield Finding(("analysis", "looks"), f"looks mix {', '.join(sorted(kinds))}; time all looks one way")
    elif looks:
        kind = looks[0].kind
        values = [look.value for look in looks]
        for i in range(1, len(values)):
            if values[i] <= values[i - 1]:
                yield Finding(
                    ("analysis", "looks", i, kind), f"looks must increase: {kind} {values[i]:g} after {values[i - 1]:g}"
                )
        if kind in ("subjects", "events"):
            for i, v in enumerate(values):
                if v > spec.enrollment.sample_size:
                    what = "events" if kind == "events" else "subjects"
                    yield Finding(
                        ("analysis", "looks", i, kind),
                        f"{what} {v:g} cannot be reached with sample_size {spec.enrollment.sample_size}",
                    )
        if kind == "information":
            if values[-1] != 1:
                yield Finding(
                    ("analysis", "looks", len(looks) - 1, "information"), "the last look's information must be 1"
                )
            if primary is not None and primary.type == "time_to_event":
                yield Finding(
                    ("analysis", "looks"), "time-to-event looks are timed by events (or time), e.g. {events: 160}"
                )
    if primary is not None and primary.type == "time_to_event" and not looks and spec.enrollment.follow_up is None:
        yield Finding(
            ("analysis",), "a time-to-event design needs looks (e.g. looks: [{events: 240}]) or enrollment.follow_up"
        )
    if len(looks) > 1 and a.efficacy is None:
        yield Finding(
            ("analysis", "looks"),
            f"{len(looks)} looks need efficacy boundaries, e.g. efficacy: {{spending: obrien_fleming}}",
        )
    for part in ("efficacy", "futility"):
        if getattr(a, part) is not None and len(looks) < 2:
            yield Finding(
                ("analysis", part), f"{part} boundaries need at least two looks; this design has {len(looks)}", key=True
            )
    if a.futility is not None and a.primary.sided == 2:
        yield Finding(("analysis", "futility"), "futility bounds are defined for one-sided tests (sided: 1)", key=True)
    if a.multiplicity == "hochberg" and len(looks) > 1:
        yield Finding(
            ("analysis", "multiplicity"),
            "hochberg is a single-analysis procedure; with several looks use holm, bonferroni or fixed_sequence",
        )
    if a.multiplicity != "none" and len(spec.comparisons(a.primary)) < 2:
        yield Finding(
            ("analysis", "multiplicity"),
            f"multiplicity {a.multiplicity} needs at least two comparisons in the primary analysis",
        )


def _columns(spec: DesignSpec, columns: dict[str, str] | None) -> Iterator[Finding]:
    """Expressions parse, and every column named exists in the cohort (when its columns are known)."""
    known = sorted(columns) if columns is not None else None

    def column(path: PathKey, name: str, *, key: bool = False, categorical: bool = False) -> Iterator[Finding]:
        if columns is None:
            return
        if name not in columns:
            yield Finding(
                path,
                f"the cohort {spec.population.cohort!r} has no column {name!r}{suggest(name, known)} "
                f"(columns: {', '.join(known)})",
                key=key,
            )
        elif categorical and columns[name] == "number":
            yield Finding(
                path, f"{name!r} is numeric; group by an expression instead, e.g. {{name: old, when: '{name} >= 65'}}"
            )

    def expression(path: PathKey, text: str) -> Iterator[Finding]:
        try:
            parse_expression(text, columns, want="bool")
        except ExpressionError as exc:
            yield Finding(path, exc.message, offset=exc.offset)

    for i, text in enumerate(spec.population.eligibility):
        yield from expression(("population", "eligibility", i), text)
    for i, site in enumerate(spec.enrollment.sites or []):
        for name in site.reach:
            yield from column(("enrollment", "sites", i, "reach", name), name, key=True, categorical=True)
    for name in spec.population.diversity_goals:
        yield from column(("population", "diversity_goals", name), name, key=True, categorical=True)
        total = sum(spec.population.diversity_goals[name].values())
        if total > 1 + 1e-9:
            yield Finding(
                ("population", "diversity_goals", name), f"goals for {name!r} add up to {total:.3g}, more than 100%"
            )
    for i, name in enumerate(spec.randomization.strata):
        yield from column(("randomization", "strata", i), name, categorical=True)
    for ep_name, ep in spec.endpoints.items():
        for name, coef in ep.covariates.items():
            yield from column(
                ("endpoints", ep_name, "covariates", name), name, key=True, categorical=isinstance(coef, dict)
            )
        for i, mod in enumerate(ep.modifiers):
            yield from expression(("endpoints", ep_name, "modifiers", i, "when"), mod.when)
    tests = [("primary",), *(("secondary", i) for i in range(len(spec.analysis.secondary)))]
    for where in tests:
        test = spec.analysis.primary if where == ("primary",) else spec.analysis.secondary[where[1]]
        for field in ("adjust", "strata"):
            for i, name in enumerate(getattr(test, field)):
                yield from column(("analysis", *where, field, i), name, categorical=field == "strata")
    for i, item in enumerate(spec.analysis.subgroups):
        if isinstance(item, Subgroup):
            yield from expression(("analysis", "subgroups", i, "when"), item.when)
        elif re.match(NAME_PATTERN, item):
            yield from column(("analysis", "subgroups", i), item, categorical=True)
        else:
            yield from expression(("analysis", "subgroups", i), item)
