"""Go's ``fmt`` for template values: how ``{{ x }}``, ``print`` and ``printf`` write a value.

A Lynq form's output depends on Go's printing rules: ``[a b]`` for a list, ``map[a:1 b:2]`` for a
map (keys sorted, as ``fmt`` sorts them), ``1e+06`` for a float, ``%!d(string=x)`` for a verb that
does not fit its argument. This module reproduces them for the values a template can hold
(str, int, float, bool, None, list, dict). It is separate from ``goexec`` because it is a
self-contained port of one Go package, used by the evaluator and by the ``print*`` builtins.

Bounds: as in Go, a width or precision above 1,000,000 is ``%!(BADWIDTH)``/``%!(BADPREC)``, so one
verb can add at most a million characters; ``goexec`` bounds the whole result.

Not reproduced: ``%x``/``%b`` of floats, ``%p``, and Go-syntax ``%#v`` beyond strings, which
prints as ``%v``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Final

from lynq_bridge.core.functions import format_float
from lynq_bridge.core.golex import go_quote
from lynq_bridge.core.sprig_semver import SemVersion
from lynq_bridge.core.sprig_values import go_type

__all__ = ["go_type", "sprint", "sprintf", "sprintln", "to_string"]

_MAX_WIDTH: Final = 1_000_000  # fmt's tooLarge
_SPEC: Final = re.compile(r"([-+# 0]*)(?:\[(\d+)\])?(\*|\d+)?(?:\.(\*|\d*))?(?:\[(\d+)\])?")


def to_string(value: object, *, nested: bool = False) -> str:
    """``%v`` of a value; ``None`` is ``<nil>`` inside collections and ``<no value>`` at the top."""
    if isinstance(value, str):
        return value
    if value is None:
        return "<nil>" if nested else "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Mapping):
        items = (
            f"{to_string(k, nested=True)}:{to_string(value[k], nested=True)}" for k in sorted(value)
        )
        return "map[" + " ".join(items) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(to_string(item, nested=True) for item in value) + "]"
    if isinstance(value, SemVersion):
        return str(value)
    raise TypeError(f'cannot print a value of type "{type(value).__name__}"')


def sprint(*args: object) -> str:
    """``fmt.Sprint``: a space between two operands when neither is a string."""
    out: list[str] = []
    for index, arg in enumerate(args):
        if index and not isinstance(arg, str) and not isinstance(args[index - 1], str):
            out.append(" ")
        out.append(to_string(arg, nested=True))
    return "".join(out)


def sprintln(*args: object) -> str:
    """``fmt.Sprintln``: operands separated by spaces, then a newline."""
    return " ".join(to_string(arg, nested=True) for arg in args) + "\n"


class _Spec:
    __slots__ = ("minus", "plus", "precision", "sharp", "space", "width", "zero")

    def __init__(self, flags: str, width: int | None, precision: int | None) -> None:
        self.minus = "-" in flags
        self.plus = "+" in flags
        self.sharp = "#" in flags
        self.space = " " in flags
        self.zero = "0" in flags and not self.minus
        self.width = width
        self.precision = precision

    def pad(self, text: str, *, numeric: bool = False) -> str:
        if self.width is None or len(text) >= self.width:
            return text
        fill = self.width - len(text)
        if self.minus:
            return text + " " * fill
        if self.zero and numeric:
            sign = text[0] if text[:1] in ("-", "+", " ") else ""
            return sign + "0" * fill + text[len(sign) :]
        return " " * fill + text


def sprintf(template: str, *args: object) -> str:
    """``fmt.Sprintf`` with Go's verbs, flags, widths, precisions and error texts."""
    out: list[str] = []
    argument = 0
    position = 0
    reordered = False
    while position < len(template):
        percent = template.find("%", position)
        if percent < 0:
            out.append(template[position:])
            break
        out.append(template[position:percent])
        match = _SPEC.match(template, percent + 1)
        assert match is not None  # every part of the pattern is optional
        flags, index1, width_text, precision_text, index2 = match.groups()
        position = match.end()
        if index1 is not None:
            argument, reordered = int(index1) - 1, True
        width: int | None = None
        bad = ""
        if width_text == "*":
            if (
                argument < len(args)
                and isinstance(args[argument], int)
                and not isinstance(args[argument], bool)
            ):
                width = int(args[argument])  # type: ignore[call-overload]
                if width < 0:
                    flags, width = flags + "-", -width
            else:
                bad = "%!(BADWIDTH)"
            argument += 1
        elif width_text is not None:
            width = int(width_text)
        if width is not None and width > _MAX_WIDTH:
            width, bad = None, "%!(BADWIDTH)"
        precision: int | None = None
        if precision_text == "*":
            if argument < len(args) and type(args[argument]) is int:
                precision = int(args[argument])  # type: ignore[call-overload]
            else:
                bad = "%!(BADPREC)"
            argument += 1
        elif precision_text is not None:
            precision = int(precision_text) if precision_text else 0
        if precision is not None and (precision > _MAX_WIDTH or precision < 0):
            precision, bad = None, "%!(BADPREC)"
        if index2 is not None:
            argument, reordered = int(index2) - 1, True
        out.append(bad)
        if position >= len(template):
            out.append("%!(NOVERB)")
            break
        verb = template[position]
        position += 1
        if verb == "%":
            out.append("%")
            continue
        if argument >= len(args) or argument < 0:
            out.append(f"%!{verb}(MISSING)" if argument >= 0 else f"%!{verb}(BADINDEX)")
            continue
        out.append(_format(args[argument], verb, _Spec(flags, width, precision)))
        argument += 1
    if not reordered and argument < len(args):
        extra = ", ".join(f"{go_type(a)}={to_string(a, nested=True)}" for a in args[argument:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _bad_verb(verb: str, value: object) -> str:
    if value is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type(value)}={to_string(value, nested=True)})"


