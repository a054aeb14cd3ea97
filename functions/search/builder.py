"""The one query builder: parsed queries as OpenSearch request bodies, and responses back as hits.

Pure functions over dicts, so unit tests compare them with expected bodies and parse recorded
responses (events/search/). Every user value goes into ``match``/``match_phrase``/``term``/``prefix``
clauses, which take values, never query syntax: characters of Lucene's query language are literal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from functions.search.ports import Change, Hits, TweetDocument, UserDocument
from functions.search.query import TweetQuery, UserQuery

TWEETS_ALIAS = "tweets"
"""Read alias of the tweets index (searches)."""
TWEETS_WRITE_ALIAS = "tweets-write"
"""Write alias: ``make reindex`` points it at the new index before loading it, so no change is lost."""
USERS_ALIAS = "users"
USERS_WRITE_ALIAS = "users-write"
READ_ALIASES = {"tweets": TWEETS_ALIAS, "users": USERS_ALIAS}
WRITE_ALIASES = {"tweets": TWEETS_WRITE_ALIAS, "users": USERS_WRITE_ALIAS}

TWEET_SORT: list[dict[str, Any]] = [{"created_at": "desc"}, {"tweet_id": "desc"}]
USER_SORT: list[dict[str, Any]] = [{"username": "asc"}, {"user_id": "asc"}]

APPLY_IF_NEWER = (
    "if (ctx._source.version == null || ctx._source.version.compareTo(params.doc.version) < 0) "
    "{ ctx._source.clear(); ctx._source.putAll(params.doc); } else { ctx.op = 'noop'; }"
)
"""Versions are 40-digit strings (stream sequence numbers exceed OpenSearch's 64-bit external
versions): the scripted upsert compares them as strings and replaces the document only when newer."""

_ANALYSIS = {
    "analyzer": {
        "tweet_text": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding"]}
    },
    "normalizer": {"lower": {"type": "custom", "filter": ["lowercase", "asciifolding"]}},
}

INDEX_TEMPLATES: dict[str, dict[str, Any]] = {
    "chirp-tweets": {
        "index_patterns": ["tweets-v*"],
        "template": {
            "settings": {"number_of_shards": 1, "analysis": _ANALYSIS},
            "mappings": {
                "dynamic": "strict",
                "properties": {
                    "tweet_id": {"type": "keyword"},
                    "author_id": {"type": "keyword"},
                    "created_at": {"type": "keyword"},
                    "text": {"type": "text", "analyzer": "tweet_text"},
                    "hashtags": {"type": "keyword", "normalizer": "lower"},
                    "mentions": {"type": "keyword", "normalizer": "lower"},
                    "deleted": {"type": "boolean"},
                    "version": {"type": "keyword"},
                },
            },
        },
    },
    "chirp-users": {
        "index_patterns": ["users-v*"],
        "template": {
            "settings": {"number_of_shards": 1, "analysis": _ANALYSIS},
            "mappings": {
                "dynamic": "strict",
                "properties": {
                    "user_id": {"type": "keyword"},
                    "username": {"type": "keyword", "normalizer": "lower"},
                    "display_name": {"type": "text", "analyzer": "tweet_text"},
                    "deleted": {"type": "boolean"},
                    "version": {"type": "keyword"},
                },
            },
        },
    },
}


def tweet_search_body(query: TweetQuery, after: Sequence[str] | None, limit: int) -> dict[str, Any]:
    """The ``_search`` body of a tweet search: one more hit than ``limit`` (to know whether more follow),
    newest first, resuming with ``search_after`` (never ``from``: deep pages stay cheap and stable)."""
    must: list[dict[str, Any]] = []
    if query.words:
        must.append({"match": {"text": {"query": " ".join(query.words), "operator": "and"}}})
    must.extend({"match_phrase": {"text": {"query": phrase}}} for phrase in query.phrases)
    filters: list[dict[str, Any]] = [{"term": {"deleted": False}}]
    filters.extend({"term": {"hashtags": tag}} for tag in query.hashtags)
    filters.extend({"term": {"author_id": author}} for author in query.author_ids)
    body: dict[str, Any] = {
        "size": limit + 1,
        "_source": ["author_id"],
        "track_total_hits": False,
        "query": {"bool": {"must": must, "filter": filters}},
        "sort": TWEET_SORT,
    }
    if after:
        body["search_after"] = list(after)
    return body


def user_search_body(query: UserQuery, after: Sequence[str] | None, limit: int) -> dict[str, Any]:
    """The ``_search`` body of a user search: username prefix, or every token a prefix of a word of the
    display name; by username."""
    should: list[dict[str, Any]] = []
    if query.prefix:
        should.append({"prefix": {"username": {"value": query.prefix}}})
    should.append({"bool": {"must": [{"prefix": {"display_name": {"value": t}}} for t in query.tokens]}})
    body: dict[str, Any] = {
        "size": limit + 1,
        "_source": False,
        "track_total_hits": False,
        "query": {
            "bool": {"should": should, "minimum_should_match": 1, "filter": [{"term": {"deleted": False}}]}
        },
        "sort": USER_SORT,
    }
    if after:
        body["search_after"] = list(after)
    return body


def hits_of(response: dict[str, Any], limit: int) -> Hits:
    """A ``_search`` response (asked for ``limit + 1``) as a page of ids with the resume position."""
    found = response.get("hits", {}).get("hits", [])
    page = found[:limit]
    ids = [str(hit["_id"]) for hit in page]
    after = [str(value) for value in page[-1]["sort"]] if page else None
    authors = [str((hit.get("_source") or {}).get("author_id", "")) for hit in page]
    return Hits(ids=ids, after=after, more=len(found) > limit, authors=authors)


def _source(change: Change) -> dict[str, Any]:
    doc = change.document
    if isinstance(doc, TweetDocument):
        return {
            "tweet_id": doc.tweet_id,
            "author_id": doc.author_id,
            "created_at": doc.created_at,
            "text": doc.text,
            "hashtags": list(doc.hashtags),
            "mentions": list(doc.mentions),
            "deleted": False,
            "version": change.version,
        }
    if isinstance(doc, UserDocument):
        return {
            "user_id": doc.user_id,
            "username": doc.username,
            "display_name": doc.display_name,
            "deleted": False,
            "version": change.version,
        }
    key = "tweet_id" if change.index == "tweets" else "user_id"
    return {key: change.doc_id, "deleted": True, "version": change.version}


def bulk_body(changes: Sequence[Change], aliases: dict[str, str] = WRITE_ALIASES) -> list[dict[str, Any]]:
    """The ``_bulk`` lines of ``changes``: one scripted upsert each, applied only when newer."""
    lines: list[dict[str, Any]] = []
    for change in changes:
        lines.append(
            {"update": {"_index": aliases[change.index], "_id": change.doc_id, "retry_on_conflict": 5}}
        )
        lines.append(
            {
                "scripted_upsert": True,
                "upsert": {},
                "script": {"lang": "painless", "source": APPLY_IF_NEWER, "params": {"doc": _source(change)}},
            }
        )
    return lines


def bulk_failures(response: dict[str, Any], count: int) -> list[str | None]:
    """Per change of a ``_bulk`` request, None when applied (or a no-op: already newer), else why not.
    A version conflict that outlived ``retry_on_conflict`` is a failure: the record is retried."""
    items = response.get("items", [])
    if len(items) != count:
        return [f"bulk answered {len(items)} items for {count}"] * count
    reasons: list[str | None] = []
    for item in items:
        result = next(iter(item.values()))
        status = int(result.get("status", 500))
        error = result.get("error")
        if status < 300 and not error:
            reasons.append(None)
        else:
            kind = error.get("type", "error") if isinstance(error, dict) else str(error)
            reasons.append(f"{status} {kind}")
    return reasons
