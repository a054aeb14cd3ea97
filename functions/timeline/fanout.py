"""The write side of home timelines: fan-out on write, its removal, follow backfill and author modes.

Driven by the dispatcher (tweets and follows streams) and the worker (the ``fanout`` queue). Pure logic
over injected adapters: the timelines store, the fan-out queue, and the tweets and graph domains through
their ports (``TweetReader``, ``Audience``), so the benchmark can call the same functions and count
calls. Every function returns a report.

Invariant kept for every *active* reader U (see docs/architecture.md, "Home timeline"):
    every entry of a followed account with id > U.floor is in U's cache, unless that account is in U's
    pull set (merged at read time).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field, replace
from typing import Any, assert_never

from functions.core.concurrency import both, chunked, run_all
from functions.core.config import load
from functions.core.observability import logger
from functions.timeline.dal import (
    BATCH_GET_MAX,
    FanoutQueue,
    TimelineStore,
    now_seq,
)
from functions.timeline.models import (
    AddEntry,
    EntryBody,
    EntryMessage,
    FanoutMessage,
    MarkPull,
    RemoveEntry,
    TimelineEntry,
    TimelineMeta,
    TrimTimelines,
    WriteStats,
)
from functions.timeline.ports import Audience, TweetReader
from functions.timeline.settings import TimelineSettings

CHUNK_SIZE = 500
"""Follower ids per SQS message: a multiple of 25, so N followers cost exactly ceil(N/25) BatchWriteItem
calls in total, and small enough (about 20 KB) for ten messages per SendMessageBatch."""
FOLLOWER_PAGE = 5000
"""Followers asked for per Query on by_followee (DynamoDB returns at most 1 MB, about 7,000 edges)."""
BACKFILL_MAX = 200
"""A new follow copies at most this many of the followee's newest tweets."""
TRIM_SAMPLE_MAX = 100
INLINE_MAX = 100
"""Audiences up to this many active followers are written by the dispatcher itself (4 BatchWriteItem
side by side, about one round trip) instead of through the queue: most authors have a few followers,
and for them the message's SQS requests and worker idempotency record cost as much as the entries."""


