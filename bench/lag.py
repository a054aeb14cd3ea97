"""Fan-out lag: from the moment ``POST /tweets`` returned to the moment the tweet is in every follower's
cached timeline, for authors with 10, 1,000 and 10,000 followers.

Measured with the real code end to end, by invoking the handlers with real-shaped events (``bench
.pipeline``): the tweets-api handler writes the tweet; its stream record goes to the fanout-dispatcher
(and tweets-cleanup) handlers; the dispatcher's SQS messages go to the fanout-worker handler in batches
of 10. Visible = the worker's last BatchWriteItem carrying the entry returned (the timeline Query reads
it from then on); each sample is then checked by counting the entry's items in the table.
Strategy: pure push (threshold = 10^9), since with the bench's threshold the two larger authors would be
celebrities, merged at read time (visible at once, nothing to fan out).

To keep moto fast, only these three authors and their followers exist: the followers are bare follow
items (no profiles) plus a meta item marking them active (``last_seen`` = now, what ``touch`` writes),
the 1,000 and 10 being subsets of the 10,000. The sampled ``trim`` messages (1 in 100 timelines) run
for the first sample of each author (the cost row); later samples discard them, as they follow the
adds and cannot change the lag.
"""

from __future__ import annotations

import math
import os
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from bench import moto_local
from bench.graph import INFINITY
from bench.pipeline import Api, Pump, handler_for
from bench.recorder import RECORDER, Call
from infra.resources import SPEC


@dataclass
class LagSample:
    followers: int
    lag_s: float
    visible: int
    add_batch_writes: int
    calls: dict[str, int]
    rcu: float
    wcu: float
    sqs_requests: int
    depth: int
    trims_run: bool


@dataclass
class LagResult:
    samples: dict[int, list[LagSample]] = field(default_factory=dict)
    setup_seconds: float = 0.0


def _ids(rng: random.Random, n: int) -> list[str]:
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(n)]


def run_lag(sizes: dict[int, int], seed: int, log: Any = print) -> LagResult:
    """``sizes``: follower count -> number of samples."""
    from functions.core.config import reload
    from functions.graph.dal import FollowRecord, new_follow
    from functions.timeline.dal import TimelineStore
    from functions.timeline.models import META_KEY
    from functions.users.dal import UserRecord

    rng = random.Random(seed + 2)
    os.environ["CELEBRITY_FOLLOWER_THRESHOLD"] = str(INFINITY)
    reload()
    result = LagResult()
    biggest = max(sizes)
    with moto_local.MotoSession() as session:
        started = time.perf_counter()
        followers = _ids(rng, biggest)
        authors = {n: str(uuid.UUID(int=rng.getrandbits(128), version=4)) for n in sizes}
        now = time.time()
        store = TimelineStore()
        with RECORDER.suppressed():
            with UserRecord.batch_write() as batch:
                for n, author in authors.items():
                    batch.save(
                        UserRecord(
                            pk=author,
                            username=f"author{n}",
                            email=f"author{n}@example.com",
                            display_name=f"Author {n}",
                            follower_count=n,
                            created_at="2026-10-01T00:00:00.000Z",
                        )
                    )
            with FollowRecord.batch_write() as batch:
                for n, author in authors.items():
                    for follower in followers[:n]:
                        batch.save(new_follow(follower, author))
            metas = [
                {
                    "PutRequest": {
                        "Item": {
                            "user_id": {"S": user},
                            "entry_id": {"S": META_KEY},
                            "last_seen": {"N": str(int(now))},
                        }
                    }
                }
                for user in followers
            ]
            for i in range(0, len(metas), 25):
                store.batch_write(metas[i : i + 25])
            for author in authors.values():
                store.touch(author, now)
        pump = Pump(session.provisioned)
        pump.skip_existing()
        api = Api()
        for fn in SPEC.functions:
            handler_for(fn.name)
        result.setup_seconds = time.perf_counter() - started
        log(f"  lag set-up: {biggest} followers in {result.setup_seconds:.1f} s")
        for n, count in sorted(sizes.items()):
            samples: list[LagSample] = []
            for index in range(count):
                samples.append(_sample(api, pump, authors[n], n, run_trims=index == 0))
                log(f"  lag {n:>6} followers, sample {index + 1}/{count}: {samples[-1].lag_s * 1000:.0f} ms")
            result.samples[n] = samples
    return result


def _sample(api: Api, pump: Pump, author: str, followers: int, *, run_trims: bool) -> LagSample:
    def keep(body: dict[str, Any]) -> bool:
        return run_trims or body.get("op") != "trim"

    workers_before = pump.invocations.get("fanout-worker", 0)
    with RECORDER.scope("post"):
        tweet = api.call("POST", "/tweets", author, body={"text": "lag probe #chirp"})
        returned = time.perf_counter()
    with RECORDER.scope("fanout") as background:
        pump.drain(on_message=keep)
    adds: list[Call] = [
        c
        for c in background.calls
        if c.operation == "BatchWriteItem" and c.note == "put" and "timelines" in c.tables
    ]
    visible_at = max((c.end for c in adds), default=returned)
    calls: dict[str, int] = {}
    rcu = wcu = 0.0
    sqs = 0
    for call in background.calls:
        calls[f"{call.service}:{call.operation}"] = calls.get(f"{call.service}:{call.operation}", 0) + 1
        rcu += call.capacity.rcu
        wcu += call.capacity.wcu
        if call.operation.startswith("SendMessage"):
            sqs += int(call.note or 1)
    sqs += 2 * (pump.invocations.get("fanout-worker", 0) - workers_before)  # ESM receive + delete
    visible = moto_local.count_items("timelines", "entry_id", tweet["tweet_id"])
    return LagSample(
        followers=followers,
        lag_s=visible_at - returned,
        visible=visible,
        add_batch_writes=len(adds),
        calls=dict(sorted(calls.items())),
        rcu=rcu,
        wcu=wcu,
        sqs_requests=sqs,
        depth=background.depth,
        trims_run=run_trims,
    )


def expected_batch_writes(followers: int) -> int:
    return math.ceil(followers / 25)
