"""The mixed workload, run under pure push, pure pull and the hybrid on identical data and op sequences.

Strategies are set from the outside, through the service's own setting: CELEBRITY_FOLLOWER_THRESHOLD
(read by the timeline's settings model through ``functions.core.config.load``, whose cache is cleared
between strategies).
- push: threshold = 10^9, nobody is a celebrity, every tweet is fanned out on write;
- pull: threshold = 1, every author with a follower is a celebrity: nothing is fanned out (beyond the
  author's own timeline) and a home read merges every followee's by_author index;
- hybrid: the bench's real threshold.
Each strategy starts from a fresh moto with the same graph (``bench.graph``) and replays the same ops.
"""

from __future__ import annotations

import math
import os
import random
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from bench import moto_local
from bench.capacity import Capacity
from bench.graph import INFINITY, Graph, Seeded, write_graph
from bench.pipeline import Api, Pump, handler_for
from bench.recorder import RECORDER, Call, Scope
from infra.resources import SPEC

OP_KINDS = ("post", "home_read", "user_read", "follow", "like")


@dataclass(frozen=True)
class Op:
    kind: str
    actor: int
    target: int = -1
    """user index (user_read, follow) or seed tweet index (like)."""


@dataclass(frozen=True)
class Strategy:
    name: str
    threshold: int


@dataclass
class OpResult:
    kind: str
    strategy: str
    latency_s: float
    calls: dict[str, int]
    depth: int
    capacity: Capacity
    async_calls: dict[str, int]
    async_capacity: Capacity
    async_depth: int
    sqs_requests: int
    checks: dict[str, Any] = field(default_factory=dict)


def systematic_sample(weights: list[float], n: int, rng: random.Random) -> list[int]:
    """n indexes drawn proportionally to ``weights`` with one random offset (low-variance, seeded)."""
    total = sum(weights)
    step = total / n
    point = rng.uniform(0, step)
    chosen: list[int] = []
    cumulative = 0.0
    for index, weight in enumerate(weights):
        cumulative += weight
        while point < cumulative and len(chosen) < n:
            chosen.append(index)
            point += step
    return chosen


def plan(graph: Graph, counts: dict[str, int], seed: int) -> list[Op]:
    """The op sequence: readers uniform, posters by sqrt(followers) (bigger accounts post more, less than
    proportionally), follows preferential (by followers), likes on followees' tweets."""
    rng = random.Random(seed + 1)
    n = len(graph.user_ids)
    ops: list[Op] = []
    ops += [Op("home_read", rng.randrange(n)) for _ in range(counts.get("home_read", 0))]
    for _ in range(counts.get("user_read", 0)):
        actor = rng.randrange(n)
        followees = sorted(graph.following[actor])
        ops.append(Op("user_read", actor, rng.choice(followees) if followees else rng.randrange(n)))
    posters = systematic_sample(
        [math.sqrt(graph.follower_count(u)) for u in range(n)], counts.get("post", 0), rng
    )
    ops += [Op("post", u) for u in posters]
    tweets_by_author: dict[int, list[int]] = {}
    for index, author in enumerate(graph.tweet_authors):
        tweets_by_author.setdefault(author, []).append(index)
    liked: set[tuple[int, int]] = set()
    while len(liked) < counts.get("like", 0):
        actor = rng.randrange(n)
        candidates = [t for f in sorted(graph.following[actor]) for t in tweets_by_author.get(f, [])]
        tweet = rng.choice(candidates) if candidates else rng.randrange(len(graph.tweet_authors))
        if (actor, tweet) not in liked:
            liked.add((actor, tweet))
            ops.append(Op("like", actor, tweet))
    followed: set[tuple[int, int]] = set()
    weights = [graph.follower_count(u) + 1 for u in range(n)]
    while len(followed) < counts.get("follow", 0):
        actor = rng.randrange(n)
        target = rng.choices(range(n), weights=weights)[0]
        if target != actor and target not in graph.following[actor] and (actor, target) not in followed:
            followed.add((actor, target))
            ops.append(Op("follow", actor, target))
    rng.shuffle(ops)
    return ops


def _by_operation(calls: list[Call], service: str = "dynamodb") -> dict[str, int]:
    out: dict[str, int] = {}
    for call in calls:
        if call.service == service:
            out[call.operation] = out.get(call.operation, 0) + 1
    return dict(sorted(out.items()))


def _capacity(calls: list[Call]) -> Capacity:
    total = Capacity()
    for call in calls:
        total.add(call.capacity)
    return total


def _pre_hydration_depth(scope: Scope) -> int:
    hydration = [c.depth for c in scope.calls if c.operation == "BatchGetItem" and "tweets" in c.tables]
    return (min(hydration) - 1) if hydration else scope.depth


def _pull_set(user_id: str) -> set[str]:
    from functions.timeline.models import META_KEY

    meta = moto_local.stored_item("timelines", {"user_id": {"S": user_id}, "entry_id": {"S": META_KEY}})
    return set((meta or {}).get("pull_ids", {}).get("SS", []))


