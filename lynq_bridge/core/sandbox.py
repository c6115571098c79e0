"""The Jinja sandbox with limits: every operation that can grow a value or run long is bounded.

Jinja's ``ImmutableSandboxedEnvironment`` guards what a template may reach, not how much it may
make or how long it may run. ``BoundedEnvironment`` adds both, using the policy of ``limits``:
the ``*``, ``%``, ``+`` and ``**`` operators, every call (including ``str`` methods and
``str.format``), every filter (``bounded_filter``), and, through ``Rewrite``, every ``~`` and
``for`` loop. It is separate from ``templating``, which owns what a template may *name*, because
this module owns what a template may *cost*.
"""

from __future__ import annotations

import functools
import math
import re
import types
from collections.abc import Callable, Iterator, Mapping
from string import Formatter
from typing import Any, Final

import jinja2
from jinja2 import nodes
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from lynq_bridge.core import limits

__all__ = ["BoundedEnvironment", "Rewrite", "bounded_filter", "join"]

_STR_METHODS_WIDTH: Final = frozenset({"center", "ljust", "rjust", "zfill"})
_DIGITS: Final = re.compile(r"[0-9]+")  # widths and precisions in a str.format spec


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox with every growing operation bounded and the deadline checked."""

    intercepted_binops = frozenset({"*", "%", "+", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        limits.check_time()
        what = f'"{operator}"'
        if operator == "*":
            _check_multiply(left, right)
        elif operator == "**":
            if _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1:
                limits.check_int_bits(what, math.ceil(right * math.log2(abs(left))))
        elif operator == "%" and isinstance(left, str):
            limits.check_percent_format(left)
        result = self.binop_table[operator](left, right)
        limits.check_growth(what, limits.size_of(result), left, right)
        return result

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        limits.check_time()
        owner = getattr(obj, "__self__", None)
        name = getattr(obj, "__name__", type(obj).__name__)
        if isinstance(obj, types.BuiltinMethodType) and isinstance(owner, str | bytes):
            args = _check_text_method(name, owner, args, kwargs)
        result = super().call(context, obj, *args, **kwargs)
        limits.check_growth(f'calling "{name}"', limits.size_of(result), owner, *args)
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        text: str = value.__self__

        def bounded(*args: Any, **kwargs: Any) -> str:
            for _, _, spec, _ in Formatter().parse(text):
                if spec and "{" in spec:
                    raise limits.LimitExceeded("a nested field in a format spec is not allowed")
                for number in _DIGITS.findall(spec or ""):  # a width or precision
                    width = int(number) if len(number) < 10 else 10**10
                    limits.check_growth(f'"format" width {number:.12}', width)
            result = wrapper(*args, **kwargs)
            limits.check_growth('"format"', len(result), text, *args, *kwargs.values())
            return result

        return bounded

    def lynq_concat(self, *parts: Any) -> str:
        """The ``~`` operator (Jinja's ``strjoin``), bounded."""
        texts = [str(part) for part in parts]
        limits.check_growth('"~"', sum(map(len, texts)), *texts)
        return "".join(texts)

    def lynq_iterate(self, iterable: Any) -> Iterator[object]:
        """What a ``for`` loop iterates: the same items, with the deadline checked."""
        return limits.checked_iteration(iterable)


def _is_int(value: object) -> bool:
    return isinstance(value, int)  # bool included: True * "x" is "x"


def _check_multiply(left: Any, right: Any) -> None:
    if _is_int(left) and _is_int(right):
        limits.check_int_bits('"*"', left.bit_length() + right.bit_length())
        return
    sequence, count = (right, left) if _is_int(left) else (left, right)
    if _is_int(count) and count > 0:
        limits.check_growth('"*"', limits.size_of(sequence) * count, sequence)


def _check_text_method(
    name: str, owner: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> tuple[Any, ...]:
    """Refuse a growing str/bytes method call before it allocates; ``join`` gets a list."""
    what = f'calling "{name}"'
    if name in _STR_METHODS_WIDTH:
        width = args[0] if args else kwargs.get("width", 0)
        if _is_int(width):
            limits.check_growth(what, width, owner)
    elif name == "expandtabs":
        tabsize = args[0] if args else kwargs.get("tabsize", 8)
        if _is_int(tabsize):
            tabs = owner.count(b"\t" if isinstance(owner, bytes) else "\t")
            limits.check_growth(what, len(owner) + tabs * tabsize, owner)
    elif name == "replace" and len(args) >= 2:
        old, new = args[0], args[1]
        if type(old) is type(owner) and type(new) is type(owner):
            count = owner.count(old) if old else len(owner) + 1
            limits.check_growth(what, len(owner) + count * (len(new) - len(old)), owner)
    elif name == "join" and args:
        items = list(args[0])
        size = sum(len(i) for i in items if isinstance(i, str | bytes))
        limits.check_growth(what, size + len(owner) * max(len(items) - 1, 0), items)
        args = (items, *args[1:])
    return args


_jinjajoin = jinja2.filters.FILTERS["join"]


@jinja2.pass_eval_context
def join(eval_ctx: Any, value: Any, d: Any = "", attribute: Any = None) -> str:
    """Jinja's ``join`` on a list, refused before it allocates a too large result."""
    items = list(value)
    separator = str(d)
    size = sum(len(i) for i in items if isinstance(i, str)) + len(separator) * len(items)
    limits.check_growth('filter "join"', size, items, separator)
    return str(_jinjajoin(eval_ctx, items, d, attribute))


def _pre_center(value: Any, width: Any = 80) -> None:
    if _is_int(width):
        limits.check_growth('filter "center"', width, value)


def _pre_indent(s: Any, width: Any = 4, first: Any = False, blank: Any = False) -> None:
    text = str(s)
    step = len(width) if isinstance(width, str) else width if _is_int(width) else 0
    limits.check_growth('filter "indent"', len(text) + step * (text.count("\n") + 1), text)


def _pre_wordwrap(s: Any, width: Any = 79, *args: Any, wrapstring: Any = None, **_: Any) -> None:
    text = str(s)
    wrap = str(args[1] if len(args) > 1 else wrapstring or "\n")
    lines = text.count("\n") + 1 + (len(text) // width if _is_int(width) and width > 0 else 0)
    limits.check_growth('filter "wordwrap"', len(text) + lines * len(wrap), text)


def _pre_count(what: str) -> Callable[..., None]:
    def check(value: Any, count: Any = 0, fill_with: Any = None) -> None:
        if _is_int(count) and (fill_with is not None or what == "slice"):
            limits.check_growth(f'filter "{what}"', count, value)

    return check


def _pre_format(value: Any, *args: Any, **kwargs: Any) -> None:
    limits.check_percent_format(str(value))


_FILTER_CHECKS: Final[dict[str, Callable[..., None]]] = {
    "center": _pre_center,
    "indent": _pre_indent,
    "wordwrap": _pre_wordwrap,
    "batch": _pre_count("batch"),
    "slice": _pre_count("slice"),
    "format": _pre_format,
}


def bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` with the deadline checked, growth refused before (see ``_FILTER_CHECKS``)
    and after the call; the wrapper keeps Jinja's ``pass_*`` marker."""
    check = _FILTER_CHECKS.get(name)
    skip = 1 if getattr(function, "jinja_pass_arg", None) is not None else 0
    what = f'filter "{name}"'

    @functools.wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        limits.check_time()
        inputs = args[skip:]
        if check is not None:
            check(*inputs, **kwargs)
        result = function(*args, **kwargs)
        limits.check_growth(what, limits.size_of(result), *inputs, *kwargs.values())
        return result

    return bounded


class Rewrite(NodeTransformer):
    """Route ``~`` and ``for`` through the environment's bounded versions."""

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _environment_call("lynq_concat", list(node.nodes), node.lineno)

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _environment_call("lynq_iterate", [node.iter], node.lineno)
        return node


def _environment_call(method: str, args: list[Any], lineno: int) -> nodes.Call:
    callee = nodes.EnvironmentAttribute(method, lineno=lineno)
    return nodes.Call(callee, args, [], None, None, lineno=lineno)
