"""Tweet text rules and entity extraction. Pure functions: no I/O, no AWS.

Rules (API contract): NFC-normalised text of 1..280 code points with at least one visible character, no
control characters other than newline and no bidirectional embedding, override or isolate controls. The
character rules themselves live in ``functions.core.text``, shared with profiles. Entities are pulled out
of the normalised text:
- urls: ``http://`` or ``https://`` up to white space, minus trailing punctuation; a URL also ends at a
  bidirectional control (marks included) or an invisible format character, so no extracted link can hide
  or reorder part of itself (see ``_breaks_url``);
- hashtags: ``#`` + Unicode word characters, not glued to a preceding word character or ``#``;
- mentions: ``@`` + a valid username (``^[A-Za-z0-9_]{1,15}$``), not part of an e-mail address and not
  followed by further username characters (``@a_sixteen_chars_`` is not a mention).
URLs are found first and blanked out, so ``https://x.io/#frag`` yields no hashtag ``frag``. Each list
keeps first occurrences in order; hashtags and mentions also drop case-insensitive repeats.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from functions.core.text import (
    BIDI_CONTROLS,
    NEWLINE,
    TextRuleError,
    refuse_bidi_controls,
    refuse_controls,
    refuse_invisible,
)

__all__ = [
    "MAX_TWEET_CHARS",
    "NEWLINE",
    "ExtractedEntities",
    "TextRuleError",
    "extract_entities",
    "normalise",
]

MAX_TWEET_CHARS = 280

_URL = re.compile(r"(?<![\w@])https?://[^\s<>\"]+", re.IGNORECASE)
_URL_TRAILING = ".,;:!?'\")]}"
_HASHTAG = re.compile(r"(?<![\w#&])#(\w+)")
_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_]{1,15})(?![A-Za-z0-9_@])")
# Format characters that may stay inside a URL: the joiners (IDNA2008 allows them in some labels, and
# emoji sequences such as 👩‍💻 need U+200D) and the tag characters of subdivision flags.
_URL_FORMAT_ALLOWED = frozenset({"\u200c", "\u200d", *map(chr, range(0xE0020, 0xE0080))})


def _breaks_url(ch: str) -> bool:
    """Whether ``ch`` ends a URL: any bidi control (it could reorder the link as shown), and any other
    format character except the joiners and tags (it would hide part of the link: U+200B, U+00AD...)."""
    if ch in BIDI_CONTROLS:
        return True
    return unicodedata.category(ch) == "Cf" and ch not in _URL_FORMAT_ALLOWED


@dataclass(frozen=True)
class ExtractedEntities:
    hashtags: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)


def normalise(text: str) -> str:
    """Return the NFC form of ``text`` if it follows every rule; raise TextRuleError otherwise."""
    normalised = unicodedata.normalize("NFC", text)
    length = len(normalised)  # str length counts code points
    if length == 0:
        raise TextRuleError("string_too_short", "must not be empty")
    if length > MAX_TWEET_CHARS:
        raise TextRuleError("string_too_long", f"must be at most {MAX_TWEET_CHARS} characters (got {length})")
    refuse_controls(normalised, allow_newline=True)
    refuse_bidi_controls(normalised)
    refuse_invisible(normalised)
    return normalised


def _unique(values: list[str], *, fold: bool = True) -> list[str]:
    seen: set[str] = set()
    unique = []
    for value in values:
        folded = value.casefold() if fold else value
        if folded not in seen:
            seen.add(folded)
            unique.append(value)
    return unique


def _find_urls(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """URLs in ``text`` and the spans they cover (a candidate cut short at a URL breaker included)."""
    urls: list[str] = []
    spans: list[tuple[int, int]] = []
    position = 0
    while match := _URL.search(text, position):
        start, end = match.span()
        end = next((i for i in range(start, end) if _breaks_url(text[i])), end)
        url = text[start:end].rstrip(_URL_TRAILING)
        if not url.lower().endswith("://"):
            urls.append(url)
        spans.append((start, end))
        # Go on after the cut, so a link glued behind a breaker is still found.
        position = max(end, start + 1)
    return urls, spans


def extract_entities(text: str) -> ExtractedEntities:
    """Hashtags (without ``#``), mentions (without ``@``) and URLs found in already-normalised text."""
    urls, spans = _find_urls(text)
    # Blank URLs out (same length, so nothing else shifts) before looking for hashtags and mentions.
    rest = list(text)
    for start, end in spans:
        rest[start:end] = " " * (end - start)
    blanked = "".join(rest)
    hashtags = [match.group(1) for match in _HASHTAG.finditer(blanked)]
    mentions = [match.group(1) for match in _MENTION.finditer(blanked)]
    return ExtractedEntities(
        hashtags=_unique(hashtags), mentions=_unique(mentions), urls=_unique(urls, fold=False)
    )
