"""The manifest YAML emitter: exact output, key order, and round trips through PyYAML."""

from __future__ import annotations

import enum
import math
import random
from collections import OrderedDict
from types import MappingProxyType
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from lynq_bridge.core import yamltext
from lynq_bridge.core.yamltext import dump_document, dump_manifest, string_problem


def same(a: Any, b: Any) -> bool:
    """Equal including types (1 != 1.0 != True) and float signs; NaN equals NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return bool(a == b)


def loads_back(data: dict[str, Any], text: str) -> bool:
    """``text`` loads as ``data`` with PyYAML's pure-Python scanner and with libyaml's (the C
    library that go-yaml was ported from, so it shares go-yaml's scanning rules)."""
    return same(yaml.safe_load(text), data) and same(yaml.load(text, yaml.CSafeLoader), data)


SPECIAL_WORDS = [
    "y", "n", "yes", "no", "true", "false", "on", "off", "null", "nan", "inf", "infinity",
]  # fmt: skip
SPECIAL_SPELLINGS = sorted(
    {f(w) for w in SPECIAL_WORDS for f in (str.lower, str.upper, str.title, str.swapcase)}
    | {"yEs", "nO", "tRUE", "fAlSe", "oN", "oFF", "nULL", "NuLl"}
)
YAML_NON_STRINGS = [
    "", "~", "<<", "=", ".inf", "-.inf", "+.inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN",
    "0", "1", "-1", "+1", "007", "0755", "1.0", "1.", "-1.5", "+1.5", ".5", "-.5", "0.", "00",
    "1e3", "1E3", "1e+3", "1e-3", "1.0e+3", "1.5E-07", "6.8523015e+5", "685.230_15e+03",
    "0x1F", "0X1f", "0x_1F", "-0x1F", "0o17", "0O17", "0b101", "-0b101", "1_000", "1_000.5",
    "1:20", "1:20:30", "-1:20", "190:20:30.15", "12:30", "1,000",
    "2001-12-14", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "2002-1-1",
    "2001-12-14T21:59:43Z", "1.2.3", "10Gi", "250m", "3s",
]  # fmt: skip
INDICATORS_AND_SPACES = [
    " ", "  ", " a", "a ", "a  b", "\ta", "a\t", "a\tb", " a b ",
    "- a", "-a", "-", "--", "---", "...", "? a", "?a", "?", ": a", ":a", ":", "a:", "a::",
    "a: b", "a:b", "a :b", "a #b", "a#b", "#a", "&a", "*a", "!a", "!!str", "|", "|a", ">", ">a",
    "'a", "a'", "'", '"a', 'a"', '"', "%a", "%YAML 1.2", "@a", "`a", "{a}", "[a]", "a,b", "a]",
    "a}", "{", "}", "[", "]", ",", "\\", "a\\b", "\\n", "/", "/a", "//a", "a/b",
    "http://example.com/x?y=1#z", "a - b", "a -b",
]  # fmt: skip
UNICODE = [
    "é", "café", "日本語", "😀", "a😀b", "\u2028", "a\u2028b", "\u2029", "\x85", "a\x85b",
    "\ufeff", "\ufeffa", "\x00", "\x07", "\x1b", "\x7f", "\x9f", "\xa0", "a\xa0", "\ufffe",
    "\uffff", "\ue000", "\U0010ffff", "\U0001f600\n\U0001f600",
]  # fmt: skip
MULTILINE = [
    "\r", "a\rb", "a\r\nb", "\n", "\n\n", "\n\n\n", "a\n", "a\nb", "a\nb\n", "a\nb\n\n",
    "\na", "\na\n", "\n a", " a\nb", "  a\n b\n", "a\n \nb", "a\n  ", "a \nb", "a\n\t\nb",
    "\ta\nb", "\t\ta\n", "a\n\tb", "a\n\nb", "a\n\n\nb\n", "#x\ny", "---\nx", "a\n---\nb",
    "a\n...\n", "x: y\nz", "- a\n- b\n", "a\tb\nc", "a\n\u2028", "a\nb\x00", "a\nb\ufeff",
    " \na", "  \n  \n", "a\n\x85", "key: |\n  x\n", '"q"\n\'q\'\n', "a\n     b\n",
]  # fmt: skip
TRICKY = SPECIAL_SPELLINGS + YAML_NON_STRINGS + INDICATORS_AND_SPACES + UNICODE + MULTILINE
# What kustomize cannot carry (string_problem) the emitter refuses; everything else it writes.
REFUSED = [t for t in TRICKY if string_problem(t)]
CARRIED = [t for t in TRICKY if not string_problem(t)]


@pytest.mark.parametrize("text", CARRIED)
def test_tricky_string_loads_back_as_the_same_string(text: str) -> None:
    data = {
        "value": text,
        "nested": {"list": [text, [text], {"deeper": text}], "after": "x"},
        "last": text,
    }
    assert loads_back(data, dump_document(data))


@pytest.mark.parametrize("text", CARRIED)
def test_tricky_string_as_key_loads_back(text: str) -> None:
    data = {text: 1, "k": {text: [text], "z": text}}
    assert loads_back(data, dump_document(data))


def test_refused_strings_are_those_kustomize_cannot_carry() -> None:
    assert sorted(REFUSED) == sorted(
        ["\x7f", "\x9f", "\ufffe", "\uffff", "\x85", "a\x85b", "\ta\nb", "\t\ta\n", "a\n\x85"]
    )


@pytest.mark.parametrize("text", REFUSED)
@pytest.mark.parametrize("place", ["value", "key", "item"])
def test_refused_string_is_never_written(text: str, place: str) -> None:
    data: dict[str, Any] = {"value": {"k": text}, "key": {text: 1}, "item": {"k": ["a", text]}}
    with pytest.raises(yamltext.UnusableValue):
        dump_document(data[place])


def test_string_longer_than_any_object_is_refused_before_it_is_escaped() -> None:
    with pytest.raises(yamltext.UnusableValue, match=r"larger than the 1\.5 MiB"):
        dump_document({"k": "\x00" * (1_572_864 + 1)})
    assert dump_document({"k": "a" * 1_572_864}).startswith("k: aaa")


@pytest.mark.parametrize("word", SPECIAL_SPELLINGS + YAML_NON_STRINGS)
def test_words_and_numbers_are_quoted(word: str) -> None:
    assert dump_document({"k": word}) == f'k: "{word}"\n'


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("nginx:1.25", "nginx:1.25"),
        ("registry.example.com/acme/web:1.25.3", "registry.example.com/acme/web:1.25.3"),
        ("/healthz", "/healthz"),
        ("app.kubernetes.io/name", "app.kubernetes.io/name"),
        ("user@example.com", "user@example.com"),
        ("a+b-c_d", "a+b-c_d"),
        ("http://example.com/x", "http://example.com/x"),
        ("Hello world from acme", "Hello world from acme"),
        ("yesterday", "yesterday"),
        ("nullable", "nullable"),
        ("a:b", "a:b"),
        ("a::b", "a::b"),
        ("", '""'),
        ("a  b", '"a  b"'),
        ("a ", '"a "'),
        ("a:", '"a:"'),
        ("a: b", '"a: b"'),
        ("a #b", '"a #b"'),
        ("-a", '"-a"'),
        ("éa", '"éa"'),
        ("😀", '"😀"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("a\\b", '"a\\\\b"'),
        ("a\tb", '"a\\tb"'),
        ("a\rb", '"a\\rb"'),
        ("\x00\x07\x1b", '"\\x00\\x07\\x1B"'),
        ("\u2028\u2029\ufeff", '"\\u2028\\u2029\\uFEFF"'),
        ("\xa0\U0010ffff", '"\xa0\U0010ffff"'),
    ],
)
def test_string_rendering(text: str, rendered: str) -> None:
    assert dump_document({"k": text}) == f"k: {rendered}\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\nb\n", "k: |\n  a\n  b\n"),
        ("a\nb", "k: |-\n  a\n  b\n"),
        ("a\n", "k: |\n  a\n"),
        ("a\n\nb\n", "k: |\n  a\n\n  b\n"),
        (" a\nb", "k: |2-\n   a\n  b\n"),
        ("  a\n b\n", "k: |2\n    a\n   b\n"),
        ("\na", "k: |2-\n\n  a\n"),
        ("a\n\tb", "k: |-\n  a\n  \tb\n"),
        ("#x\n---\n...\n", "k: |\n  #x\n  ---\n  ...\n"),
        ("a\nb\n\n", 'k: "a\\nb\\n\\n"\n'),
        ("a \nb", 'k: "a \\nb"\n'),
        ("a\n  \nb", 'k: "a\\n  \\nb"\n'),
        ("a\n\t", 'k: "a\\n\\t"\n'),
        ("a\r\nb", 'k: "a\\r\\nb"\n'),
        ("a\n\u2028", 'k: "a\\n\\u2028"\n'),
        ("\n", 'k: "\\n"\n'),
        ("\n\n", 'k: "\\n\\n"\n'),
    ],
)
def test_multiline_strings_use_literal_blocks_when_safe(text: str, expected: str) -> None:
    assert dump_document({"k": text}) == expected


