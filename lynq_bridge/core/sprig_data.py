"""Sprig's default, list, dict, JSON and type functions, in Go argument order.

Lists are Python lists, maps are dicts with text keys. Functions return new lists as Sprig
does; ``set``, ``unset``, ``merge`` and ``mergeOverwrite`` change their first map in place and
return it, as Sprig's do (the template's own variables are read-only: changing them is an error
that suggests ``merge`` into a new ``dict``). Go's map order is random, so where Sprig returns
map keys or values in that order (``keys``, ``values``) they come sorted by key here, which
makes the output deterministic. Functions that make larger values (``list``, ``dict``,
``concat``, ``append``, the JSON encoders) check the growth limit before building them. A
Sprig panic (``first`` of a string) and a ``mustX`` error are both a ``FunctionError``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, Final

from lynq_bridge.core import functions, limits
from lynq_bridge.core.functions import format_float, is_empty
from lynq_bridge.core.sprig_values import (
    FunctionError,
    as_int,
    as_list,
    as_map,
    as_text,
    cast_int64,
    check_output,
    deep_equal,
    go_kind,
    go_type,
    is_list,
    mutable_map,
    strval,
)

__all__ = ["DATA_FUNCTIONS"]

_HTML_ESCAPES: Final = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})
_LINE_ESCAPES: Final = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029"})


def _grow(what: str, size: int, *inputs: object) -> None:
    limits.check_growth(f'function "{what}"', size, *inputs)


# --- defaults --------------------------------------------------------------------------------


def default(fallback: object, *given: object) -> object:
    return fallback if not given or is_empty(given[0]) else given[0]


def coalesce(*values: object) -> object:
    return next((v for v in values if not is_empty(v)), None)


def ternary(if_true: object, if_false: object, condition: object) -> object:
    if not isinstance(condition, bool):
        raise FunctionError(f"wrong type for value; expected bool; got {go_type(condition)}")
    return if_true if condition else if_false


def deep_copy(value: object) -> object:
    if isinstance(value, list | tuple):
        return [deep_copy(item) for item in value]
    if isinstance(value, Mapping):
        return {key: deep_copy(item) for key, item in value.items()}
    return value


# --- JSON ------------------------------------------------------------------------------------


def _json_text(text: str, *, escape_html: bool) -> str:
    encoded = json.dumps(text, ensure_ascii=False).translate(_LINE_ESCAPES)
    return encoded.translate(_HTML_ESCAPES) if escape_html else encoded


def _encode(value: object, *, escape_html: bool, indent: str, depth: int) -> str:
    # Go's encoding/json: sorted keys, shortest floats, "<>&" escaped unless told otherwise.
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FunctionError(f"json: unsupported value: {format_float(value)}")
        return format_float(value, for_json=True)
    if isinstance(value, str):
        return _json_text(value, escape_html=escape_html)
    if isinstance(value, Mapping | list | tuple):
        if isinstance(value, Mapping):
            items = [
                _json_text(str(k), escape_html=escape_html) + (": " if indent else ":") + v
                for k, v in sorted(
                    (str(k), _encode(v, escape_html=escape_html, indent=indent, depth=depth + 1))
                    for k, v in value.items()
                )
            ]
            opening, closing = "{", "}"
        else:
            items = [
                _encode(v, escape_html=escape_html, indent=indent, depth=depth + 1) for v in value
            ]
            opening, closing = "[", "]"
        if not items:
            return opening + closing
        if not indent:
            return opening + ",".join(items) + closing
        inner, outer = "\n" + indent * (depth + 1), "\n" + indent * depth
        return opening + inner + ("," + inner).join(items) + outer + closing
    return _json_text(strval(value), escape_html=escape_html)


def _to_json(value: object, *, escape_html: bool = True, indent: str = "") -> str:
    check_output('function "toJson"', value, value)
    if indent:  # the indentation of every nested level counts too
        _grow("toPrettyJson", 2 * measure_depth(value), value)
    return _encode(value, escape_html=escape_html, indent=indent, depth=0)


def measure_depth(value: object) -> int:
    """Sum over all nested items of their depth: the spaces ``toPrettyJson`` adds, bounded."""
    total, stack = 0, [(value, 0)]
    while stack and total <= limits.MAX_RESULT * 4:
        item, depth = stack.pop()
        total += depth
        if isinstance(item, list | tuple):
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, Mapping):
            stack.extend((v, depth + 1) for v in item.values())
    return total


def _as_go_json(value: object) -> object:
    # encoding/json decodes every number as float64; one too large for it is an error.
    root: list[Any] = [value]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        container, key = stack.pop()
        item = container[key]
        if isinstance(item, int) and not isinstance(item, bool):
            item = container[key] = float(item)  # OverflowError when too large
        if isinstance(item, float) and not math.isfinite(item):
            raise OverflowError
        if isinstance(item, list):
            stack.extend((item, index) for index in range(len(item)))
        elif isinstance(item, dict):
            stack.extend((item, name) for name in item)
    return root[0]


def _reject_constant(name: str) -> object:
    raise ValueError(name)  # Go's decoder rejects NaN and Infinity


def from_json(text: object) -> object:
    """Lynq's ``fromJson``: invalid JSON gives an empty map, so ``default`` can take over."""
    try:
        return _as_go_json(functions.from_json(as_text(text)))
    except OverflowError:
        return {}


