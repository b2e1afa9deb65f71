"""Operating characteristics of one scenario, each with its Monte Carlo standard error.

For a proportion p over T trials the standard error is sqrt(p (1 - p) / T); for a mean it is
the sample standard deviation over sqrt(T).

The summary is written once, by :func:`assemble`, from named figures (:class:`Figures`). Those come
either from a scenario's whole tables (:func:`summarise`, the definition of every figure) or from
moments accumulated block by block (:class:`trialsim.run.blockwise.BlockwiseSummary`, what a run
uses); ``tests/run/test_blockwise.py`` checks that both give the same numbers.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
import polars as pl

from trialsim.engine.plan import Plan

# The columns that make a subgroup figure: one per subgroup level and comparison.
SUBGROUP_KEYS = ["subgroup", "level", "comparison"]


def proportion(x: pl.Series) -> dict[str, float]:
    """Mean of a boolean series with its binomial standard error."""
    n = len(x)
    p = float(x.mean()) if n else math.nan
    return {"value": p, "se": math.sqrt(p * (1 - p) / n) if n else math.nan}


def mean(x: pl.Series) -> dict[str, float]:
    """Mean with its standard error (NaN entries dropped)."""
    x = x.drop_nulls().drop_nans() if x.dtype.is_float() else x.drop_nulls()
    n = len(x)
    if n == 0:
        return {"value": math.nan, "se": math.nan}
    sd = float(x.std()) if n > 1 else 0.0
    return {"value": float(x.mean()), "se": sd / math.sqrt(n)}


def representation(plan: Plan, diversity: pl.DataFrame) -> np.ndarray:
    """Each trial's representation index: the mean of its demographic columns' indices.

    Added column by column in the plan's order, so that the figure does not depend on how many
    threads polars uses (a horizontal mean in polars sums in an order that does).
    """
    columns = [diversity.get_column(f"representation:{d.column}").to_numpy() for d in plan.demographics]
    return sum(columns[1:], columns[0].copy()) / len(columns)


def subgroup_figure(group: tuple[str, str, str], what: str) -> str:
    """The name of a figure of one subgroup level and comparison (``what``: reject, analysed, estimate)."""
    return "subgroup:" + "\0".join(group) + f":{what}"


class Figures(Protocol):
    """A scenario's figures by name, each a proportion or a mean with its standard error.

    Names: ``power``, ``power_all``, ``reject_per_look:K``, ``futility_per_look:K``, ``early_stop``
    (per trial); ``expected_sample_size``, ``expected_duration``, ``expected_events`` (at the look a
    trial stops); ``degenerate_analyses``, ``unreached_looks`` (per performed look);
    ``comparison:C:power``, ``comparison:C:estimate``; :func:`subgroup_figure`; ``diversity:COLUMN``
    for each column of the diversity table and ``diversity:representation``.
    """

    trials: int
    groups: list[tuple[str, str, str]]  # subgroup, level, comparison in order of first appearance
    has_diversity: bool

    def proportion(self, name: str) -> dict[str, float]: ...

    def mean(self, name: str) -> dict[str, float]: ...


class TableFigures:
    """The figures of one scenario's whole tables: every figure a column, by its name (see :class:`Figures`)."""

    def __init__(self, plan: Plan, looks: pl.DataFrame, subgroups: pl.DataFrame, diversity: pl.DataFrame):
        per_trial = looks.group_by("trial").agg(
            pl.col("reject").any().alias("any"),
            pl.col("reject").sum().alias("rejected"),
            pl.col("look").filter(pl.col("reject")).min().alias("first_reject"),
            pl.col("look").max().alias("stop"),
            pl.col("futility").filter(pl.col("stopped")).any().alias("futile"),
        )
        stops = looks.filter(pl.col("stopped")).unique("trial").sort("trial")
        first = per_trial["first_reject"].fill_null(0)
        series = {
            "power": per_trial["any"],
            "power_all": per_trial["rejected"] == len(plan.comparisons),
            "early_stop": per_trial["stop"] < plan.n_looks,
            "expected_sample_size": stops["enrolled"],
            "expected_duration": stops["time"],
            "expected_events": stops["events"],
            "degenerate_analyses": looks["degenerate"],
            "unreached_looks": ~looks["reached"],
        }
        for k in range(1, plan.n_looks + 1):
            series[f"reject_per_look:{k}"] = first == k
            series[f"futility_per_look:{k}"] = (per_trial["stop"] == k) & per_trial["futile"] & ~per_trial["any"]
        for comparison in plan.comparisons:
            rows = looks.filter(pl.col("comparison") == comparison.name)
            series[f"comparison:{comparison.name}:power"] = rows.group_by("trial").agg(pl.col("reject").any())["reject"]
            series[f"comparison:{comparison.name}:estimate"] = rows.filter(pl.col("stopped"))["estimate"]
        self.groups = []
        if subgroups.height:
            for group, rows in subgroups.group_by(SUBGROUP_KEYS, maintain_order=True):
                self.groups.append(group)
                for what in ("reject", "analysed", "estimate"):
                    series[subgroup_figure(group, what)] = rows[what]
        self.has_diversity = bool(diversity.height)
        if self.has_diversity:
            series.update({f"diversity:{column}": diversity[column] for column in diversity.columns})
            if plan.demographics:
                series["diversity:representation"] = pl.Series(representation(plan, diversity))
        self.trials = per_trial.height
        self.series = series

    def proportion(self, name: str) -> dict[str, float]:
        return proportion(self.series[name])

    def mean(self, name: str) -> dict[str, float]:
        return mean(self.series[name])