def _follower_total(user_id: str) -> int:
    profile = moto_local.stored_item("users", {"pk": {"S": user_id}}) or {}
    return int(profile.get("follower_count", {}).get("N", "0"))


class StrategyRun:
    def __init__(self, graph: Graph, strategy: Strategy, ops: list[Op], log: Any = print) -> None:
        self.graph = graph
        self.strategy = strategy
        self.ops = ops
        self.log = log
        self.results: list[OpResult] = []
        self.seed_seconds = 0.0
        self.seeded: Seeded | None = None
        self.pump_failures = 0
        self.invocations: dict[str, int] = {}

    def run(self) -> list[OpResult]:
        os.environ["CELEBRITY_FOLLOWER_THRESHOLD"] = str(self.strategy.threshold)
        from functions.core.config import reload

        reload()
        with moto_local.MotoSession() as session:
            started = time.perf_counter()
            with RECORDER.suppressed():
                self.seeded = write_graph(self.graph, self.strategy.threshold, time.time())
            pump = Pump(session.provisioned)
            pump.skip_existing()
            self.seed_seconds = time.perf_counter() - started
            api = Api()
            self._warm_up(api)
            for op in self.ops:
                self.results.append(self._run_op(api, pump, op))
            self.pump_failures = pump.failures
            self.invocations = dict(pump.invocations)
        return self.results

    def _warm_up(self, api: Api) -> None:
        """Import every handler and make the first (lazy client) calls outside the measurements."""
        for fn in SPEC.functions:
            handler_for(fn.name)
        with RECORDER.suppressed():
            user = self.graph.user_ids[0]
            api.call("GET", "/timeline/home", user, query={"limit": "20"})
            api.call("GET", "/timeline/user/{user_id}", user, params={"user_id": user})

    def _request(self, api: Api, op: Op) -> Any:
        ids = self.graph.user_ids
        actor = ids[op.actor]
        assert self.seeded is not None
        if op.kind == "home_read":
            return api.call("GET", "/timeline/home", actor, query={"limit": "20"})
        if op.kind == "user_read":
            return api.call("GET", "/timeline/user/{user_id}", actor, params={"user_id": ids[op.target]})
        if op.kind == "post":
            return api.call("POST", "/tweets", actor, body={"text": f"bench post by {op.actor} #chirp"})
        if op.kind == "like":
            tweet = self.seeded.tweet_ids[op.target]
            return api.call("POST", "/tweets/{tweet_id}/like", actor, params={"tweet_id": tweet})
        if op.kind == "follow":
            return api.call("POST", "/users/{user_id}/follow", actor, params={"user_id": ids[op.target]})
        raise ValueError(op.kind)

    def _run_op(self, api: Api, pump: Pump, op: Op) -> OpResult:
        actor = self.graph.user_ids[op.actor]
        checks: dict[str, Any] = {}
        if op.kind == "home_read":
            checks["pull_set"] = len(_pull_set(actor) - {actor})
        if op.kind == "post":
            checks["followers"] = _follower_total(actor)
            threshold = self.strategy.threshold
            checks["celebrity"] = checks["followers"] >= threshold
        workers_before = pump.invocations.get("fanout-worker", 0)
        with RECORDER.scope(op.kind) as sync:
            started = time.perf_counter()
            response = self._request(api, op)
            latency = time.perf_counter() - started
        with RECORDER.scope(op.kind + ":async") as background:
            pump.drain()
        if op.kind == "home_read":
            checks["tweets"] = len(response.get("tweets", []))
            checks["pre_hydration_depth"] = _pre_hydration_depth(sync)
            checks["queries"] = sum(1 for c in sync.calls if c.operation == "Query")
            checks["batch_gets"] = sum(1 for c in sync.calls if c.operation == "BatchGetItem")
        if op.kind == "post":
            checks["add_batch_writes"] = sum(
                1
                for c in background.calls
                if c.operation == "BatchWriteItem" and c.note == "put" and "timelines" in c.tables
            )
        # SQS requests billed: the sends (per 64 KB chunk) plus, per worker invocation, the event-source
        # mapping's ReceiveMessage and DeleteMessageBatch.
        worker_invocations = pump.invocations.get("fanout-worker", 0) - workers_before
        sqs = sum(int(c.note or 1) for c in background.calls if c.operation.startswith("SendMessage"))
        sqs += 2 * worker_invocations
        return OpResult(
            kind=op.kind,
            strategy=self.strategy.name,
            latency_s=latency,
            calls=_by_operation(sync.calls),
            depth=sync.depth,
            capacity=_capacity(sync.calls),
            async_calls=_by_operation(background.calls),
            async_capacity=_capacity(background.calls),
            async_depth=background.depth,
            sqs_requests=sqs,
            checks=checks,
        )


def strategies(threshold: int) -> list[Strategy]:
    return [Strategy("push", INFINITY), Strategy("pull", 1), Strategy("hybrid", threshold)]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
