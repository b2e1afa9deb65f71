"""Tests for trialsim.design.expressions."""

from __future__ import annotations

import doctest
import pickle

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trialsim.design import expressions
from trialsim.design.expressions import Expression, ExpressionError, parse_expression

KINDS = {
    "id": "number",
    "age": "number",
    "egfr": "number",
    "ecog": "number",
    "bmi": "number",
    "sex": "string",
    "race_ethnicity": "string",
    "age_group": "string",
    "name": "string",
    "smoker": "bool",
}


def make_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": [1, 2, 3, 4, 5],
            "age": [17, 18, 50, 65, None],
            "egfr": [25.0, 30.0, 45.5, None, 90.0],
            "ecog": [0, 1, 2, 3, 1],
            "bmi": [18.0, 22.0, 31.0, 40.0, None],
            "sex": ["F", "M", "F", "M", None],
            "race_ethnicity": ["Black", "White", "Hispanic", "Asian", "Black"],
            "age_group": ["<18", "18-64", "18-64", "65+", None],
            "name": ["O'Brien", 'say "hi"', "a\\b", "plain", "x"],
            "smoker": [True, False, None, True, False],
        }
    )


@pytest.fixture
def df() -> pl.DataFrame:
    return make_frame()


def ids(df: pl.DataFrame, text: str, columns: dict | None = KINDS) -> list[int]:
    """Ids of the rows for which text is true (null counts as not matching)."""
    expr = parse_expression(text, columns)
    return df.filter(expr.to_polars())["id"].to_list()


def value(text: str) -> object:
    """Value of an expression without columns."""
    return pl.select(parse_expression(text, want=None).to_polars()).item()


# ---------------------------------------------------------------------------- evaluation


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("age >= 18", [2, 3, 4]),
        ("age > 18", [3, 4]),
        ("age < 18", [1]),
        ("age <= 18", [1, 2]),
        ("age == 50", [3]),
        ("age != 50", [1, 2, 4]),
        ("age >= 18 and egfr > 30", [3]),
        ("age < 18 or egfr > 40", [1, 3, 5]),
        ("not (ecog >= 2)", [1, 2, 5]),
        ("not ecog >= 2", [1, 2, 5]),
        ('sex == "F"', [1, 3]),
        ("sex == 'F'", [1, 3]),
        ("sex != 'F'", [2, 4]),
        ("sex < 'G'", [1, 3]),
        ('race_ethnicity in ["Black", "Hispanic"]', [1, 3, 5]),
        ("race_ethnicity not in ['Black', 'Hispanic',]", [2, 4]),
        ("ecog in [0, 3]", [1, 4]),
        ("ecog in [0.0, 3.5]", [1]),
        ("egfr in [30, 45.5]", [2, 3]),
        ("ecog not in [1, 2]", [1, 4]),
        ("ecog in []", []),
        ("ecog - 2 in [-1, -2]", [1, 2, 5]),
        ("age between 18 and 65", [2, 3, 4]),
        ("age between 18.5 and 64.9", [3]),
        ("age_group between '18' and '65+'", [2, 3, 4]),
        ("age_group != '65+'", [1, 2, 3]),
        ("bmi / 2 > 10", [2, 3, 4]),
        ("bmi * 2 >= 62", [3, 4]),
        ("age + ecog == 52", [3]),
        ("age - ecog == 62", [4]),
        ("abs(age - 50) < 10", [3]),
        ("abs(age - 50) <= 15", [3, 4]),
        ("sqrt(bmi) == 2 * 3", []),
        ("sqrt(ecog) == 1", [2, 5]),
        ("log(exp(ecog)) > 1.5", [3, 4]),
        ("exp(0) == 1 and ecog == 0", [1]),
        ("min(age, ecog * 10) == 10", [2, 5]),
        ("max(age, 40, ecog) == 40", [1, 2, 5]),  # max/min skip nulls
        ("is_null(age)", [5]),
        ("is_not_null(egfr) and is_null(bmi)", [5]),
        ("is_null(smoker)", [3]),
        ("smoker", [1, 4]),
        ("not smoker", [2, 5]),
        ("smoker == true", [1, 4]),
        ("smoker != false and age > 18", [4]),
        ("name == 'O\\'Brien'", [1]),
        ('name == "O\'Brien"', [1]),
        ('name == "say \\"hi\\""', [2]),
        ("name == 'say \"hi\"'", [2]),
        ("name == 'a\\\\b'", [3]),
        ("-ecog < -2", [4]),
        ("-ecog * 2 == -4", [3]),
        ("--ecog == 1", [2, 5]),
        ("ecog == .5 * 2", [2, 5]),
        ("egfr > 1e1 * 4", [3, 5]),
        ("egfr < 3E+1", [1]),
        ("egfr < 0.3e2", [1]),
        ("true", [1, 2, 3, 4, 5]),
        ("false", []),
        ("\n  age >= 65\t", [4]),
    ],
)
def test_evaluation(df: pl.DataFrame, text: str, expected: list[int]) -> None:
    assert ids(df, text) == expected
    assert ids(df, text, columns=None) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true or false and false", True),  # and binds tighter than or
        ("(true or false) and false", False),
        ("not true and false", False),  # not binds tighter than and
        ("not (true and false)", True),
        ("not not true", True),
        ("false or not false", True),
        ("1 + 2 * 3 == 7", True),
        ("(1 + 2) * 3 == 9", True),
        ("10 - 4 - 3 == 3", True),  # left-associative
        ("8 / 4 / 2 == 1", True),
        ("-2 * 3 == -6", True),
        ("- 2 - -3 == 1", True),
        ("7 / 2 == 3.5", True),  # true division
        ("2 between 1 and 2 and 3 between 3 and 3", True),
        ("1 + 2 * 3", 7),
        ("-(1 + 2) * 2", -6),
        ("abs(-3) + min(4, 2, 3) + max(1, 5)", 10),
        ("'a' < 'b'", True),
        ("3 in [1, 2, 3] and 'x' not in ['y']", True),
    ],
)
def test_precedence_and_literals(text: str, expected: object) -> None:
    assert value(text) == expected


