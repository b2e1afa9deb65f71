"""Power: curves over a grid, decisions per look, per comparison and per subgroup, with intervals."""

import streamlit as st

from dashboards import charts, tables, ui

results = ui.page(
    "Power",
    "How likely each design is to show an effect, when it stops, and for whom. Bars and whiskers are 95% "
    "intervals over the simulated trials.",
)
colors = ui.colours(results)
ui.legend(results)

st.header("Power curves")
with ui.guard("The power curves"):
    grid = tables.grid(results)
    if grid.is_empty():
        st.info(
            "No grid was run: none of these result directories has grid scenarios (scenarios with a `grid` entry "
            "that vary the sample size or the effect size), so there is no curve to draw. The power of each "
            "scenario is in the sections below."
        )
    else:
        parameters = grid["Parameter"].unique(maintain_order=True).to_list()
        parameter = st.selectbox(
            "Along",
            parameters,
            format_func=lambda k: tables.short_param(k, parameters) + ("" if "." not in k else f"  ({k})"),
            key="power-grid-parameter",
        )
        label = tables.short_param(parameter, parameters)
        ui.chart(charts.power_curves(grid, parameter, colors, label), key="power-curves-chart")
        points = grid.filter(grid["Parameter"] == parameter).sort(
            "Design", "Base scenario", "Other parameters", "Value (number)", "Value"
        )
        shown = [c for c in points.columns if c != "Value (number)"]
        ui.dataframe(points, key="power-grid-table", formats=ui.probability_formats(points), column_order=shown)
        st.caption(
            "The points of a grid share their random numbers (common random numbers), so differences along a curve "
            "are estimated more precisely than the intervals of single points suggest."
        )
        no_grid = [r.label for r in results if r.label not in set(grid["Design"].to_list())]
        if no_grid:
            st.caption(f"No grid in: {', '.join(no_grid)}.")

scenario = ui.pick_scenario(results, key="power-scenario")

st.header("Decisions at each look")
with ui.guard("The decisions per look"):
    looks = tables.per_look(results, scenario)
    st.caption(
        "Probability that the trial rejects the null hypothesis (green) or stops for futility (orange) at each look; "
        "what is left of the bar's full height continued to the next look or ended without a decision."
    )
    ui.chart(charts.stopping_per_look(looks, colors), key="power-looks-chart")
    ui.dataframe(looks, key="power-looks-table", formats=ui.probability_formats(looks))

st.header("Per comparison")
with ui.guard("The power per comparison"):
    comparisons = tables.comparisons(results, scenario)
    if comparisons.is_empty():
        st.info(f"No per-comparison figures for scenario {scenario!r}.")
    else:
        ui.chart(
            charts.power_points(comparisons, "Comparison", colors, "Power of each comparison"),
            key="power-comparisons-chart",
        )
        ui.dataframe(comparisons, key="power-comparisons-table", formats=ui.probability_formats(comparisons))
        st.caption(
            "Estimates are on the test's scale (log hazard ratio, difference in means or in proportions); bias is "
            "the mean estimate at the stopping look minus the true effect."
        )

st.header("Per subgroup")
with ui.guard("The power per subgroup"):
    subgroups = tables.subgroups(results, scenario)
    if subgroups.is_empty():
        st.info(f"No design here defines subgroups (analysis.subgroups) in scenario {scenario!r}.")
    else:
        names = subgroups["Subgroup"].unique(maintain_order=True).to_list()
        chosen = st.selectbox("Subgroup", names, key="power-subgroup")
        rows = subgroups.filter(subgroups["Subgroup"] == chosen)
        comparison_names = rows["Comparison"].unique(maintain_order=True).to_list()
        if len(comparison_names) > 1:
            comparison = st.selectbox("Comparison", comparison_names, key="power-subgroup-comparison")
            rows = rows.filter(rows["Comparison"] == comparison)
        ui.chart(
            charts.power_points(rows, "Level", colors, f"Power within each level of {chosen}"),
            key="power-subgroups-chart",
        )
        ui.dataframe(subgroups, key="power-subgroups-table", formats=ui.probability_formats(subgroups))
        st.caption(
            "Each subgroup is tested alone at the nominal one-sided level at the trial's last look, without "
            "adjustment: a guide to how many patients of each group a design gives, not a confirmatory claim."
        )
