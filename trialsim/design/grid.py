"""Scenario grids: every combination of a few design values becomes a scenario.

A design's ``grid:`` maps dotted paths into the design to lists of values::

    grid:
      enrollment.sample_size: [300, 450, 600]
      endpoints.pfs.effect.hazard_ratio: [1.0, 0.75, 0.7]

Each combination (a *point*) is a merge patch applied on top of each named scenario (or of the
design when it has none), and the points replace the scenarios they patch: the design above with
scenarios ``null`` and ``expected`` has 18 scenarios, named like
``expected[sample_size=300,hazard_ratio=0.75]`` (a path is labelled by its last part, or in full
when two paths end alike). A point draws the random numbers of the scenario it patches (see
:mod:`trialsim.run.seeds`), so the points of a scenario are compared on common random numbers.

A path must lead through mappings to a key the design format knows; it is checked at the grid's
``file:line``, and a point that makes an invalid design is reported at the value that makes it so.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trialsim.design.errors import allowed_keys, format_path, suggest
from trialsim.design.model import DesignSpec
from trialsim.design.source import PathKey, Problem, SourceMap

# Keys a grid may not vary: they name the design or say how to simulate it.
FIXED = ("trialsim", "name", "scenarios", "simulation", "grid")


@dataclass(frozen=True)
class GridPoint:
    """A grid scenario: the scenario it patches and the value at each grid path."""

    base: str
    values: dict[str, Any]


def path_parts(path: str) -> tuple[str, ...]:
    """``"enrollment.sample_size"`` -> ``("enrollment", "sample_size")``."""
    return tuple(path.split("."))


def path_patch(path: str, value: Any) -> dict:
    """The merge patch that sets ``path`` to ``value``.

    Examples
    --------
    >>> path_patch("endpoints.pfs.effect.hazard_ratio", 0.7)
    {'endpoints': {'pfs': {'effect': {'hazard_ratio': 0.7}}}}
    """
    patch: Any = value
    for part in reversed(path_parts(path)):
        patch = {part: patch}
    return patch


def labels(paths: list[str]) -> dict[str, str]:
    """Each path's label in scenario names: its last part, or the whole path when that is ambiguous.

    Examples
    --------
    >>> labels(["enrollment.sample_size", "endpoints.pfs.effect.hazard_ratio"])
    {'enrollment.sample_size': 'sample_size', 'endpoints.pfs.effect.hazard_ratio': 'hazard_ratio'}
    """
    last = [path_parts(p)[-1] for p in paths]
    return {p: (name if last.count(name) == 1 else p) for p, name in zip(paths, last, strict=True)}


def format_value(value: Any) -> str:
    """A grid value as written in a scenario name.

    Examples
    --------
    >>> [format_value(v) for v in (300, 0.75, 1.0, "24 months", True, {"rate": 0.05})]
    ['300', '0.75', '1.0', '24 months', 'true', '{"rate":0.05}']
    """
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float | str):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def point_name(base: str, values: dict[str, Any], names: dict[str, str]) -> str:
    """``expected[sample_size=300,hazard_ratio=0.75]``."""
    inside = ",".join(f"{names[path]}={format_value(value)}" for path, value in values.items())
    return f"{base}[{inside}]"


def points(grid: dict[str, list[Any]], bases: list[str]) -> list[tuple[str, GridPoint]]:
    """Every (name, point) of a grid over the given base scenarios; the first path varies slowest.

    Examples
    --------
    >>> [name for name, _ in points({"a.n": [1, 2], "b.hr": [0.7]}, ["null", "expected"])]
    ['null[n=1,hr=0.7]', 'null[n=2,hr=0.7]', 'expected[n=1,hr=0.7]', 'expected[n=2,hr=0.7]']
    """
    paths = list(grid)
    names = labels(paths)
    out = []
    for base in bases:
        for combination in itertools.product(*(grid[p] for p in paths)):
            values = dict(zip(paths, combination, strict=True))
            out.append((point_name(base, values, names), GridPoint(base, values)))
    return out


def check_grid(grid: dict[str, list[Any]], data: dict, source: SourceMap) -> list[Problem]:
    """Problems with the grid's paths (each at its key) and values (duplicates), before any point is made."""
    problems = []
    for path, values in grid.items():
        message = _path_problem(path, data)
        if message:
            problems.append(source.problem(("grid", path), f"{format_path(('grid', path))}: {message}", key=True))
            continue
        seen: dict[str, int] = {}
        for i, value in enumerate(values):
            text = format_value(value)
            if text in seen:
                problems.append(
                    source.problem(
                        ("grid", path, i),
                        f"{format_path(('grid', path))}: {text} is listed twice (items {seen[text] + 1} and {i + 1})",
                    )
                )
            seen.setdefault(text, i)
    return problems


