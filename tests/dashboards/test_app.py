"""The dashboard with streamlit's AppTest over result directories simulated in the test: every page, its numbers."""

from __future__ import annotations

import json
import math

import polars as pl
import pytest

from dashboards.tables import wilson
from trialsim.run.store import BLOCK_SUFFIX


def rows_by(df: pl.DataFrame, *keys: str) -> dict:
    return {tuple(row[k] for k in keys): row for row in df.iter_rows(named=True)}


def test_overview_rows_equal_summary(dash, results):
    at = dash.open(results["pfs"], results["binary"], results["dose"])
    assert [t.value for t in at.title] == ["Overview"]
    assert not at.error
    table = dash.table(at, "overview-table")
    shown = rows_by(table, "Design", "Scenario")
    expected_rows = 0
    for path in results.values():
        s = dash.summary(path)
        null = s["scenarios"]["null"]
        for name, sc in s["scenarios"].items():
            expected_rows += 1
            row = shown[(s["design"], name)]
            assert row["Trials"] == sc["trials"]
            assert row["Power"] == sc["power"] and row["Power SE"] == sc["power_se"]
            low, high = wilson(sc["power"], sc["trials"])
            assert row["Power 95% low"] == pytest.approx(low) and row["Power 95% high"] == pytest.approx(high)
            assert row["Power 95% low"] <= sc["power"] <= row["Power 95% high"]
            assert row["Type I error"] == null["power"] and row["Type I error SE"] == null["power_se"]
            assert row["E[N] patients"] == sc["expected_sample_size"]
            assert row["E[N] SE"] == sc["expected_sample_size_se"]
            assert row["E[duration] months"] == sc["expected_duration"]
            assert row["E[duration] SE"] == sc["expected_duration_se"]
            assert row["P(early stop)"] == sc["early_stop"]
            if "expected_events" in sc:
                assert row["E[events]"] == sc["expected_events"]
            diversity = sc["diversity"]
            assert row["Representation index"] == diversity["representation_index"]["value"]
            assert row["Representation index SE"] == diversity["representation_index"]["se"]
            if "goals" in diversity:
                assert row["P(diversity goals met)"] == diversity["goals"]["probability_met"]
            else:
                assert row["P(diversity goals met)"] is None or math.isnan(row["P(diversity goals met)"])
    assert table.height == expected_rows
    # Sortable (st.dataframe) and downloadable.
    assert [b.label for b in at.get("download_button")] == ["Download as CSV"]
    # Designs keep one colour each, given in the order of the directories.
    legend = at.markdown[0].value
    assert legend.index("nsclc-pfs-gsd") < legend.index("binary-response-2to1") < legend.index("t2d-hba1c")


def test_overview_explains_a_design_without_null_scenario(dash, results, tmp_path):
    copy = dash.copy(results["binary"], tmp_path / "no-null")
    s = dash.summary(copy)
    del s["scenarios"]["null"]
    (copy / "summary.json").write_text(json.dumps(s))
    at = dash.open(copy)
    table = dash.table(at, "overview-table")
    assert table["Type I error"].is_null().all() or table["Type I error"].is_nan().all()
    assert any("no scenario named `null`" in i.value for i in at.info)


