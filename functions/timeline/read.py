"""The read side of home timelines: ``GET /timeline/home`` and the rebuild of an inactive reader's cache.

A page is the newest entries strictly older than the cursor position (an entry id), merged from:
- the cached timeline (1 Query; on the first page the meta item comes back in the same call);
- the reader's pull set (celebrities, and ex-celebrities whose old tweets were never pushed): 1 Query on
  by_author per account, in parallel;
- below the floor (the cache may be incomplete there, e.g. trimmed), or once a paging session has read
  TIMELINE_MAX_ITEMS entries from the cache: every followed account and the reader, a k-way merge whose
  cursor keeps a ceiling per source (``functions/timeline/merge.py``), so a page asks only the accounts
  that can reach it. So paging never hits a wall at TIMELINE_MAX_ITEMS.
Each source returns at most n items older than the position; the merge only emits items at or above the
highest "frontier" (the oldest item of a source that may have more), so nothing of any source can be
skipped. Entries are de-duplicated by entry id across sources and by original tweet within a page, then
hydrated (deleted tweets and undone retweets drop out). The cursor holds the last entry consumed: later
items sort above it, so paging while new items arrive never repeats or skips an item.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any

from functions.core.batch_get import batch_get
from functions.core.concurrency import both, chunked, run_all
from functions.core.config import load
from functions.core.errors import InvalidCursor
from functions.core.ids import is_ulid
from functions.core.pagination import decode_cursor, encode_cursor
from functions.timeline.dal import (
    BATCH_GET_MAX,
    TTL_MARGIN_SECONDS,
    FanoutQueue,
    TimelineStore,
    ttl_cut,
    ttl_horizon,
    ulid_lower_bound,
)
from functions.timeline.fanout import CATCH_UP_WINDOW_SECONDS, trim_timeline
from functions.timeline.merge import SourceMerge, valid_state
from functions.timeline.models import KEPT, CatchUp, TimelineEntry, TimelineMeta, version_kind
from functions.timeline.ports import Audience, TweetReader
from functions.timeline.recent import RecentEntries
from functions.timeline.settings import TimelineSettings
from functions.tweets.models import EntryPage, Tweet, TweetPage

TOUCH_INTERVAL_SECONDS = 3600
"""last_seen is written at most once per hour per reader."""
REBUILD_PER_AUTHOR = 50
"""A rebuild copies each followed account's newest tweets up to this many."""
MAX_ROUNDS = 5
"""Merge rounds per page: more than one only when many candidates were deleted tweets or duplicates."""
REBUILD_FLOORS_MAX = 32
"""A rebuild keeps per-author floors for at most this many accounts (the highest); every other account's
floor is folded into the global floor, so the meta item stays small."""
SHOWN_MAX = 64
"""Originals shown through a retweet that a paging session remembers (in its cursor), so the original,
or an older retweet of it, is not shown again on a later page."""


def _short(tweet_id: str) -> str:
    """8 bytes of a tweet id's hash: what the cursor remembers of an original already shown."""
    return base64.urlsafe_b64encode(hashlib.blake2b(tweet_id.encode(), digest_size=8).digest()).decode()[:11]


def _is_short_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) <= SHOWN_MAX
        and all(isinstance(v, str) and len(v) == 11 for v in value)
    )


@dataclass
class ReadReport:
    """How a page was produced (for the benchmark and logs)."""

    rounds: int = 0
    rebuilt: bool = False
    pull_queries: int = 0
    pulled_all: bool = False
    cache_depth: int = 0
    """Cache entries this paging session has passed, this page included (the cursor carries it)."""
    trimmed: bool = False
    """Whether the read found the cache over TIMELINE_MAX_ITEMS and trimmed it."""
    candidates: int = 0
    hydrated: int = 0
    dropped_unfollowed: int = 0
    """Entries dropped because the reader no longer follows whoever posted them (repaired lazily)."""
    pruned: int = 0
    """Pull set entries removed (unfollowed accounts, ex-celebrities turned into floors)."""


@dataclass
class _Window:
    candidates: list[TimelineEntry]
    exhausted: bool
    cached: set[str] = field(default_factory=set)
    """Ids of the candidates that came from the cache (what a lazy repair may delete)."""


