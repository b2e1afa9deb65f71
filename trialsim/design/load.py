"""Loading a design file: YAML with positions, pydantic models, cross-field checks, scenarios.

Every problem is reported as ``file:line:col: field.path: message`` before any
simulation starts; nothing here raises anything but :class:`DesignError` for a
bad file.
"""

from __future__ import annotations

import copy
import difflib
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from trialsim.design.checks import Finding, check_design, suggest
from trialsim.design.model import (
    BinaryEndpoint,
    ContinuousEndpoint,
    DesignSpec,
    Exponential,
    PiecewiseExponential,
    TimeToEventEndpoint,
    Weibull,
)
from trialsim.design.source import PathKey, Problem, SourceError, SourceMap, read_yaml

# Keys a scenario may not change: they name the design or say how to simulate it.
FIXED_KEYS = ("trialsim", "name", "scenarios", "simulation")
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

    @property
    def name(self) -> str:
        return self.spec.name


def format_path(path: PathKey) -> str:
    """``("analysis", "looks", 1, "events")`` -> ``analysis.looks[1].events``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not re.fullmatch(r"[A-Za-z0-9_-]+", part):
            out += f"[{part!r}]"
        else:
            out += f".{part}" if out else part
    return out


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


def _data_path(loc: tuple[Any, ...], data: Any) -> PathKey:
    """Keep the parts of a pydantic ``loc`` that address the data (drop union tags, validator names)."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
            path.append(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            path.append(part)
        elif not isinstance(node, dict | list):
            break
    return tuple(path)


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation may hold directly (through Annotated, Optional, unions)."""
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if origin is typing.Annotated:
        return _models(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _models(arg)]
    return []


def _containers(annotation: Any) -> list[Any]:
    """Item annotations of the lists and dicts an annotation may hold."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _containers(args[0])
    if origin in (typing.Union, types.UnionType):
        return [c for arg in args for c in _containers(arg)]
    if origin is list:
        return [args[0]]
    if origin is dict:
        return [args[1]]
    return []


def _allowed_keys(path: PathKey, data: Any) -> list[str]:
    """Field names of the model that validates the mapping at ``path`` (best match by its keys)."""
    candidates: list[Any] = [DesignSpec]
    node = data
    for part in path:
        node = node[part]
        nxt: list[Any] = []
        for ann in candidates:
            for model in _models(ann):
                if isinstance(part, str) and part in model.model_fields:
                    nxt.append(model.model_fields[part].annotation)
            nxt.extend(_containers(ann))
        candidates = nxt
    models = [m for ann in candidates for m in _models(ann)]
    if not models:
        return []
    keys = set(node) if isinstance(node, dict) else set()
    best = max(models, key=lambda m: len(keys & set(m.model_fields)))
    return list(best.model_fields)


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


def _message(err: dict[str, Any], path: PathKey, data: Any) -> tuple[str, bool]:
    kind = err["type"]
    given = err.get("input")
    if kind == "missing":
        return f"missing required key {err['loc'][-1]!r}", False
    if kind == "extra_forbidden":
        allowed = _allowed_keys(path[:-1], data)
        hint = suggest(path[-1], allowed)
        listing = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return f"unknown key {path[-1]!r}{hint}{listing}", True
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        ctx = err.get("ctx", {})
        tag = ctx.get("discriminator", "").strip("'")
        expected = ctx.get("expected_tags", "")
        if kind == "union_tag_not_found":
            return f"missing key {tag!r} ({tag}: {' | '.join(_TAGS.get(tag, ()))})", False
        names = expected.replace("'", "").split(", ")
        return f"{tag} must be one of {expected}; got {ctx.get('tag')!r}{suggest(ctx.get('tag'), names)}", False
    if kind == "too_short" and path == ("arms",):
        return "a design needs at least two arms (a control and a treatment)", False
    message = err["msg"].removeprefix("Value error, ")
    if kind == "literal_error":
        expected = [e.strip(" '") for e in err.get("ctx", {}).get("expected", "").replace(" or ", ", ").split(",")]
        message = f"{message}; got {given!r}{suggest(given, expected)}"
    elif kind not in ("value_error", "model_type", "dict_type", "list_type") and not isinstance(given, dict | list):
        message = f"{message}; got {given!r}"
    elif kind in ("model_type", "dict_type", "list_type"):
        message = f"{message}; got {type(given).__name__} {given!r}"
    return message, False


def _problems(exc: ValidationError, data: Any, source: SourceMap, prefix: str) -> list[Problem]:
    errors = exc.errors()
    paths = [_data_path(err["loc"], data) for err in errors]
    # A misspelt key also makes its field missing; the "did you mean" line says both at once.
    misspelt = {
        (path[:-1], match)
        for err, path in zip(errors, paths, strict=True)
        if err["type"] == "extra_forbidden"
        for match in difflib.get_close_matches(str(path[-1]), _allowed_keys(path[:-1], data), n=1, cutoff=0.6)
    }
    problems: list[Problem] = []
    for err, path in zip(errors, paths, strict=True):
        if err["type"] == "missing" and (path, err["loc"][-1]) in misspelt:
            continue
        if err["type"] == "union_tag_invalid":
            # Point at the offending tag (``type: survival``), not at the mapping that holds it.
            path = _data_path((*path, err["ctx"]["discriminator"].strip("'")), data)
        message, at_key = _message(err, path, data)
        where = format_path(path + ((err["loc"][-1],) if err["type"] == "missing" else ()))
        problem = source.problem(path, f"{prefix}{where or 'design'}: {message}", key=at_key)
        if problem not in problems:
            problems.append(problem)
    return problems


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
    if problems:
        raise DesignError(problems)
    assert spec is not None
    return Design(path=path, spec=spec, scenarios=scenarios or {DEFAULT_SCENARIO: spec}, source=source)


def validate_files(paths: list[str | Path]) -> list[Problem]:
    """Every problem in the given design files (an empty list when all are valid)."""
    problems: list[Problem] = []
    for path in paths:
        try:
            load_design(path)
        except DesignError as exc:
            problems.extend(exc.problems)
    return problems
