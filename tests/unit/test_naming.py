"""Names: label values, qualified keys and node names at their exact limits."""

from __future__ import annotations

import pytest

from lynq_bridge.core.naming import is_label_value, is_qualified_name, uid_problem


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("", True),  # an empty label value is allowed
        ("a" * 63, True),
        ("a" * 64, False),
        ("a-b_c.d", True),
        ("-a", False),
        ("a-", False),
        ("a b", False),
        ("a/b", False),
    ],
)
def test_label_value_rule_and_its_63_character_limit(value: str, valid: bool) -> None:
    assert is_label_value(value) is valid


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        ("app", True),
        ("example.com/app", True),
        ("lynq.sh/node", True),
        ("Example.com/app", False),  # the prefix is a DNS subdomain: lowercase
        ("exa_mple.com/app", False),
        ("/app", False),  # a "/" needs a prefix: the API server refuses an empty one
        ("a/b/c", False),
        ("example.com/", False),
        ("a" * 63, True),
        ("a" * 64, False),
    ],
)
def test_qualified_name_checks_prefix_and_name(key: str, valid: bool) -> None:
    assert is_qualified_name(key) is valid


def test_node_name_of_exactly_253_characters_is_allowed() -> None:
    assert uid_problem("a" * 249, "web") is None  # "aaa…a-web": 253 characters
    problem = uid_problem("a" * 250, "web")
    assert problem is not None and "longer than 253 characters" in problem


def test_empty_uid_is_refused_with_exactly_that_reason() -> None:
    assert uid_problem("", "web") == "the uid is empty"


def test_subdomain_limit_is_exactly_253_characters() -> None:
    from lynq_bridge.core.naming import is_dns_subdomain

    assert is_dns_subdomain("a" * 253)
    assert not is_dns_subdomain("a" * 254)


def test_invalid_node_name_of_253_characters_is_called_invalid_not_long() -> None:
    problem = uid_problem("A" * 249, "web")
    assert problem is not None and "is not a DNS-1123 subdomain" in problem
    assert "starting and ending with a letter or digit" in problem
