"""What the pages share: this session's results, their colours, pickers, messages and guards."""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import polars as pl
import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

from dashboards import tables
from dashboards.loading import Result, colour_map, dir_signature, label_and_colour, load_result, requested_dirs

REPO = Path(__file__).resolve().parent.parent
DESIGNS = REPO / "designs"
SIMULATED = "simulated_dirs"  # session state: result directories written by this session's "Run" button


@st.cache_resource(show_spinner=False, max_entries=64)
def _load(path: str, signature: tuple) -> Result:
    return load_result(path)


def results() -> list[Result]:
    """The result directories of this session (given at start, plus any simulated here), checked and labelled."""
    paths = [*requested_dirs(sys.argv), *st.session_state.get(SIMULATED, [])]
    paths = list(dict.fromkeys(Path(p) for p in paths))
    return label_and_colour([_load(str(p), dir_signature(p)) for p in paths])


def colours(res: Sequence[Result]) -> dict[str, str]:
    return colour_map(res)


def page(title: str, intro: str) -> list[Result]:
    """Title, introduction and problems of a page; the readable results, or the page stops with an explanation."""
    st.title(title)
    st.caption(intro)
    res = results()
    show_problems(res)
    usable = tables.ok(res)
    if not usable:
        if not res:
            st.info(
                "No result directories were given. Start the dashboard with the directories that "
                "`trialsim simulate DESIGN --out DIR` wrote: `trialsim dashboard results/pfs results/binary`, "
                "or run a small simulation from the sidebar."
            )
        else:
            st.info("None of the result directories can be shown; the messages above say why.")
        st.stop()
    return usable


def show_problems(res: Sequence[Result], notes: bool = False) -> None:
    for r in res:
        for message in r.status.errors:
            st.error(message, icon=":material/error:")
        if notes:
            for message in r.status.notes:
                st.warning(message)


def legend(res: Sequence[Result]) -> None:
    """The designs with their colours, as a line of coloured labels."""
    parts = [f"<span style='color:{r.color}; font-weight:600'>■ {r.label}</span>" for r in res]
    st.markdown(" &nbsp; ".join(parts), unsafe_allow_html=True)


def pick_scenario(res: Sequence[Result], key: str, label: str = "Scenario", grid: bool | None = None) -> str:
    """A scenario of at least one result (plain scenarios first); ``expected`` by default when there is one."""
    names = tables.scenario_names(res, grid=grid) or tables.scenario_names(res)
    choice = st.selectbox(label, names, index=names.index(tables.default_scenario(res, names)), key=key)
    missing = [r.label for r in res if choice not in r.scenarios]
    if missing:
        st.caption(f"Not in: {', '.join(missing)} (no scenario named {choice!r}).")
    return choice


def dataframe(
    df: pl.DataFrame, key: str, formats: dict[str, str] | None = None, pinned: Sequence[str] = ("Design",), **kwargs
) -> None:
    """A sortable table; ``formats`` maps columns to printf formats (numbers keep full precision underneath)."""
    config = {c: st.column_config.NumberColumn(c, format=f) for c, f in (formats or {}).items() if c in df.columns}
    config |= {c: st.column_config.Column(c, pinned=True) for c in pinned if c in df.columns}
    # A display table has no element id, so the keyed container is what tests (and CSS) find it by.
    with st.container(key=key):
        st.dataframe(df, hide_index=True, column_config=config, width="stretch", **kwargs)


def probability_formats(df: pl.DataFrame) -> dict[str, str]:
    """Three decimals for every float column (probabilities, SEs); the pages override where needed."""
    return {c: "%.3f" for c, t in df.schema.items() if t == pl.Float64}


def chart(fig, key: str) -> None:
    st.plotly_chart(fig, key=key, width="stretch", config={"displaylogo": False})


@contextlib.contextmanager
def guard(what: str) -> Iterator[None]:
    """Show a section; if its data are not what this dashboard expects, explain it on the page, not as a traceback."""
    try:
        yield
    except ScriptControlException:
        raise
    except Exception as exc:  # the page goes on with its other sections
        st.error(
            f"{what} cannot be shown from these results ({type(exc).__name__}: {exc}). They may come from another "
            "version of trialsim; run `trialsim simulate` again to refresh them."
        )


def sidebar(res: Sequence[Result]) -> None:
    """Which directories are shown, with their state, and a button to simulate a design of designs/."""
    with st.sidebar:
        st.subheader("Results")
        if not res:
            st.caption("No result directories given.")
        for r in res:
            if r.ok:
                notes = f" — {len(r.status.notes)} note(s)" if r.status.notes else ""
                st.markdown(
                    f"<span style='color:{r.color}'>■</span> **{r.label}**<br><small>{r.path}{notes}</small>",
                    unsafe_allow_html=True,
                )
                for note in r.status.notes:
                    st.caption(note)
            else:
                st.markdown(f"✖ **{r.path}**<br><small>cannot be shown (see the page)</small>", unsafe_allow_html=True)
        run_small_simulation()


def run_small_simulation() -> None:
    """Simulate a design of designs/ with few trials into a temporary folder and add it to this session."""
    designs = sorted(DESIGNS.glob("*.yaml"))
    if not designs:
        return
    with st.expander("Run a small simulation"):
        st.caption("Simulates a design of designs/ in this process, into a temporary folder, and adds it here.")
        design = st.selectbox("Design", designs, format_func=lambda p: p.name, key="run-design")
        trials = st.number_input("Trials per scenario", 50, 2000, 250, step=50, key="run-trials")
        seed = st.number_input("Seed", 0, 2**31 - 1, 1, key="run-seed")
        if st.button("Simulate", key="run-simulate"):
            import trialsim

            out = Path(tempfile.mkdtemp(prefix=f"trialsim-dashboard-{design.stem}-"))
            try:
                with st.spinner(f"Simulating {design.name}, {trials} trials per scenario…"):
                    trialsim.simulate(design, trials=int(trials), seed=int(seed)).write(out)
            except Exception as exc:  # a design that does not simulate: say why
                st.error(f"{design.name} could not be simulated: {exc}")
                return
            st.session_state[SIMULATED] = [*st.session_state.get(SIMULATED, []), str(out)]
            st.rerun()
