"""Tweet and user search: parse ``q``, ask the engine for ids, render them from the tables.

The engine finds; the tables decide what is shown. Hits are rendered through the tweets domain's reader
(the one rendering path every list uses, consistent reads): a tweet deleted after the index last saw it
is never returned once its DELETE has returned, and counts and ``liked_by_me`` are current. A page may
therefore hold fewer than ``limit`` tweets; ``has_more`` and the cursor follow the engine's hits, so
paging never repeats or skips a hit.

Cursors are signed (``functions.core.pagination``) and scoped to the route and the parsed query, and carry
the last hit's sort values for ``search_after``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any, Protocol

from functions.core.pagination import cursor_field, encode_cursor
from functions.search.models import TweetSearchPage, UserSearchPage
from functions.search.ports import SearchEngine
from functions.search.query import TweetQuery, UserQuery, parse_tweet_query, parse_user_query
from functions.tweets.models import Tweet, TweetEntry
from functions.users.models import User


class TweetRenderer(Protocol):
    """The tweets domain's reader (``functions.tweets.reads.TweetReads``)."""

    def hydrate(self, caller: str, entries: Sequence[TweetEntry]) -> list[Tweet | None]: ...


class UserDirectory(Protocol):
    """The users and graph domains behind user search."""

    def user_ids(self, usernames: Iterable[str]) -> dict[str, str]:
        """Lower-case username -> user id, for the usernames that exist."""
        ...

    def users(self, caller: str, user_ids: Sequence[str]) -> dict[str, User]:
        """The profiles of ``user_ids`` that exist, with ``followed_by_me`` for ``caller``."""
        ...


def _is_position(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) and v for v in value)


def _scope(route: str, query: TweetQuery | UserQuery) -> str:
    parts = {k: v for k, v in vars(query).items() if k != "author_ids"}
    return f"search/{route}:" + json.dumps(parts, sort_keys=True, separators=(",", ":"))


class SearchService:
    def __init__(self, engine: SearchEngine, tweets: TweetRenderer, directory: UserDirectory) -> None:
        self.engine = engine
        self.tweets = tweets
        self.directory = directory

    def search_tweets(self, caller: str, q: str, cursor: str | None, limit: int) -> TweetSearchPage:
        """Tweets matching every part of ``q``, newest first.

        Calls: ``from:`` names resolved (2 GetItems each, side by side with nothing: rarely more than
        one), 1 engine search for ``limit + 1`` ids, 1 BatchGetItem across tweets, users and engagements."""
        query = parse_tweet_query(q)
        scope = _scope("tweets", query)
        after = cursor_field(scope, cursor, "after", _is_position)
        if query.authors:
            found = self.directory.user_ids(query.authors)
            if len(found) < len(query.authors) or len(set(found.values())) > 1:
                # An unknown author has no tweets; a tweet has one author.
                return TweetSearchPage(tweets=[], next_cursor=None, has_more=False)
            query = replace(query, author_ids=tuple(dict.fromkeys(found.values())))
        hits = self.engine.search_tweets(query, after, limit)
        entries = [
            TweetEntry.tweet(tweet_id, author)
            for tweet_id, author in zip(hits.ids, hits.authors, strict=True)
        ]
        rendered = self.tweets.hydrate(caller, entries) if entries else []
        tweets = [tweet for tweet in rendered if tweet is not None]
        next_cursor = encode_cursor(scope, {"after": hits.after}) if hits.more and hits.after else None
        return TweetSearchPage(tweets=tweets, next_cursor=next_cursor, has_more=next_cursor is not None)

    def search_users(self, caller: str, q: str, cursor: str | None, limit: int) -> UserSearchPage:
        """Users whose username starts with ``q`` or whose display name has words starting with each
        of its tokens, by username. Calls: 1 engine search, 1 BatchGetItem across users and follows."""
        query = parse_user_query(q)
        scope = _scope("users", query)
        after = cursor_field(scope, cursor, "after", _is_position)
        hits = self.engine.search_users(query, after, limit)
        profiles = self.directory.users(caller, hits.ids) if hits.ids else {}
        users = [profiles[user_id] for user_id in hits.ids if user_id in profiles]
        next_cursor = encode_cursor(scope, {"after": hits.after}) if hits.more and hits.after else None
        return UserSearchPage(users=users, next_cursor=next_cursor, has_more=next_cursor is not None)
