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
from functions.graph.audience import FollowerPage
from functions.timeline.dal import (
    BATCH_GET_MAX,
    FanoutQueue,
    TimelineStore,
    now_seq,
    ttl_cut,
    ulid_lower_bound,
    ulid_seconds,
)
from functions.timeline.models import (
    KEPT,
    TEMPORARY,
    AddEntry,
    CatchUp,
    EntryBody,
    EntryMessage,
    FanoutMessage,
    MarkPull,
    RemoveEntry,
    TimelineEntry,
    TimelineMeta,
    TrimTimelines,
    WriteStats,
    pull_version,
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
CATCH_UP_WINDOW_SECONDS = 120
"""A catch-up re-copies entries posted at most this long before the follow (or rebuild): a post that
raced it across the two index lags was posted within the lag, which is far shorter."""
CATCH_UP_MAX = 50
"""Entries per followed account a catch-up reads (newest first, stopping at its window)."""
RISING_RESEND_SECONDS = 300
"""A crossing-up round that has not finished after this long sends its marks again (a crash between
starting the round and sending them; marks are idempotent)."""
FLIP_MARGIN_SECONDS = 5
"""A mode switch's sequence is set this far ahead of the clock, so a post whose dispatcher read the old
mode just before the switch (its id minted earlier still) always sorts below it, despite clock skew
between functions."""
DOWN_RATIO = 0.9
"""Hysteresis: a celebrity switches back to fan-out on write only below this share of the threshold,
so an account hovering around the threshold does not mark every follower again and again."""
PUSH, RISING, CELEBRITY = "push", "rising", "celebrity"
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
    def followed(self, follower_id: str, followee_id: str, follow_seq: str = "") -> FanoutReport:
        """``follower_id`` now follows ``followee_id`` (the follow ``follow_seq``).

        A celebrity (or an author crossing up) joins the follower's pull set (1 UpdateItem). Otherwise,
        for an active follower: a *temporary* pull set entry first (reads merge the followee's own
        timeline until the catch-up ran), then the followee's newest tweets (at most 200, only above the
        follower's floor for that author) are copied in: 1 GetItem (meta) + 1 Query (by_author) +
        ceil(k/25) BatchWriteItem, then a trim. If the 200 did not reach down to the floor, the
        follower's floor *for this author* is raised to the oldest copied tweet (older pages merge that
        author alone). Last, a ``catch_up`` message leaves with a delay: it copies again what a post
        racing this follow across the two index lags may have left out, then drops the temporary entry.
        """
        report = FanoutReport()
        if self.author_state(followee_id) != PUSH:
            report.celebrity = True
            self.store.set_pull(follower_id, followee_id, pull_version(KEPT, follow_seq))
            return report
        meta = self.store.get_meta(follower_id)
        if meta is None or not meta.active(self.clock(), self.settings().inactive_after_days):
            report.skipped_inactive = 1  # the next home read rebuilds the whole timeline
            return report
        self.store.set_pull(follower_id, followee_id, pull_version(TEMPORARY, follow_seq))
        page = self.tweets.by_author(followee_id, None, self.backfill_max)
        newest = page.entries
        cut = ttl_cut(self.clock())
        fresh = [e for e in newest if e.entry_id > max(meta.author_floor(followee_id), cut)]
        if any(e.entry_id <= cut for e in newest):
            self.store.set_author_floor(follower_id, followee_id, cut)  # older ones would expire soon
        elif newest and len(fresh) == len(newest) and not page.exhausted and len(newest) == self.backfill_max:
            self.store.set_author_floor(follower_id, followee_id, newest[-1].entry_id)
        stats = self._write(self.store.put_entries((follower_id, e) for e in fresh))
        report.backfilled = len(fresh)
        report.write_calls = stats.calls
        if fresh:
            trim_timeline(self.store, follower_id, self.settings().timeline_max_items)
        since = ulid_lower_bound((ulid_seconds(follow_seq) or self.clock()) - CATCH_UP_WINDOW_SECONDS)
        catch_up = CatchUp(users=[follower_id], author_id=followee_id, seq=follow_seq or None, since=since)
        report.sqs_calls += self.queue.send([catch_up], delay_seconds=self.settings().catch_up_delay_seconds)
        report.messages += 1
        return report

    def unfollowed(self, follower_id: str, followee_id: str, follow_seq: str = "") -> FanoutReport:
        """Remove the followee's entries from the follower's timeline: 1 GetItem (is there a newer follow
        already? then its records own the timeline and only this follow's pull entry goes) + 1 Query
        (filtered on author_id) + ceil(k/25) BatchWriteItem, and this follow's pull set entry
        (1 conditional UpdateItem: a newer follow's entry stays). Re-evaluates the followee's mode."""
        report = FanoutReport()
        versions = [pull_version(KEPT, follow_seq), pull_version(TEMPORARY, follow_seq)]
        if self.audience.follow_seq(follower_id, followee_id) is None:
            ids = self.store.entry_ids_by_author(follower_id, followee_id)
            stats = self._write(self.store.delete_entries((follower_id, i) for i in ids))
            report.removed = len(ids)
            report.write_calls = stats.calls
        self.store.remove_pull(follower_id, followee_id, versions)
        self.author_state(followee_id)
        return report

    # ---- author modes -----------------------------------------------------------------------------
    def author_mode(self, author_id: str) -> bool:
        """Whether ``author_id``'s posts are merged at read time (a celebrity) rather than pushed."""
        return self.author_state(author_id) == CELEBRITY

    def author_state(self, author_id: str) -> str:
        """``push``, ``rising`` or ``celebrity``, moving between them when the follower count crossed
        CELEBRITY_FOLLOWER_THRESHOLD. 2 GetItem in parallel (+ the switch when it happens).

        Crossing up has two phases. Phase one (``rising``): the round is recorded with its number of
        chunks, then every follower gets a ``mark_pull`` (each written only while that follow exists);
        posts are still pushed meanwhile, so no follower misses one whatever the queue does. Phase two:
        the worker that marks the round's last chunk flips the author to ``celebrity``. A round whose
        marks never finish keeps the author pushed (correct, only dearer) and re-sends them after
        RISING_RESEND_SECONDS. Crossing down (below DOWN_RATIO of the threshold) flips at once: followers
        keep merging the author until their read turns the pull entry into a per-author floor at
        ``down_seq`` (the tweets posted as a celebrity were never pushed).
        """
        meta, count = both(
            self.executor,
            lambda: self.store.get_meta(author_id),
            lambda: self.audience.follower_count(author_id),
        )
        current: TimelineMeta = meta or TimelineMeta(user_id=author_id)
        threshold = self.settings().celebrity_follower_threshold
        now = self.clock()
        ahead = now_seq(now + FLIP_MARGIN_SECONDS)
        if current.celebrity:
            if count < threshold * DOWN_RATIO:
                self.store.switch_mode(author_id, celebrity=False, seq=ahead)
                logger.info("author switched to fan-out on write", extra={"author_id": author_id})
                return PUSH
            return CELEBRITY
        if current.rising_seq:
            if count < threshold:
                self.store.cancel_rising(author_id, current.rising_seq, ahead)
                return PUSH
            if len(current.marked) >= current.rising_chunks:
                self.store.finish_rising(author_id, current.rising_seq, ahead)
                return CELEBRITY
            if ulid_seconds(current.rising_seq) < now - RISING_RESEND_SECONDS and self.store.restart_rising(
                author_id, current.rising_seq, now
            ):
                self.queue.send(self._marks(author_id, current.rising_seq, current.marked))
            return RISING
        if count < threshold:
            return PUSH
        seq = now_seq(now)
        marks = self._marks(author_id, seq)
        if not marks:
            self.store.switch_mode(author_id, celebrity=True, seq=ahead)
            return CELEBRITY
        if self.store.start_rising(author_id, seq, len(marks)):
            self.queue.send(marks)
            logger.info("author crossing up", extra={"author_id": author_id, "count": count})
        return RISING

    def _marks(self, author_id: str, round_seq: str, done: set[int] | None = None) -> list[FanoutMessage]:
        """The round's ``mark_pull`` messages, one per chunk of followers (all of them: a pull entry
        may have turned into a floor since an earlier celebrity spell), skipping chunks ``done``."""
        messages: list[FanoutMessage] = []
        number = 0
        for page, _ in self._follower_pages(author_id):
            for start in range(0, len(page.follower_ids), self.chunk_size):
                if not done or number not in done:
                    messages.append(
                        MarkPull(
                            users=page.follower_ids[start : start + self.chunk_size],
                            seqs=page.follow_seqs[start : start + self.chunk_size] or None,
                            author_id=author_id,
                            round=round_seq,
                            chunk=number,
                        )
                    )
                number += 1
        return messages

    # ---- worker -----------------------------------------------------------------------------------
    def apply(self, message: FanoutMessage) -> WriteStats:
        """Apply one fan-out message. ``add``/``remove``: ceil(len(users)/25) BatchWriteItem (in parallel);
        ``mark_pull``: 1 TransactWriteItems per user (edge check + pull entry), then 1 UpdateItem for the
        round (+1 to flip when it was the last chunk); ``trim``: 1 Query per user (+ deletes when over the
        cap); ``catch_up``: see ``catch_up``."""
        stats = WriteStats()
        match message:
            case AddEntry():
                entry = message.entry.to_entry()
                stats.add(self._write(self.store.put_entries((u, entry) for u in message.users)))
            case RemoveEntry():
                entry_id = message.entry.entry_id
                stats.add(self._write(self.store.delete_entries((u, entry_id) for u in message.users)))
            case MarkPull():
                stats.items = self._mark(message)
            case TrimTimelines():
                max_items = self.settings().timeline_max_items

                def trim(user_id: str) -> int:
                    return trim_timeline(self.store, user_id, max_items)

                stats.items = sum(run_all(self.executor, trim, message.users))
            case CatchUp():
                for user_id in message.users:
                    stats.add(self.catch_up(user_id, message))
            case _:
                assert_never(message)
        return stats

    def _mark(self, message: MarkPull) -> int:
        author = message.author_id
        seqs: list[str] = message.seqs or [""] * len(message.users)

        def mark(pair: tuple[str, str]) -> bool:
            user_id, seq = pair
            version = pull_version(KEPT, seq)
            if not seq:  # a message from before marks named their follow
                return self.store.set_pull(user_id, author, version)
            return self.store.mark_pull(
                user_id, author, version, self.audience.edge_check(user_id, author, seq)
            )

        marked = sum(run_all(self.executor, mark, list(zip(message.users, seqs, strict=True))))
        if message.round is not None and message.chunk is not None:
            after = self.store.record_marked(author, message.round, message.chunk)
            complete = after is not None and len(after.marked) >= after.rising_chunks
            flip_seq = now_seq(self.clock() + FLIP_MARGIN_SECONDS)
            if complete and self.store.finish_rising(author, message.round, flip_seq):
                logger.info("author switched to fan-out on read", extra={"author_id": author})
        return marked

    def catch_up(self, user_id: str, message: CatchUp) -> WriteStats:
        """Copy again the entries since ``message.since`` of one followed account (a follow's catch-up)
        or of every followed account (a rebuild's), above the reader's floors, skipping accounts merged
        at read time. A follow's: 1 GetItem (edge, consistent: unfollowed or followed again means nothing
        to do but drop this follow's temporary entry) + 1 GetItem (meta) + 1 Query by_author + ceil(k/25)
        BatchWriteItem + 1 UpdateItem (the temporary pull entry, only if it is still this follow's). A
        rebuild's: the following list + 1 Query by_author per followed account."""
        stats = WriteStats()
        temporary = [pull_version(TEMPORARY, message.seq)] if message.seq else []
        if message.author_id is not None:
            seq = self.audience.follow_seq(user_id, message.author_id)
            if seq is None or (message.seq and seq != message.seq):
                if temporary:
                    self.store.remove_pull(user_id, message.author_id, temporary)
                return stats
            authors = [message.author_id]
        else:
            authors = [*self.audience.following(user_id), user_id]
        meta = self.store.get_meta(user_id) or TimelineMeta(user_id=user_id)
        merged = {a for a, v in meta.pulls.items() if not v.startswith(TEMPORARY)}
        pages = run_all(
            self.executor,
            lambda a: self.tweets.by_author(a, None, CATCH_UP_MAX),
            [a for a in authors if a not in merged],
        )
        entries = [
            e
            for page in pages
            for e in page.entries
            if e.entry_id >= message.since and e.entry_id > meta.author_floor(e.author_id)
        ]
        stats.add(self._write(self.store.put_entries((user_id, e) for e in entries)))
        if entries:
            trim_timeline(self.store, user_id, self.settings().timeline_max_items)
        if message.author_id is not None and temporary:
            self.store.remove_pull(user_id, message.author_id, temporary)
        return stats

    # ---- helpers ----------------------------------------------------------------------------------
    def _write(self, chunks: list[list[dict[str, Any]]]) -> WriteStats:
        stats = WriteStats()
        for result in run_all(self.executor, self.store.batch_write, chunks):
            stats.add(result)
        return stats

    def _follower_pages(self, author_id: str) -> Iterator[tuple[FollowerPage, bool]]:
        """Follower pages, newest follow first, each with whether it is the last page.

        Pages start at one message's worth (``chunk_size``) and double up to ``follower_page``: the
        first recipients' message leaves after one small Query instead of after a 1 MB one, and big
        audiences still take few Queries (10,000 followers: pages of 500, 1,000, 2,000, 4,000, 2,500).
        """
        before: str | None = None
        size = min(self.chunk_size, self.follower_page)
        while True:
            page = self.audience.followers(author_id, before, size)
            last = page.next_position is None
            if page.follower_ids:
                yield page, last
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

        for follower_page, last in self._follower_pages(author_id):
            page = follower_page.follower_ids
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
