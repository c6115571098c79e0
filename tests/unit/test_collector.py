"""The collector around a pass's bulk reads (``lynq_bridge.collector``)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from lynq_bridge import collector


class Node:
    """An object that can sit in a reference cycle and be watched by a weak reference."""

    other: object = None


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    """Every test starts and leaves with the collector on and nothing frozen."""
    gc.enable()
    gc.unfreeze()
    yield
    gc.enable()
    gc.unfreeze()


def cycle() -> weakref.ref[Node]:
    """A reference cycle nothing else refers to, watched by a weak reference."""
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_the_collector_is_paused_while_reading_and_on_again_after() -> None:
    with collector.reading():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_what_was_read_is_frozen_until_the_pass_ends() -> None:
    with collector.reading():
        kept = [[i] for i in range(1000)]
    assert gc.get_freeze_count() >= len(kept)
    collector.thaw()
    assert gc.get_freeze_count() == 0


def test_a_cycle_made_while_reading_is_collected_once_the_pass_ends() -> None:
    with collector.reading():
        watched = cycle()
    gc.collect()
    assert watched() is not None  # frozen: the collector skips it until thaw()
    collector.thaw()
    gc.collect()
    assert watched() is None


def test_a_cycle_made_after_the_reads_is_collected_during_the_pass() -> None:
    with collector.reading():
        pass
    watched = cycle()
    gc.collect()
    assert watched() is None


def test_overlapping_reads_resume_the_collector_when_the_last_one_ends() -> None:
    outer = collector.reading()
    outer.__enter__()
    with collector.reading():
        pass
    assert not gc.isenabled() and gc.get_freeze_count() == 0
    outer.__exit__(None, None, None)
    assert gc.isenabled() and gc.get_freeze_count() > 0


def test_a_read_that_fails_resumes_the_collector() -> None:
    with pytest.raises(RuntimeError), collector.reading():
        raise RuntimeError("the query failed")
    assert gc.isenabled()


def test_a_collector_that_was_off_is_left_off_and_nothing_is_frozen() -> None:
    gc.disable()
    with collector.reading():
        pass
    assert not gc.isenabled() and gc.get_freeze_count() == 0
