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
from bench.graph import INACTIVE_AGE_DAYS, INFINITY, Graph, Seeded, write_graph
from bench.pipeline import Api, Pump, handler_for
from bench.recorder import RECORDER, Call, Scope
from bench.stats import percentile, percentile_n, samples_needed  # noqa: F401 (re-exported)
from infra.resources import SPEC

OP_KINDS = ("post", "home_read", "deep_page", "rebuild", "user_read", "follow", "like")
DEEP_PAGES = 3
"""A deep-paging op reads page 1 unmeasured, then pages 2..DEEP_PAGES (each measured as one op): the
cache holds 25 entries, so page 2 starts in it and page 3 is wholly below it (the k-way merge)."""


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
    batch: int = 0
    """Which repeat of the op sequence (0..repeats-1): the spread of the costs is taken across these."""
    inactive_share: float = 0.0
    """Share of readers inactive while the op ran (0 for the main batches)."""
    lambda_invocations: int = 0
    """Function invocations: the API function plus every consumer invocation the op triggered."""
    lambda_gb_s: float = 0.0
    """Measured handler durations x each function's configured memory (infra.resources.SPEC)."""


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


def plan(graph: Graph, counts: dict[str, int], seed: int, exclude: frozenset[int] = frozenset()) -> list[Op]:
    """The op sequence: readers uniform, posters by sqrt(followers) (bigger accounts post more, less than
    proportionally), follows preferential (by followers), likes on followees' tweets. Nobody in
    ``exclude`` (the returning readers, who stay inactive until their rebuild) acts; rebuild ops are
    added by ``returning_ops``."""
    rng = random.Random(seed + 1)
    n = len(graph.user_ids)
    allowed = [u for u in range(n) if u not in exclude]

    def anyone() -> int:
        return allowed[rng.randrange(len(allowed))]

    ops: list[Op] = []
    ops += [Op("home_read", anyone()) for _ in range(counts.get("home_read", 0))]
    ops += [Op("deep_page", anyone()) for _ in range(counts.get("deep_page", 0))]
    for _ in range(counts.get("user_read", 0)):
        actor = anyone()
        followees = sorted(graph.following[actor])
        ops.append(Op("user_read", actor, rng.choice(followees) if followees else rng.randrange(n)))
    posters = systematic_sample(
        [0.0 if u in exclude else math.sqrt(graph.follower_count(u)) for u in range(n)],
        counts.get("post", 0),
        rng,
    )
    ops += [Op("post", u) for u in posters]
    tweets_by_author: dict[int, list[int]] = {}
    for index, author in enumerate(graph.tweet_authors):
        tweets_by_author.setdefault(author, []).append(index)
    liked: set[tuple[int, int]] = set()
    while len(liked) < counts.get("like", 0):
        actor = anyone()
        candidates = [t for f in sorted(graph.following[actor]) for t in tweets_by_author.get(f, [])]
        tweet = rng.choice(candidates) if candidates else rng.randrange(len(graph.tweet_authors))
        if (actor, tweet) not in liked:
            liked.add((actor, tweet))
            ops.append(Op("like", actor, tweet))
    followed: set[tuple[int, int]] = set()
    weights = [graph.follower_count(u) + 1 for u in range(n)]
    while len(followed) < counts.get("follow", 0):
        actor = anyone()
        target = rng.choices(range(n), weights=weights)[0]
        if target != actor and target not in graph.following[actor] and (actor, target) not in followed:
            followed.add((actor, target))
            ops.append(Op("follow", actor, target))
    rng.shuffle(ops)
    return ops


def returning_readers(graph: Graph, per_batch: int, batches: int, seed: int) -> list[list[int]]:
    """Readers who went inactive and come back (one rebuild op each), disjoint across batches, among
    users who follow someone (a rebuild of nobody is free)."""
    rng = random.Random(seed + 7)
    candidates = [u for u in range(len(graph.user_ids)) if graph.following[u]]
    chosen = rng.sample(candidates, per_batch * batches)
    return [chosen[b * per_batch : (b + 1) * per_batch] for b in range(batches)]


