"""The read side of home timelines: ``GET /timeline/home`` and the rebuild of an inactive reader's cache.

A page is the newest entries strictly older than the cursor position (an entry id), merged from:
- the cached timeline (1 Query; on the first page the meta item comes back in the same call);
- the reader's pull set (celebrities, and ex-celebrities whose old tweets were never pushed): 1 Query on
  by_author per account, in parallel;
- below the floor (the cache may be incomplete there, e.g. trimmed), every followed account and the
  reader: the following list, then 1 Query on by_author per account, in parallel. So paging never hits
  a wall at TIMELINE_MAX_ITEMS.
Each source returns at most n items older than the position; the merge only emits items at or above the
highest "frontier" (the oldest item of a source that may have more), so nothing of any source can be
skipped. Entries are de-duplicated by entry id across sources and by original tweet within a page, then
hydrated (deleted tweets and undone retweets drop out). The cursor holds the last entry consumed: later
items sort above it, so paging while new items arrive never repeats or skips an item.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any

from functions.core.concurrency import both, chunked, run_all
from functions.core.config import load
from functions.core.ids import is_ulid
from functions.core.pagination import cursor_field, encode_cursor
from functions.timeline.dal import BATCH_GET_MAX, TimelineStore
from functions.timeline.fanout import trim_timeline
from functions.timeline.models import TimelineEntry, TimelineMeta
from functions.timeline.ports import Audience, TweetReader
from functions.timeline.settings import TimelineSettings
from functions.tweets.models import Tweet, TweetPage

TOUCH_INTERVAL_SECONDS = 3600
"""last_seen is written at most once per hour per reader."""
REBUILD_PER_AUTHOR = 50
"""A rebuild copies each followed account's newest tweets up to this many."""
MAX_ROUNDS = 5
"""Merge rounds per page: more than one only when many candidates were deleted tweets or duplicates."""


@dataclass
class ReadReport:
    """How a page was produced (for the benchmark and logs)."""

    rounds: int = 0
    rebuilt: bool = False
    pull_queries: int = 0
    pulled_all: bool = False
    candidates: int = 0
    hydrated: int = 0


@dataclass
class _Window:
    candidates: list[TimelineEntry]
    exhausted: bool


