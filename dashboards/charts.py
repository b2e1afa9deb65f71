"""Plotly figures over the tables of :mod:`dashboards.tables`; designs keep their colour everywhere."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from dashboards.loading import TARGET_COLOR
from dashboards.tables import PPR_BAND, Z95

DECISION_COLORS = {"Reject H0 (efficacy)": "#009E73", "Stop for futility": "#D55E00"}
ARM_PALETTE = ("#555555", "#0072B2", "#E69F00", "#CC79A7", "#009E73", "#D55E00")


def _layout(fig: go.Figure, title: str, **kwargs) -> go.Figure:
    layout = {"margin": {"l": 10, "r": 10, "t": 50, "b": 10}, "legend": {"title": None}, "hovermode": "closest"}
    fig.update_layout(title=title, **(layout | kwargs))
    return fig


def _error(values: pl.Series | None) -> dict | None:
    if values is None:
        return None
    return {"type": "data", "array": (values.fill_null(0) * Z95).to_list(), "visible": True}


def _interval(df: pl.DataFrame, low: str, high: str, value: str) -> dict:
    """Asymmetric error bars from interval columns."""
    return {
        "type": "data",
        "symmetric": False,
        "array": (df[high] - df[value]).fill_null(0).to_list(),
        "arrayminus": (df[value] - df[low]).fill_null(0).to_list(),
        "visible": True,
    }


def power_curves(df: pl.DataFrame, parameter: str, colors: dict[str, str], label: str) -> go.Figure:
    """Power against one grid parameter: a line per design, base scenario and value of the other parameters.

    The design gives the colour, the other parameters the dash, the base scenario the marker.
    """
    fig = go.Figure()
    rows = df.filter(pl.col("Parameter") == parameter)
    numeric = rows["Value (number)"].null_count() == 0
    rows = rows.sort("Value (number)" if numeric else "Value")
    dashes = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
    symbols = ["circle", "square", "diamond", "triangle-up", "x", "star"]
    others = rows["Other parameters"].unique(maintain_order=True).to_list()
    bases = rows["Base scenario"].fill_null("").unique(maintain_order=True).to_list()
    keys = ["Design", "Base scenario", "Other parameters"]
    for (design, base, other), line in rows.with_columns(pl.col("Base scenario").fill_null("")).group_by(
        keys, maintain_order=True
    ):
        name = " · ".join(part for part in (design, base, other) if part)
        fig.add_trace(
            go.Scatter(
                x=line["Value (number)" if numeric else "Value"].to_list(),
                y=line["Power"].to_list(),
                error_y=_interval(line, "Power 95% low", "Power 95% high", "Power"),
                mode="lines+markers",
                name=name,
                line={"color": colors.get(design), "dash": dashes[others.index(other) % len(dashes)]},
                marker={"symbol": symbols[bases.index(base) % len(symbols)], "size": 8},
                customdata=line["Scenario"].to_list(),
                hovertemplate="%{customdata}<br>power %{y:.3f}<extra>" + design + "</extra>",
            )
        )
    fig.update_yaxes(title="Power", range=[0, 1.02], tickformat=".0%")
    fig.update_xaxes(title=label, type="linear" if numeric else "category")
    return _layout(fig, f"Power against {label} (bars: 95% interval)")


def stopping_per_look(df: pl.DataFrame, colors: dict[str, str]) -> go.Figure:
    """Stacked bars per design (one panel each): probability of rejecting and of stopping for futility at each look."""
    designs = df["Design"].unique(maintain_order=True).to_list()
    widths = [max(1, df.filter(pl.col("Design") == d).height) for d in designs]
    fig = make_subplots(
        rows=1,
        cols=max(1, len(designs)),
        shared_yaxes=True,
        column_widths=[w / sum(widths) for w in widths] if designs else None,
        subplot_titles=[f"<span style='color:{colors.get(d, '#000')}'>■</span> {d}" for d in designs],
        horizontal_spacing=0.03,
    )
    for i, design in enumerate(designs):
        rows = df.filter(pl.col("Design") == design)
        for column, se, name in (
            ("P(reject)", "P(reject) SE", "Reject H0 (efficacy)"),
            ("P(stop for futility)", "P(futility) SE", "Stop for futility"),
        ):
            fig.add_trace(
                go.Bar(
                    x=[f"look {k}" for k in rows["Look"].to_list()],
                    y=rows[column].fill_null(0).to_list(),
                    name=name,
                    legendgroup=name,
                    showlegend=i == 0,
                    marker_color=DECISION_COLORS[name],
                    customdata=list(
                        zip(rows["Look at"].fill_null("").to_list(), rows[se].fill_null(0).to_list(), strict=True)
                    ),
                    hovertemplate="%{x} (%{customdata[0]}): %{y:.3f} ± %{customdata[1]:.3f} (SE)<extra>"
                    + f"{design}: {name}</extra>",
                ),
                row=1,
                col=i + 1,
            )
    fig.update_layout(barmode="stack")
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02])
    fig.update_yaxes(title="Probability", row=1, col=1)
    fig.update_annotations(font_size=12)
    return _layout(fig, "Decision at each look", margin={"l": 10, "r": 10, "t": 80, "b": 10})


def power_points(df: pl.DataFrame, category: str, colors: dict[str, str], title: str) -> go.Figure:
    """Power of each category (comparison, subgroup level) per design, with 95% intervals: a dot plot."""
    fig = go.Figure()
    for design, rows in df.group_by("Design", maintain_order=True):
        fig.add_trace(
            go.Scatter(
                x=rows["Power"].to_list(),
                y=rows[category].to_list(),
                error_x=_interval(rows, "Power 95% low", "Power 95% high", "Power"),
                mode="markers",
                marker={"color": colors.get(design[0]), "size": 10},
                name=design[0],
                hovertemplate="%{y}: power %{x:.3f}<extra>" + design[0] + "</extra>",
            )
        )
    fig.update_xaxes(title="Power", range=[0, 1.02], tickformat=".0%")
    fig.update_yaxes(title=None, autorange="reversed", type="category")
    fig.update_layout(scattermode="group")
    return _layout(fig, title, height=max(300, 40 * df[category].n_unique() + 120))


def composition(df: pl.DataFrame, colors: dict[str, str], title: str) -> go.Figure:
    """Enrolled shares per group and design (bars, ±1.96 SE) beside the target population's (grey)."""
    fig = go.Figure()
    targets = df.select("Group", "Target share").unique("Group", maintain_order=True)
    same_target = df.group_by("Group").agg(pl.col("Target share").n_unique())["Target share"].max() == 1
    if same_target:
        fig.add_trace(
            go.Bar(
                x=targets["Group"].to_list(),
                y=targets["Target share"].to_list(),
                name="Target population",
                marker_color=TARGET_COLOR,
                hovertemplate="%{x}: %{y:.1%} of the population with the disease<extra></extra>",
            )
        )
    for design, rows in df.group_by("Design", maintain_order=True):
        if not same_target:
            fig.add_trace(
                go.Bar(
                    x=rows["Group"].to_list(),
                    y=rows["Target share"].to_list(),
                    name=f"Target ({design[0]})",
                    marker={"color": TARGET_COLOR, "line": {"color": colors.get(design[0]), "width": 2}},
                )
            )
        fig.add_trace(
            go.Bar(
                x=rows["Group"].to_list(),
                y=rows["Enrolled share"].to_list(),
                error_y=_error(rows["Enrolled SE"]),
                name=design[0],
                marker_color=colors.get(design[0]),
                hovertemplate="%{x}: %{y:.1%} of the enrolled<extra>" + design[0] + "</extra>",
            )
        )
    fig.update_layout(barmode="group")
    fig.update_yaxes(title="Share", tickformat=".0%")
    return _layout(fig, title)


