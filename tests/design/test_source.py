"""YAML with positions: trialsim.design.source."""

import pytest

from trialsim.design.source import Position, SourceError, parse_yaml, read_yaml


def test_positions_of_values_and_keys():
    text = "a:\n  b: [1, 2]\n  'c': x\nd:\n  - e: 5\n"
    data, source = parse_yaml(text, "f.yaml")
    assert data == {"a": {"b": [1, 2], "c": "x"}, "d": [{"e": 5}]}
    assert source.locate(("a", "b", 1)) == Position(2, 10)
    assert source.locate(("a", "c")) == Position(3, 8)
    assert source.locate(("a", "c"), key=True) == Position(3, 3)
    assert source.locate(("d", 0, "e")) == Position(5, 8)
    # A path that is not in the file falls back to its nearest ancestor.
    assert source.locate(("d", 0, "missing")) == Position(5, 5)


def test_keys_keep_their_source_text():
    data, _ = parse_yaml("null: 1\nyes: 2\n1: 3\n", "f.yaml")
    assert data == {"null": 1, "yes": 2, "1": 3}


def test_merge_keys_are_applied():
    data, _ = parse_yaml("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n", "f.yaml")
    assert data["other"] == {"x": 1, "y": 2}


def test_duplicate_key_is_an_error_at_the_second_key():
    with pytest.raises(SourceError) as err:
        parse_yaml("a: 1\nb: 2\na: 3\n", "f.yaml")
    assert str(err.value) == "f.yaml:3:1: duplicate key 'a' (first given at line 1); keep one"


@pytest.mark.parametrize(
    ("text", "line", "col"),
    [("a: [1, 2\n", 2, 1), ("a:\n\t- 1\n", 2, 1), ("a: 1\n---\nb: 2\n", 2, 1), ("a: 'x\n", 2, 1)],
)
def test_malformed_yaml_has_a_position(text, line, col):
    with pytest.raises(SourceError) as err:
        parse_yaml(text, "f.yaml")
    (problem,) = err.value.problems
    assert (problem.line, problem.col) == (line, col)
    assert problem.message.startswith("malformed YAML")


def test_empty_document_is_none():
    assert parse_yaml("# only a comment\n", "f.yaml")[0] is None


def test_unreadable_files(tmp_path):
    for path, message in [(tmp_path, "is a directory"), (tmp_path / "nope.yaml", "no such file")]:
        with pytest.raises(SourceError) as err:
            read_yaml(path)
        assert str(err.value) == f"{path}:1:1: {message}" + ("" if message == "no such file" else ", not a YAML file")
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\xff\xfe\x00a")
    with pytest.raises(SourceError, match="not UTF-8"):
        read_yaml(binary)


def test_alias_expansion_is_bounded():
    # "Billion laughs": nine levels of ten aliases would expand to 10^9 values.
    lines = ["a0: &a0 [" + ", ".join(["x"] * 10) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    with pytest.raises(SourceError, match="expands to more than 100000 values"):
        parse_yaml("\n".join(lines) + "\n", "f.yaml")


def test_tabs_get_a_hint():
    with pytest.raises(SourceError, match="indent with spaces, not tabs"):
        parse_yaml("a:\n\t- 1\n", "f.yaml")
