"""The figures the pages show, as tables built from ``summary.json`` (no Streamlit here).

Every number comes from the summary as written by ``trialsim simulate``; the only figures computed
here are 95% intervals (Wilson score intervals for probabilities over the simulated trials, value
± 1.96 SE for means) and rankings. Column names are the ones shown on the page and in downloads.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence

import polars as pl

from dashboards.loading import Result

Z95 = 1.959963984540054
NULL_SCENARIO = "null"
PPR_BAND = (0.8, 1.2)  # FDA Drug Trials Snapshots: under/over-represented outside this band
DEMOGRAPHIC_ORDER = ("race_ethnicity", "sex", "age_group")
COLUMN_TITLES = {"race_ethnicity": "Race / ethnicity", "sex": "Sex", "age_group": "Age group"}


def wilson(p: float | None, n: int | None, z: float = Z95) -> tuple[float | None, float | None]:
    """Wilson score interval of a proportion ``p`` over ``n`` trials (sensible at 0 and 1, unlike p ± z SE).

    Examples
    --------
    >>> [round(x, 4) for x in wilson(0.5, 100)]
    [0.4038, 0.5962]
    >>> wilson(0.0, 500)[0]
    0.0
    """
    if p is None or n is None or n <= 0 or (isinstance(p, float) and math.isnan(p)):
        return None, None
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    low = 0.0 if p <= 0 else max(0.0, centre - half)
    high = 1.0 if p >= 1 else min(1.0, centre + half)
    return low, high


def _value(x: object) -> float | None:
    """A number from the summary, None for missing, null or NaN."""
    if x is None or isinstance(x, bool):
        return None
    if isinstance(x, int | float):
        return None if math.isnan(x) else float(x)
    return None


def _number(x: object) -> float | None:
    """A grid value as a number: 300 -> 300.0, "24 months" -> 24.0, "5%" -> 0.05; None when it is not one."""
    if isinstance(x, int | float) and not isinstance(x, bool):
        return float(x)
    match = re.match(r"\s*([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*(%?)", str(x))
    if not match:
        return None
    return float(match.group(1)) / (100 if match.group(2) else 1)


def _pair(d: dict | None) -> tuple[float | None, float | None]:
    """(value, se) of a {"value", "se"} entry."""
    if not isinstance(d, dict):
        return None, None
    return _value(d.get("value")), _value(d.get("se"))


def ok(results: Iterable[Result]) -> list[Result]:
    return [r for r in results if r.ok]


def having(results: Iterable[Result], scenario: str) -> Iterator[tuple[Result, dict]]:
    """Each readable result that has ``scenario``, with that scenario's summary."""
    for r in ok(results):
        s = r.scenario(scenario)
        if s:
            yield r, s


def power_columns(figures: dict, trials: int) -> dict[str, float | None]:
    """Power, its SE and its Wilson 95% interval, as the tables' four columns."""
    power = _value(figures.get("power"))
    low, high = wilson(power, trials)
    return {"Power": power, "Power SE": _value(figures.get("power_se")), "Power 95% low": low, "Power 95% high": high}


def scenario_names(results: Iterable[Result], grid: bool | None = None) -> list[str]:
    """Scenario names over all results, plain scenarios first (``grid``: only grid points / only the others)."""
    results = ok(results)
    if grid is None:
        return scenario_names(results, grid=False) + scenario_names(results, grid=True)
    names: dict[str, None] = {}
    for r in results:
        for name, s in r.scenarios.items():
            if bool(s.get("grid")) == grid:
                names[name] = None
    return list(names)


def default_scenario(results: Iterable[Result], names: Sequence[str]) -> str:
    """``expected`` when there is one, else the first grid point on ``expected``, else the first non-null one."""
    if "expected" in names:
        return "expected"
    bases = {n: s.get("base_scenario") for r in ok(results) for n, s in r.scenarios.items()}
    return next(
        (n for n in names if bases.get(n) == "expected"),
        next((n for n in names if n != NULL_SCENARIO and bases.get(n) != NULL_SCENARIO), names[0]),
    )


