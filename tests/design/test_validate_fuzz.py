"""Property tests: whatever a design file holds, validating it never crashes.

``load_design`` either returns a design or raises :class:`DesignError`, whose problems
each have a line and a column (1-based) and a one-line, non-empty message; nothing
else may escape, whether the file is random text, random YAML data, or a valid
design with something changed, removed or renamed.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from trialsim.cli import app
from trialsim.design.load import DesignError, load_design
from trialsim.design.source import read_yaml

DESIGNS = Path(__file__).resolve().parents[2] / "designs"
EXAMPLE = DESIGNS / "two-arm-pfs-gsd.yaml"
EXAMPLE_TEXT = EXAMPLE.read_text(encoding="utf-8")
EXAMPLE_DATA, _ = read_yaml(EXAMPLE)  # keeps the scenario name 'null' a string
# The other examples reach other branches (piecewise accrual, dropout by arm, dose-response, ...).
OTHER_DATA = [read_yaml(p)[0] for p in sorted(DESIGNS.glob("*.yaml")) if p != EXAMPLE]

FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
OUTPUT_LINE = re.compile(r"^\S+:\d+:\d+: .+")


def check(path: Path) -> None:
    """Validate ``path``: a design or a DesignError with well-formed problems, nothing else."""
    try:
        load_design(path)
    except DesignError as exc:
        assert exc.problems, "a DesignError without problems"
        for problem in exc.problems:
            assert problem.file == str(path), problem
            assert problem.line >= 1, problem
            assert problem.col >= 1, problem
            assert problem.message.strip(), problem
            # One problem, one output line: no newline, carriage return or other line break in it.
            assert len(problem.message.splitlines()) == 1, f"a problem must print on one line: {problem.message!r}"


def check_text(tmp_path: Path, text: str) -> None:
    path = tmp_path / "design.yaml"
    path.write_text(text, encoding="utf-8")
    check(path)


# -- strategies ---------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(
        [
            0, -1, 1, 2, 0.5, 1e300, "", "8 months", "8 monts", "26 weeks", "-3 months", "5%", "150%", "200 mg",
            "200", "mg", "25 per month", "treatment vs control", "control vs control", "placebo vs control",
            "age >= 18", "age => 18", "__import__('os')", "egrf > 30", "sex", "region", "hsd", "pocock",
            "obrien_fleming", "logrank", "t_test", "exponential", "weibull", "time_to_event", "binary", "continuous",
            "stratified", "simple", "control", "treatment", "pfs", "null", "builtin", "cohorts/none.csv",
        ]
    ),
)
yaml_data = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


def dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path below ``node`` (keys of mappings, indices of lists)."""
    if isinstance(node, dict):
        children: Any = node.items()
    elif isinstance(node, list):
        children = enumerate(node)
    else:
        return
    for key, child in children:
        yield prefix + (key,)
        yield from paths(child, prefix + (key,))


def mutate(data: Any, path: tuple[Any, ...], action: str, value: Any, new_key: str) -> None:
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "replace":
        parent[last] = value
    elif action == "rename" and isinstance(parent, dict) and new_key not in parent:
        parent[new_key] = parent.pop(last)
    elif action == "wrap":  # a value where a list was meant, or the other way round
        parent[last] = parent[last][0] if isinstance(parent[last], list) and parent[last] else [parent[last]]


@st.composite
def mutated_designs(draw: st.DrawFn, others: bool = False) -> Any:
    """The example design (or, with ``others``, any example) with one to three changes."""
    data = copy.deepcopy(draw(st.sampled_from([EXAMPLE_DATA, *OTHER_DATA])) if others else EXAMPLE_DATA)
    for _ in range(draw(st.integers(1, 3))):
        where = list(paths(data))
        if not where:
            break
        path = draw(st.sampled_from(where))
        action = draw(st.sampled_from(["delete", "replace", "replace", "rename", "wrap"]))
        value = draw(yaml_data) if action == "replace" else None
        new_key = draw(st.text(min_size=1, max_size=12)) if action == "rename" else ""
        mutate(data, path, action, value, new_key)
    return data


# Pieces of YAML syntax, to build texts that get further into the parser than random characters do.
TOKENS = [
    "trialsim: 1\n", "name: x\n", "a", "b", "1", "-1", "1.5", "1e400", "null", "~", "true", ": ", ":", ", ", "- ",
    "-", "\n", "  ", "    ", "\t", "[", "]", "{", "}", "'", '"', "#", "&a ", "*a", "&b ", "*b", "<<: ", "? ",
    "!!str ", "!!int ", "!!map ", "!!python/object:os.system ", "!x ", "|\n", ">\n", "---\n", "...\n",
    "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "\\", "\\x", "é", "\u2028", "\x85", "\ufeff", "\r\n",
]
token_soup = st.lists(st.sampled_from(TOKENS), max_size=40).map("".join)


# -- properties ---------------------------------------------------------------------------------


@FUZZ
@given(text=st.text())
def test_random_text(tmp_path: Path, text: str) -> None:
    check_text(tmp_path, text)


@FUZZ
@given(data=st.binary())
def test_random_bytes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "design.yaml"
    path.write_bytes(data)
    check(path)


@FUZZ
@given(text=token_soup)
def test_random_yaml_syntax(tmp_path: Path, text: str) -> None:
    check_text(tmp_path, text)


@FUZZ
@given(data=yaml_data)
def test_random_yaml_data(tmp_path: Path, data: Any) -> None:
    check_text(tmp_path, dump(data))