def with_rebuilds(ops: list[Op], readers: list[int], seed: int) -> list[Op]:
    """``ops`` with one rebuild (first home read after inactivity) per returning reader, spread evenly."""
    out = list(ops)
    rng = random.Random(seed + 11)
    for reader in readers:
        out.insert(rng.randrange(len(out) + 1), Op("rebuild", reader))
    return out


def inactive_set(graph: Graph, share: float, keep: set[int], seed: int) -> set[int]:
    """``share`` of all users, drawn among those not in ``keep`` (the phase's actors stay active)."""
    rng = random.Random(seed + 13)
    pool = [u for u in range(len(graph.user_ids)) if u not in keep]
    return set(rng.sample(pool, min(len(pool), round(share * len(graph.user_ids)))))


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


def _memory_gb(function: str) -> float:
    return next(f.memory_mb for f in SPEC.functions if f.name == function) / 1024


def _route_function(kind: str) -> str:
    method, path = ROUTES[kind]
    return next(r.function for r in SPEC.routes if r.method == method and r.path == path)


ROUTES = {
    "home_read": ("GET", "/timeline/home"),
    "deep_page": ("GET", "/timeline/home"),
    "rebuild": ("GET", "/timeline/home"),
    "user_read": ("GET", "/timeline/user/{user_id}"),
    "post": ("POST", "/tweets"),
    "like": ("POST", "/tweets/{tweet_id}/like"),
    "follow": ("POST", "/users/{user_id}/follow"),
}


