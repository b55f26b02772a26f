"""The safe expression language of the selections (egamma_cnn.expressions)."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Callable
from typing import Any

import awkward as ak
import dask_awkward as dak
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from egamma_cnn.expressions import (
    MAX_DEPTH,
    MAX_LENGTH,
    And,
    Arithmetic,
    Bit,
    Boolean,
    Comparison,
    Expression,
    Name,
    Negation,
    Not,
    Number,
    Or,
)


@pytest.fixture(autouse=True)
def _warnings_are_errors():
    """No RuntimeWarning (division by zero, invalid value) may leak from an evaluation.

    Objects of earlier tests are collected first: their ResourceWarnings at garbage
    collection are not this module's."""
    gc.collect()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("error", UserWarning)
        yield


def parse(text: str) -> Expression:
    return Expression.parse(text)


def columns(**arrays: Any) -> Callable[[str], Any]:
    return arrays.__getitem__


def fields_of(array: Any) -> Callable[[str], Any]:
    """``resolve`` over an (eager or dask) awkward array of records, dotted names included."""

    def resolve(name: str) -> Any:
        value = array
        for part in name.split("."):
            value = getattr(value, part)
        return value

    return resolve


# ------------------------------------------------------------------------------ parsing


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        (" cnn_score>0.9 ", "cnn_score > 0.9"),
        (
            "ptvarcone30 / pt<0.15 & etcone20/pt < 0.2",
            "ptvarcone30/pt < 0.15 and etcone20/pt < 0.2",
        ),
        ("cutBased >= 4.0", "cutBased >= 4"),
        ("(a or b) and c", "(a or b) and c"),
        ("a or (b and c)", "a or b and c"),
        ("a | b & c", "a or b and c"),
        ("not a and b", "not a and b"),
        ("not (a and b)", "not (a and b)"),
        ("not a == 1", "not a == 1"),
        ("not not a", "not not a"),
        ("1.4442 < abs(eta)< 1.566", "1.4442 < abs(eta) < 1.566"),
        ("(a < b) < c", "(a < b) < c"),
        ("a - (b - c)", "a - (b - c)"),
        ("(a - b) - c", "a - b - c"),
        ("a * (b + c)", "a*(b + c)"),
        ("a / (b * c)", "a/(b*c)"),
        ("a*b / c", "a*b/c"),
        ("-a * -b", "-a*-b"),
        ("- - a", "--a"),
        ("-(a + b)", "-(a + b)"),
        ("a - -1", "a - -1"),
        ("+a", "a"),
        ("-(-3)", "3"),
        (".5 + 2. * 1e3", "0.5 + 2*1000"),
        ("x < 1e-5", "x < 1e-05"),
        ("x > 1e20", "x > 1e+20"),
        ("True & false", "true and false"),
        ("HLT.Ele32_WPTight_Gsf", "HLT.Ele32_WPTight_Gsf"),
        ("abs( matched_gen.pdgId )==11", "abs(matched_gen.pdgId) == 11"),
        ("min(a,max(b,1))!=sqrt(c)", "min(a, max(b, 1)) != sqrt(c)"),
        ("bit(filterBits,1)", "bit(filterBits, 1)"),
        ("trigger( Ele32 ) or trigger( )", "trigger(Ele32) or trigger()"),
        ("a == b", "a == b"),
        ("a >= b", "a >= b"),
        ("a <= b", "a <= b"),
    ],
)
def test_canonical_text(text, canonical):
    expression = parse(text)
    assert str(expression) == canonical
    assert parse(canonical) == expression
    assert hash(parse(canonical)) == hash(expression)


