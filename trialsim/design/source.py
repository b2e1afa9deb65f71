"""YAML documents loaded together with where each value stands in the file.

Validation errors must point at ``file:line:col``. PyYAML's composer already
knows every node's position, so we compose the node graph ourselves and build
plain Python data next to a map from each value's path (``("analysis",
"looks", 1, "events")``) to its position. Mapping keys keep their source text:
``null:`` as a scenario name stays the string ``"null"``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

PathKey = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class Position:
    """A 1-based line and column in a source file."""

    line: int
    col: int


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file, at a position: printed as ``file:line:col: message``."""

    file: str
    line: int
    col: int
    message: str

    def __post_init__(self) -> None:
        # One problem, one line: whatever a user wrote into a key or value stays escaped.
        flat = "".join(c if c.isprintable() else repr(c)[1:-1] for c in self.message)
        object.__setattr__(self, "message", flat)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


class SourceError(Exception):
    """One or more problems found in user-written files; ``str()`` gives one line per problem."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.col, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class SourceMap:
    """Positions of the values (and of the keys) of one YAML document."""

    file: str
    values: dict[PathKey, Position] = field(default_factory=dict)
    keys: dict[PathKey, Position] = field(default_factory=dict)
    # Quoted scalars start one column before their text; expression errors need the text's column.
    quoted: set[PathKey] = field(default_factory=set)

    def locate(self, path: PathKey, *, key: bool = False) -> Position:
        """The position of ``path``, or of its nearest ancestor that exists in the file."""
        table = self.keys if key else self.values
        for cut in range(len(path), -1, -1):
            prefix = path[:cut]
            if prefix in table:
                return table[prefix]
            if prefix in self.values:
                return self.values[prefix]
        return Position(1, 1)

    def problem(self, path: PathKey, message: str, *, key: bool = False, offset: int | None = None) -> Problem:
        """A :class:`Problem` at ``path``; ``offset`` points at a character of a one-line scalar's text."""
        pos = self.locate(path, key=key)
        col = pos.col if offset is None else pos.col + offset + (path in self.quoted)
        return Problem(self.file, pos.line, col, message)

    def overlay(self, other: SourceMap, prefix: PathKey, into: PathKey) -> SourceMap:
        """A copy where positions under ``prefix`` in ``other`` stand for paths under ``into``.

        Used for scenarios: a scenario's patch at ``("scenarios", name)`` overrides values of the
        design at ``()``, and its errors must point into the patch.
        """
        merged = SourceMap(self.file, dict(self.values), dict(self.keys), set(self.quoted))
        n = len(prefix)
        for source, target in ((other.values, merged.values), (other.keys, merged.keys)):
            for path, pos in source.items():
                if path[:n] == prefix and len(path) > n:
                    target[into + path[n:]] = pos
        merged.quoted |= {into + p[n:] for p in other.quoted if p[:n] == prefix and len(p) > n}
        return merged


