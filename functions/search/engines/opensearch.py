"""The OpenSearch adapter: Amazon OpenSearch Service through opensearch-py, signed with SigV4.

Requests are signed with the function's role (``AWSV4SignerAuth`` over botocore's credentials, service
``es``); the domain's access policy admits only the indexer's and the search function's roles. Bodies
come from the one query builder (``functions.search.builder``). Searches read the read aliases, writes go
to the write aliases, so ``make reindex`` rebuilds an index behind them without downtime.

An unreachable domain (connection errors, timeouts) or one refusing for load (429, 5xx) after the
client's retries raises ``EngineUnavailable``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any
from urllib.parse import urlparse

from functions.search import builder
from functions.search.ports import Change, EngineUnavailable, Hits
from functions.search.query import TweetQuery, UserQuery

FIRST_INDEX_VERSION = 1
TIMEOUT_SECONDS = 3
"""Per request: a search answers in tens of milliseconds; an API call must not wait out Lambda's 10 s."""
MAX_RETRIES = 2


def index_name(index: str, generation: int) -> str:
    return f"{index}-v{generation}"


class OpenSearchEngine:
    """``SearchEngine`` on an OpenSearch domain at ``url`` (``https://...``). ``signed`` is False only for
    a development cluster without IAM (the contract suite's ``OPENSEARCH_URL``)."""

    def __init__(self, url: str, *, region: str = "us-east-1", signed: bool = True) -> None:
        self.url = url
        self.region = region
        self.signed = signed

    @cached_property
    def client(self) -> Any:
        """Built on first use (never at import): the client, its connection pool and the signer."""
        import boto3
        from opensearchpy import AWSV4SignerAuth, OpenSearch, RequestsHttpConnection

        parsed = urlparse(self.url)
        secure = parsed.scheme == "https"
        auth = AWSV4SignerAuth(boto3.Session().get_credentials(), self.region, "es") if self.signed else None
        return OpenSearch(
            hosts=[{"host": parsed.hostname, "port": parsed.port or (443 if secure else 80)}],
            http_auth=auth,
            use_ssl=secure,
            verify_certs=secure,
            connection_class=RequestsHttpConnection,
            timeout=TIMEOUT_SECONDS,
            max_retries=MAX_RETRIES,
            retry_on_timeout=True,
            retry_on_status=(429, 502, 503, 504),
            http_compress=True,
        )

    def _call(self, fn: Any, **kwargs: Any) -> Any:
        from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
        from opensearchpy.exceptions import TransportError

        try:
            return fn(**kwargs)
        except OpenSearchConnectionError as exc:  # includes ConnectionTimeout
            raise EngineUnavailable(f"search domain unreachable: {exc}") from exc
        except TransportError as exc:
            status = exc.status_code if isinstance(exc.status_code, int) else 0
            if status == 429 or status >= 500:
                raise EngineUnavailable(f"search domain unavailable: {status}") from exc
            raise

    # ---- indexes ----------------------------------------------------------------------------------
    def ensure_ready(self) -> None:
        """Index templates, and for an index without aliases yet its first generation behind both."""
        for name, template in builder.INDEX_TEMPLATES.items():
            self._call(self.client.indices.put_index_template, name=name, body=template)
        for index, read_alias in builder.READ_ALIASES.items():
            if self._call(self.client.indices.exists_alias, name=read_alias):
                continue
            from opensearchpy.exceptions import RequestError

            try:
                self.create_generation(index, FIRST_INDEX_VERSION, read=True)
            except RequestError as exc:
                # Another cold start created it first: nothing to do. Anything else is an error.
                if exc.error != "resource_already_exists_exception":
                    raise

    def create_generation(self, index: str, generation: int, *, read: bool) -> str:
        """Create ``<index>-v<generation>`` and point the write alias (and the read alias when ``read``)
        at it alone."""
        name = index_name(index, generation)
        aliases: dict[str, Any] = {builder.WRITE_ALIASES[index]: {"is_write_index": True}}
        if read:
            aliases[builder.READ_ALIASES[index]] = {}
        self._call(self.client.indices.create, index=name, body={"aliases": aliases})
        return name

    def generations(self, index: str) -> dict[str, list[str]]:
        """Concrete index names behind the read and write alias of ``index``."""
        found: dict[str, list[str]] = {"read": [], "write": []}
        for role, alias in (("read", builder.READ_ALIASES[index]), ("write", builder.WRITE_ALIASES[index])):
            if self._call(self.client.indices.exists_alias, name=alias):
                found[role] = sorted(self._call(self.client.indices.get_alias, name=alias))
        return found

    def swap_aliases(self, index: str, *, alias: str, to: str) -> None:
        """Point ``alias`` at ``to`` alone, in one atomic ``_aliases`` request."""
        actions: list[dict[str, Any]] = [{"remove": {"index": f"{index}-v*", "alias": alias}}]
        target: dict[str, Any] = {"index": to, "alias": alias}
        if alias == builder.WRITE_ALIASES[index]:
            target["is_write_index"] = True
        actions.append({"add": target})
        self._call(self.client.indices.update_aliases, body={"actions": actions})

    def load(self, changes: Sequence[Change], target: str) -> list[str | None]:
        """Bulk-apply ``changes`` to the concrete index ``target`` (a rebuild filling a new generation)."""
        aliases = {index: target for index in builder.WRITE_ALIASES}
        response = self._call(self.client.bulk, body=builder.bulk_body(changes, aliases))
        return builder.bulk_failures(response, len(changes))

    # ---- the port ---------------------------------------------------------------------------------
    def apply(self, changes: Sequence[Change]) -> list[str | None]:
        if not changes:
            return []
        response = self._call(self.client.bulk, body=builder.bulk_body(changes))
        return builder.bulk_failures(response, len(changes))

    def search_tweets(self, query: TweetQuery, after: list[str] | None, limit: int) -> Hits:
        body = builder.tweet_search_body(query, after, limit)
        response = self._call(self.client.search, index=builder.TWEETS_ALIAS, body=body)
        return builder.hits_of(response, limit)

    def search_users(self, query: UserQuery, after: list[str] | None, limit: int) -> Hits:
        body = builder.user_search_body(query, after, limit)
        response = self._call(self.client.search, index=builder.USERS_ALIAS, body=body)
        return builder.hits_of(response, limit)

    def refresh(self) -> None:
        """Make every applied change searchable now (tests; the domain refreshes each second itself)."""
        self._call(self.client.indices.refresh, index=",".join(builder.READ_ALIASES.values()))
