"""Search down: the search routes answer 503 in the error shape with Retry-After, posting and every other
route go on working, and the index catches up once the engine is back, from the search-index queue
(tweets) and, for profile edits whose stream retries ran out, from stream-rescue's replay into the same
queue.

A cloud of its own, from the definition with one change: the search-index queue redelivers after 1 s
(instead of 30), so catching up fits the test. "Down" is the embedded engine's database file moved away:
the adapters open it with ``mode=rw`` and never create it, so every call fails as an unreachable domain.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.resources import SEARCH_INDEX, SPEC, ServiceSpec
from tests.support.client import Api, assert_error, post_tweet, sign_up_and_log_in

pytestmark = pytest.mark.e2e


def fast_redelivery(spec: ServiceSpec) -> ServiceSpec:
    queues = tuple(
        dataclasses.replace(q, visibility_timeout_seconds=1) if q.logical_id == SEARCH_INDEX.logical_id else q
        for q in spec.queues
    )
    return dataclasses.replace(spec, queues=queues)


@pytest.fixture(scope="module")
def down_cloud() -> Iterator[Any]:
    from local_cloud.runtime import LocalCloud

    with LocalCloud(fast_redelivery(SPEC), port=0) as running:
        yield running


@pytest.fixture(scope="module")
def down_api(down_cloud: Any) -> Api:
    return Api(base_url=down_cloud.base_url, session=requests.Session())


class EngineOutage:
    """Moves the local engine's database away and back (its WAL stays where it is)."""

    def __init__(self, cloud: Any) -> None:
        self.database: Path = cloud.search.database("search")
        self.parked = self.database.with_suffix(".down")

    def __enter__(self) -> EngineOutage:
        os.rename(self.database, self.parked)
        return self

    def __exit__(self, *_: object) -> None:
        os.rename(self.parked, self.database)


def eventually(check: Callable[[], bool], within: float) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"not within {within} s"
        time.sleep(0.2)


def test_search_down_is_a_503_posting_still_works_and_the_index_catches_up(
    down_api: Api, down_cloud: Any
) -> None:
    api = down_api
    alice = sign_up_and_log_in(api, display_name="Alice")
    assert down_cloud.wait_idle(30)

    with EngineOutage(down_cloud):
        for path in ("tweets", "users"):
            refused = api.get(f"/search/{path}", alice.token, params={"q": "anything"})
            assert_error(refused, 503, "service_unavailable")
            assert int(refused.headers["Retry-After"]) >= 1
        tweet_id = post_tweet(api, alice, "posted while search is down #outage")
        assert api.get(f"/tweets/{tweet_id}", alice.token).status_code == 200
        renamed = api.patch("/users/me", alice.token, json={"display_name": "Outagename Alice"})
        assert renamed.status_code == 200, renamed.text
        time.sleep(2)  # the indexer meets the outage: records fail, and stay queued or go to rescue
        home = api.get("/timeline/home", alice.token)
        assert home.status_code == 200 and tweet_id in [t["tweet_id"] for t in home.json()["tweets"]]

    def found(q: str, path: str, key: str, wanted: str) -> bool:
        page = api.get(f"/search/{path}", alice.token, params={"q": q})
        assert page.status_code == 200, page.text
        return wanted in [item[key] for item in page.json()[path]]

    eventually(lambda: found("#outage down", "tweets", "tweet_id", tweet_id), within=20)
    eventually(lambda: found("outagenam", "users", "user_id", alice.user_id), within=20)
    usage = down_cloud.grant_usage()["stream-rescue"]["used"]
    assert {"users/stream:read", "search-index:send"} <= set(usage), "the profile edit came back by replay"
