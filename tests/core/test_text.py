"""digitlab.core.text: the one rule for characters that make no sense in a user's single-line text."""

import re

import pytest
from pydantic import BaseModel, ValidationError

from digitlab.core.errors import DomainError, ErrorKind
from digitlab.core.text import CONTROL_FREE_PATTERN, SafeStr, check_file_name, has_control_characters

REFUSED = ["\x00", "a\x00b", "tab\there", "line\nbreak", "\r", "\x1b[31mred", "del\x7f", "\x85", "\x9f",
           "\u2028", "\u2029", "\ud800"]
ACCEPTED = ["Mia", "Zoë's Ziffern", "数字", "😀 digits", "a b", "x" * 1000, "", "\u200d", "naïve-ü"]


class Model(BaseModel):
    name: SafeStr


@pytest.mark.parametrize("value", REFUSED)
def test_control_characters_and_surrogates_are_refused(value):
    assert has_control_characters(value)
    with pytest.raises(ValidationError, match="control characters"):
        Model(name=value)


@pytest.mark.parametrize("value", ACCEPTED)
def test_ordinary_text_of_any_script_is_accepted(value):
    assert not has_control_characters(value)
    assert Model(name=value).name == value


def test_the_json_schema_says_the_same():
    """The OpenAPI document's pattern refuses exactly what the validator refuses (surrogates aside: no JSON
    Schema tool writes them)."""
    assert Model.model_json_schema()["properties"]["name"]["pattern"] == CONTROL_FREE_PATTERN
    pattern = re.compile(CONTROL_FREE_PATTERN.replace("$", r"\Z"))  # ECMA's $, not Python's
    for code in range(0x3000):
        char = chr(code)
        assert (pattern.match(char) is None) == has_control_characters(char), hex(code)


def test_file_names_are_checked_for_the_upload_code():
    assert check_file_name("Seite 1 (Kopie).png") == "Seite 1 (Kopie).png"
    assert check_file_name(None) == "upload"
    assert check_file_name("", default="scan") == "scan"
    for bad in ("page\x00.png", "a\nb.pdf", "x\x1b.jpg"):
        with pytest.raises(DomainError) as caught:
            check_file_name(bad)
        assert caught.value.kind is ErrorKind.INVALID and caught.value.code == "invalid_file_name"
        assert "\x00" not in caught.value.detail  # the sentence shows the name escaped
