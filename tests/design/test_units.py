"""Tests for trialsim.design.units: quantities written as people write them."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from trialsim.design.units import (
    DAYS_PER_MONTH,
    Dose,
    DoseQuantity,
    Duration,
    Fraction,
    Rate,
    parse_dose,
    parse_duration,
    parse_fraction,
    parse_rate,
)

MONTH = 365.25 / 12  # days


def test_month_is_a_twelfth_of_a_julian_year() -> None:
    assert DAYS_PER_MONTH == pytest.approx(30.4375)


# -- durations ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "months"),
    [
        ("26 weeks", 26 * 7 / MONTH),
        ("2 years", 24.0),
        ("90 days", 90 / MONTH),
        ("8 months", 8.0),
        ("1 month", 1.0),
        ("1 year", 12.0),
        ("1 week", 7 / MONTH),
        ("1 day", 1 / MONTH),
        ("365.25 days", 12.0),
        ("3 mo", 3.0),
        ("3 mon", 3.0),
        ("2 wks", 14 / MONTH),
        ("2 wk", 14 / MONTH),
        ("2 w", 14 / MONTH),
        ("10 d", 10 / MONTH),
        ("1.5 yrs", 18.0),
        ("1 yr", 12.0),
        ("1 y", 12.0),
        ("2 Years", 24.0),
        ("6 MONTHS", 6.0),
        ("6months", 6.0),
        ("  6 months  ", 6.0),
        (".5 months", 0.5),
        ("1e1 days", 10 / MONTH),
        ("+3 weeks", 21 / MONTH),
        ("0 months", 0.0),
    ],
)
def test_parse_duration(text: str, months: float) -> None:
    assert parse_duration(text) == pytest.approx(months, rel=1e-12, abs=0)


def test_26_weeks_exactly() -> None:
    assert parse_duration("26 weeks") == pytest.approx(26 * 7 / (365.25 / 12), rel=1e-15)
    assert parse_duration("2 years") == 24
    assert parse_duration("90 days") == pytest.approx(90 / (365.25 / 12), rel=1e-15)


@pytest.mark.parametrize(("value", "months"), [(8, 8.0), (0, 0.0), (2.5, 2.5), ("8", 8.0), ("2.5", 2.5)])
def test_bare_number_is_months(value: object, months: float) -> None:
    result = parse_duration(value)
    assert result == months and isinstance(result, float)


@pytest.mark.parametrize("value", [-1, -0.5, "-8 months", "-2 weeks", "-1"])
def test_negative_duration(value: object) -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("value", "unit"), [("8 monts", "monts"), ("2 fortnights", "fortnights"), ("3 hours", "hours"), ("5 mg", "mg")]
)
def test_unknown_time_unit(value: str, unit: str) -> None:
    with pytest.raises(ValueError, match=f"unknown time unit '{unit}'") as info:
        parse_duration(value)
    assert "days, weeks, months or years" in str(info.value)


@pytest.mark.parametrize(
    "value",
    ["", "months", "eight months", "8 months long", "8 months 2 weeks", "8..5 months", None, [8], {"months": 8}, True],
)
def test_not_a_duration(value: object) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(value)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_duration_must_be_finite(value: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        parse_duration(value)


def test_duration_in_a_model() -> None:
    class M(BaseModel):
        t: Duration

    assert M(t="2 years").t == 24.0
    with pytest.raises(ValidationError, match="unknown time unit"):
        M(t="8 monts")


@settings(database=None)
@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_duration_units_scale(x: float) -> None:
    assert parse_duration(f"{x!r} weeks") == pytest.approx(x * 7 / MONTH)
    assert parse_duration(f"{x!r} years") == pytest.approx(12 * x)
    assert parse_duration(f"{x!r} days") == pytest.approx(x / MONTH)
    assert parse_duration(f"{x!r} months") == pytest.approx(x) == parse_duration(x)


# -- fractions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fraction"),
    [
        ("5%", 0.05),
        ("2.5%", 0.025),
        ("5 %", 0.05),
        ("0%", 0.0),
        ("100%", 1.0),
        (0.05, 0.05),
        ("0.05", 0.05),
        (0, 0.0),
        (1, 1.0),
    ],
)
def test_parse_fraction(value: object, fraction: float) -> None:
    assert parse_fraction(value) == pytest.approx(fraction)


@pytest.mark.parametrize("value", ["150%", "101%", 1.5, -0.1, "-5%", 5, "5"])
def test_fraction_out_of_range(value: object) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        parse_fraction(value)


@pytest.mark.parametrize("value", ["5 percent", "5 pct", "five percent", "%", "", None, True, "5 mg"])
def test_not_a_fraction(value: object) -> None:
    with pytest.raises(ValueError, match="expected a proportion"):
        parse_fraction(value)


@settings(database=None)
@given(st.floats(min_value=0, max_value=100, allow_nan=False))
def test_percent_is_a_hundredth(p: float) -> None:
    assert parse_fraction(f"{p!r}%") == pytest.approx(p / 100)


def test_fraction_in_a_model() -> None:
    class M(BaseModel):
        p: Fraction

    assert M(p="2.5%").p == pytest.approx(0.025)
    with pytest.raises(ValidationError, match="between 0 and 1"):
        M(p="130%")


# -- rates --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "per_month"),
    [
        ("30 per year", 2.5),
        ("25 per month", 25.0),
        ("6 per week", 6 * MONTH / 7),
        ("6/week", 6 * MONTH / 7),
        ("6 / week", 6 * MONTH / 7),
        ("1 per day", MONTH),
        ("12 per yr", 1.0),
        ("2 per Month", 2.0),
        ("25", 25.0),
        (25, 25.0),
        (0.5, 0.5),
        (0, 0.0),
    ],
)
def test_parse_rate(value: object, per_month: float) -> None:
    assert parse_rate(value) == pytest.approx(per_month)


def test_30_per_year_is_2_5_per_month() -> None:
    assert parse_rate("30 per year") == 2.5


@pytest.mark.parametrize("value", [-1, "-5 per month", "-0.1"])
def test_negative_rate(value: object) -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        parse_rate(value)


def test_rate_unknown_unit() -> None:
    with pytest.raises(ValueError, match="unknown time unit 'fortnight'"):
        parse_rate("5 per fortnight")


@pytest.mark.parametrize("value", ["many", "5 patients per month", "per month", "5 months", "", None, True])
def test_not_a_rate(value: object) -> None:
    with pytest.raises(ValueError, match="expected a rate"):
        parse_rate(value)


@settings(database=None)
@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_rate_units_scale(x: float) -> None:
    assert parse_rate(f"{x!r} per year") == pytest.approx(x / 12)
    assert parse_rate(f"{x!r} per month") == pytest.approx(x)


def test_rate_in_a_model() -> None:
    class M(BaseModel):
        r: Rate

    assert M(r="30 per year").r == 2.5


# -- doses --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "dose"),
    [
        ("200 mg", Dose(200.0, "mg")),
        ("0 mg", Dose(0.0, "mg")),
        ("0.5 mg/kg", Dose(0.5, "mg/kg")),
        ("5 µg", Dose(5.0, "ug")),
        ("5 µg/kg", Dose(5.0, "ug/kg")),
        ("5 ug", Dose(5.0, "ug")),
        ("5 mcg", Dose(5.0, "mcg")),
        ("1 g", Dose(1.0, "g")),
        ("10 ng", Dose(10.0, "ng")),
        ("75 mg/m2", Dose(75.0, "mg/m2")),
        ("1000 IU", Dose(1000.0, "IU")),
        ("1000 iu", Dose(1000.0, "IU")),
        ("5 MG", Dose(5.0, "mg")),
        ("2 mL", Dose(2.0, "mL")),
        ("4 units", Dose(4.0, "units")),
        ("200mg", Dose(200.0, "mg")),
    ],
)
def test_parse_dose(value: str, dose: Dose) -> None:
    parsed = parse_dose(value)
    assert parsed == dose
    assert isinstance(parsed.amount, float)


def test_dose_is_returned_unchanged() -> None:
    dose = Dose(200.0, "mg")
    assert parse_dose(dose) is dose


def test_dose_prints_with_its_unit() -> None:
    assert str(parse_dose("200 mg")) == "200 mg"
    assert str(parse_dose("0.5 mg/kg")) == "0.5 mg/kg"


@pytest.mark.parametrize(("value", "shown"), [(200, "'200 mg'"), ("200", "'200 mg'"), (0.5, "'0.5 mg'")])
def test_dose_missing_unit(value: object, shown: str) -> None:
    with pytest.raises(ValueError, match="a dose needs its unit") as info:
        parse_dose(value)
    assert shown in str(info.value)


@pytest.mark.parametrize(("value", "unit"), [("200 mgs", "mgs"), ("5 kg", "kg"), ("3 tablets", "tablets")])
def test_dose_unknown_unit(value: str, unit: str) -> None:
    with pytest.raises(ValueError, match=f"unknown dose unit '{unit}'") as info:
        parse_dose(value)
    assert "mg, g, ug" in str(info.value)


def test_negative_dose() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        parse_dose("-5 mg")


@pytest.mark.parametrize("value", ["mg", "two hundred mg", "", None, True, [200, "mg"]])
def test_not_a_dose(value: object) -> None:
    with pytest.raises(ValueError, match="expected a dose"):
        parse_dose(value)


def test_dose_in_a_model() -> None:
    class M(BaseModel):
        d: DoseQuantity

    m = M(d="5 µg")
    assert m.d == Dose(5.0, "ug")
    assert m.model_dump() == {"d": "5 ug"}
    with pytest.raises(ValidationError, match="a dose needs its unit"):
        M(d=200)


# -- every parser: a ValueError with the input in it, never another exception ------------------------


PARSERS = [parse_duration, parse_fraction, parse_rate, parse_dose]


@settings(database=None)
@given(st.one_of(st.text(), st.integers(), st.floats(), st.booleans(), st.none()), st.sampled_from(PARSERS))
def test_parsers_raise_only_value_error(value: object, parser: object) -> None:
    try:
        parser(value)  # type: ignore[operator]
    except ValueError as exc:
        assert str(exc)


@pytest.mark.parametrize(
    ("parser", "value"),
    [
        (parse_duration, "1e400 months"),
        (parse_duration, "1e400"),
        (parse_rate, "1e400 per month"),
        (parse_dose, "1e400 mg"),
    ],
)
def test_written_quantities_must_be_finite(parser: object, value: str) -> None:
    """A number too large for a float is as wrong written out ('1e400 months') as given by YAML (.inf)."""
    with pytest.raises(ValueError):
        parser(value)  # type: ignore[operator]
