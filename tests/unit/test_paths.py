"""core.paths: what untrusted text may become (path components, messages)."""

from __future__ import annotations

import pytest

from lynq_bridge.core.paths import (
    MAX_COMPONENT,
    UnsafePath,
    check_path,
    component_problem,
    is_below,
    one_line,
    path_problem,
    quote,
)


@pytest.mark.parametrize(
    "name",
    [
        "deployment_default_acme-app.yaml",
        "lynqnode.yaml",
        ".lynq-inputs",
        "acme-web",
        "level-0",
        "a",
        "x" * MAX_COMPONENT,
        "git",  # only the dot-spelling is Git's
        "my.git",
    ],
)
def test_ordinary_names_are_usable_components(name: str) -> None:
    assert component_problem(name) is None


@pytest.mark.parametrize(
    ("name", "cause"),
    [
        ("", "empty"),
        (".", "refers to a directory"),
        ("..", "refers to a directory"),
        ("x" * (MAX_COMPONENT + 1), "longer than 255"),
        ("a/b", "may only contain"),
        ("a\\b", "may only contain"),
        ("a\nb", "may only contain"),
        ("a\0b", "may only contain"),
        ("a\x7fb", "may only contain"),
        ("tab\there", "may only contain"),
        ("a b", "may only contain"),
        ('a"b', "may only contain"),
        ("caf\u00e9", "may only contain"),
        (".git\u200c", "may only contain"),  # HFS+ ignores U+200C: still .git there
        ("git~1", "may only contain"),  # the NTFS short name of .git
        (".git", "reserved by Git"),
        (".GIT", "reserved by Git"),
        (".Git", "reserved by Git"),
        (".git.", "reserved by Git"),  # NTFS drops trailing dots
        (".git..", "reserved by Git"),
        (".gitmodules", "reserved by Git"),
        (".gitattributes", "reserved by Git"),
        (".GitIgnore", "reserved by Git"),
    ],
)
def test_unusable_components_are_refused_with_the_cause(name: str, cause: str) -> None:
    problem = component_problem(name)
    assert problem is not None
    assert cause in problem


def test_the_empty_name_is_refused_with_exactly_that_reason() -> None:
    assert component_problem("") == "it is empty"


def test_refusal_message_is_one_line_whatever_the_name() -> None:
    problem = component_problem("x\nLynq-Nodes-Removed: acme-web")
    assert problem is not None and "\n" not in problem
    assert '"x\\nLynq-Nodes-Removed: acme-web"' in problem


@pytest.mark.parametrize(
    "path",
    ["lynq/default/tenants/acme-web/lynqnode.yaml", "a", "lynq/.lynq-inputs"],
)
def test_paths_of_usable_components_pass(path: str) -> None:
    assert path_problem(path) is None
    assert check_path(path) == path


@pytest.mark.parametrize(
    ("path", "cause"),
    [
        ("/x", "it is empty"),  # absolute: first component empty
        ("x/", "it is empty"),
        ("a//b", "it is empty"),
        ("lynq/../../x", "refers to a directory"),
        ("lynq/x/.git/config", "reserved by Git"),
        ("lynq/a\nM 100644 inline x", "may only contain"),
    ],
)
def test_paths_with_an_unusable_component_are_refused(path: str, cause: str) -> None:
    problem = path_problem(path)
    assert problem is not None and cause in problem
    assert problem.startswith("path ")
    with pytest.raises(UnsafePath, match="unusable component"):
        check_path(path)


def test_the_empty_path_is_refused() -> None:
    assert path_problem("") == "the path is empty"
    with pytest.raises(UnsafePath, match="empty"):
        check_path("")


@pytest.mark.parametrize(
    ("path", "root", "below"),
    [
        ("lynq/a", "lynq", True),
        ("lynq/a/b", "lynq/", True),
        ("lynq", "lynq", False),
        ("lynqx/a", "lynq", False),
        ("other/lynq/a", "lynq", False),
        ("deep/lynq/a", "deep/lynq", True),
    ],
)
def test_is_below_means_strictly_inside(path: str, root: str, below: bool) -> None:
    assert is_below(path, root) is below


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("acme", '"acme"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("a\nb", '"a\\nb"'),
        ("a\r\tb", '"a\\r\\tb"'),
        ("nul\0", '"nul\\u0000"'),
        ("del\x7f", '"del\\u007f"'),
        ("c1\x85", '"c1\\u0085"'),
        ("ls\u2028ps\u2029", '"ls\\u2028ps\\u2029"'),
        ("bom\ufeff", '"bom\\ufeff"'),
        ("lone\ud800", '"lone\\ud800"'),
        ("café ✓", '"café ✓"'),
    ],
)
def test_quote_shows_a_value_on_one_line(value: str, shown: str) -> None:
    assert quote(value) == shown


def test_quote_truncates_long_values_and_says_how_much_was_left_out() -> None:
    shown = quote("x" * 10_000_000, limit=5)
    assert shown == '"xxxxx…(+9999995 characters)"'
    assert quote("x" * 5, limit=5) == '"xxxxx"'
    assert quote("x" * 6, limit=5) == '"xxxxx…(+1 characters)"'


def test_one_line_escapes_controls_but_keeps_quotes() -> None:
    assert one_line('row "a"\nforged: yes\r\0') == 'row "a"\\nforged: yes\\r\\u0000'


def test_one_line_truncates_long_messages() -> None:
    assert one_line("y" * 30, limit=10) == "yyyyyyyyyy…(+20 characters)"
    assert one_line("y" * 10, limit=10) == "y" * 10


def test_is_below_a_root_ending_in_a_capital_x() -> None:
    assert is_below("X/a", "X") and not is_below("XY/a", "X")
