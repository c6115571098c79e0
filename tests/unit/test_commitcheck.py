"""The check before a push reads git's NUL-separated output a chunk at a time; a pack is
written with each object once."""

from __future__ import annotations

import io

import pytest

from lynq_bridge.adapters.commitcheck import nul_fields
from lynq_bridge.adapters.packwriter import ObjectIds


@pytest.mark.parametrize("size", [1, 2, 3, 5, 1 << 20])
def test_fields_split_across_chunks_come_out_whole(size: int) -> None:
    data = b":000000 100644 0 1 A\0lynq/a.yaml\0:100644 000000 1 0 D\0lynq/b c.yaml\0"
    fields = list(nul_fields(io.BytesIO(data), size))
    assert fields == data.split(b"\0")[:-1]
    assert list(nul_fields(io.BytesIO(b"x\0y"), size)) == [b"x", b"y"]
    assert list(nul_fields(io.BytesIO(b""), size)) == []


def test_object_ids_are_added_once_and_never_matched_across_two() -> None:
    ids = ObjectIds()
    a = b"\0\1" + b"\0\1" + b"Y" * 16
    b = b"\0\1" + b"Z" * 18
    across = (a + b)[2:22]  # starts like both and lies across them
    assert across[:2] == b"\0\1" and across not in (a, b)
    assert ids.add(a) and ids.add(b) and not ids.add(a) and not ids.add(b)
    assert ids.add(across) and not ids.add(across)
    assert ids.count == 3