def test_power_page_numbers_equal_summary(dash, results):
    at = dash.visit(dash.open(results["pfs"], results["dose"]), "power")
    assert [t.value for t in at.title] == ["Power"]
    assert any("No grid was run" in i.value for i in at.info)
    assert at.selectbox(key="power-scenario").value == "expected"
    pfs, dose = dash.summary(results["pfs"]), dash.summary(results["dose"])

    looks = rows_by(dash.table(at, "power-looks-table"), "Design", "Look")
    sc = pfs["scenarios"]["expected"]
    for k in range(3):
        row = looks[(pfs["design"], k + 1)]
        assert row["P(reject)"] == sc["reject_per_look"][k] and row["P(reject) SE"] == sc["reject_per_look_se"][k]
        assert row["P(stop for futility)"] == sc["futility_per_look"][k]
        assert row["Information"] == sc["information"][k]
        assert row["Look at"] == f"{sc['looks'][k]['value']:g} events"
    assert looks[(dose["design"], 1)]["P(reject)"] == dose["scenarios"]["expected"]["reject_per_look"][0]

    comparisons = rows_by(dash.table(at, "power-comparisons-table"), "Design", "Comparison")
    assert len(comparisons) == 3
    for s in (pfs, dose):
        for name, c in s["scenarios"]["expected"]["per_comparison"].items():
            row = comparisons[(s["design"], name)]
            assert row["Power"] == c["power"] and row["Power SE"] == c["power_se"]
            assert row["True effect"] == c["true_effect"] and row["Bias"] == c["bias"]

    subgroups = rows_by(dash.table(at, "power-subgroups-table"), "Design", "Subgroup", "Level", "Comparison")
    for s in (pfs, dose):
        for subgroup, levels in s["scenarios"]["expected"]["subgroups"].items():
            for level, by_comparison in levels.items():
                for comparison, g in by_comparison.items():
                    row = subgroups[(s["design"], subgroup, level, comparison)]
                    assert row["Power"] == g["power"] and row["Mean analysed"] == g["mean_analysed"]
    charts = [c.key for c in at.get("plotly_chart")]
    assert charts == ["power-looks-chart", "power-comparisons-chart", "power-subgroups-chart"]

    # Another scenario: the numbers follow.
    at.selectbox(key="power-scenario").set_value("null").run()
    assert not at.exception
    looks = rows_by(dash.table(at, "power-looks-table"), "Design", "Look")
    assert looks[(pfs["design"], 2)]["P(reject)"] == pfs["scenarios"]["null"]["reject_per_look"][1]


def test_power_curves_from_a_grid(dash, grid_results, results):
    at = dash.visit(dash.open(grid_results, results["pfs"]), "power")
    s = dash.summary(grid_results)
    assert len(s["scenarios"]) == 12 and all("grid" in sc for sc in s["scenarios"].values())  # a real grid run
    parameter = at.selectbox(key="power-grid-parameter")
    assert parameter.options == [
        "sample_size  (enrollment.sample_size)",
        "odds_ratio  (endpoints.response.effect.odds_ratio)",
    ]
    assert parameter.value == "enrollment.sample_size"
    points = dash.table(at, "power-grid-table")
    assert points.height == 12 and set(points["Parameter"]) == {"enrollment.sample_size"}
    for row in points.iter_rows(named=True):
        sc = s["scenarios"][row["Scenario"]]
        assert row["Value (number)"] == sc["grid"]["enrollment.sample_size"]
        assert row["Base scenario"] == sc["base_scenario"]
        assert row["Power"] == sc["power"] and row["Power SE"] == sc["power_se"]
        assert row["Other parameters"] == f"odds_ratio = {sc['grid']['endpoints.response.effect.odds_ratio']}"
    # A line per base scenario and odds ratio, in the design's colour; power rises with the sample size.
    figure = json.loads(at.get_by_key("power-curves-chart").proto.spec)
    lines = {t["name"]: t for t in figure["data"]}
    assert len(lines) == 4 and {t["line"]["color"] for t in lines.values()} == {"#0072B2"}
    for name, line in lines.items():
        assert line["x"] == [120.0, 240.0, 360.0], name
    for ratio in ("1.5", "2.0"):
        y = lines[f"binary-response-2to1 · expected · odds_ratio = {ratio}"]["y"]
        assert y[0] < y[-1]
    assert any("No grid in: nsclc-pfs-gsd" in c.value for c in at.caption)
    parameter.set_value("endpoints.response.effect.odds_ratio").run()
    points = dash.table(at, "power-grid-table")
    assert points.height == 12 and set(points["Value (number)"]) == {1.5, 2.0}