def test_unary_minus_on_column(df: pl.DataFrame) -> None:
    out = df.select(parse_expression("-ecog * 2", want="number").to_polars())
    assert out.to_series().to_list() == [0, -2, -4, -6, -2]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("n - 3 < 0", [True, False]), ("-n < -2", [False, True]), ("n in [5]", [False, True])],
)
def test_unsigned_columns_do_not_wrap(text: str, expected: list[bool]) -> None:
    frame = pl.DataFrame({"n": pl.Series([1, 5], dtype=pl.UInt8)})
    assert frame.select(parse_expression(text).to_polars()).to_series().to_list() == expected


def test_categorical_and_float_columns() -> None:
    frame = pl.DataFrame(
        {
            "sex": pl.Series(["F", "M", "F"], dtype=pl.Categorical),
            "dose": pl.Series([1.0, 2.0, 2.5], dtype=pl.Float32),
        }
    )
    expr = parse_expression("sex == 'F' and dose in [1, 2.5]")
    assert frame.select(expr.to_polars()).to_series().to_list() == [True, False, True]


def test_nulls_propagate_and_can_be_filled(df: pl.DataFrame) -> None:
    expr = parse_expression("age >= 18", KINDS).to_polars()
    assert df.select(expr).to_series().to_list() == [False, True, True, True, None]
    filled = df.select(expr.fill_null(False)).to_series().to_list()
    assert filled == [False, True, True, True, False]
    # Kleene logic: null or true is true
    kleene = parse_expression("age >= 18 or ecog == 1").to_polars()
    assert df.select(kleene).to_series().to_list() == [False, True, True, True, True]


def test_columns_attribute_and_kind() -> None:
    expr = parse_expression("age > 1 and (egfr < age or sex == 'F') and is_null(bmi)")
    assert expr.columns == ("age", "egfr", "sex", "bmi")
    assert expr.kind == "bool"
    assert expr.text == "age > 1 and (egfr < age or sex == 'F') and is_null(bmi)"
    assert parse_expression("1 == 1").columns == ()
    assert parse_expression("age", want=None).kind is None
    assert parse_expression("age", KINDS, want=None).kind == "number"
    assert parse_expression("sex", KINDS, want="string").kind == "string"
    assert parse_expression("age + 1", want="number").kind == "number"
    assert parse_expression("smoker", KINDS).kind == "bool"
    assert isinstance(parse_expression("age > 1"), Expression)
    assert parse_expression("age > 1") == parse_expression("age > 1")


# ---------------------------------------------------------------------------- rejection

