"""Compiling a scenario: trialsim.engine.plan."""

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from trialsim.cohort.population import load_population
from trialsim.design.load import DesignError, load_design
from trialsim.engine.plan import _levels, compile_plan

POP = load_population("builtin", Path("."), seed=1, size=20_000)


def _design(tmp_path, old, new, source="designs/two-arm-pfs-gsd.yaml"):
    text = Path(source).read_text()
    assert old in text
    path = tmp_path / "d.yaml"
    path.write_text(text.replace(old, new))
    return load_design(path)


def _line(design, text):
    return next(i for i, line in enumerate(design.path.read_text().splitlines(), 1) if text in line)


def test_effects_on_the_linear_predictor_scale():
    plan = compile_plan(load_design("designs/two-arm-pfs-gsd.yaml"), "expected", POP)
    assert plan.arm_effect == pytest.approx([0.0, np.log(0.7)])
    assert plan.comparisons[0].true_effect == pytest.approx(np.log(0.7))
    dose = compile_plan(load_design("designs/dose-ranging-hba1c.yaml"), "expected", POP)
    # Emax -0.8, ED50 4 mg at doses 0, 5, 20 mg.
    assert dose.arm_effect == pytest.approx([0.0, -0.8 * 5 / 9, -0.8 * 20 / 24])


def test_prognostic_covariates_are_centred_on_the_eligible_pool():
    plan = compile_plan(load_design("designs/two-arm-pfs-gsd.yaml"), "expected", POP)
    assert plan.prognostic.mean() == pytest.approx(0.0, abs=1e-12)
    assert plan.pool_size == plan.screening["eligible"]


def test_screening_reports_exclusions():
    plan = compile_plan(load_design("designs/two-arm-pfs-gsd.yaml"), "expected", POP)
    ecog = POP["ecog"].to_numpy()
    assert plan.screening["excluded_by_criterion"]["ecog <= 1"] == pytest.approx((ecog > 1).mean())
    old = plan.screening["screen_failure_by_group"]["age_group"]
    # eGFR falls with age, so the eGFR and ECOG criteria exclude older patients more.
    assert old["65+"] > old["18-44"]


def test_no_eligible_patient_is_an_error_at_the_criterion(tmp_path):
    design = _design(tmp_path, "- egfr >= 30", "- egfr >= 500")
    with pytest.raises(DesignError) as err:
        compile_plan(design, "expected", POP)
    (problem,) = err.value.problems
    assert problem.line == _line(design, "egfr >= 500")
    assert (
        "no patient of the 20000 screened meets every criterion; 'egfr >= 500' alone excludes 100%" in problem.message
    )


def test_unreachable_events_look_is_an_error(tmp_path):
    design = _design(tmp_path, "{events: 240}", "{events: 590}")
    with pytest.raises(DesignError) as err:
        compile_plan(design, "expected", POP)
    (problem,) = err.value.problems
    assert "590 events cannot be reached" in problem.message and problem.line == _line(design, "{events: 590}")


def test_scenarios_share_the_screened_pool_and_the_boundaries():
    design = load_design("designs/two-arm-pfs-gsd.yaml")
    null, expected = compile_plan(design, "null", POP), compile_plan(design, "expected", POP)
    assert null.demographics is expected.demographics and null.covariates is expected.covariates
    assert null.efficacy[1.0] is expected.efficacy[1.0] and null.futility is expected.futility
    assert not null.efficacy[1.0].flags.writeable and not null.futility.flags.writeable
    # each plan has its own screening report
    null.screening["screen_failure_by_group"]["sex"]["F"] = -1.0
    assert expected.screening["screen_failure_by_group"]["sex"]["F"] >= 0.0
    # another frame with the same rows is screened again, to the same result
    again = compile_plan(design, "expected", POP.clone())
    assert again.demographics is not expected.demographics
    for a, b in zip(again.demographics, expected.demographics, strict=True):
        assert a.levels == b.levels and np.array_equal(a.codes, b.codes)
    assert np.array_equal(again.prognostic, expected.prognostic)
    assert [(s.subgroup, s.level) for s in again.subgroups] == [(s.subgroup, s.level) for s in expected.subgroups]


def test_levels_are_numpys_unique():
    column = pl.Series(["b", "ä", "a", "B", "b", "10", "9", "é", "a"])
    levels, codes = _levels(column)
    expected, inverse = np.unique(column.to_numpy(), return_inverse=True)
    assert levels == expected.tolist() and np.array_equal(codes, inverse)
    numbers = pl.Series([2.0, 10.0, 2.0, 1.5])  # numeric columns compare as their text, as before
    assert _levels(numbers)[0] == np.unique(numbers.cast(pl.String).to_numpy()).tolist()
    assert _levels(pl.Series(["x", None, "x"]))[0] == ["missing", "x"]
