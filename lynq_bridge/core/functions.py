"""The template function set: Lynq's functions, with Go Sprig semantics, as plain Python callables.

Lynq renders with Go ``text/template`` plus Sprig; lynq-bridge renders with Jinja2. Each function
here returns what the Go function returns for the same input, with one change of shape: the piped
value is the first argument, so ``{{ name | hasPrefix("ab") }}`` is Sprig's
``{{ hasPrefix "ab" .name }}`` and ``{{ x | replace("a", "b") }}`` is ``{{ replace "a" "b" .x }}``.
``FILTERS`` and ``GLOBALS`` are what the engine (``templating``) installs; single-argument
functions are also globals (``{{ sha1sum(uid) }}``).

``int``, ``float`` and ``bool`` are Lynq's typed functions (``toInt``/``toFloat``/``toBool`` in
``internal/template/engine.go``), not Sprig's: ``"3.7" | int`` is 3 and non-numeric text is 0.
Lynq wraps their results in in-band type markers; here they return real Python values and the
engine records the type of a whole-field expression instead (see ``templating``).

Deliberate differences from Lynq/Sprig, chosen so that no input can produce surprising output:

- lengths count characters, not UTF-8 bytes, so ``trunc63``/``trunc`` never split a character;
- ``toHost`` also drops the path, query and user info of scheme-less input and the brackets
  around IPv6 addresses (Lynq returns ``example.com/x`` unchanged);
- ``b64dec`` of invalid input raises instead of returning Go's error text as the value;
- ``int``/``float`` of non-finite numbers (``inf``, ``nan``, ``1e400``) give 0;
- ``None`` prints as an empty string (Go prints ``<no value>`` or ``<nil>``).

Regular expressions (``regexMatch``, ``regexReplaceAll``) run on RE2, the engine behind Go's
``regexp``: Go's syntax and semantics (``\\d`` is ASCII, ``$`` is the end of the text, no
backreferences or lookarounds) and time linear in the text, so no pattern can stall a sync.
An invalid pattern is a render error that names it.

The module is pure: no clock, no randomness, no environment, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Final, NoReturn

import re2
from jinja2 import Undefined

from lynq_bridge.core import limits
from lynq_bridge.core.casing import (
    GO_SPACE,
    camel_case,
    kebab_case,
    lower1,
    snake_case,
    title1,
    upper1,
)

__all__ = [
    "FILTERS",
    "GLOBALS",
    "b64dec",
    "b64enc",
    "camelcase",
    "contains",
    "default",
    "format_float",
    "from_json",
    "has_prefix",
    "has_suffix",
    "is_empty",
    "kebabcase",
    "lower",
    "quote",
    "regex_match",
    "regex_replace_all",
    "replace",
    "sha1sum",
    "sha256sum",
    "snakecase",
    "squote",
    "title",
    "to_bool",
    "to_float",
    "to_host",
    "to_int",
    "to_json",
    "to_text",
    "trim",
    "trunc",
    "trunc63",
    "upper",
]

_GO_INT = re.compile(r"[+-]?[0-9]+")  # strconv.Atoi
# ParseFloat. Unambiguous on purpose: with "[0-9]+\.?[0-9]*" a long run of digits followed by
# anything else took time cubic in its length (10,000 digits: 14 s).
_GO_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_TRUE_WORDS = frozenset({"true", "1", "yes", "on", "t", "y"})
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_AUTHORITY_END = re.compile(r"[/?#]")
_GROUP_NAME = re.compile(r"\{(\w+)\}|(\w+)")  # after "$" in a regexReplaceAll replacement
_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    '"': '\\"',
    "\\": "\\\\",
}
_JSON_HTML_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


# --- values as text -------------------------------------------------------------------------


def _require_defined(value: object) -> None:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()


def format_float(value: float, *, for_json: bool = False) -> str:
    """Format a float like Go: ``%v`` (``fmt``), or ``encoding/json`` when ``for_json``.

    Both use the shortest digits that read back to the same float; they differ in when they
    switch to exponent notation (``1e+06`` for ``%v``, ``1e+21`` for JSON).
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0"
    _, digit_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    assert isinstance(exponent, int)  # finite, so never "n"/"N"/"F"
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exponent  # the value is 0.<digits> x 10**point
    digits = digits.rstrip("0")
    exp10 = point - 1
    if for_json:
        use_exponent = abs(value) < 1e-6 or abs(value) >= 1e21
    else:
        use_exponent = exp10 < -4 or exp10 >= 6
    if use_exponent:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        width = 1 if for_json and exp10 < 0 else 2
        return f"{sign}{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):0{width}d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def to_text(value: object) -> str:
    """The text of a value as Go prints it: ``true``/``false``, ``1e+06``; ``None`` is empty."""
    if isinstance(value, str):
        return value
    _require_defined(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


# --- Lynq's own functions ----------------------------------------------------------------------


def to_host(value: object) -> str:
    """The host of a URL or host string: ``https://u@a.example.com:8443/x`` -> ``a.example.com``."""
    text = to_text(value)
    scheme = _SCHEME.match(text)
    if scheme:
        rest = text[scheme.end() :]
    elif text.startswith("//"):
        rest = text[2:]
    else:
        rest = text
    authority = _AUTHORITY_END.split(rest, maxsplit=1)[0].rpartition("@")[2]
    if authority.startswith("["):
        return authority[1:].partition("]")[0]
    if authority.count(":") > 1:  # a bare IPv6 address has no port to drop
        return authority
    return authority.partition(":")[0]


def trunc63(value: object) -> str:
    """The first 63 characters (the Kubernetes limit for label values and DNS labels)."""
    return to_text(value)[:63]


def sha1sum(value: object) -> str:
    """Hex SHA-1 of the UTF-8 text."""
    return hashlib.sha1(to_text(value).encode()).hexdigest()


def sha256sum(value: object) -> str:
    """Hex SHA-256 of the UTF-8 text."""
    return hashlib.sha256(to_text(value).encode()).hexdigest()


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")  # Go's decoder rejects NaN and Infinity


def from_json(value: object) -> object:
    """Parse JSON text; invalid JSON gives ``{}`` so that ``default`` can take over."""
    text = to_text(value)
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return {}


def _json_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).translate(_JSON_HTML_ESCAPES)


