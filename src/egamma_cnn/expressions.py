"""Safe expressions of the selections: parsed into a whitelisted tree, never executed.

The tag-and-probe selections (the ID under test, the tag and probe requirements, the
pass criterion of a trigger efficiency) are written as short expressions over the
columns of a collection, such as ``cutBased >= 4``, ``ptvarcone30/pt < 0.15 and
etcone20/pt < 0.2``, ``not 1.4442 < abs(eta + deltaEtaSC) < 1.566`` or
``bit(filterBits, 1) and pt > 32``. :meth:`Expression.parse` reads such a text with a
small tokenizer and a recursive-descent parser into a tree of the node classes below;
nothing of the text is ever handed to ``eval``, ``exec`` or Python's ``ast``. Only the
operators and functions of the grammar exist, a name may only read a column (through the
caller's ``resolve``), and private names (a segment starting with ``_``) are refused when
the text is parsed, before any file is read.

:meth:`Expression.evaluate` computes the tree elementwise on numpy arrays, awkward arrays
(jagged, with missing values) and dask-awkward arrays alike, with numpy's ufuncs and
``ak.where`` / ``ak.fill_none`` (which dask-awkward implements, so the evaluation stays
lazy).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import awkward as ak
import dask_awkward as dak
import numpy as np

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "And",
    "Arithmetic",
    "Bit",
    "Boolean",
    "Call",
    "Comparison",
    "Expression",
    "Name",
    "Negation",
    "Node",
    "Not",
    "Number",
    "Or",
    "Trigger",
]

#: The longest expression text (characters).
MAX_LENGTH = 2000
#: The deepest nesting: parentheses, prefix operators and function calls inside each
#: other, and the depth of the tree (a sum of many terms is a deep tree).
MAX_DEPTH = 64
#: The functions an expression may call, each with what it computes (for messages and docs).
FUNCTIONS: dict[str, str] = {
    "abs": "abs(x): |x|",
    "bit": "bit(x, n): true where bit n (an integer 0..63) of the integer x is set",
    "max": "max(x, y): the larger of x and y",
    "min": "min(x, y): the smaller of x and y",
    "sqrt": "sqrt(x): √x (undefined for x < 0)",
    "trigger": "trigger(name) / trigger(): matched to the trigger objects of a selection",
}
_ARITY = {"abs": 1, "sqrt": 1, "min": 2, "max": 2}
_HIGHEST_BIT = 63
_KEYWORDS = frozenset({"and", "or", "not", "true", "false", "True", "False"})
_COMPARISONS = (">=", ">", "<=", "<", "==", "!=")
#: Integral numbers up to this magnitude print as integers, larger ones with repr.
_INTEGER_TEXT_LIMIT = 1e16
#: How many characters of a refused text an error message repeats.
_SHOWN_CHARACTERS = 200

# Binding strength of each kind of node, lowest first (used by the canonical text).
_OR, _AND, _NOT, _COMPARE, _SUM, _PRODUCT, _UNARY, _ATOM = range(1, 9)

_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)"
    r"|(?P<operator>>=|<=|==|!=|[<>()+\-*/,&|])",
    re.ASCII,
)
_WORD_TAIL = re.compile(r"[A-Za-z0-9_.]+", re.ASCII)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)


# ----------------------------------------------------------------------------- the tree


@dataclass(frozen=True)
class Number:
    """A number literal (always finite; stored as a float: ``4`` and ``4.0`` are equal)."""

    value: float


@dataclass(frozen=True)
class Boolean:
    """``true`` or ``false`` (also written ``True``, ``False``)."""

    value: bool


@dataclass(frozen=True)
class Name:
    """A column, read through the caller's ``resolve``: ``pt``, ``HLT.Ele32_WPTight_Gsf``."""

    name: str


@dataclass(frozen=True)
class Trigger:
    """``trigger(name)``: handed to the caller's ``trigger`` callback (``''`` for
    ``trigger()``, any trigger object); the name is no column."""

    name: str


@dataclass(frozen=True)
class Bit:
    """``bit(operand, index)``: ``((operand >> index) & 1) != 0`` of an integer column."""

    operand: Node
    index: int


@dataclass(frozen=True)
class Call:
    """``abs(x)``, ``sqrt(x)``, ``min(x, y)`` or ``max(x, y)``."""

    function: str
    arguments: tuple[Node, ...]


