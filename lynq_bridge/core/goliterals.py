"""The literals of Go templates: strings, raw strings, characters and numbers, decoded as Go does.

``goparse`` calls these for each literal token; they raise ``ValueError`` with Go's message
(``invalid syntax``, ``illegal number syntax``), which the parser turns into a syntax error at
the token's line. A number has the value Go's ``idealConstant`` gives it where any type is
accepted: an int unless the text has a ``.``, an exponent or is a hex float. Byte escapes above
``\\x7f`` and complex numbers are refused: a manifest holds UTF-8 text and no complex values.
"""

from __future__ import annotations

import re
from typing import Final

from lynq_bridge.core.golex import Token, go_quote

__all__ = ["number", "unquote"]

_ESCAPE: Final = re.compile(
    r"""\\(?:([abfnrtv\\'"])|x([0-9a-fA-F]{2})|([0-7]{3})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8}))"""
)
_SIMPLE: Final = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_INTEGER: Final = re.compile(
    r"[+-]?(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|0(?:_?[0-7])*"
    r"|[1-9](?:_?[0-9])*)"
)
_DECIMAL_FLOAT: Final = re.compile(r"[+-]?(?:[0-9_]+\.?[0-9_]*|\.[0-9_]+)(?:[eE][+-]?[0-9_]+)?")
_BASES: Final = {"x": 16, "o": 8, "b": 2}
_INT64: Final = 1 << 63


def _decode_escapes(body: str, quote: str) -> str:
    """The text of a quoted literal's body, as Go's ``strconv.Unquote`` decodes it."""
    out: list[str] = []
    position = 0
    while position < len(body):
        char = body[position]
        if char in (quote, "\n"):
            raise ValueError("invalid syntax")
        if char != "\\":
            out.append(char)
            position += 1
            continue
        match = _ESCAPE.match(body, position)
        if match is None:
            raise ValueError("invalid syntax")
        simple, hex2, octal, hex4, hex8 = match.groups()
        if simple is not None:
            if simple in "'\"" and simple != quote:
                raise ValueError("invalid syntax")
            out.append(_SIMPLE.get(simple, simple))
        else:
            code = int(octal, 8) if octal is not None else int(hex2 or hex4 or hex8, 16)
            if (hex2 is not None or octal is not None) and code > 0x7F:
                raise ValueError("a byte escape above \\x7f is not valid UTF-8 text")
            if code > 0x10FFFF or 0xD800 <= code < 0xE000:
                raise ValueError("invalid syntax")
            out.append(chr(code))
        position = match.end()
    return "".join(out)


def unquote(token: Token) -> str:
    """Go's ``strconv.Unquote`` of a string literal (raw strings lose their carriage returns)."""
    text = token.value
    if token.kind == "RAW_STRING":
        return text[1:-1].replace("\r", "")
    return _decode_escapes(text[1:-1], text[0])


def number(token: Token) -> int | float:
    """The value Go's ``idealConstant`` gives a number literal where any type is accepted."""
    text = token.value
    if token.kind == "COMPLEX" or text.endswith("i"):
        raise ValueError(f"complex number {text} is not supported")
    if token.kind == "CHAR_CONSTANT":
        value = _decode_escapes(text[1:-1], "'")
        if len(value) != 1:
            raise ValueError(f"malformed character constant: {text}")
        return ord(value)
    if _INTEGER.fullmatch(text):
        body = text.lstrip("+-").replace("_", "")
        if len(body) > 1 and body[0] == "0":
            prefix = body[1].lower()
            number = int(body[2:], _BASES[prefix]) if prefix in _BASES else int(body, 8)
        else:
            number = int(body)
        number = -number if text.startswith("-") else number
        if not -_INT64 <= number < _INT64:
            raise ValueError(f"{text} overflows int")
        return number
    try:
        if "x" in text.lower():
            result = float.fromhex(text.replace("_", ""))
        elif _DECIMAL_FLOAT.fullmatch(text):
            result = float(text.replace("_", ""))
        else:
            raise ValueError(text)
    except ValueError:
        raise ValueError(f"illegal number syntax: {go_quote(text)}") from None
    if not any(char in text for char in ".eEpP"):
        raise ValueError(f"integer overflow: {go_quote(text)}")
    return result
