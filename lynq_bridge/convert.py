"""``lynq-bridge convert``: rewrite the Go-template strings of LynqForms in YAML files to Jinja2.

The translation of one template string is ``core.gotojinja`` (pure); this module owns the files.
A person's YAML is edited, not regenerated: ruamel.yaml's round-trip composer gives the position,
quoting style and tag of every scalar, and only the spans of the template strings that change
are replaced, each written by ruamel.yaml's emitter in its original style (plain, single- or
double-quoted, literal or folded block). Everything else — comments, key order, blank lines,
indentation, ``---`` and ``...`` markers, anchors, other documents — stays byte for byte. (Dumping
the whole document with ruamel.yaml re-indents it: on Lynq's sample form that rewrites 187 of
its 224 lines before a single template is converted.) After the edit the file is composed
again and compared node by node with the original: a rewrite that would change anything but the
converted strings is refused instead of written.

A form is converted whole or not at all: a form whose strings are partly Go and partly Jinja
would not load, so one string that cannot be converted leaves its whole form unchanged, and
every such string is reported on its own line::

    FILE: form NAME resource ID field PATH: cannot convert: REASON

Exit codes (SPEC §10): 0 every form with Go syntax was converted (or there was none); 1 some
template could not be converted (everything else was written), or with ``--check`` some file
would change; 2 usage or a file that cannot be read or is not YAML (nothing is written).
"""

from __future__ import annotations

import io
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)

from lynq_bridge.config.loading import config_files
from lynq_bridge.config.models import RESOURCE_ARRAYS
from lynq_bridge.core import gotojinja
from lynq_bridge.core.paths import one_line, quote
from lynq_bridge.errors import ConfigError, PermanentError

__all__ = ["ConvertResult", "FileResult", "convert_paths", "convert_text"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

_FORM_KIND: Final = "LynqForm"
_FORM_GROUP: Final = "operator.lynq.sh/"
_RESOURCE_FIELDS: Final = ("nameTemplate", "targetNamespace", "includeWhen")
_TEMPLATE_MAPS: Final = ("labelsTemplate", "annotationsTemplate")
_WIDTH: Final = 1 << 30  # never fold a rewritten scalar: only its own span may change
_PROPERTIES: Final = re.compile(r"(?:[&!]\S*\s+)*")  # an anchor or tag before a scalar
_BLOCK_HEADER: Final = re.compile(r"[|>][-+0-9]*")
_TAIL: Final = re.compile(r"(?:\r?\n[ \t]*)*\Z")


@dataclass(frozen=True)
class Template:
    """One template string of a form: where it is and the node that holds it."""

    form: str
    resource: str
    path: str
    node: ScalarNode


@dataclass
class FileResult:
    """What ``convert`` did, or would do, to one file."""

    source: Path
    target: Path
    text: str
    converted: str
    templates: int = 0
    """How many template strings were rewritten."""
    problems: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.converted != self.text


@dataclass(frozen=True)
class ConvertResult:
    files: tuple[FileResult, ...]

    @property
    def problems(self) -> list[str]:
        return [problem for result in self.files for problem in result.problems]


# --- files ----------------------------------------------------------------------------------


def _inputs(paths: Sequence[Path], out: Path | None) -> list[tuple[Path, Path]]:
    """(file, where its result goes) for every YAML file named or under a named directory."""
    pairs: list[tuple[Path, Path]] = []
    for path in paths:
        if path.is_dir():
            files = config_files(path)
            pairs += [(f, out / f.relative_to(path) if out else f) for f in files]
        elif path.is_file():
            pairs.append((path, out / path.name if out else path))
        else:
            raise ConfigError(f"{path} is neither a file nor a directory")
    targets: dict[Path, Path] = {}
    for source, target in pairs:
        other = targets.setdefault(target.resolve(), source)
        if other != source:
            raise ConfigError(f"{source} and {other} would both be written to {target}")
    return pairs


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} cannot be read: {one_line(str(exc))}") from exc


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that a reader sees the old file or the new one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = path.stat().st_mode & 0o7777 if path.exists() else None
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise PermanentError(f"{path} cannot be written: {one_line(str(exc))}") from exc
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        if mode is not None:
            os.chmod(name, mode)
        os.replace(name, path)
    except OSError as exc:
        Path(name).unlink(missing_ok=True)
        raise PermanentError(f"{path} cannot be written: {one_line(str(exc))}") from exc