def short_param(key: str, keys: Sequence[str] = ()) -> str:
    """``endpoints.pfs.effect.hazard_ratio`` -> ``hazard_ratio`` (the full key when the short one is ambiguous)."""
    short = key.rsplit(".", 1)[-1]
    return key if sum(k.rsplit(".", 1)[-1] == short for k in keys) > 1 else short


def grid_text(grid: dict | None) -> str | None:
    if not grid:
        return None
    keys = list(grid)
    return ", ".join(f"{short_param(k, keys)} = {v}" for k, v in grid.items())


def look_label(look: dict) -> str:
    """{"kind": "events", "value": 80} -> "80 events"."""
    if not isinstance(look, dict):
        return str(look)
    value = look.get("value")
    text = f"{value:g}" if isinstance(value, int | float) else str(value)
    unit = {"events": "events", "subjects": "patients", "time": "months"}.get(
        str(look.get("kind")), str(look.get("kind"))
    )
    return f"{text} {unit}"


def _groups_outside(diversity: dict | None, low: bool) -> str | None:
    """Groups whose PPR lies below (``low``) or above the 0.8-1.2 band, e.g. "Black (0.74), 65+ (0.61)"."""
    if not isinstance(diversity, dict):
        return None
    out = []
    for column in ordered_columns(diversity.get("columns", {})):
        for level, d in diversity["columns"][column].items():
            ppr = _value(d.get("ppr"))
            if ppr is not None and ((ppr < PPR_BAND[0]) if low else (ppr > PPR_BAND[1])):
                out.append(f"{level} ({ppr:.2f})")
    return ", ".join(out) if out else "none"


def ordered_columns(columns: dict) -> list[str]:
    known = [c for c in DEMOGRAPHIC_ORDER if c in columns]
    return known + [c for c in columns if c not in known]


def is_null(name: str, scenario: dict) -> bool:
    """The ``null`` scenario, or a grid point patching it."""
    return name == NULL_SCENARIO or scenario.get("base_scenario") == NULL_SCENARIO


def _leaf_paths(patch: object, prefix: tuple[str, ...] = ()) -> set[str]:
    """Dotted paths a merge patch sets: {"endpoints": {"pfs": {"effect": ...}}} -> {"endpoints.pfs.effect...."}."""
    if isinstance(patch, dict) and patch:
        return set().union(*(_leaf_paths(v, (*prefix, str(k))) for k, v in patch.items()))
    return {".".join(prefix)} if prefix else set()


def _overlap(a: str, b: str) -> bool:
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def null_reference(result: Result, name: str) -> tuple[str | None, str | None]:
    """The scenario whose power is the type I error of scenario ``name``, or (None, why there is none).

    A plain scenario's is the ``null`` scenario. A grid point's is the grid point of the ``null`` scenario
    with the same grid values, unless the grid sets what the ``null`` scenario sets (then that point is not null).
    """
    s = result.scenario(name) or {}
    grid = s.get("grid")
    if not grid:
        if NULL_SCENARIO in result.scenarios:
            return NULL_SCENARIO, None
        return None, "the design has no scenario named `null` (one with no treatment effect)"
    twins = [
        n for n, t in result.scenarios.items() if t.get("base_scenario") == NULL_SCENARIO and t.get("grid") == grid
    ]
    if not twins:
        return None, "its grid was not run on a `null` scenario"
    scenarios = result.design().get("scenarios")
    if not isinstance(scenarios, dict) or not ({NULL_SCENARIO, None} & set(scenarios)):
        return None, "its design.yaml, which says what the `null` scenario changes, is missing"
    patch = scenarios.get(NULL_SCENARIO, scenarios.get(None))  # YAML reads a bare `null:` key as None
    clash = [k for k in grid if any(_overlap(k, p) for p in _leaf_paths(patch))]
    if clash:
        return None, (
            f"its grid sets {', '.join(clash)}, which the `null` scenario sets too, so the grid's points on the "
            "`null` scenario are not null"
        )
    return twins[0], None


def type_i_error(result: Result, name: str = NULL_SCENARIO) -> tuple[float | None, float | None]:
    """The type I error that goes with scenario ``name`` (see :func:`null_reference`), or (None, None)."""
    reference, _ = null_reference(result, name)
    null = result.scenario(reference) if reference else None
    if not null:
        return None, None
    return _value(null.get("power")), _value(null.get("power_se"))


