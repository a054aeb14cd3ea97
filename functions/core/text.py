"""Rules for user-visible text (tweets, display names, bios), shared by every domain. Pure functions on
``str`` built on ``unicodedata``; the one concession to the typed edge is ``pydantic_rule``, which turns a
rule into a pydantic validator so a broken rule becomes a 422 ``details`` entry naming field and issue.

What "visible" means here (``is_visible``): a character is visible unless it is one of
- white space: the separators Zs, Zl, Zp and everything ``str.isspace`` accepts (tab, newline, U+0085...);
- a control character (Cc) or an unpaired surrogate (Cs);
- a format character (Cf): U+200B zero width space, U+200C/U+200D joiners, U+2060 word joiner, U+FEFF,
  U+00AD soft hyphen, U+180E, the bidirectional marks and controls, U+2061..U+2064, tag characters...;
- a non-spacing or enclosing mark (Mn, Me), e.g. U+0301, U+034F, variation selectors U+FE00..U+FE0F.
  A mark draws on the character before it, so it never counts on its own: "e" followed by U+0301 is
  visible thanks to the "e", a lone U+0301 is not. Spacing marks (Mc) take space and show a glyph, so
  they count;
- a letter or symbol that fonts draw as blank and that is known as a way to post "empty" text: the
  Hangul fillers U+115F, U+1160, U+3164, U+FFA0, Braille pattern blank U+2800 and U+1D159 musical symbol
  null notehead.
Private-use (Co) and unassigned (Cn) code points count as visible: they are icons in some fonts, and an
emoji newer than this interpreter's Unicode database must not be refused as blank.

Bidirectional controls: the embeddings, overrides and isolates (U+202A..U+202E, U+2066..U+2069) are
refused. They reorder whole runs of text, which lets "photo", U+202E, "gpj.exe" display as
"photoexe.jpg" and a link read as another, and an unbalanced one leaks into whatever the client shows
next. The marks U+200E LRM, U+200F RLM and U+061C ALM are allowed: they are the stateless means Unicode
recommends for placing punctuation and digits correctly beside Arabic or Hebrew, they cannot reverse a
run of strong letters, and nothing outlives the string. They are still invisible, and URL extraction
ends a link at any of them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from pydantic_core import PydanticCustomError

NEWLINE = "\n"

BIDI_EMBEDDINGS_OVERRIDES_ISOLATES = frozenset(
    chr(code) for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
)
BIDI_MARKS = frozenset("\u200e\u200f\u061c")
# Every code point with the Unicode Bidi_Control property.
BIDI_CONTROLS = BIDI_EMBEDDINGS_OVERRIDES_ISOLATES | BIDI_MARKS
# Letters and symbols that render as blank (see the module docstring).
BLANK_GLYPHS = frozenset("\u115f\u1160\u3164\uffa0\u2800\U0001d159")
_NOT_VISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cs", "Cf", "Mn", "Me"})


class TextRuleError(ValueError):
    """The text breaks a rule. ``issue`` is the snake_case name of the rule; the message is for people."""

    def __init__(self, issue: str, message: str) -> None:
        super().__init__(message)
        self.issue = issue
        self.message = message


def code_point(ch: str) -> str:
    """``U+202E`` style name of a character, for messages (the character itself may not print)."""
    return f"U+{ord(ch):04X}"


def is_visible(ch: str) -> bool:
    """Whether one character shows something on its own (the definition is in the module docstring)."""
    if ch.isspace() or ch in BLANK_GLYPHS:
        return False
    return unicodedata.category(ch) not in _NOT_VISIBLE_CATEGORIES


def has_visible_character(text: str) -> bool:
    """Whether ``text`` holds at least one visible character."""
    return any(is_visible(ch) for ch in text)


def refuse_invisible(text: str) -> None:
    """Raise ``blank`` unless ``text`` holds a visible character."""
    if not has_visible_character(text):
        raise TextRuleError(
            "blank", "must contain a visible character, not only white space or invisible characters"
        )


def refuse_controls(text: str, *, allow_newline: bool) -> None:
    """Raise ``control_character`` for any Cc character (``\\n`` allowed when ``allow_newline``: a bare
    ``\\r`` or a tab is still refused), and ``unpaired_surrogate`` for a Cs code point, which JSON's
    ``\\ud800`` escapes can produce but which is no character and cannot be stored as UTF-8."""
    for position, ch in enumerate(text):
        category = unicodedata.category(ch)
        if category == "Cc" and not (allow_newline and ch == NEWLINE):
            allowed = " other than newline" if allow_newline else ""
            raise TextRuleError(
                "control_character",
                f"must not contain control characters{allowed} ({code_point(ch)} at position {position})",
            )
        if category == "Cs":
            raise TextRuleError(
                "unpaired_surrogate", f"must not contain an unpaired surrogate (at position {position})"
            )


def refuse_bidi_controls(text: str) -> None:
    """Raise ``bidi_control`` for a bidirectional embedding, override or isolate; the marks pass."""
    for position, ch in enumerate(text):
        if ch in BIDI_EMBEDDINGS_OVERRIDES_ISOLATES:
            raise TextRuleError(
                "bidi_control",
                f"must not contain bidirectional embedding, override or isolate controls "
                f"({code_point(ch)} at position {position})",
            )


def pydantic_rule(rule: Callable[[str], str]) -> Callable[[str], str]:
    """``rule`` as a pydantic validator: a TextRuleError becomes an error whose type is its issue, so the
    422 ``details`` entry says ``{"field": ..., "issue": "bidi_control", "message": ...}``."""

    def validate(value: str) -> str:
        try:
            return rule(value)
        except TextRuleError as exc:
            # Without a context pydantic shows the template as it is, so the message needs no escaping.
            raise PydanticCustomError(exc.issue, exc.message) from exc

    return validate