def test_type_i_error_of_grid_points(dash, grid_results, sample_size_grid):
    at = dash.open(grid_results, sample_size_grid)
    table = dash.table(at, "overview-table")
    by_size = dash.summary(sample_size_grid)["scenarios"]
    rows = table.filter(pl.col("Design") == "binary-response-2to1 (binary-n)")
    assert rows.height == 4
    for row in rows.iter_rows(named=True):
        n = by_size[row["Scenario"]]["grid"]["enrollment.sample_size"]
        assert row["Type I error"] == by_size[f"null[sample_size={n}]"]["power"]
        assert row["Grid point"] == f"sample_size = {n}"
    # Where the grid sets the odds ratio, its points on `null` are not null: no type I error, and why.
    rows = table.filter(pl.col("Design") == "binary-response-2to1 (binary-grid)")
    assert rows.height == 12 and rows["Type I error"].is_null().all()
    [message] = [i.value for i in at.info if "binary-grid" in i.value]
    assert "sets endpoints.response.effect.odds_ratio, which the `null` scenario sets too" in message


def test_diversity_page_numbers_equal_summary(dash, results):
    at = dash.visit(dash.open(results["pfs"], results["binary"], results["dose"]), "diversity")
    assert [t.value for t in at.title] == ["Diversity"]
    summaries = {dash.summary(p)["design"]: dash.summary(p) for p in results.values()}
    radio = at.radio(key="diversity-column")
    assert radio.options[:3] == ["Race / ethnicity", "Sex", "Age group"]
    for column in ("race_ethnicity", "sex", "age_group"):
        radio.set_value(column).run()
        assert not at.exception
        comp = rows_by(dash.table(at, "diversity-composition-table"), "Design", "Group")
        failures = rows_by(dash.table(at, "diversity-screen-table"), "Design", "Group")
        for design, s in summaries.items():
            for level, g in s["scenarios"]["expected"]["diversity"]["columns"][column].items():
                row = comp[(design, level)]
                assert row["Target share"] == g["target"] and row["Enrolled share"] == g["enrolled"]
                assert row["PPR"] == g["ppr"] and row["PPR SE"] == g["ppr_se"]
                assert failures[(design, level)]["Screen failure"] == g["screen_failure"]
        # The PPR chart draws the 0.8-1.2 band.
        ppr = json.loads(at.get_by_key("diversity-ppr-chart").proto.spec)
        assert any(sh.get("y0") == 0.8 and sh.get("y1") == 1.2 for sh in ppr["layout"]["shapes"])

    goals = rows_by(dash.table(at, "diversity-goals-table"), "Design", "Goal")
    for design, s in summaries.items():
        g = s["scenarios"]["expected"]["diversity"].get("goals")
        if g is None:
            assert not any(d == design for d, _ in goals)
            continue
        assert goals[(design, "all goals")]["P(met)"] == g["probability_met"]
        for column, levels in g["per_goal"].items():
            for level, goal in levels.items():
                row = goals[(design, f"{level} ≥ {goal['goal']:.0%}")]
                assert row["P(met)"] == goal["probability_met"] and row["P(met) SE"] == goal["probability_met_se"]
                assert row["Column"] == column
    assert any("binary-response-2to1 set(s) no diversity goals" in i.value for i in at.info)

    indices = rows_by(dash.table(at, "diversity-indices-table"), "Design")
    for design, s in summaries.items():
        d = s["scenarios"]["expected"]["diversity"]
        assert indices[(design,)]["Representation index"] == d["representation_index"]["value"]
        assert indices[(design,)]["Simpson"] == d["simpson"]["value"]
    criteria = rows_by(dash.table(at, "diversity-criteria-table"), "Design", "Criterion")
    dose = summaries["t2d-hba1c-dose-ranging"]["scenarios"]["expected"]["screening"]["excluded_by_criterion"]
    for criterion, share in dose.items():
        assert criteria[("t2d-hba1c-dose-ranging", criterion)]["Share excluded"] == share