def overview(results: Sequence[Result]) -> pl.DataFrame:
    """One row per design × scenario: power, type I error, cost in patients and months, early stopping, diversity."""
    rows = []
    for r in ok(results):
        for name, s in r.scenarios.items():
            alpha, alpha_se = type_i_error(r, name)
            trials = int(s["trials"])
            diversity = s.get("diversity") if isinstance(s.get("diversity"), dict) else None
            ri, ri_se = _pair(diversity.get("representation_index")) if diversity else (None, None)
            goals = diversity.get("goals") if diversity else None
            rows.append(
                {
                    "Design": r.label,
                    "Scenario": name,
                    "Grid point": grid_text(s.get("grid")),
                    "Trials": trials,
                    **power_columns(s, trials),
                    "Type I error": alpha,
                    "Type I error SE": alpha_se,
                    "E[N] patients": _value(s.get("expected_sample_size")),
                    "E[N] SE": _value(s.get("expected_sample_size_se")),
                    "E[duration] months": _value(s.get("expected_duration")),
                    "E[duration] SE": _value(s.get("expected_duration_se")),
                    "E[events]": _value(s.get("expected_events")),
                    "P(early stop)": _value(s.get("early_stop")),
                    "Representation index": ri,
                    "Representation index SE": ri_se,
                    "P(diversity goals met)": _value(goals.get("probability_met")) if isinstance(goals, dict) else None,
                    "P(goals met) SE": _value(goals.get("probability_met_se")) if isinstance(goals, dict) else None,
                    "Under-represented (PPR < 0.8)": _groups_outside(diversity, low=True),
                }
            )
    return _frame(rows, OVERVIEW_SCHEMA)


OVERVIEW_SCHEMA = {
    "Design": pl.String,
    "Scenario": pl.String,
    "Grid point": pl.String,
    "Trials": pl.Int64,
    **{
        k: pl.Float64
        for k in (
            "Power",
            "Power SE",
            "Power 95% low",
            "Power 95% high",
            "Type I error",
            "Type I error SE",
            "E[N] patients",
            "E[N] SE",
            "E[duration] months",
            "E[duration] SE",
            "E[events]",
            "P(early stop)",
            "Representation index",
            "Representation index SE",
            "P(diversity goals met)",
            "P(goals met) SE",
        )
    },
    "Under-represented (PPR < 0.8)": pl.String,
}


def _frame(rows: list[dict], schema: dict) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def type_i_error_gaps(results: Sequence[Result]) -> dict[str, str]:
    """Designs with a scenario that has no type I error, and why (one reason per design)."""
    gaps = {}
    for r in ok(results):
        for name in r.scenarios:
            reference, why = null_reference(r, name)
            if reference is None:
                gaps.setdefault(r.label, why)
    return gaps


def per_look(results: Sequence[Result], scenario: str) -> pl.DataFrame:
    """Probability of stopping for efficacy and for futility at each look, with their SEs."""
    rows = []
    for r, s in having(results, scenario):
        looks = s.get("looks") or []
        info = s.get("information") or []
        reject, reject_se = s.get("reject_per_look") or [], s.get("reject_per_look_se") or []
        futile, futile_se = s.get("futility_per_look") or [], s.get("futility_per_look_se") or []
        for k, p in enumerate(reject):
            rows.append(
                {
                    "Design": r.label,
                    "Scenario": scenario,
                    "Look": k + 1,
                    "Look at": look_label(looks[k]) if k < len(looks) else None,
                    "Information": _value(info[k]) if k < len(info) else None,
                    "P(reject)": _value(p),
                    "P(reject) SE": _value(reject_se[k]) if k < len(reject_se) else None,
                    "P(stop for futility)": _value(futile[k]) if k < len(futile) else None,
                    "P(futility) SE": _value(futile_se[k]) if k < len(futile_se) else None,
                }
            )
    schema = {
        "Design": pl.String,
        "Scenario": pl.String,
        "Look": pl.Int64,
        "Look at": pl.String,
        "Information": pl.Float64,
        "P(reject)": pl.Float64,
        "P(reject) SE": pl.Float64,
        "P(stop for futility)": pl.Float64,
        "P(futility) SE": pl.Float64,
    }
    return _frame(rows, schema)


