"""Tweet text rules and entity extraction. Pure functions: no I/O, no AWS.

Rules (API contract): NFC-normalised text of 1..280 code points, not only white space, and no control
characters other than newline. Entities are pulled out of the normalised text:
- urls: ``http://`` or ``https://`` up to white space, minus trailing punctuation;
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

MAX_TWEET_CHARS = 280
NEWLINE = "\n"

_URL = re.compile(r"(?<![\w@])https?://[^\s<>\"]+", re.IGNORECASE)
_URL_TRAILING = ".,;:!?'\")]}"
_HASHTAG = re.compile(r"(?<![\w#&])#(\w+)")
_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_]{1,15})(?![A-Za-z0-9_@])")


class TextRuleError(ValueError):
    """The text breaks a rule; the message says which, for the 422 details."""


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
        raise TextRuleError("text must not be empty")
    if length > MAX_TWEET_CHARS:
        raise TextRuleError(f"text must be at most {MAX_TWEET_CHARS} characters (got {length})")
    if any(unicodedata.category(ch) == "Cc" and ch != NEWLINE for ch in normalised):
        raise TextRuleError("text must not contain control characters other than newline")
    if not normalised.strip():
        raise TextRuleError("text must not be only white space")
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


def extract_entities(text: str) -> ExtractedEntities:
    """Hashtags (without ``#``), mentions (without ``@``) and URLs found in already-normalised text."""
    found = (match.group(0).rstrip(_URL_TRAILING) for match in _URL.finditer(text))
    urls = [url for url in found if not url.lower().endswith("://")]
    # Blank URLs out (same length, so nothing else shifts) before looking for hashtags and mentions.
    rest = _URL.sub(lambda m: " " * len(m.group(0)), text)
    hashtags = [match.group(1) for match in _HASHTAG.finditer(rest)]
    mentions = [match.group(1) for match in _MENTION.finditer(rest)]
    return ExtractedEntities(
        hashtags=_unique(hashtags), mentions=_unique(mentions), urls=_unique(urls, fold=False)
    )
