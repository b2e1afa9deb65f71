"""Loading designs: trialsim.design.load (scenarios, merge patches, error positions)."""

from pathlib import Path

import pytest

from trialsim.design.load import DesignError, format_path, load_design, merge_patch

DESIGNS = sorted(Path("designs").glob("*.yaml"))
PFS = Path("designs/two-arm-pfs-gsd.yaml")


def test_examples_load_with_their_scenarios():
    assert len(DESIGNS) >= 3
    design = load_design(PFS)
    assert design.name == "nsclc-pfs-gsd"
    assert list(design.scenarios) == ["null", "expected"]
    assert design.scenarios["null"].endpoints["pfs"].effect.hazard_ratio == 1.0
    assert design.scenarios["expected"].model_dump(exclude={"scenarios"}) == design.spec.model_dump(
        exclude={"scenarios"}
    )


def test_units_are_normalised_on_load():
    spec = load_design(PFS).spec
    assert spec.enrollment.accrual.duration == 24.0
    assert spec.endpoints["pfs"].baseline.median == 8.0
    assert spec.enrollment.dropout.rate == pytest.approx(0.05)
    assert spec.analysis.primary.alpha == pytest.approx(0.025)
    dose = load_design("designs/dose-ranging-hba1c.yaml").spec
    assert dose.endpoints["hba1c_change"].timepoint == pytest.approx(26 * 7 / (365.25 / 12))
    assert dose.arms["high"].dose.amount == 20 and dose.arms["high"].dose.unit == "mg"


def test_scenario_null_removes_a_key():
    design = load_design("designs/dose-ranging-hba1c.yaml")
    assert design.scenarios["null"].endpoints["hba1c_change"].effect is None
    assert design.scenarios["weaker"].endpoints["hba1c_change"].effect.dose_response.emax == -0.5
    assert design.scenarios["weaker"].endpoints["hba1c_change"].effect.dose_response.ed50.amount == 4


def test_comparisons_default_to_each_arm_against_control():
    spec = load_design("designs/binary-response.yaml").spec
    assert spec.control_arm == "control"
    assert spec.comparisons(spec.analysis.primary) == [("active", "control")]


def test_merge_patch_follows_rfc7396():
    # RFC 7396 section 3 example.
    target = {"title": "Goodbye!", "author": {"givenName": "John", "familyName": "Doe"}, "tags": ["a", "b"]}
    patch = {"title": "Hello!", "phoneNumber": "+01-123", "author": {"familyName": None}, "tags": ["example"]}
    assert merge_patch(target, patch) == {
        "title": "Hello!",
        "author": {"givenName": "John"},
        "tags": ["example"],
        "phoneNumber": "+01-123",
    }
    assert target["author"] == {"givenName": "John", "familyName": "Doe"}  # untouched


def test_format_path():
    assert format_path(("analysis", "looks", 1, "events")) == "analysis.looks[1].events"


def _broken(tmp_path, old, new, source=PFS):
    text = source.read_text()
    assert old in text
    path = tmp_path / "d.yaml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(DesignError) as err:
        load_design(path)
    return err.value.problems


def test_scenario_error_points_into_the_scenario(tmp_path):
    (problem,) = _broken(tmp_path, "{hazard_ratio: 1.0}", "{hazard_ration: 1.0}")
    line = PFS.read_text().splitlines().index(next(x for x in PFS.read_text().splitlines() if "null: {endpoints" in x))
    assert problem.line == line + 1
    assert problem.message.startswith("in scenario 'null': endpoints.pfs.effect.hazard_ration: unknown key")
    assert "did you mean 'hazard_ratio'" in problem.message


def test_design_error_is_said_once_not_per_scenario(tmp_path):
    problems = _broken(tmp_path, "compare: [treatment vs control]", "compare: [treatmnt vs control]")
    assert len(problems) == 1
    assert "unknown arm 'treatmnt'; did you mean 'treatment'?" in problems[0].message


def test_misspelt_key_is_not_also_reported_missing(tmp_path):
    (problem,) = _broken(tmp_path, "sample_size: 600", "sampel_size: 600")
    assert (problem.line, problem.col) == (22, 3)
    assert "did you mean 'sample_size'?" in problem.message


def test_expression_error_column_is_inside_the_expression(tmp_path):
    (problem,) = _broken(tmp_path, "- egfr >= 30", "- egfr >= 30 and egrf < 200")
    text = PFS.read_text().splitlines()
    row = next(i for i, x in enumerate(text) if "- egfr >= 30" in x)
    assert problem.line == row + 1
    assert problem.col == text[row].index("egfr") + 1 + len("egfr >= 30 and ")
    assert "did you mean 'egfr'" in problem.message


def test_column_checks_use_a_parquet_cohort(tmp_path):
    import polars as pl

    pl.DataFrame({"age": [50.0], "sex": ["F"]}).write_parquet(tmp_path / "pop.parquet")
    text = PFS.read_text().replace("cohort: builtin", "cohort: pop.parquet")
    path = tmp_path / "d.yaml"
    path.write_text(text)
    with pytest.raises(DesignError) as err:
        load_design(path)
    messages = [p.message for p in err.value.problems]
    assert any("unknown column 'ecog'" in m and "age, sex" in m for m in messages)
    assert any("has no column 'race_ethnicity'" in m for m in messages)


@pytest.mark.parametrize("version", ["true", "1.0", "'1'"])
def test_version_must_be_the_integer_1(tmp_path, version):
    path = tmp_path / "d.yaml"
    path.write_text(PFS.read_text().replace("trialsim: 1 ", f"trialsim: {version} ", 1))
    with pytest.raises(DesignError, match="unsupported design format version"):
        load_design(path)


def test_missing_endpoint_type_lists_the_types(tmp_path):
    (problem,) = _broken(tmp_path, "    type: time_to_event\n", "")
    assert "missing key 'type' (type: continuous | binary | time_to_event)" in problem.message


@pytest.mark.parametrize(
    ("sites", "message"),
    [
        ("[{name: a, rate: 10, reach: {race: {Black: 2}}}]", "has no column 'race' (columns: age, age_group"),
        ("[{name: a, rate: 10}, {name: a, rate: 5}]", "site 'a' is listed twice"),
        ("[{name: a, rate: 10, start: 2 months}]", "at least one site must open at 0 months"),
    ],
)
def test_site_mistakes(tmp_path, sites, message):
    problems = _broken(tmp_path, "accrual: {duration: 24 months}", f"sites: {sites}")
    assert any(message in p.message for p in problems), problems


def test_accrual_or_sites_not_both(tmp_path):
    problems = _broken(
        tmp_path, "accrual: {duration: 24 months}", "accrual: {duration: 24 months}\n  sites: [{name: a, rate: 9}]"
    )
    assert any("give exactly one of accrual, sites" in p.message for p in problems)