def comparisons(results: Sequence[Result], scenario: str) -> pl.DataFrame:
    """Power of each comparison with its interval, and the estimate against the true effect."""
    rows = []
    for r, s in having(results, scenario):
        for name, c in (s.get("per_comparison") or {}).items():
            rows.append(
                {
                    "Design": r.label,
                    "Comparison": name,
                    **power_columns(c, int(s["trials"])),
                    "Mean estimate": _value(c.get("mean_estimate")),
                    "True effect": _value(c.get("true_effect")),
                    "Bias": _value(c.get("bias")),
                    "Bias SE": _value(c.get("bias_se")),
                }
            )
    schema = {"Design": pl.String, "Comparison": pl.String} | {
        k: pl.Float64
        for k in (
            "Power",
            "Power SE",
            "Power 95% low",
            "Power 95% high",
            "Mean estimate",
            "True effect",
            "Bias",
            "Bias SE",
        )
    }
    return _frame(rows, schema)


def subgroups(results: Sequence[Result], scenario: str) -> pl.DataFrame:
    """Power within each subgroup level (at the nominal one-sided level, at the trial's last look)."""
    rows = []
    for r, s in having(results, scenario):
        for subgroup, levels in (s.get("subgroups") or {}).items():
            for level, by_comparison in levels.items():
                for comparison, g in by_comparison.items():
                    rows.append(
                        {
                            "Design": r.label,
                            "Subgroup": subgroup,
                            "Level": level,
                            "Comparison": comparison,
                            **power_columns(g, int(s["trials"])),
                            "Mean analysed": _value(g.get("mean_analysed")),
                            "Mean estimate": _value(g.get("mean_estimate")),
                        }
                    )
    schema = {"Design": pl.String, "Subgroup": pl.String, "Level": pl.String, "Comparison": pl.String} | {
        k: pl.Float64
        for k in ("Power", "Power SE", "Power 95% low", "Power 95% high", "Mean analysed", "Mean estimate")
    }
    return _frame(rows, schema)


def grid(results: Sequence[Result]) -> pl.DataFrame:
    """Grid scenarios in long form: one row per design, scenario and grid parameter, with that point's power.

    Columns: Design, Scenario, Base scenario, Parameter (full key), Value, Point (all the grid values),
    Power, Power SE, 95% interval, E[N] patients.
    """
    rows = []
    for r in ok(results):
        for name, s in r.scenarios.items():
            point = s.get("grid")
            if not isinstance(point, dict) or not point:
                continue
            power = power_columns(s, int(s["trials"]))
            for key, value in point.items():
                others = {k: v for k, v in point.items() if k != key}
                rows.append(
                    {
                        "Design": r.label,
                        "Scenario": name,
                        "Base scenario": s.get("base_scenario"),
                        "Parameter": key,
                        "Value": str(value),
                        "Value (number)": _number(value),
                        "Other parameters": grid_text(others) or "",
                        **power,
                        "E[N] patients": _value(s.get("expected_sample_size")),
                    }
                )
    schema = {
        "Design": pl.String,
        "Scenario": pl.String,
        "Base scenario": pl.String,
        "Parameter": pl.String,
        "Value": pl.String,
        "Value (number)": pl.Float64,
        "Other parameters": pl.String,
        "Power": pl.Float64,
        "Power SE": pl.Float64,
        "Power 95% low": pl.Float64,
        "Power 95% high": pl.Float64,
        "E[N] patients": pl.Float64,
    }
    return _frame(rows, schema)


# -- diversity --------------------------------------------------------------------------------


def diversity_of(result: Result, scenario: str) -> dict | None:
    s = result.scenario(scenario)
    d = s.get("diversity") if s else None
    return d if isinstance(d, dict) and d.get("columns") is not None else None


def demographic_columns(results: Sequence[Result], scenario: str) -> list[str]:
    """Demographic columns with a composition in any result's scenario, race/ethnicity, sex, age group first."""
    columns: dict[str, None] = {}
    for r in ok(results):
        d = diversity_of(r, scenario)
        if d:
            columns.update(dict.fromkeys(d["columns"]))
    return ordered_columns(columns)