def convert_paths(paths: Sequence[Path], *, out: Path | None, check: bool) -> ConvertResult:
    """Convert every YAML file of ``paths``; write unless ``check``. Raises ``ConfigError``.

    Every file is read and converted before anything is written, so a file that is not YAML
    leaves every file as it was.
    """
    results = []
    for source, target in _inputs(paths, out):
        text = _read(source)
        converted, templates, problems = convert_text(text, name=str(source))
        results.append(FileResult(source, target, text, converted, templates, problems))
    if not check:
        for result in results:
            if result.changed or result.target != result.source:
                write_atomically(result.target, result.converted)
    return ConvertResult(tuple(results))


def run(paths: Sequence[Path], *, out: Path | None, check: bool) -> int:
    """The ``convert`` command: convert, print what happened, return the exit code."""
    result = convert_paths(paths, out=out, check=check)
    for problem in result.problems:
        print(problem, file=sys.stderr)
    changed = [r for r in result.files if r.changed]
    for r in changed:
        verb = "would convert" if check else "converted"
        print(f"{verb} {r.source}: {r.templates} template(s)")
    left = len(result.problems)
    print(
        f"{len(changed)} of {len(result.files)} file(s) {'would change' if check else 'changed'}"
        + (f"; {left} template(s) could not be converted" if left else "")
    )
    if check:
        return EXIT_FAILED if changed else EXIT_OK
    return EXIT_FAILED if left else EXIT_OK


# --- one file -------------------------------------------------------------------------------


def _yaml() -> YAML:
    yaml = YAML()  # round-trip: keeps styles, comments and marks
    yaml.width = _WIDTH
    yaml.allow_unicode = True
    return yaml


def convert_text(text: str, *, name: str) -> tuple[str, int, list[str]]:
    """(converted text, templates rewritten, problems) of one YAML file's text.

    Raises ``ConfigError`` when the text is not YAML, and ``PermanentError`` when the rewrite
    would change more than the converted strings (a bug, never written).
    """
    documents = _compose(text, name)
    replacements: dict[int, tuple[ScalarNode, str]] = {}
    problems: list[str] = []
    converted_nodes: set[int] = set()  # an anchored string and its aliases count once
    for document in documents:
        templates = list(_form_templates(document))
        if not templates:
            continue
        sources = [_text_of(t.node) for t in templates]
        syntax = _get(_get(document, "spec") or document, "templateSyntax")
        if not gotojinja.is_go_form(sources, declared=_scalar(syntax)):
            continue
        converted = [gotojinja.convert(source) for source in sources]
        failed = [(t, c) for t, c in zip(templates, converted, strict=True) if c.jinja is None]
        for template, conversion in failed:
            for reason in conversion.reasons:
                problems.append(_problem(name, template, reason))
        if failed:
            continue
        for template, conversion in zip(templates, converted, strict=True):
            assert conversion.jinja is not None
            if conversion.jinja != _text_of(template.node):
                replacements[id(template.node)] = (template.node, conversion.jinja)
                converted_nodes.add(id(template.node))
        if isinstance(syntax, ScalarNode):  # "go" said so; now it is "jinja"
            replacements[id(syntax)] = (syntax, "jinja")
    if not replacements:
        return text, 0, problems
    result = _rewrite(text, list(replacements.values()))
    _verify(documents, result, {key: value for key, (_, value) in replacements.items()}, name)
    return result, len(converted_nodes), problems


