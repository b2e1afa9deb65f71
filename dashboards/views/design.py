"""Design details: the YAML of each design as simulated, its looks and boundaries, its screening."""

import streamlit as st

from dashboards import tables, ui

results = ui.page("Design details", "Each design as it was simulated (the design.yaml kept in its result directory).")

for tab, r in zip(st.tabs([r.label for r in results]), results, strict=True):
    with tab, ui.guard(f"The details of {r.label}"):
        summary = r.summary
        st.subheader(r.title)
        first = next(iter(r.scenarios.values()))
        st.markdown(
            f"<span style='color:{r.color}'>■</span> **{r.label}** · {r.path} · simulated from "
            f"`{summary.get('design_file', '?')}` with seed {summary.get('seed', '?')}, {first.get('trials', '?')} "
            f"trials per scenario · scenarios: {', '.join(r.scenarios)}",
            unsafe_allow_html=True,
        )
        scenario = st.selectbox("Scenario", list(r.scenarios), key=f"design-scenario-{r.label}")
        bounds = tables.boundaries(r, scenario)
        if not bounds.is_empty():
            st.markdown("**Looks and boundaries** (z scale, positive favours the treatment)")
            ui.dataframe(bounds, key=f"design-bounds-{r.label}", formats=ui.probability_formats(bounds))
        screening = (r.scenario(scenario) or {}).get("screening") or {}
        if screening.get("screened"):
            st.markdown(
                f"**Screening**: {screening.get('eligible', 0):,} of {screening['screened']:,} people of the "
                f"population are eligible ({screening.get('eligible', 0) / screening['screened']:.1%})."
            )
        text = r.design_text()
        if text is None:
            st.warning(f"{r.path / 'design.yaml'} is missing: this result directory does not keep its design.")
        else:
            st.markdown("**The design** (design.yaml)")
            st.code(text, language="yaml")