def composition(results: Sequence[Result], scenario: str, column: str) -> pl.DataFrame:
    """Per design and group: target share, mean enrolled share, participation-to-prevalence ratio, screen failure."""
    rows = []
    for r in ok(results):
        d = diversity_of(r, scenario)
        if not d or column not in d["columns"]:
            continue
        for level, g in d["columns"][column].items():
            rows.append(
                {
                    "Design": r.label,
                    "Group": level,
                    "Target share": _value(g.get("target")),
                    "Enrolled share": _value(g.get("enrolled")),
                    "Enrolled SE": _value(g.get("enrolled_se")),
                    "PPR": _value(g.get("ppr")),
                    "PPR SE": _value(g.get("ppr_se")),
                    "Screen failure": _value(g.get("screen_failure")),
                }
            )
    schema = {"Design": pl.String, "Group": pl.String} | {
        k: pl.Float64 for k in ("Target share", "Enrolled share", "Enrolled SE", "PPR", "PPR SE", "Screen failure")
    }
    return _frame(rows, schema)


def screen_failure(results: Sequence[Result], scenario: str, column: str) -> pl.DataFrame:
    """Share of each group that the eligibility criteria exclude (also from results without a diversity summary)."""
    rows = []
    for r, s in having(results, scenario):
        d = diversity_of(r, scenario)
        if d and column in d["columns"]:
            rates = {level: g.get("screen_failure") for level, g in d["columns"][column].items()}
        else:
            rates = ((s.get("screening") or {}).get("screen_failure_by_group") or {}).get(column) or {}
        rows += [{"Design": r.label, "Group": level, "Screen failure": _value(v)} for level, v in rates.items()]
    return _frame(rows, {"Design": pl.String, "Group": pl.String, "Screen failure": pl.Float64})


def excluded_by_criterion(results: Sequence[Result], scenario: str) -> pl.DataFrame:
    rows = []
    for r in ok(results):
        s = r.scenario(scenario)
        screening = (s or {}).get("screening") or {}
        for criterion, share in (screening.get("excluded_by_criterion") or {}).items():
            rows.append({"Design": r.label, "Criterion": criterion, "Share excluded": _value(share)})
    return _frame(rows, {"Design": pl.String, "Criterion": pl.String, "Share excluded": pl.Float64})


def goals(results: Sequence[Result], scenario: str) -> pl.DataFrame:
    """Probability of meeting each diversity goal of the design, and all of them ("all goals")."""
    rows = []
    for r in ok(results):
        d = diversity_of(r, scenario)
        g = d.get("goals") if d else None
        if not isinstance(g, dict):
            continue
        rows.append(
            {
                "Design": r.label,
                "Goal": "all goals",
                "Column": None,
                "Group": None,
                "Target share": None,
                "P(met)": _value(g.get("probability_met")),
                "P(met) SE": _value(g.get("probability_met_se")),
            }
        )
        for column, levels in (g.get("per_goal") or {}).items():
            for level, goal in levels.items():
                share = _value(goal.get("goal"))
                rows.append(
                    {
                        "Design": r.label,
                        "Goal": f"{level} ≥ {share:.0%}" if share is not None else str(level),
                        "Column": column,
                        "Group": level,
                        "Target share": share,
                        "P(met)": _value(goal.get("probability_met")),
                        "P(met) SE": _value(goal.get("probability_met_se")),
                    }
                )
    schema = {
        "Design": pl.String,
        "Goal": pl.String,
        "Column": pl.String,
        "Group": pl.String,
        "Target share": pl.Float64,
        "P(met)": pl.Float64,
        "P(met) SE": pl.Float64,
    }
    return _frame(rows, schema)


def designs_without_goals(results: Sequence[Result], scenario: str) -> list[str]:
    return [r.label for r in ok(results) if (d := diversity_of(r, scenario)) and not isinstance(d.get("goals"), dict)]


def designs_without_diversity(results: Sequence[Result], scenario: str) -> list[str]:
    return [r.label for r in ok(results) if r.scenario(scenario) and not diversity_of(r, scenario)]