def _problem(name: str, template: Template, reason: str) -> str:
    return one_line(
        f"{name}: form {template.form} resource {template.resource} field {template.path}: "
        f"cannot convert: {reason}"
    )


def _compose(text: str, name: str) -> list[Node]:
    try:
        return [node for node in _yaml().compose_all(text) if node is not None]
    except YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{name} is not valid YAML: {one_line(first)}") from exc


def _get(mapping: Node, key: str) -> Node | None:
    if not isinstance(mapping, MappingNode):
        return None
    for k, v in mapping.value:
        if isinstance(k, ScalarNode) and k.value == key:
            return v  # type: ignore[no-any-return]
    return None


def _scalar(node: Node | None) -> str | None:
    if isinstance(node, ScalarNode) and str(node.tag).endswith(":str"):
        return _text_of(node)
    return None


def _text_of(node: ScalarNode) -> str:
    """The scalar's value: ruamel.yaml marks where a folded scalar was folded with ``\a``."""
    value = str(node.value)
    return value.replace("\a", "") if node.style == ">" else value


def _form_templates(document: Node) -> Iterator[Template]:
    """Every template string of a LynqForm document, in document order; nothing for others."""
    kind, api = _scalar(_get(document, "kind")), _scalar(_get(document, "apiVersion"))
    if kind != _FORM_KIND or not (api or "").startswith(_FORM_GROUP):
        return
    form = quote(_scalar(_get(_get(document, "metadata") or document, "name")) or "")
    spec = _get(document, "spec")
    for array in RESOURCE_ARRAYS:
        entries = _get(spec, array) if spec is not None else None
        if not isinstance(entries, SequenceNode):
            continue
        for index, entry in enumerate(entries.value):
            rid = _scalar(_get(entry, "id"))
            resource = quote(rid) if rid is not None else f"{array}[{index}]"
            for key in _RESOURCE_FIELDS:
                node = _get(entry, key)
                if _scalar(node) is not None:
                    assert isinstance(node, ScalarNode)
                    yield Template(form, resource, key, node)
            for key in _TEMPLATE_MAPS:
                values = _get(entry, key)
                if isinstance(values, MappingNode):
                    for k, v in values.value:
                        if _scalar(v) is not None:
                            yield Template(form, resource, f"{key}.{k.value}", v)
            body = _get(entry, "spec")
            if body is not None:
                yield from _strings(body, form, resource, "spec", set())


def _strings(node: Node, form: str, resource: str, path: str, seen: set[int]) -> Iterator[Template]:
    if id(node) in seen:  # an alias: the anchored node was visited already
        return
    seen.add(id(node))
    if isinstance(node, ScalarNode):
        if _scalar(node) is not None:
            yield Template(form, resource, path, node)
    elif isinstance(node, MappingNode):
        for key, value in node.value:
            yield from _strings(value, form, resource, f"{path}.{key.value}", seen)
    elif isinstance(node, SequenceNode):
        for index, value in enumerate(node.value):
            yield from _strings(value, form, resource, f"{path}.{index}", seen)


# --- rewriting scalars in place ---------------------------------------------------------------


def _rewrite(text: str, replacements: list[tuple[ScalarNode, str]]) -> str:
    newline = "\r\n" if "\r\n" in text else "\n"
    pieces: list[str] = []
    position = 0
    for node, value in sorted(replacements, key=lambda item: item[0].start_mark.index):
        start, end = node.start_mark.index, node.end_mark.index
        span = text[start:end]
        properties = _PROPERTIES.match(span)
        prefix = properties.group() if properties else ""
        emitted = _emit(span[len(prefix) :], node, value)
        pieces += [text[position:start], prefix, emitted.replace("\n", newline)]
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def _emit(original: str, node: ScalarNode, value: str) -> str:
    """The scalar ``value`` written in ``node``'s style where that style can hold it.

    A plain scalar with Go actions is never inside a flow collection (``{`` ends a plain scalar
    there), so the plain scalars rewritten here are in block context, where ruamel.yaml's
    emitter quotes a value only when plain cannot hold it.
    """
    style = node.style
    if style in ("|", ">"):
        block = _emit_block(original, node, value)
        if block is not None:
            return block
        return _emit("", _restyled(node, '"'), value) + _tail(original)
    if "\n" in value:  # plain and single-quoted scalars fold lines: write one line instead
        style = '"'
    typed: Any = {
        '"': DoubleQuotedScalarString,
        "'": SingleQuotedScalarString,
    }.get(style or "", str)(value)
    return _dump(typed).rstrip("\n")


