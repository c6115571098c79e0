"""Sprig's path and URL functions: Go's ``path`` package and ``net/url``, on text.

``base``/``dir``/``clean``/``ext``/``isAbs`` are Go's ``path`` functions (slash-separated, no
file system); the ``os…`` variants are the same because Lynq runs on Linux. ``urlParse`` splits
a URL into the dict Sprig returns and ``urlJoin`` builds one back, following ``net/url``'s
``Parse`` and ``URL.String`` for the common forms; a URL Go rejects (a bad ``%`` escape, a
non-numeric port, a missing scheme before ``:``) is an error.
"""

from __future__ import annotations

import re
import string
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Final

from lynq_bridge.core.sprig_values import FunctionError, as_map, as_text, go_kind

__all__ = ["PATH_FUNCTIONS"]

_SCHEME: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_BAD_ESCAPE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
_UNRESERVED: Final = frozenset(string.ascii_letters + string.digits + "-_.~")
_SAFE: Final = {
    "path": _UNRESERVED | frozenset("$&+,/:;=@"),
    "host": _UNRESERVED | frozenset("!$&'()*+,;=:[]<>\""),
    "fragment": _UNRESERVED | frozenset("$&+,/:;=?@!()*"),
    "userinfo": _UNRESERVED | frozenset("$&+,;="),
}


# --- path ------------------------------------------------------------------------------------


def clean(path: object) -> str:
    """Go's ``path.Clean``: the shortest equivalent path (``a/../b/./c/`` is ``b/c``)."""
    text = as_text(path)
    rooted = text.startswith("/")
    parts: list[str] = []
    for part in text.split("/"):
        if part in ("", "."):
            continue
        if part == ".." and parts and parts[-1] != "..":
            parts.pop()
        elif part != ".." or not rooted:
            parts.append(part)
    joined = "/".join(parts)
    if rooted:
        return "/" + joined
    return joined or "."


def base(path: object) -> str:
    text = as_text(path).rstrip("/")
    if not as_text(path):
        return "."
    return text.rpartition("/")[2] or "/"


def directory(path: object) -> str:
    text = as_text(path)
    return clean(text[: text.rfind("/") + 1])


def ext(path: object) -> str:
    name = as_text(path).rpartition("/")[2]
    dot = name.rfind(".")
    return name[dot:] if dot >= 0 else ""


def is_abs(path: object) -> bool:
    return as_text(path).startswith("/")


# --- URLs ------------------------------------------------------------------------------------


def _unescape(text: str) -> str:
    bad = _BAD_ESCAPE.search(text)
    if bad:
        raise FunctionError(f'invalid URL escape "{text[bad.start() : bad.start() + 3]}"')
    return urllib.parse.unquote(text, errors="replace")


def _escape(text: str, mode: str) -> str:
    safe = _SAFE[mode]
    return "".join(c if c in safe else urllib.parse.quote(c, safe="") for c in text)


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if ":" in host else host


def url_parse(value: object) -> dict[str, object]:
    """The parts of a URL: scheme, host, hostname, path, query, opaque, fragment, userinfo."""
    text = as_text(value)
    rest, has_fragment, fragment = text.partition("#")
    parts: dict[str, object] = dict.fromkeys(
        ("scheme", "host", "hostname", "path", "query", "opaque", "userinfo"), ""
    )
    parts["fragment"] = _unescape(fragment) if has_fragment else ""
    scheme = _SCHEME.match(rest)
    if scheme:
        parts["scheme"] = scheme.group(1).lower()
        rest = rest[scheme.end() :]
    elif rest.startswith(":"):
        raise FunctionError(f"unable to parse url: parse {text!r}: missing protocol scheme")
    rest, has_query, query = rest.partition("?")
    parts["query"] = query if has_query else ""
    if scheme and not rest.startswith("/"):
        parts["opaque"] = rest
        return parts
    if rest.startswith("//"):
        authority, slash, rest = rest[2:].partition("/")
        rest = slash + rest
        userinfo, at, host = authority.rpartition("@")
        if at:
            parts["userinfo"] = userinfo
        port = host.rpartition("]")[2].rpartition(":")[2] if ":" in host else ""
        if port and not port.isdigit():
            raise FunctionError(f'unable to parse url: invalid port ":{port}" after host')
        parts["host"] = _unescape(host)
        parts["hostname"] = _hostname(str(parts["host"]))
    elif not scheme and ":" in rest.partition("/")[0]:
        raise FunctionError(
            f"unable to parse url: parse {text!r}: first path segment in URL cannot contain colon"
        )
    parts["path"] = _unescape(rest)
    return parts


def _text_field(parts: Mapping[str, object], key: str) -> str:
    value = parts.get(key, "")
    if not isinstance(value, str):
        raise FunctionError(
            f"unable to parse {key} key, must be of type string, but {go_kind(value)} found"
        )
    return value


def url_join(value: object) -> str:
    """A URL from the dict ``urlParse`` makes (Go's ``URL.String``)."""
    parts = as_map(value)
    scheme, host, path = (_text_field(parts, k) for k in ("scheme", "host", "path"))
    query, opaque, fragment = (_text_field(parts, k) for k in ("query", "opaque", "fragment"))
    userinfo = _text_field(parts, "userinfo")
    out = scheme + ":" if scheme else ""
    if opaque:
        out += opaque
    else:
        if scheme or host or userinfo:
            if host or path or userinfo:
                out += "//"
            if userinfo:
                name, colon, password = userinfo.partition(":")
                out += _escape(urllib.parse.unquote(name), "userinfo")
                out += (":" + _escape(urllib.parse.unquote(password), "userinfo")) * bool(colon)
                out += "@"
            out += _escape(host, "host")
        escaped = _escape(path, "path")
        if escaped and not escaped.startswith("/") and host:
            out += "/"
        if not out and ":" in escaped.partition("/")[0]:
            out += "./"
        out += escaped
    if query:
        out += "?" + query
    if fragment:
        out += "#" + _escape(fragment, "fragment")
    return out


PATH_FUNCTIONS: Final[dict[str, Callable[..., object]]] = {
    "base": base,
    "dir": directory,
    "clean": clean,
    "ext": ext,
    "isAbs": is_abs,
    "osBase": base,
    "osClean": clean,
    "osDir": directory,
    "osExt": ext,
    "osIsAbs": is_abs,
    "urlParse": url_parse,
    "urlJoin": url_join,
}
"""The path and URL functions by their Go template names."""