REJECTED = [
    # (text, columns, offset, fragment of the message)
    ("__import__('os').system('ls')", None, 0, "may not start with '_'"),
    ("age.__class__", None, 3, "attribute access is not allowed"),
    ("'abc'.upper()", None, 5, "attribute access"),
    ("lambda: 1", None, 0, "'lambda' is not allowed"),
    ("age[0]", None, 3, "indexing is not allowed"),
    ("open('x')", None, 0, "'open' is not an allowed function"),
    ('eval("1")', None, 0, "allowed functions are abs, exp"),
    ("(age)(1)", None, 5, "only the functions"),
    ("age = 18", None, 4, "did you mean '=='?"),
    ("age >= ", None, 7, "expected a value after '>='"),
    ("(age > 1", None, 0, "'(' is never closed; expected ')'"),
    ("abs(age", None, 3, "'(' is never closed"),
    ("age > 1)", None, 7, "unmatched ')'"),
    ("(age > 1 x)", None, 9, "expected ')' to close the '(' at column 1"),
    ('"unterminated', None, 0, "unterminated string"),
    ("sex == 'F' or sex == 'M", None, 21, "unterminated string"),
    ("name == 'a\\'", None, 8, "unterminated string"),
    ("name == 'a\\nb'", None, 10, "unsupported escape"),
    ("age >= 18 and", None, 13, "expected a value after 'and', found the end"),
    ("1 < age < 5", None, 8, "write 'a < b and b < c'"),
    ("age == 1 in [1]", None, 9, "cannot be chained"),
    ("_secret > 1", None, 0, "names may not start with '_'"),
    ("age ** 2 > 1", None, 4, "'**' (power) is not supported"),
    ("age > 1; import os", None, 7, "';'"),
    ("`ls`", None, 0, "backticks are not allowed"),
    ("age > 1 && smoker", None, 8, "use 'and'"),
    ("age > 1 || smoker", None, 8, "use 'or'"),
    ("age > 1 & smoker", None, 8, "use 'and'"),
    ("!smoker", None, 0, "use 'not'"),
    ("age => 18", None, 4, "did you mean '>='?"),
    ("age <> 18", None, 4, "did you mean '!='?"),
    ("age % 2 == 0", None, 4, "'%'"),
    ("age > 1 AND smoker", None, 8, "keywords are lowercase: did you mean 'and'?"),
    ("age 18", None, 4, "expected an operator"),
    ("x is None", None, 2, "'is' is not allowed"),
    ("smoker == True", None, 10, "write lowercase 'true'"),
    ("age > 18years", None, 6, "'18years' is not a valid number"),
    ("age > 1.2.3", None, 6, "not a valid number"),
    ("age > 1e999", None, 6, "too large"),
    ("age > 99999999999999999999", None, 6, "too large"),
    ("âge > 1", None, 0, "unexpected character 'â'"),
    ("age > 1 {", None, 8, "unexpected character '{'"),
    ("race in [Black]", None, 9, 'did you mean "Black"?'),
    ("race in ('Black')", None, 8, "expected a list in square brackets"),
    ("race in ['Black'", None, 8, "'[' is never closed"),
    ("race in ['Black' 'White']", None, 17, "expected ',' or ']'"),
    ("race in [,]", None, 9, "list items must be numbers or quoted strings"),
    ("age between 18 or 65", None, 15, "'and' as in 'x between 1 and 5'"),
    ("abs(age, 1) > 1", None, 0, "abs() takes exactly 1 argument, got 2"),
    ("min(age) > 1", None, 0, "min() takes at least 2 arguments, got 1"),
    ("is_null() ", None, 0, "takes exactly 1 argument, got 0"),
    ("(" * 60 + "1" + ")" * 60 + " > 0", None, 50, "nested too deeply"),
    ("", None, 0, "empty"),
    ("   \n ", None, 0, "empty"),
    # type errors
    ("sex == 1", {"sex": "string"}, 4, "the left side is a string and the right side is a number"),
    ("age and 1", None, 4, "'and' needs true/false values, but the right side is a number"),
    ("not age", KINDS, 0, "'not' needs true/false values, but the operand is a number"),
    ("sex + 1 > 2", KINDS, 4, "'+' needs numbers, but the left side is a string"),
    ("-sex == 'F'", KINDS, 0, "'-' needs numbers"),
    ("'a' < 1", None, 4, "needs values of the same kind"),
    ("smoker < true", KINDS, 7, "cannot order true/false values"),
    ("sex in ['F', 1]", None, 13, "item 2 is a number"),
    ("sex in [1, 2]", KINDS, 4, "the value is a string and the list holds numbers"),
    ("sex not in [1]", KINDS, 4, "the list holds numbers"),
    ("age between 'a' and 'b'", KINDS, 4, "is a number, the lower bound is a string and the"),
    ("sqrt(sex) > 1", KINDS, 0, "sqrt() needs numbers, but argument 1 is a string"),
    ("egrf > 30", KINDS, 0, "did you mean 'egfr'?"),
    ("zzz > 30", {"age": "number"}, 0, "unknown column 'zzz' (available columns: age)"),
    ("age + 1", None, 0, "must be true/false, e.g. 'age >= 18'; got a number"),
    ("  sex", KINDS, 2, "got a string"),
]


@pytest.mark.parametrize(("text", "columns", "offset", "fragment"), REJECTED)
def test_rejected(text: str, columns: dict | None, offset: int, fragment: str) -> None:
    with pytest.raises(ExpressionError) as info:
        parse_expression(text, columns)
    err = info.value
    assert fragment in err.message
    assert err.offset == offset
    assert str(err) == f"{err.message} (at column {offset + 1})"


