"""The cohort spec format: trialsim.cohort.spec, trialsim.cohort.checks and the committed JSON Schema."""

import json
from pathlib import Path

import pytest

from trialsim.cohort.schema import cohort_schema
from trialsim.cohort.spec import CohortError, CohortSpec, load_cohort_spec

COHORTS = Path(__file__).resolve().parents[2] / "cohorts"
DIABETES = COHORTS / "us-type2-diabetes.yaml"
KIDNEY = COHORTS / "us-kidney-transplant.yaml"

SHIPPED = sorted(COHORTS.glob("*.yaml"))
SMALL = """\
trialsim_cohort: 1
name: small
backbone:
  marginals:
    sex: {F: SHARE_F, M: 49.5%}
covariates:
  sbp: {distribution: normal, mean: 130, sd: 15, effects: {sex: {F: -4}}}
"""


def test_committed_schema_is_current() -> None:
    committed = json.loads((COHORTS / "schema.json").read_text())
    assert committed == cohort_schema(), (
        "cohorts/schema.json is stale: run `trialsim cohort schema --out cohorts/schema.json`"
    )


def test_schema_describes_the_format() -> None:
    schema = cohort_schema()
    assert set(schema["required"]) == {"trialsim_cohort", "name", "backbone"}
    assert schema["additionalProperties"] is False
    assert {"Normal", "LogNormal", "Bernoulli", "Categorical", "Ordinal", "Learned"} <= set(schema["$defs"])
    assert "from" in schema["$defs"]["PerUnit"]["properties"]  # written as in YAML, not from_


def test_shipped_specs_point_editors_at_the_schema() -> None:
    assert len(SHIPPED) >= 2
    for path in SHIPPED:
        assert path.read_text().splitlines()[0] == "# yaml-language-server: $schema=schema.json", path


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_specs_load_and_cite_their_sources(path: Path) -> None:
    spec = load_cohort_spec(path)
    assert spec.name == path.stem and spec.sources
    assert all(source.for_ for source in spec.sources)


def test_diabetes_columns_fit_the_example_designs() -> None:
    columns = load_cohort_spec(DIABETES).columns
    for name, kind in {
        "age": "number",
        "age_group": "string",
        "sex": "string",
        "race_ethnicity": "string",
        "hba1c": "number",
        "bmi": "number",
        "egfr": "number",
        "ecog": "number",
        "weight": "number",
    }.items():
        assert columns[name] == kind, name
    assert list(columns)[:4] == ["age", "age_group", "sex", "race_ethnicity"]


def test_kidney_spec_learns_from_the_shipped_seed() -> None:
    spec = load_cohort_spec(KIDNEY)
    assert spec.learned is not None and spec.learned.conditions == ["race_ethnicity", "sex"]
    assert spec.columns == {
        "age": "number",
        "race_ethnicity": "string",
        "sex": "string",
        "time": "number",
        "death": "number",
    }


def test_shares_may_miss_100_percent_by_rounding_only(tmp_path: Path) -> None:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL.replace("SHARE_F", "50.9%"))  # 100.4%: rounding
    assert load_cohort_spec(path).levels == {"sex": ["F", "M"]}
    path.write_text(SMALL.replace("SHARE_F", "51.5%"))  # 101%: a mistake
    with pytest.raises(CohortError, match=r"small.yaml:5:5: backbone.marginals.sex: the shares of sex add up to 101%"):
        load_cohort_spec(path)


def test_fractions_and_percentages_are_the_same(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(SMALL.replace("SHARE_F", "50.5%"))
    b.write_text(SMALL.replace("SHARE_F", "0.505"))
    assert load_cohort_spec(a).model_dump() == load_cohort_spec(b).model_dump()


def test_spec_built_in_python_knows_its_columns() -> None:
    spec = CohortSpec.model_validate(
        {
            "trialsim_cohort": 1,
            "name": "inline",
            "backbone": {"marginals": {"sex": {"F": "50%", "M": "50%"}}},
            "covariates": {"smoker": {"distribution": "bernoulli", "p": "20%", "effects": {"sex": {"M": 0.4}}}},
        }
    )
    assert spec.columns == {"sex": "string", "smoker": "bool"}
    broken = CohortSpec.model_validate(
        {"trialsim_cohort": 1, "name": "inline", "backbone": {"marginals": {"sex": {"F": "50%", "M": "40%"}}}}
    )
    with pytest.raises(ValueError, match="add up to 90%"):
        _ = broken.columns


def test_sources_for_must_name_parts_of_the_spec(tmp_path: Path) -> None:
    path = tmp_path / "cited.yaml"
    path.write_text(
        SMALL.replace("SHARE_F", "50.5%")
        + "sources:\n  - {id: nhanes, cite: NHANES 2017-2020, for: [covariates.sbp, covariates.dbp]}\n"
    )
    with pytest.raises(CohortError, match=r"cited.yaml:9:64: sources\[0\].for\[1\]: 'covariates.dbp' names no part"):
        load_cohort_spec(path)


def test_ordinal_with_word_levels_is_categorical(tmp_path: Path) -> None:
    path = tmp_path / "nyha.yaml"
    path.write_text(
        SMALL.replace("SHARE_F", "50.5%")
        + "  nyha: {distribution: ordinal, probabilities: {I: 40%, II: 40%, III: 20%}}\n"
        + "  walk: {distribution: normal, mean: 400, sd: 80, effects: {nyha: {III: -120}}}\n"
    )
    spec = load_cohort_spec(path)
    assert spec.columns["nyha"] == "string" and spec.levels["nyha"] == ["I", "II", "III"]
