"""Display name and bio rules: the shared text rules as the users domain's request models apply them."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from functions.core.text import TextRuleError, has_visible_character, refuse_bidi_controls, refuse_controls
from functions.users.models import ProfileUpdate, SignUpRequest

PASSWORD = "Sup3r-secret!"


def sign_up(**fields: Any) -> SignUpRequest:
    return SignUpRequest.model_validate(
        {"username": "alice", "email": "alice@example.com", "password": PASSWORD, **fields}
    )


def refused_issue(field: str, value: str) -> str:
    """The issue named when ``value`` is refused for ``field`` of a profile update."""
    with pytest.raises(ValidationError) as refused:
        ProfileUpdate.model_validate({field: value})
    (error,) = refused.value.errors()
    assert error["loc"] == (field,), error
    return str(error["type"])


BAD_DISPLAY_NAMES = {
    "nul": ("Ali\x00ce", "control_character"),
    "escape": ("Ali\x1b[31mce", "control_character"),
    "newline": ("Ali\nce", "control_character"),
    "tab": ("Ali\tce", "control_character"),
    "carriage return": ("Alice\r", "control_character"),
    "right-to-left override": ("Alice\u202eeilA", "bidi_control"),
    "left-to-right isolate": ("\u2066Alice", "bidi_control"),
    "pop directional format": ("Alice\u202c", "bidi_control"),
    "empty": ("", "blank"),
    "spaces": ("   ", "blank"),
    "ideographic space": ("\u3000", "blank"),
    "zero width space": ("\u200b", "blank"),
    "byte order mark": ("\ufeff", "blank"),
    "hangul filler": ("\u3164", "blank"),
    "halfwidth hangul filler": ("\uffa0", "blank"),
    "braille blank": ("\u2800\u2800", "blank"),
    "lone combining mark": ("\u0301", "blank"),
    "right-to-left mark": ("\u200f", "blank"),
}


@pytest.mark.parametrize(("value", "issue"), BAD_DISPLAY_NAMES.values(), ids=BAD_DISPLAY_NAMES.keys())
def test_bad_display_names_are_refused_with_the_issue(value: str, issue: str) -> None:
    assert refused_issue("display_name", value) == issue


@pytest.mark.parametrize(("value", "issue"), BAD_DISPLAY_NAMES.values(), ids=BAD_DISPLAY_NAMES.keys())
def test_sign_up_applies_the_same_display_name_rules(value: str, issue: str) -> None:
    with pytest.raises(ValidationError) as refused:
        sign_up(display_name=value)
    assert [(e["loc"], e["type"]) for e in refused.value.errors()] == [(("display_name",), issue)]


BAD_BIOS = {
    "nul": ("hi\x00", "control_character"),
    "escape": ("hi \x1b]8;;https://evil\x07", "control_character"),
    "carriage return": ("line\r\nline", "control_character"),
    "tab": ("a\tb", "control_character"),
    "right-to-left override": ("bio \u202eevil", "bidi_control"),
    "first strong isolate": ("bio \u2068x\u2069", "bidi_control"),
    "right-to-left embedding": ("\u202bbio", "bidi_control"),
}


@pytest.mark.parametrize(("value", "issue"), BAD_BIOS.values(), ids=BAD_BIOS.keys())
def test_bad_bios_are_refused_with_the_issue(value: str, issue: str) -> None:
    assert refused_issue("bio", value) == issue


GOOD_NAMES = {
    "latin": "Alice A.",
    "emoji zwj sequence": "Alice 👩‍💻",
    "flag": "🇯🇵 Haruto",
    "arabic": "مريم",
    "hebrew with rlm": "דני (Danny)\u200f",
    "cjk": "山田太郎",
    "combining accent": "Zoe\u0308",
    "single visible character": "\u200bx",
}


@pytest.mark.parametrize("value", GOOD_NAMES.values(), ids=GOOD_NAMES.keys())
def test_ordinary_display_names_and_bios_pass(value: str) -> None:
    update = ProfileUpdate.model_validate({"display_name": value, "bio": value})
    assert update.display_name == value and update.bio == value
    assert sign_up(display_name=value).display_name == value


def test_a_bio_may_span_lines_or_be_empty() -> None:
    assert ProfileUpdate.model_validate({"bio": "line one\nline two\n"}).bio == "line one\nline two\n"
    assert ProfileUpdate.model_validate({"bio": ""}).bio == ""
    assert ProfileUpdate.model_validate({"bio": "  "}).bio == "  "


def test_length_limits_still_apply_first() -> None:
    assert refused_issue("display_name", "\x00" * 51) == "string_too_long"
    assert refused_issue("bio", "b" * 161) == "string_too_long"
    assert ProfileUpdate.model_validate({"display_name": "d" * 50, "bio": "b" * 160}).bio == "b" * 160


def test_absent_fields_are_not_checked() -> None:
    assert ProfileUpdate.model_validate({}).display_name is None
    assert sign_up().display_name is None


def test_shared_rules_directly() -> None:
    assert has_visible_character("\u200bx") and not has_visible_character("\u200b\u3164 \u0301")
    refuse_controls("a\nb", allow_newline=True)
    with pytest.raises(TextRuleError):
        refuse_controls("a\nb", allow_newline=False)
    with pytest.raises(TextRuleError) as refused:
        refuse_controls("a\ud800", allow_newline=True)
    assert refused.value.issue == "unpaired_surrogate"
    refuse_bidi_controls("שלום!\u200f\u200e\u061c")  # the marks pass
    with pytest.raises(TextRuleError):
        refuse_bidi_controls("x\u2069")
