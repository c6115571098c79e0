"""Sprig's ``semver`` and ``semverCompare``: Masterminds/semver v3 versions and constraints.

Versions parse loosely as Masterminds does (``v1.2``, ``1``, ``1.2.3-beta.1+build``); a
constraint is ``||``-separated groups of comparisons joined by spaces or commas, each with one
of ``= != > < >= <= ~ ~> ^`` (``=>`` and ``=<`` too) and an optional wildcard (``1.2.x``,
``*``), plus hyphen ranges (``1.2 - 1.4.5``). As in Masterminds' v3.3, a prerelease version
satisfies only comparisons whose own version has a prerelease. The patterns run on RE2, so a
hostile constraint cannot make matching slow.

``semver`` returns a ``SemVersion`` whose fields carry Go's method names (``.Major``,
``.Prerelease``) for the engine to read, and which prints like Go's ``Version.String``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import re2

from lynq_bridge.core.sprig_values import FunctionError, as_text

__all__ = ["SEMVER_FUNCTIONS", "SemVersion"]

_VERSION_BODY: Final = (
    r"v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?"
    r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
    r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
)
_CONSTRAINT_BODY: Final = (
    r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?"
    r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
    r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
)
_OPERATORS: Final = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^"
_VERSION: Final = re2.compile("^" + _VERSION_BODY + "$")
_ONE: Final = re2.compile(rf"^\s*({_OPERATORS})\s*({_CONSTRAINT_BODY})\s*$")
_RANGE: Final = re2.compile(rf"\s*({_CONSTRAINT_BODY})\s+-\s+({_CONSTRAINT_BODY})\s*")
_FIND: Final = re2.compile(rf"({_OPERATORS})\s*({_CONSTRAINT_BODY})")
_VALID: Final = re2.compile(
    rf"^(\s*({_OPERATORS})\s*({_CONSTRAINT_BODY})\s*)"
    rf"((?:\s+|,\s*)({_OPERATORS})\s*({_CONSTRAINT_BODY})\s*)*$"
)
_ALLOWED: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789")
_WILDCARDS: Final = frozenset({"x", "X", "*"})
_UINT64: Final = 1 << 64


@dataclass(frozen=True)
class SemVersion:
    """A parsed version; field names are Go's method names, for ``(semver "1.2.3").Major``."""

    Major: int
    Minor: int
    Patch: int
    Prerelease: str
    Metadata: str
    Original: str

    def __str__(self) -> str:
        text = f"{self.Major}.{self.Minor}.{self.Patch}"
        text += f"-{self.Prerelease}" if self.Prerelease else ""
        return text + (f"+{self.Metadata}" if self.Metadata else "")


def parse_version(text: str) -> SemVersion:
    match = _VERSION.match(text)
    if match is None:
        raise FunctionError(f"{text!r} is not a semantic version")
    numbers = [int((match.group(i) or "0").lstrip(".") or "0") for i in (1, 2, 3)]
    if any(n >= _UINT64 for n in numbers):
        raise FunctionError(f"a segment of version {text!r} is larger than a uint64")
    pre, meta = match.group(5) or "", match.group(8) or ""
    for part in pre.split(".") if pre else ():
        if part.isdigit() and len(part) > 1 and part.startswith("0"):
            raise FunctionError(f"a prerelease segment of version {text!r} starts with 0")
    if any(not set(part) <= _ALLOWED for part in meta.split(".") if meta):
        raise FunctionError(f"the metadata of version {text!r} is invalid")
    return SemVersion(numbers[0], numbers[1], numbers[2], pre, meta, text)


def _compare_part(a: str, b: str) -> int:
    if a == b:
        return 0
    if not a or not b:
        return -1 if not a else 1
    a_number, b_number = a.isdigit(), b.isdigit()
    if not a_number and not b_number:
        return 1 if a > b else -1
    if not b_number:
        return -1
    if not a_number:
        return 1
    return 1 if int(a) > int(b) else -1


def _compare_prerelease(a: str, b: str) -> int:
    left, right = a.split("."), b.split(".")
    for index in range(max(len(left), len(right))):
        x = left[index] if index < len(left) else ""
        y = right[index] if index < len(right) else ""
        if result := _compare_part(x, y):
            return result
    return 0


def compare(a: SemVersion, b: SemVersion) -> int:
    """-1, 0 or 1 by precedence; build metadata is ignored."""
    for x, y in ((a.Major, b.Major), (a.Minor, b.Minor), (a.Patch, b.Patch)):
        if x != y:
            return -1 if x < y else 1
    if not a.Prerelease or not b.Prerelease:
        return (not a.Prerelease) - (not b.Prerelease)
    return _compare_prerelease(a.Prerelease, b.Prerelease)


