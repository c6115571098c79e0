"""Sprig's string functions in Go argument order; cases from Sprig v3.3.0's tests and docs."""

from __future__ import annotations

import pytest

from lynq_bridge.core.limits import MAX_RESULT, LimitExceeded
from lynq_bridge.core.sprig import SPRIG, FunctionError


def call(name: str, *arguments: object) -> object:
    return SPRIG[name](*arguments)


@pytest.mark.parametrize(
    ("name", "arguments", "expected"),
    [
        ("trunc", (5, "hello world"), "hello"),
        ("trunc", (-5, "hello world"), "world"),
        ("trunc", (50, "hello"), "hello"),
        ("substr", (0, 5, "hello world"), "hello"),
        ("substr", (-1, 5, "hello world"), "hello"),
        ("substr", (6, -1, "hello world"), "world"),
        ("substr", (6, 99, "hello world"), "world"),
        ("abbrev", (5, "hello world"), "he..."),
        ("abbrev", (3, "hello world"), "hello world"),
        ("abbrevboth", (5, 10, "1234 5678 9123"), "...5678..."),
        ("abbrevboth", (1, 6, "1234 5678 9123"), "1234 5678 9123"),
        ("initials", ("First Try",), "FT"),
        ("wrap", (5, "Hello World"), "Hello\nWorld"),
        ("wrap", (5, "Hello Wonderful World"), "Hello\nWonderful\nWorld"),
        ("wrapWith", (5, "\t", "Hello World"), "Hello\tWorld"),
        ("wrapWith", (3, "\n", "abcdefg"), "abc\ndef\ng"),
        ("swapcase", ("This Is A.Test",), "tHIS iS a.tEST"),
        ("untitle", ("Hello World",), "hello world"),
        ("title", ("hello world",), "Hello World"),
        ("upper", ("hello",), "HELLO"),
        ("lower", ("HELLO",), "hello"),
        ("trim", ("  5.00  ",), "5.00"),
        ("trimAll", ("$", "$5.00$"), "5.00"),
        ("trimall", ("$", "$5.00$"), "5.00"),
        ("trimPrefix", ("-", "-hello"), "hello"),
        ("trimSuffix", ("-", "hello-"), "hello"),
        ("nospace", ("h e l l o ",), "hello"),
        ("repeat", (3, "hello"), "hellohellohello"),
        ("cat", ("hello", "beautiful", "world"), "hello beautiful world"),
        ("cat", ("a", None, 1, True), "a 1 true"),
        ("indent", (4, "a\nb"), "    a\n    b"),
        ("nindent", (4, "a\nb"), "\n    a\n    b"),
        ("replace", (" ", "-", "I Am Henry VIII"), "I-Am-Henry-VIII"),
        ("plural", ("anchovy", "anchovies", 1), "anchovy"),
        ("plural", ("anchovy", "anchovies", 2), "anchovies"),
        ("snakecase", ("FirstName",), "first_name"),
        ("camelcase", ("http_server",), "HttpServer"),
        ("kebabcase", ("FirstName",), "first-name"),
        ("contains", ("cat", "catch"), True),
        ("hasPrefix", ("cat", "catch"), True),
        ("hasSuffix", ("cat", "catch"), False),
        ("quote", ("a", None, 1), '"a" "1"'),
        ("quote", ('say "hi"\n',), '"say \\"hi\\"\\n"'),
        ("squote", ("a", None, 2), "'a' '2'"),
        ("toString", ([1, None, {"b": 2, "a": 1.5}],), "[1 <nil> map[a:1.5 b:2]]"),
        ("toString", (None,), "<nil>"),
        ("toString", (1e6,), "1e+06"),
        ("toStrings", ([1, None, "b", False],), ["1", "b", "false"]),
        ("toStrings", ("x",), ["x"]),
        ("join", ("-", ["a", 1, None, True]), "a-1-true"),
        ("join", ("-", "single"), "single"),
        ("split", ("$", "foo$bar$baz"), {"_0": "foo", "_1": "bar", "_2": "baz"}),
        ("splitn", ("$", 2, "foo$bar$baz"), {"_0": "foo", "_1": "bar$baz"}),
        ("splitList", ("$", "foo$bar$baz"), ["foo", "bar", "baz"]),
        ("sortAlpha", (["c", "a", "B"],), ["B", "a", "c"]),
        ("sortAlpha", (7,), ["7"]),
        ("sha1sum", ("123456789",), "f7c3bc1d808e04732adf679965ccc34ca7ae3441"),
        (
            "sha256sum",
            ("abc",),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            "sha512sum",
            ("",),
            "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
            "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
        ),
        ("adler32sum", ("Hello world!",), "487130206"),
        ("b64enc", ("my-secret-value",), "bXktc2VjcmV0LXZhbHVl"),
        ("b64dec", ("bXktc2VjcmV0LXZhbHVl",), "my-secret-value"),
        ("b32enc", ("Hello",), "JBSWY3DP"),
        ("b32dec", ("JBSWY3DP",), "Hello"),
        ("toHost", ("https://a.example.com:8443/x",), "a.example.com"),
        ("trunc63", ("x" * 70,), "x" * 63),
    ],
)
def test_string_function_returns_what_sprig_returns(
    name: str, arguments: tuple[object, ...], expected: object
) -> None:
    assert call(name, *arguments) == expected


