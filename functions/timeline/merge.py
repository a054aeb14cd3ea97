"""Paging below the cache: a k-way merge over the followed accounts, with a cursor per source.

Below the floor (or past the depth the cache may serve) a home page is merged from every followed
account and the reader, 1 Query on by_author per source. Querying every source on every page would cost
one Query per followed account per page, although a page of 20 entries comes from at most 20 of them.
So each source carries a *ceiling*: an upper bound of its entries below the page position ("" once it
has none left; unknown before it was first read). A page queries only the sources whose ceiling reaches
the n-th highest value known; the others cannot reach the page. The ceilings travel in the cursor (the
highest SOURCES_MAX by name hash, the rest folded into one shared ceiling), so the next page starts
where this one stopped instead of asking every account again.

The merge emits only entries at or above every source's ceiling that it has not read (its "bound"), so
an entry of a source that was not queried can never be skipped: when too few entries clear the bound,
the caller asks for another round, which queries the sources that held it back.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from functions.timeline.models import TimelineEntry
from functions.tweets.models import EntryPage

SOURCES_MAX = 32
"""Ceilings a cursor carries by name; every other source shares the highest of their ceilings."""
EXHAUSTED = ""
"""The ceiling of a source with no entry left below the position."""


def source_key(author_id: str) -> str:
    """8 bytes of an account id's hash: how a cursor names a source (11 characters)."""
    digest = hashlib.blake2b(author_id.encode(), digest_size=8, person=b"source").digest()
    return base64.urlsafe_b64encode(digest).decode()[:11]


def valid_state(value: Any) -> bool:
    """Whether ``value`` is a merge state this module wrote (it is signed, so only shape is checked)."""
    if not isinstance(value, dict) or set(value) != {"c", "r"}:
        return False
    ceilings, rest = value["c"], value["r"]
    return (
        isinstance(ceilings, dict)
        and len(ceilings) <= SOURCES_MAX
        and all(isinstance(k, str) and isinstance(v, str) and len(v) <= 26 for k, v in ceilings.items())
        and isinstance(rest, str)
        and len(rest) <= 26
    )


@dataclass
class _Source:
    author_id: str
    ceiling: str | None
    """Every entry of this source below the position and not in ``buffer`` is at or below this id
    (EXHAUSTED: none; None: unknown, never read in this paging session)."""
    buffer: list[TimelineEntry] = field(default_factory=list)
    """Entries read and not consumed yet, newest first."""


class SourceMerge:
    """The sources of one home page below the cache, across the rounds of one request."""

    def __init__(
        self,
        authors: Sequence[str],
        state: dict[str, Any] | None,
        fetch: Callable[[list[str], str | None, int], list[EntryPage]],
    ) -> None:
        """``authors``: the followed accounts and the reader; ``state``: what the previous page's cursor
        carried (None: this paging session enters the merge now, so every source is unknown);
        ``fetch(authors, before, n)``: 1 Query on by_author per account, in parallel."""
        ceilings: dict[str, str] = state["c"] if state else {}
        rest: str | None = state["r"] if state else None
        self._fetch = fetch
        self._sources = [
            _Source(author, ceilings.get(source_key(author), rest) if state else None) for author in authors
        ]
        self.queries = 0

    def window(self, before: str | None, n: int) -> tuple[list[TimelineEntry], bool]:
        """Candidates strictly older than ``before``, newest first, that no unread entry can precede;
        and whether every source is exhausted (nothing below the candidates)."""
        for source in self._sources:
            if before is not None:
                source.buffer = [e for e in source.buffer if e.entry_id < before]
            if source.ceiling and before is not None and source.ceiling > before:
                source.ceiling = before  # entries are strictly below the position: it bounds them too
        target = self._target(n)
        wanted = [
            s
            for s in self._sources
            if s.ceiling is None or (s.ceiling != EXHAUSTED and (target is None or s.ceiling >= target))
        ]
        if wanted:
            self.queries += len(wanted)
            pages = self._fetch([s.author_id for s in wanted], before, n)
            for source, page in zip(wanted, pages, strict=True):
                source.buffer = list(page.entries)
                done = page.exhausted or not page.entries
                source.ceiling = EXHAUSTED if done else page.entries[-1].entry_id
        bound = max((s.ceiling for s in self._sources if s.ceiling), default=EXHAUSTED)
        merged: dict[str, TimelineEntry] = {}
        for source in self._sources:
            for entry in source.buffer:
                if entry.entry_id >= bound:
                    merged.setdefault(entry.entry_id, entry)
        candidates = sorted(merged.values(), key=lambda e: e.entry_id, reverse=True)
        return candidates, bound == EXHAUSTED

    def state(self, position: str) -> dict[str, Any]:
        """The ceilings after the page stopped at ``position``, for the next page's cursor."""
        ceilings: dict[str, str] = {}
        for source in self._sources:
            left = [e.entry_id for e in source.buffer if e.entry_id < position]
            ceiling = left[0] if left else source.ceiling
            if ceiling is None or ceiling > position:
                ceiling = position
            if ceiling != EXHAUSTED:
                key = source_key(source.author_id)
                ceilings[key] = max(_coarse(ceiling), ceilings.get(key, EXHAUSTED))
        ranked = sorted(ceilings.items(), key=lambda item: item[1], reverse=True)
        kept = dict(ranked[:SOURCES_MAX])
        rest = max((c for _, c in ranked[SOURCES_MAX:]), default=EXHAUSTED)
        return {"c": kept, "r": rest}

    def _target(self, n: int) -> str | None:
        """The n-th highest id among what is known of every source: its buffered entries and the
        ceiling of each source without a buffer. A source whose ceiling is below it cannot reach the
        page (n known entries are above it). None: fewer than n values known, so every source counts."""
        values: list[str] = []
        for source in self._sources:
            if source.buffer:
                values.extend(e.entry_id for e in source.buffer)
            elif source.ceiling:
                values.append(source.ceiling)
        if len(values) < n:
            return None
        values.sort(reverse=True)
        return values[n - 1]


def _coarse(entry_id: str) -> str:
    """An upper bound of ``entry_id`` in 11 characters: its millisecond prefix and "~", which sorts
    after every ULID character, so the cursor stays small and the bound still holds."""
    return entry_id[:10] + "~" if len(entry_id) > 11 else entry_id
