"""Checks of one rendered object before it is written: keys and values every consumer reads back.

The bridge's YAML is read by kustomize (go-yaml v3), by PyYAML and by YAML 1.2 parsers, and then
by the Kubernetes API as JSON. A value that any of them would read differently, refuse, or (for
annotation keys that kustomize writes plain) turn into a number is a per-resource render error
here, naming the field and, where a row value brought it in, the column; the hub's directory
then still builds. Pure: each check returns the problem as a sentence, or None.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from lynq_bridge.core import naming
from lynq_bridge.core.paths import quote
from lynq_bridge.core.yamltext import reads_as_non_string, string_problem

_INT64: Final = range(-(2**63), 2**63)


def key_problem(key: str, what: str) -> str | None:
    """Why a label or annotation key is unusable, or None: it must be a qualified name that
    every YAML reader takes as a string (kustomize writes annotation keys plain: "0" or "true"
    would stop the build)."""
    if not naming.is_qualified_name(key) or reads_as_non_string(key.rpartition("/")[2]):
        return (
            f"{what} key {quote(key)} is not a valid key (name or prefix/name, letters, digits, "
            '"-", "_", "." and not a number, boolean, null or date)'
        )
    return None


def number_problem(value: object) -> str | None:
    """Why a rendered number cannot be written (JSON as Kubernetes reads it carries neither
    NaN/infinity nor integers beyond 64 bits), or None; also None for anything else."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} is not a number JSON and Kubernetes can carry"
    if isinstance(value, int) and not isinstance(value, bool) and value not in _INT64:
        return f"{value} is outside the 64-bit integer range"
    return None


def unusable_field(manifest: dict[str, Any], variables: Mapping[str, str]) -> str | None:
    """Which key or value of ``manifest`` does not read back unchanged in kustomize, PyYAML
    and YAML 1.2 readers (see ``yamltext.string_problem``), naming the field and, where a row
    value brought it in, the column (``variables``: the row's); None when all are fine.

    The emitter refuses such a value on the hot path (``yamltext.UnusableValue``); this walk
    runs only then, to say where it is."""
    stack: list[tuple[str, Any]] = [("", manifest)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                field_path = f"{where}.{key}" if where else str(key)
                problem = string_problem(key) if isinstance(key, str) else None
                if problem:
                    return f"the key of field {quote(field_path)} is unusable: {problem}"
                stack.append((field_path, item))
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", item) for i, item in enumerate(value))
        elif isinstance(value, str):
            problem = string_problem(value)
            if problem:
                return f"field {where} is unusable: {problem}{_culprit(value, variables)}"
    return None


def _culprit(value: str, variables: Mapping[str, str]) -> str:
    """`` (from column variable "x")`` naming the row variable that brought the problem in."""
    tab = value[:1] == "\t"
    for name in sorted(variables):
        text = variables[name]
        if text and (string_problem(text) or (tab and text[:1] == "\t")):
            return f" (from column variable {quote(name)})"
    return ""
