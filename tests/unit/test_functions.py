"""The template functions, called directly: Go Sprig/Lynq semantics, one table per function."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from jinja2 import StrictUndefined, Undefined
from jinja2.exceptions import UndefinedError

from lynq_bridge.core import functions as fn


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://a.example.com:8443/x", "a.example.com"),
        ("a.example.com:8080/y", "a.example.com"),
        ("https://user:secret@a.example.com/x?q=1#f", "a.example.com"),
        ("http://192.168.1.1:8080/path", "192.168.1.1"),
        ("https://[2001:db8::1]:8443/x", "2001:db8::1"),
        ("[2001:db8::1]:80", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("example.com/path?x=1", "example.com"),
        ("//cdn.example.com/lib.js", "cdn.example.com"),
        ("example.com", "example.com"),
        ("not-a-valid-url", "not-a-valid-url"),
        ("", ""),
    ],
)
def test_to_host_keeps_only_the_host_name(value: str, expected: str) -> None:
    assert fn.to_host(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("short", "short"),
        ("a" * 63, "a" * 63),
        ("b" * 64, "b" * 63),
        ("é" * 70, "é" * 63),
        ("", ""),
    ],
)
def test_trunc63_keeps_the_first_63_characters(value: str, expected: str) -> None:
    assert fn.trunc63(value) == expected


@pytest.mark.parametrize(
    ("function", "value", "expected"),
    [
        (fn.sha1sum, "test", "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"),
        (fn.sha1sum, "", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        (fn.sha256sum, "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        (fn.sha256sum, "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ],
)
def test_hash_functions_give_lowercase_hex_digests(
    function: Callable[[object], str], value: str, expected: str
) -> None:
    assert function(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"name":"app","port":5432}', {"name": "app", "port": 5432}),
        ('["a","b"]', ["a", "b"]),
        ("null", None),
        ("{broken", {}),
        ("", {}),
        ('{"x": NaN}', {}),
        ("this is not json", {}),
    ],
)
def test_from_json_parses_and_gives_empty_map_for_invalid_json(text: str, expected: object) -> None:
    assert fn.from_json(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["a", "b", "c"], '["a","b","c"]'),
        ({"b": 1, "a": [True, None, 2.5]}, '{"a":[true,null,2.5],"b":1}'),
        ({"z": {"y": 1, "x": 2}}, '{"z":{"x":2,"y":1}}'),
        ("<a&b>", '"\\u003ca\\u0026b\\u003e"'),
        ("ünï\n", '"ünï\\n"'),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (42.0, "42"),
    ],
)
def test_to_json_is_compact_sorted_and_escapes_like_go(value: object, expected: str) -> None:
    assert fn.to_json(value) == expected


@pytest.mark.parametrize(
    ("plain", "encoded"),
    [("my-secret-value", "bXktc2VjcmV0LXZhbHVl"), ("", ""), ("ü", "w7w=")],
)
def test_b64enc_and_b64dec_are_inverse(plain: str, encoded: str) -> None:
    assert fn.b64enc(plain) == encoded
    assert fn.b64dec(encoded) == plain


@pytest.mark.parametrize(
    ("encoded", "cause"),
    [("not base64!", "not valid base64"), ("abc", "not valid base64"), ("/w==", "not UTF-8")],
)
def test_b64dec_of_bad_input_is_an_error_not_a_value(encoded: str, cause: str) -> None:
    with pytest.raises(ValueError, match=cause):
        fn.b64dec(encoded)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (("needs quotes",), '"needs quotes"'),
        (('say "hi"\\',), '"say \\"hi\\"\\\\"'),
        (("tab\there\n",), '"tab\\there\\n"'),
        (("\x00\x7f",), '"\\x00\\x7f"'),
        (("\u00a0",), '"\\u00a0"'),
        (("a", None, "b"), '"a" "b"'),
        ((True,), '"true"'),
    ],
)
def test_quote_uses_go_escapes_and_skips_none(values: tuple[object, ...], expected: str) -> None:
    assert fn.quote(*values) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [(("a b",), "'a b'"), (("it's",), "'it's'"), (("a", None, 2), "'a' '2'")],
)
def test_squote_wraps_without_escaping(values: tuple[object, ...], expected: str) -> None:
    assert fn.squote(*values) == expected


@pytest.mark.parametrize(
    ("value", "length", "expected"),
    [
        ("hello world", 5, "hello"),
        ("hello world", -5, "world"),
        ("hello", 10, "hello"),
        ("hello", -10, "hello"),
        ("hello", 0, ""),
    ],
)
def test_trunc_takes_from_the_start_or_with_negative_length_from_the_end(
    value: str, length: int, expected: str
) -> None:
    assert fn.trunc(value, length) == expected


@pytest.mark.parametrize(
    ("function", "value", "expected"),
    [
        (fn.trim, "  spaces around \n", "spaces around"),
        (fn.trim, "\u3000wide\u00a0", "wide"),
        (fn.trim, "\x1ckept\x1f", "\x1ckept\x1f"),
        (fn.upper, "acme-corp", "ACME-CORP"),
        (fn.upper, "straße", "STRAßE"),
        (fn.lower, "ACME-Corp", "acme-corp"),
        (fn.title, "acme corp api", "Acme Corp Api"),
        (fn.title, "hello-world mIXED", "Hello-World MIXED"),
        (fn.title, "o'neil_x 3d", "O'Neil_x 3d"),
    ],
)
def test_string_functions_follow_go(
    function: Callable[[object], str], value: str, expected: str
) -> None:
    assert function(value) == expected


@pytest.mark.parametrize(
    ("value", "old", "new", "expected"),
    [
        ("acme.example.com", ".", "-", "acme-example-com"),
        ("aaa", "a", "bb", "bbbbbb"),
        ("abc", "", "-", "-a-b-c-"),
        ("abc", "x", "y", "abc"),
    ],
)
def test_replace_replaces_every_occurrence(value: str, old: str, new: str, expected: str) -> None:
    assert fn.replace(value, old, new) == expected


@pytest.mark.parametrize(
    ("value", "snake"),
    [
        ("FirstName", "first_name"),
        ("HTTPServer", "http_server"),
        ("NoHTTPS", "no_https"),
        ("GO_PATH", "go_path"),
        ("GO PATH", "go_path"),
        ("GO-PATH", "go_path"),
        ("http2xx", "http_2xx"),
        ("HTTP2XX", "http2_xx"),
        ("HTTP20xOK", "http_20x_ok"),
        ("Duration2m3s", "duration_2m3s"),
        ("Bld4Floor3rd", "bld4_floor_3rd"),
        ("_camelCase", "_camel_case"),
        ("_HELLO_WORLD_", "_hello_world_"),
        ("  sentence case  ", "__sentence_case__"),
        ("a.b", "a.b"),
        ("a😀b", "a_😀_b"),
        ("中ABC", "中_abc"),
        ("", ""),
    ],
)
def test_snakecase_and_kebabcase_split_words_like_xstrings(value: str, snake: str) -> None:
    assert fn.snakecase(value) == snake
    assert fn.kebabcase(value) == snake.replace("_", "-")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http_server", "HttpServer"),
        ("no_https", "NoHttps"),
        ("_complex__case_", "_Complex_Case_"),
        ("some words", "SomeWords"),
        ("hello-world", "HelloWorld"),
        ("GOLANG_IS_GREAT", "GolangIsGreat"),
        ("helloWORLD", "HelloWORLD"),
        ("some_1_thing", "Some1Thing"),
        ("a", "A"),
        ("", ""),
    ],
)
def test_camelcase_is_upper_camel_case_like_sprig(value: str, expected: str) -> None:
    assert fn.camelcase(value) == expected


@pytest.mark.parametrize(
    ("function", "value", "argument", "expected"),
    [
        (fn.has_prefix, "abcd", "ab", True),
        (fn.has_prefix, "abcd", "cd", False),
        (fn.has_suffix, "abcd", "cd", True),
        (fn.has_suffix, "abcd", "ab", False),
        (fn.contains, "abcd", "bc", True),
        (fn.contains, "abcd", "x", False),
        (fn.regex_match, "acme-42", r"\d+$", True),
        (fn.regex_match, "acme", r"^\d", False),
    ],
)
def test_predicates_test_the_piped_value(
    function: Callable[[object, object], bool], value: str, argument: str, expected: bool
) -> None:
    assert function(value, argument) is expected


@pytest.mark.parametrize(
    ("value", "pattern", "replacement", "expected"),
    [
        ("acme.example.com", r"\.", "-", "acme-example-com"),
        ("hello world", r"(\w+) (\w+)", "$2 $1", "world hello"),
        ("hello world", r"(?P<first>\w+) (\w+)", "${first}x $1x $$", "hellox  $"),
        ("abxd", "x*", "-", "-a-b-d-"),
        ("abc", "z", "-", "abc"),
    ],
)
def test_regex_replace_all_expands_like_go(
    value: str, pattern: str, replacement: str, expected: str
) -> None:
    assert fn.regex_replace_all(value, pattern, replacement) == expected


def test_invalid_regular_expression_is_an_error() -> None:
    with pytest.raises(ValueError, match="invalid regular expression"):
        fn.regex_match("x", "(")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (StrictUndefined(name="plan"), "basic"),
        (Undefined(name="plan"), "basic"),
        ("", "basic"),
        (None, "basic"),
        ([], "basic"),
        ({}, "basic"),
        (0, "basic"),
        (0.0, "basic"),
        (False, "basic"),
        ("premium", "premium"),
        ("0", "0"),
        ([""], [""]),
        (1, 1),
    ],
)
def test_default_replaces_undefined_and_empty_values(value: object, expected: object) -> None:
    assert fn.default(value, "basic") == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("42", 42),
        ("007", 7),
        ("-123", -123),
        ("+5", 5),
        ("3.7", 3),
        ("-5.99", -5),
        ("1e3", 1000),
        ("invalid", 0),
        ("", 0),
        (" 42", 0),
        ("1_000", 0),
        ("inf", 0),
        (3.99, 3),
        (-7.5, -7),
        (True, 1),
        (False, 0),
        (None, 0),
        (9999999999, 9999999999),
    ],
)
def test_int_converts_like_lynq(value: object, expected: int) -> None:
    result = fn.to_int(value)
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("42", 42.0),
        ("3.14", 3.14),
        ("-1.5", -1.5),
        (".5", 0.5),
        ("invalid", 0.0),
        ("", 0.0),
        ("nan", 0.0),
        (42, 42.0),
        (True, 1.0),
        (None, 0.0),
    ],
)
def test_float_converts_like_lynq(value: object, expected: float) -> None:
    result = fn.to_float(value)
    assert result == expected
    assert type(result) is float


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *[(word, True) for word in ("true", "TRUE", "True", "1", "yes", "YES", "on", "t", "Y")],
        *[(word, False) for word in ("false", "0", "no", "off", "", "invalid", "2")],
        (True, True),
        (False, False),
        (42, True),
        (-1, True),
        (0, False),
        (0.1, True),
        (0.0, False),
        (None, False),
    ],
)
def test_bool_is_true_for_true_1_yes_on_t_y_and_nonzero_numbers(
    value: object, expected: bool
) -> None:
    assert fn.to_bool(value) is expected


@pytest.mark.parametrize("function", [fn.to_int, fn.to_float, fn.to_bool, fn.upper, fn.to_json])
def test_functions_raise_for_strictly_undefined_input(function: Callable[[object], object]) -> None:
    with pytest.raises(UndefinedError):
        function(StrictUndefined(name="missing"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (42.0, "42"),
        (1.5, "1.5"),
        (123456.0, "123456"),
        (1e6, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-0.0, "-0"),
        (float("inf"), "+Inf"),
    ],
)
def test_floats_print_like_go_percent_v(value: float, expected: str) -> None:
    assert fn.format_float(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("text", "text"), (None, ""), (True, "true"), (False, "false"), (3, "3"), (2.50, "2.5")],
)
def test_values_print_as_go_prints_them(value: object, expected: str) -> None:
    assert fn.to_text(value) == expected


def test_filters_replace_jinja_int_float_default_and_d() -> None:
    assert fn.FILTERS["int"] is fn.to_int
    assert fn.FILTERS["float"] is fn.to_float
    assert fn.FILTERS["default"] is fn.default
    assert fn.FILTERS["d"] is fn.default


def test_globals_are_the_single_argument_functions() -> None:
    assert set(fn.GLOBALS) < set(fn.FILTERS)
    assert "sha1sum" in fn.GLOBALS
    assert "replace" not in fn.GLOBALS  # Go and filter argument orders differ; a filter only
