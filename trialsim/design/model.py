"""The design format, version 1, as pydantic models.

These models check each value's shape, type and range; rules that relate
several fields (a comparison names arms that exist, looks increase, ...) live
in :mod:`trialsim.design.checks`, where they can point at the offending node.
Times are months, proportions are fractions and doses carry their unit once
loaded (see :mod:`trialsim.design.units`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
)

from trialsim.design.units import DoseQuantity, Duration, Fraction, Rate

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
_COMPARISON = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)\s+vs\.?\s+([A-Za-z][A-Za-z0-9_]*)\s*$")

TimeToEventTest = Literal["logrank", "stratified_logrank", "cox"]
ContinuousTest = Literal["t_test", "ancova"]
BinaryTest = Literal["two_proportion_z", "logistic"]
TESTS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "continuous": ("t_test", "ancova"),
    "binary": ("two_proportion_z", "logistic"),
    "time_to_event": ("logrank", "stratified_logrank", "cox"),
}
MEASURES_BY_TYPE: dict[str, tuple[str, ...]] = {
    "continuous": ("difference",),
    "binary": ("odds_ratio", "difference"),
    "time_to_event": ("hazard_ratio",),
}


class Strict(BaseModel):
    """Unknown keys are errors, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _exactly_one(model: BaseModel, fields: tuple[str, ...], what: str) -> None:
    given = [f for f in fields if getattr(model, f) is not None]
    if len(given) != 1:
        found = f"got {', '.join(given)}" if given else "got none"
        raise ValueError(f"{what}: give exactly one of {', '.join(fields)} ({found})")


def _comparison(text: str) -> str:
    if not _COMPARISON.match(text):
        raise ValueError(f"a comparison is written 'ARM vs ARM', e.g. 'treatment vs control'; got {text!r}")
    return text


def parse_comparison(text: str) -> tuple[str, str]:
    """``"high vs placebo"`` -> ``("high", "placebo")``."""
    match = _COMPARISON.match(text)
    if not match:
        raise ValueError(text)
    return match.group(1), match.group(2)


Comparison = Annotated[str, AfterValidator(_comparison)]
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
Expression = Annotated[str, Field(min_length=1, description="A safe expression, e.g. 'age >= 18 and egfr > 30'.")]


# -- population -------------------------------------------------------------------------------


class Population(Strict):
    """Who can enter: the cohort patients are drawn from and the eligibility criteria."""

    cohort: str = Field("builtin", description="A cohort spec name in cohorts/, a path to one, or 'builtin'.")
    eligibility: list[Expression] = Field(default_factory=list)
    diversity_goals: dict[Name, dict[str, Fraction]] = Field(
        default_factory=dict,
        description="Target enrolled proportions by demographic column, e.g. {sex: {F: 0.45}}.",
    )


# -- enrollment -------------------------------------------------------------------------------


class AccrualPiece(Strict):
    start: Duration = Field(description="When this rate starts, from the first patient in.")
    rate: Rate = Field(gt=0, description="Patients per month from start on.")


class Accrual(Strict):
    """Entry times: uniform over a duration, a rate (with optional linear ramp-up) or piecewise rates."""

    duration: Duration | None = Field(None, gt=0)
    rate: Rate | None = Field(None, gt=0)
    ramp_up: Duration | None = Field(None, gt=0)
    piecewise: list[AccrualPiece] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one_kind(self) -> Accrual:
        _exactly_one(self, ("duration", "rate", "piecewise"), "accrual")
        if self.ramp_up is not None and self.rate is None:
            raise ValueError("accrual: ramp_up goes with a rate, e.g. {rate: 25 per month, ramp_up: 6 months}")
        return self


class Dropout(Strict):
    """Exponential dropout: ``rate`` of patients lost within ``per`` (rpact's dropoutRate/dropoutTime)."""

    rate: Fraction = Field(lt=1)
    per: Duration = Field(12.0, gt=0)


def _dropout_kind(value: Any) -> str:
    if isinstance(value, Dropout):
        return "common"
    return "common" if isinstance(value, dict) and ("rate" in value or "per" in value) else "by_arm"