def test_precedence_builds_the_expected_tree():
    a, b, c = Name("a"), Name("b"), Name("c")
    assert parse("a or b and c").tree == Or((a, And((b, c))))
    assert parse("not a or b").tree == Or((Not(a), b))
    assert parse("not a < b").tree == Not(Comparison((a, b), ("<",)))
    assert parse("a + b * c").tree == Arithmetic("+", a, Arithmetic("*", b, c))
    assert parse("a - b - c").tree == Arithmetic("-", Arithmetic("-", a, b), c)
    assert parse("-a * b").tree == Arithmetic("*", Negation(a), b)
    assert parse("-2").tree == Number(-2.0)
    assert parse("a < b + 1 <= c").tree == Comparison(
        (a, Arithmetic("+", b, Number(1.0)), c), ("<", "<=")
    )
    # nested and/or are one flat and/or
    assert parse("a and (b and c)") == parse("(a & b) & c")
    assert parse("a and (b and c)").tree == And((a, b, c))
    assert parse("a | (b or c)").tree == Or((a, b, c))
    assert parse("bit(TrigObj.filterBits, 10)").tree == Bit(Name("TrigObj.filterBits"), 10)
    assert parse("true").tree == Boolean(True)
    assert parse("4") == parse("4.0") == parse("4e0")
    assert parse("true") != parse("1")


def test_names_and_triggers_in_first_seen_order():
    expression = parse("b > a and trigger(Ele32) and a/b < c.d or trigger() or trigger(Ele32)")
    assert expression.names == ("b", "a", "c.d")
    assert expression.triggers == ("Ele32", "")
    assert parse("trigger(pt)").names == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__class__", r"'__class__' at character 1 is a private name, not a column"),
        ("a.__dict__", r"'a.__dict__' at character 1 is a private name, not a column"),
        ("pt > _x", r"'_x' at character 6 is a private name"),
        ("eval(x)", r"unknown function 'eval' at character 1 \(functions: abs, bit, max"),
        ("open('f')", r"unexpected \"'\" at character 6"),
        ("pt.sum()", r"'pt.sum' at character 1 is no function"),
        ("getattr(pt, x)", r"unknown function 'getattr'"),
        ("lambda: pt", r"unexpected ':' at character 7"),
        ('"pt" > 1', r"unexpected '\"' at character 1 \(quoted text"),
        ("a; b", r"unexpected ';' at character 2"),
        ("a ** 2", r"unexpected '\*' at character 4 \(there is no power operator\)"),
        ("pt >> 3", r"unexpected '>' at character 5"),
        ("a = 1", r"unexpected '=' at character 3 \(equality is written ==\)"),
        ("a @ b", r"unexpected '@' at character 3"),
        ("", r"empty"),
        ("   ", r"empty"),
        ("(a and b", r"expected '\)' to close the '\(' at character 1, found end of text"),
        ("a and b)", r"unexpected '\)' at character 8"),
        ("abs(a", r"expected '\)' to close the call of abs\(\)"),
        ("a b", r"unexpected 'b' at character 3"),
        ("a <", r"unexpected end of text at character 4"),
        ("not", r"unexpected end of text"),
        ("and a", r"unexpected 'and' at character 1"),
        ("1e999 > pt", r"the number '1e999' at character 1 is not finite"),
        ("1.2.3", r"malformed number '1.2.3' at character 1"),
        ("4pt", r"malformed number '4pt'"),
        ("a.5", r"malformed name 'a.5'"),
        ("bit(x, 64)", r"bit number of bit\(\) at character 1 must be an integer 0..63"),
        ("bit(x, -1)", r"must be an integer 0..63 written as a number, got '-1'"),
        ("bit(x, n)", r"got 'n'"),
        ("bit(x, 1.0)", r"got '1.0'"),
        ("bit(x, 1 + 1)", r"got '1 \+ 1'"),
        ("bit(x)", r"bit\(\) at character 1 takes 2 arguments"),
        ("bit(x, 1, 2)", r"bit\(\) at character 1 takes 2 arguments"),
        ("abs(x, y)", r"abs\(\) at character 1 takes 1 argument, got 2"),
        ("sqrt()", r"sqrt\(\) at character 1 takes 1 argument, got 0"),
        ("min(x)", r"min\(\) at character 1 takes 2 arguments, got 1"),
        ("trigger(a.b)", r"trigger\(\) at character 1 takes the name of a trigger-object"),
        ("trigger(1)", r"trigger\(\) at character 1 takes the name"),
        ("trigger(a, b)", r"expected '\)' after the trigger selection 'a'"),
        ("true(x)", r"unexpected '\(' at character 5"),
    ],
)
def test_bad_text_is_refused_with_one_line_naming_it(text, message):
    with pytest.raises(ValueError, match=message) as caught:
        Expression.parse(text, what="ID specification")
    text_shown = repr(text)
    assert str(caught.value).startswith(f"ID specification {text_shown}: ")
    assert "\n" not in str(caught.value)