@dataclass(frozen=True)
class Negation:
    """``-operand`` (a negated number literal is a :class:`Number` instead)."""

    operand: Node


@dataclass(frozen=True)
class Arithmetic:
    """``left op right`` with ``op`` one of ``+ - * /`` (``/`` is the true division)."""

    operator: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Comparison:
    """A chain ``a < b <= c``: every neighbouring pair compared, all must hold."""

    operands: tuple[Node, ...]
    operators: tuple[str, ...]


@dataclass(frozen=True)
class Not:
    """``not operand`` (logical)."""

    operand: Node


@dataclass(frozen=True)
class And:
    """``a and b and ...`` (also written ``&``); nested ``and`` are flattened."""

    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """``a or b or ...`` (also written ``|``); nested ``or`` are flattened."""

    operands: tuple[Node, ...]


#: Any node of an expression tree.
Node = (
    Number
    | Boolean
    | Name
    | Trigger
    | Bit
    | Call
    | Negation
    | Arithmetic
    | Comparison
    | Not
    | And
    | Or
)
_NODE_TYPES = (
    Number,
    Boolean,
    Name,
    Trigger,
    Bit,
    Call,
    Negation,
    Arithmetic,
    Comparison,
    Not,
    And,
    Or,
)


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Bit | Negation | Not):
        return (node.operand,)
    if isinstance(node, Call):
        return node.arguments
    if isinstance(node, Arithmetic):
        return (node.left, node.right)
    if isinstance(node, Comparison | And | Or):
        return node.operands
    return ()


# ----------------------------------------------------------------------- canonical text


def _number_text(value: float) -> str:
    if value.is_integer() and abs(value) < _INTEGER_TEXT_LIMIT:
        return str(int(value))
    return repr(value)


def _precedence(node: Node) -> int:
    if isinstance(node, Or):
        return _OR
    if isinstance(node, And):
        return _AND
    if isinstance(node, Not):
        return _NOT
    if isinstance(node, Comparison):
        return _COMPARE
    if isinstance(node, Arithmetic):
        return _SUM if node.operator in "+-" else _PRODUCT
    if isinstance(node, Negation) or (isinstance(node, Number) and node.value < 0):
        return _UNARY
    return _ATOM


def _wrapped(node: Node, weakest: int) -> str:
    """The text of ``node``, in parentheses if it binds weaker than ``weakest``."""
    text = _text(node)
    return f"({text})" if _precedence(node) < weakest else text


def _text(node: Node) -> str:
    """The canonical text of ``node``."""
    if isinstance(node, Number):
        return _number_text(node.value)
    if isinstance(node, Boolean):
        return "true" if node.value else "false"
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Trigger):
        return f"trigger({node.name})"
    if isinstance(node, Bit):
        return f"bit({_text(node.operand)}, {node.index})"
    if isinstance(node, Call):
        return f"{node.function}({', '.join(_text(a) for a in node.arguments)})"
    if isinstance(node, Negation):
        return "-" + _wrapped(node.operand, _UNARY)
    if isinstance(node, Arithmetic):
        if node.operator in "+-":
            left, right = _wrapped(node.left, _SUM), _wrapped(node.right, _PRODUCT)
            return f"{left} {node.operator} {right}"
        left, right = _wrapped(node.left, _PRODUCT), _wrapped(node.right, _UNARY)
        return f"{left}{node.operator}{right}"
    if isinstance(node, Comparison):
        parts = [_wrapped(node.operands[0], _SUM)]
        for operator, operand in zip(node.operators, node.operands[1:], strict=True):
            parts.append(f"{operator} {_wrapped(operand, _SUM)}")
        return " ".join(parts)
    if isinstance(node, Not):
        return "not " + _wrapped(node.operand, _NOT)
    if isinstance(node, And):
        return " and ".join(_wrapped(o, _NOT) for o in node.operands)
    if isinstance(node, Or):
        return " or ".join(_wrapped(o, _AND) for o in node.operands)
    raise TypeError(f"not an expression node: {node!r}")


# ------------------------------------------------------------------------------ parsing


@dataclass(frozen=True)
class _Token:
    kind: str  # "number", "name", "keyword", "operator", "end"
    text: str
    position: int  # 0-based index of the first character


def _shown(text: Any) -> str:
    """``repr`` of a refused text, cut to a readable length."""
    if isinstance(text, str) and len(text) > _SHOWN_CHARACTERS:
        return f"{text[:_SHOWN_CHARACTERS]!r}... ({len(text)} characters)"
    shown = repr(text)
    return shown if len(shown) <= _SHOWN_CHARACTERS else shown[:_SHOWN_CHARACTERS] + "..."


