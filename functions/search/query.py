"""Search queries: the text of ``q`` parsed into words, phrases, hashtags and authors.

The grammar is the contract's: words (all must match), ``"exact phrase"``, ``#hashtag``, ``from:username``,
in any combination. Everything else in ``q`` is literal text: no engine's own query syntax (FTS5's
``AND``/``NEAR``/``*``/``^``, Lucene's ``+ - && || ! ( ) { } [ ] ^ ~ * ? : \\ /``) survives parsing,
because every engine receives the parsed parts as values (OpenSearch ``match``/``term`` queries, FTS5
quoted strings), never as query text.

Hand-written: the grammar is four token kinds; a parser library would be larger than the parser.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from functions.core.errors import Unprocessable

MAX_QUERY_CHARS = 512
"""Longer than any real query (a tweet is 280); a longer ``q`` is refused before any work (422)."""
MAX_TERMS = 16
"""Words, phrases, hashtags and authors together: bounds the engine's work per query."""

_USERNAME = re.compile(r"^[A-Za-z0-9_]{1,15}$")
_HASHTAG = re.compile(r"^\w+$")
_WORD_CHARS = re.compile(r"\w")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class TweetQuery:
    """A parsed tweet search: every part must match. Values are lower-cased and NFC-normalised."""

    words: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    """Usernames (lower case). More than one can match nothing: a tweet has one author."""
    author_ids: tuple[str, ...] = ()
    """The user ids of ``authors``, resolved by the search logic (the index holds author ids)."""

    @property
    def has_text(self) -> bool:
        return bool(self.words or self.phrases)


@dataclass(frozen=True)
class UserQuery:
    """A user search: ``prefix`` of the username, or every token a prefix of a display-name word."""

    prefix: str
    tokens: tuple[str, ...] = field(default=())


def _refuse(issue: str, message: str) -> Unprocessable:
    return Unprocessable(message, details=[{"field": "q", "issue": issue, "message": message}])


def _clean(q: str) -> str:
    text = unicodedata.normalize("NFC", q).strip()
    if not text:
        raise _refuse("empty", "The query is empty.")
    if len(text) > MAX_QUERY_CHARS:
        raise _refuse("too_long", f"The query is longer than {MAX_QUERY_CHARS} characters.")
    return text


def _meaningful(text: str) -> bool:
    """Whether ``text`` holds a letter or digit: a term of punctuation alone can match nothing."""
    return bool(_WORD_CHARS.search(text))


def _split(text: str) -> tuple[list[str], list[str]]:
    """(phrases, bare chunks): text inside double quotes is a phrase; an unbalanced quote runs to the
    end of ``q`` (what the user most likely meant, rather than an error)."""
    phrases: list[str] = []
    chunks: list[str] = []
    parts = text.split('"')
    for index, part in enumerate(parts):
        if index % 2 == 1:
            phrase = _SPACE.sub(" ", part).strip().lower()
            if _meaningful(phrase):
                phrases.append(phrase)
        else:
            chunks.extend(part.split())
    return phrases, chunks


def parse_tweet_query(q: str) -> TweetQuery:
    """``q`` as a ``TweetQuery``; Unprocessable (422) when it is empty, too long, names ``from:`` without
    a valid username, or holds no term that could match anything (only operators or punctuation)."""
    phrases, chunks = _split(_clean(q))
    words: list[str] = []
    hashtags: list[str] = []
    authors: list[str] = []
    for chunk in chunks:
        lowered = chunk.lower()
        if lowered.startswith("from:"):
            name = chunk[5:].lstrip("@")
            if not _USERNAME.match(name):
                raise _refuse("invalid_author", "from: must be followed by a username.")
            authors.append(name.lower())
        elif chunk.startswith("#") and len(chunk) > 1 and _HASHTAG.match(chunk[1:]):
            hashtags.append(lowered[1:])
        elif _meaningful(chunk):
            words.append(lowered)
    query = TweetQuery(
        words=tuple(dict.fromkeys(words)),
        phrases=tuple(dict.fromkeys(phrases)),
        hashtags=tuple(dict.fromkeys(hashtags)),
        authors=tuple(dict.fromkeys(authors)),
    )
    count = len(query.words) + len(query.phrases) + len(query.hashtags) + len(query.authors)
    if count == 0:
        raise _refuse("no_terms", "The query holds nothing to search for.")
    if count > MAX_TERMS:
        raise _refuse("too_many_terms", f"The query holds more than {MAX_TERMS} terms.")
    return query


def parse_user_query(q: str) -> UserQuery:
    """``q`` as a ``UserQuery`` (a leading ``@`` is ignored); 422 when nothing searchable is left."""
    text = _clean(q).lstrip("@").lower()
    tokens = tuple(dict.fromkeys(t for t in re.split(r"[^\w]+", text) if t))
    if not tokens:
        raise _refuse("no_terms", "The query holds nothing to search for.")
    if len(tokens) > MAX_TERMS:
        raise _refuse("too_many_terms", f"The query holds more than {MAX_TERMS} terms.")
    return UserQuery(prefix=text if _USERNAME.match(text) else "", tokens=tokens)
