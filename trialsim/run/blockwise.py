"""Operating characteristics accumulated block by block, in memory bounded by a block, not by the run.

:func:`trialsim.run.summary.summarise` defines every figure of a scenario from its whole tables
(one row per trial, look and comparison; per subgroup; per trial's enrolment): a million trials of
a design with subgroups is gigabytes in memory. Every figure there is a mean (or proportion) over
trials or rows, with its standard error; and every trial's rows lie in one seed block. So each
block adds its count, mean and sum of squared deviations to each figure (merged with Chan et al.'s
pairwise update, which keeps full precision), and the summary is read off at the end.

The figures, their names and their definitions are summarise()'s: ``tests/run/test_blockwise.py``
checks that both give the same numbers for every example design, so a figure added there and not
here fails that test rather than going missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from trialsim.engine.plan import Plan


@dataclass
class Moments:
    """Count, mean and sum of squared deviations of the values seen so far (NaN and null left out).

    Examples
    --------
    >>> m = Moments()
    >>> m.add(np.array([1.0, 2.0])); m.add(np.array([3.0, np.nan]))
    >>> m.n, m.mean, round(m.se, 6)
    (3, 2.0, 0.57735)
    """

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, values: np.ndarray | pl.Series) -> None:
        x = values.to_numpy() if isinstance(values, pl.Series) else np.asarray(values)
        x = x.astype(float)
        x = x[~np.isnan(x)]
        n = len(x)
        if n == 0:
            return
        mean = float(x.mean())
        m2 = float(((x - mean) ** 2).sum())
        total = self.n + n
        delta = mean - self.mean
        self.m2 += m2 + delta * delta * self.n * n / total
        self.mean += delta * n / total
        self.n = total

    @property
    def se(self) -> float:
        """Sample standard deviation over sqrt(n), as :func:`trialsim.run.summary.mean` gives it."""
        if self.n == 0:
            return math.nan
        return math.sqrt(self.m2 / (self.n - 1)) / math.sqrt(self.n) if self.n > 1 else 0.0

    def as_mean(self) -> dict[str, float]:
        return {"value": self.mean if self.n else math.nan, "se": self.se}

    def as_proportion(self) -> dict[str, float]:
        """A mean of 0/1 values with its binomial standard error."""
        if self.n == 0:
            return {"value": math.nan, "se": math.nan}
        p = self.mean
        return {"value": p, "se": math.sqrt(p * (1 - p) / self.n)}


class _Figures(dict):
    """Moments by name, made on first use."""

    def __missing__(self, key: str) -> Moments:
        self[key] = Moments()
        return self[key]


class BlockwiseSummary:
    """The summary of one scenario, fed one seed block at a time with :meth:`add`.

    ``result()`` returns what ``summarise(plan, looks, subgroups, diversity)`` returns for the
    concatenated blocks (to rounding in the last digits).
    """

    def __init__(self, plan: Plan):
        self.plan = plan
        self.f = _Figures()
        self.trials = 0
        self.groups: list[tuple[str, str, str]] = []  # subgroup, level, comparison in order of appearance
        self.diversity_columns: list[str] | None = None

    def add(self, looks: pl.DataFrame, subgroups: pl.DataFrame, diversity: pl.DataFrame) -> None:
        """One block's rows (all rows of its trials)."""
        plan, f = self.plan, self.f
        k_looks, m = plan.n_looks, len(plan.comparisons)
        # In trial order: sums over a hash-grouped order would differ from run to run in the last digit.
        per_trial = looks.group_by("trial", maintain_order=True).agg(
            pl.col("reject").any().alias("any"),
            pl.col("reject").sum().alias("rejected"),
            pl.col("look").filter(pl.col("reject")).min().alias("first_reject"),
            pl.col("look").max().alias("stop"),
            pl.col("futility").filter(pl.col("stopped")).any().alias("futile"),
        )
        self.trials += per_trial.height
        f["power"].add(per_trial["any"])
        f["power_all"].add(per_trial["rejected"] == m)
        first = per_trial["first_reject"].fill_null(0)
        for k in range(1, k_looks + 1):
            f[f"reject_per_look:{k}"].add(first == k)
            f[f"futility_per_look:{k}"].add((per_trial["stop"] == k) & per_trial["futile"] & ~per_trial["any"])
        f["early_stop"].add(per_trial["stop"] < k_looks)
        stops = looks.filter(pl.col("stopped")).unique("trial", maintain_order=True)
        f["expected_sample_size"].add(stops["enrolled"])
        f["expected_duration"].add(stops["time"])
        if plan.endpoint == "time_to_event":
            f["expected_events"].add(stops["events"])
        f["degenerate_analyses"].add(looks["degenerate"])
        f["unreached_looks"].add(~looks["reached"])
        for comparison in plan.comparisons:
            rows = looks.filter(pl.col("comparison") == comparison.name)
            f[f"comparison:{comparison.name}:power"].add(
                rows.group_by("trial", maintain_order=True).agg(pl.col("reject").any())["reject"]
            )
            f[f"comparison:{comparison.name}:estimate"].add(rows.filter(pl.col("stopped"))["estimate"])
        if subgroups.height:
            for (name, level, comparison), rows in subgroups.group_by(
                ["subgroup", "level", "comparison"], maintain_order=True
            ):
                group = (name, level, comparison)
                if group not in self.groups:
                    self.groups.append(group)
                key = "\0".join(group)
                f[f"subgroup:{key}:power"].add(rows["reject"])
                f[f"subgroup:{key}:analysed"].add(rows["analysed"])
                f[f"subgroup:{key}:estimate"].add(rows["estimate"])
        if diversity.height:
            columns = [c for c, dtype in diversity.schema.items() if dtype.is_numeric() or dtype == pl.Boolean]
            self.diversity_columns = self.diversity_columns or columns
            for column in columns:
                f[f"diversity:{column}"].add(diversity[column])
            if plan.demographics:
                names = [f"representation:{d.column}" for d in plan.demographics]
                f["diversity:representation"].add(diversity.select(pl.mean_horizontal(names)).to_series())

    def result(self) -> dict:
        """The scenario's figures: the keys, order and definitions of ``summarise()``."""
        plan, f, n = self.plan, self.f, self.trials
        k_looks = plan.n_looks
        out: dict = {
            "trials": n,
            "power": f["power"].as_proportion()["value"],
            "power_se": f["power"].as_proportion()["se"],
            "power_all": f["power_all"].as_proportion()["value"],
            "power_all_se": f["power_all"].as_proportion()["se"],
            "reject_per_look": [f[f"reject_per_look:{k}"].as_proportion()["value"] for k in range(1, k_looks + 1)],
            "futility_per_look": [f[f"futility_per_look:{k}"].as_proportion()["value"] for k in range(1, k_looks + 1)],
            "early_stop": f["early_stop"].as_proportion()["value"],
            "expected_sample_size": f["expected_sample_size"].as_mean()["value"],
            "expected_sample_size_se": f["expected_sample_size"].as_mean()["se"],
            "expected_duration": f["expected_duration"].as_mean()["value"],
            "expected_duration_se": f["expected_duration"].as_mean()["se"],
            "degenerate_analyses": f["degenerate_analyses"].mean,
            "unreached_looks": f["unreached_looks"].mean,
            "alpha": plan.alpha,
            "looks": [{"kind": kind, "value": value} for kind, value in plan.looks],
            "information": [float(x) for x in plan.information],
            "efficacy_bounds": {f"{a:g}": [float(c) for c in b] for a, b in plan.efficacy.items()},
            "futility_bounds": None if plan.futility is None else [float(c) for c in plan.futility],
            "screening": plan.screening,
            "notes": list(getattr(plan, "notes", ())),
        }
        out["reject_per_look_se"] = [math.sqrt(p * (1 - p) / n) for p in out["reject_per_look"]]
        out["futility_per_look_se"] = [math.sqrt(p * (1 - p) / n) for p in out["futility_per_look"]]
        if plan.endpoint == "time_to_event":
            out["expected_events"] = f["expected_events"].as_mean()["value"]
            out["expected_events_se"] = f["expected_events"].as_mean()["se"]
        out["per_comparison"] = {}
        for comparison in plan.comparisons:
            power = f[f"comparison:{comparison.name}:power"].as_proportion()
            estimate = f[f"comparison:{comparison.name}:estimate"].as_mean()
            out["per_comparison"][comparison.name] = {
                "power": power["value"],
                "power_se": power["se"],
                "mean_estimate": estimate["value"],
                "mean_estimate_se": estimate["se"],
                "true_effect": comparison.true_effect,
                "bias": estimate["value"] - comparison.true_effect,
                "bias_se": estimate["se"],
            }
        out["subgroups"] = {}
        for name, level, comparison in self.groups:
            key = "\0".join((name, level, comparison))
            share = f[f"subgroup:{key}:power"].as_proportion()
            out["subgroups"].setdefault(name, {}).setdefault(level, {})[comparison] = {
                "power": share["value"],
                "power_se": share["se"],
                "mean_analysed": f[f"subgroup:{key}:analysed"].mean,
                "mean_estimate": f[f"subgroup:{key}:estimate"].as_mean()["value"],
            }
        if self.diversity_columns is not None:
            out["diversity"] = self._diversity()
        return out

    def _diversity(self) -> dict:
        """``summarise_diversity``'s figures from the per-trial diversity columns' moments."""
        plan, f = self.plan, self.f

        def mean(column: str) -> dict[str, float]:
            return f[f"diversity:{column}"].as_mean()

        def proportion(column: str) -> dict[str, float]:
            return f[f"diversity:{column}"].as_proportion()

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
        if getattr(plan, "sites", None):
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