def test_the_default_what_is_expression():
    with pytest.raises(ValueError, match=r"^expression 'a \+': unexpected end of text"):
        Expression.parse("a +")


@pytest.mark.parametrize(("value", "kind"), [(b"pt > 1", "bytes"), (None, "NoneType"), (3, "int")])
def test_non_text_is_refused(value, kind):
    with pytest.raises(ValueError, match=rf"^tag_id .*: expected the expression as text .*{kind}"):
        Expression.parse(value, what="tag_id")


def test_limits_against_hostile_text():
    with pytest.raises(ValueError, match=rf"longer than {MAX_LENGTH} characters") as caught:
        parse("a" * (MAX_LENGTH + 1))
    assert len(str(caught.value)) < 400  # the text is cut in the message
    deep = "(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1)
    with pytest.raises(ValueError, match=rf"nested more than {MAX_DEPTH} deep at character"):
        parse(deep)
    with pytest.raises(ValueError, match="nested more than"):
        parse("-" * (MAX_DEPTH + 1) + "a")
    with pytest.raises(ValueError, match="nested more than"):
        parse("not " * (MAX_DEPTH + 1) + "a")
    with pytest.raises(ValueError, match=r"nested more than .* deep at '\+'"):
        parse("+".join(["a"] * (MAX_DEPTH + 2)))
    # up to the limits it parses
    limit = "(" * (MAX_DEPTH - 1) + "a" + ")" * (MAX_DEPTH - 1)
    assert parse(limit) == parse("a")
    assert parse(" and ".join(["a > 1"] * 200)).names == ("a",)  # a long flat and


def test_expression_needs_a_node():
    with pytest.raises(TypeError, match="expression node"):
        Expression("pt > 1")


# --- round trip over generated texts

_CMP = [">=", ">", "<=", "<", "==", "!="]
_ATOMS = st.one_of(
    st.sampled_from(["pt", "eta", "HLT.Ele32_WPTight_Gsf", "matched_gen.pdgId", "x1"]),
    st.sampled_from(["true", "False", "trigger()", "trigger(Ele32)", ".5", "2.", "1e3"]),
    st.integers(0, 10**20).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)


def _extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.sampled_from(["+", "-", "*", "/", "and", "or", "&", "|", *_CMP])
    return st.one_of(
        st.tuples(children, binary, children).map(" ".join),
        st.tuples(children, st.sampled_from(["+", "-", "*", "/", "&", "|", *_CMP]), children).map(
            "".join
        ),
        st.tuples(children, st.sampled_from(_CMP), children, st.sampled_from(_CMP), children).map(
            " ".join
        ),
        children.map(lambda c: f"(not {c})"),
        children.map(lambda c: f"-({c})"),
        children.map(lambda c: f"({c})"),
        st.tuples(st.sampled_from(["abs", "sqrt"]), children).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(["min", "max"]), children, children).map(
            lambda t: f"{t[0]}({t[1]}, {t[2]})"
        ),
        st.tuples(children, st.integers(0, 63)).map(lambda t: f"bit({t[0]}, {t[1]})"),
    )


_TEXTS = st.recursive(_ATOMS, _extend, max_leaves=10)


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_canonical_text_round_trips(text):
    try:
        expression = parse(text)
    except ValueError as err:
        # glued tokens (1e3and), a text past the nesting limit, a number joined by and/or/not
        assume(all(word not in str(err) for word in ("malformed", "nested", "is no condition")))
        raise
    canonical = str(expression)
    assert parse(canonical) == expression
    assert str(parse(canonical)) == canonical
    assert hash(parse(canonical)) == hash(expression)


