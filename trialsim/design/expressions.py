"""A small, safe expression language for trial designs.

Eligibility criteria, subgroups and effect modifiers in YAML trial designs are written
as short expressions such as ``age >= 18 and egfr > 30`` or
``race_ethnicity in ["Black", "Hispanic"]``.  This module turns that text into a
:class:`polars.Expr` without ever executing it: a hand-written tokenizer and a
recursive-descent parser build a tiny syntax tree, which is type-checked and then
compiled node by node.  Nothing written in an expression can reach ``eval``, imports,
attribute access or any function outside a fixed allow-list.

Grammar (keywords are lowercase and case-sensitive)::

    expr       := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := arith [CMP arith | ["not"] "in" list | "between" arith "and" arith]
    arith      := term (("+" | "-") term)*
    term       := unary (("*" | "/") unary)*
    unary      := "-" unary | primary
    primary    := NUMBER | STRING | "true" | "false" | NAME | NAME "(" args ")" | "(" expr ")"
    list       := "[" [literal ("," literal)* [","]] "]"

``CMP`` is one of ``== != < <= > >=``; ``between`` is inclusive at both ends.  The
functions are ``abs``, ``log`` (natural), ``exp``, ``sqrt``, ``min`` and ``max`` (two or
more arguments, elementwise), ``is_null`` and ``is_not_null``.

Missing values follow polars: arithmetic and comparisons involving a null give null,
``and``/``or``/``not`` use three-valued (Kleene) logic, and ``min``/``max`` skip nulls.
Callers that need a definite answer, such as eligibility screening, should treat null
as false: ``expression.to_polars().fill_null(False)``.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import polars as pl

__all__ = ["ColumnKind", "Expression", "ExpressionError", "parse_expression"]

ColumnKind = Literal["number", "string", "bool"]


class ExpressionError(ValueError):
    """Raised for any problem in an expression.

    Attributes
    ----------
    message : str
        Human-readable description, without the position.
    offset : int
        0-based character offset in the expression text where the problem is.

    Examples
    --------
    >>> try:
    ...     parse_expression("age = 18")
    ... except ExpressionError as err:
    ...     print(err.offset, err)
    4 '=' is not a comparison; did you mean '=='? (at column 5)
    """

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message, offset)
        self.message = message
        self.offset = offset

    def __str__(self) -> str:
        return f"{self.message} (at column {self.offset + 1})"


# ---------------------------------------------------------------------------- tables

_KINDS = ("number", "string", "bool")
_A = {"number": "a number", "string": "a string", "bool": "true/false"}
_PLURAL = {"number": "numbers", "string": "strings", "bool": "true/false values"}
_WANT = {"bool": "true/false, e.g. 'age >= 18'", "number": "a number, e.g. 'bmi / 2'",
         "string": "a string, e.g. 'sex'"}
_KEYWORDS = frozenset({"and", "or", "not", "in", "between", "true", "false"})
_RESERVED = {
    "True": "write lowercase 'true'",
    "False": "write lowercase 'false'",
    "None": "test for missing values with is_null(x)",
    "is": "use '==' or is_null(x)",
    "if": "conditional expressions are not supported",
    "else": "conditional expressions are not supported",
    "lambda": "functions cannot be defined in an expression",
    "import": "imports are not allowed",
}
_OPERATORS = frozenset("== != <= >= < > + - * / ( ) [ ] ,".split())
_REJECTED = {
    "**": "'**' (power) is not supported",
    "//": "'//' is not supported; use '/'",
    "=>": "'=>' is not an operator; did you mean '>='?",
    "=<": "'=<' is not an operator; did you mean '<='?",
    "<>": "'<>' is not an operator; did you mean '!='?",
    "&&": "'&&' is not an operator; use 'and'",
    "||": "'||' is not an operator; use 'or'",
    "=": "'=' is not a comparison; did you mean '=='?",
    "&": "'&' is not an operator; use 'and'",
    "|": "'|' is not an operator; use 'or'",
    "!": "'!' is not an operator; use 'not'",
    "~": "'~' is not an operator; use 'not'",
    ";": "unexpected ';': an expression must be a single condition",
    "%": "'%' (remainder) is not supported",
    "^": "'^' is not supported",
    "`": "unexpected '`': backticks are not allowed; quote strings with ' or \"",
}
_ARITH = frozenset({"+", "-", "*", "/"})
_ORDER = frozenset({"<", "<=", ">", ">="})
_COMPARISONS = _ORDER | {"==", "!="}
_BINARY: dict[str, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge, "and": operator.and_, "or": operator.or_,
}


class _Function(NamedTuple):
    min_args: int
    max_args: int | None  # None: any number
    arg_kind: ColumnKind | None  # None: any kind
    result: ColumnKind
    build: Callable[..., pl.Expr]


_FUNCTIONS = {
    "abs": _Function(1, 1, "number", "number", lambda x: x.abs()),
    "log": _Function(1, 1, "number", "number", lambda x: x.log()),
    "exp": _Function(1, 1, "number", "number", lambda x: x.exp()),
    "sqrt": _Function(1, 1, "number", "number", lambda x: x.sqrt()),
    "min": _Function(2, None, "number", "number", pl.min_horizontal),
    "max": _Function(2, None, "number", "number", pl.max_horizontal),
    "is_null": _Function(1, 1, None, "bool", lambda x: x.is_null()),
    "is_not_null": _Function(1, 1, None, "bool", lambda x: x.is_not_null()),
}
_FUNCTION_LIST = ", ".join(sorted(_FUNCTIONS))
_POSTFIX = {  # tokens that may never directly follow a value
    "(": f"unexpected '(': only the functions {_FUNCTION_LIST} can be called",
    "[": "unexpected '[': indexing is not allowed (lists only follow 'in')",
}
_MAX_NESTING = 50  # parentheses, calls, 'not' and unary '-' (bounds parser recursion)
_MAX_DEPTH = 200  # syntax-tree depth (bounds type-checking and compilation recursion)
_INT64_MAX = 2**63 - 1

# ---------------------------------------------------------------------------- tokenizer

_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD_TAIL = re.compile(r"[A-Za-z0-9_.]*")
_SPACE = frozenset(" \t\r\n")
_DIGITS = frozenset("0123456789")


class _Token(NamedTuple):
    kind: str  # "number", "string", "name", "keyword", "op", "end" or "error"
    value: object  # parsed value; the ExpressionError itself for "error" tokens
    offset: int
    text: str  # source text of the token


def _tokenize(text: str) -> list[_Token]:
    """Split text into tokens; a lexical error becomes a final "error" token.

    Deferring the error lets the parser report whichever problem comes first.
    """
    tokens: list[_Token] = []
    i = 0
    try:
        while i < len(text):
            ch = text[i]
            if ch in _SPACE:
                i += 1
                continue
            if ch in "'\"":
                value, end = _read_string(text, i)
                tokens.append(_Token("string", value, i, text[i:end]))
            elif match := _NAME.match(text, i):
                tokens.append(_name_token(match.group(), i))
                end = match.end()
            elif ch == "." and (
                text[i + 1 : i + 2] not in _DIGITS
                or (tokens and tokens[-1].offset + len(tokens[-1].text) == i)
            ):
                raise ExpressionError("unexpected '.': attribute access is not allowed", i)
            elif match := _NUMBER.match(text, i):
                tokens.append(_number_token(text, match))
                end = match.end()
            else:  # two-character lexemes first, so that '**' is not read as '*' '*'
                known = _OPERATORS | _REJECTED.keys()
                lexeme = next((s for s in (text[i : i + 2], ch) if s in known), None)
                if lexeme is None:
                    hint = "; names may only use A-Z, a-z, 0-9 and '_'" if ch.isalpha() else ""
                    raise ExpressionError(f"unexpected character {ch!r}{hint}", i)
                if lexeme in _REJECTED:
                    raise ExpressionError(_REJECTED[lexeme], i)
                tokens.append(_Token("op", lexeme, i, lexeme))
                end = i + len(lexeme)
            i = end
    except ExpressionError as err:
        return [*tokens, _Token("error", err, err.offset, "")]
    return [*tokens, _Token("end", None, len(text), "")]


def _read_string(text: str, start: int) -> tuple[str, int]:
    quote, chars, i = text[start], [], start + 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return "".join(chars), i + 1
        if ch == "\\":
            escaped = text[i + 1 : i + 2]
            if not escaped:
                break
            if escaped not in ("\\", "'", '"'):
                raise ExpressionError(
                    f"unsupported escape '\\{escaped}' in string; only \\\\, \\' and \\\" are "
                    "allowed",
                    i,
                )
            ch, i = escaped, i + 1
        chars.append(ch)
        i += 1
    raise ExpressionError(f"unterminated string: missing closing {quote}", start)


def _name_token(name: str, offset: int) -> _Token:
    if name.startswith("_"):
        raise ExpressionError(f"unexpected name {name!r}: names may not start with '_'", offset)
    if name in _RESERVED:
        raise ExpressionError(f"{name!r} is not allowed: {_RESERVED[name]}", offset)
    return _Token("keyword" if name in _KEYWORDS else "name", name, offset, name)


def _number_token(text: str, match: re.Match[str]) -> _Token:
    digits, start, end = match.group(), match.start(), match.end()
    if _WORD_TAIL.match(text, end).end() > end:  # e.g. "18years", "1e", "1.2.3"
        word = _WORD_TAIL.match(text, start).group()
        raise ExpressionError(f"{word!r} is not a valid number", start)
    if any(c in digits for c in ".eE"):
        value: int | float = float(digits)
        too_large = not math.isfinite(value)
    else:
        too_large = len(digits.lstrip("0")) > 19 or int(digits) > _INT64_MAX
        value = 0 if too_large else int(digits)
    if too_large:
        raise ExpressionError(f"number {digits} is too large", start)
    return _Token("number", value, start, digits)


def _is(token: _Token, *values: str) -> bool:
    return token.kind in ("op", "keyword") and token.value in values


def _describe(token: _Token) -> str:
    if token.kind == "end":
        return "the end of the expression"
    if token.kind == "name":
        return f"name {token.text!r}"
    return f"{token.kind} {token.text}" if token.kind in ("number", "string") else repr(token.text)


# ---------------------------------------------------------------------------- syntax tree


@dataclass(frozen=True, slots=True)
class _Literal:
    value: bool | int | float | str
    offset: int


@dataclass(frozen=True, slots=True)
class _Name:
    name: str
    offset: int


@dataclass(frozen=True, slots=True)
class _Unary:
    op: str  # "-" or "not"
    operand: _Node
    offset: int


@dataclass(frozen=True, slots=True)
class _Binary:
    op: str  # arithmetic, comparison, "and" or "or"
    left: _Node
    right: _Node
    offset: int  # of the operator


@dataclass(frozen=True, slots=True)
class _In:
    operand: _Node
    items: tuple[_Literal, ...]
    negated: bool
    offset: int  # of "in" (or of "not" in "not in")


@dataclass(frozen=True, slots=True)
class _Between:
    operand: _Node
    low: _Node
    high: _Node
    offset: int  # of "between"


@dataclass(frozen=True, slots=True)
class _Call:
    name: str
    args: tuple[_Node, ...]
    offset: int  # of the function name


_Node = _Literal | _Name | _Unary | _Binary | _In | _Between | _Call


# ---------------------------------------------------------------------------- parser


class _Parser:
    """Recursive-descent parser; one method per grammar rule."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0
        self.nesting = 0
        self.names: dict[str, None] = {}  # referenced columns, as an ordered set

    def peek(self, ahead: int = 0) -> _Token:
        token = self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]
        if token.kind == "error":
            raise token.value  # type: ignore[misc]
        return token

    def take(self) -> _Token:
        token = self.peek()
        self.pos += 1
        return token

    @contextmanager
    def nested(self, token: _Token) -> Iterator[None]:
        self.nesting += 1
        if self.nesting > _MAX_NESTING:
            raise ExpressionError("the expression is nested too deeply", token.offset)
        yield
        self.nesting -= 1

    @staticmethod
    def fail(token: _Token, expected: str) -> ExpressionError:
        return ExpressionError(f"expected {expected}, found {_describe(token)}", token.offset)

    @staticmethod
    def unclosed(opening: _Token) -> ExpressionError:
        closer = {"(": ")", "[": "]"}[opening.text]
        message = f"'{opening.text}' is never closed; expected '{closer}'"
        return ExpressionError(message, opening.offset)

    def parse(self) -> _Node:
        node = self.or_expr()
        token = self.peek()
        if _is(token, ")"):
            raise ExpressionError("unmatched ')': there is no '(' to close", token.offset)
        if token.kind != "end":
            word = token.text.lower()
            typo = token.kind == "name" and word in _KEYWORDS
            hint = f"; keywords are lowercase: did you mean {word!r}?" if typo else ""
            error = self.fail(token, "an operator such as '==', 'and' or 'or'")
            raise ExpressionError(error.message + hint, token.offset)
        return node

    def chain(self, ops: tuple[str, ...], operand: Callable[[], _Node]) -> _Node:
        node = operand()
        while _is(token := self.peek(), *ops):
            self.pos += 1
            node = _Binary(token.text, node, operand(), token.offset)
        return node

    def or_expr(self) -> _Node:
        return self.chain(("or",), self.and_expr)

    def and_expr(self) -> _Node:
        return self.chain(("and",), self.not_expr)

    def not_expr(self) -> _Node:
        token = self.peek()
        if not _is(token, "not"):
            return self.comparison()
        self.pos += 1
        with self.nested(token):
            return _Unary("not", self.not_expr(), token.offset)

    def comparison(self) -> _Node:
        left = self.arith()
        token = self.peek()
        if _is(token, *_COMPARISONS):
            self.pos += 1
            node: _Node = _Binary(token.text, left, self.arith(), token.offset)
        elif _is(token, "in") or (_is(token, "not") and _is(self.peek(1), "in")):
            self.pos += 1 if token.text == "in" else 2
            node = _In(left, self.literal_list(), token.text == "not", token.offset)
        elif _is(token, "between"):
            self.pos += 1
            low = self.arith()
            if not _is(self.peek(), "and"):
                raise self.fail(self.peek(), "'and' as in 'x between 1 and 5'")
            self.pos += 1
            node = _Between(left, low, self.arith(), token.offset)
        else:
            return left
        if _is(after := self.peek(), *_COMPARISONS, "in", "between"):
            raise ExpressionError(
                "comparisons cannot be chained; write 'a < b and b < c' instead", after.offset
            )
        return node

    def literal_list(self) -> tuple[_Literal, ...]:
        opening = self.peek()
        if not _is(opening, "["):
            raise self.fail(opening, "a list in square brackets such as ['A', 'B']")
        self.pos += 1
        items: list[_Literal] = []
        while not _is(token := self.peek(), "]"):
            if token.kind == "end":
                raise self.unclosed(opening)
            items.append(self.list_item())
            if _is(token := self.peek(), ","):
                self.pos += 1
            elif not _is(token, "]") and token.kind != "end":
                raise self.fail(token, "',' or ']' in the list")
        self.pos += 1
        return tuple(items)

    def list_item(self) -> _Literal:
        token = self.take()
        if token.kind in ("number", "string"):
            return _Literal(token.value, token.offset)  # type: ignore[arg-type]
        if _is(token, "-") and self.peek().kind == "number":
            return _Literal(-self.take().value, token.offset)  # type: ignore[operator]
        hint = f' (did you mean "{token.text}"?)' if token.kind == "name" else ""
        raise ExpressionError(
            f"list items must be numbers or quoted strings, found {_describe(token)}{hint}",
            token.offset,
        )

    def arith(self) -> _Node:
        return self.chain(("+", "-"), self.term)

    def term(self) -> _Node:
        return self.chain(("*", "/"), self.unary)

    def unary(self) -> _Node:
        token = self.peek()
        if not _is(token, "-"):
            return self.primary()
        self.pos += 1
        with self.nested(token):
            operand = self.unary()
        if isinstance(operand, _Literal) and type(operand.value) in (int, float):
            return _Literal(-operand.value, token.offset)  # type: ignore[operator]
        return _Unary("-", operand, token.offset)

    def primary(self) -> _Node:
        previous = self.tokens[self.pos - 1] if self.pos else None
        token = self.take()
        node: _Node
        if token.kind in ("number", "string"):
            node = _Literal(token.value, token.offset)  # type: ignore[arg-type]
        elif _is(token, "true", "false"):
            node = _Literal(token.text == "true", token.offset)
        elif token.kind == "name" and _is(self.peek(), "("):
            node = self.call(token)
        elif token.kind == "name":
            self.names.setdefault(token.text)
            node = _Name(token.text, token.offset)
        elif _is(token, "("):
            with self.nested(token):
                node = self.or_expr()
            closing = self.take()
            if closing.kind == "end":
                raise self.unclosed(token)
            if not _is(closing, ")"):
                raise self.fail(closing, f"')' to close the '(' at column {token.offset + 1}")
        else:
            after = f" after {previous.text!r}" if previous else ""
            raise self.fail(token, f"a value{after}")
        if _is(after_node := self.peek(), "(", "["):
            raise ExpressionError(_POSTFIX[after_node.text], after_node.offset)
        return node

    def call(self, name: _Token) -> _Call:
        function = _FUNCTIONS.get(name.text)
        if function is None:
            close = difflib.get_close_matches(name.text.lower(), _FUNCTIONS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ExpressionError(
                f"{name.text!r} is not an allowed function; {hint}allowed functions are "
                f"{_FUNCTION_LIST}",
                name.offset,
            )
        opening = self.take()
        args: list[_Node] = []
        with self.nested(opening):
            while not _is(self.peek(), ")"):
                args.append(self.or_expr())
                if _is(token := self.peek(), ","):
                    self.pos += 1
                elif token.kind == "end":
                    raise self.unclosed(opening)
                elif not _is(token, ")"):
                    raise self.fail(token, f"',' or ')' in the arguments of {name.text}()")
        self.pos += 1
        lo, hi = function.min_args, function.max_args
        if len(args) < lo or (hi is not None and len(args) > hi):
            count = f"exactly {lo}" if lo == hi else f"at least {lo}"
            plural = "" if lo == hi == 1 else "s"
            raise ExpressionError(
                f"{name.text}() takes {count} argument{plural}, got {len(args)}", name.offset
            )
        return _Call(name.text, tuple(args), name.offset)


# ---------------------------------------------------------------------------- type checking


def _literal_kind(value: object) -> ColumnKind:
    if isinstance(value, bool):
        return "bool"
    return "string" if isinstance(value, str) else "number"


def _require(op: str, sides: Mapping[str, ColumnKind | None], need: str, offset: int) -> None:
    for side, kind in sides.items():
        if kind is not None and kind != need:
            hint = "; did you forget a comparison such as 'x > 0'?" if need == "bool" else ""
            raise ExpressionError(
                f"'{op}' needs {_PLURAL[need]}, but the {side} is {_A[kind]}{hint}", offset
            )


def _same_kind(op: str, sides: Mapping[str, ColumnKind | None], offset: int, ordered: bool) -> None:
    known = {side: kind for side, kind in sides.items() if kind is not None}
    if ordered and "bool" in known.values():
        raise ExpressionError(
            f"'{op}' cannot order true/false values; it compares two numbers or two strings",
            offset,
        )
    if len(set(known.values())) > 1:
        *rest, last = [f"the {side} is {_A[kind]}" for side, kind in known.items()]
        found = f"{', '.join(rest)} and {last}"
        raise ExpressionError(f"'{op}' needs values of the same kind, but {found}", offset)


def _check(
    node: _Node, columns: Mapping[str, ColumnKind] | None, depth: int = 1
) -> ColumnKind | None:
    """Return the kind of node (None if unknown), raising ExpressionError on a mismatch."""
    if depth > _MAX_DEPTH:  # also bounds the recursion of _check and _compile
        raise ExpressionError("the expression is too complex; split it up", node.offset)
    depth += 1
    if isinstance(node, _Literal):
        return _literal_kind(node.value)
    if isinstance(node, _Name):
        if columns is None:
            return None
        if node.name not in columns:
            close = difflib.get_close_matches(node.name, list(columns), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            names = sorted(columns)
            listing = ", ".join(names[:30]) + (", ..." if len(names) > 30 else "")
            raise ExpressionError(
                f"unknown column {node.name!r}{hint} (available columns: {listing or 'none'})",
                node.offset,
            )
        return columns[node.name]
    if isinstance(node, _Call):
        function = _FUNCTIONS[node.name]
        for position, arg in enumerate(node.args, 1):
            kind = _check(arg, columns, depth)
            if function.arg_kind and kind and kind != function.arg_kind:
                raise ExpressionError(
                    f"{node.name}() needs {_PLURAL[function.arg_kind]}, but argument "
                    f"{position} is {_A[kind]}",
                    node.offset,
                )
        return function.result
    if isinstance(node, _Unary):
        need: ColumnKind = "bool" if node.op == "not" else "number"
        _require(node.op, {"operand": _check(node.operand, columns, depth)}, need, node.offset)
        return need
    if isinstance(node, _Binary):
        left, right = _check(node.left, columns, depth), _check(node.right, columns, depth)
        sides = {"left side": left, "right side": right}
        if node.op in _ARITH:
            _require(node.op, sides, "number", node.offset)
            return "number"
        if node.op in ("and", "or"):
            _require(node.op, sides, "bool", node.offset)
        else:
            _same_kind(node.op, sides, node.offset, ordered=node.op in _ORDER)
        return "bool"
    if isinstance(node, _In):
        kind = _check(node.operand, columns, depth)
        kinds = [_literal_kind(item.value) for item in node.items]
        for position, (item, item_kind) in enumerate(zip(node.items, kinds, strict=True), 1):
            if item_kind != kinds[0]:
                raise ExpressionError(
                    f"list items must all be the same kind, but item 1 is {_A[kinds[0]]} and "
                    f"item {position} is {_A[item_kind]}",
                    item.offset,
                )
        if kind is not None and kinds and kind != kinds[0]:
            raise ExpressionError(
                f"'in' needs list items of the same kind as the value, but the value is "
                f"{_A[kind]} and the list holds {_PLURAL[kinds[0]]}",
                node.offset,
            )
        return "bool"
    sides = {
        "value": _check(node.operand, columns, depth),
        "lower bound": _check(node.low, columns, depth),
        "upper bound": _check(node.high, columns, depth),
    }
    _same_kind("between", sides, node.offset, ordered=True)
    return "bool"


# ---------------------------------------------------------------------------- compilation


def _compile(node: _Node) -> pl.Expr:
    if isinstance(node, _Literal):
        value = node.value
        dtype = {bool: pl.Boolean, int: pl.Int64, float: pl.Float64, str: pl.String}
        return pl.lit(value, dtype=dtype[type(value)])
    if isinstance(node, _Name):
        return pl.col(node.name)
    if isinstance(node, _Unary):
        operand = _compile(node.operand)
        # `0 - x` rather than `-x`: polars cannot negate unsigned integer columns.
        return ~operand if node.op == "not" else pl.lit(0, dtype=pl.Int64) - operand
    if isinstance(node, _Binary):
        return _BINARY[node.op](_compile(node.left), _compile(node.right))
    if isinstance(node, _Call):
        return _FUNCTIONS[node.name].build(*(_compile(arg) for arg in node.args))
    if isinstance(node, _In):
        operand = _compile(node.operand)
        values = [item.value for item in node.items]
        if values and not isinstance(values[0], str):
            # polars will not look for integers in a float list (or vice versa): use floats.
            operand, values = operand.cast(pl.Float64), [float(v) for v in values]
        found = operand.is_in(values)
        return ~found if node.negated else found
    low, high = _compile(node.low), _compile(node.high)
    return _compile(node.operand).is_between(low, high, closed="both")


# ---------------------------------------------------------------------------- public API


@dataclass(frozen=True)
class Expression:
    """A parsed, type-checked expression.

    Attributes
    ----------
    text : str
        The source text.
    columns : tuple of str
        Referenced column names, in order of first appearance, without duplicates.
    kind : {"number", "string", "bool"} or None
        Kind of the result; None when it depends on columns of unknown kind.

    Examples
    --------
    >>> expr = parse_expression("abs(age - 50) < 10 or egfr > 30")
    >>> expr.columns, expr.kind
    (('age', 'egfr'), 'bool')
    """

    text: str
    columns: tuple[str, ...]
    kind: ColumnKind | None
    _tree: _Node = field(repr=False, compare=False)

    def to_polars(self) -> pl.Expr:
        """Compile to a polars expression.

        Rows where the result depends on a missing value evaluate to null; use
        ``.fill_null(False)`` to treat them as not matching.

        Returns
        -------
        polars.Expr
            The compiled expression.

        Examples
        --------
        >>> import polars as pl
        >>> df = pl.DataFrame({"age": [17, 30, None], "sex": ["M", "F", "F"]})
        >>> expr = parse_expression("age >= 18 and sex == 'F'")
        >>> df.select(expr.to_polars())["age"].to_list()
        [False, True, None]
        >>> df.filter(expr.to_polars())["age"].to_list()
        [30]
        """
        return _compile(self._tree)


def parse_expression(
    text: str,
    columns: Mapping[str, ColumnKind] | None = None,
    *,
    want: ColumnKind | None = "bool",
) -> Expression:
    """Parse and type-check an expression.

    Parameters
    ----------
    text : str
        The expression, e.g. ``"age >= 18 and egfr > 30"``.
    columns : mapping of str to {"number", "string", "bool"}, optional
        Kinds of the available columns. When given, unknown columns are errors and
        column kinds take part in type checking; when omitted, every column is of
        unknown kind and checks involving columns are skipped.
    want : {"bool", "number", "string"} or None, default "bool"
        Required result kind, enforced when the result kind is known.

    Returns
    -------
    Expression
        The parsed expression.

    Raises
    ------
    ExpressionError
        For any syntax, name or type problem in ``text``.

    Examples
    --------
    >>> expr = parse_expression("sex == 'F' and bmi / 2 > 10", {"sex": "string", "bmi": "number"})
    >>> expr.columns
    ('sex', 'bmi')
    >>> try:
    ...     parse_expression("egrf > 30", {"egfr": "number", "age": "number"})
    ... except ExpressionError as err:
    ...     print(err.message)
    unknown column 'egrf'; did you mean 'egfr'? (available columns: age, egfr)
    """
    if not isinstance(text, str):
        raise TypeError(f"an expression must be a string, not {type(text).__name__}")
    if want is not None and want not in _KINDS:
        raise ValueError(f"want must be one of {_KINDS} or None, not {want!r}")
    for name, kind in (columns or {}).items():
        if kind not in _KINDS:
            raise ValueError(f"column {name!r} has kind {kind!r}; expected one of {_KINDS}")
    if not text.strip():
        raise ExpressionError("the expression is empty; write a condition such as 'age >= 18'", 0)
    parser = _Parser(text)
    tree = parser.parse()
    kind = _check(tree, columns)
    if want is not None and kind is not None and kind != want:
        start = len(text) - len(text.lstrip())
        raise ExpressionError(f"the expression must be {_WANT[want]}; got {_A[kind]}", start)
    return Expression(text, tuple(parser.names), kind, tree)
