"""The newest entries of the accounts merged at read time, shared by the readers one execution
environment serves: a celebrity's ``by_author`` partition is read once per environment per TTL instead
of once per home read.

Why: every reader of a celebrity merges that celebrity's newest tweets on every home read (1 Query on
``by_author``). At 1,000 home reads a second by its followers, that is 1,000 Queries a second on ONE index
partition (a partition serves about 3,000 read units a second); with this cache it is one Query per
execution environment per TTL: at a 50 ms read, 1,000 reads a second keep about 50 environments busy,
so about 50 / TTL Queries a second (25 at the default 2 s). docs/architecture.md ("Hot keys") has the
numbers before and after.

What it may serve stale, and for how long: a celebrity's new tweet (or retweet) reaches its followers'
home timelines up to ``PULL_CACHE_SECONDS`` later than without the cache (the contract's 5 seconds still
hold: the index's own lag is well under a second). Nothing deleted is ever served: a page re-reads every
tweet it shows, consistently, when it hydrates, so a cached entry of a deleted tweet is dropped there.
Only first pages (``after=None``) are cached: deeper pages of a celebrity are read by few.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cachetools import TTLCache

from functions.tweets.models import EntryPage

MAX_AUTHORS = 2048
"""Accounts held at once (each ~n entries of ~100 bytes: about 5 MB at most)."""


class RecentEntries:
    """``get(author, n, fetch)``: the newest ``n`` entries of ``author``, from a page read at most
    ``ttl`` seconds ago that had at least ``n`` (or all there were), else from ``fetch(author, n)``."""

    def __init__(self, ttl: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._pages: TTLCache[str, EntryPage] = TTLCache(maxsize=MAX_AUTHORS, ttl=max(ttl, 1e-9), timer=clock)
        # The page's parallel Queries run on an executor's threads; cachetools' caches are not thread-safe.
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, author: str, n: int, fetch: Callable[[str, int], EntryPage]) -> EntryPage:
        if self.ttl > 0:
            with self._lock:
                cached = self._pages.get(author)
            if cached is not None and (cached.exhausted or len(cached.entries) >= n):
                self.hits += 1
                return EntryPage(cached.entries[:n], cached.exhausted and len(cached.entries) <= n)
        self.misses += 1
        page = fetch(author, n)
        if self.ttl > 0:
            with self._lock:
                self._pages[author] = page
        return page
