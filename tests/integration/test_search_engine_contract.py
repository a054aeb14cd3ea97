"""One contract for both search engine adapters: the embedded SQLite FTS5 engine (always) and an
OpenSearch cluster (when ``OPENSEARCH_URL`` names one, e.g. ``http://localhost:9200`` without IAM;
skipped otherwise: no OpenSearch server can be installed on the build machines).

Every test writes documents tagged with a word of its own, so runs against a shared cluster do not
see one another's documents.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from functions.search.engines.sqlite import SqliteSearchEngine, create
from functions.search.ports import (
    Change,
    EngineUnavailable,
    SearchEngine,
    TweetDocument,
    UserDocument,
    version_of,
)
from functions.search.query import parse_tweet_query, parse_user_query

OPENSEARCH_URL = os.environ.get("OPENSEARCH_URL")


@pytest.fixture(params=["sqlite", "opensearch"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SearchEngine]:
    if request.param == "sqlite":
        found: Any = SqliteSearchEngine(create(tmp_path / "search.db"))
    else:
        if not OPENSEARCH_URL:
            pytest.skip("OPENSEARCH_URL is not set")
        from functions.search.engines.opensearch import OpenSearchEngine

        found = OpenSearchEngine(OPENSEARCH_URL, signed=OPENSEARCH_URL.startswith("https://"))
    found.ensure_ready()
    yield found


def settle(engine: Any) -> None:
    """OpenSearch makes writes searchable on refresh (each second); SQLite at commit."""
    refresh = getattr(engine, "refresh", None)
    if refresh is not None:
        refresh()


def tag() -> str:
    return "m" + uuid.uuid4().hex[:12]


def v(n: int) -> str:
    return version_of(str(1111000000000000000000 + n))


def tweet(n: int, text: str, *, author: str = "a1", hashtags: tuple[str, ...] = ()) -> TweetDocument:
    return TweetDocument(
        tweet_id=f"01K{n:023d}",
        author_id=author,
        created_at=f"2026-11-22T10:00:{n:02d}.000Z",
        text=text,
        hashtags=hashtags,
    )


def put(engine: SearchEngine, *docs: TweetDocument, version: int = 1) -> None:
    assert engine.apply([Change("tweets", d.tweet_id, v(version), d) for d in docs]) == [None] * len(docs)
    settle(engine)


def ids(engine: SearchEngine, q: str, *, author_ids: tuple[str, ...] = (), limit: int = 20) -> list[str]:
    query = replace(parse_tweet_query(q), author_ids=author_ids)
    return engine.search_tweets(query, None, limit).ids


def test_words_must_all_match_newest_first(engine: SearchEngine) -> None:
    m = tag()
    put(engine, tweet(1, f"{m} red apple"), tweet(2, f"{m} green apple"), tweet(3, f"{m} red car"))
    assert ids(engine, f"{m} red") == ["01K00000000000000000000003", "01K00000000000000000000001"]
    assert ids(engine, f"{m} RED Apple") == ["01K00000000000000000000001"]
    assert ids(engine, f"{m} blue") == []


def test_a_phrase_matches_only_in_order(engine: SearchEngine) -> None:
    m = tag()
    put(engine, tweet(1, f"{m} the quick brown fox"), tweet(2, f"{m} brown quick"))
    assert ids(engine, f'{m} "quick brown"') == ["01K00000000000000000000001"]


def test_hashtags_and_authors_filter(engine: SearchEngine) -> None:
    m = tag()
    put(
        engine,
        tweet(1, f"{m} launch #rust_lang", hashtags=("rust_lang",)),
        tweet(2, f"{m} launch", author="a2"),
        tweet(3, f"{m} launch #rust", author="a2", hashtags=("rust",)),
    )
    assert ids(engine, f"{m} #rust_lang") == ["01K00000000000000000000001"]
    assert ids(engine, f"{m} #Rust") == ["01K00000000000000000000003"]
    assert ids(engine, f"{m} from:bob", author_ids=("a2",)) == [
        "01K00000000000000000000003",
        "01K00000000000000000000002",
    ]
    assert ids(engine, f"{m} #rust from:bob", author_ids=("a2",)) == ["01K00000000000000000000003"]


def test_engine_syntax_in_the_query_is_literal_text(engine: SearchEngine) -> None:
    m = tag()
    put(engine, tweet(1, f"{m} cats AND dogs"), tweet(2, f"{m} cats"), tweet(3, f"{m} NEAR here"))
    assert ids(engine, f'{m} "cats AND dogs"') == ["01K00000000000000000000001"]
    for hostile in ("NEAR(cats dogs)", "cats*", "text:cats", "^cats", "cats OR", "(cats)", "-cats", "{cats}"):
        found = ids(engine, f"{m} {hostile}")  # never an engine syntax error
        assert set(found) <= {
            "01K00000000000000000000001",
            "01K00000000000000000000002",
            "01K00000000000000000000003",
        }


def test_paging_resumes_after_the_last_hit_without_repeats_or_gaps(engine: SearchEngine) -> None:
    m = tag()
    put(engine, *(tweet(n, f"{m} page") for n in range(1, 8)))
    query = parse_tweet_query(f"{m} page")
    seen: list[str] = []
    after = None
    while True:
        hits = engine.search_tweets(query, after, 3)
        seen += hits.ids
        if not hits.more:
            break
        after = hits.after
    assert seen == [f"01K{n:023d}" for n in range(7, 0, -1)]


def test_a_repeat_is_a_no_op_and_an_older_change_never_overwrites_a_newer(engine: SearchEngine) -> None:
    m = tag()
    put(engine, tweet(1, f"{m} newer text"), version=5)
    put(engine, tweet(1, f"{m} older text"), version=3)  # a late record: ignored
    put(engine, tweet(1, f"{m} newer text"), version=5)  # a redelivery: ignored
    assert ids(engine, f"{m} newer") == ["01K00000000000000000000001"]
    assert ids(engine, f"{m} older") == []


def test_a_tombstone_hides_the_tweet_and_a_late_insert_never_resurrects_it(engine: SearchEngine) -> None:
    m = tag()
    doc = tweet(1, f"{m} gone soon")
    put(engine, doc, version=1)
    assert engine.apply([Change("tweets", doc.tweet_id, v(2))]) == [None]
    settle(engine)
    assert ids(engine, f"{m} gone") == []
    put(engine, doc, version=1)  # the INSERT delivered again after the REMOVE
    assert ids(engine, f"{m} gone") == []


def test_a_tombstone_before_its_insert_wins(engine: SearchEngine) -> None:
    m = tag()
    doc = tweet(1, f"{m} reordered")
    assert engine.apply([Change("tweets", doc.tweet_id, v(2))]) == [None]
    put(engine, doc, version=1)
    assert ids(engine, f"{m} reordered") == []


def test_users_are_found_by_username_prefix_or_display_name_word_prefix(engine: SearchEngine) -> None:
    m = tag()
    people = [
        UserDocument(f"u{m}1", f"{m}_alice", "Alice Smith"),
        UserDocument(f"u{m}2", f"{m}_bob", f"Robert {m}zz"),
        UserDocument(f"u{m}3", f"x{m}", "Alicia Keys"),
    ]
    assert engine.apply([Change("users", p.user_id, v(1), p) for p in people]) == [None] * 3
    settle(engine)
    assert engine.search_users(parse_user_query(m), None, 20).ids == [f"u{m}1", f"u{m}2"]
    assert engine.search_users(parse_user_query(f"@{m}_A"), None, 20).ids == [f"u{m}1"]
    assert engine.search_users(parse_user_query(f"{m}z"), None, 20).ids == [f"u{m}2"]
    first = engine.search_users(parse_user_query(m), None, 1)
    assert first.ids == [f"u{m}1"] and first.more
    assert engine.search_users(parse_user_query(m), first.after, 1).ids == [f"u{m}2"]


def test_a_profile_edit_replaces_the_old_display_name(engine: SearchEngine) -> None:
    m = tag()
    old = UserDocument(f"u{m}", f"{m}", f"Old{m}")
    new = UserDocument(f"u{m}", f"{m}", f"New{m}")
    engine.apply([Change("users", old.user_id, v(1), old), Change("users", new.user_id, v(2), new)])
    settle(engine)
    assert engine.search_users(parse_user_query(f"new{m}"), None, 5).ids == [f"u{m}"]
    assert engine.search_users(parse_user_query(f"old{m}"), None, 5).ids == []


def test_an_unreachable_sqlite_engine_raises_engine_unavailable(tmp_path: Path) -> None:
    missing = SqliteSearchEngine(f"sqlite://{tmp_path / 'absent.db'}")
    with pytest.raises(EngineUnavailable):
        missing.search_tweets(parse_tweet_query("x"), None, 5)
    with pytest.raises(EngineUnavailable):
        missing.apply([Change("tweets", "t", v(1))])
    assert not (tmp_path / "absent.db").exists(), "never created by a reader or writer"
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database" * 100)
    with pytest.raises(EngineUnavailable):
        SqliteSearchEngine(f"sqlite://{broken}").search_users(parse_user_query("x"), None, 5)


def test_an_unreachable_opensearch_domain_raises_engine_unavailable() -> None:
    from functions.search.engines.opensearch import OpenSearchEngine

    closed = OpenSearchEngine("http://127.0.0.1:9", signed=False)  # nothing listens on the discard port
    with pytest.raises(EngineUnavailable):
        closed.search_tweets(parse_tweet_query("x"), None, 5)
