"""The parser of Go ``text/template`` syntax: template text to an immutable syntax tree.

Lynq forms are Go templates (``{{ .uid }}``, ``{{ default "x" .plan }}``, ``{{ if eq .tier "pro"
}}…{{ end }}``). This module reads them exactly as Go 1.24's ``text/template/parse`` does - the
same grammar, the same checks at parse time (undefined variables, unknown functions, ``break``
outside ``range``, a non-executable command in a pipeline) and the same error texts - and builds
a tree of frozen dataclasses that ``goexec`` evaluates and ``gotojinja`` rewrites. It evaluates
nothing. Scanning is ``golex``.

The node classes are in ``goast`` (re-exported here); see its docstring.

Deliberate differences from Go: complex numbers are refused (nothing in a manifest is complex);
an assignment ``$x = v`` to an undeclared variable and an integer literal that overflows int64
are errors when parsing instead of when rendering.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeVar

from lynq_bridge.core.goast import (
    Action,
    Bool,
    Break,
    Chain,
    Command,
    Comment,
    Continue,
    Define,
    Dot,
    Field,
    Identifier,
    If,
    Nil,
    Node,
    Number,
    Operand,
    Parsed,
    Pipeline,
    Range,
    String,
    TemplateCall,
    Text,
    Variable,
    With,
)
from lynq_bridge.core.golex import Token, go_quote, tokenize
from lynq_bridge.core.goliterals import number as _number
from lynq_bridge.core.goliterals import unquote as _unquote

__all__ = [
    "Action",
    "Bool",
    "Break",
    "Chain",
    "Command",
    "Comment",
    "Continue",
    "Define",
    "Dot",
    "Field",
    "GoSyntaxError",
    "Identifier",
    "If",
    "Nil",
    "Node",
    "Number",
    "Operand",
    "Parsed",
    "Pipeline",
    "Range",
    "String",
    "TemplateCall",
    "Text",
    "Variable",
    "With",
    "parse",
]

MAX_PAREN_DEPTH: Final = 100
"""Nested parentheses in one expression. Go allows 10,000; a form needs a handful, and each
level is a Python stack frame here."""


class GoSyntaxError(Exception):
    """A template that Go's parser would refuse: ``message`` is Go's, ``line`` where it is."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(f"{message} (line {line})")
        self.message = message
        self.line = line


# --- the parser ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _End:
    line: int


@dataclass(frozen=True, slots=True)
class _Else:
    line: int


FunctionCheck = Callable[[str], str | None]
T = TypeVar("T")
_OPERAND_START: Final = frozenset(
    {
        "BOOL",
        "CHAR_CONSTANT",
        "COMPLEX",
        "DOT",
        "FIELD",
        "IDENTIFIER",
        "NUMBER",
        "NIL",
        "RAW_STRING",
        "STRING",
        "VARIABLE",
        "LEFT_PAREN",
    }
)
_NOT_EXECUTABLE: Final = (Bool, Dot, Nil, Number, String)


