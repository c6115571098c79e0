"""Case conversion with Go semantics: a port of github.com/huandu/xstrings v1.5 (Sprig 3.3).

Kept apart from ``functions`` because it is a line-by-line port that is easier to check against
its source on its own. Go maps one rune to one rune, so the helpers never expand a character
("ß" stays "ß" where Python's ``upper()`` gives "SS").
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

# Go's unicode.IsSpace, which strings.TrimSpace uses; str.strip() would also strip \x1c-\x1f.
GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)


def upper1(char: str) -> str:
    # Go maps one rune to one rune; Python's full mapping may expand ("ß" -> "SS").
    upper_char = char.upper()
    return upper_char if len(upper_char) == 1 else char


def title1(char: str) -> str:
    title_char = char.title()
    return title_char if len(title_char) == 1 else upper1(char)


def lower1(char: str) -> str:
    lower_char = char.lower()
    return lower_char if len(lower_char) == 1 else char


# --- case conversion: github.com/huandu/xstrings v1.5 (Sprig 3.3) ---------------------------

_INVALID, _NUMBER, _UPPER, _ALPHA, _CONNECTOR, _PUNCT, _OTHER = range(7)


def _is_upper(char: str) -> bool:
    return unicodedata.category(char) == "Lu"


def _is_punct(char: str) -> bool:
    return unicodedata.category(char).startswith("P")


def _is_number(char: str) -> bool:
    return unicodedata.category(char).startswith("N")


def _is_connector(char: str) -> bool:
    return char in "-_" or char in GO_SPACE


def _is_alphabet(char: str) -> bool:
    # A letter that is not a CJK ideograph (CJK has no case, so it never starts a new word).
    if not char.isalpha():
        return False
    code = ord(char)
    return not (0x4E00 <= code <= 0x9FCC or 0x3400 <= code <= 0x4D85 or 0x20000 <= code <= 0x2B81D)


def _run_end(text: str, start: int, accept: Callable[[str], bool]) -> int:
    while start < len(text) and accept(text[start]):
        start += 1
    return start


def _next_word(text: str) -> tuple[int, str, str]:
    if not text:
        return _INVALID, "", ""
    first = text[0]
    if _is_connector(first):
        kind, end = _CONNECTOR, _run_end(text, 1, _is_connector)
    elif _is_punct(first):
        kind, end = _PUNCT, _run_end(text, 1, _is_punct)
    elif _is_upper(first):
        kind, end = _UPPER, 1
        if len(text) > 1 and _is_upper(text[1]):
            end = _run_end(text, 1, _is_upper)
            if end < len(text) and _is_alphabet(text[end]):
                end -= 1  # "HTTPServer" splits as "HTTP" + "Server"
        elif len(text) > 1 and _is_alphabet(text[1]):
            end = _run_end(text, 1, lambda c: _is_alphabet(c) and not _is_upper(c))
    elif _is_alphabet(first):
        kind, end = _ALPHA, _run_end(text, 1, lambda c: _is_alphabet(c) and not _is_upper(c))
    elif _is_number(first):
        kind, end = _NUMBER, _run_end(text, 1, _is_number)
    else:
        kind = _OTHER
        end = _run_end(
            text,
            1,
            lambda c: not (_is_connector(c) or _is_alphabet(c) or _is_number(c) or _is_punct(c)),
        )
    return kind, text[:end], text[end:]


def _write_lower(out: list[str], kind: int, word: str, connector: str) -> None:
    if kind not in (_UPPER, _CONNECTOR):
        out.append(word)
        return
    for char in word:
        out.append(connector if _is_connector(char) else lower1(char))


def _split_lower(text: str, connector: str) -> str:
    # A line-by-line port of xstrings.camelCaseToLowerCase; the branches mirror its switch.
    if not text:
        return ""
    out: list[str] = []
    kind, word, rest = _next_word(text)
    while rest:
        if kind != _CONNECTOR:
            _write_lower(out, kind, word, connector)
        previous, last = kind, word
        kind, word, rest = _next_word(rest)
        if previous == _NUMBER:
            while kind in (_ALPHA, _NUMBER):
                _write_lower(out, kind, word, connector)
                kind, word, rest = _next_word(rest)
            if kind not in (_INVALID, _PUNCT, _CONNECTOR):
                out.append(connector)
        elif previous == _CONNECTOR:
            _write_lower(out, previous, last, connector)
        elif previous == _PUNCT:
            pass
        elif kind != _NUMBER:
            if kind not in (_CONNECTOR, _PUNCT):
                out.append(connector)
        elif rest:
            last = word
            kind, word, rest = _next_word(rest)
            if kind != _ALPHA:  # a number ends the previous word: "Bld4Floor" -> "bld4_floor"
                _write_lower(out, _NUMBER, last, connector)
                if kind not in (_CONNECTOR, _PUNCT):
                    out.append(connector)
                continue
            out.append(connector)  # letters after a number start a word: "HTTP2xx" -> "http_2xx"
            _write_lower(out, _NUMBER, last, connector)
            while kind in (_ALPHA, _NUMBER):
                _write_lower(out, kind, word, connector)
                kind, word, rest = _next_word(rest)
            if kind not in (_INVALID, _CONNECTOR, _PUNCT):
                out.append(connector)
    _write_lower(out, kind, word, connector)
    return "".join(out)


def snake_case(text: str) -> str:
    """``FirstName`` -> ``first_name``, ``HTTPServer`` -> ``http_server``."""
    return _split_lower(text, "_")


def kebab_case(text: str) -> str:
    """``FirstName`` -> ``first-name``, ``HTTPServer`` -> ``http-server``."""
    return _split_lower(text, "-")


def camel_case(text: str) -> str:
    """``http_server`` -> ``HttpServer`` (Sprig's camelcase is upper camel case)."""
    # A line-by-line port of xstrings.toCamelCase(str, isBig=true).
    out: list[str] = []
    index, current, first_upper = 0, "", False
    while index < len(text):
        current = text[index]
        index += 1
        if not _is_connector(current):
            first_upper = _is_upper(current)
            current = upper1(current)
            break
        out.append(current)
    if index >= len(text):
        if text:
            out.append(current)
        return "".join(out)
    for char in text[index:]:
        previous, current = current, char
        if _is_connector(current) and _is_connector(previous):
            out.append(previous)
            continue
        if _is_connector(previous):
            first_upper = _is_upper(current)
            current = upper1(current)
        else:
            if first_upper:
                if _is_upper(current):
                    current = lower1(current)
                else:
                    first_upper = False
            out.append(previous)
    out.append(current)
    return "".join(out)
