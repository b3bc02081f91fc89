"""Just enough GraphQL to check a query the way Shopify does: a recursive-descent parser of
one operation's selection sets, and a checker against a small schema (schema.py).

Supported: `query [Name] [($var: Type!, ...)] { ... }` or a bare `{ ... }`, fields with
arguments (variables, strings, numbers, enums, booleans, lists), aliases and comments.
Fragments and directives are refused with an error (ShopMate's queries use neither).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_TOKEN = re.compile(
    r"""
    (?P<skip>[\s,]+|\#[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<spread>\.\.\.)
  | (?P<punct>[{}():!$\[\]=@])
  | (?P<name>[_A-Za-z][_0-9A-Za-z]*)
    """,
    re.VERBOSE,
)


class GraphQLSyntaxError(ValueError):
    """The document does not parse; `line`/`column` say where."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


@dataclass
class Field:
    """One selected field: its name (and alias), arguments, sub-selection, and position."""

    name: str
    alias: str | None
    arguments: dict[str, Any]
    selections: list[Field] | None
    line: int
    column: int

    @property
    def key(self) -> str:
        return self.alias or self.name


@dataclass
class Operation:
    kind: str
    name: str | None
    variables: dict[str, str] = field(default_factory=dict)  # name -> type text
    selections: list[Field] = field(default_factory=list)


@dataclass(frozen=True)
class Variable:
    name: str


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None:
                raise self._error(f"Unexpected character {text[position]!r}", position)
            if match.lastgroup != "skip":
                self.tokens.append((match.lastgroup or "", match.group(), position))
            position = match.end()
        self.index = 0

    def _where(self, offset: int) -> tuple[int, int]:
        """(line, column), both from 1, of a character offset: GraphQL's `locations`."""
        line = self.text.count("\n", 0, offset) + 1
        column = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return line, column

    def _error(self, message: str, offset: int | None = None) -> GraphQLSyntaxError:
        if offset is None:
            offset = self.tokens[self.index][2] if self.index < len(self.tokens) else len(self.text)
        return GraphQLSyntaxError(message, *self._where(offset))

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, value: str | None = None, kind: str | None = None) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            raise self._error("Unexpected end of document")
        if (value is not None and token[1] != value) or (kind is not None and token[0] != kind):
            raise self._error(f"Expected {value or kind}, found {token[1]!r}")
        self.index += 1
        return token

    def at(self, value: str) -> bool:
        token = self.peek()
        return token is not None and token[1] == value

    def document(self) -> Operation:
        token = self.peek()
        if token is None:
            raise self._error("The document has no operation")
        if token[1] == "{":
            operation = Operation("query", None)
        else:
            kind = self.take(kind="name")[1]
            if kind != "query":
                raise self._error(f"Only query operations are supported here, not {kind!r}")
            operation = Operation(kind, None)
            if self.peek() and self.peek()[0] == "name":
                operation.name = self.take(kind="name")[1]
            if self.at("("):
                operation.variables = self.variable_definitions()
        operation.selections = self.selection_set()
        if self.peek() is not None:
            raise self._error("Only one operation per document is supported here")
        return operation

    def variable_definitions(self) -> dict[str, str]:
        variables: dict[str, str] = {}
        self.take("(")
        while not self.at(")"):
            self.take("$")
            name = self.take(kind="name")[1]
            self.take(":")
            variables[name] = self.type_text()
            if self.at("="):
                self.take("=")
                self.value()
        self.take(")")
        return variables

    def type_text(self) -> str:
        if self.at("["):
            self.take("[")
            inner = self.type_text()
            self.take("]")
            text = f"[{inner}]"
        else:
            text = self.take(kind="name")[1]
        if self.at("!"):
            self.take("!")
            text += "!"
        return text

    def selection_set(self) -> list[Field]:
        self.take("{")
        fields: list[Field] = []
        while not self.at("}"):
            if self.at("...") or self.at("@"):
                raise self._error("Fragments and directives are not supported here")
            fields.append(self.field())
        self.take("}")
        if not fields:
            raise self._error("A selection set cannot be empty")
        return fields

    def field(self) -> Field:
        _, name, offset = self.take(kind="name")
        alias = None
        if self.at(":"):
            self.take(":")
            alias, name = name, self.take(kind="name")[1]
        arguments: dict[str, Any] = {}
        if self.at("("):
            self.take("(")
            while not self.at(")"):
                argument = self.take(kind="name")[1]
                self.take(":")
                arguments[argument] = self.value()
            self.take(")")
        selections = self.selection_set() if self.at("{") else None
        return Field(name, alias, arguments, selections, *self._where(offset))

    def value(self) -> Any:
        kind, text, _ = self.take()
        if text == "$":
            return Variable(self.take(kind="name")[1])
        if kind == "string":
            return bytes(text[1:-1], "utf-8").decode("unicode_escape")
        if kind == "number":
            return float(text) if "." in text else int(text)
        if text == "[":
            items = []
            while not self.at("]"):
                items.append(self.value())
            self.take("]")
            return items
        if kind == "name":
            return {"true": True, "false": False, "null": None}.get(text, text)
        raise self._error(f"Unexpected {text!r}")


def parse(text: str) -> Operation:
    """Parse a query document; raises GraphQLSyntaxError."""
    return _Parser(text).document()