def test_literal_blocks_indent_under_their_parent_in_sequences() -> None:
    data = {"k": [" a\nb\n", ["x\ny"], {"m": "p\nq\n"}]}
    assert dump_document(data) == (
        "k:\n- |2\n   a\n  b\n- - |-\n    x\n    y\n- m: |\n    p\n    q\n"
    )
    assert loads_back(data, dump_document(data))


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-7, "-7"),
        (2**64, "18446744073709551616"),
        (1.0, "1.0"),
        (-0.0, "-0.0"),
        (0.1, "0.1"),
        (1e20, "1.0e+20"),
        (1e16, "1.0e+16"),
        (1.5e-07, "1.5e-07"),
        (5e-324, "5.0e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (math.inf, ".inf"),
        (-math.inf, "-.inf"),
        (math.nan, ".nan"),
        ({}, "{}"),
        ([], "[]"),
    ],
)
def test_non_string_scalars_and_empty_collections(value: Any, rendered: str) -> None:
    text = dump_document({"k": value, "l": [value]})
    assert text == f"k: {rendered}\nl:\n- {rendered}\n"
    assert loads_back({"k": value, "l": [value]}, text)


def test_manifest_puts_api_version_kind_metadata_first_then_sorts() -> None:
    obj = {
        "type": "Opaque",
        "stringData": {"b": "2", "a": "1"},
        "metadata": {"name": "s", "namespace": "ns"},
        "kind": "Secret",
        "apiVersion": "v1",
        "data": {},
    }
    assert dump_manifest(obj) == (
        "apiVersion: v1\n"
        "kind: Secret\n"
        "metadata:\n"
        "  name: s\n"
        "  namespace: ns\n"
        "data: {}\n"
        "stringData:\n"
        '  a: "1"\n'
        '  b: "2"\n'
        "type: Opaque\n"
    )