class StrategyRun:
    """One strategy on a fresh moto: the graph seeded once, then ``batches`` (repeats of the op sequence,
    each with other readers, posters and targets) one after the other, then ``phases`` (posts and home
    reads with a share of the readers made inactive, by rewriting their meta items' last_seen)."""

    def __init__(
        self,
        graph: Graph,
        strategy: Strategy,
        batches: list[list[Op]],
        returning: frozenset[int] = frozenset(),
        phases: list[tuple[float, list[Op]]] | None = None,
        log: Any = print,
    ) -> None:
        self.graph = graph
        self.strategy = strategy
        self.batches = batches
        self.returning = returning
        self.phases = phases or []
        self.log = log
        self.results: list[OpResult] = []
        self.seed_seconds = 0.0
        self.seeded: Seeded | None = None
        self.pump_failures = 0
        self.failures_by_function: dict[str, int] = {}
        self.invocations: dict[str, int] = {}

    def run(self) -> list[OpResult]:
        os.environ["CELEBRITY_FOLLOWER_THRESHOLD"] = str(self.strategy.threshold)
        from functions.core.config import reload

        reload()
        with moto_local.MotoSession() as session:
            started = time.perf_counter()
            with RECORDER.suppressed():
                self.seeded = write_graph(self.graph, self.strategy.threshold, time.time(), self.returning)
            pump = Pump(session.provisioned)
            pump.skip_existing()
            self.seed_seconds = time.perf_counter() - started
            api = Api()
            self._warm_up(api)
            for batch, ops in enumerate(self.batches):
                for op in ops:
                    for result in self._run_op(api, pump, op):
                        result.batch = batch
                        self.results.append(result)
            for share, ops in self.phases:
                actors = {op.actor for op in ops}
                inactive = inactive_set(self.graph, share, actors, int(share * 1000))
                with RECORDER.suppressed():
                    self._set_last_seen(inactive)
                for op in ops:
                    for result in self._run_op(api, pump, op):
                        result.inactive_share = share
                        result.batch = -1
                        self.results.append(result)
            self.pump_failures = pump.failures
            self.failures_by_function = dict(pump.failures_by_function)
            self.invocations = dict(pump.invocations)
        return self.results

    def _set_last_seen(self, inactive: set[int]) -> None:
        """Every reader's meta item: last_seen now, or INACTIVE_AGE_DAYS ago for ``inactive``."""
        from functions.timeline.dal import TimelineStore
        from functions.timeline.models import META_KEY

        now = time.time()
        store = TimelineStore()
        puts = []
        for user, user_id in enumerate(self.graph.user_ids):
            key = {"user_id": {"S": user_id}, "entry_id": {"S": META_KEY}}
            item = moto_local.stored_item("timelines", key) or dict(key)
            age = INACTIVE_AGE_DAYS * 86400 if user in inactive else 0
            item["last_seen"] = {"N": str(int(now - age))}
            puts.append({"PutRequest": {"Item": item}})
        for i in range(0, len(puts), 25):
            store.batch_write(puts[i : i + 25])

    def _warm_up(self, api: Api) -> None:
        """Import every handler and make the first (lazy client) calls outside the measurements."""
        for fn in SPEC.functions:
            handler_for(fn.name)
        with RECORDER.suppressed():
            user = next(u for i, u in enumerate(self.graph.user_ids) if i not in self.returning)
            api.call("GET", "/timeline/home", user, query={"limit": "20"})
            api.call("GET", "/timeline/user/{user_id}", user, params={"user_id": user})

    def _request(self, api: Api, op: Op, cursor: str | None = None) -> Any:
        ids = self.graph.user_ids
        actor = ids[op.actor]
        assert self.seeded is not None
        if op.kind in ("home_read", "rebuild", "deep_page"):
            query = {"limit": "20", **({"cursor": cursor} if cursor else {})}
            return api.call("GET", "/timeline/home", actor, query=query)
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

    def _run_op(self, api: Api, pump: Pump, op: Op) -> list[OpResult]:
        if op.kind != "deep_page":
            return [self._measure(api, pump, op, None, {})]
        with RECORDER.suppressed():  # page 1: not measured, it only yields the cursor
            cursor = self._request(api, op).get("next_cursor")
        results = []
        for page in range(2, DEEP_PAGES + 1):
            if not cursor:
                break
            result = self._measure(api, pump, op, cursor, {"page": page})
            cursor = result.checks.pop("next_cursor", None)
            results.append(result)
        return results

    def _measure(self, api: Api, pump: Pump, op: Op, cursor: str | None, checks: dict[str, Any]) -> OpResult:
        actor = self.graph.user_ids[op.actor]
        if op.kind in ("home_read", "rebuild"):
            checks["pull_set"] = len(_pull_set(actor) - {actor})
        if op.kind == "post":
            checks["followers"] = _follower_total(actor)
            threshold = self.strategy.threshold
            checks["celebrity"] = checks["followers"] >= threshold
        workers_before = pump.invocations.get("fanout-worker", 0)
        invocations_before = sum(pump.invocations.values())
        seconds_before = dict(pump.seconds)
        with RECORDER.scope(op.kind) as sync:
            started = time.perf_counter()
            response = self._request(api, op, cursor)
            latency = time.perf_counter() - started
        with RECORDER.scope(op.kind + ":async") as background:
            pump.drain()
        if op.kind in ("home_read", "rebuild", "deep_page"):
            checks["tweets"] = len(response.get("tweets", []))
            checks["next_cursor"] = response.get("next_cursor")
            checks["pre_hydration_depth"] = _pre_hydration_depth(sync)
            # The flags Query (engagements GSI by_user) is part of hydration, beside its BatchGetItem.
            checks["queries"] = sum(
                1 for c in sync.calls if c.operation == "Query" and "engagements" not in c.tables
            )
            checks["flag_queries"] = sum(
                1 for c in sync.calls if c.operation == "Query" and "engagements" in c.tables
            )
            checks["batch_gets"] = sum(1 for c in sync.calls if c.operation == "BatchGetItem")
            if op.kind != "deep_page":
                checks.pop("next_cursor")
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
        gb_s = latency * _memory_gb(_route_function(op.kind))
        gb_s += sum(
            (seconds - seconds_before.get(function, 0.0)) * _memory_gb(function)
            for function, seconds in pump.seconds.items()
        )
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
            lambda_invocations=1 + sum(pump.invocations.values()) - invocations_before,
            lambda_gb_s=gb_s,
        )


def strategies(threshold: int) -> list[Strategy]:
    return [Strategy("push", INFINITY), Strategy("pull", 1), Strategy("hybrid", threshold)]


def shipped_threshold() -> int:
    """The service's default CELEBRITY_FOLLOWER_THRESHOLD (its settings model's field default)."""
    from functions.timeline.settings import TimelineSettings

    default = TimelineSettings.model_fields["celebrity_follower_threshold"].default
    return int(default)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
