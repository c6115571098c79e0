"""Go values in Python: the type checks, conversions and printing the Sprig functions share.

Go forms see Go values; here they are Python values (string -> ``str``, int/int64 -> ``int``,
float64 -> ``float``, bool, nil -> ``None``, slices -> ``list``, maps -> ``dict``). Go's
``text/template`` refuses an argument of the wrong type for a typed parameter (a ``string``
parameter given an ``int``), and Sprig converts ``interface{}`` arguments with ``spf13/cast``;
both are done here once so that every function behaves the same way. Separate from ``sprig`` so
that the function modules (``sprig_text``, ``sprig_data``, …) share it without importing each
other.

Python cannot tell Go's ``int`` from ``int64`` or ``[]string`` from ``[]interface{}``: every
integer is reported as ``int`` and every list as ``[]interface {}`` by ``typeOf``/``kindOf``.

Integers follow Go's int64: arithmetic wraps around at 64 bits (``wrap_int64``), as Lynq's
does, so the bridge renders the same number Lynq renders and no integer grows beyond 64 bits.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Final

from lynq_bridge.core import limits
from lynq_bridge.core.functions import format_float

__all__ = [
    "FunctionError",
    "as_float",
    "as_int",
    "as_list",
    "as_map",
    "as_text",
    "cast_float64",
    "cast_int64",
    "check_output",
    "deep_equal",
    "go_kind",
    "go_type",
    "is_list",
    "is_map",
    "mutable_map",
    "strval",
    "wrap_int64",
]

_INT64_MIN: Final = -(1 << 63)
_UINT64: Final = 1 << 64
# strconv.ParseInt(s, 0, 64): sign, base prefix, digits with single underscores between them.
_GO_INT_LITERAL: Final = re.compile(
    r"(?P<sign>[+-]?)(?:0[xX](?P<hex>_?[0-9a-fA-F]+(?:_[0-9a-fA-F]+)*)"
    r"|0[bB](?P<bin>_?[01]+(?:_[01]+)*)|0[oO](?P<oct>_?[0-7]+(?:_[0-7]+)*)"
    r"|(?P<zero>0_?[0-7]+(?:_[0-7]+)*)|(?P<dec>[1-9](?:_?[0-9])*|0))"
)
_GO_FLOAT: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_GO_FLOAT_WORDS: Final = re.compile(r"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)


class FunctionError(Exception):
    """A function refused its arguments; the message is one sentence saying why."""


# --- types -----------------------------------------------------------------------------------


def is_list(value: object) -> bool:
    """Whether ``value`` is a Go slice or array."""
    return isinstance(value, list | tuple)


def is_map(value: object) -> bool:
    """Whether ``value`` is a Go map."""
    return isinstance(value, Mapping)


def go_type(value: object) -> str:
    """What Go's ``%T`` prints for the value (``string``, ``[]interface {}``, ``<nil>``)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if is_list(value):
        return "[]interface {}"
    if is_map(value):
        return "map[string]interface {}"
    return "*" + type(value).__name__


def go_kind(value: object) -> str:
    """What Go's ``reflect.Kind`` names the value (``string``, ``slice``, ``map``, ``invalid``)."""
    if value is None:
        return "invalid"
    if is_list(value):
        return "slice"
    if is_map(value):
        return "map"
    kind = go_type(value)
    return "ptr" if kind.startswith("*") else kind


def _wrong_type(expected: str, value: object) -> FunctionError:
    if value is None:
        return FunctionError(f"invalid value; expected {expected}")
    return FunctionError(f"wrong type for value; expected {expected}; got {go_type(value)}")


def as_text(value: object) -> str:
    """A ``string`` parameter: Go's template refuses any other type."""
    if isinstance(value, str):
        return value
    raise _wrong_type("string", value)


def as_int(value: object) -> int:
    """An ``int`` parameter: an integer (a bool or text is refused, as Go does)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return wrap_int64(value)
    raise _wrong_type("int", value)


def as_float(value: object) -> float:
    """A ``float64`` parameter: a number (Go converts number constants)."""
    if isinstance(value, float):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return cast_float64(value)
    raise _wrong_type("float64", value)


def as_map(value: object) -> Mapping[str, object]:
    """A ``map[string]interface{}`` parameter."""
    if isinstance(value, Mapping):
        return value
    raise _wrong_type("map[string]interface {}", value)


def mutable_map(value: object) -> MutableMapping[str, object]:
    """A map that ``set``/``unset``/``merge`` change in place, as Go's do."""
    mapping = as_map(value)
    if not isinstance(mapping, MutableMapping):
        raise FunctionError("the template's variables cannot be changed; copy them with merge")
    return mapping


def as_list(value: object, action: str) -> list[object]:
    """A slice argument of an ``interface{}`` parameter; ``action`` names the failed use."""
    if isinstance(value, list | tuple):
        return list(value)
    raise FunctionError(f"Cannot {action} type {go_kind(value)}")


# --- numbers (spf13/cast) --------------------------------------------------------------------


def wrap_int64(number: int) -> int:
    """``number`` as Go's int64 holds it: wrapped around at 64 bits."""
    if _INT64_MIN <= number < -_INT64_MIN:
        return number
    number %= _UINT64
    return number - _UINT64 if number >= -_INT64_MIN else number