def test_manifest_orders_metadata_name_namespace_labels_annotations_then_sorted() -> None:
    obj = {
        "metadata": {
            "uid": "u",
            "annotations": {"z": "1", "a": "2"},
            "finalizers": ["f"],
            "labels": {"b": "x", "a": "y"},
            "generateName": "g-",
            "namespace": "ns",
            "name": "app",
        },
        "spec": {"template": {"metadata": {"name": "t", "labels": {"a": "b"}}}},
    }
    assert dump_manifest(obj) == (
        "metadata:\n"
        "  name: app\n"
        "  namespace: ns\n"
        "  labels:\n"
        '    a: "y"\n'
        "    b: x\n"
        "  annotations:\n"
        '    a: "2"\n'
        '    z: "1"\n'
        "  finalizers:\n"
        "  - f\n"
        "  generateName: g-\n"
        "  uid: u\n"
        "spec:\n"
        "  template:\n"
        "    metadata:\n"
        "      labels:\n"
        "        a: b\n"
        "      name: t\n"
    )


def test_manifest_without_metadata_mapping_is_still_ordered() -> None:
    assert dump_manifest({"metadata": {}, "kind": "K", "a": 1}) == "kind: K\nmetadata: {}\na: 1\n"
    assert dump_manifest({"metadata": None, "apiVersion": "v"}) == "apiVersion: v\nmetadata: null\n"


