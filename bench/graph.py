"""The synthetic social graph: Zipf-distributed follower counts, seeded, and how it is written.

Generation is pure (no AWS): follower counts follow Zipf's law (the account of popularity rank r has
about ``scale * users / (r - 1/2)`` followers, capped at everyone else), who follows whom is drawn
with a seeded RNG, and so are the tweets' texts and timestamps. The same seed gives the same graph.

Writing goes through the service's own models and stores: profiles as ``functions.users.dal
.UserRecord``, edges as ``functions.graph.dal.new_follow`` records, tweets as ``functions.tweets.dal
.TweetRecord`` (batch writes: the graph is set-up, not measured), then the timeline state each strategy
would have reached, through ``functions.timeline.dal.TimelineStore.batch_write`` (the fan-out worker's
own BatchWriteItem path): cached entries built by ``put_entries``, and one meta item per user holding
what ``touch`` (last_seen), ``switch_mode`` (celebrity mode) and ``record_rebuild`` (the reader's pull
set) would have written, read back through ``get_meta`` to check. Running the dispatcher for every seed
tweet, and one UpdateItem per meta attribute, would give the same items at ~50x the time on moto.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

WORDS = [
    "serverless",
    "latency",
    "fanout",
    "timeline",
    "chirp",
    "dynamo",
    "queue",
    "stream",
    "lambda",
    "coffee",
    "morning",
    "deploy",
    "ship",
    "weekend",
    "music",
    "football",
    "rain",
    "sunny",
    "build",
    "test",
    "review",
    "merge",
    "release",
    "python",
    "rust",
    "index",
    "cache",
    "page",
]
INFINITY = 10**9
"""CELEBRITY_FOLLOWER_THRESHOLD for pure push: nobody reaches it."""


@dataclass(frozen=True)
class GraphParams:
    users: int = 1000
    scale: float = 1.25
    """Zipf scale: the account at rank r has ~scale * users / (r - 0.5) followers."""
    tweets_per_user: int = 22
    """Enough for a full page (limit 20 + 2) from every author's by_author index, as in steady state."""
    cached_per_reader: int = 25
    """Entries seeded per cached home timeline (the newest; older ones as if trimmed, below the floor)."""
    seed: int = 20261122


@dataclass
class Graph:
    params: GraphParams
    user_ids: list[str]
    usernames: list[str]
    followers: list[list[int]]
    """followers[a] = indexes of the users who follow a."""
    following: list[set[int]]
    tweet_authors: list[int]
    """Author index of each seed tweet, oldest first."""
    tweet_texts: list[str]
    tweet_times: list[float]
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def edges(self) -> int:
        return sum(len(f) for f in self.followers)

    def follower_count(self, user: int) -> int:
        return len(self.followers[user])

    def celebrities(self, threshold: int) -> list[int]:
        return [u for u in range(len(self.user_ids)) if len(self.followers[u]) >= threshold]


def tweet_text(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(6, 30))]
    if rng.random() < 0.3:
        words.append("#" + rng.choice(WORDS))
    return " ".join(words)[:280]


def zipf_counts(users: int, scale: float) -> list[int]:
    """Follower count by popularity rank (1-based rank r -> index r-1), capped at users - 1."""
    return [max(1, min(users - 1, int(scale * users / (rank - 0.5)))) for rank in range(1, users + 1)]


def generate(params: GraphParams) -> Graph:
    rng = random.Random(params.seed)
    n = params.users
    user_ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(n)]
    usernames = [f"user{i:05d}" for i in range(n)]
    ranks = list(range(n))
    rng.shuffle(ranks)  # ranks[i] = popularity rank (0-based) of user i
    counts = zipf_counts(n, params.scale)
    followers: list[list[int]] = []
    following: list[set[int]] = [set() for _ in range(n)]
    for user in range(n):
        others = [u for u in rng.sample(range(n), min(n, counts[ranks[user]] + 1)) if u != user]
        chosen = others[: counts[ranks[user]]]
        followers.append(chosen)
        for follower in chosen:
            following[follower].add(user)
    now = time.time()
    authors = [u for u in range(n) for _ in range(params.tweets_per_user)]
    rng.shuffle(authors)
    times = sorted(now - rng.uniform(3600, 3 * 86400) for _ in authors)
    texts = [tweet_text(rng) for _ in authors]
    return Graph(params, user_ids, usernames, followers, following, authors, texts, times)


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Seeded:
    """What a strategy's seeding wrote, by graph index."""

    tweet_ids: list[str]
    threshold: int
    celebrities: list[int]


INACTIVE_AGE_DAYS = 60
"""How long ago an inactive reader last read (the service's INACTIVE_AFTER_DAYS defaults to 30)."""