class _Parser:
    """Tokenizer and recursive-descent parser of one expression text."""

    def __init__(self, text: str, what: str) -> None:
        self.text = text
        self.what = what
        self.nesting = 0
        self.depths: dict[int, int] = {}
        self.alive: list[Node] = []
        self.tokens = self._tokenize()
        self.index = 0

    # --- errors and tokens

    def error(self, reason: str) -> ValueError:
        return ValueError(f"{self.what} {_shown(self.text)}: {reason}")

    def at(self, token: _Token) -> str:
        if token.kind == "end":
            return f"end of text at character {token.position + 1}"
        return f"{token.text!r} at character {token.position + 1}"

    def _tokenize(self) -> list[_Token]:
        text, tokens, position = self.text, [], 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None:
                character = text[position]
                hint = ""
                if character in "'\"":
                    hint = " (quoted text is no part of an expression: write column names bare)"
                elif character == "=":
                    hint = " (equality is written ==)"
                raise self.error(
                    f"unexpected {character!r} at character {position + 1}{hint}"
                ) from None
            kind, value, end = match.lastgroup or "", match.group(), match.end()
            tail = _WORD_TAIL.match(text, end)
            if kind in ("number", "name") and tail is not None:
                bad = text[position : tail.end()]
                noun = "number" if kind == "number" else "name"
                raise self.error(f"malformed {noun} {bad!r} at character {position + 1}")
            if kind == "number" and not math.isfinite(float(value)):
                raise self.error(f"the number {value!r} at character {position + 1} is not finite")
            if kind == "name":
                if value in _KEYWORDS:
                    kind = "keyword"
                elif any(part.startswith("_") for part in value.split(".")):
                    raise self.error(
                        f"{value!r} at character {position + 1} is a private name, not a column"
                    )
            if kind != "space":
                tokens.append(_Token(kind, value, position))
            position = end
        tokens.append(_Token("end", "", len(text)))
        return tokens

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def accept(self, *texts: str) -> _Token | None:
        token = self.token
        if token.kind in ("operator", "keyword") and token.text in texts:
            return self.advance()
        return None

    def expect(self, text: str, context: str) -> _Token:
        token = self.accept(text)
        if token is None:
            raise self.error(f"expected {text!r} {context}, found {self.at(self.token)}")
        return token

    def unexpected(self) -> ValueError:
        return self.error(f"unexpected {self.at(self.token)}")

    def enter(self, token: _Token) -> None:
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise self.error(f"nested more than {MAX_DEPTH} deep at character {token.position + 1}")

    def node(self, node: Node, token: _Token) -> Node:
        """``node``, refused if the tree becomes deeper than :data:`MAX_DEPTH`."""
        depth = 1 + max((self.depths.get(id(c), 1) for c in _children(node)), default=0)
        if depth > MAX_DEPTH:
            raise self.error(
                f"nested more than {MAX_DEPTH} deep at {self.at(token)} (split the "
                "expression or use fewer terms)"
            )
        self.depths[id(node)] = depth
        self.alive.append(node)  # an id() is unique only while its node lives
        return node

    # --- grammar, lowest precedence first

    def parse(self) -> Node:
        if self.token.kind == "end":
            raise self.error("empty: give a column or a comparison, e.g. 'cutBased >= 4'")
        tree = self.parse_or()
        if self.token.kind != "end":
            raise self.unexpected()
        return tree

    def condition(self, node: Node, token: _Token, word: str) -> Node:
        """``node`` as an operand of ``and``/``or``/``not``: a literal number is refused (C++'s
        ``filterBits & 2`` would read as "filterBits ≠ 0 and 2 ≠ 0", always true)."""
        if isinstance(node, Number) or (
            isinstance(node, Negation) and isinstance(node.operand, Number)
        ):
            raise self.error(
                f"the number {_text(node)} next to {word!r} at {self.at(token)} is no condition: "
                "'&', '|', 'and', 'or', 'not' join conditions; for a bit of an integer "
                "column write bit(column, n) (bit n = 1: value 2), for a comparison write "
                "column == number"
            )
        return node

    def parse_or(self) -> Node:
        first = self.token
        operands = [self.parse_and()]
        while (token := self.accept("or", "|")) is not None:
            operands[-1] = self.condition(operands[-1], token, token.text)
            operands.append(self.condition(self.parse_and(), token, token.text))
        if len(operands) == 1:
            return operands[0]
        flat = tuple(c for o in operands for c in (o.operands if isinstance(o, Or) else (o,)))
        return self.node(Or(flat), first)

    def parse_and(self) -> Node:
        first = self.token
        operands = [self.parse_not()]
        while (token := self.accept("and", "&")) is not None:
            operands[-1] = self.condition(operands[-1], token, token.text)
            operands.append(self.condition(self.parse_not(), token, token.text))
        if len(operands) == 1:
            return operands[0]
        flat = tuple(c for o in operands for c in (o.operands if isinstance(o, And) else (o,)))
        return self.node(And(flat), first)

    def parse_not(self) -> Node:
        token = self.accept("not")
        if token is None:
            return self.parse_comparison()
        self.enter(token)
        operand = self.condition(self.parse_not(), token, "not")
        self.nesting -= 1
        return self.node(Not(operand), token)

    def parse_comparison(self) -> Node:
        first = self.token
        operands = [self.parse_sum()]
        operators = []
        while (token := self.accept(*_COMPARISONS)) is not None:
            operators.append(token.text)
            operands.append(self.parse_sum())
        if not operators:
            return operands[0]
        return self.node(Comparison(tuple(operands), tuple(operators)), first)

    def parse_sum(self) -> Node:
        left = self.parse_product()
        while (token := self.accept("+", "-")) is not None:
            left = self.node(Arithmetic(token.text, left, self.parse_product()), token)
        return left

    def parse_product(self) -> Node:
        left = self.parse_unary()
        while (token := self.accept("*", "/")) is not None:
            if self.token.text == "*" and self.token.kind == "operator":
                raise self.error(
                    f"unexpected '*' at character {self.token.position + 1} "
                    "(there is no power operator)"
                )
            left = self.node(Arithmetic(token.text, left, self.parse_unary()), token)
        return left

    def parse_unary(self) -> Node:
        token = self.accept("-", "+")
        if token is None:
            return self.parse_primary()
        self.enter(token)
        operand = self.parse_unary()
        self.nesting -= 1
        if token.text == "+":
            return operand
        if isinstance(operand, Number):
            return Number(-operand.value)
        return self.node(Negation(operand), token)

    def parse_primary(self) -> Node:
        token = self.token
        if token.kind == "number":
            self.advance()
            return Number(float(token.text))
        if token.kind == "keyword" and token.text in ("true", "false", "True", "False"):
            self.advance()
            return Boolean(token.text.lower() == "true")
        if token.kind == "name":
            self.advance()
            if self.token.text == "(" and self.token.kind == "operator":
                return self.parse_call(token)
            return Name(token.text)
        if self.accept("("):
            self.enter(token)
            inner = self.parse_or()
            self.expect(")", f"to close the '(' at character {token.position + 1}")
            self.nesting -= 1
            return inner
        raise self.unexpected()

    def parse_call(self, name: _Token) -> Node:
        functions = ", ".join(FUNCTIONS)
        if "." in name.text:
            raise self.error(
                f"{name.text!r} at character {name.position + 1} is no function: only "
                f"the functions {functions} can be called"
            )
        if name.text not in FUNCTIONS:
            raise self.error(
                f"unknown function {name.text!r} at character {name.position + 1} "
                f"(functions: {functions})"
            )
        opening = self.expect("(", f"after {name.text!r}")
        self.enter(opening)
        if name.text == "trigger":
            node = self.parse_trigger(name)
        elif name.text == "bit":
            node = self.parse_bit(name)
        else:
            arguments = self.parse_arguments(name)
            expected = _ARITY[name.text]
            if len(arguments) != expected:
                raise self.error(
                    f"{name.text}() at character {name.position + 1} takes {expected} "
                    f"argument{'s' if expected > 1 else ''}, got {len(arguments)}"
                )
            node = self.node(Call(name.text, tuple(arguments)), name)
        self.nesting -= 1
        return node

    def parse_arguments(self, name: _Token) -> list[Node]:
        arguments: list[Node] = []
        if self.accept(")"):
            return arguments
        arguments.append(self.parse_or())
        while self.accept(","):
            arguments.append(self.parse_or())
        self.expect(")", f"to close the call of {name.text}() at character {name.position + 1}")
        return arguments

    def parse_trigger(self, name: _Token) -> Node:
        if self.accept(")"):
            return Trigger("")
        token = self.token
        if token.kind != "name" or not _IDENTIFIER.fullmatch(token.text):
            raise self.error(
                f"trigger() at character {name.position + 1} takes the name of a "
                "trigger-object selection of the configuration (an identifier) or "
                f"nothing, found {self.at(token)}"
            )
        self.advance()
        self.expect(")", f"after the trigger selection {token.text!r}")
        return Trigger(token.text)

    def parse_bit(self, name: _Token) -> Node:
        operand = self.parse_or()
        if not self.accept(","):
            raise self.error(
                f"bit() at character {name.position + 1} takes 2 arguments, a column and a "
                f"bit number 0..{_HIGHEST_BIT}, found {self.at(self.token)}"
            )
        first = self.token
        self.parse_or()
        last = self.tokens[self.index - 1]
        if self.token.text == "," and self.token.kind == "operator":
            raise self.error(
                f"bit() at character {name.position + 1} takes 2 arguments, a column and a "
                f"bit number 0..{_HIGHEST_BIT}, found more"
            )
        written = self.text[first.position : last.position + len(last.text)]
        if (
            first is not last
            or first.kind != "number"
            or not first.text.isdigit()
            or int(first.text) > _HIGHEST_BIT
        ):
            raise self.error(
                f"the bit number of bit() at character {name.position + 1} must be an "
                f"integer 0..{_HIGHEST_BIT} written as a number, got {written!r}"
            )
        self.expect(")", f"to close the call of bit() at character {name.position + 1}")
        return self.node(Bit(operand, int(first.text)), name)