def _mark(node: yaml.Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


# Deeper than any design needs, well short of Python's recursion limit.
MAX_DEPTH = 64
# Aliases can make a few hundred bytes expand to billions of values ("billion laughs").
MAX_VALUES = 100_000


class _TooLarge(Exception):
    def __init__(self, node: yaml.Node):
        self.node = node


class _Builder:
    def __init__(self, loader: yaml.SafeLoader, source: SourceMap):
        self.loader = loader
        self.source = source
        self.problems: list[Problem] = []
        self.open: set[int] = set()  # collections being built: an alias back to one is a cycle

    def fail(self, node: yaml.Node, message: str) -> None:
        pos = _mark(node)
        self.problems.append(Problem(self.source.file, pos.line, pos.col, message))

    def build(self, node: yaml.Node, path: PathKey) -> object:
        if len(self.source.values) >= MAX_VALUES:
            raise _TooLarge(node)
        self.source.values[path] = _mark(node)
        if len(path) > MAX_DEPTH:
            self.fail(node, f"nested more than {MAX_DEPTH} levels deep")
            return None
        if isinstance(node, yaml.ScalarNode):
            if node.style in ("'", '"'):
                self.source.quoted.add(path)
            try:
                return self.loader.construct_object(node, deep=True)
            except Exception:  # PyYAML's constructors fail in many ways on a mistyped explicit tag
                self.fail(node, f"cannot read {node.value[:40]!r} as {node.tag.rsplit(':', 1)[-1]}")
                return None
        if id(node) in self.open:
            self.fail(node, "an alias refers to the mapping or list that contains it")
            return None
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
            return self.mapping(node, path)
        finally:
            self.open.discard(id(node))

    def mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[str, object]:
        self.loader.flatten_mapping(node)  # applies YAML merge keys ('<<')
        out: dict[str, object] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.fail(key_node, "a key must be a plain name")
                continue
            key = key_node.value
            if key in out:
                first = self.source.keys[path + (key,)]
                self.fail(key_node, f"duplicate key {key!r} (first given at line {first.line}); keep one")
                continue
            self.source.keys[path + (key,)] = _mark(key_node)
            out[key] = self.build(value_node, path + (key,))
        return out


def _offset_position(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def parse_yaml(text: str, file: str) -> tuple[object, SourceMap]:
    """Parse one YAML document into plain data and its :class:`SourceMap`.

    Raises
    ------
    SourceError
        For malformed YAML, several documents in one file, or duplicate keys.

    Examples
    --------
    >>> data, source = parse_yaml("a:\\n  b: [1, 2]\\n", "x.yaml")
    >>> data, source.locate(("a", "b", 1))
    ({'a': {'b': [1, 2]}}, Position(line=2, col=10))
    """
    fast = getattr(yaml, "CSafeLoader", None)  # libyaml: ten times faster, when PyYAML was built with it
    if fast is not None:
        try:
            return _parse(fast, text, file)
        except yaml.YAMLError:
            pass  # parsed again below: the pure-Python parser's messages are the ones users get (tabs, characters)
    return _parse(yaml.SafeLoader, text, file)


def _parse(loader_class: type, text: str, file: str) -> tuple[object, SourceMap]:
    source = SourceMap(file)
    # Malformed YAML is worded for the user from the pure-Python parser's errors alone (see parse_yaml).
    worded = yaml.YAMLError if loader_class is yaml.SafeLoader else ()
    try:
        loader = loader_class(text)
    except yaml.reader.ReaderError as exc:
        line, col = _offset_position(text, exc.position)
        message = f"the file holds a character YAML does not allow ({chr(exc.character)!r})"
        raise SourceError([Problem(file, line, col, message)]) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None, source
        builder = _Builder(loader, source)
        data = builder.build(node, ())
    except worded as exc:
        if not isinstance(exc, yaml.MarkedYAMLError):
            raise SourceError([Problem(file, 1, 1, f"malformed YAML: {exc}")]) from None
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = " ".join(x for x in (exc.context, exc.problem) if x)
        if "'\\t'" in what:
            what += " (indent with spaces, not tabs)"
        if "expected a single document" in what:
            what = "a file holds one design; found a second YAML document (a '---' line)"
        raise SourceError([Problem(file, line, col, f"malformed YAML: {what}")]) from None
    except _TooLarge as exc:
        pos = _mark(exc.node)
        message = f"the file expands to more than {MAX_VALUES} values (through aliases?); a design is far smaller"
        raise SourceError([Problem(file, pos.line, pos.col, message)]) from None
    except RecursionError:
        raise SourceError([Problem(file, 1, 1, "the YAML is nested too deeply to read")]) from None
    finally:
        loader.dispose()
    if builder.problems:
        raise SourceError(builder.problems)
    return data, source


def read_yaml(path: str | Path) -> tuple[object, SourceMap]:
    """Read and parse a YAML file; a missing file, a directory or bad bytes is a :class:`SourceError`."""
    name = str(path)
    p = Path(path)
    if p.is_dir():
        raise SourceError([Problem(name, 1, 1, "is a directory, not a YAML file")])
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SourceError([Problem(name, 1, 1, "no such file")]) from None
    except UnicodeDecodeError as exc:
        raise SourceError([Problem(name, 1, 1, f"not UTF-8 text ({exc.reason})")]) from None
    except OSError as exc:
        raise SourceError([Problem(name, 1, 1, f"cannot read: {exc.strerror}")]) from None
    return parse_yaml(text, name)
