"""The search engine port: what the search domain asks of an engine, in domain values.

Two adapters implement ``SearchEngine``: ``engines.opensearch`` (OpenSearch Service, on AWS) and
``engines.sqlite`` (SQLite FTS5, embedded, for the local cloud). One contract suite
(tests/integration/test_search_engine_contract.py) holds both to the same behaviour:

- ``apply`` is idempotent and ordering-safe: a change carries the version of the stream record that
  made it (its sequence number, zero-padded to ``VERSION_DIGITS``); a document or tombstone is replaced
  only by a change of a greater version, so a redelivered or late record (an INSERT after the REMOVE)
  never overwrites a newer state and a deleted tweet is never resurrected;
- searches return ids newest first (tweets: ``created_at`` desc, ``tweet_id`` desc) or by username
  (users), and resume strictly after a ``search_after`` position (the last hit's sort values);
- an engine that cannot be reached raises ``EngineUnavailable`` (the API answers 503 with Retry-After).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from functions.core.errors import RetriesExhausted
from functions.search.query import TweetQuery, UserQuery

VERSION_DIGITS = 40
"""DynamoDB stream sequence numbers are decimal strings of up to 40 digits (more than a 64-bit
OpenSearch external version holds): zero-padded, they compare as strings in numeric order."""
SCAN_VERSION = "0" * VERSION_DIGITS
"""The version of a document rebuilt from a table scan (``make reindex``): any stream change wins."""

IndexName = Literal["tweets", "users"]


def version_of(sequence_number: str) -> str:
    """The change version of a stream record's SequenceNumber."""
    if not sequence_number.isdigit() or len(sequence_number) > VERSION_DIGITS:
        raise ValueError(f"not a stream sequence number: {sequence_number!r}")
    return sequence_number.zfill(VERSION_DIGITS)


class EngineUnavailable(RetriesExhausted):
    """The engine could not be reached or refused for load (after the client's retries): the API
    answers 503 with Retry-After, the indexer fails the records so they are delivered again."""


@dataclass(frozen=True)
class TweetDocument:
    tweet_id: str
    author_id: str
    created_at: str
    text: str
    hashtags: tuple[str, ...] = ()
    """Lower case, without ``#``."""
    mentions: tuple[str, ...] = ()
    """Lower case, without ``@``."""


@dataclass(frozen=True)
class UserDocument:
    user_id: str
    username: str
    """Lower case."""
    display_name: str


@dataclass(frozen=True)
class Change:
    """One write to an index: the document, or a tombstone (``document`` None) for ``doc_id``."""

    index: IndexName
    doc_id: str
    version: str
    document: TweetDocument | UserDocument | None = None

    @property
    def is_tombstone(self) -> bool:
        return self.document is None


@dataclass(frozen=True)
class Hits:
    """A page of ids in sort order; ``after`` is the last hit's sort values (None without hits);
    ``more`` says whether hits follow it."""

    ids: list[str]
    after: list[str] | None
    more: bool
    authors: list[str] = field(default_factory=list)
    """Tweet searches: the author of each hit (rendering reads every profile in one round trip)."""


class SearchEngine(Protocol):
    def ensure_ready(self) -> None:
        """Create the indexes (template, index and aliases; tables) if absent. Idempotent."""
        ...

    def apply(self, changes: Sequence[Change]) -> list[str | None]:
        """Apply ``changes`` in one bulk request; per change, None when applied (or already superseded
        by a newer version), else the reason it failed (the caller retries those)."""
        ...

    def search_tweets(self, query: TweetQuery, after: list[str] | None, limit: int) -> Hits:
        """Tweet ids matching ``query`` (every part), newest first, strictly after ``after``."""
        ...

    def search_users(self, query: UserQuery, after: list[str] | None, limit: int) -> Hits:
        """User ids whose username starts with ``query.prefix`` or whose display name has a word
        starting with each token, by username, strictly after ``after``."""
        ...