# --------------------------------------------------------------------------- evaluation

_STRING_ARRAYS = ("string", "bytestring", "char", "byte")


def _leaf_dtype(form: Any) -> np.dtype | str:
    """The number type under the lists and options of an awkward ``form``, or a word
    saying what the form holds instead."""
    while True:
        if form.parameter("__array__") in _STRING_ARRAYS:
            return "strings"
        if isinstance(form, ak.forms.NumpyForm):
            return np.dtype(form.primitive)
        if isinstance(form, ak.forms.EmptyForm):
            return np.dtype(np.float64)  # an empty list holds no value to compute on
        if isinstance(form, ak.forms.RecordForm):
            return "records"
        if isinstance(form, ak.forms.UnionForm):
            return "a union of types"
        form = form.content


def _form(value: Any) -> Any:
    if isinstance(value, ak.Array):
        return value.layout.form
    if isinstance(value, dak.Array):
        return value.form
    return None


def _dtype(value: Any) -> np.dtype | str:
    """The number type of ``value`` (a scalar, a numpy array, an awkward or a dask-awkward
    array), or a word saying what it holds instead."""
    if isinstance(value, bool | np.bool_):
        return np.dtype(bool)
    if isinstance(value, int | np.integer):
        return np.dtype(np.int64) if isinstance(value, int) else value.dtype
    if isinstance(value, float | np.floating):
        return np.dtype(np.float64) if isinstance(value, float) else value.dtype
    if isinstance(value, np.ndarray):
        return value.dtype
    form = _form(value)
    if form is not None:
        return _leaf_dtype(form)
    return type(value).__name__