@dataclass(frozen=True)
class _Comparison:
    operator: str
    version: SemVersion
    minor_dirty: bool
    patch_dirty: bool
    dirty: bool

    def check(self, v: SemVersion) -> bool:
        c, op = self.version, self.operator
        if op == "!=":
            return self._not_equal(v)
        if v.Prerelease and not c.Prerelease:
            return False
        if op in ("", "=") and not self.dirty:
            return compare(v, c) == 0
        if op in ("", "=", "~", "~>"):
            if compare(v, c) < 0:
                return False
            if (c.Major, c.Minor, c.Patch) == (0, 0, 0) and not (
                self.minor_dirty or self.patch_dirty
            ):
                return True
            return v.Major == c.Major and (self.minor_dirty or v.Minor == c.Minor)
        if op == ">":
            if not self.dirty or v.Major != c.Major:
                return compare(v, c) > 0 if not self.dirty else v.Major > c.Major
            if self.minor_dirty:
                return False
            return v.Minor > c.Minor if self.patch_dirty else compare(v, c) > 0
        if op == "<":
            return compare(v, c) < 0
        if op in (">=", "=>"):
            return compare(v, c) >= 0
        if op in ("<=", "=<"):
            if not self.dirty:
                return compare(v, c) <= 0
            return v.Major < c.Major or (
                v.Major == c.Major and (v.Minor <= c.Minor or self.minor_dirty)
            )
        return self._caret(v)

    def _not_equal(self, v: SemVersion) -> bool:
        c = self.version
        if self.dirty:
            if v.Prerelease and not c.Prerelease:
                return False
            if c.Major != v.Major:
                return True
            if self.minor_dirty:
                return False
            if c.Minor != v.Minor:
                return True
            if self.patch_dirty:
                if v.Prerelease or c.Prerelease:
                    return _compare_prerelease(v.Prerelease, c.Prerelease) != 0
                return False
            if c.Patch != v.Patch:
                return True
        return compare(v, c) != 0

    def _caret(self, v: SemVersion) -> bool:
        c = self.version
        if compare(v, c) < 0:
            return False
        if c.Major > 0 or self.minor_dirty:
            return v.Major == c.Major
        if v.Major > 0:
            return False
        if c.Minor > 0 or self.patch_dirty:
            return v.Minor == c.Minor
        return v.Minor == 0 and v.Patch == c.Patch


def _parse_comparison(text: str) -> _Comparison:
    match = _ONE.match(text)
    if match is None:
        raise FunctionError(f"improper constraint: {text}")
    operator, major = match.group(1), match.group(3)
    minor, patch = (match.group(4) or "").lstrip("."), (match.group(5) or "").lstrip(".")
    pre = match.group(6) or ""
    if major in _WILDCARDS:
        version, dirty, minor_dirty, patch_dirty = "0.0.0" + pre, True, False, False
    elif not minor or minor in _WILDCARDS:
        version, dirty, minor_dirty, patch_dirty = f"{major}.0.0{pre}", True, True, False
    elif not patch or patch in _WILDCARDS:
        version, dirty, minor_dirty, patch_dirty = f"{major}.{minor}.0{pre}", True, False, True
    else:
        version, dirty, minor_dirty, patch_dirty = match.group(2), False, False, False
    try:
        parsed = parse_version(version)
    except FunctionError:
        raise FunctionError(f"improper constraint: {text}") from None
    return _Comparison(operator, parsed, minor_dirty, patch_dirty, dirty)


def _rewrite_ranges(text: str) -> str:
    for match in _RANGE.finditer(text):
        low, high = match.group(1), match.group(11)
        text = text.replace(match.group(0), f">= {low}, <= {high} ", 1)
    return text


def semver_compare(constraint: object, version: object) -> bool:
    """Whether ``version`` satisfies ``constraint`` (``semverCompare ">=1.2 <2" "1.4.0"``)."""
    candidate = parse_version(as_text(version))
    for group in _rewrite_ranges(as_text(constraint)).split("||"):
        if not _VALID.match(group):
            raise FunctionError(f"improper constraint: {group.strip()}")
        found = [m.group(0) for m in _FIND.finditer(group)] or [group]
        if all(_parse_comparison(text).check(candidate) for text in found):
            return True
    return False


def semver(version: object) -> SemVersion:
    return parse_version(as_text(version))


SEMVER_FUNCTIONS: Final[dict[str, Callable[..., object]]] = {
    "semver": semver,
    "semverCompare": semver_compare,
}
"""The semantic-version functions by their Go template names."""
