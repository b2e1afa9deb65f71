"""The cohort spec format (``cohorts/*.yaml``), version 1, as pydantic models, and its loader.

A cohort spec describes the people who have a disease, in the order they are drawn
(synthpop-style: each column given the ones before it):

1. ``backbone``: demographic columns (race/ethnicity, sex, age group) from published
   marginal shares, or a ``joint`` table, combined by raking; weighted by the disease's
   ``prevalence`` in each group; ``age`` in whole years within each age group's band.
2. ``learned`` (optional): columns learned from seed data by an SDV synthesizer,
   conditioned on backbone columns so the backbone's shares hold.
3. ``covariates``: clinical columns, each a distribution whose parameter moves with
   linear ``effects`` of columns drawn before it.
4. ``derived``: columns computed from the others by a safe expression.

These models check each value on its own; :mod:`trialsim.cohort.checks` checks that the
values fit together (shares add up to 100%, effects name earlier columns and their
levels, the seed data has the columns named) and points at the node to fix.

Examples
--------
>>> spec = load_cohort_spec("cohorts/us-type2-diabetes.yaml")
>>> spec.name, list(spec.columns)[:4]
('us-type2-diabetes', ['age', 'age_group', 'sex', 'race_ethnicity'])
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError, WithJsonSchema

from trialsim.design.errors import format_path, pydantic_problems
from trialsim.design.source import Problem, SourceError, SourceMap, read_yaml
from trialsim.design.units import Fraction, parse_fraction

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
FORMAT_VERSION = 1


class CohortError(SourceError, ValueError):
    """A cohort spec has problems; ``.problems`` lists them, ``str()`` prints one ``file:line:col`` line each."""


class Strict(BaseModel):
    """Unknown keys are errors, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


Column = Annotated[str, Field(pattern=NAME_PATTERN)]
Shares = dict[str, Fraction]


def parse_weight(value: object) -> float:
    if isinstance(value, str):
        return parse_fraction(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0 or value == float("inf"):
        raise ValueError(f"expected a count or share (a number >= 0, or '5%'), got {value!r}")
    return float(value)


Weight = Annotated[
    float,
    BeforeValidator(parse_weight),
    WithJsonSchema(
        {
            "anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": r"^\s*[0-9.]+\s*%\s*$"}],
            "description": "A count (people) or a share ('5%', 0.05).",
        }
    ),
]


# -- sources ----------------------------------------------------------------------------------------


class Source(Strict):
    """A citation for numbers in the spec."""

    id: str = Field(pattern=SLUG_PATTERN, description="A short name other parts refer to, e.g. census-2020.")
    cite: str = Field(min_length=1, description="The reference: authors or agency, title, year, table.")
    url: str | None = None
    for_: list[str] = Field(
        default_factory=list,
        alias="for",
        description="Parts of this spec whose numbers come from here, e.g. backbone.marginals.race_ethnicity.",
    )


# -- backbone ---------------------------------------------------------------------------------------


class Joint(Strict):
    """A cross-table of two or more backbone columns: counts or shares, nested one level per column.

    Raking starts from it, so the associations it shows (more older women than older men)
    are kept while the marginal shares are matched.
    """

    columns: list[Column] = Field(min_length=2)
    table: dict[str, Any] = Field(
        description="Nested by the columns in order: {level of 1st: {level of 2nd: count}}.",
        json_schema_extra={"additionalProperties": {"type": ["object", "number", "string"]}},
    )


class Age(Strict):
    """Age in whole years, uniform within each age group's band."""

    from_: Column = Field("age_group", alias="from", description="The backbone column of age bands.")
    bands: dict[str, tuple[int, int]] = Field(
        description="Age group level -> [youngest, oldest] in whole years, both included, e.g. {65+: [65, 90]}."
    )


class Backbone(Strict):
    """Demographic columns: marginal shares (and an optional joint table), weighted by prevalence."""

    marginals: dict[Column, Shares] = Field(
        default_factory=dict,
        description="Column -> {level: share} in the general population, e.g. {sex: {F: 50.5%, M: 49.5%}}.",
    )
    joint: Joint | None = None
    prevalence: dict[Column, Shares] = Field(
        default_factory=dict,
        description="Column -> {level: share of that group who have the disease}; multiplies the shares.",
    )
    age: Age | None = None


# -- learned ----------------------------------------------------------------------------------------


