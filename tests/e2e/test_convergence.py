"""Convergence under chaos: a concurrent random workload through the local cloud, with AWS-like faults,
redeliveries, index lag and delays (``LOCAL_CHAOS``), then the pipelines drained and what failed
replayed. Every home timeline, read through all its pages, must then equal what an oracle computes from
the final follows and tweets (read from the tables): nothing missing, nothing extra, nothing repeated,
no deleted tweet; every counter exact; every dead-letter queue empty.

A cloud of its own, from the definition with one change: the queues' visibility timeouts are 2 s
(instead of 60 s and 6 minutes), so a message whose processing failed comes back within the test.
The figures are printed (``pytest -s``) for the record.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.resources import SPEC, ServiceSpec
from tests.support.client import Account, Api, sign_up_and_log_in

pytestmark = pytest.mark.e2e

CHAOS = "seed=7,faults=0.15,redeliver=0.2,index_lag_ms=150,delay_ms=100"
USERS = 8
OPERATIONS = 240
CLIENTS = 4
THRESHOLD = 3
"""Low, so accounts cross the celebrity threshold both ways during the run."""

_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "redrive.py"
_spec = importlib.util.spec_from_file_location("redrive", _SCRIPT)
assert _spec is not None and _spec.loader is not None
redrive = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("redrive", redrive)
_spec.loader.exec_module(redrive)


def quick_retries(spec: ServiceSpec) -> ServiceSpec:
    queues = tuple(
        dataclasses.replace(q, visibility_timeout_seconds=2) if q.max_receive_count else q
        for q in spec.queues
    )
    return dataclasses.replace(spec, queues=queues)


@pytest.fixture(scope="module")
def chaos_cloud() -> Iterator[Any]:
    from local_cloud.runtime import LocalCloud

    with LocalCloud(quick_retries(SPEC), port=0, chaos="") as running:
        yield running


class Client:
    """The API as a careful client uses it: 503 and 429 `busy` are retried after `Retry-After`."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.retries = Counter[int]()
        self.lock = threading.Lock()

    def call(self, method: str, path: str, token: str, **kw: Any) -> requests.Response:
        for _ in range(12):
            response = self.api.call(method, path, token, **kw)
            busy = response.status_code == 429 and response.json()["error"]["code"] == "busy"
            if response.status_code == 503 or busy:
                with self.lock:
                    self.retries[response.status_code] += 1
                time.sleep(min(float(response.headers.get("Retry-After", "1")), 1.0) * random.random())
                continue
            assert response.status_code < 500, (method, path, response.status_code, response.text)
            return response
        raise AssertionError(f"{method} {path} still unavailable after 12 attempts")


def test_every_home_timeline_converges_under_chaos(chaos_cloud: Any) -> None:
    cloud = chaos_cloud
    api = Api(base_url=cloud.base_url, session=requests.Session())
    users = [sign_up_and_log_in(api) for _ in range(USERS)]  # chaos-free: the cast
    cloud.configure(CELEBRITY_FOLLOWER_THRESHOLD=THRESHOLD)
    cloud.set_chaos(CHAOS)
    client = Client(api)
    tweets: list[str] = []
    ops = Counter[str]()
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(OPERATIONS // CLIENTS):
            me: Account = rng.choice(users)
            other: Account = rng.choice([u for u in users if u is not me])
            with lock:
                known = list(tweets)
            roll = rng.random()
            if roll < 0.25:
                kind = "follow"
                client.call("POST", f"/users/{other.user_id}/follow", me.token)
            elif roll < 0.35:
                kind = "unfollow"
                client.call("DELETE", f"/users/{other.user_id}/follow", me.token)
            elif roll < 0.6 or not known:
                kind = "post"
                response = client.call("POST", "/tweets", me.token, json={"text": f"t{rng.random()}"})
                if response.status_code == 201:
                    with lock:
                        tweets.append(response.json()["tweet_id"])
            elif roll < 0.7:
                kind = "retweet"
                client.call("POST", f"/tweets/{rng.choice(known)}/retweet", me.token)
            elif roll < 0.8:
                kind = "like"
                client.call("POST", f"/tweets/{rng.choice(known)}/like", me.token)
            elif roll < 0.85:
                kind = "unlike"
                client.call("DELETE", f"/tweets/{rng.choice(known)}/like", me.token)
            elif roll < 0.9:
                kind = "delete"
                client.call("DELETE", f"/tweets/{rng.choice(known)}", me.token)
            else:
                kind = "home read"
                client.call("GET", "/timeline/home?limit=5", me.token)
            with lock:
                ops[kind] += 1

    started = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(worker, range(CLIENTS)))
    workload_seconds = time.monotonic() - started

    assert cloud.wait_idle(300.0), "the pipelines did not drain"
    replayed = replay_everything(cloud)
    assert cloud.wait_idle(300.0), "the replays did not drain"
    assert dead_letters(cloud) == {}, "every DLQ is empty"

    state = final_state(cloud)
    missing = extra = repeated = deleted_shown = 0
    for account in users:
        shown = read_home(client, account)
        wanted = state.home(account.user_id)
        missing += len(set(wanted) - set(shown))
        extra += len(set(shown) - set(wanted))
        repeated += len(shown) - len(set(shown))
        deleted_shown += len(set(shown) - state.alive)
        assert shown == wanted, account.username
    wrong_counters = state.wrong_counters()
    report = cloud.chaos_report()
    print(
        json.dumps(
            {
                "operations": dict(ops),
                "workload_seconds": round(workload_seconds, 1),
                "chaos": CHAOS,
                "injected": report,
                "client_retries": {str(k): v for k, v in client.retries.items()},
                "replayed_messages": replayed,
                "missing": missing,
                "extra": extra,
                "repeated": repeated,
                "deleted_shown": deleted_shown,
                "wrong_counters": wrong_counters,
            },
            indent=1,
        )
    )
    assert wrong_counters == []
    assert sum(v for k, v in report.items() if k in ("throttle", "500", "503")) > 0, "faults were injected"
    assert report["redelivered_sqs"] + report["redelivered_stream"] > 0, "deliveries were repeated"


