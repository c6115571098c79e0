"""The lexer of Go's ``text/template`` syntax: template text to tokens, as Go scans it.

Separate from ``goparse`` (the grammar) because scanning has its own rules that Lynq forms rely
on: ``{{-``/``-}}`` trim markers (a dash followed or preceded by white space, so ``{{-3}}`` is the
number -3), comments ``{{/* */}}`` that must touch the delimiters, newlines inside actions, and
Go's number, string, raw-string and character literals. It follows ``text/template/parse/lex.go``
of Go 1.24 (the version Lynq builds with): the same tokens, the same error texts. The whole input
is scanned up front; a scanning error becomes an ``ERROR`` token at the place it happens, so the
parser reports whatever it meets first, as Go's lazy lexer does.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Final

__all__ = ["Token", "go_quote", "tokenize"]

LEFT_DELIM: Final = "{{"
RIGHT_DELIM: Final = "}}"
_SPACES: Final = " \t\r\n"

KEYWORDS: Final = {
    "block": "BLOCK",
    "break": "BREAK",
    "continue": "CONTINUE",
    "define": "DEFINE",
    "else": "ELSE",
    "end": "END",
    "if": "IF",
    "range": "RANGE",
    "nil": "NIL",
    "template": "TEMPLATE",
    "with": "WITH",
}


@dataclass(frozen=True, slots=True)
class Token:
    """One scanned item: ``kind`` (``TEXT``, ``FIELD``, ``IF``, ...), its source text, position."""

    kind: str
    value: str
    pos: int
    line: int

    def describe(self) -> str:
        """The token as Go's parser names it in an error: ``"}"``, ``<else>``, ``EOF``."""
        if self.kind == "EOF":
            return "EOF"
        if self.kind == "ERROR":
            return self.value
        if self.kind in KEYWORDS.values() or self.kind == "DOT":
            return f"<{self.value}>"
        if len(self.value) > 10:
            return go_quote(self.value[:10]) + "..."
        return go_quote(self.value)


def go_quote(text: str) -> str:
    """``text`` as Go's ``%q`` writes it: double quotes, escapes for what is not printable."""
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char in _NAMED_ESCAPES:
            out.append(_NAMED_ESCAPES[char])
        elif char.isprintable() or char == " ":
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


_NAMED_ESCAPES: Final = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def describe_rune(char: str) -> str:
    """Go's ``%#U``: ``U+0029 ')'``."""
    code = f"U+{ord(char):04X}"
    return f"{code} '{char}'" if char.isprintable() else code


def _is_alphanumeric(char: str) -> bool:
    return char == "_" or char.isalpha() or unicodedata.category(char) == "Nd"


def _left_trim(text: str, pos: int) -> bool:
    return text.startswith("-", pos) and pos + 1 < len(text) and text[pos + 1] in _SPACES


