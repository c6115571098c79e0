"""What untrusted text may become: path components, tree entries, one-line message values.

Row values, rendered fields and config strings reach four sinks that interpret them: file names
in the Git tree, the tree objects the bridge writes, commit messages and log lines. This module is
the one place that decides what may pass; every writer calls it, so the rules cannot drift.

Paths. A component is at most 255 characters of ``[A-Za-z0-9._-]`` (every name the bridge
writes is built from kinds, DNS names and its own file names, so nothing legitimate is refused),
is not ``.`` or ``..``, and is no spelling that ``git fsck`` or a checkout treats as the
repository's own: ``.git`` in any case, with trailing dots or spaces (NTFS), or any other
``.git*`` name (``.gitmodules`` and ``.gitattributes`` change how the repository is read). The
ASCII-only rule also excludes the HFS+ ``.git`` spellings with ignorable code points.

Trees. A written path is checked here before ``core.gittree`` turns it into tree entries.

Messages. A row-derived value is shown as one double-quoted line (``quote``), a composed message
with control characters escaped (``one_line``), each truncated so that a megabyte value cannot
flood a commit or a log.
"""

from __future__ import annotations

import re
from typing import Final

MAX_COMPONENT: Final = 255
MAX_QUOTED: Final = 120  # characters of a value shown in a message
MAX_LINE: Final = 2000  # characters of one composed message line

_COMPONENT: Final = re.compile(r"[A-Za-z0-9._-]+")
# C0 and C1 controls, DEL, and what some readers take as line breaks or a byte-order mark.
_UNSAFE_TEXT: Final = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff]")


class UnsafePath(ValueError):
    """A path that must not be written: the message says which component and why."""


def component_problem(name: str) -> str | None:
    """Why ``name`` cannot be one component of a path the bridge writes, or None."""
    if not name:
        return "it is empty"
    if name in (".", ".."):
        return f'"{name}" refers to a directory, not a name'
    if len(name) > MAX_COMPONENT:
        return f"it is longer than {MAX_COMPONENT} characters"
    if not _COMPONENT.fullmatch(name):
        return (
            f"{quote(name)} may only contain ASCII letters, digits, "
            '".", "_" and "-" (no "/", spaces or control characters)'
        )
    if name.lower().startswith(".git"):  # also ".git." and ".git.." (NTFS drops trailing dots)
        return f"{quote(name)} is reserved by Git"
    return None


def path_problem(path: str) -> str | None:
    """Why the relative ``path`` (components joined by ``/``) cannot be written, or None."""
    if not path:
        return "the path is empty"
    for component in path.split("/"):
        problem = component_problem(component)
        if problem:
            return f"path {quote(path)} has an unusable component: {problem}"
    return None


def check_path(path: str) -> str:
    """``path`` itself when it may be written; raises :class:`UnsafePath` otherwise."""
    problem = path_problem(path)
    if problem:
        raise UnsafePath(problem)
    return path


def is_below(path: str, root: str) -> bool:
    """True when ``path`` lies strictly inside the directory ``root`` (both relative)."""
    return path.startswith(root.rstrip("/") + "/")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    return named.get(char) or f"\\u{ord(char):04x}"


def one_line(text: str, limit: int = MAX_LINE) -> str:
    """``text`` as a single line: control characters escaped, truncated to ``limit``."""
    if len(text) > limit:
        text = f"{text[:limit]}…(+{len(text) - limit} characters)"
    return _UNSAFE_TEXT.sub(_escape, text)


def quote(value: str, limit: int = MAX_QUOTED) -> str:
    """A row-derived ``value`` for a message: double-quoted, one line, at most ``limit``
    characters of it (``"acme"``, ``"a\\nb"``, ``"xxx…(+9000 characters)"``)."""
    shown = value if len(value) <= limit else value[:limit]
    body = _UNSAFE_TEXT.sub(_escape, shown.replace("\\", "\\\\").replace('"', '\\"'))
    more = f"…(+{len(value) - limit} characters)" if len(value) > limit else ""
    return f'"{body}{more}"'