def _has_option(value: Any) -> bool:
    """Whether ``value`` may hold missing values (an awkward option type)."""
    form = _form(value)
    while form is not None and not isinstance(form, ak.forms.NumpyForm | ak.forms.RecordForm):
        if form.is_option:
            return True
        form = getattr(form, "content", None)
    return False


def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray | ak.Array | dak.Array)


def _widened(value: Any) -> Any:
    """Integer columns as float64 before arithmetic: NanoAOD's small integer types
    (``UChar_t``, ``UShort_t``) would wrap around (3 − 4 = 255 in uint8); float64 holds
    every integer up to 2⁵³ exactly."""
    if not _is_array(value):
        return value
    dtype = _dtype(value)
    if not isinstance(dtype, np.dtype) or dtype.kind not in "iu":
        return value
    if isinstance(value, np.ndarray):
        return value.astype(np.float64)
    return ak.values_astype(value, np.float64)


def _scalar(value: Any) -> Any:
    """numpy scalars as Python numbers, anything else as is."""
    return value.item() if isinstance(value, np.generic) else value


def _where(condition: Any, replacement: float, value: Any) -> Any:
    """``value`` with ``replacement`` where ``condition`` holds (missing: does not hold)."""
    if isinstance(value, ak.Array | dak.Array):
        if _has_option(condition):
            condition = ak.fill_none(condition, False)
        return ak.where(condition, replacement, value)
    if isinstance(value, np.ndarray):
        return np.where(condition, replacement, value)
    return replacement if condition else value