def _encode_json(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("toJson: NaN and infinite numbers have no JSON form")
        return format_float(value, for_json=True)
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, Mapping):
        pairs = sorted(((to_text(k), v) for k, v in value.items()), key=lambda pair: pair[0])
        return "{" + ",".join(f"{_json_string(k)}:{_encode_json(v)}" for k, v in pairs) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode_json(item) for item in value) + "]"
    return _json_string(to_text(value))


def to_json(value: object) -> str:
    """Compact JSON like Go's ``encoding/json``: sorted keys, ``<>&`` escaped, no spaces."""
    _require_defined(value)
    return _encode_json(value)


def b64enc(value: object) -> str:
    """Standard base64 (with padding) of the UTF-8 text."""
    return base64.b64encode(to_text(value).encode()).decode("ascii")


def b64dec(value: object) -> str:
    """Decode standard base64 to UTF-8 text; invalid input is an error, not a value."""
    text = to_text(value).replace("\r", "").replace("\n", "")  # Go ignores line breaks
    try:
        return base64.b64decode(text, validate=True).decode("utf-8")
    except binascii.Error:
        raise ValueError("b64dec: the input is not valid base64") from None
    except UnicodeDecodeError:
        raise ValueError("b64dec: the decoded data is not UTF-8 text") from None


# --- Sprig string functions -------------------------------------------------------------------


def _go_quote(text: str) -> str:
    out = ['"']
    for char in text:
        escaped = _GO_ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


def quote(*values: object) -> str:
    """Each non-None value as a Go double-quoted string (``%q``), joined by spaces."""
    return " ".join(_go_quote(to_text(v)) for v in values if v is not None)


def squote(*values: object) -> str:
    """Each non-None value in single quotes, unescaped, joined by spaces."""
    return " ".join(f"'{to_text(v)}'" for v in values if v is not None)