@dataclass
class HomeTimeline:
    store: TimelineStore
    tweets: TweetReader
    audience: Audience
    settings: Callable[[], TimelineSettings] = field(default=lambda: load(TimelineSettings))
    clock: Callable[[], float] = time.time
    executor: Executor | None = None
    rebuild_per_author: int = REBUILD_PER_AUTHOR
    queue: FanoutQueue | None = None
    """Where a rebuild's catch-up goes; None: no catch-up (tests of the read alone)."""
    recent: RecentEntries | None = None
    """Merged accounts' newest entries, shared by the readers of this execution environment."""

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
        state = decode_cursor(scope, cursor) or {}
        before: str | None = state.get("before")
        shown_before: list[str] = state.get("shown", [])
        sources: dict[str, Any] | None = state.get("src")
        depth: int = state.get("d", 0)
        if (
            (cursor is not None and not is_ulid(before))
            or not _is_short_list(shown_before)
            or (sources is not None and not valid_state(sources))
            or not (isinstance(depth, int) and depth >= 0)
        ):
            raise InvalidCursor("The cursor is invalid.")
        n = limit + 2
        report = ReadReport()
        # A session that paged below the cache stays there: the merge of every source is complete.
        meta, entries, more = self._first_round(caller, before, n, cache=sources is None)
        now = self.clock()
        if meta is None or not meta.active(now, self.settings().inactive_after_days):
            self.rebuild(caller)
            report.rebuilt = True
            meta, entries, more = self._first_round(caller, before, n, cache=sources is None)
        meta = meta or TimelineMeta(user_id=caller)
        floor = meta.floor
        if (meta.last_seen or 0) < now - TTL_MARGIN_SECONDS:
            floor = max(floor, ttl_horizon(now))  # away too long for housekeeping to have covered TTL
        pending: list[Future[Any] | None] = []
        if not report.rebuilt and (meta.last_seen or 0) < now - TOUCH_INTERVAL_SECONDS:
            pending.append(self._submit(lambda: self.store.touch(caller, now)))
            pending.append(self._submit(lambda: self._housekeeping(meta, now)))
        following: list[str] | None = None

        def followed() -> list[str]:
            nonlocal following
            if following is None:
                following = self.audience.following(caller)
            return following

        max_items = self.settings().timeline_max_items
        merge: SourceMerge | None = None

        def merged() -> SourceMerge:
            nonlocal merge
            if merge is None:
                merge = SourceMerge([*followed(), caller], sources, self._fetch_authors)
            return merge

        tweets: list[Tweet] = []
        seen: set[str] = set()
        shown = set(shown_before)
        shown_now: list[str] = []
        stale: list[tuple[str, str]] = []
        """(entry id, poster) of cached entries whose poster the reader no longer seems to follow."""
        unfollowed_pulls: set[str] = set()
        checked_pulls = False
        position = before
        has_more = False
        for _ in range(MAX_ROUNDS):
            report.rounds += 1
            below = merge is not None or sources is not None or depth >= max_items
            left = more or any(position is None or e.entry_id < position for e in entries)
            if below and merge is None and depth >= max_items and left and not report.trimmed:
                # The cache holds more than TIMELINE_MAX_ITEMS: a sampled trim has not come yet. The
                # session serves no deeper from it (at most one page past the cap) and trims it now.
                report.trimmed = True
                pending.append(self._submit(lambda: trim_timeline(self.store, caller, max_items)))
            window = self._window(meta, floor, entries, more, position, n, merged, below, report)
            candidates = window.candidates
            taken = 0
            # Hydrate only as many candidates as the page still has room for: the merge may offer
            # several sources' worth, and a hydrated key costs read capacity.
            while taken < len(candidates) and len(tweets) < limit:
                chunk = candidates[taken : taken + limit - len(tweets)]
                taken += len(chunk)
                report.hydrated += len(chunk)
                # The reader's follow edges of the page's posters (and, once, of the pull set) are read
                # in the same BatchGetItem as the tweets: an entry whose follow is gone is not shown.
                # Eventually consistent (half the read units): an unfollow of the last second may
                # still show once, a follow of the last second may hide its entries once; nothing is
                # deleted on this read's word alone (``_repair`` confirms consistently first).
                authors = {e.author_id for e in chunk}
                if not checked_pulls:
                    authors |= set(meta.pulls)
                check = self.audience.follow_check(caller, authors)
                shown_tweets = self.tweets.hydrate(caller, chunk, also=check.reads)
                edges = check.followed()
                if not checked_pulls:
                    checked_pulls = True
                    unfollowed_pulls = {a for a in meta.pulls if a != caller and a not in edges}
                for entry, tweet in zip(chunk, shown_tweets, strict=True):
                    position = entry.entry_id
                    depth += entry.entry_id in window.cached
                    if entry.author_id != caller and entry.author_id not in edges:
                        report.dropped_unfollowed += 1
                        if entry.entry_id in window.cached:
                            stale.append((entry.entry_id, entry.author_id))
                        continue
                    if tweet is None or tweet.tweet_id in seen:
                        continue  # deleted, undone, or a second entry for the same original on this page
                    short = _short(tweet.tweet_id)
                    if short in shown:
                        continue  # shown through a newer retweet on an earlier page (the cursor remembers it)
                    seen.add(tweet.tweet_id)
                    tweets.append(tweet)
                    if entry.is_retweet:
                        shown_now.append(short)
            if len(tweets) == limit:
                has_more = taken < len(candidates) or not window.exhausted
                break
            if window.exhausted or not candidates:
                break
            if merge is None and depth < max_items:
                _, entries, more = self.store.query_page(caller, position, n, with_meta=False)
        else:
            has_more = position != before  # out of rounds: more may follow; the next page will tell
        if stale or unfollowed_pulls:
            pending.append(self._submit(lambda: self._repair(meta, stale, unfollowed_pulls, report)))
        for future in pending:
            if future is not None:
                future.result()
        next_cursor = None
        if has_more and position:
            remembered = [*shown_before, *shown_now][-SHOWN_MAX:]
            state = {"before": position, "shown": remembered, "d": depth}
            if merge is not None:
                state["src"] = merge.state(position)
            next_cursor = encode_cursor(scope, state)
        report.cache_depth = depth
        return TweetPage(tweets=tweets, next_cursor=next_cursor, has_more=has_more), report

    # ---- lazy repairs -----------------------------------------------------------------------------
    def _repair(
        self,
        meta: TimelineMeta,
        stale: Sequence[tuple[str, str]],
        unfollowed: set[str],
        report: ReadReport,
    ) -> None:
        """What a read found wrong, put right, once a consistent read of those edges confirms it (1
        BatchGetItem, only when something looked wrong): entries of accounts the reader no longer
        follows leave the cache (ceil(k/25) BatchWriteItem), and so do their pull set entries (1
        conditional UpdateItem each, only while the entry is the version this read saw: a follow made
        since keeps its own)."""
        caller = meta.user_id
        check = self.audience.follow_check(caller, {a for _, a in stale} | unfollowed, consistent=True)
        batch_get(check.reads, self.executor)
        following = check.followed()
        gone = [entry_id for entry_id, author in stale if author not in following]
        for chunk in self.store.delete_entries((caller, entry_id) for entry_id in gone):
            self.store.batch_write(chunk)
        for author in unfollowed - following.keys():
            if self.store.remove_pull(caller, author, [meta.pulls[author]]):
                report.pruned += 1

    def _housekeeping(self, meta: TimelineMeta, now: float) -> None:
        """At most once per TOUCH_INTERVAL per reader, beside the touch: ex-celebrities leave the pull set
        and become per-author floors at their ``down_seq`` (1 BatchGetItem per 100 pulled accounts + 1
        UpdateItem each), and per-author floors the global floor has passed are forgotten."""
        kept = [a for a, v in meta.pulls.items() if version_kind(v) in (KEPT, "") and a != meta.user_id]
        authors = self._metas(kept, ["is_celebrity", "rising_seq", "down_seq"]) if kept else {}
        for author in kept:
            state = authors.get(author)
            if state is not None and (state.celebrity or state.rising_seq):
                continue
            down = state.down_seq if state is not None else ""
            if down > meta.floor:
                self.store.pull_to_floor(meta.user_id, author, meta.pulls[author], down)
            else:  # never a celebrity, or its unpushed tweets are below the floor already
                self.store.remove_pull(meta.user_id, author, [meta.pulls[author]])
        passed = [a for a, f in meta.floors.items() if f <= meta.floor]
        if passed:
            self.store.drop_author_floors(meta.user_id, passed)
        # TTL deletes without raising the floor: raise it first, to where entries may expire soon.
        cut = ttl_cut(now)
        if meta.floor < cut and self.store.has_entries_below(meta.user_id, cut):
            self.store.raise_floor(meta.user_id, cut)

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
            lambda: self._metas(followees, ["is_celebrity", "rising_seq"]),
        )
        merged = {a for a in followees if a in metas and (metas[a].celebrity or metas[a].rising_seq)}
        author_floors: dict[str, str] = {}
        newest: dict[str, TimelineEntry] = {}
        cut = ttl_cut(now)
        for author, page in zip(authors, pages, strict=True):
            if author in merged:
                continue  # merged at read time
            newest.update({e.entry_id: e for e in page.entries if e.entry_id > cut})
            if any(e.entry_id <= cut for e in page.entries):
                author_floors[author] = cut  # older ones would expire soon: not cached
            elif page.entries and not page.exhausted:
                author_floors[author] = page.entries[-1].entry_id
        # The highest per-author floors are kept as such; the rest fold into the global floor.
        ranked = sorted(author_floors.items(), key=lambda item: item[1], reverse=True)
        floors = dict(ranked[:REBUILD_FLOORS_MAX])
        floor = max((f for _, f in ranked[REBUILD_FLOORS_MAX:]), default="")
        keep = sorted(
            (e for e in newest.values() if e.entry_id > max(floor, floors.get(e.author_id, ""))),
            key=_entry_id,
            reverse=True,
        )
        max_items = self.settings().timeline_max_items
        if len(keep) > max_items:
            keep = keep[:max_items]
            floor = max(floor, keep[-1].entry_id)
        floors = {a: f for a, f in floors.items() if f > floor}
        chunks = self.store.put_entries((caller, e) for e in keep)
        run_all(self.executor, self.store.batch_write, chunks)
        self.store.record_rebuild(caller, floor, {a: f"{KEPT}:" for a in merged}, floors)
        trim_timeline(self.store, caller, max_items)
        if self.queue is not None:
            # A tweet posted just before the rebuild may be missing from both its by_author read (index
            # lag) and its fan-out (the dispatcher saw the reader inactive): copy recent entries again.
            since = ulid_lower_bound(now - CATCH_UP_WINDOW_SECONDS)
            self.queue.send(
                [CatchUp(users=[caller], since=since)], delay_seconds=self.settings().catch_up_delay_seconds
            )
        return len(keep)

    # ---- helpers ----------------------------------------------------------------------------------
    def _first_round(
        self, caller: str, before: str | None, n: int, cache: bool = True
    ) -> tuple[TimelineMeta | None, list[TimelineEntry], bool]:
        if not cache:
            return self.store.get_meta(caller), [], False
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
        meta: TimelineMeta,
        floor: str,
        entries: list[TimelineEntry],
        more: bool,
        before: str | None,
        n: int,
        merger: Callable[[], SourceMerge],
        below: bool,
        report: ReadReport,
    ) -> _Window:
        """Candidates older than ``before``, newest first, that are certain to be complete.

        ``floor`` is the global floor (or the TTL horizon, if higher). Sources: the cache above it; every
        account in the pull set; and every account whose own floor is above the cache's frontier (the
        cache lacks its entries below that floor). When the cache above the floor has fewer than n
        entries, or ``below`` (the session is past what the cache may serve), the k-way merge of every
        followed account and the reader instead (``functions/timeline/merge.py``).
        """
        above = [e for e in entries if e.entry_id > floor]
        if below or (bool(floor) and len(above) < n):
            # Below the floor the cache may have holes: merge every followed account and the reader.
            report.pulled_all = True
            merge = merger()
            queries = merge.queries
            candidates, exhausted = merge.window(before, n)
            report.pull_queries += merge.queries - queries
            report.candidates += len(candidates)
            return _Window(candidates, exhausted=exhausted)
        sources: list[tuple[list[TimelineEntry], str | None]] = []
        cached = {e.entry_id for e in above}
        frontier = entries[-1].entry_id if more and entries else (floor or None)
        sources.append((above, frontier))
        bottom = frontier or ""
        pulled = set(meta.pulls) | {a for a, f in meta.floors.items() if f > floor and f > bottom}
        authors = sorted(pulled - {meta.user_id})
        report.pull_queries += len(authors)
        for page in self._fetch_authors(authors, before, n):
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
        return _Window(candidates, exhausted=bound is None, cached=cached)

    def _fetch_authors(self, authors: list[str], before: str | None, n: int) -> list[EntryPage]:
        """The newest ``n`` entries older than ``before`` of each account: 1 Query each, in parallel;
        first pages from the environment's cache of recent entries when it has them."""
        if before is None:
            recent = self._recent()
            return run_all(self.executor, lambda a: recent.get(a, n, self._newest), authors)
        return run_all(self.executor, lambda a: self.tweets.by_author(a, before, n), authors)

    def _newest(self, author: str, n: int) -> EntryPage:
        return self.tweets.by_author(author, None, n)

    def _recent(self) -> RecentEntries:
        ttl = self.settings().pull_cache_seconds
        if self.recent is None or self.recent.ttl != ttl:
            self.recent = RecentEntries(ttl)
        return self.recent

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