def _truth(value: Any) -> Any:
    """The logical value: a boolean as is, a number ``x`` as ``x != 0`` (NaN: false)."""
    if _dtype(value) == np.dtype(bool):
        return value
    if _is_array(value):
        return np.logical_or(np.less(value, 0), np.greater(value, 0))
    return value < 0 or value > 0


def _not(value: Any) -> Any:
    return np.logical_not(value) if _is_array(value) else not value


def _and(left: Any, right: Any) -> Any:
    """``left and right`` of logical values, Kleene's logic for missing values (false and
    missing is false)."""
    if not (_is_array(left) or _is_array(right)):
        return bool(left) and bool(right)
    both = np.logical_and(left, right)
    if not (_has_option(left) or _has_option(right)):
        return both
    false = np.logical_or(_definitely_false(left), _definitely_false(right))
    return ak.where(false, False, both)


def _or(left: Any, right: Any) -> Any:
    """``left or right`` of logical values, Kleene's logic for missing values (true or
    missing is true)."""
    if not (_is_array(left) or _is_array(right)):
        return bool(left) or bool(right)
    either = np.logical_or(left, right)
    if not (_has_option(left) or _has_option(right)):
        return either
    true = np.logical_or(_definitely_true(left), _definitely_true(right))
    return ak.where(true, True, either)


def _definitely_true(value: Any) -> Any:
    return ak.fill_none(value, False) if _has_option(value) else value


def _definitely_false(value: Any) -> Any:
    return np.logical_not(ak.fill_none(value, True) if _has_option(value) else value)


_UFUNCS = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    ">=": np.greater_equal,
    ">": np.greater,
    "<=": np.less_equal,
    "<": np.less,
    "==": np.equal,
}


def _compare(operator: str, left: Any, right: Any) -> Any:
    """One comparison; ``!=`` is ``<`` or ``>``, so that a NaN side makes it false too."""
    if operator == "!=":
        return _scalar(np.logical_or(np.less(left, right), np.greater(left, right)))
    return _scalar(_UFUNCS[operator](left, right))


def _divide(numerator: Any, denominator: Any) -> Any:
    """``numerator / denominator``, NaN (undefined) where the denominator is 0."""
    return _scalar(np.true_divide(numerator, _where(np.equal(denominator, 0), np.nan, denominator)))


def _square_root(value: Any) -> Any:
    """``√value``, NaN (undefined) where the value is negative."""
    return _scalar(np.sqrt(_where(np.less(value, 0), np.nan, value)))


