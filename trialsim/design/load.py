"""Loading a design file: YAML with positions, pydantic models, cross-field checks, scenarios.

Every problem is reported as ``file:line:col: field.path: message`` before any
simulation starts; nothing here raises anything but :class:`DesignError` for a
bad file.
"""

from __future__ import annotations

import copy
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from trialsim.design.checks import Finding, check_design
from trialsim.design.errors import format_path, pydantic_problems
from trialsim.design.grid import GridPoint
from trialsim.design.grid import expand as expand_grid
from trialsim.design.model import (
    BinaryEndpoint,
    ContinuousEndpoint,
    DesignSpec,
    Exponential,
    PiecewiseExponential,
    TimeToEventEndpoint,
    Weibull,
)
from trialsim.design.source import Problem, SourceError, SourceMap, read_yaml

# Keys a scenario may not change: they name the design or say how to simulate it.
FIXED_KEYS = ("trialsim", "name", "scenarios", "simulation", "grid")
DEFAULT_SCENARIO = "default"


class DesignError(SourceError):
    """A design file has problems; ``.problems`` lists them, ``str()`` prints one per line."""


@dataclass(frozen=True)
class Design:
    """A validated design and its scenarios, each a complete :class:`DesignSpec`.

    Examples
    --------
    >>> design = load_design("designs/two-arm-pfs-gsd.yaml")
    >>> design.name, sorted(design.scenarios)
    ('nsclc-pfs-gsd', ['expected', 'null'])
    """

    path: Path
    spec: DesignSpec
    scenarios: dict[str, DesignSpec]
    source: SourceMap
    grid: dict[str, GridPoint] = field(default_factory=dict)  # the grid's scenarios, by name

    @property
    def name(self) -> str:
        return self.spec.name


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: mappings merge key by key, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# -- pydantic errors -> positions ----------------------------------------------------------------

# The tags of the discriminated unions, for "missing key 'type'" messages (pydantic gives none there).
_TAGS = {
    "type": typing.get_args(ContinuousEndpoint.model_fields["type"].annotation)
    + typing.get_args(BinaryEndpoint.model_fields["type"].annotation)
    + typing.get_args(TimeToEventEndpoint.model_fields["type"].annotation),
    "distribution": tuple(
        typing.get_args(m.model_fields["distribution"].annotation)[0]
        for m in (Exponential, Weibull, PiecewiseExponential)
    ),
}
_SPECIAL = {("too_short", ("arms",)): "a design needs at least two arms (a control and a treatment)"}


def _problems(exc: ValidationError, data: Any, source: SourceMap, prefix: str) -> list[Problem]:
    return pydantic_problems(exc, data, source, root=DesignSpec, prefix=prefix, tags=_TAGS, special=_SPECIAL)


def _finding_problems(findings: list[Finding], source: SourceMap, prefix: str) -> list[Problem]:
    return [
        source.problem(f.path, f"{prefix}{format_path(f.path) or 'design'}: {f.message}", key=f.key, offset=f.offset)
        for f in findings
    ]


def _validate(data: Any, source: SourceMap, base: Path, prefix: str = "") -> tuple[DesignSpec | None, list[Problem]]:
    try:
        spec = DesignSpec.model_validate(data)
    except ValidationError as exc:
        return None, _problems(exc, data, source, prefix)
    return spec, _finding_problems(check_design(spec, base), source, prefix)


def load_design(path: str | Path) -> Design:
    """Read, validate and resolve the scenarios of a design file.

    Raises
    ------
    DesignError
        With one ``file:line:col: message`` line per problem.
    """
    path = Path(path)
    try:
        data, source = read_yaml(path)
    except SourceError as exc:
        raise DesignError(exc.problems) from None
    name = str(path)
    if data is None:
        raise DesignError([Problem(name, 1, 1, "empty file: a design starts with 'trialsim: 1'")])
    if not isinstance(data, dict):
        raise DesignError(
            [
                source.problem(
                    (), f"a design is a mapping of keys (trialsim, name, arms, ...), not a {type(data).__name__}"
                )
            ]
        )
    if "trialsim" not in data:
        raise DesignError([Problem(name, 1, 1, "missing 'trialsim: 1' (the design format version) at the top")])
    if type(data["trialsim"]) is not int or data["trialsim"] != 1:
        raise DesignError(
            [
                source.problem(
                    ("trialsim",),
                    f"trialsim: unsupported design format version {data['trialsim']!r}; this trialsim reads version 1",
                )
            ]
        )
    base = path.resolve().parent
    spec, problems = _validate(data, source, base)
    scenarios: dict[str, DesignSpec] = {}
    merged_data: dict[str, tuple[tuple, dict]] = {}  # what a grid patches, by scenario
    raw = data.get("scenarios")
    if isinstance(raw, dict):
        for sname, patch in raw.items():
            where = ("scenarios", sname)
            if patch is None:
                patch = {}
            if not isinstance(patch, dict):
                problems.append(
                    source.problem(
                        where,
                        f"scenarios.{sname}: a scenario is a mapping of changes to the design, "
                        "e.g. {endpoints: {pfs: {effect: {hazard_ratio: 1}}}}",
                    )
                )
                continue
            fixed = [k for k in FIXED_KEYS if k in patch]
            for key in fixed:
                problems.append(
                    source.problem(where + (key,), f"scenarios.{sname}: a scenario cannot change {key!r}", key=True)
                )
            if fixed or spec is None:  # the design's own problems come first
                continue
            merged = merge_patch(data, patch)
            merged.pop("scenarios", None)
            scenario_source = source.overlay(source, where, ())
            scenario_spec, scenario_problems = _validate(merged, scenario_source, base, f"in scenario {sname!r}: ")
            # What is wrong in the design itself is said once, not again for every scenario.
            said = {(p.line, p.col, p.message) for p in problems}
            problems.extend(p for p in scenario_problems if (p.line, p.col, p.message.split(": ", 1)[1]) not in said)
            if scenario_spec is not None:
                scenarios[sname] = scenario_spec
                merged_data[sname] = (where, merged)
    grid: dict[str, GridPoint] = {}
    if spec is not None and spec.grid and not problems:
        # The grid's points replace the scenarios they patch (the design itself when it has none).
        bases = merged_data or {DEFAULT_SCENARIO: ((), {k: v for k, v in data.items() if k != "scenarios"})}
        said = {(p.line, p.col, p.message.split(": ", 1)[-1]) for p in problems}
        scenarios, grid, grid_problems = expand_grid(
            spec.grid, data, source, bases, lambda d, s, prefix: _validate(d, s, base, prefix), said
        )
        problems.extend(grid_problems)
    if problems:
        raise DesignError(problems)
    assert spec is not None
    scenarios = scenarios or {DEFAULT_SCENARIO: spec}
    return Design(path=path, spec=spec, scenarios=scenarios, source=source, grid=grid)


def validate_files(paths: list[str | Path]) -> list[Problem]:
    """Every problem in the given design files (an empty list when all are valid)."""
    problems: list[Problem] = []
    for path in paths:
        try:
            load_design(path)
        except DesignError as exc:
            problems.extend(exc.problems)
    return problems
