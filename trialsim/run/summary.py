"""Operating characteristics of one scenario, each with its Monte Carlo standard error.

For a proportion p over T trials the standard error is sqrt(p (1 - p) / T); for a mean it is
the sample standard deviation over sqrt(T).
"""

from __future__ import annotations

import math

import polars as pl

from trialsim.engine.plan import Plan


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


def summarise(plan: Plan, looks: pl.DataFrame, subgroups: pl.DataFrame, diversity: pl.DataFrame) -> dict:
    """The operating characteristics of one scenario from its per-look table.

    ``power`` is the probability that at least one comparison is rejected (the type I error
    under a null scenario); ``power_all`` that all are. Per-look figures are probabilities that
    the trial makes that decision at that look; expected sample size, events and duration are
    taken at the look the trial stops.
    """
    n_looks = plan.n_looks
    per_trial = looks.group_by("trial").agg(
        pl.col("reject").any().alias("any"),
        pl.col("reject").sum().alias("rejected"),
        pl.col("look").filter(pl.col("reject")).min().alias("first_reject"),
        pl.col("look").max().alias("stop"),
        pl.col("futility").filter(pl.col("stopped")).any().alias("futile"),
    )
    stops = looks.filter(pl.col("stopped")).unique("trial").sort("trial")
    n_trials = per_trial.height
    m = len(plan.comparisons)
    out: dict = {
        "trials": n_trials,
        "power": proportion(per_trial["any"])["value"],
        "power_se": proportion(per_trial["any"])["se"],
        "power_all": proportion(per_trial["rejected"] == m)["value"],
        "power_all_se": proportion(per_trial["rejected"] == m)["se"],
        "reject_per_look": [
            proportion(per_trial["first_reject"].fill_null(0) == k)["value"] for k in range(1, n_looks + 1)
        ],
        "futility_per_look": [
            proportion((per_trial["stop"] == k) & per_trial["futile"] & ~per_trial["any"])["value"]
            for k in range(1, n_looks + 1)
        ],
        "early_stop": proportion(per_trial["stop"] < n_looks)["value"],
        "expected_sample_size": mean(stops["enrolled"])["value"],
        "expected_sample_size_se": mean(stops["enrolled"])["se"],
        "expected_duration": mean(stops["time"])["value"],
        "expected_duration_se": mean(stops["time"])["se"],
        "degenerate_analyses": float(looks["degenerate"].mean()),
        "unreached_looks": float((~looks["reached"]).mean()),
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
        out["expected_events"] = mean(stops["events"])["value"]
        out["expected_events_se"] = mean(stops["events"])["se"]
    out["per_comparison"] = {}
    for comparison in plan.comparisons:
        rows = looks.filter(pl.col("comparison") == comparison.name)
        final = rows.filter(pl.col("stopped"))
        rejected = rows.group_by("trial").agg(pl.col("reject").any())["reject"]
        estimate = mean(final["estimate"])
        out["per_comparison"][comparison.name] = {
            "power": proportion(rejected)["value"],
            "power_se": proportion(rejected)["se"],
            "mean_estimate": estimate["value"],
            "mean_estimate_se": estimate["se"],
            "true_effect": comparison.true_effect,
            "bias": estimate["value"] - comparison.true_effect,
            "bias_se": estimate["se"],
        }
    out["subgroups"] = {}
    if subgroups.height:
        for (name, level, comparison), rows in subgroups.group_by(
            ["subgroup", "level", "comparison"], maintain_order=True
        ):
            share = proportion(rows["reject"])
            out["subgroups"].setdefault(name, {}).setdefault(level, {})[comparison] = {
                "power": share["value"],
                "power_se": share["se"],
                "mean_analysed": float(rows["analysed"].mean()),
                "mean_estimate": mean(rows["estimate"])["value"],
            }
    if diversity.height:
        out["diversity"] = summarise_diversity(plan, diversity)
    return out


def summarise_diversity(plan: Plan, diversity: pl.DataFrame) -> dict:
    """Diversity of the enrolled patients: shares, PPR, indices, standardised differences, goals, each with its SE.

    The headline indices (Simpson, Shannon, evenness) are those of ``race_ethnicity`` when the population has it
    (else of the first demographic column); the representation index is the mean over the demographic columns.
    """
    out: dict = {"columns": {}}
    for d in plan.demographics:
        levels = {}
        for i, level in enumerate(d.levels):
            share = mean(diversity[f"share:{d.column}={level}"])
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
            out[index] = mean(diversity[f"{index}:{headline}"])
        representation = diversity.select(pl.mean_horizontal([f"representation:{c}" for c in names])).to_series()
        out["representation_index"] = mean(representation)
    out["standardized_differences"] = {c.column: mean(diversity[f"stddiff:{c.column}"]) for c in plan.covariates}
    if plan.sites:
        out["sites"] = {s.name: mean(diversity[f"site:{s.name}"]) for s in plan.sites}
    if plan.goals:
        met = proportion(diversity["goals_met"])
        per_goal: dict = {}
        for g in plan.goals:
            hit = proportion(diversity[f"goal:{g.column}={g.level}"])
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
