"""Lynq's metric catalogue, as data, and the PromQL name extraction the metrics tests share.

``LYNQ_METRICS`` lists every metric Lynq's operator registers, with its type and label names,
as declared in internal/metrics/metrics.go of k8s-lynq/lynq at commit 7584aa26df6d
(Apache-2.0). These are facts about Lynq, copied as data; the tests check our scrape against
them. ``OMITTED`` are the ones the bridge does not export; docs/lynq.md says why for each.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from prometheus_client.metrics_core import Metric

ROOT = Path(__file__).resolve().parents[1]
MONITORING = ROOT / "examples" / "monitoring"

# name -> (type, label names), from internal/metrics/metrics.go (7584aa26df6d).
LYNQ_METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "lynqnode_reconcile_duration_seconds": ("histogram", ("result",)),
    "lynqnode_resources_ready": ("gauge", ("lynqnode", "namespace")),
    "lynqnode_resources_desired": ("gauge", ("lynqnode", "namespace")),
    "lynqnode_resources_failed": ("gauge", ("lynqnode", "namespace")),
    "hub_desired": ("gauge", ("hub", "namespace")),
    "hub_ready": ("gauge", ("hub", "namespace")),
    "hub_failed": ("gauge", ("hub", "namespace")),
    "apply_attempts_total": ("counter", ("kind", "result", "conflict_policy")),
    "lynqnode_condition_status": ("gauge", ("lynqnode", "namespace", "type")),
    "lynqnode_conflicts_total": (
        "counter",
        ("lynqnode", "namespace", "resource_kind", "conflict_policy"),
    ),
    "lynqnode_resources_conflicted": ("gauge", ("lynqnode", "namespace")),
    "lynqnode_degraded_status": ("gauge", ("lynqnode", "namespace", "reason")),
    "lynqform_rollout_updating_nodes": ("gauge", ("form", "namespace")),
    "lynqform_rollout_phase": ("gauge", ("form", "namespace")),
    "lynqform_rollout_progress": ("gauge", ("form", "namespace")),
}
# Lynq's help strings for the metrics we export (same file): a scrape reads the same.
LYNQ_HELP = {
    "lynqnode_resources_ready": "Number of ready resources for a LynqNode",
    "lynqnode_resources_desired": "Total number of desired resources for a LynqNode",
    "lynqnode_resources_failed": "Number of failed resources for a LynqNode",
    "hub_desired": "Number of desired LynqNodes from the hub data source",
    "hub_ready": "Number of ready LynqNodes for a hub",
    "hub_failed": "Number of failed LynqNodes for a hub",
    "lynqnode_condition_status": "Status of LynqNode conditions (0=False, 1=True, 2=Unknown)",
    "lynqnode_resources_conflicted": "Number of resources currently in conflict state for a "
    "LynqNode",
    "lynqnode_degraded_status": "Indicates if a LynqNode is in degraded state (1=degraded, "
    "0=not degraded)",
    "lynqform_rollout_updating_nodes": "Number of nodes currently being updated for a LynqForm "
    "(updated but not Ready yet)",
    "lynqform_rollout_phase": "Current rollout phase for a LynqForm (0=Idle, 1=InProgress, "
    "2=Failed, 3=Complete)",
    "lynqform_rollout_progress": "Rollout progress percentage for a LynqForm "
    "(readyUpdatedNodes/totalNodes * 100)",
}
OMITTED = frozenset(
    {
        "lynqnode_reconcile_duration_seconds",
        "apply_attempts_total",
        "lynqnode_conflicts_total",
    }
)
EXPORTED = frozenset(LYNQ_METRICS) - OMITTED

# PromQL words that are not metric names: functions are recognised by the "(" that follows.
KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
     "bool", "offset", "inf", "nan", "le"}
)  # fmt: skip
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_WORD = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads.

    Strings, label matchers ``{...}``, ranges ``[5m]`` and grouping label lists are cut out
    first; what remains are identifiers: a function when ``(`` follows, a keyword, a number's
    exponent or unit, or a metric name. Grafana variables (``$hub``) only occur in matchers.
    """
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for match in _WORD.finditer(text):
        word = match.group()
        before = text[match.start() - 1] if match.start() else " "
        if before.isdigit() or before in {".", "$"}:
            continue  # 1e3, 0.5, $__interval
        rest = text[match.end() :].lstrip()
        if rest.startswith("(") or word.lower() in KEYWORDS:
            continue
        names.add(word)
    return names


SUFFIXES = {  # the sample names a family of each type may expose in a text scrape
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
}


def scraped_names(families: Iterable[Metric]) -> set[str]:
    """Every name a PromQL expression can read from a scrape's families: the samples' names,
    and those a declared family exposes once it has a series (a labelled counter with none
    yet is still declared by its ``# TYPE`` line)."""
    names: set[str] = set()
    for family in families:
        names |= {s.name for s in family.samples}
        names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
    return names
