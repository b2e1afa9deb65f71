"""A design described in a few plain lines, for the terminal and the demo."""

from __future__ import annotations

import numpy as np

from trialsim.design.load import Design
from trialsim.design.model import DesignSpec, Effect
from trialsim.engine.boundaries import Boundaries, group_sequential_design

_MEASURE = {"difference": "difference", "odds_ratio": "OR", "hazard_ratio": "HR"}


def planned_information(spec: DesignSpec) -> np.ndarray | None:
    """Planned information fractions of the looks, when they are known before the trial runs."""
    looks = spec.analysis.looks
    if len(looks) < 2 or looks[0].kind == "time":
        return None
    values = np.array([look.value for look in looks])
    return values / values[-1]


def planned_boundaries(spec: DesignSpec) -> Boundaries | None:
    """Z-scale boundaries at the planned information fractions (``None`` for a single look)."""
    info = planned_information(spec)
    a = spec.analysis
    if info is None or a.efficacy is None:
        return None
    fut = a.futility
    return group_sequential_design(
        info,
        alpha=a.primary.alpha / a.primary.sided,
        beta=fut.beta if fut else 0.2,
        efficacy=a.efficacy.spending or a.efficacy.boundary,
        efficacy_gamma=a.efficacy.gamma,
        efficacy_kind="spending" if a.efficacy.spending else "classical",
        futility=fut.spending if fut else None,
        futility_gamma=fut.gamma if fut else None,
        binding=fut.binding if fut else False,
    )


def _effect(effect: Effect | None) -> str:
    if effect is None:
        return "no treatment effect"
    if effect.measure:
        text = f"{_MEASURE[effect.measure]} {getattr(effect, effect.measure):g}"
    elif effect.by_arm:
        text = ", ".join(
            f"{arm} {_MEASURE[m]} {getattr(v, m):g}"
            for arm, v in effect.by_arm.items()
            for m in _MEASURE
            if getattr(v, m) is not None
        )
    else:
        dr = effect.dose_response
        text = f"{dr.model} dose-response" + "".join(
            f", {p} {getattr(dr, p)}" for p in ("slope", "emax", "ed50", "hill") if getattr(dr, p) is not None
        )
    return text + (f" after {effect.delay:.3g} months" if effect.delay else "")


def describe(design: Design) -> str:
    """A short multi-line summary of a design.

    Examples
    --------
    >>> from trialsim.design.load import load_design
    >>> print(describe(load_design("designs/binary-response.yaml")).splitlines()[0])
    binary-response-2to1: Phase 2, response rate, 2:1, one interim  (designs/binary-response.yaml)
    """
    s = design.spec
    e = s.enrollment
    acc = e.accrual
    if e.sites:
        accrual = "sites " + ", ".join(f"{t.name} {t.rate:.3g}/month from month {t.start:.3g}" for t in e.sites)
    elif acc.duration:
        accrual = f"uniform over {acc.duration:.3g} months"
    elif acc.rate:
        accrual = f"{acc.rate:.3g}/month" + (f" after a {acc.ramp_up:.3g}-month ramp-up" if acc.ramp_up else "")
    else:
        accrual = "piecewise " + ", ".join(f"{p.rate:.3g}/month from month {p.start:.3g}" for p in acc.piecewise)
    r = s.randomization
    ratio = r.ratio or {a: 1 for a in s.arms}
    rand = f"{r.method.replace('_', ' ')}" + (f" (blocks of {r.block_size})" if r.block_size else "")
    rand += (
        f" by {', '.join(r.strata)}" if r.strata else ""
    ) + f", {':'.join(ratio)} = {':'.join(map(str, ratio.values()))}"
    arms = "; ".join(
        f"{name}{' (control)' if name == s.control_arm else ''}"
        + (f" {arm.dose}" if arm.dose else "")
        + (f" {arm.frequency}" if arm.frequency else "")
        for name, arm in s.arms.items()
    )
    lines = [
        f"{s.name}: {s.title or ''}  ({design.path})",
        f"  population     {s.population.cohort}; {len(s.population.eligibility)} eligibility criteria",
        f"  enrollment     {e.sample_size} patients, {accrual}",
        f"  randomization  {rand}",
        f"  arms           {arms}",
    ]
    for name, ep in s.endpoints.items():
        if ep.type == "time_to_event":
            b = ep.baseline
            base = f"{b.distribution.replace('_', ' ')}" + (
                f", median {b.median:.3g} months" if getattr(b, "median", None) else ""
            )
        elif ep.type == "continuous":
            base = f"mean {ep.baseline.mean:g}, sd {ep.baseline.sd:g} at {ep.timepoint:.3g} months"
        else:
            base = f"rate {ep.baseline.rate:.3g} at {ep.timepoint:.3g} months"
        lines.append(f"  endpoint       {name} ({ep.type.replace('_', '-')}): {base}; {_effect(ep.effect)}")
    p = s.analysis.primary
    comparisons = ", ".join(f"{a} vs {b}" for a, b in s.comparisons(p))
    looks = s.analysis.looks
    when = (
        (f"{len(looks)} looks at {looks[0].kind} " + "/".join(f"{look.value:g}" for look in looks))
        if looks
        else "one analysis"
    )
    mult = f", {s.analysis.multiplicity}" if s.analysis.multiplicity != "none" else ""
    lines.append(
        f"  analysis       {p.test} on {p.endpoint}: {comparisons}; {p.sided}-sided alpha {p.alpha:g}{mult}; {when}"
    )
    bounds = planned_boundaries(s)
    if bounds is not None:
        line = "  boundaries     efficacy z " + ", ".join(f"{c:.3f}" for c in bounds.efficacy)
        if bounds.futility is not None:
            line += "; futility z " + ", ".join(f"{c:.3f}" for c in bounds.futility)
        lines.append(line)
    lines.append(
        f"  scenarios      {', '.join(design.scenarios)}; {s.simulation.trials} trials, seed {s.simulation.seed}"
    )
    return "\n".join(lines)