class _Parser:
    def __init__(self, text: str, functions: FunctionCheck | None) -> None:
        self.tokens = tokenize(text)
        self.index = 0
        self.functions = functions
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.paren_depth = 0
        self.defines: dict[str, Define] = {}
        self.current = self.tokens[0]

    # --- tokens ---------------------------------------------------------------------------------

    def next(self) -> Token:
        token = self.tokens[min(self.index, len(self.tokens) - 1)]
        self.index += 1
        self.current = token
        return token

    def backup(self, count: int = 1) -> None:
        self.index -= count

    def peek(self) -> Token:
        return self.tokens[min(self.index, len(self.tokens) - 1)]

    def next_non_space(self) -> Token:
        token = self.next()
        while token.kind == "SPACE":
            token = self.next()
        return token

    def peek_non_space(self) -> Token:
        token = self.next_non_space()
        self.backup()
        return token

    def literal(self, decode: Callable[[Token], T], token: Token) -> T:
        try:
            return decode(token)
        except ValueError as exc:
            raise GoSyntaxError(str(exc), token.line) from None

    def error(self, message: str) -> GoSyntaxError:
        return GoSyntaxError(message, self.current.line)

    def unexpected(self, token: Token, context: str) -> GoSyntaxError:
        if token.kind == "ERROR":
            return GoSyntaxError(token.value, token.line)
        return GoSyntaxError(f"unexpected {token.describe()} in {context}", token.line)

    def expect(self, kind: str, context: str) -> Token:
        token = self.next_non_space()
        if token.kind != kind:
            raise self.unexpected(token, context)
        return token

    # --- structure ------------------------------------------------------------------------------

    def parse(self) -> Parsed:
        root: list[Node] = []
        while self.peek().kind != "EOF":
            if self.peek().kind == "LEFT_DELIM":
                start = self.index
                self.next()
                if self.next_non_space().kind == "DEFINE":
                    self.parse_definition()
                    continue
                self.index = start
            node = self.text_or_action()
            if isinstance(node, _End | _Else):
                word = "{{end}}" if isinstance(node, _End) else "{{else}}"
                raise GoSyntaxError(f"unexpected {word}", node.line)
            root.append(node)
        defines = tuple(self.defines[name] for name in sorted(self.defines))
        return Parsed(root=tuple(root), defines=defines)

    def add_define(self, define: Define) -> None:
        existing = self.defines.get(define.name)
        if existing is not None and not _is_empty(existing.body):
            if not _is_empty(define.body):
                raise GoSyntaxError(
                    f"template: multiple definition of template {go_quote(define.name)}",
                    define.line,
                )
            return
        self.defines[define.name] = define

    def parse_definition(self) -> None:
        context = "define clause"
        token = self.next_non_space()
        if token.kind not in ("STRING", "RAW_STRING"):
            raise self.unexpected(token, context)
        name = self.literal(_unquote, token)
        self.expect("RIGHT_DELIM", context)
        self.add_define(Define(name, self.sub_template_body(context), token.line))

    def sub_template_body(self, context: str) -> tuple[Node, ...]:
        saved = (self.vars, self.range_depth)
        self.vars, self.range_depth = ["$"], 0
        body, end = self.item_list()
        self.vars, self.range_depth = saved
        if not isinstance(end, _End):
            raise GoSyntaxError(f"unexpected {{{{else}}}} in {context}", end.line)
        return body

    def item_list(self) -> tuple[tuple[Node, ...], _End | _Else]:
        nodes: list[Node] = []
        while self.peek_non_space().kind != "EOF":
            node = self.text_or_action()
            if isinstance(node, _End | _Else):
                return tuple(nodes), node
            nodes.append(node)
        raise self.error("unexpected EOF")

    def text_or_action(self) -> Node | _End | _Else:
        token = self.next_non_space()
        if token.kind == "TEXT":
            return Text(token.value, token.line)
        if token.kind == "LEFT_DELIM":
            return self.action()
        if token.kind == "COMMENT":
            return Comment(token.value, token.line)
        raise self.unexpected(token, "input")

    def action(self) -> Node | _End | _Else:
        token = self.next_non_space()
        kind = token.kind
        if kind == "BLOCK":
            return self.block_control(token)
        if kind in ("BREAK", "CONTINUE"):
            word = token.value
            after = self.next_non_space()
            if after.kind != "RIGHT_DELIM":
                raise self.unexpected(after, f"{{{{{word}}}}}")
            if self.range_depth == 0:
                raise GoSyntaxError(f"{{{{{word}}}}} outside {{{{range}}}}", token.line)
            return Break(token.line) if kind == "BREAK" else Continue(token.line)
        if kind == "ELSE":
            if self.peek_non_space().kind in ("IF", "WITH"):
                return _Else(token.line)
            self.expect("RIGHT_DELIM", "else")
            return _Else(token.line)
        if kind == "END":
            self.expect("RIGHT_DELIM", "end")
            return _End(token.line)
        if kind in ("IF", "RANGE", "WITH"):
            return self.control(kind, token.line)
        if kind == "TEMPLATE":
            return self.template_control(token)
        self.backup()
        pipe = self.pipeline("command", "RIGHT_DELIM")
        return Action(pipe, token.line)

    def control(self, kind: str, line: int) -> If | Range | With:
        context = kind.lower()
        saved = len(self.vars)
        pipe = self.pipeline(context, "RIGHT_DELIM")
        if kind == "RANGE":
            self.range_depth += 1
        body, end = self.item_list()
        if kind == "RANGE":
            self.range_depth -= 1
        else_: tuple[Node, ...] | None = None
        if isinstance(end, _Else):
            if kind in ("IF", "WITH") and self.peek().kind == kind:
                nested = self.next()
                else_ = (self.control(kind, nested.line),)
            else:
                else_, end = self.item_list()
                if not isinstance(end, _End):
                    raise GoSyntaxError("expected end; found {{else}}", end.line)
        del self.vars[saved:]
        if kind == "IF":
            return If(pipe, body, else_, line)
        if kind == "RANGE":
            return Range(pipe, body, else_, line)
        return With(pipe, body, else_, line)

    def template_name(self, token: Token, context: str) -> str:
        if token.kind not in ("STRING", "RAW_STRING"):
            raise self.unexpected(token, context)
        return self.literal(_unquote, token)

    def template_control(self, keyword: Token) -> TemplateCall:
        context = "template clause"
        name = self.template_name(self.next_non_space(), context)
        pipe = None
        if self.next_non_space().kind != "RIGHT_DELIM":
            self.backup()
            pipe = self.pipeline(context, "RIGHT_DELIM")
        return TemplateCall(name, pipe, False, keyword.line)

    def block_control(self, keyword: Token) -> TemplateCall:
        context = "block clause"
        name = self.template_name(self.next_non_space(), context)
        pipe = self.pipeline(context, "RIGHT_DELIM")
        self.add_define(Define(name, self.sub_template_body(context), keyword.line))
        return TemplateCall(name, pipe, True, keyword.line)

    # --- pipelines ------------------------------------------------------------------------------

    def pipeline(self, context: str, end: str) -> Pipeline:
        line = self.peek_non_space().line
        decl: list[str] = []
        is_assign = False
        while True:
            start = self.index
            variable = self.next_non_space()
            following = self.peek_non_space()
            if variable.kind != "VARIABLE":
                self.index = start
                break
            if following.kind in ("ASSIGN", "DECLARE"):
                is_assign = following.kind == "ASSIGN"
                self.next_non_space()
                if is_assign and variable.value not in self.vars:
                    raise GoSyntaxError(
                        f"undefined variable {go_quote(variable.value)}", variable.line
                    )
                decl.append(variable.value)
                self.vars.append(variable.value)
                break
            if following.kind == "CHAR" and following.value == ",":
                self.next_non_space()
                decl.append(variable.value)
                self.vars.append(variable.value)
                if context == "range" and len(decl) < 2:
                    if self.peek_non_space().kind in ("VARIABLE", "RIGHT_DELIM", "RIGHT_PAREN"):
                        continue
                    raise self.error("range can only initialize variables")
                raise self.error(f"too many declarations in {context}")
            self.index = start  # not a declaration: the variable is the first operand
            break
        commands: list[Command] = []
        while True:
            token = self.next_non_space()
            if token.kind == end:
                break
            if token.kind not in _OPERAND_START:
                raise self.unexpected(token, context)
            self.backup()
            commands.append(self.command())
        if not commands:
            raise self.error(f"missing value for {context}")
        for stage, command in enumerate(commands[1:], start=2):
            if isinstance(command.args[0], _NOT_EXECUTABLE):
                raise self.error(f"non executable command in pipeline stage {stage}")
        return Pipeline(tuple(decl), is_assign, tuple(commands), line)

    def command(self) -> Command:
        line = self.peek_non_space().line
        args: list[Operand] = []
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                args.append(operand)
            token = self.next()
            if token.kind == "SPACE":
                continue
            if token.kind in ("RIGHT_DELIM", "RIGHT_PAREN"):
                self.backup()
            elif token.kind != "PIPE":
                raise self.unexpected(token, "operand")
            break
        if not args:
            raise self.error("empty command")
        return Command(tuple(args), line)

    def operand(self) -> Operand | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().kind != "FIELD":
            return node
        names: list[str] = []
        while self.peek().kind == "FIELD":
            names.append(self.next().value[1:])
        if isinstance(node, Field):
            return Field((*node.names, *names), node.line)
        if isinstance(node, Variable):
            return Variable(node.name, (*node.names, *names), node.line)
        if isinstance(node, _NOT_EXECUTABLE):
            raise self.error(f"unexpected . after term {go_quote(_term_text(node))}")
        return Chain(node, tuple(names), node.line)

    def term(self) -> Operand | None:
        token = self.next_non_space()
        kind, line = token.kind, token.line
        if kind == "IDENTIFIER":
            if self.functions is not None:
                problem = self.functions(token.value)
                if problem is not None:
                    raise GoSyntaxError(problem, line)
            return Identifier(token.value, line)
        if kind == "DOT":
            return Dot(line)
        if kind == "NIL":
            return Nil(line)
        if kind == "VARIABLE":
            if token.value not in self.vars:
                raise GoSyntaxError(f"undefined variable {go_quote(token.value)}", line)
            return Variable(token.value, (), line)
        if kind == "FIELD":
            return Field((token.value[1:],), line)
        if kind == "BOOL":
            return Bool(token.value == "true", line)
        if kind in ("CHAR_CONSTANT", "COMPLEX", "NUMBER"):
            return Number(self.literal(_number, token), token.value, line)
        if kind == "LEFT_PAREN":
            if self.paren_depth >= MAX_PAREN_DEPTH:
                raise self.error("max expression depth exceeded")
            self.paren_depth += 1
            try:
                return self.pipeline("parenthesized pipeline", "RIGHT_PAREN")
            finally:
                self.paren_depth -= 1
        if kind in ("STRING", "RAW_STRING"):
            return String(self.literal(_unquote, token), token.value, line)
        self.backup()
        return None


def _term_text(node: Operand) -> str:
    if isinstance(node, String):
        return node.quoted
    if isinstance(node, Number):
        return node.text
    if isinstance(node, Bool):
        return "true" if node.value else "false"
    return "nil" if isinstance(node, Nil) else "."


def _is_empty(body: tuple[Node, ...]) -> bool:
    return all(
        isinstance(node, Comment) or (isinstance(node, Text) and not node.text.strip())
        for node in body
    )


def parse(text: str, *, functions: FunctionCheck | None = None) -> Parsed:
    """The syntax tree of ``text``; raises ``GoSyntaxError`` (Go's message and the line).

    ``functions(name)`` says why a function name cannot be used (``function "x" not defined``)
    or returns None; without it any name parses (for tools that only rewrite templates).
    """
    return _Parser(text, functions).parse()
