"""Strings from users: refuse the characters that make no sense in them, before they reach the database.

PostgreSQL cannot store a NUL character in text (a name with one answered 500), and a lone surrogate
(JSON allows "\\ud800") cannot even be encoded to UTF-8. Neither, nor any other control character (tab,
newline, escape, DEL, the C1 range), belongs in a name, a label, a login or a query parameter. Every schema
field and query parameter that takes text uses `SafeStr` (or a type built on it); multipart file names go
through `check_file_name`.
"""

import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue

from digitlab.core.errors import invalid

# Unicode categories refused: Cc (C0/C1 controls incl. NUL, tab, newline, DEL) and Cs (lone surrogates).
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs"})
# Line and paragraph separators are not in Cc but break a single line just the same.
_REFUSED_CHARACTERS = frozenset({"\u2028", "\u2029"})

CONTROL_CHARACTER_MESSAGE = "must not contain control characters (such as NUL, tab or a line break)"


def has_control_characters(value: str) -> bool:
    return any(ch in _REFUSED_CHARACTERS or unicodedata.category(ch) in _REFUSED_CATEGORIES for ch in value)


def refuse_control_characters(value: str) -> str:
    """Pydantic validator: the value unchanged, or a ValueError (422 with the field's name)."""
    if has_control_characters(value):
        raise ValueError(CONTROL_CHARACTER_MESSAGE)
    return value


# The same rule for the OpenAPI document (JSON Schema `pattern`), so that what it allows is what is accepted.
# (Lone surrogates cannot be written in a pattern that every schema tool reads; they are refused all the same.)
CONTROL_FREE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]*$"
# ... for text that must not be blank either (names: at least one character that is not a space).
NON_BLANK_PATTERN = (
    r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]*[^\s\x00-\x1f\x7f-\x9f\u2028\u2029][^\x00-\x1f\x7f-\x9f\u2028\u2029]*$"
)


class _ControlFreeSchema:
    """Adds CONTROL_FREE_PATTERN to a string's JSON Schema, unless a stricter pattern is already there."""

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler(core_schema)
        if schema.get("type") == "string" and "pattern" not in schema:
            schema["pattern"] = CONTROL_FREE_PATTERN
        return schema


class SchemaPattern:
    """Sets a string's JSON Schema `pattern` (documentation only: validators enforce the rule with a clear
    message), e.g. `Annotated[SafeStr, AfterValidator(not_blank), SchemaPattern(NON_BLANK_PATTERN)]`."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler(core_schema)
        schema["pattern"] = self.pattern
        return schema


# Single-line text from a user: names, labels, logins, passwords, query parameters.
SafeStr = Annotated[str, AfterValidator(refuse_control_characters), _ControlFreeSchema()]


def check_file_name(name: str | None, default: str = "upload") -> str:
    """A client's file name (multipart upload) checked for storing and showing: never a path, only a label.

    Returns `default` when the client sent none; raises a 422 DomainError when it holds control characters.
    """
    if not name:
        return default
    if has_control_characters(name):
        raise invalid(f"The file name {name!r} {CONTROL_CHARACTER_MESSAGE}.", "invalid_file_name")
    return name