def must_from_json(text: object) -> object:
    try:
        parsed = json.loads(as_text(text), parse_constant=_reject_constant)
        return _as_go_json(parsed)
    except (ValueError, RecursionError):
        raise FunctionError("the text is not valid JSON") from None
    except OverflowError:
        raise FunctionError("a number in the JSON text does not fit a float64") from None


# --- lists -----------------------------------------------------------------------------------


def make_list(*values: object) -> list[object]:
    _grow("list", len(values))
    return list(values)


def push(items: object, value: object) -> list[object]:
    return [*as_list(items, "push on"), value]


def prepend(items: object, value: object) -> list[object]:
    return [value, *as_list(items, "prepend on")]


def first(items: object) -> object:
    values = as_list(items, "find first on")
    return values[0] if values else None


def last(items: object) -> object:
    values = as_list(items, "find last on")
    return values[-1] if values else None


def rest(items: object) -> list[object] | None:
    values = as_list(items, "find rest on")
    return values[1:] if values else None


def initial(items: object) -> list[object] | None:
    values = as_list(items, "find initial on")
    return values[:-1] if values else None


def reverse(items: object) -> list[object]:
    return as_list(items, "find reverse on")[::-1]


def compact(items: object) -> list[object]:
    return [v for v in as_list(items, "compact on") if not is_empty(v)]


def uniq(items: object) -> list[object]:
    out: list[object] = []
    for value in limits.checked_iteration(as_list(items, "find uniq on")):
        if not any(deep_equal(value, seen) for seen in out):
            out.append(value)
    return out


def without(items: object, *omitted: object) -> list[object]:
    values = as_list(items, "find without on")
    return [v for v in values if not any(deep_equal(v, o) for o in omitted)]


def has(needle: object, haystack: object) -> bool:
    if haystack is None:
        return False
    return any(deep_equal(needle, v) for v in as_list(haystack, "find has on"))


def slice_list(items: object, *indices: object) -> list[object] | None:
    if not is_list(items):
        raise FunctionError(f"list should be type of slice or array but {go_kind(items)}")
    values = as_list(items, "slice")
    if not values:
        return None
    start = cast_int64(indices[0]) if indices else 0
    end = cast_int64(indices[1]) if len(indices) > 1 else len(values)
    if not 0 <= start <= end <= len(values):
        raise FunctionError(f"slice index out of range [{start}:{end}] of {len(values)} items")
    return values[start:end]


def concat(*lists: object) -> list[object]:
    parts = [as_list(items, "concat") for items in lists]
    _grow("concat", sum(map(len, parts)), *lists)
    return [value for part in parts for value in part]


def chunk(size: object, items: object) -> list[list[object]]:
    width, values = as_int(size), as_list(items, "chunk")
    if width <= 0:
        raise FunctionError("the chunk size must be a positive number")
    return [values[i : i + width] for i in range(0, len(values), width)]


# --- dicts -----------------------------------------------------------------------------------


