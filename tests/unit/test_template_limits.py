"""Resource limits of templates: nothing runs at compile time, regexes are linear (RE2), no
operation grows a value without bound, an object fits the API server, a node has a deadline,
memory stays proportional to a large value, and strictSecrets sees the rendered kind."""

from __future__ import annotations

import itertools
import time
import tracemalloc
from collections.abc import Callable

import pytest
import targets_fixture as fixture
import yaml
from targets_fixture import HUB, rows

from lynq_bridge.config.models import LynqForm
from lynq_bridge.core import functions, limits
from lynq_bridge.core.forms import CompiledForm, compile_form
from lynq_bridge.core.planning import DeletionGuard, plan_hub
from lynq_bridge.core.rendering import HubRender, render_hub, render_node
from lynq_bridge.core.templating import TemplateEngine, TemplateError
from renderers import target_for

TARGET = target_for(fixture.bridge_spec("plain"))
CATASTROPHIC = '{{ "' + "a" * 50 + '!" | regexMatch("(a+)+$") }}'


@pytest.fixture(scope="module")
def engine() -> TemplateEngine:
    return TemplateEngine()


def render(engine: TemplateEngine, source: str, **variables: object) -> str:
    return engine.compile(source).render(variables)


def form(resources: str, *, strict_secrets: bool = False) -> CompiledForm:
    text = f"""
apiVersion: operator.lynq.sh/v1
kind: LynqForm
metadata: {{name: web, namespace: apps}}
spec:
  hubId: tenants
{resources}
"""
    compiled, problems, _ = compile_form(
        LynqForm.model_validate(yaml.safe_load(text)),
        engine=TemplateEngine(),
        strict_secrets=strict_secrets,
    )
    assert compiled is not None, problems
    return compiled


CONFIG_MAP = """
  configMaps:
    - id: settings
      nameTemplate: "{{ uid }}-settings"
      spec:
        apiVersion: v1
        kind: ConfigMap
        data: {plan: "{{ plan }}"}
"""


def render_plan(compiled: CompiledForm, value: str) -> tuple[HubRender, dict[str, bytes]]:
    render_ = render_hub(HUB, [compiled], rows([("acme", "1", "", value, "")]), TARGET)
    plan = plan_hub(HUB, render_, {}, previous_nodes={}, guard=DeletionGuard(25), target=TARGET)
    return render_, plan.writes


# --- compiling evaluates nothing ------------------------------------------------------------


def test_compiling_never_calls_a_filter(engine: TemplateEngine) -> None:
    calls: list[object] = []
    environment = TemplateEngine()._environment
    environment.filters["spy"] = lambda value: calls.append(value) or value
    engine_ = TemplateEngine()
    engine_._environment = environment
    compiled = engine_.compile('{{ "constant" | spy }}')
    assert calls == []
    assert compiled.render({}) == "constant"
    assert calls == ["constant"]


def test_a_catastrophic_constant_regex_compiles_and_renders_instantly(
    engine: TemplateEngine,
) -> None:
    started = time.perf_counter()
    compiled = engine.compile(CATASTROPHIC)
    assert compiled.render({}) == "false"
    assert time.perf_counter() - started < 0.5


def test_a_huge_constant_repetition_compiles_instantly_and_fails_to_render() -> None:
    started = time.perf_counter()
    compiled = TemplateEngine().compile('{{ "x" * 10**12 }}')
    assert time.perf_counter() - started < 0.5
    with pytest.raises(TemplateError, match=r'"\*" would make a value of 1,000,000,000,000'):
        compiled.render({})


# --- regular expressions run on RE2 ---------------------------------------------------------


def test_nested_quantifiers_match_in_linear_time() -> None:
    started = time.perf_counter()
    assert functions.regex_match("a" * 50 + "!", "(a+)+$") is False
    assert functions.regex_replace_all("a" * 50 + "!", "(a+)+$", "x") == "a" * 50 + "!"
    assert time.perf_counter() - started < 0.1


@pytest.mark.parametrize(
    ("value", "pattern", "expected"),
    [
        ("\u0663", r"\d", False),  # Go's \d is ASCII only
        ("abc\n", "abc$", False),  # Go's $ is the end of the text, not before a final newline
        ("ABC", "(?i)abc", True),
        ("é", "^.$", True),  # "." is one character, not one byte
    ],
)
def test_regexes_follow_go_semantics(value: str, pattern: str, expected: bool) -> None:
    assert functions.regex_match(value, pattern) is expected


@pytest.mark.parametrize("pattern", ["(", r"(a)\1", "(?=x)", "a{1001}"])
def test_an_invalid_pattern_is_a_render_error_naming_it(
    engine: TemplateEngine, pattern: str
) -> None:
    source = "{{ uid | regexMatch(p) }}"
    with pytest.raises(TemplateError, match="invalid regular expression") as raised:
        render(engine, source, uid="x", p=pattern)
    assert functions.quote(pattern) in str(raised.value)