def ppr(df: pl.DataFrame, colors: dict[str, str], title: str) -> go.Figure:
    """Participation-to-prevalence ratio per group and design, with the 0.8-1.2 band."""
    fig = go.Figure()
    fig.add_hrect(y0=PPR_BAND[0], y1=PPR_BAND[1], fillcolor="#009E73", opacity=0.12, line_width=0)
    fig.add_hline(y=1.0, line={"color": "#555555", "dash": "dot", "width": 1})
    for design, rows in df.group_by("Design", maintain_order=True):
        fig.add_trace(
            go.Scatter(
                x=rows["Group"].to_list(),
                y=rows["PPR"].to_list(),
                error_y=_error(rows["PPR SE"]),
                mode="markers",
                marker={"color": colors.get(design[0]), "size": 11},
                name=design[0],
                hovertemplate="%{x}: PPR %{y:.2f}<extra>" + design[0] + "</extra>",
            )
        )
    top = max([1.5, *(v for v in df["PPR"].to_list() if v is not None)]) * 1.05
    fig.update_yaxes(title="Enrolled share / target share", range=[0, top])
    fig.update_layout(scattermode="group")
    fig.add_annotation(
        x=1,
        xref="paper",
        y=PPR_BAND[0],
        text="shaded: 0.8–1.2, represented",
        showarrow=False,
        xanchor="right",
        yanchor="top",
    )
    return _layout(fig, title)