def test_document_sorts_every_key() -> None:
    obj = {
        "resources": ["b.yaml", "a.yaml"],
        "metadata": {"name": "x", "annotations": {"k": "v"}},
        "kind": "Kustomization",
        "apiVersion": "v1",
    }
    assert dump_document(obj) == (
        "apiVersion: v1\n"
        "kind: Kustomization\n"
        "metadata:\n"
        "  annotations:\n"
        "    k: v\n"
        "  name: x\n"
        "resources:\n"
        "- b.yaml\n"
        "- a.yaml\n"
    )


def test_nested_lists_of_maps() -> None:
    data = {
        "spec": {
            "rules": [
                {"host": "a.example.com", "http": {"paths": [{"path": "/", "port": 80}]}},
                {"matrix": [[1, 2], [], [{"x": None}, {}]]},
            ]
        }
    }
    assert dump_document(data) == (
        "spec:\n"
        "  rules:\n"
        "  - host: a.example.com\n"
        "    http:\n"
        "      paths:\n"
        "      - path: /\n"
        "        port: 80\n"
        "  - matrix:\n"
        "    - - 1\n"
        "      - 2\n"
        "    - []\n"
        "    - - x: null\n"
        "      - {}\n"
    )
    assert loads_back(data, dump_document(data))


DEPLOYMENT: dict[str, Any] = {
    "kind": "Deployment",
    "spec": {
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": "ghcr.io/acme/web:1.25.3",
                        "command": ["/bin/sh", "-c", "set -e\nexec web --port 8080\n"],
                        "env": [
                            {"name": "TENANT", "value": "acme"},
                            {"name": "ENABLED", "value": "yes"},
                            {"name": "SEATS", "value": "250"},
                            {"name": "EMPTY", "value": ""},
                        ],
                        "ports": [{"containerPort": 8080, "name": "http"}],
                        "resources": {"limits": {"cpu": "500m", "memory": "512Mi"}},
                    }
                ],
                "terminationGracePeriodSeconds": 30.0,
            },
            "metadata": {"labels": {"app": "web"}},
        },
        "selector": {"matchLabels": {"app": "web"}},
        "replicas": 2,
        "paused": False,
    },
    "metadata": {
        "annotations": {"lynq.sh/deletion-policy": "Delete"},
        "labels": {"lynq.sh/uid": "acme", "lynq.sh/hub": "tenants", "app": "web"},
        "namespace": "tenant-acme",
        "name": "acme-web",
    },
    "apiVersion": "apps/v1",
}

DEPLOYMENT_YAML = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: acme-web
  namespace: tenant-acme
  labels:
    app: web
    lynq.sh/hub: tenants
    lynq.sh/uid: acme
  annotations:
    lynq.sh/deletion-policy: Delete
spec:
  paused: false
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - command:
        - /bin/sh
        - "-c"
        - |
          set -e
          exec web --port 8080
        env:
        - name: TENANT
          value: acme
        - name: ENABLED
          value: "yes"
        - name: SEATS
          value: "250"
        - name: EMPTY
          value: ""
        image: ghcr.io/acme/web:1.25.3
        name: web
        ports:
        - containerPort: 8080
          name: http
        resources:
          limits:
            cpu: "500m"
            memory: "512Mi"
      terminationGracePeriodSeconds: 30.0
"""


def test_deployment_golden_output() -> None:
    assert dump_manifest(DEPLOYMENT) == DEPLOYMENT_YAML
    assert loads_back(DEPLOYMENT, DEPLOYMENT_YAML)


def reinsert(value: Any, rng: random.Random) -> Any:
    """The same data with every mapping's insertion order shuffled."""
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {k: reinsert(value[k], rng) for k in keys}
    if isinstance(value, list):
        return [reinsert(v, rng) for v in value]
    return value


def test_bytes_do_not_depend_on_insertion_order() -> None:
    rng = random.Random(7)
    for _ in range(20):
        shuffled = reinsert(DEPLOYMENT, rng)
        assert dump_manifest(shuffled) == DEPLOYMENT_YAML


