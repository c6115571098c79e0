"""Sprig's number functions: conversions, int64 and decimal arithmetic, ranges, durations.

Integer arithmetic is Go's int64: operands are converted with ``cast.ToInt64`` (text parses,
``"abc"`` is 0) and results wrap around at 64 bits like Lynq's, so no template can compute an
integer larger than 64 bits. Division truncates toward zero; dividing by zero is an error.
The ``…f`` functions compute in decimal (shopspring/decimal: exact sums and products, quotients
rounded to 16 places) and return a float64. ``until``, ``untilStep`` and ``seq`` check the
growth limit before they build their result.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Final

from lynq_bridge.core import functions, limits
from lynq_bridge.core.sprig_values import (
    FunctionError,
    as_float,
    as_int,
    as_text,
    cast_float64,
    cast_int64,
    strval,
    wrap_int64,
)

__all__ = ["NUMBER_FUNCTIONS", "go_duration"]

_ATOI: Final = re.compile(r"[+-]?[0-9]+")
_OCTAL: Final = re.compile(r"[+-]?[0-7]+")
_DURATION_PART: Final = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_NANOSECONDS: Final = {
    "ns": 1,
    "us": 1000,
    "µs": 1000,
    "μs": 1000,
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
_ROUND_UNITS: Final = (
    (365 * 24 * 3600, "y"),
    (30 * 24 * 3600, "mo"),
    (24 * 3600, "d"),
    (3600, "h"),
    (60, "m"),
    (1, "s"),
)


# --- conversions -----------------------------------------------------------------------------


def atoi(text: object) -> int:
    value = as_text(text)
    if not _ATOI.fullmatch(value):
        return 0
    number = int(value)
    return number if wrap_int64(number) == number else 0


def to_decimal(value: object) -> int:
    """Octal text (``"0777"``) to its number; anything else is 0."""
    text = strval(value)
    if not _OCTAL.fullmatch(text):
        return 0
    number = int(text, 8)
    return number if wrap_int64(number) == number else 0


# --- int64 arithmetic ------------------------------------------------------------------------


def add(*values: object) -> int:
    return wrap_int64(sum(map(cast_int64, values)))


def add1(value: object) -> int:
    return wrap_int64(cast_int64(value) + 1)


def sub(a: object, b: object) -> int:
    return wrap_int64(cast_int64(a) - cast_int64(b))


def mul(a: object, *values: object) -> int:
    product = cast_int64(a)
    for value in values:
        product = wrap_int64(product * cast_int64(value))
    return product


def _divide(a: object, b: object) -> tuple[int, int]:
    dividend, divisor = cast_int64(a), cast_int64(b)
    if divisor == 0:
        raise FunctionError("integer divide by zero")
    quotient = abs(dividend) // abs(divisor) * (1 if (dividend < 0) == (divisor < 0) else -1)
    return wrap_int64(quotient), dividend - quotient * divisor


def div(a: object, b: object) -> int:
    return _divide(a, b)[0]


def mod(a: object, b: object) -> int:
    return _divide(a, b)[1]


def biggest(a: object, *values: object) -> int:
    return max(map(cast_int64, (a, *values)))


def smallest(a: object, *values: object) -> int:
    return min(map(cast_int64, (a, *values)))


def _go_max(a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b):
        return math.nan
    return a if a > b or (a == b == 0 and math.copysign(1, b) < 0) else b


def _go_min(a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b):
        return math.nan
    return a if a < b or (a == b == 0 and math.copysign(1, a) < 0) else b


def maxf(a: object, *values: object) -> float:
    result = cast_float64(a)
    for value in values:
        result = _go_max(result, cast_float64(value))
    return result


def minf(a: object, *values: object) -> float:
    result = cast_float64(a)
    for value in values:
        result = _go_min(result, cast_float64(value))
    return result


def floor(value: object) -> float:
    number = cast_float64(value)
    return float(math.floor(number)) if math.isfinite(number) else number


def ceil(value: object) -> float:
    number = cast_float64(value)
    return float(math.ceil(number)) if math.isfinite(number) else number


def round_to(value: object, places: object, *round_on: object) -> float:
    """Sprig's ``round``: ``round 3.14159 2`` is 3.14; a fraction >= ``round_on`` rounds up."""
    threshold = as_float(round_on[0]) if round_on else 0.5
    number, power = cast_float64(value), math.pow(10, as_int(places))
    digits = power * number
    if not math.isfinite(digits):
        return digits / power if math.isfinite(power) else math.nan
    rounded = math.ceil(digits) if math.modf(digits)[0] >= threshold else math.floor(digits)
    return rounded / power


# --- decimal arithmetic ----------------------------------------------------------------------


def _decimal(value: object) -> Decimal:
    number = cast_float64(value)
    if not math.isfinite(number):
        raise FunctionError(f"cannot create a decimal from {functions.format_float(number)}")
    return Decimal(repr(number))


def _decimal_op(operation: str, first: object, values: tuple[object, ...]) -> float:
    with localcontext() as context:
        context.prec = 800  # exact for float64 operands: no rounding but the final one
        result = _decimal(first)
        for value in values:
            operand = _decimal(value)
            if operation == "+":
                result += operand
            elif operation == "-":
                result -= operand
            elif operation == "*":
                result *= operand
            elif operand == 0:
                raise FunctionError("decimal division by 0")
            else:
                try:
                    result = (result / operand).quantize(Decimal("1e-16"), ROUND_HALF_UP)
                except InvalidOperation:
                    raise FunctionError("the quotient has too many digits for a float64") from None
        return float(result)