def test_diversity_page_explains_results_without_a_diversity_summary(dash, results, tmp_path):
    old = dash.copy(results["pfs"], tmp_path / "before-diversity")
    s = dash.summary(old)
    for sc in s["scenarios"].values():
        del sc["diversity"]
    (old / "summary.json").write_text(json.dumps(s))
    at = dash.visit(dash.open(old), "diversity")
    assert any("No diversity summary" in w.value for w in at.warning)
    # Screen failure still comes from the screening section.
    failures = rows_by(dash.table(at, "diversity-screen-table"), "Design", "Group")
    by_group = s["scenarios"]["expected"]["screening"]["screen_failure_by_group"]["race_ethnicity"]
    assert {g: failures[("nsclc-pfs-gsd", g)]["Screen failure"] for g in by_group} == by_group
    at = dash.visit(at, "tradeoff")
    assert any("nothing to place on the diversity axis" in i.value for i in at.info)
    dash.visit(at, "overview")
    assert any("no diversity summary" in w.value for w in at.warning)


def test_explorer_shows_a_trial_and_redraws_its_patients(dash, results):
    at = dash.visit(dash.open(results["pfs"], results["dose"], results["binary"]), "explorer")
    assert [t.value for t in at.title] == ["Trial explorer"]
    trials = pl.read_parquet(results["pfs"] / "trials.parquet")
    at.number_input(key="explorer-trial").set_value(17).run()
    stored = trials.filter((pl.col("scenario") == "expected") & (pl.col("trial") == 17)).sort("look")
    shown = dash.table(at, "explorer-looks-table")
    assert shown["z"].to_list() == stored["z"].to_list()
    assert shown["events"].to_list() == stored["events"].to_list()
    assert shown["reject"].to_list() == stored["reject"].to_list()
    assert at.metric[1].value == f"{stored['look'].max()} of 3"
    assert not at.get("plotly_chart") or [c.key for c in at.get("plotly_chart")] == ["explorer-z-chart"]

    # Patients are drawn again only on request, and they are this trial's: events add up to the stored count.
    at.toggle(key="explorer-patients").set_value(True).run()
    assert not at.exception and not at.warning, [w.value for w in at.warning]
    arms = dash.table(at, "explorer-arms-table")
    assert arms["Arm"].to_list() == ["control", "treatment"]
    assert arms["Events"].sum() == stored["events"][-1]
    assert arms["Patients"].sum() == stored["enrolled"][-1]
    assert [c.key for c in at.get("plotly_chart")] == ["explorer-z-chart", "explorer-km-chart"]

    # A continuous endpoint: outcomes per arm; the analysed patients of a comparison add up to the stored count.
    at.selectbox(key="explorer-design").set_value("t2d-hba1c-dose-ranging").run()
    assert not at.exception and not at.warning, [w.value for w in at.warning]
    arms = rows_by(dash.table(at, "explorer-arms-table"), "Arm")
    stored = pl.read_parquet(results["dose"] / "trials.parquet").filter(
        (pl.col("scenario") == "expected") & (pl.col("trial") == 17)
    )
    for row in stored.iter_rows(named=True):
        treatment, control = row["comparison"].split(" vs ")
        assert arms[(treatment,)]["Analysed"] + arms[(control,)]["Analysed"] == row["analysed"]

    # A binary endpoint, at its first look.
    at.selectbox(key="explorer-design").set_value("binary-response-2to1").run()
    assert not at.exception
    look = next(s for s in at.selectbox if s.key.startswith("explorer-look-"))
    look.set_value(1).run()
    stored = pl.read_parquet(results["binary"] / "trials.parquet").filter(
        (pl.col("scenario") == "expected") & (pl.col("trial") == 17) & (pl.col("look") == 1)
    )
    assert dash.table(at, "explorer-arms-table")["Analysed"].sum() == stored["analysed"][0]