@FUZZ
@given(extra=st.dictionaries(st.text(max_size=12), yaml_data, max_size=6))
def test_random_data_under_a_version_line(tmp_path: Path, extra: dict[str, Any]) -> None:
    """Random keys next to 'trialsim: 1', so the models and checks see them (not only the version check)."""
    check_text(tmp_path, dump({"trialsim": 1, **extra}))


@FUZZ
@given(data=mutated_designs())
def test_mutated_example_design(tmp_path: Path, data: Any) -> None:
    check_text(tmp_path, dump(data))


@FUZZ
@given(data=mutated_designs(others=True))
def test_mutated_other_example_designs(tmp_path: Path, data: Any) -> None:
    check_text(tmp_path, dump(data))


@FUZZ
@given(
    where=st.integers(0, len(EXAMPLE_TEXT)),
    cut=st.integers(0, 12),
    insert=st.one_of(st.sampled_from(TOKENS), st.text(max_size=6)),
)
def test_edited_example_text(tmp_path: Path, where: int, cut: int, insert: str) -> None:
    """A valid design with a few characters replaced, as a slip of the keyboard would."""
    check_text(tmp_path, EXAMPLE_TEXT[:where] + insert + EXAMPLE_TEXT[where + cut :])


@settings(FUZZ, max_examples=100)
@given(data=mutated_designs())
def test_cli_output_is_one_problem_per_line(tmp_path: Path, data: Any) -> None:
    path = tmp_path / "design.yaml"
    path.write_text(dump(data), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code in (0, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        assert lines and all(OUTPUT_LINE.match(line) and line.startswith(f"{path}:") for line in lines), lines
    else:
        assert result.stdout.startswith(f"{path}: ok (")


def test_unmutated_example_round_trips(tmp_path: Path) -> None:
    """The mutation tests start from a valid design: dumped back to YAML, the example still validates."""
    path = tmp_path / "design.yaml"
    path.write_text(dump(EXAMPLE_DATA), encoding="utf-8")
    design = load_design(path)
    assert design.name == "nsclc-pfs-gsd"
    assert sorted(design.scenarios) == ["expected", "null"]


# -- inputs that random generation is unlikely to hit ---------------------------------------------


def _alias_bomb(levels: int) -> str:
    lines = ["trialsim: 1", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


ADVERSARIAL = {
    "nul-character": "trialsim: 1\x00\n",
    "control-character": "trialsim: 1\nname: a\x01b\n",
    "deeply-nested-flow-lists": "[" * 3000 + "]" * 3000,
    "deeply-nested-flow-mappings": "trialsim: 1\nname: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
    "deeply-nested-block-lists": "".join(" " * i + "-\n" for i in range(3000)),
    "recursive-alias-list": "&x [*x]\n",
    "recursive-alias-in-design": "trialsim: 1\nname: x\narms: &arms {a: *arms}\n",
    "integer-with-5000-digits": "trialsim: 1\nname: x\nenrollment: {sample_size: 1" + "0" * 5000 + "}\n",
    "impossible-date": "trialsim: 1\nname: x\ndescription: 2026-02-30\n",
    "int-tag-on-text": "trialsim: !!int one\n",
    "int-tag-on-nothing": "trialsim: 1\nname: !!int\n",
    "bool-tag-on-text": "trialsim: 1\nname: !!bool maybe\n",
    "timestamp-tag-on-text": "trialsim: 1\nname: !!timestamp soon\n",
    "newline-in-a-key": 'trialsim: 1\n"a\\nb": 1\n',
    "newline-in-an-arm-name": EXAMPLE_TEXT.replace("  treatment: {dose", '  "treat\\nment": {dose'),
    "small-alias-bomb": _alias_bomb(3),
    "python-tag": "trialsim: 1\nname: !!python/object/apply:os.system ['ls']\n",
    "unknown-tag": "trialsim: !foo 1\n",
    "binary-tag": "trialsim: !!binary aGVsbG8=\n",
    "set-tag": "trialsim: !!set {a, b}\n",
    "merge-of-a-scalar": "trialsim: 1\n<<: 5\n",
    "merge-of-a-mapping": "base: &b {name: x}\ntrialsim: 1\n<<: *b\n",
    "undefined-alias": "trialsim: 1\nname: *x\n",
    "complex-key": "? [a, b]\n: 1\ntrialsim: 1\n",
    "byte-order-mark": "\ufefftrialsim: 1\n",
    "yaml-2-directive": "%YAML 2.0\n---\ntrialsim: 1\n",
    "version-true": "trialsim: true\n",
    "version-text": "trialsim: one\n",
    "date-as-name": "trialsim: 1\nname: 2026-11-23\n",
    "only-a-document-end": "...\n",
    "only-a-document-start": "---\n",
    "scalar-document": "just a sentence\n",
    "scenarios-as-list": EXAMPLE_TEXT.replace("scenarios:", "scenarios: [a, b]\nunused:"),
    "scenario-patching-everything-away": EXAMPLE_TEXT.replace(
        "expected: {}", "expected: {enrollment: null, arms: null, endpoints: null, analysis: null}"
    ),
    "scenario-renaming-arms": EXAMPLE_TEXT.replace("expected: {}", "expected: {arms: {control: null}}"),
    "cohort-file-missing": EXAMPLE_TEXT.replace("cohort: builtin", "cohort: /no/such/cohort.csv"),
    "cohort-with-nul": EXAMPLE_TEXT.replace("cohort: builtin", 'cohort: "a\\0.csv"'),
}


@pytest.mark.parametrize("text", list(ADVERSARIAL.values()), ids=list(ADVERSARIAL))
def test_adversarial_input(tmp_path: Path, text: str) -> None:
    check_text(tmp_path, text)