# --- ranges ----------------------------------------------------------------------------------


def until_step(start: object, stop: object, step: object) -> list[int]:
    begin, end, stride = as_int(start), as_int(stop), as_int(step)
    if (end < begin and stride >= 0) or (end >= begin and stride <= 0):
        return []
    count = -((end - begin) // -stride) if stride > 0 else -((begin - end) // stride)
    limits.check_growth('function "untilStep"', count)
    return list(range(begin, end, stride))


def until(count: object) -> list[int]:
    end = as_int(count)
    return until_step(0, end, -1 if end < 0 else 1)


def seq(*parameters: object) -> str:
    numbers = [as_int(p) for p in parameters]
    if len(numbers) == 1:
        start, end, step = 1, numbers[0], 1 if numbers[0] >= 1 else -1
        increment = step
    elif len(numbers) == 2:
        start, end = numbers
        step = increment = -1 if end < start else 1
    elif len(numbers) == 3:
        start, step, end = numbers
        increment = -1 if end < start else 1
        if end < start and step > 0:
            return ""
    else:
        return ""
    return " ".join(map(str, until_step(start, end + increment, step)))


# --- durations -------------------------------------------------------------------------------


def go_duration(nanoseconds: int) -> str:
    """Go's ``time.Duration.String``: ``1h2m3.5s``, ``1.5ms``, ``0s``."""
    sign = "-" if nanoseconds < 0 else ""
    amount = abs(nanoseconds)
    if amount == 0:
        return "0s"
    if amount < 10**9:
        for unit, size in (("ns", 1), ("µs", 10**3), ("ms", 10**6)):
            if amount < size * 1000:
                return sign + _fraction(amount, size) + unit
    seconds, hours = _fraction(amount % (60 * 10**9), 10**9) + "s", amount // (3600 * 10**9)
    minutes = amount // (60 * 10**9) % 60
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    return f"{sign}{minutes}m{seconds}" if minutes else sign + seconds


def _fraction(amount: int, size: int) -> str:
    whole, part = divmod(amount, size)
    digits = str(part).rjust(len(str(size)) - 1, "0").rstrip("0") if size > 1 else ""
    return f"{whole}.{digits}" if digits else str(whole)


def duration(seconds: object) -> str:
    """Seconds as a Go duration: ``duration "95"`` is ``1m35s``."""
    if isinstance(seconds, str):
        count = atoi(seconds)
    elif isinstance(seconds, int) and not isinstance(seconds, bool):
        count = wrap_int64(seconds)
    else:
        count = 0
    return go_duration(wrap_int64(count * 10**9))


def _parse_duration(text: str) -> int:
    # time.ParseDuration; invalid text is 0 (Sprig ignores the error).
    body = text.lstrip("+-")
    if body == "0":
        return 0
    parts = _DURATION_PART.findall(body)
    if not body or "".join(n + u for n, u in parts) != body:
        return 0
    total = Decimal(0)
    for number, unit in parts:
        if number in ("", "."):
            return 0
        total += Decimal(number) * _NANOSECONDS[unit]
    nanoseconds = int(total) * (-1 if text.startswith("-") else 1)
    return nanoseconds if wrap_int64(nanoseconds) == nanoseconds else 0


def duration_round(value: object) -> str:
    """A duration rounded down to its largest unit: ``durationRound "2h10m5s"`` is ``2h``."""
    if isinstance(value, str):
        nanoseconds = _parse_duration(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        nanoseconds = wrap_int64(value)
    else:
        nanoseconds = 0
    amount = abs(nanoseconds)
    for seconds, unit in _ROUND_UNITS:
        if amount > seconds * 10**9:
            return f"{amount // (seconds * 10**9)}{unit}"
    return "0s"


NUMBER_FUNCTIONS: Final[dict[str, Callable[..., object]]] = {
    "atoi": atoi,
    "int64": cast_int64,
    "float64": cast_float64,
    "toDecimal": to_decimal,
    "seq": seq,
    "until": until,
    "untilStep": until_step,
    "add1": add1,
    "add": add,
    "sub": sub,
    "div": div,
    "mod": mod,
    "mul": mul,
    "add1f": lambda value: _decimal_op("+", value, (1,)),
    "addf": lambda *values: _decimal_op("+", 0.0, values),
    "subf": lambda first, *values: _decimal_op("-", first, values),
    "divf": lambda first, *values: _decimal_op("/", first, values),
    "mulf": lambda first, *values: _decimal_op("*", first, values),
    "biggest": biggest,
    "max": biggest,
    "min": smallest,
    "maxf": maxf,
    "minf": minf,
    "ceil": ceil,
    "floor": floor,
    "round": round_to,
    "duration": duration,
    "durationRound": duration_round,
    # Lynq's typed functions (internal/template/engine.go), shared with the Jinja function set;
    # they replace Sprig's ``int`` and return real values whose type the engine keeps.
    "int": functions.to_int,
    "float": functions.to_float,
    "bool": functions.to_bool,
}
"""The number functions by their Go template names."""
