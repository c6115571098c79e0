"""Sprig's default, list, dict, JSON and type functions; cases from Sprig v3.3.0's tests/docs."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from lynq_bridge.core.limits import LimitExceeded
from lynq_bridge.core.sprig import SPRIG, FunctionError


def call(name: str, *arguments: object) -> object:
    return SPRIG[name](*arguments)


@pytest.mark.parametrize(
    ("name", "arguments", "expected"),
    [
        ("default", ("foo", ""), "foo"),
        ("default", ("foo", "bar"), "bar"),
        ("default", ("foo",), "foo"),
        ("default", ("foo", None), "foo"),
        ("default", ("foo", 0), "foo"),
        ("default", ("foo", 0.0), "foo"),
        ("default", ("foo", False), "foo"),
        ("default", ("foo", []), "foo"),
        ("default", ("foo", {}), "foo"),
        ("default", ("foo", 1), 1),
        ("empty", ("",), True),
        ("empty", ({"a": 1},), False),
        ("coalesce", (None, "", "x", "y"), "x"),
        ("coalesce", (None, 0), None),
        ("all", (1, "a", [1]), True),
        ("all", (1, ""), False),
        ("any", (0, "", "x"), True),
        ("any", (), False),
        ("ternary", ("foo", "bar", True), "foo"),
        ("ternary", ("foo", "bar", False), "bar"),
        ("compact", ([1, "", None, 0, "a", False],), [1, "a"]),
        ("deepCopy", ({"a": [1, {"b": 2}]},), {"a": [1, {"b": 2}]}),
    ],
)
def test_default_function_treats_zero_values_as_empty(
    name: str, arguments: tuple[object, ...], expected: object
) -> None:
    assert call(name, *arguments) == expected


def test_ternary_condition_must_be_a_bool() -> None:
    with pytest.raises(FunctionError, match="expected bool; got string"):
        call("ternary", "a", "b", "true")


@pytest.mark.parametrize(
    ("name", "arguments", "expected"),
    [
        ("list", (1, "a"), [1, "a"]),
        ("tuple", (1,), [1]),
        ("first", ([1, 2, 3],), 1),
        ("first", ([],), None),
        ("rest", ([1, 2, 3],), [2, 3]),
        ("rest", ([],), None),
        ("last", ([1, 2, 3],), 3),
        ("initial", ([1, 2, 3],), [1, 2]),
        ("append", ([1, 2], 3), [1, 2, 3]),
        ("push", ([1, 2], 3), [1, 2, 3]),
        ("prepend", ([1, 2], 0), [0, 1, 2]),
        ("concat", ([1, 2], [3], []), [1, 2, 3]),
        ("reverse", ([1, 2, 3],), [3, 2, 1]),
        ("uniq", ([1, 2, 2, 1, "1", 1.0],), [1, 2, "1", 1.0]),
        ("without", ([1, 2, 3, 4], 1, 3), [2, 4]),
        ("has", (4, [1, 2, 3, 4]), True),
        ("has", ("4", [1, 2, 3, 4]), False),
        ("has", (1, None), False),
        ("slice", ([1, 2, 3, 4, 5], 1, 3), [2, 3]),
        ("slice", ([1, 2, 3, 4, 5], 3), [4, 5]),
        ("slice", ([1, 2, 3, 4, 5],), [1, 2, 3, 4, 5]),
        ("slice", ([],), None),
        ("chunk", (3, [1, 2, 3, 4, 5, 6, 7]), [[1, 2, 3], [4, 5, 6], [7]]),
        ("chunk", (2, []), []),
        ("mustFirst", ([5],), 5),
    ],
)
def test_list_function_returns_what_sprig_returns(
    name: str, arguments: tuple[object, ...], expected: object
) -> None:
    assert call(name, *arguments) == expected


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("first", ("abc",), "Cannot find first on type string"),
        ("mustPush", (None, 1), "Cannot push on type invalid"),
        ("slice", ([1, 2], 1, 5), "slice index out of range"),
        ("slice", ("abc", 1), "list should be type of slice or array but string"),
        ("concat", ([1], "x"), "Cannot concat type string"),
        ("chunk", (0, [1]), "positive"),
    ],
)
def test_list_function_of_a_non_list_is_a_function_error(
    name: str, arguments: tuple[object, ...], message: str
) -> None:
    with pytest.raises(FunctionError, match=message):
        call(name, *arguments)


@pytest.mark.parametrize(
    ("name", "arguments", "expected"),
    [
        ("dict", ("name1", "value1", "name2", 2), {"name1": "value1", "name2": 2}),
        ("dict", ("odd",), {"odd": ""}),
        ("dict", (1, "one"), {"1": "one"}),
        ("get", ({"a": 1}, "a"), 1),
        ("get", ({"a": 1}, "b"), ""),
        ("hasKey", ({"a": 1}, "a"), True),
        ("pluck", ("name1", {"name1": "v1"}, {"x": 1}, {"name1": "v2"}), ["v1", "v2"]),
        ("keys", ({"b": 1, "a": 2}, {"c": 3, "a": 4}), ["a", "a", "b", "c"]),
        ("values", ({"b": 1, "a": 2},), [2, 1]),
        ("pick", ({"a": 1, "b": 2, "c": 3}, "a", "c", "z"), {"a": 1, "c": 3}),
        ("omit", ({"a": 1, "b": 2, "c": 3}, "a", "c"), {"b": 2}),
        ("dig", ("a", "b", "c", "default", {"a": {"b": {"c": "found"}}}), "found"),
        ("dig", ("a", "x", "default", {"a": {"b": 1}}), "default"),
    ],
)
def test_dict_function_returns_what_sprig_returns(
    name: str, arguments: tuple[object, ...], expected: object
) -> None:
    assert call(name, *arguments) == expected


def test_keys_are_sorted_whatever_the_insertion_order() -> None:
    assert call("keys", {"zeta": 1, "alpha": 2, "mid": 3}) == ["alpha", "mid", "zeta"]


def test_set_and_unset_change_the_map_and_return_it() -> None:
    mapping: dict[str, object] = {"a": 1}
    assert call("set", mapping, "b", 2) is mapping
    assert call("unset", mapping, "a") is mapping
    assert mapping == {"b": 2}


def test_set_on_the_read_only_template_variables_is_a_function_error() -> None:
    with pytest.raises(FunctionError, match="cannot be changed"):
        call("set", MappingProxyType({"uid": "acme"}), "uid", "other")


def test_merge_keeps_the_target_and_fills_its_gaps_deeply() -> None:
    dst: dict[str, object] = {"default": "default", "overwrite": "me", "key": True, "d": {"x": 1}}
    src = {"overwrite": "overwritten", "key": False, "new": "n", "d": {"x": 2, "y": 3}, "z": None}
    assert call("merge", dst, src) is dst
    assert dst == {
        "default": "default",
        "overwrite": "me",
        "key": True,
        "d": {"x": 1, "y": 3},
        "new": "n",
    }


def test_merge_overwrite_lets_the_source_win_even_with_empty_values() -> None:
    dst: dict[str, object] = {"default": "default", "overwrite": "me", "key": True, "d": {"x": 1}}
    src = {"overwrite": "overwritten", "key": False, "d": {"y": 3}}
    assert call("mergeOverwrite", dst, src) == {
        "default": "default",
        "overwrite": "overwritten",
        "key": False,
        "d": {"x": 1, "y": 3},
    }


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("toJson", {"b": [1, 2.5, None], "a": "<x>"}, '{"a":"\\u003cx\\u003e","b":[1,2.5,null]}'),
        ("toJson", ["a", "b", "c"], '["a","b","c"]'),
        ("toJson", 1e21, "1e+21"),
        ("toRawJson", {"a": "<x>&"}, '{"a":"<x>&"}'),
        (
            "toPrettyJson",
            {"b": [1, {}], "a": "x"},
            '{\n  "a": "x",\n  "b": [\n    1,\n    {}\n  ]\n}',
        ),
        ("mustToJson", None, "null"),
    ],
)
def test_json_encoding_matches_go_encoding_json(name: str, value: object, expected: str) -> None:
    assert call(name, value) == expected


def test_from_json_numbers_are_float64_like_go() -> None:
    assert call("fromJson", '{"replicas": 3, "list": [1, 2.5]}') == {
        "replicas": 3.0,
        "list": [1.0, 2.5],
    }
    assert isinstance(call("fromJson", "3"), float)


@pytest.mark.parametrize("text", ["{broken", "", "NaN", "1e400", "[" * 100_000])
def test_from_json_of_invalid_json_is_an_empty_map(text: str) -> None:
    assert call("fromJson", text) == {}


def test_must_from_json_of_invalid_json_is_a_function_error() -> None:
    with pytest.raises(FunctionError, match="not valid JSON"):
        call("mustFromJson", "{broken")


def test_to_json_of_nan_is_a_function_error() -> None:
    with pytest.raises(FunctionError, match="unsupported value: NaN"):
        call("toJson", [float("nan")])


@pytest.mark.parametrize(
    ("name", "arguments", "expected"),
    [
        ("typeOf", ("x",), "string"),
        ("typeOf", (1,), "int"),
        ("typeOf", (1.5,), "float64"),
        ("typeOf", (None,), "<nil>"),
        ("typeOf", ([1],), "[]interface {}"),
        ("typeOf", ({},), "map[string]interface {}"),
        ("kindOf", ("x",), "string"),
        ("kindOf", ([],), "slice"),
        ("kindOf", ({},), "map"),
        ("kindOf", (True,), "bool"),
        ("kindOf", (None,), "invalid"),
        ("kindIs", ("int", 1), True),
        ("typeIs", ("string", "x"), True),
        ("typeIsLike", ("string", "x"), True),
        ("deepEqual", ([1, {"a": "b"}], [1, {"a": "b"}]), True),
        ("deepEqual", (1, 1.0), False),
        ("deepEqual", (1, True), False),
    ],
)
def test_type_function_names_go_types(
    name: str, arguments: tuple[object, ...], expected: object
) -> None:
    assert call(name, *arguments) == expected


def test_fail_raises_with_the_message() -> None:
    with pytest.raises(FunctionError, match=r"^the plan is unknown$"):
        call("fail", "the plan is unknown")


def test_values_that_print_exponentially_large_are_refused_by_the_json_encoders() -> None:
    nested: object = ["x" * 1000]
    for _ in range(12):
        nested = [nested, nested]
    for name in ("toJson", "toRawJson", "toPrettyJson"):
        with pytest.raises(LimitExceeded):
            call(name, nested)


def test_list_concat_and_dict_of_too_many_items_are_refused() -> None:
    big = [0] * 600_000
    assert len(call("concat", big, big)) == 1_200_000  # no larger than its inputs together
    with pytest.raises(LimitExceeded):
        call("concat", big, big, big)
    with pytest.raises(LimitExceeded):
        call("list", *big, *big)
    with pytest.raises(LimitExceeded):
        call("dict", *big, *big, *big, *big)