def _path_problem(path: str, data: dict) -> str | None:
    """What is wrong with a grid path (None when nothing): it must lead through mappings to a known key."""
    parts = path_parts(path)
    if any(not part for part in parts):
        return "a grid path is keys joined by dots, e.g. enrollment.sample_size"
    if parts[0] in FIXED:
        return f"a grid cannot vary {parts[0]!r}"
    node: Any = data
    for i, part in enumerate(parts):
        parent: PathKey = parts[:i]
        where = ".".join(parent) or "the design"
        if not isinstance(node, dict):
            kind = "list" if isinstance(node, list) else "value"
            return (
                f"{where} is a {kind}, so the path cannot go on to {part!r}; "
                f"vary {where} itself with whole {kind}s as the grid's values"
            )
        if part in node:
            node = node[part]
            continue
        allowed = allowed_keys(DesignSpec, parent, data)
        if allowed:
            if part in allowed:
                return None  # a key the design leaves out: each point is validated whole
            return f"unknown key {part!r} in {where}{suggest(part, allowed)} (allowed: {', '.join(allowed)})"
        known = [str(k) for k in node]
        return f"no {part!r} in {where}{suggest(part, known)} (it has: {', '.join(known) or 'nothing'})"
    return None


def point_source(source: SourceMap, base: PathKey, point: GridPoint, grid: dict[str, list[Any]]) -> SourceMap:
    """Positions for validating a point: its paths point at the grid's values, the rest as in ``source``.

    ``base`` is where the patch of the scenario the point patches is (``("scenarios", name)``),
    or ``()`` for the design itself.
    """
    mapped = source.overlay(source, base, ()) if base else source.overlay(source, ("grid",), ("grid",))
    for path, value in point.values.items():
        text = format_value(value)
        i = next(i for i, v in enumerate(grid[path]) if format_value(v) == text)
        at: PathKey = ("grid", path, i)
        parts = path_parts(path)
        mapped = mapped.overlay(source, at, parts)  # inside a mapping value
        mapped.values[parts] = source.locate(at)
        mapped.keys[parts] = source.locate(("grid", path), key=True)
    return mapped


def expand(
    grid: dict[str, list[Any]],
    data: dict,
    source: SourceMap,
    bases: dict[str, tuple[PathKey, dict]],
    validate: Callable[[dict, SourceMap, str], tuple[DesignSpec | None, list[Problem]]],
    said: set[tuple[int, int, str]],
) -> tuple[dict[str, DesignSpec], dict[str, GridPoint], list[Problem]]:
    """The grid's scenarios, validated: each point merged into its base scenario's data.

    ``bases`` maps each scenario the grid patches to where its patch is in the file and its data
    (the design with the patch applied). ``validate(data, source, prefix)`` validates a whole
    design. Problems already ``said`` (line, column, message) are not repeated for every point.
    """
    from trialsim.design.load import merge_patch  # load imports this module

    problems = check_grid(grid, data, source)
    if problems:
        return {}, {}, problems
    scenarios: dict[str, DesignSpec] = {}
    found: dict[str, GridPoint] = {}
    for name, point in points(grid, list(bases)):
        where, base_data = bases[point.base]
        merged = base_data
        for path, value in point.values.items():
            merged = merge_patch(merged, path_patch(path, value))
        merged.pop("grid", None)
        spec, point_problems = validate(merged, point_source(source, where, point, grid), f"in {name!r}: ")
        for p in point_problems:
            key = (p.line, p.col, p.message.split(": ", 1)[1])
            if key not in said:
                said.add(key)
                problems.append(p)
        if spec is not None:
            scenarios[name] = spec
            found[name] = point
    return scenarios, found, problems