def test_explorer_redraws_a_grid_point_from_its_base_scenarios_numbers(dash, sample_size_grid):
    at = dash.visit(dash.open(sample_size_grid), "explorer")
    assert at.selectbox(key="explorer-scenario").value == "expected[sample_size=120]"
    at.selectbox(key="explorer-scenario").set_value("expected[sample_size=360]").run()
    at.number_input(key="explorer-trial").set_value(199).run()
    at.toggle(key="explorer-patients").set_value(True).run()
    assert not at.exception and not at.warning, [w.value for w in at.warning]
    stored = pl.read_parquet(sample_size_grid / "trials.parquet").filter(
        (pl.col("scenario") == "expected[sample_size=360]") & (pl.col("trial") == 199)
    )
    assert dash.table(at, "explorer-arms-table")["Analysed"].sum() == stored.sort("look")["analysed"][-1]


def test_explorer_says_when_the_trial_cannot_be_redrawn(dash, results, tmp_path):
    moved = dash.copy(results["pfs"], tmp_path / "changed")
    text = (moved / "design.yaml").read_text()
    (moved / "design.yaml").write_text(text.replace("median: 8 months", "median: 9 months"))
    at = dash.visit(dash.open(moved), "explorer")
    at.toggle(key="explorer-patients").set_value(True).run()
    assert not at.exception
    assert any("does not match the stored one" in w.value for w in at.warning)
    assert not at.get("plotly_chart") or "explorer-km-chart" not in [c.key for c in at.get("plotly_chart")]

    (moved / "trials.parquet").unlink()
    at = dash.visit(dash.open(moved), "explorer")
    assert any("trials.parquet is missing" in w.value for w in at.warning)


def test_tradeoff_one_point_per_design_and_scenario(dash, results):
    at = dash.visit(dash.open(results["pfs"], results["binary"], results["dose"]), "tradeoff")
    assert [t.value for t in at.title] == ["Trade-off"]
    points = dash.table(at, "tradeoff-table")
    expected = {}
    for path in results.values():
        s = dash.summary(path)
        for name, sc in s["scenarios"].items():
            if name != "null":
                expected[(s["design"], name)] = (sc["power"], sc["diversity"]["representation_index"]["value"])
    assert {
        (r["Design"], r["Scenario"]): (r["Power"], r["Representation index"]) for r in points.iter_rows(named=True)
    } == expected
    # Not dominated: no other point has at least the power and the diversity of it, and more of one.
    for row in points.iter_rows(named=True):
        beaten = any(
            (p, d) != (row["Power"], row["Representation index"])
            and p >= row["Power"]
            and d >= row["Representation index"]
            for p, d in expected.values()
        )
        assert row["Not dominated"] == (not beaten)
    figure = json.loads(at.get_by_key("tradeoff-chart").proto.spec)
    assert len(figure["data"]) == len(expected)
    colours = {t["name"].split(" · ")[0]: t["marker"]["color"] for t in figure["data"]}
    assert colours == {
        "nsclc-pfs-gsd": "#0072B2",
        "binary-response-2to1": "#E69F00",
        "t2d-hba1c-dose-ranging": "#009E73",
    }

    at.selectbox(key="tradeoff-measure").set_value("P(diversity goals met)").run()
    points = dash.table(at, "tradeoff-table")
    assert set(points["Design"]) == {"nsclc-pfs-gsd", "t2d-hba1c-dose-ranging"}  # the binary design sets no goals
    assert any("binary-response-2to1" in c.value for c in at.caption)
    at.checkbox(key="tradeoff-null").check().run()
    assert "null" in dash.table(at, "tradeoff-table")["Scenario"].to_list()


def test_design_details_show_the_yaml_and_boundaries(dash, results):
    at = dash.visit(dash.open(results["pfs"], results["dose"]), "design")
    assert [t.value for t in at.title] == ["Design details"]
    assert [t.label for t in at.tabs] == ["nsclc-pfs-gsd", "t2d-hba1c-dose-ranging"]
    assert [c.value for c in at.code] == [(results[k] / "design.yaml").read_text().strip() for k in ("pfs", "dose")]
    bounds = dash.table(at, "design-bounds-nsclc-pfs-gsd")
    sc = dash.summary(results["pfs"])["scenarios"]["expected"]
    assert bounds["Efficacy z"].to_list() == sc["efficacy_bounds"]["1"]
    assert bounds["Futility z"].to_list() == sc["futility_bounds"]
    assert bounds["At"].to_list() == ["80 events", "160 events", "240 events"]
    dose = dash.table(at, "design-bounds-t2d-hba1c-dose-ranging")
    assert (
        dose["Efficacy z (alpha × 0.5)"].to_list()
        == dash.summary(results["dose"])["scenarios"]["expected"]["efficacy_bounds"]["0.5"]
    )


