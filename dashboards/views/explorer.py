"""Trial explorer: one simulated trial, picked by index; its looks, and on request its patients."""

from pathlib import Path

import polars as pl
import streamlit as st

from dashboards import charts, redraw, tables, ui
from dashboards.tables import look_label

results = ui.page(
    "Trial explorer",
    "One simulated trial, picked by its index: what was seen at each look and what was decided, and on request "
    "its patients: Kaplan–Meier curves by arm, or the outcomes of each arm.",
)


@st.cache_resource(show_spinner=False, max_entries=8)
def _plan(path: str, design_file: str | None, scenario: str, seed: int, signature: str):
    return redraw.compile_scenario(Path(path), design_file, scenario, seed)


by_label = {r.label: r for r in results}
left, middle, right = st.columns(3)
label = left.selectbox("Design", list(by_label), key="explorer-design")
r = by_label[label]
names = list(r.scenarios)
scenario = middle.selectbox(
    "Scenario", names, index=names.index(tables.default_scenario([r], names)), key="explorer-scenario"
)
n_trials = int(r.scenarios[scenario]["trials"])
trial = int(right.number_input(f"Trial (0 to {n_trials - 1})", 0, n_trials - 1, 0, step=1, key="explorer-trial"))

trials = r.table("trials")
if trials is None:
    st.warning(f"This trial cannot be shown: {r.table_problem('trials')}")
    st.stop()

with ui.guard("This trial's looks"):
    rows = trials.filter((pl.col("scenario") == scenario) & (pl.col("trial") == trial)).sort("look", "comparison")
    if rows.is_empty():
        st.warning(f"trials.parquet of {r.path} has no rows for trial {trial} of scenario {scenario!r}.")
        st.stop()
    s = r.scenarios[scenario]
    looks = s.get("looks") or []
    stop = rows.filter(pl.col("stopped"))
    last = int(rows["look"].max())
    rejected = rows.filter(pl.col("reject"))["comparison"].unique(maintain_order=True).to_list()
    futile = rows.filter(pl.col("futility"))["comparison"].unique(maintain_order=True).to_list()
    if rejected:
        decision = f"rejected H0 for {', '.join(rejected)}"
    elif futile and last < len(looks):
        decision = f"stopped for futility at look {last}"
    else:
        decision = "did not reject H0"
    a, b, c, d = st.columns(4)
    a.metric("Decision", "success" if rejected else "no success", help=decision)
    b.metric("Stopped at look", f"{last} of {len(looks) or last}")
    c.metric("Duration (months)", f"{float(stop['time'][0] if stop.height else rows['time'].max()):.1f}")
    d.metric("Patients enrolled", int(stop["enrolled"][0] if stop.height else rows["enrolled"].max()))
    st.caption(f"Trial {trial} of scenario {scenario!r} {decision}.")
    efficacy = (s.get("efficacy_bounds") or {}).get("1")
    ui.chart(charts.z_path(rows, efficacy, s.get("futility_bounds"), r.benefit_sign()), "explorer-z-chart")
    shown = rows.with_columns(
        pl.col("look")
        .map_elements(lambda k: look_label(looks[k - 1]) if k <= len(looks) else "", pl.String)
        .alias("at")
    ).select(
        "look",
        "at",
        "comparison",
        "time",
        "enrolled",
        "analysed",
        "events",
        "estimate",
        "se",
        "z",
        "reject",
        "futility",
        "stopped",
    )
    ui.dataframe(
        shown, key="explorer-looks-table", formats={"time": "%.2f", "estimate": "%.4f", "se": "%.4f", "z": "%.3f"}
    )

st.header("Patients")
st.caption(
    "Result directories keep trials, not patients. The patients of this trial are drawn again from its seed block "
    f"(seed {r.summary.get('seed')}, scenario {scenario!r}) and checked against the stored look times; this takes "
    "about a second."
)
if st.toggle("Show this trial's patients", key="explorer-patients"):
    with ui.guard("This trial's patients"):
        try:
            with st.spinner("Drawing this trial's patients again…"):
                plan = _plan(
                    str(r.path), r.summary.get("design_file"), scenario, int(r.summary["seed"]), str(r.design_text())
                )
                trial_rows = rows.filter(pl.col("comparison") == rows["comparison"][0]).sort("look")
                drawn = redraw.redraw(
                    plan, int(r.summary["seed"]), trial, trial_rows["time"].to_list(), stream=s.get("base_scenario")
                )
        except redraw.RedrawError as exc:
            st.warning(str(exc))
            st.stop()
        look = st.selectbox(
            "Data as of look",
            list(range(1, last + 1)),
            index=last - 1,
            format_func=lambda k: f"look {k}" + (f" ({look_label(looks[k - 1])})" if k <= len(looks) else ""),
            key=f"explorer-look-{label}-{scenario}-{trial}",  # a new trial starts at its last look
        )
        data = drawn.data_at(look)
        order = {a: i for i, a in enumerate(drawn.arms)}
        data = data.sort(pl.col("arm").replace_strict(order, return_dtype=pl.Int64), maintain_order=True)
        arm_colors = {a: charts.ARM_PALETTE[i % len(charts.ARM_PALETTE)] for i, a in enumerate(drawn.arms)}
        if drawn.endpoint == "time_to_event":
            curves, per_arm = redraw.kaplan_meier(data)
            ui.chart(
                charts.kaplan_meier(curves, arm_colors, f"Kaplan–Meier by arm at look {look}"), "explorer-km-chart"
            )
            ui.dataframe(per_arm, key="explorer-arms-table", formats={"Median (months)": "%.1f"})
        else:
            binary = drawn.endpoint == "binary"
            ui.chart(
                charts.outcome_distribution(data, arm_colors, binary, f"Outcomes by arm at look {look}"),
                "explorer-outcome-chart",
            )
            per_arm = data.group_by("arm", maintain_order=True).agg(
                pl.len().alias("Analysed"), pl.col("outcome").mean().alias("Mean" if not binary else "Response rate")
            )
            ui.dataframe(
                per_arm.rename({"arm": "Arm"}), key="explorer-arms-table", formats=ui.probability_formats(per_arm)
            )