def test_go_replacement_syntax_still_expands(engine: TemplateEngine) -> None:
    source = '{{ v | regexReplaceAll("(?P<user>\\\\w+)@(\\\\w+)", "${user} at $2 $$") }}'
    assert render(engine, source, v="ann@example") == "ann at example $"


# --- no operation grows a value without bound -----------------------------------------------

GROWING = [
    ('{{ "x" * 10**9 }}', '"*"'),
    ("{{ 10**9 * 'x' }}", '"*"'),
    ("{{ [1, 2] * 10**9 }}", '"*"'),
    ('{{ "%999999999s" % "x" }}', "% format width"),
    ('{{ "%*s" % (10**9, "x") }}', '"\\*" width'),
    ('{{ "%s" | format("x") }}{{ "%.999999999d" | format(1) }}', "% format width"),
    ('{{ "{:>999999999}".format("x") }}', '"format" width'),
    ('{{ "{:{w}}".format("x", w=10**9) }}', "nested field"),
    ('{{ "x" | center(10**9) }}', 'filter "center"'),
    ('{{ "x".ljust(10**9) }}', 'calling "ljust"'),
    ('{{ "x".zfill(10**9) }}', 'calling "zfill"'),
    ('{{ ("\\t" * 1000).expandtabs(10**6) }}', 'calling "expandtabs"'),
    ('{{ ("a" * 1000).replace("a", "b" * 10**4) }}', 'calling "replace"'),
    ('{{ ("b" * 10**4).join("a" * 1000) }}', 'calling "join"'),
    ('{{ ("a" * 1000) | replace("a", "b" * 10**4) }}', '"replace"'),
    ('{{ ("a" * 1000) | regexReplaceAll("a", "b" * 10**4) }}', '"regexReplaceAll"'),
    ("{{ ('a\\n' * 1000) | indent(10**6) }}", 'filter "indent"'),
    ("{{ ('a ' * 10**5) | wordwrap(1, wrapstring='x' * 100) }}", 'filter "wordwrap"'),
    ("{{ [1, 2, 3] | join('x' * 10**6) }}", 'filter "join"'),
    ("{{ [1] | batch(10**9, 0) | list }}", 'filter "batch"'),
    ("{{ [1] | slice(10**9) | list }}", 'filter "slice"'),
    ("{% set x = 'ab' %}" + "{% set x = x ~ x %}" * 30 + "{{ x }}", '"~"'),
    (
        "{% set ns = namespace(x='ab') %}{% for i in range(40) %}"
        "{% set ns.x = ns.x + ns.x %}{% endfor %}{{ ns.x }}",
        '"\\+"',
    ),
    ("{% macro f(s) %}{{ s }}{{ s }}{% endmacro %}{{ f(f(f(f(f('a' * 10**5))))) }}", "Macro"),
    ('{{ ("&" * 10**6) | e }}', 'filter "e"'),
    ("{{ 10 ** (10 ** 10) }}", '"\\*\\*" would make an integer'),
    ("{% set x = 2 ** 60000 %}{{ x * x > 0 }}", '"\\*" would make an integer'),
    ("{{ range(10**9) | length }}", "Range too big"),
]


@pytest.mark.parametrize(("source", "message"), GROWING)
def test_an_operation_that_would_grow_a_value_too_much_is_a_render_error(
    engine: TemplateEngine, source: str, message: str
) -> None:
    compiled = engine.compile(source)
    started = time.perf_counter()
    with pytest.raises(TemplateError, match=message):
        compiled.render({})
    assert time.perf_counter() - started < 2


def test_a_value_larger_than_the_limit_still_passes_through_operations(
    engine: TemplateEngine,
) -> None:
    big = "a" * (limits.MAX_RESULT * 2)
    source = "{{ ('<' ~ v ~ '>') | upper | replace('A', 'b') | trim | regexReplaceAll('^<', '(') }}"
    assert render(engine, source, v=big) == "(" + "b" * len(big) + ">"


def test_growth_up_to_the_limit_is_allowed(engine: TemplateEngine) -> None:
    assert len(render(engine, '{{ "x" * n }}', n=limits.MAX_RESULT)) == limits.MAX_RESULT
    assert len(render(engine, "{{ 'x' | center(n) }}", n=limits.MAX_RESULT)) == limits.MAX_RESULT


# --- a rendered object fits the API server --------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a" * 2_200_000, "is at least 2.1 MiB, larger than the 1.5 MiB the Kubernetes API"),
        # fewer characters than the limit, more UTF-8 bytes: found after serialising
        ("é" * 1_000_000, "is 1.9 MiB, larger than the 1.5 MiB the Kubernetes API accepts"),
    ],
)
def test_an_object_larger_than_the_api_server_accepts_is_a_per_resource_error(
    value: str, message: str
) -> None:
    render_, writes = render_plan(form(CONFIG_MAP), value)
    (node,) = render_.nodes.values()
    assert message in node.failed["settings"]
    assert 'failed to render resource "settings" of node acme-web' in node.failed["settings"]
    assert not [path for path in writes if "ConfigMap" in path]


