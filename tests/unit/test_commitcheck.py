"""The check before a push reads git's NUL-separated output a chunk at a time."""

from __future__ import annotations

import io

import pytest

from lynq_bridge.adapters.commitcheck import nul_fields


@pytest.mark.parametrize("size", [1, 2, 3, 5, 1 << 20])
def test_fields_split_across_chunks_come_out_whole(size: int) -> None:
    data = b":000000 100644 0 1 A\0lynq/a.yaml\0:100644 000000 1 0 D\0lynq/b c.yaml\0"
    fields = list(nul_fields(io.BytesIO(data), size))
    assert fields == data.split(b"\0")[:-1]
    assert list(nul_fields(io.BytesIO(b"x\0y"), size)) == [b"x", b"y"]
    assert list(nul_fields(io.BytesIO(b""), size)) == []