class Learned(Strict):
    """Columns learned from seed data (real or published patient-level data) by an SDV synthesizer."""

    seed: str = Field(min_length=1, description="The seed data (.csv or .parquet), relative to this file.")
    synthesizer: Literal["gaussian_copula", "ctgan", "tvae"] = "gaussian_copula"
    conditions: list[Column] = Field(
        default_factory=list, description="Backbone columns the synthesizer is conditioned on."
    )
    columns: list[Column] = Field(min_length=1, description="Seed data columns to learn and keep.")
    source: str | None = Field(None, description="The id of the seed data's entry in sources.")


class Privacy(Strict):
    max_copy_rate: Fraction = Field(description="Largest allowed share of synthetic rows that copy a seed row.")


# -- covariates -------------------------------------------------------------------------------------


class PerUnit(Strict):
    """A slope on a numeric column, measured from a reference value: ``{per_unit: -0.9, from: 60}``."""

    per_unit: float
    from_: float = Field(0.0, alias="from", description="The value at which the effect is zero.")


Effect = Annotated[
    float | PerUnit | dict[str, float],
    Field(
        union_mode="left_to_right",  # {per_unit, from} is a PerUnit, not a mapping of levels
        description="On a numeric column: a number per unit (from 0) or {per_unit, from}; "
        "on a yes/no column: the shift when true; on a categorical column: {level: shift}, other levels 0.",
    ),
]
Effects = dict[Column, Effect]
Clip = tuple[float | None, float | None]


class _Covariate(Strict):
    effects: Effects = Field(
        default_factory=dict, description="Linear effects of earlier columns on the distribution's parameter."
    )
    source: str | None = Field(None, description="The id of this covariate's entry in sources.")
    note: str | None = None


class _Numeric(_Covariate):
    clip: Clip | None = Field(None, description="[lowest, highest] kept (null: no bound); values beyond become it.")
    round: int | None = Field(None, ge=0, le=10, description="Decimal places kept.")


class Normal(_Numeric):
    """Normal; effects shift the mean."""

    distribution: Literal["normal"]
    mean: float = Field(description="Mean at the reference (effects zero).")
    sd: float = Field(gt=0)


class LogNormal(_Numeric):
    """Log-normal; effects shift the log of the median (a 0.1 effect is about 10.5% higher)."""

    distribution: Literal["lognormal"]
    median: float = Field(gt=0, description="Median at the reference (effects zero).")
    sdlog: float = Field(gt=0, description="Standard deviation of the log.")


class Bernoulli(_Covariate):
    """Yes/no (true/false); effects shift the log-odds of yes."""

    distribution: Literal["bernoulli"]
    p: Fraction = Field(description="Probability of yes at the reference.")


class Categorical(_Covariate):
    """Unordered levels; an effect on a level shifts its log-odds against the levels given no shift."""

    distribution: Literal["categorical"]
    probabilities: Shares = Field(min_length=2, description="Level -> probability at the reference.")
    effects: dict[str, Effects] = Field(  # type: ignore[assignment]
        default_factory=dict, description="Level -> the effects of earlier columns on that level's log-odds."
    )


class Ordinal(_Covariate):
    """Ordered levels (proportional odds); a positive effect moves towards the later levels.

    Levels that are all numbers (ECOG 0, 1, 2) give a numeric column.
    """

    distribution: Literal["ordinal"]
    probabilities: Shares = Field(min_length=2, description="Level -> probability at the reference, in order.")


Covariate = Annotated[Normal | LogNormal | Bernoulli | Categorical | Ordinal, Field(discriminator="distribution")]
DISTRIBUTIONS = tuple(
    typing.get_args(m.model_fields["distribution"].annotation)[0]
    for m in (Normal, LogNormal, Bernoulli, Categorical, Ordinal)
)


class Derived(Strict):
    """A column computed from earlier ones, e.g. ``bmi * height * height``."""

    expression: str = Field(min_length=1, description="A safe expression over earlier columns.")
    clip: Clip | None = None
    round: int | None = Field(None, ge=0, le=10)
    source: str | None = None


# -- the spec ---------------------------------------------------------------------------------------


