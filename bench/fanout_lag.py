"""Fan-out lag on the local runtime: POST /tweets returned -> the tweet is in every follower's timeline.

    .venv/bin/python bench/fanout_lag.py                 # 10, 1000 and 10000 followers, 3 posts each
    .venv/bin/python bench/fanout_lag.py --sizes 10000 --posts 5 --json bench/results/fanout_lag.json

A benchmark, not a test. It starts the local cloud (moto server, local gateway) with the tweets-stream
dispatcher and the fan-out worker pollers, exactly as ``make dev`` runs them, but not the follows-stream
poller: the synthetic graph is written straight into the follows table (10,000 sign-ups through Cognito
would take minutes) and its follow events are not part of what is measured. Followers are active (their
meta item has a recent last_seen). CELEBRITY_FOLLOWER_THRESHOLD is raised above the largest size so the
author is fanned out on write (with the default 10,000 an author with 10,000 followers is a celebrity).

The lag ends when the worker finished the last ``add`` message of the tweet (the handler is wrapped to
timestamp completions), or, for an audience of at most ``INLINE_MAX`` that the dispatcher writes itself,
when the dispatcher's invocation returned; a sample of followers is then read back to check the entry is
really there.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra.resources import SPEC  # noqa: E402
from local_cloud.pollers import PollerGroup  # noqa: E402
from local_cloud.runtime import LocalCloud  # noqa: E402
from tests.support.client import Api, sign_up_and_log_in  # noqa: E402


class WorkerClock:
    """Wraps the worker handler: remembers when each invocation finished and which messages it carried;
    and the dispatcher's, which writes small audiences itself (``INLINE_MAX``)."""

    def __init__(self) -> None:
        from functions.timeline.handlers.dispatcher import lambda_handler as dispatcher
        from functions.timeline.handlers.worker import lambda_handler

        self.handler = lambda_handler
        self.dispatcher_handler = dispatcher
        self.lock = threading.Lock()
        self.done: dict[str, float] = {}  # entry_id -> when its last add message finished
        self.applied: dict[str, int] = {}  # entry_id -> followers written so far
        self.dispatched: dict[str, float] = {}  # tweet_id -> when the dispatcher's invocation returned

    def dispatcher(self, event: dict[str, Any], context: Any) -> Any:
        response = self.dispatcher_handler(event, context)
        finished = time.monotonic()
        with self.lock:
            for record in event.get("Records", []):
                image = record.get("dynamodb", {}).get("NewImage", {})
                if record.get("eventName") == "INSERT" and "tweet_id" in image:
                    self.dispatched[image["tweet_id"]["S"]] = finished
        return response

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        response = self.handler(event, context)
        finished = time.monotonic()
        with self.lock:
            for record in event.get("Records", []):
                body = json.loads(record["body"])
                if body.get("op") == "add":
                    entry_id = body["entry"]["entry_id"]
                    self.done[entry_id] = finished
                    self.applied[entry_id] = self.applied.get(entry_id, 0) + len(body["users"])
        return response


def build_followers(author: str, count: int) -> list[str]:
    """Follow edges (as the graph domain writes them) and active readers' meta items, in batches."""
    from functions.graph.dal import FollowRecord, new_follow
    from functions.timeline.dal import TimelineStore

    ids = [f"bench-{uuid.uuid4().hex[:16]}" for _ in range(count)]
    with FollowRecord.batch_write() as batch:
        for follower in ids:
            batch.save(new_follow(follower, author))
    store = TimelineStore()
    now = str(int(time.time()))
    items = [
        {"PutRequest": {"Item": {"user_id": {"S": u}, "entry_id": {"S": "~meta"}, "last_seen": {"N": now}}}}
        for u in ids
    ]
    for i in range(0, len(items), 25):
        store.batch_write(items[i : i + 25])
    return ids


