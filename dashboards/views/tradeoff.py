"""Trade-off: power against diversity, one point per design × scenario."""

import streamlit as st

from dashboards import charts, tables, ui

results = ui.page(
    "Trade-off",
    "Power against diversity: one point per design × scenario. Up is more likely to succeed, right is more "
    "representative of the people with the disease; a point that no other beats on both is ringed.",
)
colors = ui.colours(results)
ui.legend(results)

left, right = st.columns([2, 1])
measure = left.selectbox("Diversity measure", list(tables.DIVERSITY_MEASURES), key="tradeoff-measure")
include_null = right.checkbox(
    "Include null scenarios", value=False, key="tradeoff-null", help="and the grid points on the null scenario"
)

with ui.guard("The trade-off"):
    points = tables.tradeoff(results, measure=measure, include_null=include_null)
    missing = sorted(
        {r.label for r in results} - set(points["Design"].to_list()),
        key=[r.label for r in results].index,
    )
    if points.is_empty():
        st.info(
            f"No design here has {measure.lower()} in its results (no diversity summary, or no diversity goals), "
            "so there is nothing to place on the diversity axis."
        )
    else:
        ui.chart(charts.tradeoff(points, measure, colors), "tradeoff-chart")
        ui.dataframe(points, key="tradeoff-table", formats=ui.probability_formats(points) | {"E[N] patients": "%.1f"})
        best = points.filter(points["Not dominated"])
        st.markdown(
            "**Not dominated** (no other design × scenario has both more power and more diversity): "
            + "; ".join(f"{d} · {s}" for d, s in zip(best["Design"], best["Scenario"], strict=True))
        )
    if missing:
        st.caption(f"Not shown (no {measure.lower()}): {', '.join(missing)}.")
