"""Search engine adapters, chosen by the engine URL the definition gives a function (``SEARCH_ENDPOINT``):
``sqlite://<path>`` is the embedded engine of the local cloud, ``https://...`` an OpenSearch domain."""

from __future__ import annotations

from functions.search.ports import SearchEngine


def engine_for(url: str, *, region: str = "us-east-1", signed: bool = True) -> SearchEngine:
    """The adapter for ``url``; imported lazily, so the local engine never loads opensearch-py."""
    if url.startswith("sqlite://"):
        from functions.search.engines.sqlite import SqliteSearchEngine

        return SqliteSearchEngine(url)
    if url.startswith(("https://", "http://")):
        from functions.search.engines.opensearch import OpenSearchEngine

        return OpenSearchEngine(url, region=region, signed=signed)
    raise ValueError(f"no search engine for {url!r}")