# ---- draining, replaying and reading --------------------------------------------------------------------
def replay_everything(cloud: Any) -> int:
    """``make replay`` and ``make redrive`` against the local cloud: every DLQ back to its queue (the
    stream failures' too: their rescue runs again), until none holds anything."""
    moved = 0
    queues = ["fanout", "stream-failures"]
    for _ in range(3):
        waiting = sum(dead_letters(cloud).values())
        if not waiting:
            return moved
        moved += waiting
        args = [
            "--replay",
            *(a for q in queues for a in ("--queue", q)),
            "--endpoint-url",
            cloud.aws.endpoint_url,
        ]
        assert redrive.main(args) == 0
        assert cloud.wait_idle(300.0)
    return moved


def dead_letters(cloud: Any) -> dict[str, int]:
    sqs = cloud.aws.client("sqs")
    found: dict[str, int] = {}
    for url in sqs.list_queues().get("QueueUrls", []):
        if url.rstrip("/").endswith("-dlq"):
            attributes = sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            count = sum(int(v) for v in attributes.values())
            if count:
                found[url.rsplit("/", 1)[-1]] = count
    return found


def read_home(client: Client, account: Account) -> list[str]:
    ids: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 7}
        if cursor:
            params["cursor"] = cursor
        page = client.call("GET", "/timeline/home", account.token, params=params).json()
        ids.extend(t["tweet_id"] for t in page["tweets"])
        if not page["has_more"]:
            return ids
        cursor = page["next_cursor"]


@dataclasses.dataclass
class FinalState:
    follows: set[tuple[str, str]]
    entries: dict[str, tuple[str, str | None]]
    """tweets-table items: id -> (author, original id for a retweet)."""
    counts: dict[str, dict[str, int]]
    engagements: Counter[tuple[str, str]]

    @property
    def alive(self) -> set[str]:
        return {i for i, (_, original) in self.entries.items() if original is None}

    def home(self, reader: str) -> list[str]:
        visible = {
            entry_id: original
            for entry_id, (author, original) in self.entries.items()
            if (original is None or original in self.alive)
            and (author == reader or (reader, author) in self.follows)
        }
        ids: list[str] = []
        for entry_id in sorted(visible, reverse=True):
            original = visible[entry_id] or entry_id
            if original not in ids:
                ids.append(original)
        return ids

    def wrong_counters(self) -> list[str]:
        wrong: list[str] = []
        for user_id, counts in self.counts.items():
            if "follower_count" not in counts:
                continue
            expected = {
                "follower_count": sum(1 for _, b in self.follows if b == user_id),
                "following_count": sum(1 for a, _ in self.follows if a == user_id),
                "tweet_count": sum(1 for author, _ in self.entries.values() if author == user_id),
            }
            wrong.extend(
                f"{user_id} {name} {counts.get(name)} != {value}"
                for name, value in expected.items()
                if counts.get(name) != value
            )
        for tweet_id, counts in self.counts.items():
            if "like_count" not in counts:
                continue
            for kind in ("like", "retweet"):
                if counts[f"{kind}_count"] != self.engagements[(tweet_id, kind)]:
                    wrong.append(f"{tweet_id} {kind}_count {counts[f'{kind}_count']}")
        return wrong


def final_state(cloud: Any) -> FinalState:
    """The tables as they are, read with Scans of the base tables (exact, not lagged)."""
    ddb = cloud.aws.client("dynamodb")
    names = cloud.provisioned.table_names

    def scan(table: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in ddb.get_paginator("scan").paginate(TableName=names[table], ConsistentRead=True):
            items.extend(page["Items"])
        return items

    def s(item: dict[str, Any], name: str) -> str | None:
        return item[name]["S"] if name in item else None

    follows = {(str(s(i, "follower_id")), str(s(i, "followee_id"))) for i in scan("follows")}
    entries: dict[str, tuple[str, str | None]] = {}
    counts: dict[str, dict[str, int]] = {}
    for item in scan("tweets"):
        tweet_id = str(s(item, "tweet_id"))
        entries[tweet_id] = (str(s(item, "author_id")), s(item, "retweet_of"))
        if s(item, "retweet_of") is None:
            counts[tweet_id] = {k: int(item[k]["N"]) for k in ("like_count", "retweet_count") if k in item}
            counts[tweet_id].setdefault("like_count", 0)
            counts[tweet_id].setdefault("retweet_count", 0)
    for item in scan("users"):
        if s(item, "kind") == "profile":
            counts[str(s(item, "pk"))] = {
                k: int(item[k]["N"])
                for k in ("follower_count", "following_count", "tweet_count")
                if k in item
            }
    # One item per tweet and user holds that user's like (liked_at) and retweet (retweet_id).
    engagements = Counter(
        (str(s(i, "tweet_id")), kind)
        for i in scan("engagements")
        for kind, attribute in (("like", "liked_at"), ("retweet", "retweet_id"))
        if attribute in i
    )
    return FinalState(follows, entries, counts, engagements)
