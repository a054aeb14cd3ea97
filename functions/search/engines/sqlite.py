"""The embedded search engine: SQLite FTS5, for the local cloud (no OpenSearch server runs here).

Why FTS5 rather than tantivy: it is in the standard library (no wheel in the layer, nothing to build),
several processes (the indexer and the search function) share one file safely (WAL, busy timeout), and
its row-value comparisons give ``search_after`` paging and its upserts the ordering rule directly in SQL.
tantivy would need a writer lock held by one process and a reader reload per search.

The semantics match the OpenSearch adapter (the contract suite runs both):
- every document or tombstone carries its version; ``INSERT ... ON CONFLICT DO UPDATE ... WHERE
  excluded.version > version`` replaces it only with a newer one, so a redelivered or late change is a
  no-op and a tombstone is never undone by an older INSERT;
- the full-text tables are external-content FTS5 tables kept in step by triggers; a tombstone leaves
  the full-text table, so deleted tweets cannot match;
- every user value reaches ``MATCH`` as an FTS5 string (double-quoted, quotes doubled), so FTS5's own
  syntax (``AND``, ``NEAR``, ``*``, ``^``, ``:``, parentheses) in ``q`` is literal text.

A connection is opened per call (about 0.1 ms) with ``mode=rw``: a database that is missing or not a
database is an unreachable engine (``EngineUnavailable``), never a silently created empty one. The
local cloud creates the database (``create``), as the stack creates the domain on AWS.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from functions.search.ports import Change, EngineUnavailable, Hits, TweetDocument, UserDocument
from functions.search.query import TweetQuery, UserQuery

URL_SCHEME = "sqlite://"
BUSY_TIMEOUT_SECONDS = 5.0
TOKENIZER = "unicode61 remove_diacritics 2 tokenchars '_'"
"""Letters and digits of every script, case and diacritics folded; ``_`` joins (usernames, hashtags such
as ``#rust_lang`` stay one token, as OpenSearch's keyword fields keep them whole)."""

# Only the constant TOKENIZER is interpolated.
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS tweets (
    doc INTEGER PRIMARY KEY,
    tweet_id TEXT NOT NULL UNIQUE,
    version TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    author_id TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL DEFAULT '',
    hashtags TEXT NOT NULL DEFAULT '',
    mentions TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS tweets_newest ON tweets (created_at DESC, tweet_id DESC) WHERE deleted = 0;
CREATE INDEX IF NOT EXISTS tweets_by_author
    ON tweets (author_id, created_at DESC, tweet_id DESC) WHERE deleted = 0;
CREATE VIRTUAL TABLE IF NOT EXISTS tweets_fts USING fts5(
    text, hashtags, content='tweets', content_rowid='doc', tokenize="{TOKENIZER}"
);
CREATE TRIGGER IF NOT EXISTS tweets_inserted AFTER INSERT ON tweets WHEN new.deleted = 0 BEGIN
    INSERT INTO tweets_fts (rowid, text, hashtags) VALUES (new.doc, new.text, new.hashtags);
END;
CREATE TRIGGER IF NOT EXISTS tweets_updated AFTER UPDATE ON tweets BEGIN
    INSERT INTO tweets_fts (tweets_fts, rowid, text, hashtags)
        SELECT 'delete', old.doc, old.text, old.hashtags WHERE old.deleted = 0;
    INSERT INTO tweets_fts (rowid, text, hashtags)
        SELECT new.doc, new.text, new.hashtags WHERE new.deleted = 0;
END;
CREATE TABLE IF NOT EXISTS users (
    doc INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL UNIQUE,
    version TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    username TEXT NOT NULL DEFAULT '',
    display_name TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS users_by_username ON users (username, user_id) WHERE deleted = 0;
CREATE VIRTUAL TABLE IF NOT EXISTS users_fts USING fts5(
    display_name, content='users', content_rowid='doc', tokenize="{TOKENIZER}"
);
CREATE TRIGGER IF NOT EXISTS users_inserted AFTER INSERT ON users WHEN new.deleted = 0 BEGIN
    INSERT INTO users_fts (rowid, display_name) VALUES (new.doc, new.display_name);
END;
CREATE TRIGGER IF NOT EXISTS users_updated AFTER UPDATE ON users BEGIN
    INSERT INTO users_fts (users_fts, rowid, display_name)
        SELECT 'delete', old.doc, old.display_name WHERE old.deleted = 0;
    INSERT INTO users_fts (rowid, display_name) SELECT new.doc, new.display_name WHERE new.deleted = 0;
END;
"""  # noqa: S608

_UPSERT_TWEET = """
INSERT INTO tweets (tweet_id, version, deleted, author_id, created_at, text, hashtags, mentions)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (tweet_id) DO UPDATE SET
    version = excluded.version, deleted = excluded.deleted, author_id = excluded.author_id,
    created_at = excluded.created_at, text = excluded.text, hashtags = excluded.hashtags,
    mentions = excluded.mentions
WHERE excluded.version > tweets.version
"""
_UPSERT_USER = """
INSERT INTO users (user_id, version, deleted, username, display_name) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (user_id) DO UPDATE SET
    version = excluded.version, deleted = excluded.deleted, username = excluded.username,
    display_name = excluded.display_name
WHERE excluded.version > users.version
"""


RequestCheck = Callable[[str, str, str], None]
"""(HTTP method, domain name, path) of the OpenSearch request an operation stands for; raises to refuse."""
_request_check: RequestCheck | None = None


def guard_requests(check: RequestCheck | None) -> None:
    """Have ``check`` authorise every operation first (the local cloud's IAM guard, which refuses what
    the function's ``es:`` grants do not allow, as the domain's access policy would on AWS)."""
    global _request_check
    _request_check = check


def fts_string(value: str) -> str:
    """``value`` as an FTS5 string: literal text whatever it holds (FTS5 tokenises inside it)."""
    return '"' + value.replace('"', '""') + '"'


def tweet_match(query: TweetQuery) -> str:
    """The FTS5 ``MATCH`` expression of a query's text parts ("" when it has none): words and phrases
    on the text column, hashtags on the hashtags column; juxtaposition is AND."""
    parts = [f"text : {fts_string(word)}" for word in query.words]
    parts += [f"text : {fts_string(phrase)}" for phrase in query.phrases]
    parts += [f"hashtags : {fts_string(tag)}" for tag in query.hashtags]
    return " AND ".join(parts)


def user_match(query: UserQuery) -> str:
    """Every token a prefix of a word of the display name."""
    return " AND ".join(f"display_name : {fts_string(token)} *" for token in query.tokens)


def create(path: str | Path) -> str:
    """Create the database at ``path`` (idempotent) and return the engine URL the functions receive."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(target)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.executescript(SCHEMA)
        connection.commit()
    finally:
        connection.close()
    return URL_SCHEME + str(target.resolve())


class SqliteSearchEngine:
    """``SearchEngine`` on one SQLite database file (``sqlite:///absolute/path.db``)."""

    def __init__(self, url: str) -> None:
        if not url.startswith(URL_SCHEME):
            raise ValueError(f"not a sqlite engine URL: {url}")
        self.path = url[len(URL_SCHEME) :]
        self.domain = Path(self.path).stem

    @contextmanager
    def _connect(self, method: str, path: str) -> Iterator[sqlite3.Connection]:
        if _request_check is not None:
            _request_check(method, self.domain, path)
        try:
            connection = sqlite3.connect(
                f"file:{self.path}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise EngineUnavailable(f"search database unreachable: {exc}") from exc
        try:
            yield connection
        except sqlite3.OperationalError as exc:
            # Locked past the busy timeout, disk I/O, a file that is not (or no longer) a database.
            raise EngineUnavailable(f"search database unavailable: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise EngineUnavailable(f"search database unusable: {exc}") from exc
        finally:
            connection.close()

    def ensure_ready(self) -> None:
        with self._connect("Put", "/_index_template/chirp-tweets") as connection:
            connection.executescript(SCHEMA)

    def apply(self, changes: Sequence[Change]) -> list[str | None]:
        """One transaction for the batch (the bulk request's counterpart): all applied, or
        EngineUnavailable and none."""
        with self._connect("Post", "/_bulk") as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                for change in changes:
                    statement, values = _upsert(change)
                    connection.execute(statement, values)
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        return [None] * len(changes)

    def search_tweets(self, query: TweetQuery, after: list[str] | None, limit: int) -> Hits:
        where = ["t.deleted = 0"]
        values: list[Any] = []
        source = "tweets AS t"
        match = tweet_match(query)
        if match:
            source = "tweets_fts JOIN tweets AS t ON t.doc = tweets_fts.rowid"
            where.append("tweets_fts MATCH ?")
            values.append(match)
        for author_id in query.author_ids:
            where.append("t.author_id = ?")
            values.append(author_id)
        if after:
            where.append("(t.created_at, t.tweet_id) < (?, ?)")
            values.extend(after[:2])
        sql = (
            f"SELECT t.tweet_id, t.created_at, t.author_id FROM {source} WHERE {' AND '.join(where)} "  # noqa: S608
            "ORDER BY t.created_at DESC, t.tweet_id DESC LIMIT ?"
        )
        with self._connect("Post", "/tweets/_search") as connection:
            rows = connection.execute(sql, [*values, limit + 1]).fetchall()
        page = rows[:limit]
        last = [page[-1][1], page[-1][0]] if page else None
        return Hits([row[0] for row in page], last, len(rows) > limit, [row[2] for row in page])

    def search_users(self, query: UserQuery, after: list[str] | None, limit: int) -> Hits:
        matches = ["u.doc IN (SELECT rowid FROM users_fts WHERE users_fts MATCH ?)"]
        values: list[Any] = [user_match(query)]
        if query.prefix:
            # Usernames are [a-z0-9_]: every one starting with the prefix sorts below prefix + DEL.
            matches.append("(u.username >= ? AND u.username < ?)")
            values += [query.prefix, query.prefix + "\x7f"]
        where = [f"({' OR '.join(matches)})", "u.deleted = 0"]
        if after:
            where.append("(u.username, u.user_id) > (?, ?)")
            values.extend(after[:2])
        sql = (
            f"SELECT u.user_id, u.username FROM users AS u WHERE {' AND '.join(where)} "  # noqa: S608
            "ORDER BY u.username, u.user_id LIMIT ?"
        )
        with self._connect("Post", "/users/_search") as connection:
            rows = connection.execute(sql, [*values, limit + 1]).fetchall()
        page = rows[:limit]
        last = [page[-1][1], page[-1][0]] if page else None
        return Hits([row[0] for row in page], last, len(rows) > limit)


def _upsert(change: Change) -> tuple[str, tuple[Any, ...]]:
    doc = change.document
    if change.index == "tweets":
        if isinstance(doc, TweetDocument):
            return _UPSERT_TWEET, (
                change.doc_id,
                change.version,
                0,
                doc.author_id,
                doc.created_at,
                doc.text,
                " ".join(doc.hashtags),
                " ".join(doc.mentions),
            )
        return _UPSERT_TWEET, (change.doc_id, change.version, 1, "", "", "", "", "")
    if isinstance(doc, UserDocument):
        return _UPSERT_USER, (change.doc_id, change.version, 0, doc.username, doc.display_name)
    return _UPSERT_USER, (change.doc_id, change.version, 1, "", "")