class Site(Strict):
    """A recruitment channel: its rate, when it opens, and whom it reaches more or less than the population.

    ``reach`` gives, per demographic column and group, how much more likely (2.0) or less likely (0.5) a
    patient of that group is to be recruited here than their share of the eligible population implies.
    """

    name: Name
    rate: Rate = Field(gt=0, description="Patients per month once open.")
    start: Duration = Field(0.0, description="When the site opens, from the first patient in.")
    reach: dict[Name, dict[str, Annotated[float, Field(ge=0)]]] = Field(default_factory=dict)


class Enrollment(Strict):
    sample_size: int = Field(gt=0, description="Patients randomised in all arms together.")
    accrual: Accrual | None = None
    sites: list[Site] | None = Field(
        None, min_length=1, description="Recruitment channels with their own rates and reach (instead of accrual)."
    )
    dropout: (
        Annotated[
            Annotated[Dropout, Tag("common")] | Annotated[dict[Name, Dropout], Tag("by_arm")],
            Discriminator(_dropout_kind),
        ]
        | None
    ) = None
    follow_up: Duration | None = Field(
        None,
        gt=0,
        description="Minimum follow-up after the last patient enters (designs with no looks).",
    )

    @model_validator(mode="after")
    def _accrual_or_sites(self) -> Enrollment:
        _exactly_one(self, ("accrual", "sites"), "enrollment")
        return self


# -- randomization ----------------------------------------------------------------------------


class Randomization(Strict):
    method: Literal["simple", "permuted_block", "stratified"] = "permuted_block"
    block_size: int | None = Field(None, gt=0)
    ratio: dict[Name, Annotated[int, Field(gt=0)]] | None = Field(
        None, description="Allocation ratio by arm, e.g. {control: 1, treatment: 2}; default equal."
    )
    strata: list[Name] = Field(default_factory=list)


# -- arms -------------------------------------------------------------------------------------

Frequency = Literal["once", "QD", "BID", "TID", "QID", "QW", "Q2W", "Q3W", "Q4W", "QM"]


class Arm(Strict):
    dose: DoseQuantity | None = None
    frequency: Frequency | None = None
    control: bool = Field(False, description="The reference arm; default: the first arm listed.")
    label: str | None = None


# -- endpoints --------------------------------------------------------------------------------


class Measure(Strict):
    """A treatment effect against the control arm on one of the endpoint's measures."""

    difference: float | None = None
    odds_ratio: float | None = Field(None, gt=0)
    hazard_ratio: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one_measure(self) -> Measure:
        _exactly_one(self, ("difference", "odds_ratio", "hazard_ratio"), "effect")
        return self


class DoseResponse(Strict):
    """Effect against dose, on the linear-predictor scale (mean difference, log OR, log HR).

    linear: ``slope * d``; emax: ``emax * d / (ed50 + d)``;
    sigmoid_emax: ``emax * d**hill / (ed50**hill + d**hill)``; minus the same at the control dose.
    """

    model: Literal["linear", "emax", "sigmoid_emax"]
    slope: float | None = None
    emax: float | None = None
    ed50: DoseQuantity | None = None
    hill: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _parameters(self) -> DoseResponse:
        needed = {"linear": ("slope",), "emax": ("emax", "ed50"), "sigmoid_emax": ("emax", "ed50", "hill")}
        allowed = needed[self.model]
        missing = [p for p in allowed if getattr(self, p) is None]
        extra = [p for p in ("slope", "emax", "ed50", "hill") if p not in allowed and getattr(self, p) is not None]
        if missing:
            raise ValueError(f"the {self.model} dose-response needs {', '.join(allowed)}; missing {', '.join(missing)}")
        if extra:
            raise ValueError(f"the {self.model} dose-response takes {', '.join(allowed)}; remove {', '.join(extra)}")
        if self.ed50 is not None and self.ed50.amount <= 0:
            raise ValueError("ed50 must be a positive dose")
        return self


