"""One long-lived ``git cat-file --batch`` per mirror, for reads of a few objects.

A daemon's commit of one node reads one tree per directory level on the changed path, a few at
a time; starting ``git`` for each read cost it more than everything it computes. The process
answers one object per round trip (a request is written only after the previous answer is read,
so neither side can fill a pipe and wait for the other), and finds objects written after it
started (git looks again when an object is missing). Large batches still go to a one-shot
process, which streams them faster.
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

from lynq_bridge.errors import GitUnavailable

LARGEST_BATCH = 64  # more objects than this: one ``git cat-file --batch`` process of its own


class CatFile:
    """``git cat-file --batch`` of ``git_dir``, started on first use and after a failure."""

    def __init__(self, git_dir: Path) -> None:
        self.git_dir = git_dir
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def read(self, objects: list[str]) -> list[bytes | None]:
        """The contents of ``objects`` (names git resolves: ids or ``commit:path``), in order;
        None for a missing one."""
        with self._lock:
            try:
                return [self._read_one(name) for name in objects]
            except (OSError, ValueError) as exc:
                self._stop()
                raise GitUnavailable(f"git cat-file in {self.git_dir} failed: {exc}") from exc

    def _read_one(self, name: str) -> bytes | None:
        if "\n" in name:
            raise ValueError(f"object name {name!r} has a line break")
        process = self._start()
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(name.encode("utf-8", "surrogateescape") + b"\n")
        process.stdin.flush()
        header = process.stdout.readline()
        if not header:
            raise ValueError("the process ended")
        fields = header.split()
        if fields[-1] == b"missing" or fields[-1] == b"ambiguous":
            return None
        size = int(fields[2])
        content = process.stdout.read(size + 1)
        if len(content) != size + 1:
            raise ValueError("the answer was cut short")
        return content[:size]

    def _start(self) -> subprocess.Popen[bytes]:
        if self._process is not None and self._process.poll() is not None:
            self._stop()  # it ended: its pipes go with it
        if self._process is None:
            self._process = subprocess.Popen(
                ["git", f"--git-dir={self.git_dir}", "cat-file", "--batch"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
            )
        return self._process

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
