"""Sprig's number, path, URL and semver functions, and the registry of allowed/rejected names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lynq_bridge.core.limits import LimitExceeded
from lynq_bridge.core.sprig import REJECTED, SPRIG, FunctionError, SemVersion


def call(name: str, *arguments: object) -> object:
    return SPRIG[name](*arguments)


@pytest.mark.parametrize(
    ("name", "arguments", "expected"),
    [
        ("atoi", ("42",), 42),
        ("atoi", ("4.2",), 0),
        ("atoi", ("99999999999999999999",), 0),
        ("int64", ("0x1F",), 31),
        ("int64", ("010",), 8),
        ("int64", ("1_000",), 1000),
        ("int64", ("10.00",), 10),
        ("int64", ("10.5",), 0),
        ("int64", (3.9,), 3),
        ("int64", (True,), 1),
        ("int64", (None,), 0),
        ("float64", ("1.5",), 1.5),
        ("float64", ("abc",), 0.0),
        ("float64", ("1e400",), 0.0),
        ("toDecimal", ("0777",), 511),
        ("toDecimal", ("8",), 0),
        ("int", ("3.7",), 3),
        ("float", ("2.5",), 2.5),
        ("bool", ("yes",), True),
        ("add", (1, 2, "3"), 6),
        ("add", (2**63 - 1, 1), -(2**63)),
        ("add1", ("41",), 42),
        ("sub", (3, 5), -2),
        ("mul", (2, 3, 4), 24),
        ("mul", (2**62, 4), 0),
        ("div", (-7, 2), -3),
        ("mod", (-7, 2), -1),
        ("max", (1, 5, "3"), 5),
        ("biggest", (1, 5), 5),
        ("max", (3, "1"), 3),
        ("min", (3, -1, 2), -1),
        ("maxf", (1, 2.5, "3"), 3.0),
        ("minf", (1.5, "-2"), -2.0),
        ("floor", ("123.9999",), 123.0),
        ("ceil", (123.001,), 124.0),
        ("round", (123.555555, 3), 123.556),
        ("round", (123.5, 0, 0.6), 123.0),
        ("addf", (1.5, 2, 2), 5.5),
        ("add1f", (1.5,), 2.5),
        ("subf", (1.5, 2), -0.5),
        ("mulf", (1.5, 2, 2), 6.0),
        ("divf", (10, 3), 3.3333333333333335),
        ("addf", (0.1, 0.2), 0.3),
        ("until", (5,), [0, 1, 2, 3, 4]),
        ("until", (-3,), [0, -1, -2]),
        ("untilStep", (3, 6, 2), [3, 5]),
        ("untilStep", (3, 6, -1), []),
        ("untilStep", (6, 3, -2), [6, 4]),
        ("seq", (5,), "1 2 3 4 5"),
        ("seq", (-3,), "1 0 -1 -2 -3"),
        ("seq", (0, 2), "0 1 2"),
        ("seq", (2, -2), "2 1 0 -1 -2"),
        ("seq", (0, 2, 10), "0 2 4 6 8 10"),
        ("seq", (0, -5), "0 -1 -2 -3 -4 -5"),
        ("seq", (5, 1, 0), ""),
        ("duration", ("95",), "1m35s"),
        ("duration", (3600,), "1h0m0s"),
        ("duration", ("0",), "0s"),
        ("durationRound", ("2h10m5s",), "2h"),
        ("durationRound", ("3600s",), "60m"),
        ("durationRound", ("1.5ms",), "0s"),
        ("durationRound", ("not a duration",), "0s"),
    ],
)
def test_number_function_returns_what_sprig_returns(
    name: str, arguments: tuple[object, ...], expected: object
) -> None:
    result = call(name, *arguments)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("div", (1, 0), "integer divide by zero"),
        ("mod", (1, "0"), "integer divide by zero"),
        ("divf", (1, 0), "decimal division by 0"),
        ("addf", (float("nan"),), "cannot create a decimal from NaN"),
        ("until", ("5",), "expected int; got string"),
    ],
)
def test_number_function_error_is_a_function_error(
    name: str, arguments: tuple[object, ...], message: str
) -> None:
    with pytest.raises(FunctionError, match=message):
        call(name, *arguments)


@pytest.mark.parametrize(
    ("name", "arguments"),
    [("until", (10**10,)), ("untilStep", (0, 10**12, 3)), ("seq", (1, 10**9))],
)
def test_ranges_past_the_limit_raise_before_allocating(
    name: str, arguments: tuple[object, ...]
) -> None:
    with pytest.raises(LimitExceeded):
        call(name, *arguments)


@pytest.mark.parametrize(
    ("name", "path", "expected"),
    [
        ("base", "foo/bar/baz", "baz"),
        ("base", "foo/bar/", "bar"),
        ("base", "/", "/"),
        ("base", "", "."),
        ("dir", "foo/bar/baz", "foo/bar"),
        ("dir", "baz", "."),
        ("dir", "/baz", "/"),
        ("clean", "foo/bar/../baz", "foo/baz"),
        ("clean", "/../a//b/./c/", "/a/b/c"),
        ("clean", "../../a", "../../a"),
        ("clean", "", "."),
        ("ext", "foo.bar", ".bar"),
        ("ext", "a.b/c", ""),
        ("isAbs", "/foo", True),
        ("isAbs", "foo", False),
        ("osBase", "foo/bar", "bar"),
    ],
)
def test_path_function_matches_go_path(name: str, path: str, expected: object) -> None:
    assert call(name, path) == expected


def test_url_parse_splits_like_net_url() -> None:
    assert call("urlParse", "proto://auth@host:80/path?query#fragment") == {
        "scheme": "proto",
        "host": "host:80",
        "hostname": "host",
        "path": "/path",
        "query": "query",
        "opaque": "",
        "fragment": "fragment",
        "userinfo": "auth",
    }
    assert call("urlParse", "mailto:a@example.com")["opaque"] == "a@example.com"  # type: ignore[index]


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (
            {
                "host": "host:80",
                "path": "/path",
                "query": "query",
                "fragment": "fragment",
                "userinfo": "auth",
                "scheme": "proto",
            },
            "proto://auth@host:80/path?query#fragment",
        ),
        ({"host": "host:80", "path": "/path", "scheme": "http"}, "http://host:80/path"),
        ({"path": "a b"}, "a%20b"),
        ({"scheme": "mailto", "opaque": "a@b"}, "mailto:a@b"),
    ],
)
def test_url_join_builds_like_net_url(parts: dict[str, object], expected: str) -> None:
    assert call("urlJoin", parts) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [("http://h:port/", "invalid port"), (":x", "missing protocol scheme"), ("%zz", "escape")],
)
def test_url_go_rejects_is_a_function_error(url: str, message: str) -> None:
    with pytest.raises(FunctionError, match=message):
        call("urlParse", url)


def test_semver_parses_loose_versions_into_go_fields() -> None:
    version = call("semver", "v1.2-beta.1+build")
    assert version == SemVersion(1, 2, 0, "beta.1", "build", "v1.2-beta.1+build")
    assert str(version) == "1.2.0-beta.1+build"


@pytest.mark.parametrize(
    ("constraint", "version", "expected"),
    [
        ("1.2.3", "1.2.3", True),
        ("=1.2.3", "1.2.4", False),
        ("!=1.2.3", "1.2.4", True),
        (">1.2", "1.3.0", True),
        (">1.2", "1.2.5", False),
        (">=1.2.3", "1.2.3", True),
        ("<1.2.3", "1.2.2", True),
        ("<=1.2", "1.2.9", True),
        ("<=1.2.3", "1.2.4", False),
        ("~1.2.3", "1.2.9", True),
        ("~1.2.3", "1.3.0", False),
        ("~1", "1.9.0", True),
        ("^1.2.3", "1.9.0", True),
        ("^1.2.3", "2.0.0", False),
        ("^0.2.3", "0.2.9", True),
        ("^0.2.3", "0.3.0", False),
        ("^0.0.3", "0.0.4", False),
        ("1.2.x", "1.2.9", True),
        ("1.2.x", "1.3.0", False),
        ("*", "9.0.0", True),
        (">=1.2 <2", "1.9.9", True),
        (">=1.2, <2", "2.0.0", False),
        ("1.2 - 1.4.5", "1.4.5", True),
        ("1.2 - 1.4.5", "1.4.6", False),
        ("<1.0 || >=2.0", "1.5.0", False),
        ("<1.0 || >=2.0", "2.5.0", True),
        (">1.2", "1.3.0-beta", False),
        (">1.2.0-0", "1.3.0-beta", True),
        ("!=1.2.3", "1.2.4-beta", True),
        (">=1.0.0-alpha", "1.0.0-beta", True),
        (">1.0.0-alpha.2", "1.0.0-alpha.10", True),
    ],
)
def test_semver_compare_follows_masterminds_constraints(
    constraint: str, version: str, expected: bool
) -> None:
    assert call("semverCompare", constraint, version) is expected


@pytest.mark.parametrize(
    ("constraint", "version", "message"),
    [
        ("garbage", "1.0.0", "improper constraint"),
        (">=1.0", "not-a-version", "not a semantic version"),
        (">=1.0", "1.0.0-01", "starts with 0"),
        ("> 1 " * 10_000 + "!", "1.0.0", "improper constraint"),
    ],
)
def test_semver_input_masterminds_rejects_is_a_function_error(
    constraint: str, version: str, message: str
) -> None:
    with pytest.raises(FunctionError, match=message):
        call("semverCompare", constraint, version)


def _sprig_function_names() -> set[str]:
    """Sprig v3.3.0's function-map names (tests/data/sprig/function-names.txt, with its source)."""
    path = Path(__file__).resolve().parents[1] / "data" / "sprig" / "function-names.txt"
    lines = path.read_text().splitlines()
    return {line for line in lines if line and not line.startswith("#")}


def test_every_sprig_function_is_implemented_or_rejected() -> None:
    names = _sprig_function_names()
    assert names - set(SPRIG) - set(REJECTED) == set()
    assert not set(SPRIG) & set(REJECTED)


@pytest.mark.parametrize(
    "name", ["toHost", "trunc63", "sha1sum", "fromJson", "int", "float", "bool"]
)
def test_lynq_own_functions_are_present(name: str) -> None:
    assert name in SPRIG


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_rejected_function_has_a_reason_and_a_replacement(name: str) -> None:
    reason = REJECTED[name]
    assert re.search(r"column|Secret|SQL", reason), reason
    assert name not in SPRIG


@pytest.mark.parametrize("name", ["now", "randAlphaNum", "uuidv4", "env", "shuffle", "date"])
def test_non_deterministic_functions_are_rejected(name: str) -> None:
    assert name in REJECTED