class Effect(Strict):
    """The treatment effect: one measure for every non-control arm, one per arm, or a dose-response."""

    difference: float | None = None
    odds_ratio: float | None = Field(None, gt=0)
    hazard_ratio: float | None = Field(None, gt=0)
    by_arm: dict[Name, Measure] | None = None
    dose_response: DoseResponse | None = None
    delay: Duration | None = Field(None, description="Time-to-event: no effect (HR 1) until this time.")

    @model_validator(mode="after")
    def _one_kind(self) -> Effect:
        _exactly_one(self, ("difference", "odds_ratio", "hazard_ratio", "by_arm", "dose_response"), "effect")
        return self

    @property
    def measure(self) -> str | None:
        """The measure named directly (``None`` for by_arm/dose_response)."""
        return next((m for m in ("difference", "odds_ratio", "hazard_ratio") if getattr(self, m) is not None), None)


class Modifier(Strict):
    """For patients meeting ``when``, the effect on the linear-predictor scale is multiplied by ``effect_scale``."""

    when: Expression
    effect_scale: float = Field(ge=0)


Covariates = dict[Name, float | dict[str, float]]


class _Endpoint(Strict):
    covariates: Covariates = Field(
        default_factory=dict,
        description="Prognostic effects on the linear predictor: per unit (centred at the population mean) "
        "or per level of a categorical column.",
    )
    effect: Effect | None = None
    modifiers: list[Modifier] = Field(default_factory=list)


class NormalBaseline(Strict):
    mean: float
    sd: float = Field(gt=0)


class ContinuousEndpoint(_Endpoint):
    type: Literal["continuous"]
    baseline: NormalBaseline
    timepoint: Duration = Field(0.0, description="When the outcome is measured after entry.")
    better: Literal["higher", "lower"] = "higher"


class BinaryBaseline(Strict):
    rate: Fraction


class BinaryEndpoint(_Endpoint):
    type: Literal["binary"]
    baseline: BinaryBaseline
    timepoint: Duration = Field(0.0, description="When the response is assessed after entry.")
    better: Literal["higher", "lower"] = "higher"


class Exponential(Strict):
    distribution: Literal["exponential"]
    median: Duration | None = Field(None, gt=0)
    rate: Rate | None = Field(None, gt=0, description="Hazard per month.")

    @model_validator(mode="after")
    def _one(self) -> Exponential:
        _exactly_one(self, ("median", "rate"), "exponential baseline")
        return self


class Weibull(Strict):
    distribution: Literal["weibull"]
    shape: float = Field(gt=0)
    median: Duration | None = Field(None, gt=0)
    scale: Duration | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one(self) -> Weibull:
        _exactly_one(self, ("median", "scale"), "weibull baseline")
        return self


class HazardPiece(Strict):
    start: Duration
    rate: Rate = Field(gt=0, description="Hazard per month from start on.")


class PiecewiseExponential(Strict):
    distribution: Literal["piecewise_exponential"]
    pieces: list[HazardPiece] = Field(min_length=1)


Survival = Annotated[Exponential | Weibull | PiecewiseExponential, Field(discriminator="distribution")]


class TimeToEventEndpoint(_Endpoint):
    type: Literal["time_to_event"]
    baseline: Survival
    better: Literal["higher", "lower"] = Field(
        "lower", description="Which direction of the hazard ratio is good (lower: events are harmful)."
    )


Endpoint = Annotated[ContinuousEndpoint | BinaryEndpoint | TimeToEventEndpoint, Field(discriminator="type")]


# -- analysis ---------------------------------------------------------------------------------


class HypothesisTest(Strict):
    endpoint: Name
    test: Literal["t_test", "ancova", "two_proportion_z", "logistic", "logrank", "stratified_logrank", "cox"]
    compare: list[Comparison] | None = Field(
        None, min_length=1, description="e.g. ['high vs placebo']; default: each arm vs the control arm."
    )
    alpha: Fraction = Field(0.025, gt=0, lt=0.5)
    sided: Literal[1, 2] = 1
    adjust: list[Name] = Field(default_factory=list, description="Covariates for ancova/logistic.")
    strata: list[Name] = Field(default_factory=list, description="Strata for stratified_logrank.")


