"""Composition root of the search functions: the engine and the other domains' readers, built once per
execution environment, plugged into the search logic's ports."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from functions.core.concurrency import shared_executor
from functions.core.config import load
from functions.graph.dal import FollowRepository
from functions.search.engines import engine_for
from functions.search.logic import SearchService
from functions.search.ports import SearchEngine
from functions.search.settings import IndexerSettings, SearchApiSettings
from functions.tweets.dal import TweetRepository
from functions.tweets.reads import TweetReads
from functions.users.dal import ClaimRecord, username_key
from functions.users.logic import to_user
from functions.users.models import User


class TableDirectory:
    """``UserDirectory`` over the users and follows tables."""

    def __init__(self, follows: FollowRepository) -> None:
        self.follows = follows

    def user_ids(self, usernames: Iterable[str]) -> dict[str, str]:
        """1 BatchGetItem on the username claims (claims of sign-ups still in flight hold no id)."""
        keys = {username_key(name): name.lower() for name in usernames}
        found = {claim.pk: claim.user_id for claim in ClaimRecord.batch_get(list(keys)) if claim.user_id}
        return {keys[pk]: user_id for pk, user_id in found.items()}

    def users(self, caller: str, user_ids: Sequence[str]) -> dict[str, User]:
        """1 BatchGetItem across users and follows (``followed_by_me``; nobody follows themselves)."""
        others = [uid for uid in user_ids if uid != caller]
        profiles, followed = self.follows.profiles_and_followed(user_ids, caller, others, shared_executor())
        return {uid: to_user(record, followed_by_me=uid in followed) for uid, record in profiles.items()}


@lru_cache(maxsize=1)
def search_service() -> SearchService:
    settings = load(SearchApiSettings)  # fails the first call, naming what the environment lacks
    engine = engine_for(settings.search_endpoint, region=settings.region)
    tweets = TweetReads(TweetRepository(), executor=shared_executor())
    return SearchService(engine, tweets, TableDirectory(FollowRepository()))


@lru_cache(maxsize=1)
def index_engine() -> SearchEngine:
    """The indexer's engine, its indexes made ready once per execution environment."""
    settings = load(IndexerSettings)
    engine = engine_for(settings.search_endpoint, region=settings.region)
    engine.ensure_ready()
    return engine