def _format(value: object, verb: str, spec: _Spec) -> str:
    if verb == "T":
        return spec.pad(go_type(value))
    if verb == "v" and spec.sharp and isinstance(value, str):
        return spec.pad(go_quote(value))
    if isinstance(value, Mapping):
        items = (f"{_format(k, verb, spec)}:{_format(value[k], verb, spec)}" for k in sorted(value))
        return "map[" + " ".join(items) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(_format(item, verb, spec) for item in value) + "]"
    if value is None:
        return spec.pad("<nil>") if verb == "v" else _bad_verb(verb, value)
    if isinstance(value, bool):
        return spec.pad(to_string(value)) if verb in "vt" else _bad_verb(verb, value)
    if isinstance(value, int):
        return _format_int(value, verb, spec)
    if isinstance(value, float):
        return _format_float(value, verb, spec)
    if isinstance(value, str):
        return _format_str(value, verb, spec)
    return _bad_verb(verb, value)


def _format_int(value: int, verb: str, spec: _Spec) -> str:
    if verb == "c":
        return spec.pad(chr(value) if 0 <= value <= 0x10FFFF else "\ufffd")
    if verb == "q":
        return spec.pad("'" + go_quote(chr(value))[1:-1].replace("'", "\\'") + "'")
    if verb == "U":
        text = f"U+{value:04X}"
        return spec.pad(text + (f" '{chr(value)}'" if spec.sharp else ""))
    bases = {"d": 10, "v": 10, "b": 2, "o": 8, "O": 8, "x": 16, "X": 16}
    if verb not in bases:
        return _bad_verb(verb, value)
    digits = format(abs(value), {10: "d", 2: "b", 8: "o", 16: "x"}[bases[verb]])
    if verb == "X":
        digits = digits.upper()
    if spec.precision is not None:
        digits = digits.zfill(spec.precision) if (spec.precision or value) else ""
    prefix = ""
    if verb == "O" or (spec.sharp and verb == "o" and not digits.startswith("0")):
        prefix = "0o" if verb == "O" else "0"
    elif spec.sharp and verb in "xX":
        prefix = "0x" if verb == "x" else "0X"
    elif spec.sharp and verb == "b":
        prefix = "0b"
    sign = "-" if value < 0 else "+" if spec.plus else " " if spec.space else ""
    return spec.pad(sign + prefix + digits, numeric=spec.precision is None)


def _format_float(value: float, verb: str, spec: _Spec) -> str:
    if verb not in "vgGeEfF":
        return _bad_verb(verb, value)
    if math.isnan(value) or math.isinf(value):
        return spec.pad("NaN" if math.isnan(value) else ("-Inf" if value < 0 else "+Inf"))
    if verb in "vgG" and spec.precision is None:
        text = format_float(value)
        text = text.upper() if verb == "G" else text
    else:
        precision = 6 if spec.precision is None else spec.precision
        python_verb = {"v": "g", "F": "f"}.get(verb, verb)
        text = format(value, f"{'#' if spec.sharp else ''}.{precision}{python_verb}")
    if spec.plus and not text.startswith("-"):
        text = "+" + text
    elif spec.space and not text.startswith("-"):
        text = " " + text
    return spec.pad(text, numeric=True)


def _format_str(value: str, verb: str, spec: _Spec) -> str:
    if spec.precision is not None and verb in "svqxX":
        value = value[: spec.precision] if verb in "svq" else value
    if verb in "sv":
        return spec.pad(value)
    if verb == "q":
        if spec.sharp and "`" not in value and value.isprintable():
            return spec.pad(f"`{value}`")
        quoted = go_quote(value)
        if spec.plus:
            quoted = "".join(c if c.isascii() else _escape_non_ascii(c) for c in quoted)
        return spec.pad(quoted)
    if verb in "xX":
        data = value.encode()
        if spec.precision is not None:
            data = data[: spec.precision]
        digits = [f"{byte:02x}" for byte in data]
        prefix = "0x" if spec.sharp else ""
        joined = (" " if spec.space else "").join(prefix + d if spec.space else d for d in digits)
        text = joined if spec.space else prefix + joined if digits else ""
        return spec.pad(text.upper() if verb == "X" else text)
    return _bad_verb(verb, value)


def _escape_non_ascii(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
