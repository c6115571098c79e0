"""Python's cyclic garbage collector around a sync pass's bulk reads.

A pass reads its hub's rows (the query's records and the rows made of them) and, in a new
process, the state the last one kept (``adapters.settledfile``): at 100,000 rows, several hundred
thousand tuples, lists and dicts, all of which live until the pass ends. The collector counts each
new container and now and then walks every one it tracks: four full collections during those
reads, 0.2–0.3 s of a one-row ``sync --once`` of about 2 s at 100,000 rows, and as much of a
daemon's pass (bench/README.md). None of it is garbage.

So ``reading()`` pauses the collector while a pass reads, then freezes (``gc.freeze``) what
exists, which later collections skip, and ``thaw()``, at the end of the pass, hands it back to the
collector. Memory is freed as before: reference counting frees whatever is dropped; only reference
cycles made before the freeze wait until the pass ends to be collected. Overlapping reads (passes
on several threads) share one count: the collector runs again when the last of them ends. A
collector that was off when the first read began is left off.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator


class _Reads:
    """The reads in progress, and whether the collector was on when the first of them began."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.resume = False


_reads = _Reads()


@contextlib.contextmanager
def reading() -> Iterator[None]:
    """Pause the collector while the block reads; then freeze what exists, until ``thaw()``."""
    with _reads.lock:
        if _reads.count == 0:
            _reads.resume = gc.isenabled()
            gc.disable()
        _reads.count += 1
    try:
        yield
    finally:
        with _reads.lock:
            _reads.count -= 1
            if _reads.count == 0 and _reads.resume:
                gc.freeze()
                gc.enable()


def thaw() -> None:
    """The end of a pass: what ``reading()`` froze is collected again (the bridge freezes
    nothing else)."""
    gc.unfreeze()