def indices(results: Sequence[Result], scenario: str) -> pl.DataFrame:
    """Simpson, Shannon, evenness (of the headline column) and the representation index, each with its SE."""
    rows = []
    for r in ok(results):
        d = diversity_of(r, scenario)
        if not d:
            continue
        row = {"Design": r.label, "Index column": d.get("index_column")}
        for key, title in (
            ("representation_index", "Representation index"),
            ("simpson", "Simpson"),
            ("shannon", "Shannon"),
            ("evenness", "Evenness"),
        ):
            row[title], row[f"{title} SE"] = _pair(d.get(key))
        rows.append(row)
    schema = {"Design": pl.String, "Index column": pl.String} | {
        k: pl.Float64 for t in ("Representation index", "Simpson", "Shannon", "Evenness") for k in (t, f"{t} SE")
    }
    return _frame(rows, schema)


def standardized_differences(results: Sequence[Result], scenario: str) -> pl.DataFrame:
    rows = []
    for r in ok(results):
        d = diversity_of(r, scenario)
        for covariate, v in ((d or {}).get("standardized_differences") or {}).items():
            value, se = _pair(v)
            rows.append({"Design": r.label, "Covariate": covariate, "Standardized difference": value, "SE": se})
    schema = {"Design": pl.String, "Covariate": pl.String, "Standardized difference": pl.Float64, "SE": pl.Float64}
    return _frame(rows, schema)


# -- trade-off --------------------------------------------------------------------------------

DIVERSITY_MEASURES = {
    "Representation index": ("representation_index", None),
    "P(diversity goals met)": ("goals", "probability_met"),
    "Simpson index": ("simpson", None),
}


def _diversity_measure(d: dict, measure: str) -> tuple[float | None, float | None]:
    key, sub = DIVERSITY_MEASURES[measure]
    if sub is None:
        return _pair(d.get(key))
    g = d.get(key)
    if not isinstance(g, dict):
        return None, None
    return _value(g.get(sub)), _value(g.get(f"{sub}_se"))


def tradeoff(
    results: Sequence[Result], measure: str = "Representation index", include_null: bool = False
) -> pl.DataFrame:
    """One point per design × scenario: power and a diversity measure, each with SE; flags the non-dominated ones.

    A point is *not dominated* when no other point has at least its power and its diversity, and more of one.
    """
    rows = []
    for r in ok(results):
        for name, s in r.scenarios.items():
            if is_null(name, s) and not include_null:
                continue
            d = s.get("diversity") if isinstance(s.get("diversity"), dict) else None
            x, x_se = _diversity_measure(d, measure) if d else (None, None)
            if x is None:
                continue
            rows.append(
                {
                    "Design": r.label,
                    "Scenario": name,
                    "Power": _value(s.get("power")),
                    "Power SE": _value(s.get("power_se")),
                    measure: x,
                    f"{measure} SE": x_se,
                    "E[N] patients": _value(s.get("expected_sample_size")),
                }
            )
    for row in rows:
        row["Not dominated"] = not any(
            o is not row
            and o["Power"] >= row["Power"]
            and o[measure] >= row[measure]
            and (o["Power"] > row["Power"] or o[measure] > row[measure])
            for o in rows
        )
    schema = {
        "Design": pl.String,
        "Scenario": pl.String,
        "Power": pl.Float64,
        "Power SE": pl.Float64,
        measure: pl.Float64,
        f"{measure} SE": pl.Float64,
        "E[N] patients": pl.Float64,
        "Not dominated": pl.Boolean,
    }
    return _frame(rows, schema)


# -- design details ---------------------------------------------------------------------------


def boundaries(result: Result, scenario: str) -> pl.DataFrame:
    """The looks of a scenario with their information fraction and boundaries on the benefit z scale."""
    s = result.scenario(scenario) or {}
    looks = s.get("looks") or []
    info = s.get("information") or []
    efficacy = s.get("efficacy_bounds") or {}
    futility = s.get("futility_bounds") or []
    rows = []
    for k, look in enumerate(looks):
        row = {"Look": k + 1, "At": look_label(look), "Information": _value(info[k]) if k < len(info) else None}
        for fraction, bounds in efficacy.items():
            title = "Efficacy z" if fraction in ("1", "1.0") else f"Efficacy z (alpha × {fraction})"
            row[title] = _value(bounds[k]) if k < len(bounds) else None
        row["Futility z"] = _value(futility[k]) if k < len(futility) else None
        rows.append(row)
    return pl.DataFrame(rows) if rows else pl.DataFrame()
