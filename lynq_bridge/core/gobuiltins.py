"""Go ``text/template``'s predefined functions, with Go's semantics and error texts.

``eq ne lt le gt ge`` (Go's comparison rules: basic kinds only, an int is not a float, ``nil``
equals only ``nil``), ``index``, ``slice`` and ``len`` (on text they count UTF-8 bytes, as Go
does), ``not``, ``print printf println`` (``gofmt``), ``html js urlquery``. ``and``/``or``
short-circuit, so the evaluator (``goexec``) runs them itself; ``call`` is refused there (it
would call a function held in data). A function raises ``BuiltinError`` with Go's message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from lynq_bridge.core.gofmt import go_type, sprint, sprintf, sprintln

__all__ = ["BUILTINS", "BuiltinError", "truth"]


class BuiltinError(Exception):
    """A builtin refused its arguments; the message is Go's."""


def truth(value: object) -> bool:
    """Go's ``isTrue``: empty text and collections, zero, false and nil are false."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str | list | tuple | Mapping):
        return len(value) > 0
    return True


def _kind(value: object) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return None


def eq(first: object, *others: object) -> bool:
    """Whether ``first`` equals any of ``others`` (Go's ``eq``)."""
    if not others:
        raise BuiltinError("missing argument for comparison")
    kind = _kind(first)
    for other in others:
        if kind != _kind(other):
            if first is not None and other is not None:
                raise BuiltinError("incompatible types for comparison")
            equal = False
        elif kind is None:
            if first is not None and other is not None:
                raise BuiltinError(f"non-comparable type {go_type(other)}")
            equal = first is None and other is None
        else:
            equal = first == other
        if equal:
            return True
    return False


def ne(first: object, second: object) -> bool:
    return not eq(first, second)


def lt(first: object, second: object) -> bool:
    kind, other_kind = _kind(first), _kind(second)
    if kind in (None, "bool") or other_kind in (None, "bool"):
        raise BuiltinError("invalid type for comparison")
    if kind != other_kind:
        raise BuiltinError("incompatible types for comparison")
    return bool(first < second)  # type: ignore[operator]


def le(first: object, second: object) -> bool:
    return lt(first, second) or eq(first, second)


def gt(first: object, second: object) -> bool:
    return not le(first, second)


def ge(first: object, second: object) -> bool:
    return not lt(first, second)


def _position(index: object, cap: int) -> int:
    if index is None:
        raise BuiltinError("cannot index slice/array with nil")
    if not isinstance(index, int) or isinstance(index, bool):
        raise BuiltinError(f"cannot index slice/array with type {go_type(index)}")
    if index < 0 or index > cap:
        raise BuiltinError(f"index out of range: {index}")
    return index


def index(item: object, *indexes: object) -> object:
    """``index x 1 2``: ``x[1][2]``; a missing map key gives nil, as in Go."""
    for key in indexes:
        if item is None:
            raise BuiltinError("index of untyped nil")
        if isinstance(item, Mapping):
            name = "" if key is None else key
            if not isinstance(name, str):
                raise BuiltinError(f"value has type {go_type(name)}; should be string")
            item = item.get(name)
        elif isinstance(item, list | tuple | str):
            data = item.encode() if isinstance(item, str) else item
            position = _position(key, len(data))
            if position == len(data):
                raise BuiltinError(f"index out of range: {position}")
            item = data[position]
        else:
            raise BuiltinError(f"can't index item of type {go_type(item)}")
    return item


def slice_(item: object, *indexes: object) -> object:
    """``slice x 1 3``: ``x[1:3]``; text is sliced by UTF-8 bytes and must stay valid text."""
    if item is None:
        raise BuiltinError("slice of untyped nil")
    if len(indexes) > 3:
        raise BuiltinError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise BuiltinError("cannot 3-index slice a string")
        data = item.encode()
    elif isinstance(item, list | tuple):
        data = item  # type: ignore[assignment]
    else:
        raise BuiltinError(f"can't slice item of type {go_type(item)}")
    bounds = [0, len(data)]
    for number, value in enumerate(indexes):
        position = _position(value, len(data))
        if number < 2:
            bounds[number] = position
    if bounds[0] > bounds[1]:
        raise BuiltinError(f"invalid slice index: {bounds[0]} > {bounds[1]}")
    part = data[bounds[0] : bounds[1]]
    if isinstance(part, bytes):
        try:
            return part.decode()
        except UnicodeDecodeError:
            raise BuiltinError("the slice would split a character of the text") from None
    return list(part)


def length(item: object) -> int:
    """Go's ``len``: UTF-8 bytes of text, items of a list or map."""
    if item is None:
        raise BuiltinError("len of nil pointer")
    if isinstance(item, str):
        return len(item.encode())
    if isinstance(item, list | tuple | Mapping):
        return len(item)
    raise BuiltinError(f"len of type {go_type(item)}")


def not_(value: object) -> bool:
    return not truth(value)


def printf(template: object, *args: object) -> str:
    if not isinstance(template, str):
        raise BuiltinError(f"wrong type for value; expected string; got {go_type(template)}")
    return sprintf(template, *args)


def _text(args: tuple[object, ...]) -> str:
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint(*args)


_HTML: Final = str.maketrans(
    {'"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;", "\0": "\ufffd"}
)
_JS: Final = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "<": "\\u003C",
    ">": "\\u003E",
    "&": "\\u0026",
    "=": "\\u003D",
}
_URL_SAFE: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def html(*args: object) -> str:
    return _text(args).translate(_HTML)


def js(*args: object) -> str:
    out: list[str] = []
    for char in _text(args):
        if char in _JS:
            out.append(_JS[char])
        elif char < " ":
            out.append(f"\\u{ord(char):04X}")
        elif char.isascii() or char.isprintable():
            out.append(char)
        else:
            out.append(f"\\u{ord(char):04X}")
    return "".join(out)


def urlquery(*args: object) -> str:
    out: list[str] = []
    for byte in _text(args).encode():
        if byte in _URL_SAFE:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


BUILTINS: Final[Mapping[str, Callable[..., object]]] = {
    "eq": eq,
    "ne": ne,
    "lt": lt,
    "le": le,
    "gt": gt,
    "ge": ge,
    "index": index,
    "slice": slice_,
    "len": length,
    "not": not_,
    "print": sprint,
    "printf": printf,
    "println": sprintln,
    "html": html,
    "js": js,
    "urlquery": urlquery,
}
"""Go's predefined functions by name (``and``/``or`` are evaluated by ``goexec``)."""
