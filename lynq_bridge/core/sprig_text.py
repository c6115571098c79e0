"""Sprig's string, regular-expression, encoding and hash functions, in Go argument order.

Each function takes its arguments as a Go form writes them, the piped value last:
``{{ .s | trunc 5 }}`` calls ``trunc(5, s)``. Where ``functions`` (the Jinja function set)
already implements a function, it is called here with the arguments reordered, so both syntaxes
share one implementation. Lengths count characters, not UTF-8 bytes (see ``functions``).
Functions that can grow text check the growth limit before they build it; regular expressions
run on RE2 (linear time), compiled by ``functions``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from collections.abc import Callable
from typing import Final

from lynq_bridge.core import functions, limits
from lynq_bridge.core.functions import _regex as compile_regex
from lynq_bridge.core.sprig_values import (
    FunctionError,
    as_int,
    as_text,
    check_output,
    strval,
    strvals,
)

__all__ = ["TEXT_FUNCTIONS"]

_UNICODE_SPACE: Final = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | {
    chr(c) for c in range(0x2000, 0x200B)
}
_REGEX_SPECIALS: Final = frozenset("\\.+*?()|[]{}^$")


def _grow(what: str, size: int, *inputs: object) -> None:
    limits.check_growth(f'function "{what}"', size, *inputs)


def _reraise(call: Callable[[], object]) -> object:
    try:
        return call()
    except ValueError as exc:
        raise FunctionError(str(exc)) from None


# --- cutting and padding ---------------------------------------------------------------------


def trunc(length: object, text: object) -> str:
    return functions.trunc(as_text(text), as_int(length))


def substr(start: object, end: object, text: object) -> str:
    begin, stop, value = as_int(start), as_int(end), as_text(text)
    if begin < 0:
        begin = 0
    elif stop < 0 or stop > len(value):
        stop = len(value)
    if not 0 <= begin <= stop <= len(value):
        raise FunctionError(f"slice bounds out of range [{begin}:{stop}] with length {len(value)}")
    return value[begin:stop]


def abbrev(width: object, text: object) -> str:
    size, value = as_int(width), as_text(text)
    return value if size < 4 else _abbreviate(value, 0, size)


def abbrevboth(left: object, right: object, text: object) -> str:
    offset, width, value = as_int(left), as_int(right), as_text(text)
    if width < 4 or (offset > 0 and width < 7):
        return value
    return _abbreviate(value, offset, width)


def _abbreviate(text: str, offset: int, width: int) -> str:
    # goutils.AbbreviateFull for width >= 4; Sprig turns its errors into "".
    if len(text) <= width:
        return text
    offset = min(offset, len(text))
    if len(text) - offset < width - 3:
        offset = len(text) - (width - 3)
    if offset <= 4:
        return text[: width - 3] + "..."
    if width < 7:
        return ""
    if offset + width - 3 < len(text):
        return "..." + _abbreviate(text[offset:], 0, width - 3)
    return "..." + text[len(text) - (width - 3) :]


def repeat(count: object, text: object) -> str:
    times, value = as_int(count), as_text(text)
    if times < 0:
        raise FunctionError("strings: negative Repeat count")
    _grow("repeat", times * len(value), value)
    return value * times


def indent(spaces: object, text: object) -> str:
    width, value = as_int(spaces), as_text(text)
    if width < 0:
        raise FunctionError("strings: negative Repeat count")
    _grow("indent", len(value) + width * (value.count("\n") + 1), value)
    pad = " " * width
    return pad + value.replace("\n", "\n" + pad)


def nindent(spaces: object, text: object) -> str:
    return "\n" + indent(spaces, text)


def _wrap(what: str, text: str, width: int, newline: str, *, long_words: bool) -> str:
    # goutils.WrapCustom: break at the last space before the column; spaces at a break vanish.
    if not text:
        return ""
    width = max(width, 1)
    _grow(what, len(text) + len(newline) * (len(text) // width + 1), text, newline)
    out: list[str] = []
    offset = 0
    while len(text) - offset > width:
        if text[offset] == " ":
            offset += 1
            continue
        space = text.rfind(" ", offset, width + offset + 1)
        if space >= offset:
            out += [text[offset:space], newline]
            offset = space + 1
        elif long_words:
            out += [text[offset : offset + width], newline]
            offset += width
        else:
            space = text.find(" ", width + offset)
            if space == -1:
                out.append(text[offset:])
                offset = len(text)
            else:
                out += [text[offset:space], newline]
                offset = space + 1
    out.append(text[offset:])
    return "".join(out)


def wrap(width: object, text: object) -> str:
    return _wrap("wrap", as_text(text), as_int(width), "\n", long_words=False)


def wrap_with(width: object, separator: object, text: object) -> str:
    newline = as_text(separator) or "\n"
    return _wrap("wrapWith", as_text(text), as_int(width), newline, long_words=True)


# --- case and characters ---------------------------------------------------------------------


def _first_of_words(text: str, change: Callable[[str], str]) -> str:
    out, at_start = [], True
    for char in text:
        out.append(change(char) if at_start and char not in _UNICODE_SPACE else char)
        at_start = char in _UNICODE_SPACE
    return "".join(out)


def untitle(text: object) -> str:
    return _first_of_words(as_text(text), functions.lower)


def initials(text: object) -> str:
    out, after_space = [], True
    for char in as_text(text):
        if char not in _UNICODE_SPACE and after_space:
            out.append(char)
        after_space = char in _UNICODE_SPACE
    return "".join(out)


def swapcase(text: object) -> str:
    out, after_space = [], True
    for char in as_text(text):
        if char.isupper() or char.istitle():
            out.append(functions.lower(char))
            after_space = False
        elif char.islower():
            out.append(functions.title(char) if after_space else functions.upper(char))
            after_space = False
        else:
            out.append(char)
            after_space = char in _UNICODE_SPACE
    return "".join(out)


def nospace(text: object) -> str:
    return "".join(c for c in as_text(text) if c not in _UNICODE_SPACE)


def replace(old: object, new: object, text: object) -> str:
    return functions.replace(as_text(text), as_text(old), as_text(new))


def plural(one: object, many: object, count: object) -> str:
    return as_text(one) if as_int(count) == 1 else as_text(many)


def trim_all(cutset: object, text: object) -> str:
    return as_text(text).strip(as_text(cutset))


def trim_prefix(prefix: object, text: object) -> str:
    return as_text(text).removeprefix(as_text(prefix))


def trim_suffix(suffix: object, text: object) -> str:
    return as_text(text).removesuffix(as_text(suffix))


# --- quoting and joining ---------------------------------------------------------------------


def quote(*values: object) -> str:
    check_output('function "quote"', list(values), *values)
    return functions.quote(*(strval(v) for v in values if v is not None))


def squote(*values: object) -> str:
    check_output('function "squote"', list(values), *values)
    return functions.squote(*(strval(v) for v in values if v is not None))


def cat(*values: object) -> str:
    check_output('function "cat"', list(values), *values)
    return " ".join(strval(v) for v in values if v is not None)


def to_string(value: object) -> str:
    check_output('function "toString"', value, value)
    return strval(value)


def join(separator: object, values: object) -> str:
    sep = as_text(separator)
    items = to_strings(values)
    _grow("join", sum(map(len, items)) + len(sep) * max(len(items) - 1, 0), values, sep)
    return sep.join(items)


def to_strings(value: object) -> list[str]:
    """Sprig's ``strslice``: a list's non-nil items as text; another value as a one-item list."""
    check_output('function "toStrings"', value, value)
    if isinstance(value, list | tuple):
        return strvals(value)
    return [] if value is None else [strval(value)]


def split(separator: object, text: object) -> dict[str, object]:
    return {f"_{i}": part for i, part in enumerate(split_list(separator, text))}


def split_list(separator: object, text: object) -> list[str]:
    sep, value = as_text(separator), as_text(text)
    return value.split(sep) if sep else list(value)


def splitn(separator: object, count: object, text: object) -> dict[str, object]:
    sep, limit, value = as_text(separator), as_int(count), as_text(text)
    if limit == 0:
        return {}
    if not sep:
        parts = list(value)
        if 0 < limit < len(parts):
            parts = [*value[: limit - 1], value[limit - 1 :]]
    else:
        parts = value.split(sep, limit - 1 if limit > 0 else -1)
    return {f"_{i}": part for i, part in enumerate(parts)}


def sort_alpha(value: object) -> list[str]:
    if isinstance(value, list | tuple):
        return sorted(to_strings(value))
    return [strval(value)]


# --- regular expressions (Go's regexp on RE2) ------------------------------------------------


def _find_all(pattern: object, text: str, limit: int) -> list[tuple[int, int]]:
    # Go's allMatches: an empty match right after the previous match is not a match.
    spans: list[tuple[int, int]] = []
    previous_end = -1
    if limit == 0:
        return spans
    regex = _reraise(lambda: compile_regex(as_text(pattern)))
    for match in limits.checked_iteration(regex.finditer(text)):  # type: ignore[attr-defined]
        start, end = match.span()
        if start == end == previous_end:
            continue
        spans.append((start, end))
        previous_end = end
        if 0 < limit <= len(spans):
            break
    return spans


def regex_match(pattern: object, text: object) -> bool:
    return bool(_reraise(lambda: functions.regex_match(as_text(text), as_text(pattern))))


def regex_find(pattern: object, text: object) -> str:
    value = as_text(text)
    spans = _find_all(pattern, value, 1)
    return value[spans[0][0] : spans[0][1]] if spans else ""


def regex_find_all(pattern: object, text: object, count: object) -> list[str]:
    value = as_text(text)
    return [value[start:end] for start, end in _find_all(pattern, value, as_int(count))]


def regex_replace_all(pattern: object, text: object, replacement: object) -> str:
    value, template = as_text(text), as_text(replacement)
    call = lambda: functions.regex_replace_all(value, as_text(pattern), template)  # noqa: E731
    return str(_reraise(call))


def regex_replace_all_literal(pattern: object, text: object, replacement: object) -> str:
    value, literal = as_text(text), as_text(replacement)
    spans = _find_all(pattern, value, -1)
    _grow("regexReplaceAllLiteral", len(value) + len(spans) * len(literal), value, literal)
    out, last = [], 0
    for start, end in spans:
        out += [value[last:start], literal]
        last = end
    out.append(value[last:])
    return "".join(out)


def regex_split(pattern: object, text: object, count: object) -> list[str]:
    value, limit = as_text(text), as_int(count)
    if limit == 0:
        return []
    if as_text(pattern) and not value:
        return [""]
    parts: list[str] = []
    begin = end = 0
    for start, stop in _find_all(pattern, value, limit):
        if limit > 0 and len(parts) == limit - 1:
            break
        end = start
        if stop != 0:
            parts.append(value[begin:end])
        begin = stop
    if end != len(value):
        parts.append(value[begin:])
    return parts


def regex_quote_meta(text: object) -> str:
    return "".join("\\" + c if c in _REGEX_SPECIALS else c for c in as_text(text))


# --- encodings and hashes --------------------------------------------------------------------


def b32enc(text: object) -> str:
    return base64.b32encode(as_text(text).encode()).decode("ascii")


def b32dec(text: object) -> str:
    value = as_text(text).replace("\r", "").replace("\n", "")
    try:
        return base64.b32decode(value).decode("utf-8")
    except binascii.Error:
        raise FunctionError("the input is not valid base32") from None
    except UnicodeDecodeError:
        raise FunctionError("the decoded data is not UTF-8 text") from None


def sha512sum(text: object) -> str:
    return hashlib.sha512(as_text(text).encode()).hexdigest()


def adler32sum(text: object) -> str:
    return str(zlib.adler32(as_text(text).encode()))


def _text_only(function: Callable[[str], object]) -> Callable[[object], object]:
    def call(value: object) -> object:
        text = as_text(value)
        return _reraise(lambda: function(text))

    call.__name__ = function.__name__
    return call


def _swapped(function: Callable[[str, str], object]) -> Callable[[object, object], object]:
    """A Jinja-order two-text function (value first) called in Go order (value last)."""

    def call(argument: object, value: object) -> object:
        return function(as_text(value), as_text(argument))

    call.__name__ = function.__name__
    return call


TEXT_FUNCTIONS: Final[dict[str, Callable[..., object]]] = {
    "abbrev": abbrev,
    "abbrevboth": abbrevboth,
    "trunc": trunc,
    "trim": _text_only(functions.trim),
    "upper": _text_only(functions.upper),
    "lower": _text_only(functions.lower),
    "title": _text_only(functions.title),
    "untitle": untitle,
    "substr": substr,
    "repeat": repeat,
    "trimall": trim_all,
    "trimAll": trim_all,
    "trimSuffix": trim_suffix,
    "trimPrefix": trim_prefix,
    "nospace": nospace,
    "initials": initials,
    "swapcase": swapcase,
    "snakecase": _text_only(functions.snakecase),
    "camelcase": _text_only(functions.camelcase),
    "kebabcase": _text_only(functions.kebabcase),
    "wrap": wrap,
    "wrapWith": wrap_with,
    "contains": _swapped(functions.contains),
    "hasPrefix": _swapped(functions.has_prefix),
    "hasSuffix": _swapped(functions.has_suffix),
    "quote": quote,
    "squote": squote,
    "cat": cat,
    "indent": indent,
    "nindent": nindent,
    "replace": replace,
    "plural": plural,
    "sha1sum": _text_only(functions.sha1sum),
    "sha256sum": _text_only(functions.sha256sum),
    "sha512sum": sha512sum,
    "adler32sum": adler32sum,
    "toString": to_string,
    "split": split,
    "splitList": split_list,
    "splitn": splitn,
    "toStrings": to_strings,
    "join": join,
    "sortAlpha": sort_alpha,
    "b64enc": _text_only(functions.b64enc),
    "b64dec": _text_only(functions.b64dec),
    "b32enc": b32enc,
    "b32dec": b32dec,
    "regexMatch": regex_match,
    "mustRegexMatch": regex_match,
    "regexFindAll": regex_find_all,
    "mustRegexFindAll": regex_find_all,
    "regexFind": regex_find,
    "mustRegexFind": regex_find,
    "regexReplaceAll": regex_replace_all,
    "mustRegexReplaceAll": regex_replace_all,
    "regexReplaceAllLiteral": regex_replace_all_literal,
    "mustRegexReplaceAllLiteral": regex_replace_all_literal,
    "regexSplit": regex_split,
    "mustRegexSplit": regex_split,
    "regexQuoteMeta": regex_quote_meta,
    # Lynq's own (internal/template/engine.go), shared with the Jinja function set.
    "toHost": _text_only(functions.to_host),
    "trunc63": _text_only(functions.trunc63),
}
"""The string functions by their Go template names."""