def bars_by_design(
    df: pl.DataFrame, x: str, y: str, colors: dict[str, str], title: str, se: str | None = None, percent: bool = True
) -> go.Figure:
    fig = go.Figure()
    for design, rows in df.group_by("Design", maintain_order=True):
        fig.add_trace(
            go.Bar(
                x=rows[x].to_list(),
                y=rows[y].to_list(),
                error_y=_error(rows[se]) if se else None,
                name=design[0],
                marker_color=colors.get(design[0]),
                hovertemplate="%{x}: %{y:.3f}<extra>" + design[0] + "</extra>",
            )
        )
    fig.update_layout(barmode="group")
    fig.update_yaxes(title=y, tickformat=".0%" if percent else None)
    return _layout(fig, title)


def tradeoff(df: pl.DataFrame, measure: str, colors: dict[str, str]) -> go.Figure:
    """Power against diversity, one point per design × scenario; the non-dominated points are ringed."""
    fig = go.Figure()
    symbols = ["circle", "square", "diamond", "triangle-up", "cross", "x", "star", "hexagon"]
    scenarios = df["Scenario"].unique(maintain_order=True).to_list()
    for (design, scenario), rows in df.group_by(["Design", "Scenario"], maintain_order=True):
        best = rows["Not dominated"].to_list()
        fig.add_trace(
            go.Scatter(
                x=rows[measure].to_list(),
                y=rows["Power"].to_list(),
                error_x=_error(rows[f"{measure} SE"]),
                error_y=_error(rows["Power SE"]),
                mode="markers+text",
                text=[scenario] * rows.height,
                textposition="top center",
                marker={
                    "color": colors.get(design),
                    "size": 14,
                    "symbol": symbols[scenarios.index(scenario) % len(symbols)],
                    "line": {
                        "color": ["#000000" if b else "#FFFFFF" for b in best],
                        "width": [3 if b else 1 for b in best],
                    },
                },
                name=f"{design} · {scenario}",
                legendgroup=design,
                hovertemplate=f"{design} · {scenario}<br>{measure} %{{x:.3f}}<br>power %{{y:.3f}}<extra></extra>",
            )
        )
    fig.update_xaxes(title=f"{measure} (more diverse →)")
    fig.update_yaxes(title="Power (more likely to succeed →)", tickformat=".0%")
    return _layout(fig, f"Power against {measure.lower()} (bars: ±1.96 SE; black ring: not dominated)", height=520)