def _restyled(node: ScalarNode, style: str) -> ScalarNode:
    """A copy of ``node`` that asks for ``style``."""
    return ScalarNode(node.tag, node.value, style=style)


def _dump(value: Any) -> str:
    """``value`` as ruamel.yaml writes a mapping's value (a key follows: no ``...`` marker)."""
    stream = io.StringIO()
    _yaml().dump({"k": value, "z": 0}, stream)
    return stream.getvalue().removeprefix("k: ").removesuffix("z: 0\n")


def _emit_block(original: str, node: ScalarNode, value: str) -> str | None:
    """The block scalar in its original style and indentation; None if that cannot hold it."""
    header_line, _, body = original.partition("\n")
    header_line = header_line.rstrip("\r")
    match = _BLOCK_HEADER.match(header_line)
    assert match is not None
    comment = header_line[match.end() :]
    indent = _content_indent(body, _text_of(node))
    kind = LiteralScalarString if node.style == "|" else FoldedScalarString
    dumped = _dump(kind(value))
    header, _, emitted = dumped.partition("\n")
    if any(char.isdigit() for char in header):  # needs an indentation indicator: not here
        return None
    lines = [(" " * indent + line[2:]) if line else line for line in emitted.split("\n")]
    content = "\n".join(lines).rstrip("\n")
    return header + comment + "\n" + content + _tail(original).replace("\r\n", "\n")


def _tail(span: str) -> str:
    """The line break and blank lines that end a block scalar's span."""
    match = _TAIL.search(span)
    return match.group() if match else ""


def _content_indent(body: str, value: str) -> int:
    """How far the block's content is indented: its first line with text, less the value's.

    A converted value holds a template, so both have a line with text.
    """
    source = next(line for line in body.split("\n") if line.strip())
    first = next(line for line in value.split("\n") if line.strip())
    return (len(source) - len(source.lstrip(" "))) - (len(first) - len(first.lstrip(" ")))


def _verify(old: list[Node], after: str, values: dict[int, str], name: str) -> None:
    """Refuse a rewrite that changes anything but the converted strings (a bug, never written)."""
    try:
        new = _compose(after, name)
    except ConfigError:
        new = []
    if len(old) != len(new) or not all(
        _same(a, b, values, {}) for a, b in zip(old, new, strict=True)
    ):
        raise PermanentError(
            f"{name} was not converted: rewriting its template strings would change other "
            "parts of the file (please report this)"
        )


def _same(a: Node, b: Node, values: dict[int, str], seen: dict[int, int]) -> bool:
    if id(a) in seen:
        return seen[id(a)] == id(b)
    seen[id(a)] = id(b)
    if type(a) is not type(b) or a.tag != b.tag:
        return False
    if isinstance(a, ScalarNode) and isinstance(b, ScalarNode):
        return _text_of(b) == values.get(id(a), _text_of(a))
    if len(a.value) != len(b.value):
        return False
    if isinstance(a, MappingNode):
        return all(
            _same(ka, kb, values, seen) and _same(va, vb, values, seen)
            for (ka, va), (kb, vb) in zip(a.value, b.value, strict=True)
        )
    return all(_same(x, y, values, seen) for x, y in zip(a.value, b.value, strict=True))