def trunc(value: object, length: int) -> str:
    """The first ``length`` characters; a negative length keeps the last ``-length``."""
    text = to_text(value)
    if length < 0 and len(text) + length > 0:
        return text[len(text) + length :]
    if length >= 0 and len(text) > length:
        return text[:length]
    return text


def trim(value: object) -> str:
    """Remove leading and trailing white space (Go's ``strings.TrimSpace``)."""
    return to_text(value).strip(GO_SPACE)


def upper(value: object) -> str:
    """Upper case, one character to one character like Go (``ß`` stays ``ß``)."""
    text = to_text(value)
    return text.upper() if text.isascii() else "".join(map(upper1, text))


def lower(value: object) -> str:
    """Lower case, one character to one character like Go."""
    text = to_text(value)
    return text.lower() if text.isascii() else "".join(map(lower1, text))


def _is_word_separator(char: str) -> bool:
    if char.isascii():
        return not (char.isalnum() or char == "_")
    if char.isalpha() or char.isdecimal():
        return False
    return char in GO_SPACE


def title(value: object) -> str:
    """Upper-case the first letter of each word; leave the rest alone (Go's ``strings.Title``)."""
    out = []
    previous = " "
    for char in to_text(value):
        out.append(title1(char) if _is_word_separator(previous) else char)
        previous = char
    return "".join(out)


def replace(value: object, old: object, new: object) -> str:
    """Replace every occurrence of ``old`` with ``new``."""
    text, old_text, new_text = to_text(value), to_text(old), to_text(new)
    count = text.count(old_text) if old_text else len(text) + 1
    limits.check_growth(
        'filter "replace"', len(text) + count * (len(new_text) - len(old_text)), text
    )
    return text.replace(old_text, new_text)


def has_prefix(value: object, prefix: object) -> bool:
    """Whether the value starts with ``prefix``."""
    return to_text(value).startswith(to_text(prefix))


def has_suffix(value: object, suffix: object) -> bool:
    """Whether the value ends with ``suffix``."""
    return to_text(value).endswith(to_text(suffix))


def contains(value: object, substring: object) -> bool:
    """Whether ``substring`` occurs in the value."""
    return to_text(substring) in to_text(value)


# --- case conversion (see ``casing``) -----------------------------------------------------------


def snakecase(value: object) -> str:
    """``FirstName`` -> ``first_name``, ``HTTPServer`` -> ``http_server``."""
    return snake_case(to_text(value))


def kebabcase(value: object) -> str:
    """``FirstName`` -> ``first-name``, ``HTTPServer`` -> ``http-server``."""
    return kebab_case(to_text(value))


def camelcase(value: object) -> str:
    """``http_server`` -> ``HttpServer`` (Sprig's camelcase is upper camel case)."""
    return camel_case(to_text(value))


# --- regular expressions ----------------------------------------------------------------------


_RE2_OPTIONS: Final = re2.Options()
_RE2_OPTIONS.log_errors = False  # an invalid pattern is our error, not a line on stderr