# --------------------------------------------------------------------------- evaluation


def test_numpy_evaluation_with_known_answers():
    resolve = columns(
        a=np.array([1.0, 0.0, -2.0, 3.0]),
        b=np.array([0.0, 0.0, 1.0, 2.0]),
        n=np.array([3, 0, 5, 8], dtype=np.int32),
    )

    def boolean(text: str) -> list[bool]:
        return parse(text).evaluate_boolean(resolve).tolist()

    np.testing.assert_allclose(parse("a + 2*b - 1").evaluate(resolve), [0.0, -1.0, -1.0, 6.0])
    np.testing.assert_allclose(parse("-a").evaluate(resolve), [-1.0, 0.0, 2.0, -3.0])
    np.testing.assert_allclose(parse("n/2").evaluate(resolve), [1.5, 0.0, 2.5, 4.0])
    np.testing.assert_allclose(parse("min(a, b) + max(a, b)").evaluate(resolve), [1, 0, -1, 5])
    np.testing.assert_allclose(parse("abs(a)").evaluate(resolve), [1.0, 0.0, 2.0, 3.0])
    assert boolean("sqrt(b) == 1") == [False, False, True, False]
    assert boolean("sqrt(a) >= 0") == [True, True, False, True]  # √-2 undefined
    # division by zero is undefined: every comparison with it is false, != included
    assert boolean("a/b > 0") == [False, False, False, True]
    assert boolean("a/b <= 0") == [False, False, True, False]
    assert boolean("a/b != 1") == [False, False, True, True]
    assert boolean("a/b == a/b") == [False, False, True, True]
    assert boolean("not a/b > 0") == [True, True, True, False]
    assert boolean("n/b > 1") == [False, False, True, True]  # an integer numerator too
    # chained comparisons: both hold
    assert boolean("-1 < a < 2") == [True, True, False, False]
    assert boolean("-1 < a < 2 < 3") == [True, True, False, False]
    assert boolean("0 <= n <= 5 != n") == [True, True, False, False]
    # logical place: a number x means x != 0
    assert boolean("a") == [True, False, True, True]
    assert boolean("a and n") == [True, False, True, True]
    assert boolean("not b or a < 0") == [True, True, True, False]
    assert boolean("a > 2 | b == 1 & n == 5") == [False, False, True, True]
    assert boolean("n == 8.0") == [False, False, False, True]
    # comparisons of two columns
    assert boolean("a >= b") == [True, True, False, True]


def test_constant_expressions_give_python_values():
    resolve = columns()
    assert parse("1/0 > 0").evaluate_boolean(resolve) is False
    assert parse("2 > 1 > 0").evaluate_boolean(resolve) is True
    assert parse("3/2").evaluate(resolve) == 1.5
    assert parse("not (1 < 0 or 2 == 3)").evaluate_boolean(resolve) is True


def test_overflow_to_infinity_warns_nothing():
    resolve = columns(a=np.array([0.0, 1.0, -1.0]))
    assert parse("a*1e308*1e308 > 0").evaluate_boolean(resolve).tolist() == [False, True, False]


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.uint16, np.int64, np.uint64])
def test_bit_of_integer_columns(dtype):
    bits = np.array([0, 1, 2, 3, 6, 130], dtype=dtype)  # NanoAOD v12 types among them
    resolve = columns(bits=bits)
    assert parse("bit(bits, 0)").evaluate(resolve).tolist() == [0, 1, 0, 1, 0, 0]
    assert parse("bit(bits, 1)").evaluate(resolve).tolist() == [0, 0, 1, 1, 1, 1]
    assert parse("bit(bits, 7)").evaluate(resolve).tolist() == [0, 0, 0, 0, 0, 1]
    width = 8 * np.dtype(dtype).itemsize  # the top bit: 130 has bit 7 of a uint8 set
    top = [width == 8 and value == 130 for value in bits.tolist()]
    assert parse(f"bit(bits, {width - 1})").evaluate(resolve).tolist() == top
    if width < 64:  # beyond the column's width; 64 and more are refused when parsed
        with pytest.raises(ValueError, match=f"whose bits are 0..{width - 1}"):
            parse(f"bit(bits, {width})").evaluate(resolve)
    assert parse("bit(bits, 1) and not bit(bits, 0)").evaluate_boolean(resolve).tolist() == [
        False,
        False,
        True,
        False,
        True,
        True,
    ]