def _right_trim(text: str, pos: int) -> bool:
    return pos + 1 < len(text) and text[pos] in _SPACES and text[pos + 1] == "-"


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.start = 0
        self.line = 1
        self.start_line = 1
        self.tokens: list[Token] = []
        self.paren_depth = 0

    # --- helpers -------------------------------------------------------------------------------

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def emit(self, kind: str) -> None:
        self.tokens.append(
            Token(kind, self.text[self.start : self.pos], self.start, self.start_line)
        )
        self.ignore()

    def ignore(self) -> None:
        self.line += self.text.count("\n", self.start, self.pos)
        self.start = self.pos
        self.start_line = self.line

    def error(self, message: str) -> None:
        self.tokens.append(Token("ERROR", message, self.start, self.start_line))

    def at_right_delim(self) -> tuple[bool, bool]:
        if _right_trim(self.text, self.pos) and self.text.startswith(RIGHT_DELIM, self.pos + 2):
            return True, True
        return self.text.startswith(RIGHT_DELIM, self.pos), False

    def at_terminator(self) -> bool:
        char = self.peek()
        return char == "" or char in _SPACES or char in ".,|:)(}"

    # --- states: each returns True inside an action, False in text, None when scanning stops --

    def run(self) -> list[Token]:
        inside: bool | None = False
        while inside is not None:
            if inside:
                inside = self.lex_inside_action()
            elif self.lex_text():
                inside = self.lex_left_delim()
            else:
                inside = None
        return self.tokens

    def lex_text(self) -> bool:
        found = self.text.find(LEFT_DELIM, self.pos)
        if found < 0:
            self.pos = len(self.text)
            if self.pos > self.start:
                self.emit("TEXT")
            self.emit("EOF")
            return False
        self.pos = found
        trim = 0
        if _left_trim(self.text, found + len(LEFT_DELIM)):
            chunk = self.text[self.start : found]
            trim = len(chunk) - len(chunk.rstrip(_SPACES))
        self.pos -= trim
        if self.pos > self.start:
            self.emit("TEXT")
        self.pos += trim
        self.ignore()
        return True

    def lex_left_delim(self) -> bool | None:
        self.pos += len(LEFT_DELIM)
        after = 2 if _left_trim(self.text, self.pos) else 0
        if self.text.startswith("/*", self.pos + after):
            self.pos += after
            self.ignore()
            return self.lex_comment()
        self.emit("LEFT_DELIM")
        self.pos += after
        self.ignore()
        self.paren_depth = 0
        return True

    def lex_comment(self) -> bool | None:
        end = self.text.find("*/", self.pos + 2)
        if end < 0:
            self.error("unclosed comment")
            return None
        self.pos = end + 2
        delim, trim = self.at_right_delim()
        if not delim:
            self.error("comment ends before closing delimiter")
            return None
        self.emit("COMMENT")
        self.pos += (2 if trim else 0) + len(RIGHT_DELIM)
        if trim:
            self.skip_leading_space()
        self.ignore()
        return False

    def skip_leading_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _SPACES:
            self.pos += 1

    def lex_right_delim(self) -> bool:
        _, trim = self.at_right_delim()
        if trim:
            self.pos += 2
            self.ignore()
        self.pos += len(RIGHT_DELIM)
        self.emit("RIGHT_DELIM")
        if trim:
            self.skip_leading_space()
            self.ignore()
        return False

    def lex_inside_action(self) -> bool | None:
        delim, _ = self.at_right_delim()
        if delim:
            if self.paren_depth == 0:
                return self.lex_right_delim()
            self.error("unclosed left paren")
            return None
        char = self.peek()
        if char == "":
            self.error("unclosed action")
            return None
        if char in _SPACES:
            return self.lex_space()
        self.pos += 1
        if char == "=":
            self.emit("ASSIGN")
        elif char == ":":
            if self.peek() != "=":
                self.error("expected :=")
                return None
            self.pos += 1
            self.emit("DECLARE")
        elif char == "|":
            self.emit("PIPE")
        elif char == '"':
            return self.lex_quote('"', "STRING", "unterminated quoted string")
        elif char == "'":
            return self.lex_quote("'", "CHAR_CONSTANT", "unterminated character constant")
        elif char == "`":
            return self.lex_raw_quote()
        elif char == "$":
            return self.lex_field_or_variable("VARIABLE")
        elif char == "." and not ("0" <= self.peek() <= "9" and self.peek() != ""):
            return self.lex_field_or_variable("FIELD")
        elif char in "+-." or "0" <= char <= "9":
            self.pos -= 1
            return self.lex_number()
        elif _is_alphanumeric(char):
            return self.lex_identifier()
        elif char == "(":
            self.emit("LEFT_PAREN")
            self.paren_depth += 1
        elif char == ")":
            self.paren_depth -= 1
            if self.paren_depth < 0:
                self.error(f"unexpected right paren {describe_rune(char)}")
                return None
            self.emit("RIGHT_PAREN")
        elif char.isascii() and char.isprintable():
            self.emit("CHAR")
        else:
            self.error(f"unrecognized character in action: {describe_rune(char)}")
            return None
        return True

    def lex_space(self) -> bool:
        count = 0
        while self.peek() != "" and self.peek() in _SPACES:
            self.pos += 1
            count += 1
        # " -}}" starts with a space: leave the last space for the trim-marked delimiter.
        if _right_trim(self.text, self.pos - 1) and self.text.startswith(RIGHT_DELIM, self.pos + 1):
            self.pos -= 1
            if count == 1:
                return self.lex_right_delim()
        self.emit("SPACE")
        return True

    def lex_quote(self, quote: str, kind: str, unterminated: str) -> bool | None:
        while True:
            char = self.peek()
            self.pos += 1
            if char == "\\":
                char = self.peek()
                self.pos += 1
                if char not in ("", "\n"):
                    continue
            if char in ("", "\n"):
                self.error(unterminated)
                return None
            if char == quote:
                break
        self.emit(kind)
        return True

    def lex_raw_quote(self) -> bool | None:
        end = self.text.find("`", self.pos)
        if end < 0:
            self.error("unterminated raw quoted string")
            return None
        self.pos = end + 1
        self.emit("RAW_STRING")
        return True

    def lex_field_or_variable(self, kind: str) -> bool | None:
        if self.at_terminator():
            self.emit("VARIABLE" if kind == "VARIABLE" else "DOT")
            return True
        while self.peek() != "" and _is_alphanumeric(self.peek()):
            self.pos += 1
        if not self.at_terminator():
            self.error(f"bad character {describe_rune(self.peek())}")
            return None
        self.emit(kind)
        return True

    def lex_identifier(self) -> bool | None:
        while self.peek() != "" and _is_alphanumeric(self.peek()):
            self.pos += 1
        word = self.text[self.start : self.pos]
        if not self.at_terminator():
            self.error(f"bad character {describe_rune(self.peek())}")
            return None
        if word in KEYWORDS:
            self.emit(KEYWORDS[word])
        elif word in ("true", "false"):
            self.emit("BOOL")
        else:
            self.emit("IDENTIFIER")
        return True

    def lex_number(self) -> bool | None:
        if not self.scan_number():
            self.error(f"bad number syntax: {go_quote(self.text[self.start : self.pos])}")
            return None
        if self.peek() in ("+", "-") and self.peek() != "":
            if not self.scan_number() or self.text[self.pos - 1] != "i":
                self.error(f"bad number syntax: {go_quote(self.text[self.start : self.pos])}")
                return None
            self.emit("COMPLEX")
        else:
            self.emit("NUMBER")
        return True

    def accept(self, valid: str) -> bool:
        if self.peek() != "" and self.peek() in valid:
            self.pos += 1
            return True
        return False

    def accept_run(self, valid: str) -> None:
        while self.accept(valid):
            pass

    def scan_number(self) -> bool:
        self.accept("+-")
        digits = "0123456789_"
        if self.accept("0"):
            if self.accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self.accept("oO"):
                digits = "01234567_"
            elif self.accept("bB"):
                digits = "01_"
        self.accept_run(digits)
        if self.accept("."):
            self.accept_run(digits)
        if len(digits) == 11 and self.accept("eE"):
            self.accept("+-")
            self.accept_run("0123456789_")
        if len(digits) == 23 and self.accept("pP"):
            self.accept("+-")
            self.accept_run("0123456789_")
        self.accept("i")
        if self.peek() != "" and _is_alphanumeric(self.peek()):
            self.pos += 1
            return False
        return True


def tokenize(text: str) -> list[Token]:
    """Every token of ``text``, ending with ``EOF`` or an ``ERROR`` token."""
    return _Lexer(text).run()