@functools.lru_cache(maxsize=256)
def _compile_regex(text: str) -> re2._Regexp[str]:
    try:
        return re2.compile(text, options=_RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", errors="replace")
        raise ValueError(f"invalid regular expression {_go_quote(text)}: {reason}") from None


def _regex(pattern: object) -> re2._Regexp[str]:
    return _compile_regex(to_text(pattern))


def _expand(template: str, match: re2._Match[str]) -> str:
    # Go's Regexp.Expand: $1, ${1}, $name, ${name}; $$ is "$"; unknown groups give "".
    out: list[str] = []
    regexp = match.re
    while "$" in template:
        before, _, template = template.partition("$")
        out.append(before)
        if template.startswith("$"):
            out.append("$")
            template = template[1:]
            continue
        named = _GROUP_NAME.match(template)
        if named is None:
            out.append("$")
            continue
        name = named.group(1) or named.group(2)
        template = template[named.end() :]
        group: int | str | None = None
        if name.isascii() and name.isdigit() and not (name.startswith("0") and len(name) > 1):
            group = int(name) if int(name) <= regexp.groups else None
        elif name in regexp.groupindex:
            group = name
        if group is not None:
            out.append(match.group(group) or "")
    out.append(template)
    return "".join(out)


def regex_replace_all(value: object, pattern: object, replacement: object) -> str:
    """Replace every match of ``pattern`` (``$1``/``${name}`` expand like Go's ``Expand``)."""
    text, template = to_text(value), to_text(replacement)
    out: list[str] = []
    size = 0
    last_end = 0
    # ~10 us per match (the binding's per-match cost), so a long text with many matches also
    # looks at the node's deadline.
    for match in limits.checked_iteration(_regex(pattern).finditer(text)):
        start, end = match.span()
        out.append(text[last_end:start])
        # Go skips an empty match right after the previous match.
        if end > last_end or start == 0:
            out.append(_expand(template, match))
            size += start - last_end + len(out[-1])
            limits.check_growth('filter "regexReplaceAll"', size, text, template)
        last_end = end
    out.append(text[last_end:])
    return "".join(out)


def regex_match(value: object, pattern: object) -> bool:
    """Whether ``pattern`` matches anywhere in the value."""
    return _regex(pattern).search(to_text(value)) is not None


# --- defaults and typed values ----------------------------------------------------------------


def is_empty(value: object) -> bool:
    """Sprig's ``empty``: undefined, None, false, zero and empty strings and collections."""
    if isinstance(value, Undefined) or value is None:
        return True
    if isinstance(value, bool | int | float):
        return value == 0
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset | Mapping):
        return len(value) == 0
    return False


def default(value: object, fallback: object = "") -> object:
    """``fallback`` when the value is undefined or empty (Sprig, not Jinja: ``""`` is empty)."""
    return fallback if is_empty(value) else value


def _finite_or_zero(number: float) -> float:
    return number if math.isfinite(number) else 0.0


def to_int(value: object) -> int:
    """Lynq's ``int``: numbers truncate toward zero, ``"3.7"`` is 3, other text is 0."""
    _require_defined(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return math.trunc(_finite_or_zero(value))
    if isinstance(value, str):
        if _GO_INT.fullmatch(value):
            return int(value)
        if _GO_FLOAT.fullmatch(value):
            return math.trunc(_finite_or_zero(float(value)))
    return 0


def to_float(value: object) -> float:
    """Lynq's ``float``: numbers and numeric text become floats, anything else 0."""
    _require_defined(value)
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            return 0.0
    if isinstance(value, float):
        return _finite_or_zero(value)
    if isinstance(value, str) and _GO_FLOAT.fullmatch(value):
        return _finite_or_zero(float(value))
    return 0.0


def to_bool(value: object) -> bool:
    """Lynq's ``bool``: ``true 1 yes on t y`` in any case, or a non-zero number."""
    _require_defined(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() in _TRUE_WORDS
    if isinstance(value, int | float):
        return value != 0
    return False


_SINGLE_ARGUMENT: dict[str, Callable[..., object]] = {
    "toHost": to_host,
    "trunc63": trunc63,
    "sha1sum": sha1sum,
    "sha256sum": sha256sum,
    "fromJson": from_json,
    "toJson": to_json,
    "b64enc": b64enc,
    "b64dec": b64dec,
    "quote": quote,
    "squote": squote,
    "trim": trim,
    "upper": upper,
    "lower": lower,
    "title": title,
    "kebabcase": kebabcase,
    "snakecase": snakecase,
    "camelcase": camelcase,
    "int": to_int,
    "float": to_float,
    "bool": to_bool,
}

FILTERS: dict[str, Callable[..., object]] = {
    **_SINGLE_ARGUMENT,
    "trunc": trunc,
    "replace": replace,
    "hasPrefix": has_prefix,
    "hasSuffix": has_suffix,
    "contains": contains,
    "regexReplaceAll": regex_replace_all,
    "regexMatch": regex_match,
    "default": default,
    "d": default,
}
"""Filters by template name; they replace Jinja's filters of the same names."""

GLOBALS: dict[str, Callable[..., object]] = dict(_SINGLE_ARGUMENT)
"""Functions callable as ``name(value)``: those whose only argument is the value."""