def summarise(plan: Plan, looks: pl.DataFrame, subgroups: pl.DataFrame, diversity: pl.DataFrame) -> dict:
    """The operating characteristics of one scenario from its whole tables (see :func:`assemble`)."""
    return assemble(plan, TableFigures(plan, looks, subgroups, diversity))


def assemble(plan: Plan, figures: Figures) -> dict:
    """A scenario's summary (its part of ``summary.json``) from its figures.

    ``power`` is the probability that at least one comparison is rejected (the type I error
    under a null scenario); ``power_all`` that all are. Per-look figures are probabilities that
    the trial makes that decision at that look; expected sample size, events and duration are
    taken at the look the trial stops.
    """
    n_looks, n_trials = plan.n_looks, figures.trials
    power, power_all = figures.proportion("power"), figures.proportion("power_all")
    size, duration = figures.mean("expected_sample_size"), figures.mean("expected_duration")
    out: dict = {
        "trials": n_trials,
        "power": power["value"],
        "power_se": power["se"],
        "power_all": power_all["value"],
        "power_all_se": power_all["se"],
        "reject_per_look": [figures.proportion(f"reject_per_look:{k}")["value"] for k in range(1, n_looks + 1)],
        "futility_per_look": [figures.proportion(f"futility_per_look:{k}")["value"] for k in range(1, n_looks + 1)],
        "early_stop": figures.proportion("early_stop")["value"],
        "expected_sample_size": size["value"],
        "expected_sample_size_se": size["se"],
        "expected_duration": duration["value"],
        "expected_duration_se": duration["se"],
        "degenerate_analyses": figures.mean("degenerate_analyses")["value"],
        "unreached_looks": figures.mean("unreached_looks")["value"],
        "alpha": plan.alpha,
        "looks": [{"kind": kind, "value": value} for kind, value in plan.looks],
        "information": [float(x) for x in plan.information],
        "efficacy_bounds": {f"{f:g}": [float(c) for c in b] for f, b in plan.efficacy.items()},
        "futility_bounds": None if plan.futility is None else [float(c) for c in plan.futility],
        "screening": plan.screening,
        "notes": list(plan.notes),
    }
    out["reject_per_look_se"] = [math.sqrt(p * (1 - p) / n_trials) for p in out["reject_per_look"]]
    out["futility_per_look_se"] = [math.sqrt(p * (1 - p) / n_trials) for p in out["futility_per_look"]]
    if plan.endpoint == "time_to_event":
        events = figures.mean("expected_events")
        out["expected_events"] = events["value"]
        out["expected_events_se"] = events["se"]
    out["per_comparison"] = {}
    for comparison in plan.comparisons:
        rejected = figures.proportion(f"comparison:{comparison.name}:power")
        estimate = figures.mean(f"comparison:{comparison.name}:estimate")
        out["per_comparison"][comparison.name] = {
            "power": rejected["value"],
            "power_se": rejected["se"],
            "mean_estimate": estimate["value"],
            "mean_estimate_se": estimate["se"],
            "true_effect": comparison.true_effect,
            "bias": estimate["value"] - comparison.true_effect,
            "bias_se": estimate["se"],
        }
    out["subgroups"] = {}
    for group in figures.groups:
        name, level, comparison = group
        share = figures.proportion(subgroup_figure(group, "reject"))
        out["subgroups"].setdefault(name, {}).setdefault(level, {})[comparison] = {
            "power": share["value"],
            "power_se": share["se"],
            "mean_analysed": figures.mean(subgroup_figure(group, "analysed"))["value"],
            "mean_estimate": figures.mean(subgroup_figure(group, "estimate"))["value"],
        }
    if figures.has_diversity:
        out["diversity"] = _diversity(plan, figures)
    return out


