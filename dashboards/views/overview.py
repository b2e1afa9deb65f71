"""Overview: one row per design × scenario, sortable, downloadable."""

import streamlit as st

from dashboards import tables, ui

results = ui.page(
    "Overview",
    "What each design buys: the chance of success, the cost in patients and months, and how well the enrolled "
    "patients resemble the people who have the disease. One row per design × scenario; click a column to sort.",
)
ui.show_problems([r for r in results if r.status.notes], notes=True)
ui.legend(results)

with ui.guard("The overview table"):
    table = tables.overview(results)
    if table["Grid point"].null_count() == table.height:
        table = table.drop("Grid point")
    formats = ui.probability_formats(table) | {
        "E[N] patients": "%.1f",
        "E[N] SE": "%.2f",
        "E[duration] months": "%.1f",
        "E[duration] SE": "%.2f",
        "E[events]": "%.1f",
    }
    show_se = st.toggle("Show Monte Carlo standard errors", value=False, key="overview-se")
    shown = [c for c in table.columns if show_se or not c.endswith("SE")]
    ui.dataframe(table, key="overview-table", formats=formats, pinned=("Design", "Scenario"), column_order=shown)
    st.download_button(
        "Download as CSV",
        table.write_csv(),
        file_name="trialsim-overview.csv",
        mime="text/csv",
        key="overview-download",
    )
    st.caption(
        "Power: the probability of rejecting the null hypothesis for at least one comparison, with its 95% "
        "Wilson interval over the simulated trials (the Monte Carlo SE of every figure: the toggle above, and the "
        "CSV). Type I error: the power of the design's `null` scenario. E[N], E[duration]: patients enrolled and "
        "months from first patient in, at the look the trial stops. Representation index: 1 − total variation "
        "distance between enrolled and target shares, averaged over the demographic columns (1 = the enrolled "
        "look like the disease population)."
    )
    for design, why in tables.type_i_error_gaps(results).items():
        st.info(f"No type I error for (some scenarios of) {design}: {why}.")