def test_long_keys_use_explicit_key_form() -> None:
    long_key = "k" * 1200
    data = {
        long_key: "v",
        "a" + long_key: {"x": 1},
        "b" + long_key: [1, {"y": "z"}],
        "c" + long_key: "p\nq\n",
        "d" + long_key: [],
        "list": [{long_key: None, "e": 1}],
    }
    text = dump_document(data)
    assert f"? {long_key}\n: v\n" in text
    assert loads_back(data, text)


class Colour(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


def test_other_mappings_tuples_and_enum_members_are_written_as_plain_values() -> None:
    data = MappingProxyType(
        {"t": ("a", 1), "o": OrderedDict(b=Colour.RED, a=Level.HIGH), Colour.RED: [Level.HIGH]}
    )
    assert dump_document(data) == "o:\n  a: 3\n  b: red\nred:\n- 3\nt:\n- a\n- 1\n"
    assert dump_manifest(data) == dump_document(data)


@pytest.mark.parametrize(
    "value", [b"bytes", {1, 2}, object(), 1j, yaml, float, range(2), bytearray(b"x")]
)
def test_values_that_are_not_json_like_raise_type_error(value: Any) -> None:
    with pytest.raises(TypeError, match="cannot write a value of type"):
        dump_document({"k": {"n": [value]}})
    with pytest.raises(TypeError, match="cannot write a value of type"):
        dump_manifest({"k": value})


@pytest.mark.parametrize("key", [1, None, True, 1.5, ("a",), b"k"])
def test_keys_that_are_not_strings_raise_type_error(key: Any) -> None:
    with pytest.raises(TypeError, match="keys must be strings"):
        dump_document({"a": {key: 1}})


@pytest.mark.parametrize("root", [[], "a", None, 1])
def test_documents_must_be_mappings(root: Any) -> None:
    with pytest.raises(TypeError, match="must be a mapping"):
        dump_manifest(root)
    with pytest.raises(TypeError, match="must be a mapping"):
        dump_document(root)


def test_empty_document_is_an_empty_mapping() -> None:
    assert dump_manifest({}) == "{}\n"
    assert dump_document({}) == "{}\n"
    assert yaml.safe_load(dump_document({})) == {}


def test_lone_surrogate_is_rejected() -> None:
    with pytest.raises(ValueError, match="surrogate"):
        dump_document({"k": "a\ud800"})


def test_output_does_not_depend_on_the_string_cache(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = dump_document({"k": CARRIED, "m": dict.fromkeys(CARRIED, 1)})
    monkeypatch.setattr(yamltext, "_CACHE_MAX_ENTRIES", 3)
    monkeypatch.setattr(yamltext, "_str_cache", {})
    monkeypatch.setattr(yamltext, "_key_cache", {})
    assert dump_document({"k": CARRIED, "m": dict.fromkeys(CARRIED, 1)}) == expected
    assert len(yamltext._str_cache) <= 3
    assert len(yamltext._key_cache) <= 3


# Text biased towards the characters that matter to YAML, mixed with arbitrary Unicode.
yaml_text = st.one_of(
    st.text(),
    st.sampled_from(CARRIED),
    st.text(alphabet=" \n\t\r:#-?!&*|>'\"%@`{}[],.0123456789eExXoOyYnN_+~/\\\u2028\ufeffé😀"),
).filter(lambda text: string_problem(text) is None)
json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | yaml_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(yaml_text, children, max_size=4)
    ),
    max_leaves=25,
)
documents = st.dictionaries(yaml_text, json_like, max_size=6)


@settings(max_examples=300, deadline=None, database=None)
@given(documents)
def test_random_documents_load_back_identically(data: dict[str, Any]) -> None:
    text = dump_document(data)
    assert loads_back(data, text)
    assert text.endswith("\n")
    assert not text.endswith("\n\n")
    assert not text.startswith("---")
    assert not any(line.endswith((" ", "\t")) for line in text.split("\n"))


@settings(max_examples=100, deadline=None, database=None)
@given(documents, st.randoms(use_true_random=False))
def test_random_manifests_do_not_depend_on_insertion_order(
    data: dict[str, Any], rng: random.Random
) -> None:
    data = {"metadata": {"labels": data, **data}, "kind": "K", **data}
    text = dump_manifest(data)
    assert dump_manifest(reinsert(data, rng)) == text
    assert dump_document(reinsert(data, rng)) == dump_document(data)