class Look(Strict):
    """When an analysis happens: one of information fraction, subjects, events or calendar time."""

    information: float | None = Field(None, gt=0, le=1)
    subjects: int | None = Field(None, gt=0)
    events: int | None = Field(None, gt=0)
    time: Duration | None = Field(None, gt=0, description="Months from the first patient in.")

    @model_validator(mode="after")
    def _one(self) -> Look:
        _exactly_one(self, ("information", "subjects", "events", "time"), "a look")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("information", "subjects", "events", "time") if getattr(self, k) is not None)

    @property
    def value(self) -> float:
        return float(getattr(self, self.kind))


SpendingName = Literal["obrien_fleming", "pocock", "hsd"]


class _Bounds(Strict):
    spending: SpendingName | None = Field(None, description="Lan-DeMets spending function.")
    boundary: Literal["obrien_fleming", "pocock"] | None = Field(
        None, description="Classical (Wang-Tsiatis) boundaries at the planned information fractions."
    )
    gamma: float | None = Field(None, description="Hwang-Shih-DeCani parameter (hsd only).")

    @model_validator(mode="after")
    def _kind(self) -> _Bounds:
        _exactly_one(self, ("spending", "boundary"), "boundaries")
        if (self.spending == "hsd") != (self.gamma is not None):
            raise ValueError("gamma goes with spending: hsd (and hsd needs gamma, e.g. -4)")
        return self


class Efficacy(_Bounds):
    pass


class Futility(_Bounds):
    binding: bool = False
    beta: Fraction = Field(0.2, gt=0, lt=1, description="Type II error spent by the futility bounds.")

    @model_validator(mode="after")
    def _spending_only(self) -> Futility:
        if self.boundary is not None:
            raise ValueError("futility bounds come from beta spending: use spending: obrien_fleming, pocock or hsd")
        return self


SubgroupItem = Annotated[str, Field(min_length=1)]


class Subgroup(Strict):
    name: str = Field(min_length=1)
    when: Expression


class Analysis(Strict):
    primary: HypothesisTest
    secondary: list[HypothesisTest] = Field(default_factory=list)
    multiplicity: Literal["none", "bonferroni", "holm", "hochberg", "fixed_sequence"] = "none"
    looks: list[Look] = Field(
        default_factory=list, description="Interim and final analyses; none: one analysis after follow-up."
    )
    efficacy: Efficacy | None = None
    futility: Futility | None = None
    subgroups: list[SubgroupItem | Subgroup] = Field(
        default_factory=list, description="A categorical column (one subgroup per level) or {name, when}."
    )


class Simulation(Strict):
    trials: int = Field(1000, gt=0)
    seed: int = Field(0, ge=0)


class DesignSpec(Strict):
    """A trial design, version 1."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="trialsim design")

    trialsim: Literal[1] = Field(description="Version of the design format.")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", description="A short slug, e.g. nsclc-pfs-gsd.")
    title: str | None = None
    description: str | None = None
    population: Population = Field(default_factory=Population)
    enrollment: Enrollment
    randomization: Randomization = Field(default_factory=Randomization)
    arms: dict[Name, Arm] = Field(min_length=2)
    endpoints: dict[Name, Endpoint] = Field(min_length=1)
    analysis: Analysis
    scenarios: dict[str, dict[str, Any] | None] = Field(
        default_factory=dict,
        description="Named changes to the design (JSON merge patches), e.g. "
        "{null: {endpoints: {pfs: {effect: {hazard_ratio: 1}}}}}.",
    )
    grid: dict[str, Annotated[list[Any], Field(min_length=1)]] = Field(
        default_factory=dict,
        description="Scenario grid: dotted design paths and the values each takes; every combination, applied "
        "to each scenario, becomes a scenario, e.g. {enrollment.sample_size: [300, 450, 600], "
        "endpoints.pfs.effect.hazard_ratio: [1.0, 0.75]}.",
    )
    simulation: Simulation = Field(default_factory=Simulation)

    @property
    def control_arm(self) -> str:
        """The arm flagged ``control: true``, else the first arm."""
        return next((name for name, arm in self.arms.items() if arm.control), next(iter(self.arms)))

    def comparisons(self, test: HypothesisTest) -> list[tuple[str, str]]:
        """The (treatment, control) pairs a test makes."""
        if test.compare:
            return [parse_comparison(c) for c in test.compare]
        return [(arm, self.control_arm) for arm in self.arms if arm != self.control_arm]