def make_dict(*pairs: object) -> dict[str, object]:
    _grow("dict", len(pairs) // 2 + 1)
    out: dict[str, object] = {}
    for index in range(0, len(pairs), 2):
        out[strval(pairs[index])] = pairs[index + 1] if index + 1 < len(pairs) else ""
    return out


def get(mapping: object, key: object) -> object:
    return as_map(mapping).get(as_text(key), "")


def set_key(mapping: object, key: object, value: object) -> MutableMapping[str, object]:
    target = mutable_map(mapping)
    target[as_text(key)] = value
    return target


def unset(mapping: object, key: object) -> MutableMapping[str, object]:
    target = mutable_map(mapping)
    target.pop(as_text(key), None)
    return target


def has_key(mapping: object, key: object) -> bool:
    return as_text(key) in as_map(mapping)


def pluck(key: object, *mappings: object) -> list[object]:
    name = as_text(key)
    return [m[name] for m in map(as_map, mappings) if name in m]


def keys(*mappings: object) -> list[str]:
    """Every key of every map, sorted (Sprig's order is Go's random map order)."""
    return sorted(key for mapping in mappings for key in as_map(mapping))


def values(mapping: object) -> list[object]:
    """The values, in the order of their sorted keys (Sprig's order is random)."""
    source = as_map(mapping)
    return [source[key] for key in sorted(source)]


def pick(mapping: object, *names: object) -> dict[str, object]:
    source = as_map(mapping)
    return {k: source[k] for k in map(as_text, names) if k in source}


def omit(mapping: object, *names: object) -> dict[str, object]:
    dropped = set(map(as_text, names))
    return {k: v for k, v in as_map(mapping).items() if k not in dropped}


def dig(*arguments: object) -> object:
    if len(arguments) < 3:
        raise FunctionError("dig needs at least three arguments")
    *path, fallback, mapping = arguments
    current = as_map(mapping)
    for index, key in enumerate(map(as_text, path)):
        if key not in current:
            return fallback
        if index == len(path) - 1:
            return current[key]
        current = as_map(current[key])
    return fallback


def _merge(
    target: MutableMapping[str, object], source: Mapping[str, object], *, overwrite: bool
) -> None:
    # dario.cat/mergo on maps: nested maps merge; otherwise the source fills what the target
    # lacks or has empty, or everything when overwriting; a nil source never fills a gap.
    for key, value in source.items():
        current = target.get(key)
        if value is None:
            if overwrite:
                target[key] = None
            continue
        if isinstance(value, Mapping) and isinstance(current, MutableMapping) and current:
            _merge(current, value, overwrite=overwrite)
        elif overwrite or key not in target or is_empty(current):
            target[key] = value


def merge(target: object, *sources: object) -> MutableMapping[str, object]:
    destination = mutable_map(target)
    for source in sources:
        _merge(destination, as_map(source), overwrite=False)
    return destination


def merge_overwrite(target: object, *sources: object) -> MutableMapping[str, object]:
    destination = mutable_map(target)
    for source in sources:
        _merge(destination, as_map(source), overwrite=True)
    return destination


# --- types -----------------------------------------------------------------------------------


def type_is(name: object, value: object) -> bool:
    return as_text(name) == go_type(value)


def type_is_like(name: object, value: object) -> bool:
    return go_type(value) in (as_text(name), "*" + as_text(name))


def kind_is(name: object, value: object) -> bool:
    return as_text(name) == go_kind(value)


def _fail(message: object) -> object:
    raise FunctionError(as_text(message))


DATA_FUNCTIONS: Final[dict[str, Callable[..., object]]] = {
    "default": default,
    "empty": is_empty,
    "coalesce": coalesce,
    "all": lambda *values: not any(map(is_empty, values)),
    "any": lambda *values: not all(map(is_empty, values)),
    "compact": compact,
    "mustCompact": compact,
    "fromJson": from_json,
    "mustFromJson": must_from_json,
    "toJson": _to_json,
    "mustToJson": _to_json,
    "toPrettyJson": lambda value: _to_json(value, indent="  "),
    "mustToPrettyJson": lambda value: _to_json(value, indent="  "),
    "toRawJson": lambda value: _to_json(value, escape_html=False),
    "mustToRawJson": lambda value: _to_json(value, escape_html=False),
    "ternary": ternary,
    "deepCopy": deep_copy,
    "mustDeepCopy": deep_copy,
    "typeOf": go_type,
    "typeIs": type_is,
    "typeIsLike": type_is_like,
    "kindOf": go_kind,
    "kindIs": kind_is,
    "deepEqual": deep_equal,
    "fail": _fail,
    "tuple": make_list,
    "list": make_list,
    "dict": make_dict,
    "get": get,
    "set": set_key,
    "unset": unset,
    "hasKey": has_key,
    "pluck": pluck,
    "keys": keys,
    "pick": pick,
    "omit": omit,
    "merge": merge,
    "mergeOverwrite": merge_overwrite,
    "mustMerge": merge,
    "mustMergeOverwrite": merge_overwrite,
    "values": values,
    "append": push,
    "push": push,
    "mustAppend": push,
    "mustPush": push,
    "prepend": prepend,
    "mustPrepend": prepend,
    "first": first,
    "mustFirst": first,
    "rest": rest,
    "mustRest": rest,
    "last": last,
    "mustLast": last,
    "initial": initial,
    "mustInitial": initial,
    "reverse": reverse,
    "mustReverse": reverse,
    "uniq": uniq,
    "mustUniq": uniq,
    "without": without,
    "mustWithout": without,
    "has": has,
    "mustHas": has,
    "slice": slice_list,
    "mustSlice": slice_list,
    "concat": concat,
    "dig": dig,
    "chunk": chunk,
    "mustChunk": chunk,
}
"""The data functions by their Go template names."""
