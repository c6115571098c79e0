"""A small, deterministic YAML emitter for the manifests the bridge writes to Git.

Why not PyYAML or ruamel: one sync pass serialises 10,000 rows x 5 resources = 50,000 small
documents. Measured on these machines (SPEC §13), ruamel.yaml costs 1.36 ms and PyYAML's
``CSafeDumper`` 0.14 ms per Deployment-sized document: 68 s and 7 s per pass, as much as writing
and committing all the files. The data is JSON-like (dict, list, str, int, float, bool, None),
so a block-style emitter with a cached per-string style decision does the same job in about
26 us per document, ~1.3 s per pass (``bench/bench_yaml.py``; ~12x faster than ``CSafeDumper``),
and lets us fix the key order the way kubectl prints it.

The output must be read back identically by PyYAML (YAML 1.1: ``yes``, ``on``, ``0o17``,
``1:20``, ``2001-12-14`` are not strings when plain) and by Kubernetes and the GitOps engines
(sigs.k8s.io/yaml over go-yaml v2/v3). So a string is written plain only when a conservative
pattern proves it cannot be anything else; otherwise it is double-quoted, or written as a literal
block scalar (``|``/``|-``) when it spans lines, so ConfigMap data stays reviewable in diffs.

Not every string survives every consumer, whatever the emitter does: kustomize (kyaml over
go-yaml v3) decodes each document and encodes it again, and go-yaml v3 refuses what it wrote
itself for DEL, the C1 controls (U+0080-U+009F, incl. NEL) and U+FFFE/U+FFFF, and for a string
that starts with a tab and spans lines (it writes a literal block whose first line starts with
a tab); a lone surrogate is not Unicode at all. ``string_problem`` names those; the renderer
makes them per-resource errors (measured with kubectl 1.32/kustomize 5.5 over every code point
in the contexts "a?b", "?a\nb", "a\n?b"; C0 controls, NUL included, U+2028/2029, U+FEFF,
U+FDD0-U+FDEF and astral characters round-trip as double-quoted escapes in all three parsers).

Format: two-space indent; sequences under a key start at the key's column (``key:\\n- a``,
as kubectl prints them); empty collections as ``{}``/``[]``; one trailing newline.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from lynq_bridge.core.limits import MAX_OBJECT_BYTES, object_size_problem

__all__ = ["dump_document", "dump_manifest", "reads_as_non_string", "string_problem"]

_MANIFEST_FIRST: Final = ("apiVersion", "kind", "metadata")
_METADATA_FIRST: Final = ("name", "namespace", "labels", "annotations")

# Plain only if: starts with an ASCII letter or "/"; then only [A-Za-z0-9_./@+-], a ":" that is
# followed by one of those (never ": " nor a trailing ":"), or a single space followed by one of
# those (never " #", trailing or doubled spaces). Such text cannot be a number, date, indicator,
# comment or mapping key in YAML 1.1 or 1.2; the special words below are the only remaining
# non-strings. The repetition is possessive ("*+"): the alternatives start with different
# characters, so backtracking could never help, and a greedy group makes ``re`` keep ~120 bytes
# of backtracking state per character (a 10 MB value cost 1.2 GB here).
_SAFE: Final = r"A-Za-z0-9_./@+\-"
_PLAIN: Final = re.compile(f"[A-Za-z/](?:[{_SAFE}]|:(?=[{_SAFE}:])| (?=[{_SAFE}]))*+")
# Words that YAML 1.1 (PyYAML, go-yaml v2) or 1.2 resolve to bool/null/float, compared
# case-insensitively; "nan"/"inf"/"infinity" are strings everywhere but quoting them costs nothing.
_SPECIAL_WORDS: Final = frozenset(
    {"y", "n", "yes", "no", "true", "false", "on", "off", "null", "nan", "inf", "infinity"}
)

# Characters YAML cannot carry raw (outside its printable set) or that PyYAML/libyaml treat as
# line breaks or a byte-order mark (U+0085, U+2028, U+2029, U+FEFF), plus surrogates.
_NONPRINTABLE: Final = "\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff"
_ESCAPE: Final = re.compile(f'["\\\\\\t\\n\\r{_NONPRINTABLE}]')
_NAMED_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}

# A string with a line break is written as a literal block unless it has a character that needs
# an escape (incl. "\r"), trailing whitespace on a line (invisible in review, and stripped by the
# common trailing-whitespace hooks, which would change the data), or more than one trailing line
# break (would need "|+", which leaves blank lines that end-of-file fixers remove).
_BLOCK_UNSAFE: Final = re.compile(f"[\\r{_NONPRINTABLE}]|[ \\t](?:\\n|\\Z)|\\n\\n\\Z")

# Simple keys are limited to 1024 characters by YAML (PyYAML and libyaml enforce it); longer
# keys use the explicit "? key" form.
_MAX_SIMPLE_KEY: Final = 1000

# Rendered scalars for short strings (keys, labels, images, ports...) repeat across the 50,000
# documents of a pass; long strings are mostly unique data and are not kept.
# What string_problem refuses: DEL, C1 controls, U+FFFE/U+FFFF and lone surrogates.
_UNCARRIABLE: Final = re.compile("[\x7f-\x9f\ufffe\uffff\ud800-\udfff]")
# A plain scalar that YAML 1.1 (PyYAML, go-yaml v2) or 1.2 (go-yaml v3) reads as null, a
# number, a date or a merge/value key rather than a string.
_NON_STRING: Final = re.compile(
    r"~|=|<<|[-+]?(?:0[xX][0-9a-fA-F_]+|0[oO]?[0-7_]+|0[bB][01_]+"
    r"|(?:[0-9_]+(?::[0-5]?[0-9])*)?(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|\.(?:inf|nan))"
    r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ].*)?",
    re.IGNORECASE,
)

_CACHE_MAX_ENTRIES: Final = 1 << 13  # what repeats across nodes; more only holds memory
_CACHE_MAX_LEN: Final = 256
_str_cache: dict[str, str] = {}
_key_cache: dict[str, str] = {}


class UnusableValue(ValueError):
    """A string the emitter will not write: a consumer would not read it back unchanged
    (``string_problem``), or it is longer than any Kubernetes object may be (refused before
    it is escaped, so the emitter's memory stays within a constant of that limit)."""


def _refuse(s: str) -> None:
    if len(s) > MAX_OBJECT_BYTES:
        raise UnusableValue(object_size_problem(len(s), at_least=True))
    if SUSPICIOUS.search(s):
        problem = string_problem(s)
        if problem:
            raise UnusableValue(problem)


def dump_manifest(obj: Mapping[str, Any]) -> str:
    """Serialise one Kubernetes object as a YAML document (no leading ``---``).

    Top-level keys ``apiVersion``, ``kind``, ``metadata`` come first, then the rest sorted;
    inside the top-level ``metadata``: ``name``, ``namespace``, ``labels``, ``annotations``,
    then the rest sorted; every other mapping is sorted. Raises ``TypeError`` for values that
    are not JSON-like and ``ValueError`` for strings with lone surrogates.
    """
    root = _as_dict(obj)
    if not root:
        return "{}\n"
    out: list[str] = []
    for key in _ordered(root, _MANIFEST_FIRST):
        meta = root[key]
        if key == "metadata" and isinstance(meta, Mapping) and meta:
            meta = _as_dict(meta)
            out.append("metadata:")
            _emit_map(meta, _ordered(meta, _METADATA_FIRST), "  ", "  ", out)
        else:
            _emit_map(root, (key,), "", "", out)
    out.append("")
    return "\n".join(out)


def dump_document(obj: Mapping[str, Any]) -> str:
    """Serialise any JSON-like mapping (kustomization.yaml, engine files) with all keys sorted."""
    root = _as_dict(obj)
    if not root:
        return "{}\n"
    out: list[str] = []
    _emit_map(root, sorted(root), "", "", out)
    out.append("")
    return "\n".join(out)


# A quick screen: a string that ``string_problem`` might refuse matches this (most never do).
SUSPICIOUS: Final = re.compile(f"{_UNCARRIABLE.pattern}|^\t")


def string_problem(value: str) -> str | None:
    """Why ``value`` cannot be written so that kustomize, PyYAML and a YAML 1.2 parser all
    read it back unchanged (see the module docstring), or None when it can."""
    found = _UNCARRIABLE.search(value)
    if found is not None:
        code = ord(found.group())
        if 0xD800 <= code <= 0xDFFF:
            return f"it contains a lone surrogate U+{code:04X}, which is not Unicode text"
        if code >= 0xFFFE:
            return f"it contains the Unicode non-character U+{code:04X}"
        return f"it contains the control character U+{code:04X}, which kustomize cannot carry"
    if value[:1] == "\t" and "\n" in value:
        return "it starts with a tab and spans lines, which kustomize cannot write back"
    return None


def reads_as_non_string(text: str) -> bool:
    """True when ``text`` written plain would read as something other than a string in YAML
    1.1 or 1.2 (kustomize writes some mapping keys plain, e.g. annotation keys)."""
    return not text or text.lower() in _SPECIAL_WORDS or _NON_STRING.fullmatch(text) is not None


def _ordered(m: Mapping[str, Any], first: tuple[str, ...]) -> list[str]:
    head = [k for k in first if k in m]
    return head + sorted(k for k in m if k not in first)


def _emit_map(
    m: Mapping[str, Any], keys: Iterable[str], first: str, indent: str, out: list[str]
) -> None:
    """Append the lines of a non-empty mapping; the first line starts with ``first``, the others
    with ``indent`` (same width; ``first`` may carry a sequence dash)."""
    prefix = first
    child = indent + "  "
    for k in keys:
        v = m[k]
        ks = _key_cache.get(k) or _render_key(k)
        head = f"{prefix}{ks}" if ks[0] != "?" else f"{prefix}{ks}\n{indent}:"
        t = type(v)
        if t is str:
            r = _str_cache.get(v) or _render_str(v)
            if r[0] == "|":
                r = _block(v, r, child)
            out.append(f"{head} {r}")
        elif t is dict:
            if v:
                out.append(head)
                _emit_map(v, sorted(v), child, child, out)
            else:
                out.append(f"{head} {{}}")
        elif t is list:
            if v:
                out.append(head)
                _emit_seq(v, indent, indent, out)
            else:
                out.append(f"{head} []")
        elif t is int:
            out.append(f"{head} {v!r}")
        elif t is bool:
            out.append(f"{head} true" if v else f"{head} false")
        elif v is None:
            out.append(f"{head} null")
        elif t is float:
            out.append(f"{head} {_float(v)}")
        else:
            _emit_map({k: _coerce(v)}, (k,), prefix, indent, out)
        prefix = indent


def _emit_seq(seq: list[Any], first: str, indent: str, out: list[str]) -> None:
    """Append the lines of a non-empty sequence, dashes at the width of ``indent``."""
    prefix = first
    child = indent + "  "
    for v in seq:
        t = type(v)
        if t is str:
            r = _str_cache.get(v) or _render_str(v)
            if r[0] == "|":
                r = _block(v, r, child)
            out.append(f"{prefix}- {r}")
        elif t is dict:
            if v:
                _emit_map(v, sorted(v), prefix + "- ", child, out)
            else:
                out.append(f"{prefix}- {{}}")
        elif t is list:
            if v:
                _emit_seq(v, prefix + "- ", child, out)
            else:
                out.append(f"{prefix}- []")
        elif t is int:
            out.append(f"{prefix}- {v!r}")
        elif t is bool:
            out.append(f"{prefix}- true" if v else f"{prefix}- false")
        elif v is None:
            out.append(f"{prefix}- null")
        elif t is float:
            out.append(f"{prefix}- {_float(v)}")
        else:
            _emit_seq([_coerce(v)], prefix, indent, out)
        prefix = indent


def _float(f: float) -> str:
    if math.isfinite(f):
        r = repr(f)
        # YAML 1.1 floats need a dot: PyYAML reads "1e+20" as a string.
        if "." not in r:
            mantissa, _, exponent = r.partition("e")
            r = f"{mantissa}.0e{exponent}"
        return r
    if math.isnan(f):
        return ".nan"
    return ".inf" if f > 0 else "-.inf"


def _coerce(v: Any) -> Any:
    """Map subclasses and other containers onto the native JSON-like types, or reject."""
    if isinstance(v, str):
        return str.__str__(v)
    if isinstance(v, int):  # bool cannot be subclassed, so this is an int subclass
        return int(v)
    if isinstance(v, float):
        return float(v)
    if isinstance(v, Mapping):
        return dict(v)
    if isinstance(v, list | tuple):
        return list(v)
    raise TypeError(f"cannot write a value of type {type(v).__name__} as YAML: {v!r:.60}")


def _as_dict(obj: Any) -> dict[str, Any]:
    if type(obj) is dict:
        return obj
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(f"a YAML document must be a mapping, not {type(obj).__name__}")


def _render_key(key: Any) -> str:
    """Return ``key:`` with the key plain or double-quoted, or ``? key`` when it is too long
    for an implicit key (the caller then writes the ``:`` on the next line)."""
    if type(key) is not str:
        if not isinstance(key, str):
            raise TypeError(f"mapping keys must be strings, not {type(key).__name__}: {key!r:.60}")
        key = str.__str__(key)
    k: str = key
    _refuse(k)
    r = k if _PLAIN.fullmatch(k) and k.lower() not in _SPECIAL_WORDS else _quote(k)
    r = "? " + r if len(r) > _MAX_SIMPLE_KEY else r + ":"
    if len(k) <= _CACHE_MAX_LEN:
        if len(_key_cache) >= _CACHE_MAX_ENTRIES:
            _key_cache.clear()
        _key_cache[k] = r
    return r


def _render_str(s: str) -> str:
    """Return the plain or double-quoted form of ``s``, or the header (``|``, ``|-``, ``|2``,
    ``|2-``) of its literal block form; callers tell them apart by the leading ``|``."""
    _refuse(s)
    if _PLAIN.fullmatch(s) and s.lower() not in _SPECIAL_WORDS:
        r = s
    elif "\n" in s and s.strip("\n") and not _BLOCK_UNSAFE.search(s):
        # An explicit indentation indicator when the first line starts with a space, a tab
        # (libyaml and go-yaml reject a tab while detecting indentation) or is empty.
        r = ("|2" if s[0] in " \t\n" else "|") + ("" if s[-1] == "\n" else "-")
    else:
        r = _quote(s)
    if len(s) <= _CACHE_MAX_LEN:
        if len(_str_cache) >= _CACHE_MAX_ENTRIES:
            _str_cache.clear()
        _str_cache[s] = r
    return r


def _block(s: str, header: str, indent: str) -> str:
    """Literal block scalar text: the header, then each line indented (empty lines bare)."""
    lines = (s[:-1] if s[-1] == "\n" else s).split("\n")
    return header + "".join(f"\n{indent}{line}" if line else "\n" for line in lines)


def _quote(s: str) -> str:
    """Double-quoted scalar; escapes are ones both YAML 1.1 and 1.2 (and JSON, bar \\x) know."""
    return '"' + _ESCAPE.sub(_escape_char, s) + '"'


def _escape_char(match: re.Match[str]) -> str:
    c = match.group()
    named = _NAMED_ESCAPES.get(c)
    if named is not None:
        return named
    code = ord(c)
    if 0xD800 <= code <= 0xDFFF:
        raise ValueError(f"string contains a lone surrogate U+{code:04X}; it cannot be UTF-8")
    return f"\\x{code:02X}" if code <= 0xFF else f"\\u{code:04X}"