PAGES = ("overview", "power", "diversity", "explorer", "tradeoff", "design")


def _bad_dirs(root, good):
    """Result directories that cannot be shown, each with the words its explanation must contain."""
    bad = {}
    bad[root / "missing"] = "no such directory"
    (root / "empty").mkdir()
    bad[root / "empty"] = "empty; no simulation has been written here yet"
    half = root / "half"
    half.mkdir()
    (half / "trials.parquet").write_bytes((good / "trials.parquet").read_bytes())
    (half / ".partial-abc123").mkdir()
    bad[half] = "half-written; it has trials.parquet but no summary.json"
    cut = root / "cut"
    cut.mkdir()
    (cut / "summary.json").write_text((good / "summary.json").read_text()[:500])
    bad[cut] = "summary.json is cut off or not JSON"
    older = root / "older"
    older.mkdir()
    legacy = json.loads((good / "summary.json").read_text())
    del legacy["format"]
    (older / "summary.json").write_text(json.dumps(legacy))
    bad[older] = "written by an older trialsim"
    stale = root / "stale"
    stale.mkdir()
    legacy = json.loads((good / "summary.json").read_text())
    for sc in legacy["scenarios"].values():
        del sc["power_se"]
    (stale / "summary.json").write_text(json.dumps(legacy))
    bad[stale] = "lacks power_se"
    newer = root / "newer"
    newer.mkdir()
    (newer / "summary.json").write_text(json.dumps({"format": 2, "scenarios": {}}))
    bad[newer] = "newer result format (2)"
    running = root / "running"
    (running / "blocks" / "expected").mkdir(parents=True)
    (running / "manifest.json").write_text("{}")
    (running / "blocks" / "expected" / f"000000-250{BLOCK_SUFFIX}").write_bytes(b"")
    bad[running] = "a simulation is running here, or was interrupted: 1 seed block(s) are finished"
    (root / "file").write_text("not a directory")
    bad[root / "file"] = "a file, not a result directory"
    return bad


def test_bad_result_dirs_are_explained_on_every_page(dash, results, tmp_path):
    bad = _bad_dirs(tmp_path, results["binary"])
    at = dash.open(*bad, results["pfs"])
    for page in PAGES:
        dash.visit(at, page)
        errors = [e.value for e in at.error]
        assert len(errors) == len(bad), errors
        for (path, words), error in zip(bad.items(), errors, strict=True):
            assert error.startswith(str(path)) and words in error, error
    # The good directory is still shown.
    dash.visit(at, "overview")
    assert set(dash.table(at, "overview-table")["Design"]) == {"nsclc-pfs-gsd"}


def test_only_bad_or_no_result_dirs(dash, results, tmp_path):
    bad = _bad_dirs(tmp_path, results["binary"])
    at = dash.open(*bad)
    for page in PAGES:
        dash.visit(at, page)
        assert any("None of the result directories can be shown" in i.value for i in at.info)
    at = dash.open()
    for page in PAGES:
        dash.visit(at, page)
        assert any("No result directories were given" in i.value for i in at.info)


def test_run_a_small_simulation_from_the_sidebar(dash):
    at = dash.open(timeout=120)
    design = at.selectbox(key="run-design")
    design.select_index(design.options.index("binary-response.yaml"))
    at.number_input(key="run-trials").set_value(50)
    at.button(key="run-simulate").click().run(timeout=120)
    assert not at.exception and not at.error, [e.value for e in at.error]
    table = dash.table(at, "overview-table")
    assert set(table["Design"]) == {"binary-response-2to1"} and set(table["Trials"]) == {50}
