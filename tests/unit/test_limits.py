"""core.limits at its exact boundaries: growth, integer size, printf widths, the deadline."""

from __future__ import annotations

import itertools

import pytest

from lynq_bridge.core.limits import (
    MAX_INT_BITS,
    MAX_RESULT,
    Deadline,
    LimitExceeded,
    active_deadline,
    check_growth,
    check_int_bits,
    check_percent_format,
    check_time,
    checked_iteration,
    size_of,
)


def test_growth_is_limited_to_max_result_beyond_the_largest_input() -> None:
    check_growth("x", MAX_RESULT)  # small results are never refused
    with pytest.raises(LimitExceeded, match="more than 1,048,576 beyond its largest input"):
        check_growth("x", MAX_RESULT + 1)
    check_growth("x", MAX_RESULT + 1, "a")
    check_growth("x", MAX_RESULT + 10, "a" * 10)
    with pytest.raises(LimitExceeded):
        check_growth("x", MAX_RESULT + 11, "a" * 10)


def test_size_counts_text_and_items() -> None:
    assert size_of("abc") == 3 == size_of(b"abc")
    assert size_of(["ab", "c", 7]) == 3 + 3
    assert size_of({"k": 1}) == 1 + 1
    assert size_of(7) == 0 == size_of(None)


def test_integer_bits_are_limited_at_exactly_max_int_bits() -> None:
    check_int_bits("x", MAX_INT_BITS)
    with pytest.raises(LimitExceeded, match="65,537 bits"):
        check_int_bits("x", MAX_INT_BITS + 1)


def test_printf_width_is_limited_at_exactly_max_result() -> None:
    check_percent_format(f"%{MAX_RESULT}s and %.{MAX_RESULT}f")
    with pytest.raises(LimitExceeded, match="1048577"):
        check_percent_format(f"%{MAX_RESULT + 1}s")
    with pytest.raises(LimitExceeded, match="precision"):
        check_percent_format("%.9999999999999999999999999999f")
    with pytest.raises(LimitExceeded, match=r'a "\*" width'):
        check_percent_format("%*d")


class Clock:
    """A clock that only moves when told."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_check_time_raises_only_past_the_active_deadline() -> None:
    clock = Clock()
    deadline = Deadline(clock, seconds=2.0)
    check_time()  # no active deadline: nothing to check
    with active_deadline(deadline):
        check_time()
        clock.now = 2.0
        check_time()  # exactly at the deadline is still in time
        clock.now = 2.5
        with pytest.raises(LimitExceeded, match="longer than 2 s"):
            check_time()
    check_time()  # the deadline is no longer active


def test_loops_look_at_the_clock_every_1024_iterations() -> None:
    clock = Clock()
    deadline = Deadline(clock, seconds=1.0)
    clock.now = 5.0  # already past: the next look raises
    with active_deadline(deadline):
        assert len(list(checked_iteration(range(1023)))) == 1023
        consumed = []
        with pytest.raises(LimitExceeded):
            consumed.extend(checked_iteration(itertools.count()))
        assert len(consumed) == 1023
    assert list(checked_iteration(range(5000)))[-1] == 4999  # no deadline: no limit


def test_object_size_limit_is_exactly_1_5_mib() -> None:
    from lynq_bridge.core.limits import MAX_OBJECT_BYTES, object_size_problem

    assert object_size_problem(MAX_OBJECT_BYTES) is None
    assert object_size_problem(MAX_OBJECT_BYTES + 1) == (
        "the rendered object is 1.5 MiB, larger than the 1.5 MiB the Kubernetes API accepts"
    )
    assert object_size_problem(3 << 20, at_least=True) == (
        "the rendered object is at least 3.0 MiB, larger than the 1.5 MiB the Kubernetes API "
        "accepts"
    )