def z_path(looks: pl.DataFrame, efficacy: list[float] | None, futility: list[float] | None, sign: float) -> go.Figure:
    """A trial's benefit-oriented z statistic at each performed look, against the boundaries."""
    fig = go.Figure()
    k_all = list(range(1, 1 + max(len(efficacy or []), int(looks["look"].max() or 0))))
    if efficacy:
        fig.add_trace(
            go.Scatter(x=k_all, y=efficacy, mode="lines+markers", name="Efficacy bound", line={"color": "#009E73"})
        )
    if futility:
        fig.add_trace(
            go.Scatter(
                x=k_all[: len(futility)],
                y=futility,
                mode="lines+markers",
                name="Futility bound",
                line={"color": "#D55E00", "dash": "dash"},
            )
        )
    for i, (comparison, rows) in enumerate(looks.sort("look").group_by("comparison", maintain_order=True)):
        fig.add_trace(
            go.Scatter(
                x=rows["look"].to_list(),
                y=(rows["z"] * sign).to_list(),
                mode="lines+markers",
                name=f"z: {comparison[0]}",
                marker={"size": 11, "color": ARM_PALETTE[(i + 1) % len(ARM_PALETTE)]},
            )
        )
    fig.update_xaxes(title="Look", tickmode="array", tickvals=k_all)
    fig.update_yaxes(title="z (positive favours treatment)")
    return _layout(fig, "The trial's test statistic against the boundaries")


def kaplan_meier(curves: pl.DataFrame, arm_colors: dict[str, str], title: str) -> go.Figure:
    """Step curves of survival per arm with pointwise 95% bands (columns: arm, time, survival, low, high)."""
    fig = go.Figure()
    for arm, rows in curves.group_by("arm", maintain_order=True):
        color = arm_colors.get(arm[0], "#555555")
        fig.add_trace(
            go.Scatter(
                x=rows["time"].to_list() + rows["time"].to_list()[::-1],
                y=rows["high"].to_list() + rows["low"].to_list()[::-1],
                fill="toself",
                fillcolor=color,
                opacity=0.15,
                line={"width": 0, "shape": "hv"},
                hoverinfo="skip",
                showlegend=False,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=rows["time"].to_list(),
                y=rows["survival"].to_list(),
                mode="lines",
                line={"shape": "hv", "color": color, "width": 2.5},
                name=arm[0],
                hovertemplate="%{x:.1f} months: %{y:.1%}<extra>" + arm[0] + "</extra>",
            )
        )
    fig.update_xaxes(title="Months from entry")
    fig.update_yaxes(title="Event-free", range=[0, 1.02], tickformat=".0%")
    return _layout(fig, title)


def outcome_distribution(df: pl.DataFrame, arm_colors: dict[str, str], binary: bool, title: str) -> go.Figure:
    """Histogram (continuous) or response rate (binary) of the analysed patients' outcomes per arm."""
    fig = go.Figure()
    if binary:
        rates = df.group_by("arm", maintain_order=True).agg(pl.col("outcome").mean(), pl.len().alias("n"))
        fig.add_trace(
            go.Bar(
                x=rates["arm"].to_list(),
                y=rates["outcome"].to_list(),
                marker_color=[arm_colors.get(a, "#555555") for a in rates["arm"].to_list()],
                text=[f"{r:.0%} of {n}" for r, n in zip(rates["outcome"].to_list(), rates["n"].to_list(), strict=True)],
                showlegend=False,
            )
        )
        fig.update_yaxes(title="Responders", tickformat=".0%", range=[0, 1])
    else:
        for arm, rows in df.group_by("arm", maintain_order=True):
            fig.add_trace(
                go.Histogram(
                    x=rows["outcome"].to_list(),
                    name=arm[0],
                    marker_color=arm_colors.get(arm[0], "#555555"),
                    opacity=0.6,
                    nbinsx=30,
                )
            )
        fig.update_layout(barmode="overlay")
        fig.update_xaxes(title="Outcome")
        fig.update_yaxes(title="Patients")
    return _layout(fig, title)