def test_bit_of_a_non_integer_is_refused():
    resolve = columns(pt=np.array([1.0], dtype=np.float32), flag=np.array([True]))
    with pytest.raises(ValueError, match=r"bit\(\) needs an integer column, 'pt' holds float32"):
        parse("bit(pt, 1)").evaluate(resolve)
    with pytest.raises(ValueError, match=r"'flag' holds bool"):
        parse("bit(flag, 0)").evaluate(resolve)
    with pytest.raises(ValueError, match=r"'pt > 1' is true/false, not a number"):
        parse("(pt > 1) + 1").evaluate(resolve)


def test_a_name_that_holds_no_numbers_is_refused():
    electrons = ak.Array([[{"pt": 1.0, "label": "a"}], []])
    with pytest.raises(ValueError, match=r"'label' holds strings, not numbers or booleans"):
        parse("label == 1").evaluate(fields_of(electrons))
    with pytest.raises(ValueError, match=r"expression 'x > 1': 'x' holds records"):
        parse("x > 1").evaluate(columns(x=electrons))


#: Three events of electrons; the second electron has no generator match (a missing value).
EVENTS = ak.Array(
    [
        {
            "fired": True,
            "Electron": [
                {"pt": 40.0, "iso": 4.0, "den": 0.0, "bits": 3, "gen": {"pdgId": 11}},
                {"pt": 20.0, "iso": 1.0, "den": 2.0, "bits": 2, "gen": None},
            ],
        },
        {"fired": False, "Electron": []},
        {
            "fired": False,
            "Electron": [{"pt": 30.0, "iso": 6.0, "den": -1.0, "bits": 1, "gen": {"pdgId": -11}}],
        },
    ]
)

JAGGED_CASES = [
    ("pt > 25", [[True, False], [], [True]]),
    ("iso/pt < 0.15", [[True, True], [], [False]]),
    ("iso/den > 0", [[False, True], [], [False]]),  # 4/0 undefined
    ("iso/den != 0.5", [[False, False], [], [True]]),
    ("gen.pdgId == 11", [[True, False], [], [False]]),  # missing → false at the end
    ("abs(gen.pdgId) == 11", [[True, False], [], [True]]),
    ("not gen.pdgId == 11", [[False, False], [], [True]]),  # not missing is missing
    ("gen.pdgId == 11 or pt < 25", [[True, True], [], [False]]),  # true or missing
    ("gen.pdgId == 11 and pt > 25", [[True, False], [], [False]]),
    ("pt < 25 and gen.pdgId == 11", [[False, False], [], [False]]),  # false and missing
    ("gen.pdgId", [[True, False], [], [True]]),
    ("bit(bits, 1) and pt > 25", [[True, False], [], [False]]),
    ("fired and pt > 25", [[True, False], [], [False]]),  # an event column broadcast
    ("20 < pt < 35", [[False, False], [], [True]]),
]


@pytest.mark.parametrize(("text", "expected"), JAGGED_CASES)
def test_jagged_awkward_evaluation(text, expected):
    events = EVENTS

    def resolve(name: str) -> Any:
        return events.fired if name == "fired" else fields_of(events.Electron)(name)

    result = parse(text).evaluate_boolean(resolve)
    assert result.tolist() == expected
    assert str(ak.type(result)) == "3 * var * bool"  # no option left


def test_missing_values_stay_missing_in_evaluate():
    resolve = fields_of(EVENTS.Electron)
    assert parse("gen.pdgId + 1").evaluate(resolve).tolist() == [[12, None], [], [-10]]
    assert parse("gen.pdgId == 11").evaluate(resolve).tolist() == [[True, None], [], [False]]