def _diversity(plan: Plan, figures: Figures) -> dict:
    """Diversity of the enrolled patients: shares, PPR, indices, standardised differences, goals, each with its SE.

    The headline indices (Simpson, Shannon, evenness) are those of ``race_ethnicity`` when the population has it
    (else of the first demographic column); the representation index is the mean over the demographic columns.
    """

    def mean(column: str) -> dict[str, float]:
        return figures.mean(f"diversity:{column}")

    def proportion(column: str) -> dict[str, float]:
        return figures.proportion(f"diversity:{column}")

    out: dict = {"columns": {}}
    for d in plan.demographics:
        levels = {}
        for i, level in enumerate(d.levels):
            share = mean(f"share:{d.column}={level}")
            target = float(d.target[i])
            levels[level] = {
                "target": target,
                "enrolled": share["value"],
                "enrolled_se": share["se"],
                "ppr": share["value"] / target,
                "ppr_se": share["se"] / target,
                "screen_failure": float(d.screen_failure[i]),
            }
        out["columns"][d.column] = levels
    if plan.demographics:
        names = [d.column for d in plan.demographics]
        headline = "race_ethnicity" if "race_ethnicity" in names else names[0]
        out["index_column"] = headline
        for index in ("simpson", "shannon", "evenness"):
            out[index] = mean(f"{index}:{headline}")
        out["representation_index"] = mean("representation")
    out["standardized_differences"] = {c.column: mean(f"stddiff:{c.column}") for c in plan.covariates}
    if plan.sites:
        out["sites"] = {s.name: mean(f"site:{s.name}") for s in plan.sites}
    if plan.goals:
        met = proportion("goals_met")
        per_goal: dict = {}
        for g in plan.goals:
            hit = proportion(f"goal:{g.column}={g.level}")
            per_goal.setdefault(g.column, {})[g.level] = {
                "goal": g.share,
                "probability_met": hit["value"],
                "probability_met_se": hit["se"],
            }
        out["goals"] = {"probability_met": met["value"], "probability_met_se": met["se"], "per_goal": per_goal}
    return out


def format_table(summary: dict) -> str:
    """The operating characteristics of every scenario as a plain-text table."""
    # Grid scenarios have long names ("expected[sample_size=300,hazard_ratio=0.75]").
    w = max([14, *(len(name) + 2 for name in summary["scenarios"])])
    header = (
        f"{'scenario':<{w}}{'power':>16}{'E[N]':>10}{'E[events]':>11}{'E[months]':>11}{'early stop':>12}"
        "  reject per look"
    )
    lines = [f"{summary['design']}  ({summary['design_file']}, seed {summary['seed']})", header]
    for name, s in summary["scenarios"].items():
        power = f"{s['power']:.3f} ± {s['power_se']:.3f}"
        events = f"{s['expected_events']:.1f}" if "expected_events" in s else "-"
        per_look = " ".join(f"{p:.3f}" for p in s["reject_per_look"])
        lines.append(
            f"{name:<{w}}{power:>16}{s['expected_sample_size']:>10.1f}{events:>11}"
            f"{s['expected_duration']:>11.1f}{s['early_stop']:>12.3f}  {per_look}"
        )
    first = next(iter(summary["scenarios"].values()))
    lines.append(f"({first['trials']} trials per scenario; ± is one Monte Carlo SE)")
    lines.extend(f"note: {note}" for note in first.get("notes", []))
    return "\n".join(lines)