def trim_every(max_items: int) -> int:
    """Each fan-out trims a sampled 1/k of the timelines it touched; with k <= max_items/8 a timeline
    holds at most about max_items + k entries between trims (exact when max_items < 16)."""
    return max(1, min(TRIM_SAMPLE_MAX, max_items // 8))


def sampled_for_trim(user_id: str, entry_id: str, every: int) -> bool:
    """Deterministic sampling, so a redelivered record samples the same timelines."""
    if every <= 1:
        return True
    digest = hashlib.blake2b(f"{user_id}|{entry_id}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % every == 0


@dataclass
class FanoutReport:
    """What one stream record caused; JSON-serialisable (stored by the idempotency layer)."""

    followers: int = 0
    recipients: int = 0
    skipped_inactive: int = 0
    messages: int = 0
    sqs_calls: int = 0
    celebrity: bool = False
    backfilled: int = 0
    removed: int = 0
    write_calls: int = 0
    inline: bool = False
    """The entries were written by the dispatcher itself (at most ``inline_max`` recipients)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Timelines:
    """Write-side operations on home timelines."""

    store: TimelineStore
    queue: FanoutQueue
    tweets: TweetReader
    audience: Audience
    settings: Callable[[], TimelineSettings] = field(default=lambda: load(TimelineSettings))
    clock: Callable[[], float] = time.time
    executor: Executor | None = None
    chunk_size: int = CHUNK_SIZE
    follower_page: int = FOLLOWER_PAGE
    backfill_max: int = BACKFILL_MAX
    inline_max: int = INLINE_MAX

    # ---- tweets stream ----------------------------------------------------------------------------
    def tweet_posted(self, entry: TimelineEntry) -> FanoutReport:
        """A tweet or retweet was written: the author's own timeline gets it (1 PutItem); unless the author
        is a celebrity, every active follower gets it through ``add`` messages.

        Calls: 1 PutItem, 2 GetItem (author mode, in parallel; +1 GetItem of the original for a retweet),
        then 1 Query per page of followers (500, 1,000, 2,000, then 5,000 at most), 1 BatchGetItem per
        100 followers (activity, in parallel), and per page 1 SendMessageBatch per 10 messages of 500.
        """
        report = FanoutReport()
        if entry.is_retweet:
            original_author = self.tweets.original_author(entry.original_id)
            if original_author is None:
                return report  # the original is gone already: nothing to show anyone
            entry = replace(entry, original_author_id=original_author)
        self.store.put_entry(entry.author_id, entry)
        if self.author_mode(entry.author_id):
            report.celebrity = True
            return report
        self._fan_out(entry.author_id, AddEntry, entry, report)
        return report

    def tweet_removed(self, entry: TimelineEntry) -> FanoutReport:
        """A tweet or retweet was deleted: remove its entry from the author's timeline (1 DeleteItem) and,
        unless it was posted while the author was a celebrity (never pushed), from every active follower's
        (``remove`` messages). Readers filter deleted tweets at once anyway; this frees the slots."""
        report = FanoutReport()
        self.store.delete_entry(entry.author_id, entry.entry_id)
        meta = self.store.get_meta(entry.author_id)
        if meta is not None and meta.celebrity and entry.entry_id > meta.mode_seq:
            report.celebrity = True
            return report
        self._fan_out(entry.author_id, RemoveEntry, entry, report)
        return report

    # ---- follows stream ---------------------------------------------------------------------------
    def followed(self, follower_id: str, followee_id: str) -> FanoutReport:
        """``follower_id`` now follows ``followee_id``.

        A celebrity joins the follower's pull set (1 UpdateItem). Otherwise, for an active follower, the
        followee's newest tweets (at most 200, only above the follower's floor) are copied in:
        1 GetItem (meta) + 1 Query (by_author) + ceil(k/25) BatchWriteItem, then a trim. If the 200 did not
        reach down to the floor, the floor is raised to the oldest copied tweet first, so no gap can be
        mistaken for history (older pages are merged from the followed accounts instead).
        """
        report = FanoutReport()
        if self.author_mode(followee_id):
            report.celebrity = True
            self.store.add_pull(follower_id, followee_id)
            return report
        meta = self.store.get_meta(follower_id)
        if meta is None or not meta.active(self.clock(), self.settings().inactive_after_days):
            report.skipped_inactive = 1  # the next home read rebuilds the whole timeline
            return report
        page = self.tweets.by_author(followee_id, None, self.backfill_max)
        newest = page.entries
        fresh = [e for e in newest if e.entry_id > meta.floor]
        if newest and len(fresh) == len(newest) and not page.exhausted and len(newest) == self.backfill_max:
            self.store.raise_floor(follower_id, newest[-1].entry_id)
        stats = self._write(self.store.put_entries((follower_id, e) for e in fresh))
        report.backfilled = len(fresh)
        report.write_calls = stats.calls
        if fresh:
            trim_timeline(self.store, follower_id, self.settings().timeline_max_items)
        return report

    def unfollowed(self, follower_id: str, followee_id: str) -> FanoutReport:
        """Remove the followee's entries from the follower's timeline: 1 Query (filtered on author_id) +
        ceil(k/25) BatchWriteItem, and the followee from the pull set (1 UpdateItem). Re-evaluates the
        followee's mode (its follower count went down)."""
        report = FanoutReport()
        ids = self.store.entry_ids_by_author(follower_id, followee_id)
        stats = self._write(self.store.delete_entries((follower_id, i) for i in ids))
        self.store.remove_pull(follower_id, followee_id)
        report.removed = len(ids)
        report.write_calls = stats.calls
        self.author_mode(followee_id)
        return report

    # ---- author modes -----------------------------------------------------------------------------
    def author_mode(self, author_id: str) -> bool:
        """Whether ``author_id`` is a celebrity (fan-out on read), switching modes when the follower count
        crossed CELEBRITY_FOLLOWER_THRESHOLD. 2 GetItem in parallel (+ the switch when it happens).

        Switching up: first every follower that may lack the author in its pull set (all followers, or
        only those who followed since the last switch down: pull sets are sticky) gets a ``mark_pull``
        message, then the mode flips. A crash in between repeats the marks (idempotent), never skips them.
        Switching down needs no fan-out: followers keep merging the author (pull sets are sticky), so the
        tweets posted while the author was a celebrity stay visible, and new tweets are pushed again.
        """
        meta, count = both(
            self.executor,
            lambda: self.store.get_meta(author_id),
            lambda: self.audience.follower_count(author_id),
        )
        current: TimelineMeta = meta or TimelineMeta(user_id=author_id)
        threshold = self.settings().celebrity_follower_threshold
        seq = now_seq(self.clock())
        if count >= threshold and not current.celebrity:
            messages: list[FanoutMessage] = [
                MarkPull(users=list(chunk), author_id=author_id)
                for ids, _ in self._followers(author_id, since_seq=current.down_seq)
                for chunk in chunked(ids, self.chunk_size)
            ]
            self.queue.send(messages)
            self.store.switch_mode(author_id, celebrity=True, seq=seq)
            logger.info("author switched to fan-out on read", extra={"author_id": author_id, "count": count})
            return True
        if count < threshold and current.celebrity:
            self.store.switch_mode(author_id, celebrity=False, seq=seq)
            logger.info("author switched to fan-out on write", extra={"author_id": author_id, "count": count})
            return False
        return current.celebrity

    # ---- worker -----------------------------------------------------------------------------------
    def apply(self, message: FanoutMessage) -> WriteStats:
        """Apply one fan-out message. ``add``/``remove``: ceil(len(users)/25) BatchWriteItem (in parallel);
        ``mark_pull``: 1 UpdateItem per user; ``trim``: 1 Query per user (+ deletes when over the cap)."""
        stats = WriteStats()
        match message:
            case AddEntry():
                entry = message.entry.to_entry()
                stats.add(self._write(self.store.put_entries((u, entry) for u in message.users)))
            case RemoveEntry():
                entry_id = message.entry.entry_id
                stats.add(self._write(self.store.delete_entries((u, entry_id) for u in message.users)))
            case MarkPull():
                author = message.author_id
                run_all(self.executor, lambda u: self.store.add_pull(u, author), message.users)
                stats.items = len(message.users)
            case TrimTimelines():
                max_items = self.settings().timeline_max_items

                def trim(user_id: str) -> int:
                    return trim_timeline(self.store, user_id, max_items)

                stats.items = sum(run_all(self.executor, trim, message.users))
            case _:
                assert_never(message)
        return stats

    # ---- helpers ----------------------------------------------------------------------------------
    def _write(self, chunks: list[list[dict[str, Any]]]) -> WriteStats:
        stats = WriteStats()
        for result in run_all(self.executor, self.store.batch_write, chunks):
            stats.add(result)
        return stats

    def _followers(self, author_id: str, since_seq: str = "") -> Iterator[tuple[list[str], bool]]:
        """Follower ids page by page, newest follow first, each with whether it is the last page; only
        follows after ``since_seq`` if given.

        Pages start at one message's worth (``chunk_size``) and double up to ``follower_page``: the
        first recipients' message leaves after one small Query instead of after a 1 MB one, and big
        audiences still take few Queries (10,000 followers: pages of 500, 1,000, 2,000, 4,000, 2,500).
        """
        before: str | None = None
        size = min(self.chunk_size, self.follower_page)
        while True:
            page = self.audience.followers(author_id, before, size, since=since_seq)
            last = page.next_position is None
            if page.follower_ids:
                yield page.follower_ids, last
            if last:
                return
            before = page.next_position
            size = min(size * 2, self.follower_page)

    def _active(self, user_ids: list[str]) -> list[str]:
        """Followers seen within INACTIVE_AFTER_DAYS: 1 BatchGetItem per 100 ids (in parallel)."""
        cutoff_days = self.settings().inactive_after_days
        now = self.clock()
        metas: dict[str, TimelineMeta] = {}
        for found in run_all(
            self.executor,
            lambda ids: self.store.get_metas(ids, ["last_seen"]),
            chunked(user_ids, BATCH_GET_MAX),
        ):
            metas.update(found)
        return [u for u in user_ids if u in metas and metas[u].active(now, cutoff_days)]

    def _fan_out(
        self, author_id: str, kind: type[EntryMessage], entry: TimelineEntry, report: FanoutReport
    ) -> None:
        """Page the author's followers and keep the active ones. At most ``inline_max`` of them in all:
        write their entries here (ceil(k/25) BatchWriteItem, side by side) and trim inline. More: send
        each page's full chunks at once (workers start while later pages are read), then the rest and
        sampled ``trim`` messages."""
        body = EntryBody.of(entry)
        every = trim_every(self.settings().timeline_max_items)
        pending: list[str] = []
        ready: list[FanoutMessage] = []
        adding = kind is AddEntry
        to_trim = [author_id] if adding and sampled_for_trim(author_id, entry.entry_id, every) else []

        def send(messages: list[FanoutMessage]) -> None:
            report.sqs_calls += self.queue.send(messages)
            report.messages += len(messages)

        for page, last in self._followers(author_id):
            report.followers += len(page)
            active = self._active(page)
            report.skipped_inactive += len(page) - len(active)
            report.recipients += len(active)
            pending.extend(active)
            if adding:
                to_trim.extend(u for u in active if sampled_for_trim(u, entry.entry_id, every))
            if last and not report.messages and len(pending) <= self.inline_max:
                break  # the whole audience fits one inline write
            while len(pending) >= self.chunk_size:
                ready.append(kind(users=pending[: self.chunk_size], entry=body))
                del pending[: self.chunk_size]
            if ready:  # workers start on this page while the next one is read
                send(ready)
                ready = []
        if not report.messages and len(pending) <= self.inline_max:
            self._write_inline(adding, pending, entry, to_trim, report)
            return
        if pending:
            ready.append(kind(users=pending, entry=body))
        ready.extend(TrimTimelines(users=list(c)) for c in chunked(to_trim, self.chunk_size))
        if ready:
            send(ready)

    def _write_inline(
        self, adding: bool, users: list[str], entry: TimelineEntry, to_trim: list[str], report: FanoutReport
    ) -> None:
        """A small audience's entries written by the dispatcher itself: what the worker would do for one
        message, without the message (no SQS send, receive and delete, no worker idempotency record, one
        hop less of lag). Idempotent like the worker's writes; the stream record's idempotency covers it."""
        if adding:
            chunks = self.store.put_entries((u, entry) for u in users)
        else:
            chunks = self.store.delete_entries((u, entry.entry_id) for u in users)
        report.write_calls += self._write(chunks).calls
        report.inline = bool(users)
        max_items = self.settings().timeline_max_items
        run_all(self.executor, lambda u: trim_timeline(self.store, u, max_items), to_trim)


def trim_timeline(store: TimelineStore, user_id: str, max_items: int) -> int:
    """Keep the newest ``max_items`` entries: 1 keys-only Query (paged); when over the cap, 1 UpdateItem
    raising the floor to the newest entry removed (before removing, so a half-done trim is never read
    as complete history) and ceil(k/25) BatchWriteItem. Returns the number of entries removed."""
    beyond = store.entry_ids_beyond(user_id, max_items)
    if not beyond:
        return 0
    store.raise_floor(user_id, beyond[0])
    for chunk in store.delete_entries((user_id, entry_id) for entry_id in beyond):
        store.batch_write(chunk)
    return len(beyond)
