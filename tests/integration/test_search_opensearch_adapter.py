"""The OpenSearch adapter over real HTTP: opensearch-py against a loopback server that answers with the
recorded response bodies (events/search/), so the requests' paths and bodies and the parsing of the
answers are checked without an OpenSearch cluster; 429 and 503 answers are EngineUnavailable."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from functions.search import builder
from functions.search.engines.opensearch import OpenSearchEngine
from functions.search.ports import Change, EngineUnavailable
from functions.search.query import parse_tweet_query, parse_user_query
from tests.support.events import event


class Recorded:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Any]] = []
        self.status = 200

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        data = request.get_data()
        if request.headers.get("Content-Encoding") == "gzip":  # the client compresses its bodies
            data = gzip.decompress(data)
        raw = data.decode()
        lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
        self.requests.append((request.method, request.path, lines))
        if self.status != 200:
            body: dict[str, Any] = {
                "error": {"type": "es_rejected_execution_exception"},
                "status": self.status,
            }
        elif request.path.endswith("/_bulk"):
            body = event("search/bulk_response_partial.json")
        elif request.path == "/users/_search":
            body = event("search/users_search_response.json")
        else:
            body = event("search/tweets_search_response.json")
        return Response(json.dumps(body), status=self.status, content_type="application/json")(
            environ, start_response
        )


@pytest.fixture
def server() -> Iterator[tuple[Recorded, OpenSearchEngine]]:
    app = Recorded()
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, OpenSearchEngine(f"http://127.0.0.1:{http.server_port}", signed=False)
    finally:
        http.shutdown()


def test_a_search_posts_the_builders_body_to_the_read_alias_and_parses_the_hits(
    server: tuple[Recorded, OpenSearchEngine],
) -> None:
    app, engine = server
    query = replace(parse_tweet_query("rust #chirp"), author_ids=("u1",))
    hits = engine.search_tweets(query, None, 2)
    method, path, lines = app.requests[-1]
    assert (method, path) in {("POST", "/tweets/_search"), ("GET", "/tweets/_search")}
    assert lines == [builder.tweet_search_body(query, None, 2)]
    assert hits.ids == ["01JDZ8Q7W1V4K3N2M9ZP5R6T7Y", "01JDZ8Q7V0A1B2C3D4E5F6G7H8"] and hits.more

    users = engine.search_users(parse_user_query("ali"), ["a", "b"], 20)
    assert app.requests[-1][1] == "/users/_search" and app.requests[-1][2][0]["search_after"] == ["a", "b"]
    assert users.after == ["alicia", "01JDZ7A1B2C3D4E5F6G7H8J9KC"]


def test_a_bulk_is_one_ndjson_request_to_the_write_aliases_with_per_item_results(
    server: tuple[Recorded, OpenSearchEngine],
) -> None:
    app, engine = server
    changes = [Change("tweets", f"t{i}", "0" * 40) for i in range(3)] + [Change("users", "u", "0" * 40)]
    reasons = engine.apply(changes)
    method, path, lines = app.requests[-1]
    assert (method, path) == ("POST", "/_bulk")
    assert lines == builder.bulk_body(changes)
    assert reasons == [
        None,
        None,
        "429 es_rejected_execution_exception",
        "409 version_conflict_engine_exception",
    ]


@pytest.mark.parametrize("status", [429, 503])
def test_a_domain_refusing_for_load_is_unavailable(
    server: tuple[Recorded, OpenSearchEngine], status: int
) -> None:
    app, engine = server
    app.status = status
    with pytest.raises(EngineUnavailable):
        engine.search_tweets(parse_tweet_query("x"), None, 5)
    assert len(app.requests) == 3, "the client's own retries first (2)"