@pytest.mark.parametrize(
    ("name", "arguments", "expected"),
    [
        (
            "regexMatch",
            ("^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$", "t@example.com"),
            True,
        ),
        ("regexFind", ("[a-zA-Z][1-9]", "abcd1234"), "d1"),
        ("regexFind", ("z", "abc"), ""),
        ("regexFindAll", ("[2,4,6,8]", "123456789", -1), ["2", "4", "6", "8"]),
        ("regexFindAll", ("[2,4,6,8]", "123456789", 2), ["2", "4"]),
        ("regexFindAll", ("x*", "axb", -1), ["", "x", ""]),
        ("regexFindAll", ("a", "aaa", 0), []),
        ("regexReplaceAll", ("a(x*)b", "-ab-axxb-", "${1}W"), "-W-xxW-"),
        ("regexReplaceAllLiteral", ("a(x*)b", "-ab-axxb-", "${1}"), "-${1}-${1}-"),
        ("regexSplit", ("z+", "pizza", -1), ["pi", "a"]),
        ("regexSplit", ("z+", "pizza", 1), ["pizza"]),
        ("regexSplit", ("z+", "", -1), [""]),
        ("regexQuoteMeta", ("1.2.3",), "1\\.2\\.3"),
    ],
)
def test_regex_function_matches_go_regexp(
    name: str, arguments: tuple[object, ...], expected: object
) -> None:
    assert call(name, *arguments) == expected


def test_regex_with_catastrophic_backtracking_pattern_is_fast() -> None:
    assert call("regexMatch", "^(a+)+$", "a" * 5000 + "b") is False


def test_invalid_regex_is_a_function_error() -> None:
    with pytest.raises(FunctionError, match="invalid regular expression"):
        call("regexFind", "(", "x")


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("upper", (5,), "expected string; got int"),
        ("trunc", ("5", "hello"), "expected int; got string"),
        ("trim", (None,), "invalid value; expected string"),
        ("substr", (4, 2, "hello"), "slice bounds out of range"),
        ("repeat", (-1, "x"), "negative Repeat count"),
        ("b32dec", ("!!",), "not valid base32"),
        ("b64dec", ("!!",), "not valid base64"),
    ],
)
def test_argument_go_refuses_is_a_function_error(
    name: str, arguments: tuple[object, ...], message: str
) -> None:
    with pytest.raises(FunctionError, match=message):
        call(name, *arguments)


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("repeat", (1_000_000_000, "x")),
        ("indent", (MAX_RESULT, "a\n" * 10)),
        ("nindent", (MAX_RESULT, "a\n" * 10)),
        ("wrapWith", (1, "x" * 100, "a b " * 20_000)),
        ("join", ("x" * 1000, ["a"] * 5000)),
        ("regexReplaceAllLiteral", ("a", "a" * 10_000, "x" * 1000)),
        ("replace", ("a", "x" * 1000, "a" * 10_000)),
    ],
)
def test_growing_text_past_the_limit_raises_before_allocating(
    name: str, arguments: tuple[object, ...]
) -> None:
    with pytest.raises(LimitExceeded, match="would make a value of"):
        call(name, *arguments)


def test_printing_a_list_that_holds_itself_many_times_is_refused() -> None:
    nested: object = ["x" * 1000]
    for _ in range(12):  # 4,096 copies when printed, a few bytes in memory
        nested = [nested, nested]
    for name in ("toString", "cat", "quote", "squote", "toStrings"):
        with pytest.raises(LimitExceeded):
            call(name, nested)