@dataclass
class HomeTimeline:
    store: TimelineStore
    tweets: TweetReader
    audience: Audience
    settings: Callable[[], TimelineSettings] = field(default=lambda: load(TimelineSettings))
    clock: Callable[[], float] = time.time
    executor: Executor | None = None
    rebuild_per_author: int = REBUILD_PER_AUTHOR

    def page(self, caller: str, cursor: str | None, limit: int) -> TweetPage:
        return self.read(caller, cursor, limit)[0]

    def read(self, caller: str, cursor: str | None, limit: int) -> tuple[TweetPage, ReadReport]:
        """One page of the caller's home timeline, newest first.

        Round trips (active reader, page inside the cache): 1 Query (cache + meta), then the pull set's
        Queries in parallel (only if the reader follows celebrities), then hydration (1 BatchGetItem
        across tweets, users and engagements, for only the entries the page has room for). Later
        pages add 1 GetItem (meta) beside the first Query.
        """
        scope = f"timeline:home:{caller}"
        before: str | None = cursor_field(scope, cursor, "before", is_ulid)
        n = limit + 2
        report = ReadReport()
        meta, entries, more = self._first_round(caller, before, n)
        now = self.clock()
        if meta is None or not meta.active(now, self.settings().inactive_after_days):
            self.rebuild(caller)
            report.rebuilt = True
            meta, entries, more = self._first_round(caller, before, n)
        meta = meta or TimelineMeta(user_id=caller)
        touch: Future[Any] | None = None
        if not report.rebuilt and (meta.last_seen or 0) < now - TOUCH_INTERVAL_SECONDS:
            touch = self._submit(lambda: self.store.touch(caller, now))
        following: list[str] | None = None

        def followed() -> list[str]:
            nonlocal following
            if following is None:
                following = self.audience.following(caller)
            return following

        tweets: list[Tweet] = []
        seen: set[str] = set()
        position = before
        has_more = False
        for _ in range(MAX_ROUNDS):
            report.rounds += 1
            window = self._window(caller, meta, entries, more, position, n, followed, report)
            candidates = window.candidates
            taken = 0
            # Hydrate only as many candidates as the page still has room for: the merge may offer
            # several sources' worth, and a hydrated key costs read capacity.
            while taken < len(candidates) and len(tweets) < limit:
                chunk = candidates[taken : taken + limit - len(tweets)]
                taken += len(chunk)
                report.hydrated += len(chunk)
                shown = self.tweets.hydrate(caller, chunk)
                for entry, tweet in zip(chunk, shown, strict=True):
                    position = entry.entry_id
                    if tweet is None or tweet.tweet_id in seen:
                        continue  # deleted, undone, or a second entry for the same original on this page
                    seen.add(tweet.tweet_id)
                    tweets.append(tweet)
            if len(tweets) == limit:
                has_more = taken < len(candidates) or not window.exhausted
                break
            if window.exhausted or not candidates:
                break
            _, entries, more = self.store.query_page(caller, position, n, with_meta=False)
        else:
            has_more = position != before  # out of rounds: more may follow; the next page will tell
        if touch is not None:
            touch.result()
        next_cursor = encode_cursor(scope, {"before": position}) if has_more and position else None
        return TweetPage(tweets=tweets, next_cursor=next_cursor, has_more=has_more), report

    # ---- rebuild ----------------------------------------------------------------------------------
    def rebuild(self, caller: str) -> int:
        """Fan-out on read for a reader who was skipped while inactive (or never read before).

        1 UpdateItem (last_seen first, so every fan-out from now on includes the reader), the following
        list (1 Query per 1000), then in parallel 1 Query on by_author per followed account and the reader
        (newest 50) and 1 BatchGetItem per 100 followed accounts (which are celebrities); then
        ceil(k/25) BatchWriteItem, 1 UpdateItem (floor, pull set) and a trim. Returns entries written.
        """
        now = self.clock()
        self.store.touch(caller, now)
        followees = self.audience.following(caller)
        authors = [*followees, caller]
        pages, metas = both(
            self.executor,
            lambda: run_all(
                self.executor, lambda a: self.tweets.by_author(a, None, self.rebuild_per_author), authors
            ),
            lambda: self._metas(followees, ["is_celebrity"]),
        )
        celebrities = {a for a in followees if a in metas and metas[a].celebrity}
        floor = ""
        newest: dict[str, TimelineEntry] = {}
        for author, page in zip(authors, pages, strict=True):
            if author in celebrities:
                continue  # merged at read time
            newest.update({e.entry_id: e for e in page.entries})
            if page.entries and not page.exhausted:
                floor = max(floor, page.entries[-1].entry_id)
        keep = sorted((e for e in newest.values() if e.entry_id >= floor), key=_entry_id, reverse=True)
        max_items = self.settings().timeline_max_items
        if len(keep) > max_items:
            keep = keep[:max_items]
            floor = max(floor, keep[-1].entry_id)
        chunks = self.store.put_entries((caller, e) for e in keep)
        run_all(self.executor, self.store.batch_write, chunks)
        self.store.record_rebuild(caller, floor, celebrities)
        trim_timeline(self.store, caller, max_items)
        return len(keep)

    # ---- helpers ----------------------------------------------------------------------------------
    def _first_round(
        self, caller: str, before: str | None, n: int
    ) -> tuple[TimelineMeta | None, list[TimelineEntry], bool]:
        if before is None:
            return self.store.query_page(caller, None, n, with_meta=True)
        meta, (_, entries, more) = both(
            self.executor,
            lambda: self.store.get_meta(caller),
            lambda: self.store.query_page(caller, before, n, with_meta=False),
        )
        return meta, entries, more

    def _window(
        self,
        caller: str,
        meta: TimelineMeta,
        entries: list[TimelineEntry],
        more: bool,
        before: str | None,
        n: int,
        followed: Callable[[], list[str]],
        report: ReadReport,
    ) -> _Window:
        """Candidates older than ``before``, newest first, that are certain to be complete."""
        sources: list[tuple[list[TimelineEntry], str | None]] = []
        above = [e for e in entries if e.entry_id > meta.floor]
        pull_all = bool(meta.floor) and len(above) < n
        if pull_all:
            # Below the floor the cache may have holes: merge every followed account and the reader.
            report.pulled_all = True
            authors = [*followed(), caller]
        else:
            frontier = entries[-1].entry_id if more and entries else (meta.floor or None)
            sources.append((above, frontier))
            authors = sorted(meta.pull - {caller})
        report.pull_queries += len(authors)
        for page in run_all(self.executor, lambda a: self.tweets.by_author(a, before, n), authors):
            frontier = None if page.exhausted or not page.entries else page.entries[-1].entry_id
            sources.append((page.entries, frontier))
        bound = max((f for _, f in sources if f), default=None)
        merged: dict[str, TimelineEntry] = {}
        for items_, _ in sources:
            for entry in items_:
                merged.setdefault(entry.entry_id, entry)  # the cache's copy first: it knows more authors
        candidates = sorted(
            (e for e in merged.values() if bound is None or e.entry_id >= bound),
            key=_entry_id,
            reverse=True,
        )
        report.candidates += len(candidates)
        return _Window(candidates, exhausted=bound is None)

    def _metas(self, user_ids: list[str], attributes: list[str]) -> dict[str, TimelineMeta]:
        found: dict[str, TimelineMeta] = {}
        for part in run_all(
            self.executor, lambda ids: self.store.get_metas(ids, attributes), chunked(user_ids, BATCH_GET_MAX)
        ):
            found.update(part)
        return found

    def _submit(self, fn: Callable[[], Any]) -> Future[Any] | None:
        if self.executor is None:
            fn()
            return None
        return self.executor.submit(fn)


def _entry_id(entry: TimelineEntry) -> str:
    return entry.entry_id