def test_want_other_kinds() -> None:
    with pytest.raises(ExpressionError, match="must be a number, e.g. 'bmi / 2'; got true/false"):
        parse_expression("age > 1", want="number")
    assert parse_expression("age > 1", want=None).kind == "bool"


def test_error_is_value_error_and_picklable() -> None:
    with pytest.raises(ValueError):
        parse_expression("age >")
    err = ExpressionError("boom", 3)
    clone = pickle.loads(pickle.dumps(err))
    assert (clone.message, clone.offset, str(clone)) == ("boom", 3, "boom (at column 4)")


def test_bad_arguments_are_programming_errors() -> None:
    with pytest.raises(TypeError):
        parse_expression(18)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kind"):
        parse_expression("age > 1", {"age": "int"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="want"):
        parse_expression("age > 1", want="integer")  # type: ignore[arg-type]


def test_deep_but_flat_expressions() -> None:
    many = " and ".join(f"ecog != {i}" for i in range(50))
    assert parse_expression(many).columns == ("ecog",)
    with pytest.raises(ExpressionError, match="too complex"):
        parse_expression(" + ".join(["1"] * 300) + " > 0")


def test_docstring_examples() -> None:
    result = doctest.testmod(expressions, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 5
    assert result.failed == 0


# ---------------------------------------------------------------------------- properties

TOKENS = [
    "age", "egfr", "sex", "smoker", "abs", "min", "is_null", "x", "and", "or", "not", "in",
    "between", "true", "false", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "(",
    ")", "[", "]", ",", "0", "18", "2.5", ".5", "1e-3", "'F'", '"a\\"b"', "'M'",
]
token_streams = st.lists(st.sampled_from(TOKENS), max_size=25).flatmap(
    lambda tokens: st.lists(
        st.sampled_from([" ", "", "  "]), min_size=len(tokens), max_size=len(tokens)
    ).map(lambda seps: "".join(s + t for s, t in zip(seps, tokens, strict=True)))
)


def _parse_or_error(text: str, columns: dict | None, want: str | None) -> Expression | None:
    try:
        return parse_expression(text, columns, want=want)  # type: ignore[arg-type]
    except ExpressionError as err:
        assert 0 <= err.offset <= len(text)
        assert err.message
        return None


@settings(max_examples=300, deadline=None)
@given(st.text(), st.sampled_from([None, KINDS]))
def test_arbitrary_text_never_crashes(text: str, columns: dict | None) -> None:
    _parse_or_error(text, columns, "bool")


@settings(max_examples=500, deadline=None)
@given(token_streams, st.sampled_from([None, KINDS]), st.sampled_from([None, "bool"]))
def test_token_streams_parse_or_report(text: str, columns: dict | None, want: str | None) -> None:
    expr = _parse_or_error(text, columns, want)
    if expr is not None and columns is not None:
        # Well-typed expressions over known columns also evaluate without error.
        frame = pl.DataFrame(
            {"age": [40, None], "egfr": [1.5, 2.0], "sex": ["F", None], "smoker": [True, None]}
        )
        assert frame.with_columns(result=expr.to_polars()).height == 2
        assert set(expr.columns) <= {"age", "egfr", "sex", "smoker"}


numbers = st.recursive(
    st.sampled_from(["age", "egfr", "ecog", "3", "0.5", "-2"]),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        inner.map(lambda x: f"abs({x})"),
        inner.map(lambda x: f"-{x}"),
        st.tuples(inner, inner).map(lambda t: f"max({t[0]}, {t[1]})"),
    ),
    max_leaves=6,
)
strings = st.sampled_from(["sex", "age_group", "'F'", '"65+"'])
conditions = st.recursive(
    st.one_of(
        st.tuples(numbers, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), numbers).map(
            " ".join
        ),
        st.tuples(strings, st.sampled_from(["==", "!="]), strings).map(" ".join),
        st.tuples(numbers, numbers, numbers).map(lambda t: f"{t[0]} between {t[1]} and {t[2]}"),
        numbers.map(lambda x: f"{x} in [1, 2.5, -3]"),
        strings.map(lambda s: f"{s} not in ['F', \"M\"]"),
        st.sampled_from(["smoker", "true", "is_null(age)"]),
    ),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        inner.map(lambda c: f"not {c}"),
    ),
    max_leaves=5,
)


@settings(max_examples=200, deadline=None)
@given(conditions)
def test_generated_valid_expressions_evaluate(text: str) -> None:
    df = make_frame()
    expr = parse_expression(text, KINDS)
    assert expr.kind == "bool"
    out = df.with_columns(out=expr.to_polars().fill_null(False))["out"]
    assert out.dtype == pl.Boolean and out.len() == df.height
    assert parse_expression(text).columns == expr.columns
