"""Paging a home timeline below its cache and past TIMELINE_MAX_ITEMS, against DynamoDB (moto).

Below the floor a page is a k-way merge of every followed account; the cursor carries a ceiling per
source, so later pages query only the accounts that can reach them. Past the cap the cache serves no
deeper than one page, and the read trims what a sampled trim has not yet.
"""

from __future__ import annotations

import time
from typing import Any

from functions.core.pagination import decode_cursor, encode_cursor
from functions.timeline.dal import TimelineStore
from functions.timeline.models import TimelineEntry
from functions.timeline.read import HomeTimeline, ReadReport
from tests.support.timeline_state import (
    cached,
    follow,
    post,
    private_tables,
    read_side,
    reader,
    settings,
    user,
)

__all__ = ["private_tables"]  # the autouse fixture: every test here runs on private tables


def session(home: HomeTimeline, user_id: str, limit: int) -> tuple[list[str], list[ReadReport]]:
    """Every tweet id the reader's pages show, in order, and how each page was produced."""
    ids: list[str] = []
    reports: list[ReadReport] = []
    cursor = None
    while True:
        page, report = home.read(user_id, cursor, limit)
        ids.extend(t.tweet_id for t in page.tweets)
        reports.append(report)
        if not page.has_more:
            return ids, reports
        cursor = page.next_cursor


def uncached_history(
    accounts: int, posts: dict[int, int], interleave: int = 0
) -> tuple[str, list[TimelineEntry]]:
    """A reader following ``accounts`` accounts whose tweets (``posts[i]`` for account i, else
    ``interleave`` or 1) are all below the reader's floor, as after a trim: every page is a merge.
    Interleaved tweets alternate between the accounts, so each page draws from many of them."""
    follower = reader()
    start = time.time() - 50000
    tweets: list[TimelineEntry] = []
    for i in range(accounts):
        author = user(f"a{i}")
        follow(follower, author)
        if interleave:
            tweets += [post(author, at=start + k * 100 + i) for k in range(interleave)]
        else:
            tweets += [post(author, at=start + i * 60 + k) for k in range(posts.get(i, 1))]
    TimelineStore().raise_floor(follower, max(t.entry_id for t in tweets))
    return follower, sorted(tweets, key=lambda t: t.entry_id, reverse=True)


def test_paging_below_the_floor_queries_only_the_accounts_that_reach_each_page() -> None:
    follower, tweets = uncached_history(24, {}, interleave=14)

    ids, reports = session(read_side(), follower, limit=10)

    assert ids == [t.entry_id for t in tweets], "nothing missing, nothing repeated, newest first"
    assert all(r.pulled_all for r in reports)
    assert reports[0].pull_queries == 25, "the first page below the cache asks every account and the reader"
    later = [r.pull_queries for r in reports[1:]]
    # Each page of 10 draws from 10 accounts; a page asks only those whose ceiling is among the
    # n = limit + 2 highest, not all 24 (nor the reader, who has no tweets: exhausted after page 1).
    assert max(later) <= 12, later


def test_a_prolific_account_fills_pages_without_asking_the_others_again() -> None:
    follower, tweets = uncached_history(30, {29: 40})

    ids, reports = session(read_side(), follower, limit=10)

    assert ids == [t.entry_id for t in tweets]
    assert reports[0].pull_queries == 31
    assert sum(r.pull_queries for r in reports[1:]) <= 12 * len(reports[1:])


def test_exhausted_accounts_are_never_asked_again_in_a_session() -> None:
    follower, tweets = uncached_history(12, {0: 30})

    ids, reports = session(read_side(), follower, limit=5)

    assert ids == [t.entry_id for t in tweets]
    # After page 1 the eleven one-tweet accounts are read out or known to be below; the prolific one
    # (account 0, the oldest) is asked when the merge reaches it.
    assert sum(r.pull_queries for r in reports[1:]) <= len(reports[1:]) + 12


def test_a_forged_source_state_in_a_cursor_is_refused() -> None:
    follower, _ = uncached_history(3, {})
    home = read_side()
    page, _ = home.read(follower, None, 1)
    state: dict[str, Any] = decode_cursor(f"timeline:home:{follower}", page.next_cursor) or {}
    assert "src" in state
    for bad in ({"c": [], "r": ""}, {"c": {}, "r": 5}, {"c": {f"k{i}": "x" for i in range(40)}, "r": ""}):
        forged = encode_cursor(f"timeline:home:{follower}", {**state, "src": bad})
        try:
            home.read(follower, forged, 1)
        except Exception as error:
            assert type(error).__name__ == "InvalidCursor"
        else:
            raise AssertionError(f"accepted {bad}")


def test_a_cache_over_its_cap_serves_at_most_one_page_past_it_and_is_trimmed_by_the_read() -> None:
    follower = reader()
    author = user("author")
    follow(follower, author)
    start = time.time() - 5000
    tweets = [post(author, at=start + i) for i in range(30)]
    store = TimelineStore()
    for chunk in store.put_entries((follower, t) for t in tweets):
        store.batch_write(chunk)  # 30 cached entries, no trim yet, against a cap of 12
    home = read_side(settings=settings(TIMELINE_MAX_ITEMS=12))

    ids, reports = session(home, follower, limit=5)

    assert ids == sorted((t.entry_id for t in tweets), reverse=True), "the rest comes from the merge"
    served = [r.cache_depth for r in reports]
    assert max(served) <= 12 + 5, f"at most one page past the cap from the cache: {served}"
    assert any(r.trimmed for r in reports)
    assert len(cached(follower)) == 12, "the read trimmed the cache back to the cap"
    assert sum(r.pulled_all for r in reports) >= 3


def test_a_cursor_below_the_cache_stays_within_the_routes_limit_at_any_number_followed() -> None:
    follower, tweets = uncached_history(40, {}, interleave=2)
    home = read_side()
    page, _ = home.read(follower, None, 10)
    state: dict[str, Any] = decode_cursor(f"timeline:home:{follower}", page.next_cursor) or {}
    assert len(state["src"]["c"]) == 32, "the 32 highest ceilings by name, the rest shared"
    worst = {**state, "shown": ["A" * 11] * 64}  # and the most retweets a cursor remembers
    assert len(encode_cursor(f"timeline:home:{follower}", worst)) < 4096
    ids, _ = session(home, follower, limit=10)
    assert ids == [t.entry_id for t in tweets]
