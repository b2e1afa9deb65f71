"""Diversity: who each design enrols against who has the disease."""

import streamlit as st

from dashboards import charts, tables, ui

results = ui.page(
    "Diversity",
    "Whether the people a design enrols resemble the people who have the disease: enrolled shares against the "
    "target population, participation-to-prevalence ratios, the design's diversity goals and who the eligibility "
    "criteria screen out.",
)
colors = ui.colours(results)
ui.legend(results)
scenario = ui.pick_scenario(results, key="diversity-scenario")

without = tables.designs_without_diversity(results, scenario)
if without:
    st.warning(
        f"No diversity summary in scenario {scenario!r} of {', '.join(without)}: these results were written before "
        "trialsim summarised the diversity of enrolment. Run `trialsim simulate` again to add it; only their "
        "screen-failure rates are shown below."
    )

columns = tables.demographic_columns(results, scenario)
fallback = {
    c
    for r in results
    for c in (((r.scenario(scenario) or {}).get("screening") or {}).get("screen_failure_by_group") or {})
}
columns += [c for c in tables.ordered_columns(dict.fromkeys(fallback)) if c not in columns]
if not columns:
    st.info(f"No demographic column (race/ethnicity, sex, age group) in the results of scenario {scenario!r}.")
    st.stop()
column = st.radio(
    "Group by", columns, format_func=lambda c: tables.COLUMN_TITLES.get(c, c), horizontal=True, key="diversity-column"
)
title = tables.COLUMN_TITLES.get(column, column)

st.header("Enrolled against the target population")
with ui.guard("The enrolled composition"):
    comp = tables.composition(results, scenario, column)
    if comp.is_empty():
        st.info(f"No enrolled composition by {title.lower()} in these results.")
    else:
        left, right = st.columns(2)
        with left:
            ui.chart(charts.composition(comp, colors, "Enrolled and target shares"), "diversity-comp-chart")
        with right:
            ui.chart(charts.ppr(comp, colors, "Participation-to-prevalence ratio"), "diversity-ppr-chart")
        ui.dataframe(comp, key="diversity-composition-table", formats=ui.probability_formats(comp))
        st.caption(
            "Target share: the group's share of the population with the disease (the cohort before eligibility). "
            "Enrolled share: mean over the simulated trials of the group's share of the patients enrolled by the "
            "trial's last look (whiskers ±1.96 SE). PPR = enrolled share / target share; 0.8–1.2 (shaded) counts as "
            "represented, as in the FDA's Drug Trials Snapshots."
        )

st.header("Diversity goals")
with ui.guard("The diversity goals"):
    goals = tables.goals(results, scenario)
    no_goals = tables.designs_without_goals(results, scenario)
    if not goals.is_empty():
        shown = goals.filter(goals["Goal"] != "all goals")
        ui.chart(
            charts.bars_by_design(
                goals.with_columns(goals["Goal"].fill_null("all goals")),
                "Goal",
                "P(met)",
                colors,
                "Probability that a trial meets each goal, and all of them",
                se="P(met) SE",
            ),
            "diversity-goals-chart",
        )
        ui.dataframe(goals, key="diversity-goals-table", formats=ui.probability_formats(goals))
        st.caption(
            f"A goal is met when the enrolled share of its group reaches the goal's share ({shown.height} goal(s) "
            "here); 'all goals' is the probability that a trial meets every goal of its design."
        )
    if no_goals:
        st.info(f"{', '.join(no_goals)} set(s) no diversity goals (population.diversity_goals in the design).")

st.header("Screened out by eligibility")
with ui.guard("The screen-failure rates"):
    failures = tables.screen_failure(results, scenario, column)
    if failures.is_empty():
        st.info(f"No screen-failure rates by {title.lower()} in these results.")
    else:
        ui.chart(
            charts.bars_by_design(
                failures, "Group", "Screen failure", colors, f"{title}: share excluded by the eligibility criteria"
            ),
            "diversity-screen-chart",
        )
        ui.dataframe(failures, key="diversity-screen-table", formats=ui.probability_formats(failures))
    criteria = tables.excluded_by_criterion(results, scenario)
    if not criteria.is_empty():
        st.caption("Share of the population each criterion excludes (criteria overlap):")
        ui.dataframe(criteria, key="diversity-criteria-table", formats=ui.probability_formats(criteria))

st.header("Diversity indices")
with ui.guard("The diversity indices"):
    idx = tables.indices(results, scenario)
    if not idx.is_empty():
        ui.dataframe(idx, key="diversity-indices-table", formats=ui.probability_formats(idx))
        st.caption(
            "Simpson (1 − Σp²), Shannon (−Σp log p) and Pielou's evenness of the index column among the enrolled; "
            "representation index = 1 − total variation distance to the target shares, averaged over the columns."
        )
    diffs = tables.standardized_differences(results, scenario)
    if not diffs.is_empty():
        st.caption("Standardized differences of the enrolled from the target population (|d| > 0.1 is notable):")
        ui.dataframe(diffs, key="diversity-stddiff-table", formats=ui.probability_formats(diffs))