class _Evaluation:
    """One evaluation of a tree with the caller's ``resolve`` and ``trigger``."""

    def __init__(
        self,
        text: str,
        resolve: Callable[[str], Any],
        trigger: Callable[[str], Any] | None,
    ) -> None:
        self.text = text
        self.resolve = resolve
        self.trigger = trigger

    def error(self, reason: str) -> ValueError:
        return ValueError(f"expression {self.text!r}: {reason}")

    def checked(self, value: Any, label: str) -> Any:
        """``value``, refused unless it holds numbers or booleans."""
        dtype = _dtype(value)
        if not isinstance(dtype, np.dtype) or dtype.kind not in "biuf":
            held = dtype if isinstance(dtype, str) else dtype.name
            raise self.error(f"{label} holds {held}, not numbers or booleans")
        return _scalar(value)

    def number(self, node: Node) -> Any:
        """The value of ``node``, refused if it is a boolean (arithmetic needs numbers)."""
        value = self.value(node)
        if _dtype(value) == np.dtype(bool):
            raise self.error(
                f"{_text(node)!r} is true/false, not a number: arithmetic and the functions "
                "abs, min, max, sqrt, bit need numbers"
            )
        return value

    def logical(self, node: Node) -> Any:
        return _truth(self.value(node))

    def value(self, node: Node) -> Any:
        if isinstance(node, Number | Boolean):
            return node.value
        if isinstance(node, Name):
            return self.checked(self.resolve(node.name), repr(node.name))
        if isinstance(node, Trigger):
            if self.trigger is None:
                raise self.error(
                    "trigger(...) needs trigger objects in the configuration (trigger_objects)"
                )
            return self.checked(self.trigger(node.name), _text(node))
        if isinstance(node, Bit):
            return self.bit(node)
        if isinstance(node, Call):
            arguments = [_widened(self.number(a)) for a in node.arguments]
            if node.function == "abs":
                return _scalar(np.absolute(arguments[0]))
            if node.function == "sqrt":
                return _square_root(arguments[0])
            function = np.minimum if node.function == "min" else np.maximum
            return _scalar(function(*arguments))
        if isinstance(node, Negation):
            return _scalar(np.negative(_widened(self.number(node.operand))))
        if isinstance(node, Arithmetic):
            left = _widened(self.number(node.left))
            right = _widened(self.number(node.right))
            if node.operator == "/":
                return _divide(left, right)
            return _scalar(_UFUNCS[node.operator](left, right))
        if isinstance(node, Comparison):
            values = [self.value(o) for o in node.operands]
            result = None
            for operator, left, right in zip(node.operators, values, values[1:], strict=False):
                holds = _compare(operator, left, right)
                result = holds if result is None else _and(result, holds)
            return result
        if isinstance(node, Not):
            return _not(self.logical(node.operand))
        if isinstance(node, And | Or):
            combine = _and if isinstance(node, And) else _or
            result = self.logical(node.operands[0])
            for operand in node.operands[1:]:
                result = combine(result, self.logical(operand))
            return result
        raise TypeError(f"not an expression node: {node!r}")

    def bit(self, node: Bit) -> Any:
        value = self.value(node.operand)
        dtype = _dtype(value)
        if not isinstance(dtype, np.dtype) or dtype.kind not in "iu":
            held = dtype if isinstance(dtype, str) else dtype.name
            raise self.error(f"bit() needs an integer column, {_text(node.operand)!r} holds {held}")
        if node.index >= 8 * dtype.itemsize:
            raise self.error(
                f"bit({_text(node.operand)}, {node.index}): {_text(node.operand)!r} holds "
                f"{dtype.name}, whose bits are 0..{8 * dtype.itemsize - 1}"
            )
        if not _is_array(value):
            return ((value >> node.index) & 1) != 0
        return np.not_equal(np.bitwise_and(np.right_shift(value, node.index), 1), 0)


# --------------------------------------------------------------------------- Expression