def write_graph(graph: Graph, threshold: int, now: float, inactive: frozenset[int] = frozenset()) -> Seeded:
    """Write profiles, edges and seed tweets, then the timeline state of the strategy ``threshold`` sets.

    Readers in ``inactive`` last read ``INACTIVE_AGE_DAYS`` ago: fan-out skips them and their next home
    read rebuilds their timeline.

    Seed tweets predate every reader's last read, so the cached timelines hold exactly what fan-out
    would have put there: each tweet in its author's own timeline and, for an author below the
    threshold, in every follower's. Celebrities (>= threshold followers) are marked so, and each reader
    merges the celebrities it follows (its pull set).
    """
    from ulid import ULID

    from functions.graph.dal import FollowRecord, new_follow
    from functions.timeline.dal import TimelineStore, now_seq
    from functions.timeline.models import META_KEY
    from functions.tweets.dal import TweetRecord
    from functions.tweets.reads import entry_of
    from functions.tweets.text import extract_entities
    from functions.users.dal import UserRecord

    created = iso(now - 30 * 86400)
    tweet_counts = [0] * len(graph.user_ids)
    for author in graph.tweet_authors:
        tweet_counts[author] += 1
    with UserRecord.batch_write() as batch:
        for i, user_id in enumerate(graph.user_ids):
            batch.save(
                UserRecord(
                    pk=user_id,
                    username=graph.usernames[i],
                    email=f"{graph.usernames[i]}@example.com",
                    display_name=f"User {i}",
                    bio="",
                    follower_count=len(graph.followers[i]),
                    following_count=len(graph.following[i]),
                    tweet_count=tweet_counts[i],
                    created_at=created,
                )
            )
    with FollowRecord.batch_write() as batch:
        for followee, followers in enumerate(graph.followers):
            for follower in followers:
                batch.save(new_follow(graph.user_ids[follower], graph.user_ids[followee]))
    records: list[TweetRecord] = []
    with TweetRecord.batch_write() as batch:
        for author, text, at in zip(graph.tweet_authors, graph.tweet_texts, graph.tweet_times, strict=True):
            entities = extract_entities(text)
            record = TweetRecord(
                tweet_id=str(ULID.from_timestamp(at)),
                author_id=graph.user_ids[author],
                created_at=iso(at),
                text=text,
                hashtags=entities.hashtags,
                mentions=entities.mentions,
                urls=entities.urls,
                media_ids=[],
            )
            records.append(record)
            batch.save(record)

    store = TimelineStore()
    celebrities = graph.celebrities(threshold)
    celebrity_set = set(celebrities)
    by_author: dict[int, list[TweetRecord]] = {}
    for author, record in zip(graph.tweet_authors, records, strict=True):
        by_author.setdefault(author, []).append(record)
    # Each reader's cache: the newest entries of its own tweets and of the non-celebrities it follows,
    # at most cached_per_reader; when older ones exist the floor marks the cut, as a trim leaves it.
    caches: dict[int, tuple[list[TweetRecord], str]] = {}
    for reader in range(len(graph.user_ids)):
        authors = [reader, *(f for f in graph.following[reader] if f not in celebrity_set)]
        candidates = sorted(
            (r for a in authors for r in by_author.get(a, [])), key=lambda r: str(r.tweet_id), reverse=True
        )
        keep = candidates[: graph.params.cached_per_reader]
        floor = candidates[len(keep)].tweet_id if len(candidates) > len(keep) else ""
        caches[reader] = (keep, floor)
    mode_seq = now_seq(now - 40 * 86400)
    metas = []
    for user, user_id in enumerate(graph.user_ids):
        # The meta item as TimelineStore writes it: touch (last_seen), switch_mode (is_celebrity,
        # mode_seq), record_rebuild / add_pull (pull_ids) and trim (floor_id). Checked via get_meta below.
        item: dict[str, Any] = {
            "user_id": {"S": user_id},
            "entry_id": {"S": META_KEY},
            "last_seen": {"N": str(int(now - (INACTIVE_AGE_DAYS * 86400 if user in inactive else 0)))},
        }
        if caches[user][1]:
            item["floor_id"] = {"S": caches[user][1]}
        if user in celebrity_set:
            item["is_celebrity"] = {"BOOL": True}
            item["mode_seq"] = {"S": mode_seq}
        pull = sorted(graph.user_ids[f] for f in graph.following[user] if f in celebrity_set)
        if pull:
            item["pull_ids"] = {"SS": pull}
        metas.append({"PutRequest": {"Item": item}})
    for i in range(0, len(metas), 25):
        store.batch_write(metas[i : i + 25])
    _check_meta(store, graph, celebrity_set, now, {u: f for u, (_, f) in caches.items()}, inactive)
    pairs = [(graph.user_ids[u], entry_of(r)) for u, (keep, _) in caches.items() for r in keep]
    for chunk in store.put_entries(pairs):
        store.batch_write(chunk)
    return Seeded([r.tweet_id for r in records], threshold, celebrities)


def _check_meta(
    store: Any,
    graph: Graph,
    celebrities: set[int],
    now: float,
    floors: dict[int, str],
    inactive: frozenset[int] = frozenset(),
) -> None:
    """The seeded meta items read back through the store as the intended state (guards format drift)."""
    probes = sorted(celebrities)[:2] + [u for u in range(len(graph.user_ids)) if graph.following[u]][:3]
    probes += sorted(inactive)[:2]
    settings_days = 30
    for user in probes:
        meta = store.get_meta(graph.user_ids[user])
        wanted_pull = {graph.user_ids[f] for f in graph.following[user] if f in celebrities}
        if (
            meta is None
            or meta.celebrity != (user in celebrities)
            or meta.pull != wanted_pull
            or meta.floor != floors[user]
            or meta.active(now, settings_days) == (user in inactive)
        ):
            raise RuntimeError(f"seeded timeline meta does not read back as intended: {meta}")