def test_an_object_just_under_the_limit_is_written() -> None:
    render_, _ = render_plan(form(CONFIG_MAP), "a" * (limits.MAX_OBJECT_BYTES - 300))
    (node,) = render_.nodes.values()
    assert node.failed == {}
    assert len(node.children[0].content) <= limits.MAX_OBJECT_BYTES


# --- render time per node -------------------------------------------------------------------

THREE = """
  configMaps:
    - id: slow
      nameTemplate: "{{ uid }}-slow"
      spec:
        apiVersion: v1
        kind: ConfigMap
        data: {x: "{% for i in range(100000) %}{% for j in range(100) %}{% endfor %}{% endfor %}"}
    - id: second
      nameTemplate: "{{ uid }}-second"
      spec: {apiVersion: v1, kind: ConfigMap, data: {x: "{{ plan }}"}}
    - id: third
      nameTemplate: "{{ uid }}-third"
      spec: {apiVersion: v1, kind: ConfigMap, data: {x: "{{ plan | upper }}"}}
"""


def ticking_clock() -> Callable[[], float]:
    """A fake clock that advances one second every time it is read."""
    ticks = itertools.count()
    return lambda: float(next(ticks))


def test_a_node_past_its_deadline_fails_its_remaining_resources() -> None:
    (row,) = rows([("acme", "1", "", "pro", "")])
    node = render_node(HUB, form(THREE), row, TARGET, clock=ticking_clock())
    assert set(node.failed) == {"slow", "second", "third"}
    for message in node.failed.values():
        assert "rendering the node took longer than 2 s" in message
    assert node.timed_out
    assert node.children == []


def test_without_a_clock_time_is_not_limited() -> None:
    (row,) = rows([("acme", "1", "", "pro", "")])
    node = render_node(HUB, form(THREE.replace("range(100000)", "range(10)")), row, TARGET)
    assert node.failed == {}
    assert len(node.children) == 3


def test_each_node_gets_its_own_deadline() -> None:
    # The clock reads 100 s once the first node (uid order: acme) has started, then 0 again.
    readings = iter([0.0, 100.0, 100.0])
    records = [("acme", "1", "", "pro", ""), ("beta", "1", "", "pro", "")]
    render_ = render_hub(
        HUB,
        [form(CONFIG_MAP)],
        rows(records),
        TARGET,
        clock=lambda: next(readings, 0.0),
    )
    acme, beta = render_.nodes["acme-web"], render_.nodes["beta-web"]
    assert "rendering the node took longer than 2 s" in acme.failed["settings"]
    assert beta.failed == {} and len(beta.children) == 1
    assert acme.timed_out and not beta.timed_out


# --- memory stays proportional to a large value ---------------------------------------------


def peak_of(action: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        action()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("size", "accepted"), [(1_000_000, True), (5_000_000, False), (10_000_000, False)]
)
@pytest.mark.parametrize("shape", ["a", "key = value of a config line, 40 chars\n"])
def test_memory_of_a_large_value_stays_within_a_small_multiple_of_its_size(
    size: int, accepted: bool, shape: str
) -> None:
    compiled = form(CONFIG_MAP)
    value = shape * (size // len(shape))
    outcome: list[HubRender] = []
    peak = peak_of(lambda: outcome.append(render_plan(compiled, value)[0]))
    (node,) = outcome[0].nodes.values()
    assert (node.failed == {}) is accepted
    assert peak < 10 * size, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.0f} MB value"


# --- strictSecrets sees the rendered kind ---------------------------------------------------

TEMPLATED_SECRET = """
  secrets:
    - id: creds
      nameTemplate: "{{ uid }}-creds"
      spec:
        apiVersion: v1
        kind: "{{ 'Sec' ~ 'ret' }}"
        stringData: {password: "{{ plan }}"}
"""


def test_strict_secrets_refuses_a_kind_that_renders_to_secret() -> None:
    render_, _ = render_plan(form(TEMPLATED_SECRET, strict_secrets=True), "hunter2")
    (node,) = render_.nodes.values()
    assert "Secret with literal data" in node.failed["creds"]
    assert "strictSecrets" in node.failed["creds"]
    assert node.children == []


def test_without_strict_secrets_a_templated_secret_renders() -> None:
    render_, _ = render_plan(form(TEMPLATED_SECRET), "hunter2")
    (node,) = render_.nodes.values()
    assert node.failed == {}
    assert b"kind: Secret" in node.children[0].content


def test_a_regex_replacement_with_many_matches_looks_at_the_deadline() -> None:
    deadline = limits.Deadline(ticking_clock())
    with (
        limits.active_deadline(deadline),
        pytest.raises(limits.LimitExceeded, match="took longer than 2 s"),
    ):
        functions.regex_replace_all("b" * 10_000, "b", "c")


def test_a_loop_without_calls_looks_at_the_deadline(engine: TemplateEngine) -> None:
    compiled = engine.compile("{% for a in s %}{% endfor %}")  # one call, 10,000 iterations
    deadline = limits.Deadline(ticking_clock())
    with (
        limits.active_deadline(deadline),
        pytest.raises(TemplateError, match="took longer than 2 s"),
    ):
        compiled.render({"s": "x" * 10_000})