@dataclass(frozen=True)
class Expression:
    """A parsed selection expression: a tree of whitelisted nodes, never executed code.

    Grammar, weakest binding first:

    ======================  ==============================  =====================================
    level                   written                         example
    ======================  ==============================  =====================================
    or                      ``a or b``, ``a | b``           ``cutBased >= 4 or mvaIso_WP90``
    and                     ``a and b``, ``a & b``          ``ptvarcone30/pt < 0.15 & pt > 25``
    not                     ``not a``                       ``not 1.4442 < abs(eta) < 1.566``
    comparison (chainable)  ``>= > <= < == !=``             ``1.4442 < abs(eta) < 1.566``
    sum                     ``a + b``, ``a - b``            ``eta + deltaEtaSC``
    product                 ``a * b``, ``a / b``            ``ptvarcone30/pt``
    sign                    ``-a``, ``+a``                  ``-dz < 0.1``
    primary                 number, ``true``, ``false``,    ``4``, ``.5``, ``1e3``,
                            name, function call, ``(a)``    ``HLT.Ele32_WPTight_Gsf``, ``abs(x)``
    ======================  ==============================  =====================================

    Names are identifiers, optionally dotted (``matched_gen.pdgId``); a part starting with
    ``_`` is refused. Functions: ``abs(x)``, ``sqrt(x)``, ``min(x, y)``, ``max(x, y)``,
    ``bit(x, n)`` (bit ``n``, an integer 0..63 written as a number, of the integer ``x``
    is set: ``((x >> n) & 1) != 0``, e.g. the trigger-object filter bits
    ``bit(filterBits, 1)`` of CMS NanoAOD v12) and ``trigger(name)`` / ``trigger()``
    (matched to the trigger objects of the configuration's selection ``name``, or to any;
    ``name`` is no column). A text is at most :data:`MAX_LENGTH` characters, nested at
    most :data:`MAX_DEPTH` deep.

    Semantics, elementwise: ``/`` is the true division and undefined (NaN) where the
    denominator is 0, ``sqrt`` undefined below 0; a comparison with an undefined side is
    false (``!=`` included). In a logical place (an operand of ``and``, ``or``, ``not``,
    or the whole of :meth:`evaluate_boolean`) a number ``x`` means ``x != 0``. Missing
    values (awkward option types) stay missing through arithmetic, comparisons and
    ``not``; ``and``/``or`` follow Kleene's logic (``false and missing`` is false, ``true
    or missing`` true); :meth:`evaluate_boolean` turns what is still missing into false.

    Two texts that differ only in spacing, in ``&``/``and``, ``|``/``or``, ``4``/``4.0``
    or redundant parentheses give equal expressions; ``str`` gives the canonical text.
    """

    tree: Node

    def __post_init__(self) -> None:
        if not isinstance(self.tree, _NODE_TYPES):
            raise TypeError(f"Expression needs an expression node, got {self.tree!r}")

    @classmethod
    def parse(cls, text: str, *, what: str = "expression") -> Expression:
        """Parse ``text``; anything outside the grammar is refused.

        Parameters
        ----------
        text : str
            The expression, e.g. ``"cutBased >= 4 and not bit(filterBits, 1)"``.
        what : str
            What the text is, for messages: ``"ID specification"``, ``"tag_id"``.

        Raises
        ------
        ValueError
            One line, ``"{what} {text!r}: <reason>"``, the reason naming the offending
            token and its character (counted from 1).
        """
        if not isinstance(text, str):
            raise ValueError(
                f"{what} {_shown(text)}: expected the expression as text (a string), got "
                f"{type(text).__name__}"
            )
        if len(text) > MAX_LENGTH:
            raise ValueError(
                f"{what} {_shown(text)}: longer than {MAX_LENGTH} characters; split the selection"
            )
        return cls(_Parser(text, what).parse())

    def __str__(self) -> str:
        """The canonical text: single spaces around comparisons, logical operators, ``+``
        and ``-``; none around ``*`` and ``/`` (``ptvarcone30/pt < 0.15``); ``and``,
        ``or``, ``true``, ``false``; integral numbers as integers; parentheses only where
        the precedence needs them. ``Expression.parse(str(e)) == e``."""
        return _text(self.tree)

    def __repr__(self) -> str:
        return f"Expression.parse({str(self)!r})"

    def _nodes(self) -> Iterator[Node]:
        """Every node, depth first, left to right."""
        stack = [self.tree]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(_children(node)))

    @property
    def names(self) -> tuple[str, ...]:
        """Every (dotted) name the expression reads, in first-seen order, once each; the
        ``trigger(...)`` arguments are no names."""
        return tuple(dict.fromkeys(n.name for n in self._nodes() if isinstance(n, Name)))

    @property
    def triggers(self) -> tuple[str, ...]:
        """The ``trigger(...)`` arguments in first-seen order, once each (``''`` for
        ``trigger()``)."""
        return tuple(dict.fromkeys(n.name for n in self._nodes() if isinstance(n, Trigger)))

    def evaluate(
        self, resolve: Callable[[str], Any], trigger: Callable[[str], Any] | None = None
    ) -> Any:
        """The value of the expression, elementwise.

        Parameters
        ----------
        resolve : callable
            ``resolve(name)`` gives the array of a (dotted) name: numpy, awkward or
            dask-awkward, of numbers or booleans. The expression reads nothing else.
        trigger : callable, optional
            ``trigger(name)`` gives, per candidate, whether it matches the trigger
            objects of the selection ``name`` (``''``: any trigger object).

        Returns
        -------
        Any
            An array like the inputs (a Python scalar for an expression without names).

        Raises
        ------
        ValueError
            A name or trigger that holds no numbers, ``bit()`` of a non-integer, arithmetic
            on booleans, ``trigger(...)`` without a ``trigger`` callback.
        """
        with np.errstate(all="ignore"):  # overflow to ±inf is defined behaviour
            return _Evaluation(str(self), resolve, trigger).value(self.tree)

    def evaluate_boolean(
        self, resolve: Callable[[str], Any], trigger: Callable[[str], Any] | None = None
    ) -> Any:
        """The logical value of the expression (a number ``x`` means ``x != 0``), missing
        values as false; same arguments as :meth:`evaluate`."""
        with np.errstate(all="ignore"):
            value = _truth(_Evaluation(str(self), resolve, trigger).value(self.tree))
            if _has_option(value):
                value = ak.fill_none(value, False)
            return _scalar(value)
