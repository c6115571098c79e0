"""Names: label values, qualified keys and node names at their exact limits."""

from __future__ import annotations

import pytest

from lynq_bridge.core.naming import (
    child_file_name,
    event_name,
    is_dns_subdomain,
    is_label_value,
    is_qualified_name,
    tracking_metadata,
    uid_problem,
)
from lynq_bridge.core.paths import MAX_COMPONENT


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


def test_invalid_node_name_message_names_the_rule_exactly() -> None:
    assert uid_problem("A", "web") == (
        'node name "A-web" is not a DNS-1123 subdomain (lowercase letters, digits, "-" and ".", '
        "each dot-separated part starting and ending with a letter or digit)"
    )


def test_event_name_of_a_253_character_object_uses_all_253_characters() -> None:
    token = "0123456789abcdef"
    name = event_name("a" * 253, token)
    assert name == "a" * 236 + "." + token
    assert len(name) == 253 and is_dns_subdomain(name)
    assert event_name("a" * 254, token) == name


def test_child_file_name_of_exactly_255_characters_is_kept_whole() -> None:
    name = "o" * (MAX_COMPONENT - len("configmap_ns_.yaml"))
    assert child_file_name("ConfigMap", "ns", name) == f"configmap_ns_{name}.yaml"
    assert len(child_file_name("ConfigMap", "ns", name)) == MAX_COMPONENT == 255
    longer = child_file_name("ConfigMap", "ns", name + "o")
    assert len(longer) == MAX_COMPONENT and "__" in longer


def test_tracking_metadata_skips_an_unusable_value_and_keeps_the_ones_after_it() -> None:
    long_node = "n" * 70
    labels, annotations = tracking_metadata(
        {"lynq.sh/uid": "a-", "lynq.sh/node": long_node, "lynq.sh/hub": "hub"}
    )
    assert labels == {"lynq.sh/node": labels["lynq.sh/node"], "lynq.sh/hub": "hub"}
    assert len(labels["lynq.sh/node"]) == 63
    assert annotations == {"lynq.sh/node": long_node}