class CohortSpec(Strict):
    """A version-1 cohort spec."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, title="trialsim cohort")

    trialsim_cohort: Literal[1] = Field(description="The cohort format version.")
    name: str = Field(pattern=SLUG_PATTERN, description="The name designs use: population.cohort: NAME.")
    title: str | None = None
    description: str | None = None
    sources: list[Source] = Field(default_factory=list)
    backbone: Backbone
    learned: Learned | None = None
    covariates: dict[Column, Covariate] = Field(default_factory=dict)
    derived: dict[Column, Derived] = Field(default_factory=dict)
    privacy: Privacy | None = None

    # Set by the loader and the checks: where the spec came from, and what it produces.
    _path: Path | None = PrivateAttr(None)
    _source: SourceMap | None = PrivateAttr(None)
    _columns: dict[str, str] | None = PrivateAttr(None)
    _levels: dict[str, list[str]] | None = PrivateAttr(None)

    @property
    def path(self) -> Path | None:
        """The file the spec was read from (None when built in Python)."""
        return self._path

    @property
    def base(self) -> Path:
        """The folder relative paths in the spec (the seed data) are resolved against."""
        return self._path.resolve().parent if self._path is not None else Path.cwd()

    @property
    def columns(self) -> dict[str, str]:
        """Column -> kind (``number``, ``string``, ``bool``) of the populations the spec builds, in order."""
        self._checked()
        assert self._columns is not None
        return dict(self._columns)

    @property
    def levels(self) -> dict[str, list[str]]:
        """Levels of the categorical columns whose levels the spec knows, in order."""
        self._checked()
        assert self._levels is not None
        return {k: list(v) for k, v in self._levels.items()}

    def _checked(self) -> None:
        if self._columns is None:
            from trialsim.cohort.checks import check_cohort

            findings = check_cohort(self)
            if findings:
                where = f"{self._path}: " if self._path else ""
                raise ValueError(f"{where}{findings[0].message}")

    def problem(self, path: tuple[str | int, ...], message: str, *, key: bool = False) -> CohortError:
        """A :class:`CohortError` at ``path`` of the spec's file (or without a position when built in Python)."""
        text = f"{format_path(path) or 'cohort'}: {message}"
        if self._source is None:
            return CohortError([Problem(str(self._path or "<cohort spec>"), 1, 1, text)])
        return CohortError([self._source.problem(path, text, key=key)])


_TAGS = {"distribution": DISTRIBUTIONS}


def load_cohort_spec(path: str | Path) -> CohortSpec:
    """Read and check a cohort spec file.

    Raises
    ------
    CohortError
        With one ``file:line:col: message`` line per problem.

    Examples
    --------
    >>> spec = load_cohort_spec("cohorts/us-type2-diabetes.yaml")
    >>> spec.columns["hba1c"], spec.levels["sex"]
    ('number', ['F', 'M'])
    """
    from trialsim.cohort.checks import check_cohort  # the checks use these models

    path = Path(path)
    try:
        data, source = read_yaml(path)
    except SourceError as exc:
        raise CohortError(exc.problems) from None
    name = str(path)
    if data is None:
        raise CohortError([Problem(name, 1, 1, "empty file: a cohort spec starts with 'trialsim_cohort: 1'")])
    if not isinstance(data, dict):
        kind = type(data).__name__
        message = f"a cohort spec is a mapping of keys (trialsim_cohort, name, backbone, ...), not a {kind}"
        raise CohortError([source.problem((), message)])
    if "trialsim_cohort" not in data:
        message = "missing 'trialsim_cohort: 1' (the cohort format version) at the top"
        if "trialsim" in data:
            message += "; this looks like a design (trialsim: 1), not a cohort spec"
        raise CohortError([Problem(name, 1, 1, message)])
    version = data["trialsim_cohort"]
    if type(version) is not int or version != FORMAT_VERSION:
        message = f"trialsim_cohort: unsupported cohort format version {version!r}; this trialsim reads version 1"
        raise CohortError([source.problem(("trialsim_cohort",), message)])
    try:
        spec = CohortSpec.model_validate(data)
    except ValidationError as exc:
        raise CohortError(
            pydantic_problems(exc, data, source, root=CohortSpec, what="cohort spec", tags=_TAGS)
        ) from None
    spec._path = path
    spec._source = source
    findings = check_cohort(spec)
    if findings:
        raise CohortError(
            source.problem(f.path, f"{format_path(f.path) or 'cohort spec'}: {f.message}", key=f.key, offset=f.offset)
            for f in findings
        )
    return spec
