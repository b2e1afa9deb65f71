"""Pydantic validation errors as ``file:line:col: path: message`` problems.

Shared by every YAML format trialsim reads (designs, cohort specs): a pydantic
error's ``loc`` is mapped back to the data path it addresses, the path to a
position through the file's :class:`~trialsim.design.source.SourceMap`, and the
message is rewritten to say what was found and what is allowed ("did you mean").
What differs between formats (the root model, the tags of its discriminated
unions, a few format-specific messages) is passed in.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from trialsim.design.source import PathKey, Problem, SourceMap


def suggest(word: object, choices: Iterable[object]) -> str:
    """``"; did you mean 'x'?"`` when a close match exists, else ``""``.

    Examples
    --------
    >>> suggest("sampel_size", ["sample_size", "accrual"])
    "; did you mean 'sample_size'?"
    """
    match = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


def format_path(path: PathKey) -> str:
    """``("analysis", "looks", 1, "events")`` -> ``analysis.looks[1].events``.

    Examples
    --------
    >>> format_path(("backbone", "marginals", "age_group", "65+"))
    "backbone.marginals.age_group['65+']"
    """
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not re.fullmatch(r"[A-Za-z0-9_-]+", part):
            out += f"[{part!r}]"
        else:
            out += f".{part}" if out else part
    return out


def data_path(loc: tuple[Any, ...], data: Any) -> PathKey:
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


def _keys(model: type[BaseModel]) -> dict[str, str]:
    """Key as written in YAML (the alias, when a field has one) -> field name."""
    return {(f.alias or name): name for name, f in model.model_fields.items()}


def allowed_keys(root: type[BaseModel], path: PathKey, data: Any) -> list[str]:
    """Keys of the model that validates the mapping at ``path`` (best match by its keys)."""
    candidates: list[Any] = [root]
    node = data
    for part in path:
        node = node[part]
        nxt: list[Any] = []
        for ann in candidates:
            for model in _models(ann):
                keys = _keys(model)
                if isinstance(part, str) and part in keys:
                    nxt.append(model.model_fields[keys[part]].annotation)
            nxt.extend(_containers(ann))
        candidates = nxt
    models = [m for ann in candidates for m in _models(ann)]
    if not models:
        return []
    given = set(node) if isinstance(node, dict) else set()
    best = max(models, key=lambda m: len(given & set(_keys(m))))
    return list(_keys(best))


def _message(
    err: dict[str, Any],
    path: PathKey,
    data: Any,
    root: type[BaseModel],
    tags: Mapping[str, tuple[str, ...]],
    special: Mapping[tuple[str, PathKey], str],
) -> tuple[str, bool]:
    kind = err["type"]
    given = err.get("input")
    if kind == "missing":
        return f"missing required key {err['loc'][-1]!r}", False
    if kind == "extra_forbidden":
        allowed = allowed_keys(root, path[:-1], data)
        hint = suggest(path[-1], allowed)
        listing = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return f"unknown key {path[-1]!r}{hint}{listing}", True
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        ctx = err.get("ctx", {})
        tag = ctx.get("discriminator", "").strip("'")
        expected = ctx.get("expected_tags", "")
        if kind == "union_tag_not_found":
            return f"missing key {tag!r} ({tag}: {' | '.join(tags.get(tag, ()))})", False
        names = expected.replace("'", "").split(", ")
        return f"{tag} must be one of {expected}; got {ctx.get('tag')!r}{suggest(ctx.get('tag'), names)}", False
    if (kind, path) in special:
        return special[(kind, path)], False
    message = err["msg"].removeprefix("Value error, ")
    if kind == "literal_error":
        expected = [e.strip(" '") for e in err.get("ctx", {}).get("expected", "").replace(" or ", ", ").split(",")]
        message = f"{message}; got {given!r}{suggest(given, expected)}"
    elif kind not in ("value_error", "model_type", "dict_type", "list_type") and not isinstance(given, dict | list):
        message = f"{message}; got {given!r}"
    elif kind in ("model_type", "dict_type", "list_type"):
        message = f"{message}; got {type(given).__name__} {given!r}"
    return message, False


def pydantic_problems(
    exc: ValidationError,
    data: Any,
    source: SourceMap,
    *,
    root: type[BaseModel],
    prefix: str = "",
    what: str = "design",
    tags: Mapping[str, tuple[str, ...]] | None = None,
    special: Mapping[tuple[str, PathKey], str] | None = None,
) -> list[Problem]:
    """One :class:`Problem` per pydantic error, at the node to fix.

    Parameters
    ----------
    exc, data, source
        The error, the data that was validated and the positions of its values.
    root
        The model ``data`` was validated against (for "unknown key ...; allowed: ..." lists).
    prefix
        Put before each message (e.g. ``"in scenario 'null': "``).
    what
        Names the whole document when an error is about its top level.
    tags
        Discriminator key -> the tags it allows, for "missing key" messages on discriminated unions.
    special
        ``(pydantic error type, data path)`` -> a message that says it better than pydantic does.

    Examples
    --------
    >>> from pydantic import BaseModel, ConfigDict
    >>> from trialsim.design.source import parse_yaml
    >>> class Spec(BaseModel):
    ...     model_config = ConfigDict(extra="forbid")
    ...     sample_size: int
    >>> data, source = parse_yaml("sampel_size: 3\\n", "x.yaml")
    >>> try:
    ...     Spec.model_validate(data)
    ... except ValidationError as exc:
    ...     print(pydantic_problems(exc, data, source, root=Spec)[0])
    x.yaml:1:1: sampel_size: unknown key 'sampel_size'; did you mean 'sample_size'? (allowed: sample_size)
    """
    tags = tags or {}
    special = special or {}
    errors = exc.errors()
    paths = [data_path(err["loc"], data) for err in errors]
    # A misspelt key also makes its field missing; the "did you mean" line says both at once.
    misspelt = {
        (path[:-1], match)
        for err, path in zip(errors, paths, strict=True)
        if err["type"] == "extra_forbidden"
        for match in difflib.get_close_matches(str(path[-1]), allowed_keys(root, path[:-1], data), n=1, cutoff=0.6)
    }
    problems: list[Problem] = []
    for err, path in zip(errors, paths, strict=True):
        if err["type"] == "missing" and (path, err["loc"][-1]) in misspelt:
            continue
        if err["type"] == "union_tag_invalid":
            # Point at the offending tag (``type: survival``), not at the mapping that holds it.
            path = data_path((*path, err["ctx"]["discriminator"].strip("'")), data)
        message, at_key = _message(err, path, data, root, tags, special)
        where = format_path(path + ((err["loc"][-1],) if err["type"] == "missing" else ()))
        problem = source.problem(path, f"{prefix}{where or what}: {message}", key=at_key)
        if problem not in problems:
            problems.append(problem)
    return problems
