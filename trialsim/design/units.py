"""Quantities written as people write them: ``8 months``, ``26 weeks``, ``200 mg``, ``5%``.

Every parser takes what YAML gave (a number or a string) and returns a plain
number in the design's canonical unit, or raises ``ValueError`` with a message
that says what was found and what would be right. Time is normalised to months,
because that is the unit trial statisticians quote medians and accrual in.

Examples
--------
>>> parse_duration("26 weeks")
5.979466119096509
>>> parse_fraction("5%")
0.05
>>> parse_rate("30 per year")
2.5
>>> parse_dose("200 mg")
Dose(amount=200.0, unit='mg')
"""

from __future__ import annotations

import math
import re
from typing import Annotated, NamedTuple

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

# A month is a twelfth of a Julian year, the convention of rpact and gsDesign.
DAYS_PER_MONTH = 365.25 / 12
MONTHS_PER = {
    "day": 1 / DAYS_PER_MONTH,
    "week": 7 / DAYS_PER_MONTH,
    "month": 1.0,
    "year": 12.0,
}
_TIME_ALIASES = {
    "d": "day",
    "day": "day",
    "days": "day",
    "w": "week",
    "wk": "week",
    "wks": "week",
    "week": "week",
    "weeks": "week",
    "mo": "month",
    "mon": "month",
    "month": "month",
    "months": "month",
    "y": "year",
    "yr": "year",
    "yrs": "year",
    "year": "year",
    "years": "year",
}
DOSE_UNITS = ("mg", "g", "ug", "mcg", "ng", "mg/kg", "ug/kg", "mg/m2", "IU", "mL", "units")

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_QUANTITY = re.compile(rf"^\s*({_NUMBER})\s*([A-Za-z%µ/0-9]*)\s*$")
_RATE = re.compile(rf"^\s*({_NUMBER})\s*(?:(?:per|/)\s*([A-Za-z]+))?\s*$")


class Dose(NamedTuple):
    """An amount of drug with its unit, e.g. ``Dose(200.0, "mg")``."""

    amount: float
    unit: str

    def __str__(self) -> str:
        return f"{self.amount:g} {self.unit}"


def _number(value: object, what: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected {what}, got {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"expected a finite {what}, got {value!r}")
        return float(value)
    raise ValueError(f"expected {what}, got {value!r}")


def _split(value: object, what: str) -> tuple[float, str]:
    if isinstance(value, str):
        match = _QUANTITY.match(value)
        if match and math.isfinite(float(match.group(1))):
            return float(match.group(1)), match.group(2)
        raise ValueError(f"expected {what}, got {value!r}")
    return _number(value, what), ""


def parse_duration(value: object) -> float:
    """Return a duration in months from ``"8 months"``, ``"26 weeks"``, ``"2 years"`` or ``"90 days"``.

    A bare number is taken as months.
    """
    what = "a duration such as '8 months', '26 weeks', '2 years' or '90 days'"
    amount, unit = _split(value, what)
    if unit:
        canonical = _TIME_ALIASES.get(unit.lower())
        if canonical is None:
            raise ValueError(f"unknown time unit {unit!r} in {value!r}: use days, weeks, months or years")
        amount *= MONTHS_PER[canonical]
    if amount < 0:
        raise ValueError(f"a duration cannot be negative, got {value!r}")
    return amount


def parse_fraction(value: object) -> float:
    """Return a proportion in [0, 1] from ``"5%"`` or ``0.05``."""
    what = "a proportion such as '5%' or 0.05"
    amount, unit = _split(value, what)
    if unit == "%":
        amount /= 100
    elif unit:
        raise ValueError(f"expected {what}, got {value!r}")
    if not 0 <= amount <= 1:
        raise ValueError(f"a proportion must lie between 0 and 1 (0% and 100%), got {value!r}")
    return amount


def parse_rate(value: object) -> float:
    """Return a rate per month from ``"25 per month"``, ``"6/week"`` or a bare number (per month)."""
    what = "a rate such as '25 per month', '6 per week' or a number per month"
    if isinstance(value, str):
        match = _RATE.match(value)
        if not match:
            raise ValueError(f"expected {what}, got {value!r}")
        amount, unit = float(match.group(1)), match.group(2)
        if not math.isfinite(amount):
            raise ValueError(f"expected {what}, got {value!r}")
        if unit:
            canonical = _TIME_ALIASES.get(unit.lower())
            if canonical is None:
                raise ValueError(f"unknown time unit {unit!r} in {value!r}: use day, week, month or year")
            amount /= MONTHS_PER[canonical]
    else:
        amount = _number(value, what)
    if amount < 0:
        raise ValueError(f"a rate cannot be negative, got {value!r}")
    return amount


def parse_dose(value: object) -> Dose:
    """Return a :class:`Dose` from ``"200 mg"``, ``"0.5 mg/kg"`` or ``"0 mg"``."""
    if isinstance(value, Dose):
        return value
    what = f"a dose with its unit such as '200 mg' (units: {', '.join(DOSE_UNITS)})"
    amount, unit = _split(value, what)
    if not unit:
        raise ValueError(f"a dose needs its unit, e.g. '{amount:g} mg'; got {value!r}")
    unit = "ug" + unit[2:] if unit.startswith("µg") else unit
    known = {u.lower(): u for u in DOSE_UNITS}
    if unit.lower() not in known:
        raise ValueError(f"unknown dose unit {unit!r} in {value!r}: use one of {', '.join(DOSE_UNITS)}")
    if amount < 0:
        raise ValueError(f"a dose cannot be negative, got {value!r}")
    return Dose(amount, known[unit.lower()])


def _schema(description: str, pattern: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [{"type": "number"}, {"type": "string", "pattern": pattern}],
            "description": description,
        }
    )


_UNIT_PATTERN = r"^\s*[-+]?[0-9.]+(e[-+]?[0-9]+)?\s*"
Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    _schema(
        "A duration: '8 months', '26 weeks', '2 years', '90 days' (a number means months).",
        _UNIT_PATTERN + r"(d|days?|w|wks?|weeks?|mo|mon|months?|y|yrs?|years?)?\s*$",
    ),
]
Fraction = Annotated[
    float,
    BeforeValidator(parse_fraction),
    _schema("A proportion: '5%' or 0.05.", _UNIT_PATTERN + r"%?\s*$"),
]
Rate = Annotated[
    float,
    BeforeValidator(parse_rate),
    _schema(
        "A rate: '25 per month', '6 per week' (a number means per month).",
        _UNIT_PATTERN + r"((per|/)\s*[A-Za-z]+)?\s*$",
    ),
]
DoseQuantity = Annotated[
    Dose,
    BeforeValidator(parse_dose),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": _UNIT_PATTERN + r"[A-Za-zµ/0-9]+\s*$",
            "description": "A dose with its unit: '200 mg', '0.5 mg/kg'.",
        }
    ),
]
