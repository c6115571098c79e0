"""How much a template may make and how long a node may take: the resource limits of rendering.

Forms come from people who may get them wrong, and row values from people who may be hostile;
neither may stall a sync or exhaust the machine's memory. Jinja's sandbox guards access, not
size or time, so the engine (``templating``) calls the checks here from every operator, call,
filter and loop that can grow a value or run long. They are separate from ``templating`` because
they are policy (numbers with reasons), and ``rendering`` applies the same numbers to whole
objects.

The invariant that bounds memory: no template operation makes a value more than
``MAX_RESULT`` larger than its largest input. Operations that multiply (``*``, ``**``, padding
widths, ``indent``, ``batch``) are checked *before* they allocate; the others (concatenation,
filters, calls) can only add up their inputs and are checked after. So a value grows by at most
``MAX_RESULT`` per operation in the template: a chain or a recursion cannot double it again and
again, while a row value of any size still passes through ``~``, ``replace`` or ``upper``.

Time: ``rendering`` activates a ``Deadline`` (built from a clock the caller injects; the core
reads no clock of its own) around each node, and the same hooks, plus every loop iteration,
check it. A node past its deadline fails its remaining resources.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final, TypeVar

__all__ = [
    "MAX_INT_BITS",
    "MAX_OBJECT_BYTES",
    "MAX_RESULT",
    "NODE_SECONDS",
    "Deadline",
    "LimitExceeded",
    "active_deadline",
    "check_growth",
    "check_percent_format",
    "check_time",
    "checked_iteration",
    "object_size_problem",
    "size_of",
]

MAX_RESULT: Final = 1 << 20
"""Characters (or items) by which one template operation may grow a value beyond its largest
input: 1 MiB, the most a ConfigMap or Secret may hold, so no value a valid object needs is
refused."""

MAX_INT_BITS: Final = 1 << 16
"""Bits of an integer a template may compute (about 19,700 digits): far beyond any count,
port or size, and small enough that ``10 ** 10 ** 10`` is refused instead of computed."""

MAX_OBJECT_BYTES: Final = 1_572_864
"""Bytes of one rendered object's YAML: 1.5 MiB, the request size the Kubernetes API server
(and etcd's default value size) accepts; a larger object could never be applied."""

NODE_SECONDS: Final = 2.0
"""Seconds one node (one row x one form) may take to render. Real nodes take about a
millisecond; two seconds leaves room for a slow machine and stops a runaway template long
before it delays the sync of the other rows noticeably."""

T = TypeVar("T")
_CHECK_EVERY: Final = 1024  # loop iterations between two looks at the clock


class LimitExceeded(Exception):
    """A template went past a size or time limit; the message says which and by how much."""


class Deadline:
    """The moment a node's render must be done by, on the caller's clock."""

    def __init__(self, clock: Callable[[], float], seconds: float = NODE_SECONDS) -> None:
        self._clock = clock
        self.seconds = seconds
        self._at = clock() + seconds

    @property
    def expired(self) -> bool:
        return self._clock() > self._at

    def check(self) -> None:
        """Raise ``LimitExceeded`` once the deadline has passed."""
        if self.expired:
            raise LimitExceeded(self.message)

    @property
    def message(self) -> str:
        return f"rendering the node took longer than {self.seconds:g} s"


_current: ContextVar[Deadline | None] = ContextVar("lynq_bridge_deadline", default=None)


@contextmanager
def active_deadline(deadline: Deadline | None) -> Iterator[None]:
    """Make ``deadline`` the one the template hooks check while the block runs."""
    token = _current.set(deadline)
    try:
        yield
    finally:
        _current.reset(token)


def check_time() -> None:
    """Raise ``LimitExceeded`` when the active deadline (if any) has passed."""
    deadline = _current.get()
    if deadline is not None:
        deadline.check()


def checked_iteration(iterable: Iterable[T]) -> Iterator[T]:
    """Iterate like ``for`` does, looking at the deadline every few iterations."""
    deadline = _current.get()
    iterator = iter(iterable)
    if deadline is None:
        yield from iterator
        return
    for count, item in enumerate(iterator, start=1):
        if count % _CHECK_EVERY == 0:
            deadline.check()
        yield item


def size_of(value: object) -> int:
    """The size the limits count: characters of text, items (plus their text) of collections."""
    if isinstance(value, str | bytes | bytearray):
        return len(value)
    if isinstance(value, list | tuple | dict | set | frozenset):
        return len(value) + sum(len(item) for item in value if isinstance(item, str | bytes))
    return 0


def check_growth(what: str, size: int, *inputs: object) -> None:
    """Refuse a result of ``size`` more than ``MAX_RESULT`` larger than its largest input."""
    if size <= MAX_RESULT:
        return
    largest = max((size_of(value) for value in inputs), default=0)
    if size > largest + MAX_RESULT:
        raise LimitExceeded(
            f"{what} would make a value of {size:,} characters or items, more than "
            f"{MAX_RESULT:,} beyond its largest input"
        )


def check_int_bits(what: str, bits: int) -> None:
    """Refuse an integer result of more than ``MAX_INT_BITS`` bits."""
    if bits > MAX_INT_BITS:
        raise LimitExceeded(
            f"{what} would make an integer of about {bits:,} bits, more than the "
            f"{MAX_INT_BITS:,} a template may compute"
        )


# The width and precision of every printf-style conversion: "%-10.3f", "%(name)20s", "%*d".
_PERCENT_SPEC: Final = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d*)(?:\.(\*|\d*))?")


def check_percent_format(text: str) -> None:
    """Refuse a ``%`` format whose widths or precisions would pad beyond ``MAX_RESULT``."""
    for match in _PERCENT_SPEC.finditer(text):
        for number in match.groups():
            if number == "*":
                raise LimitExceeded('a "*" width or precision in a % format is not allowed')
            if number and (len(number) > 9 or int(number) > MAX_RESULT):
                raise LimitExceeded(
                    f"a % format width or precision of {number} is more than the "
                    f"{MAX_RESULT:,} characters a template operation may make"
                )


def object_size_problem(size: int, *, at_least: bool = False) -> str | None:
    """Why a rendered object of ``size`` bytes (``at_least`` that many) cannot be written."""
    if size <= MAX_OBJECT_BYTES:
        return None
    return (
        f"the rendered object is {'at least ' if at_least else ''}{size / (1 << 20):.1f} MiB, "
        f"larger than the {MAX_OBJECT_BYTES / (1 << 20):g} MiB the Kubernetes API accepts"
    )