@pytest.mark.parametrize(("text", "expected"), JAGGED_CASES)
def test_dask_awkward_evaluation_equals_the_eager_one(text, expected):
    events = dak.from_awkward(EVENTS, npartitions=2)

    def resolve(name: str) -> Any:
        return events.fired if name == "fired" else fields_of(events.Electron)(name)

    result = parse(text).evaluate_boolean(resolve)
    assert isinstance(result, dak.Array)  # still lazy
    assert result.compute().tolist() == expected


def test_dask_bit_check_uses_the_form():
    electrons = dak.from_awkward(EVENTS.Electron, npartitions=2)
    with pytest.raises(ValueError, match=r"bit\(\) needs an integer column, 'pt' holds float64"):
        parse("bit(pt, 1)").evaluate(fields_of(electrons))


def test_trigger_callback_gets_the_name():
    asked: list[str] = []
    pt = np.array([10.0, 40.0, 50.0])

    def trigger(name: str) -> np.ndarray:
        asked.append(name)
        return np.array([True, True, False]) if name == "Ele32" else np.array([True, False, True])

    expression = parse("trigger(Ele32) and pt > 20 or trigger() and pt > 45")
    result = expression.evaluate_boolean(columns(pt=pt), trigger)
    assert result.tolist() == [False, True, True]
    assert asked == ["Ele32", ""]


def test_trigger_without_callback_is_refused():
    with pytest.raises(
        ValueError,
        match=r"trigger\(\.\.\.\) needs trigger objects in the configuration \(trigger_objects\)",
    ):
        parse("trigger(Ele32)").evaluate_boolean(columns())


def test_resolve_is_asked_only_for_the_names():
    asked: list[str] = []

    def resolve(name: str) -> np.ndarray:
        asked.append(name)
        return np.array([1.0, 2.0])

    parse("a/b < c and b > 0").evaluate(resolve)
    assert asked == ["a", "b", "c", "b"]


@pytest.mark.parametrize(
    "text", ["filterBits & 2", "cutBased >= 2 and 3", "not 0", "a or -1", "(a & 4)"]
)
def test_a_number_joined_by_and_or_not_is_refused(text):
    # C++'s filterBits & 2 would read "filterBits != 0 and 2 != 0": every object with a bit
    with pytest.raises(ValueError, match=r"is no condition: .* write bit\(column, n\)"):
        parse(text)
    assert str(parse("filterBits > 0 & cutBased >= 2")) == "filterBits > 0 and cutBased >= 2"


def test_a_bit_beyond_the_width_of_the_column_is_refused():
    values = np.array([1, 2, -(2**31)], dtype=np.int32)
    with pytest.raises(ValueError, match=r"'x' holds int32, whose bits are 0..31"):
        parse("bit(x, 40)").evaluate_boolean(lambda name: values)
    assert parse("bit(x, 31)").evaluate_boolean(lambda name: values).tolist() == [0, 0, 1]


def test_integer_columns_do_not_wrap_around_in_arithmetic():
    small = {"u": np.array([3, 250], dtype=np.uint8), "v": np.array([4, 250], dtype=np.uint8)}
    resolve = columns(**small)
    assert parse("u - v < 0").evaluate_boolean(resolve).tolist() == [True, False]
    assert parse("u + v").evaluate(resolve).tolist() == [7.0, 500.0]
    assert parse("-u").evaluate(resolve).tolist() == [-3.0, -250.0]
    assert parse("abs(u - v)").evaluate(resolve).tolist() == [1.0, 0.0]
    jagged = ak.Array([[3, 250], []])
    jagged = ak.values_astype(jagged, np.uint8)
    assert parse("u - 4").evaluate(lambda name: jagged).tolist() == [[-1.0, 246.0], []]


def test_the_depth_limit_depends_on_the_tree_not_on_parentheses():
    deep, tail = " + ".join(["x"] * 60), " + ".join(["w"] * 4)
    flat = parse(f"({deep} > 0 or y or z) and {tail} > 0")
    assert parse(f"(({deep} > 0 or y) or z) and {tail} > 0") == flat
