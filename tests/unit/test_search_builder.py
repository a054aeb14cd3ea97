"""The one query builder: parsed queries as the exact OpenSearch bodies, responses parsed back."""

from __future__ import annotations

from dataclasses import replace

from functions.search import builder
from functions.search.ports import Change, TweetDocument, UserDocument
from functions.search.query import parse_tweet_query, parse_user_query
from tests.support.events import event


def test_a_combined_tweet_query_becomes_one_bool_query_newest_first() -> None:
    query = replace(parse_tweet_query('rust "fast code" #chirp from:alice'), author_ids=("u1",))
    assert builder.tweet_search_body(query, None, 20) == {
        "size": 21,
        "_source": ["author_id"],
        "track_total_hits": False,
        "query": {
            "bool": {
                "must": [
                    {"match": {"text": {"query": "rust", "operator": "and"}}},
                    {"match_phrase": {"text": {"query": "fast code"}}},
                ],
                "filter": [
                    {"term": {"deleted": False}},
                    {"term": {"hashtags": "chirp"}},
                    {"term": {"author_id": "u1"}},
                ],
            }
        },
        "sort": [{"created_at": "desc"}, {"tweet_id": "desc"}],
    }


def test_the_next_page_resumes_with_search_after_never_from() -> None:
    body = builder.tweet_search_body(parse_tweet_query("a b"), ["2026-11-22T10:00:00.000Z", "01X"], 5)
    assert body["search_after"] == ["2026-11-22T10:00:00.000Z", "01X"]
    assert "from" not in body and body["size"] == 6
    assert body["query"]["bool"]["must"] == [{"match": {"text": {"query": "a b", "operator": "and"}}}]


def test_query_syntax_reaches_opensearch_as_values_only() -> None:
    body = builder.tweet_search_body(parse_tweet_query('title:x AND (y) "a*b"'), None, 1)
    clauses = body["query"]["bool"]["must"]
    assert clauses[0] == {"match": {"text": {"query": "title:x and (y)", "operator": "and"}}}
    assert clauses[1] == {"match_phrase": {"text": {"query": "a*b"}}}
    assert "query_string" not in str(body) and "simple_query_string" not in str(body)


def test_a_user_query_matches_username_prefix_or_display_name_word_prefixes() -> None:
    assert builder.user_search_body(parse_user_query("Ali"), ["alf", "u0"], 10) == {
        "size": 11,
        "_source": False,
        "track_total_hits": False,
        "query": {
            "bool": {
                "should": [
                    {"prefix": {"username": {"value": "ali"}}},
                    {"bool": {"must": [{"prefix": {"display_name": {"value": "ali"}}}]}},
                ],
                "minimum_should_match": 1,
                "filter": [{"term": {"deleted": False}}],
            }
        },
        "sort": [{"username": "asc"}, {"user_id": "asc"}],
        "search_after": ["alf", "u0"],
    }


def test_a_recorded_tweet_search_response_parses_to_ids_authors_and_the_resume_position() -> None:
    hits = builder.hits_of(event("search/tweets_search_response.json"), 2)
    assert hits.ids == ["01JDZ8Q7W1V4K3N2M9ZP5R6T7Y", "01JDZ8Q7V0A1B2C3D4E5F6G7H8"]
    assert hits.authors == ["01JDZ7A1B2C3D4E5F6G7H8J9KA", "01JDZ7A1B2C3D4E5F6G7H8J9KB"]
    assert hits.after == ["2026-11-22T10:00:01.000Z", "01JDZ8Q7V0A1B2C3D4E5F6G7H8"]
    assert hits.more is True


def test_a_recorded_user_search_response_is_the_last_page_when_no_extra_hit_came() -> None:
    hits = builder.hits_of(event("search/users_search_response.json"), 20)
    assert hits.ids == ["01JDZ7A1B2C3D4E5F6G7H8J9KA", "01JDZ7A1B2C3D4E5F6G7H8J9KC"]
    assert hits.after == ["alicia", "01JDZ7A1B2C3D4E5F6G7H8J9KC"] and hits.more is False


def test_an_empty_response_has_no_position() -> None:
    hits = builder.hits_of({"hits": {"hits": []}}, 20)
    assert hits.ids == [] and hits.after is None and not hits.more


def test_bulk_lines_are_scripted_upserts_applied_only_when_newer() -> None:
    version = "0" * 16 + "111100000000012345678900"
    changes = [
        Change(
            "tweets", "t1", version, TweetDocument("t1", "u1", "2026-11-22T10:00:00.123Z", "hi #x", ("x",))
        ),
        Change("tweets", "t2", version),
        Change("users", "u1", version, UserDocument("u1", "alice", "Alice")),
    ]
    lines = builder.bulk_body(changes)
    assert len(lines) == 6
    assert lines[0] == {"update": {"_index": "tweets-write", "_id": "t1", "retry_on_conflict": 5}}
    assert lines[1]["scripted_upsert"] is True and lines[1]["upsert"] == {}
    assert lines[1]["script"]["source"] == builder.APPLY_IF_NEWER
    assert lines[1]["script"]["params"]["doc"] == {
        "tweet_id": "t1",
        "author_id": "u1",
        "created_at": "2026-11-22T10:00:00.123Z",
        "text": "hi #x",
        "hashtags": ["x"],
        "mentions": [],
        "deleted": False,
        "version": version,
    }
    assert lines[3]["script"]["params"]["doc"] == {"tweet_id": "t2", "deleted": True, "version": version}
    assert lines[4]["update"]["_index"] == "users-write"


def test_a_recorded_partial_bulk_response_fails_exactly_the_rejected_items() -> None:
    reasons = builder.bulk_failures(event("search/bulk_response_partial.json"), 4)
    assert reasons == [
        None,
        None,  # a no-op: the index already held a newer version
        "429 es_rejected_execution_exception",
        "409 version_conflict_engine_exception",
    ]


def test_a_bulk_response_of_the_wrong_length_fails_every_item() -> None:
    assert builder.bulk_failures({"items": []}, 2) == ["bulk answered 0 items for 2"] * 2


def test_the_index_templates_keep_hashtags_mentions_and_authors_as_keywords() -> None:
    tweets = builder.INDEX_TEMPLATES["chirp-tweets"]["template"]["mappings"]["properties"]
    assert tweets["text"] == {"type": "text", "analyzer": "tweet_text"}
    for name in ("hashtags", "mentions"):
        assert tweets[name]["type"] == "keyword"
    assert tweets["author_id"] == {"type": "keyword"}