def _float_to_int64(number: float) -> int:
    # Go's int64(f) of a value out of range is the CPU's answer: MinInt64 on amd64.
    if not math.isfinite(number) or not _INT64_MIN <= number < -_INT64_MIN:
        return _INT64_MIN
    return math.trunc(number)


def _trim_zero_decimal(text: str) -> str:
    # cast's trimZeroDecimal: "10.00" -> "10", "10.5" and "10." stay.
    found_zero = False
    for index in range(len(text), 0, -1):
        char = text[index - 1]
        if char == "." and found_zero:
            return text[: index - 1]
        if char == "0":
            found_zero = True
        elif char != ".":
            return text
    return text


def parse_go_int(text: str) -> int | None:
    """``strconv.ParseInt(text, 0, 64)``: None when it is not an int64."""
    match = _GO_INT_LITERAL.fullmatch(text)
    if match is None:
        return None
    digits, base = next(
        (match[name], base)
        for name, base in (("hex", 16), ("bin", 2), ("oct", 8), ("zero", 8), ("dec", 10))
        if match[name] is not None
    )
    number = int(digits.replace("_", ""), base)
    number = -number if match["sign"] == "-" else number
    return number if _INT64_MIN <= number < -_INT64_MIN else None


def parse_go_float(text: str) -> float | None:
    """``strconv.ParseFloat(text, 64)`` for decimal text, ``Inf`` and ``NaN``; None otherwise."""
    if _GO_FLOAT.fullmatch(text) or _GO_FLOAT_WORDS.fullmatch(text):
        number = float(text)
        return None if math.isinf(number) and "n" not in text.lower() else number
    return None


def cast_int64(value: object) -> int:
    """``cast.ToInt64``: numbers truncate, text parses like Go source (``0x1f``), else 0."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return wrap_int64(value)
    if isinstance(value, float):
        return _float_to_int64(value)
    if isinstance(value, str):
        return parse_go_int(_trim_zero_decimal(value)) or 0
    return 0


def cast_float64(value: object) -> float:
    """``cast.ToFloat64``: numbers and numeric text, else 0."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        number = parse_go_float(value)
        return 0.0 if number is None else number
    return 0.0


# --- printing (fmt %v) -----------------------------------------------------------------------


def measure(value: object, budget: int) -> int:
    """Characters ``strval``/JSON of ``value`` would take, counted up to just past ``budget``.

    A list may hold the same list many times, so printed size can be exponential in memory
    size; counting stops once past the budget, so it costs at most ``budget`` steps.
    """
    total = 0
    stack: list[object] = [value]
    while stack and total <= budget:
        item = stack.pop()
        total += 2
        if isinstance(item, str):
            total += len(item)
        elif is_list(item):
            assert isinstance(item, list | tuple)
            stack.extend(item)
        elif isinstance(item, Mapping):
            for key, nested in item.items():
                total += len(str(key)) + 2
                stack.append(nested)
    return total


def check_output(what: str, value: object, *inputs: object) -> None:
    """Refuse printing ``value`` when its text would break the growth limit."""
    budget = limits.MAX_RESULT + max((limits.size_of(v) for v in inputs), default=0)
    limits.check_growth(what, measure(value, budget), *inputs)


def strval(value: object) -> str:
    """Sprig's ``strval``: the value as Go's ``%v`` prints it (``[a b]``, ``map[k:v]``)."""
    if isinstance(value, str):
        return value
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, int):
        return str(value)
    if is_list(value):
        assert isinstance(value, list | tuple)
        return "[" + " ".join(strval(item) for item in value) + "]"
    if isinstance(value, Mapping):
        pairs = sorted((str(k), v) for k, v in value.items())
        return "map[" + " ".join(f"{k}:{strval(v)}" for k, v in pairs) + "]"
    return str(value)


def strvals(values: Iterable[object]) -> list[str]:
    """``strval`` of every non-nil value (Sprig's ``strslice`` of a list)."""
    return [strval(v) for v in values if v is not None]


# --- equality (reflect.DeepEqual) ------------------------------------------------------------


def _same_kind(a: object, b: object) -> bool:
    kinds = (bool, int, float, str)
    for kind in kinds:
        if isinstance(a, kind) or isinstance(b, kind):
            return isinstance(a, kind) and isinstance(b, kind)
    return True


def deep_equal(a: object, b: object) -> bool:
    """Go's ``reflect.DeepEqual``: equal types and equal contents (``1`` is not ``1.0``)."""
    if a is None or b is None:
        return a is None and b is None
    if is_list(a) or is_list(b):
        if not (is_list(a) and is_list(b)):
            return False
        assert isinstance(a, list | tuple) and isinstance(b, list | tuple)
        return len(a) == len(b) and all(deep_equal(x, y) for x, y in zip(a, b, strict=True))
    if is_map(a) or is_map(b):
        if not (isinstance(a, Mapping) and isinstance(b, Mapping)):
            return False
        return a.keys() == b.keys() and all(deep_equal(a[k], b[k]) for k in a)
    return _same_kind(a, b) and a == b
