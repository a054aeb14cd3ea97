"""Settings of the search functions: the API and the indexer."""

from __future__ import annotations

from pydantic import Field

from functions.core.config import FunctionSettings, PagingSettings
from functions.core.tables import EngagementsTable, FollowsTable, TweetsTable, UsersTable


class SearchEngineSettings(FunctionSettings):
    search_endpoint: str = Field(alias="SEARCH_ENDPOINT")
    """``https://...`` (an OpenSearch Service domain) or ``sqlite://<path>`` (the local cloud's engine)."""


class SearchApiSettings(
    SearchEngineSettings, PagingSettings, TweetsTable, EngagementsTable, UsersTable, FollowsTable
):
    """Hits are rendered from the tables: tweets with their authors and the caller's likes and retweets,
    users with ``followed_by_me``; ``from:`` names are resolved through the users table's claims."""


class IndexerSettings(SearchEngineSettings):
    """The indexer touches nothing but the search domain."""


class PublishSettings(FunctionSettings):
    """A stream consumer that forwards tweet records to the search indexer (``functions.search.publish``)."""

    search_index_queue_url: str = Field(alias="SEARCH_INDEX_QUEUE_URL")