def measure(api: Api, cloud: LocalCloud, clock: WorkerClock, size: int, posts: int) -> dict[str, Any]:
    from functions.timeline.dal import TimelineStore
    from functions.timeline.fanout import INLINE_MAX
    from functions.timeline.handlers.wiring import timelines

    author = sign_up_and_log_in(api)
    started = time.monotonic()
    followers = build_followers(author.user_id, size)
    build_seconds = time.monotonic() - started
    assert cloud.wait_idle(600)
    lags: list[float] = []
    calls_before = timelines().store.calls.snapshot()
    for i in range(posts):
        response = api.post("/tweets", author.token, json={"text": f"bench {size} #{i}"})
        assert response.status_code == 201, response.text
        returned = time.monotonic()
        tweet_id = response.json()["tweet_id"]
        deadline = returned + 120
        if size <= INLINE_MAX:  # the dispatcher writes the entries itself, no message
            while tweet_id not in clock.dispatched and time.monotonic() < deadline:
                time.sleep(0.005)
            lags.append(clock.dispatched.get(tweet_id, float("inf")) - returned)
        else:
            while clock.applied.get(tweet_id, 0) < size and time.monotonic() < deadline:
                time.sleep(0.005)
            lags.append(clock.done.get(tweet_id, float("inf")) - returned)
        store = TimelineStore()
        for follower in random.sample(followers, min(20, size)):
            _, entries, _ = store.query_page(follower, None, 5, with_meta=False)
            assert tweet_id in [e.entry_id for e in entries], "entry missing after the worker finished"
        assert cloud.wait_idle(600)  # trims and leftovers, before the next post
    calls_after = timelines().store.calls.snapshot()
    writes = calls_after.get("BatchWriteItem", 0) - calls_before.get("BatchWriteItem", 0)
    return {
        "followers": size,
        "posts": posts,
        "lag_p50_s": round(statistics.median(lags), 3),
        "lag_max_s": round(max(lags), 3),
        "lags_s": [round(x, 3) for x in lags],
        "batch_write_calls_per_post": writes / posts,
        "expected_ceil_n_over_25": -(-size // 25),
        "graph_build_s": round(build_seconds, 1),
    }


def main() -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 1000, 10000])
    parser.add_argument("--posts", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the local gateway logs every request
    os.environ["CELEBRITY_FOLLOWER_THRESHOLD"] = str(max(args.sizes) * 10)
    # The clocked handlers run here, not in function processes: give them what the definition would.
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Chirp")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "fanout-worker")
    import requests

    with LocalCloud(port=0, start_pollers=False) as cloud:
        assert cloud.provisioned is not None
        clock = WorkerClock()  # imports function code: only once the cloud's environment is set
        # Only the fan-out's own mappings, with the clocked handlers below: the other consumers (clean-up,
        # search indexing, stream rescue) would run in this process without their environment.
        timed = {"fanout-worker", "fanout-dispatcher"}
        wanted = [m for m in SPEC.mappings if m.function in timed and m.source != "follows"]
        pollers = PollerGroup(
            SPEC,
            cloud.provisioned,
            cloud.aws,
            mappings=wanted,
            handlers={"fanout-worker": clock, "fanout-dispatcher": clock.dispatcher},
        ).start()
        cloud.pollers = pollers
        try:
            api = Api(base_url=cloud.base_url, session=requests.Session())
            rows = [measure(api, cloud, clock, size, args.posts) for size in args.sizes]
        finally:
            pollers.stop()
            cloud.pollers = None
    header = f"{'followers':>9} | {'lag p50 s':>9} | {'lag max s':>9} | {'BatchWriteItem/post':>19}"
    print(f"{header} | ceil(N/25)")
    for row in rows:
        print(
            f"{row['followers']:>9} | {row['lag_p50_s']:>9} | {row['lag_max_s']:>9} | "
            f"{row['batch_write_calls_per_post']:>19} | {row['expected_ceil_n_over_25']}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
