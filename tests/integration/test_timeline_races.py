"""Races of the home timeline, forced in the orders AWS can produce, against DynamoDB (moto).

Each test builds its state in private copies of the tables without streams (the local cloud's pollers
cannot act in between), drives the write side (``Timelines``) and the read side (``HomeTimeline``) in
the order under test, and then checks what a reader sees and what is stored. Index lag is played by
wrappers that answer from an older view of ``by_followee`` / ``by_author``, as a GSI on AWS can.
"""

from __future__ import annotations

import time

from ulid import ULID

from functions.core.concurrency import shared_executor
from functions.graph.audience import GraphAudience
from functions.graph.dal import FollowRepository
from functions.timeline.dal import TimelineStore
from functions.timeline.fanout import CELEBRITY, PUSH, RISING
from functions.timeline.models import AddEntry, CatchUp, MarkPull
from functions.timeline.read import HomeTimeline, ReadReport
from functions.users.dal import UserRecord, UserRepository
from tests.support.fanout import RecordingQueue
from tests.support.timeline_state import (
    LaggingAudience,
    LaggingTweets,
    StaleEdges,
    apply_all,
    cached,
    follow,
    meta,
    post,
    private_tables,
    read_side,
    reader,
    settings,
    shown,
    unfollow,
    user,
    write_side,
)

__all__ = ["private_tables"]  # the autouse fixture: every test here runs on private tables


# ---- E1: an add computed before the unfollow lands after its removal -------------------------------------
def test_a_stale_add_after_the_unfollow_is_never_shown_and_is_repaired() -> None:
    author, follower = user("author"), reader()
    seq = follow(follower, author)
    queue = RecordingQueue()
    fan = write_side(queue, inline_max=0)
    tweet = post(author)
    fan.tweet_posted(tweet)  # the audience (with the follower) is computed ...
    stale = [m for m in queue.messages if isinstance(m, AddEntry)]
    assert stale and follower in stale[0].users
    unfollow(follower, author)  # ... the reader unfollows and the removal runs ...
    fan.unfollowed(follower, author, seq)
    fan.apply(stale[0])  # ... then the add lands (a retry, or `make redrive` with a new message id)
    assert tweet.entry_id in cached(follower), "the stale entry is in the cache"

    home = read_side()
    page, report = home.read(follower, None, 20)

    assert tweet.entry_id not in [t.tweet_id for t in page.tweets]
    assert report.dropped_unfollowed == 1
    assert tweet.entry_id not in cached(follower), "the read repaired the cache"
    fan.apply(stale[0])  # and once more: still never shown
    assert tweet.entry_id not in shown(home, follower)


def test_an_edge_read_that_missed_a_new_follow_hides_its_entries_once_and_deletes_nothing() -> None:
    author, follower = user("author"), reader()
    follow(follower, author)
    fan = write_side()
    tweet = post(author)
    fan.tweet_posted(tweet)  # few followers: written inline
    assert tweet.entry_id in cached(follower)

    # The page's edge reads are eventually consistent: one that has not seen the follow yet ...
    lagging = HomeTimeline(
        TimelineStore(), read_side().tweets, StaleEdges({author}), executor=shared_executor()
    )
    page, report = lagging.read(follower, None, 20)
    assert tweet.entry_id not in [t.tweet_id for t in page.tweets] and report.dropped_unfollowed == 1
    # ... hides the entry from that page, but the repair reads the edge consistently and keeps it.
    assert tweet.entry_id in cached(follower)
    assert tweet.entry_id in shown(read_side(), follower)


def test_the_readers_own_and_followed_entries_are_still_shown() -> None:
    author, follower = user("author"), reader()
    follow(follower, author)
    fan = write_side()
    own, theirs = post(follower), post(author)
    fan.tweet_posted(own)
    fan.tweet_posted(theirs)
    assert shown(read_side(), follower) == [theirs.entry_id, own.entry_id]


# ---- E9: a mark that lands after the unfollow's removal ---------------------------------------------------
def test_a_late_mark_cannot_resurrect_an_unfollowed_celebrity() -> None:
    author, gone, staying = user("celebrity"), reader("gone"), reader("staying")
    seq = follow(gone, author)
    follow(staying, author)
    fan = write_side()
    marks = fan._marks(author, "01ROUND00000000000000000000")
    assert [sorted(m.users) for m in marks if isinstance(m, MarkPull)] == [sorted([gone, staying])]
    unfollow(gone, author)
    fan.unfollowed(gone, author, seq)  # removal ran first
    for message in marks:
        fan.apply(message)  # the mark lands late

    assert author not in meta(gone).pulls, "the follow is gone: the mark wrote nothing"
    assert meta(staying).pulls[author].startswith("k:"), "a current follow is marked"


def test_a_pull_entry_without_a_follow_is_pruned_by_the_next_read_but_a_newer_follow_is_kept() -> None:
    author, follower, other = user("celebrity"), reader(), reader("other")
    store = TimelineStore()
    store.set_pull(follower, author, "k:01OLDFOLLOW000000000000000")  # e.g. written by an old tool
    tweet = post(author)

    page, report = read_side().read(follower, None, 20)

    assert tweet.entry_id not in [t.tweet_id for t in page.tweets]
    assert report.pruned == 1 and author not in meta(follower).pulls
    # The version guard: a read that saw the old entry cannot remove a newer follow's.
    seq = follow(other, author)
    store.set_pull(other, author, "k:01OLDFOLLOW000000000000000")
    seen_then = meta(other)
    store.set_pull(other, author, f"k:{seq}")  # the re-follow's entry lands after that read saw the old
    read_side()._repair(seen_then, [], {author}, ReadReport())
    assert meta(other).pulls[author] == f"k:{seq}"


# ---- E3: a follow and a post racing across the two index lags ---------------------------------------------
def test_a_post_racing_a_follow_across_both_index_lags_is_shown_at_once_and_cached_by_the_catch_up() -> None:
    author, follower = user("author"), reader()
    queue = RecordingQueue()
    seq = follow(follower, author)
    tweet = post(author)
    # The post's fan-out reads followers from a by_followee that has not seen the follow yet ...
    write_side(queue, audience=LaggingAudience({follower})).tweet_posted(tweet)
    # ... and the follow's backfill reads a by_author that has not seen the post yet.
    write_side(queue, tweets=LaggingTweets({tweet.entry_id})).followed(follower, author, seq)
    assert tweet.entry_id not in cached(follower), "both missed it"
    catch_ups = [m for m in queue.messages if isinstance(m, CatchUp)]
    assert [(m.users, m.author_id, m.seq) for m in catch_ups] == [([follower], author, seq)]

    home = read_side()
    assert shown(home, follower) == [tweet.entry_id], "the temporary pull shows it before the catch-up"

    write_side().apply(catch_ups[0])  # the catch-up, once the indexes caught up

    assert tweet.entry_id in cached(follower)
    assert author not in meta(follower).pulls, "the temporary entry is gone"
    page, report = home.read(follower, None, 20)
    assert [t.tweet_id for t in page.tweets] == [tweet.entry_id] and report.pull_queries == 0


def test_a_catch_up_after_an_unfollow_writes_nothing() -> None:
    author, follower = user("author"), reader()
    queue = RecordingQueue()
    seq = follow(follower, author)
    write_side(queue).followed(follower, author, seq)
    post(author)
    unfollow(follower, author)
    apply_all(write_side(), queue, CatchUp)
    assert cached(follower) == [] and author not in meta(follower).pulls


def test_a_rebuild_sends_a_catch_up_that_copies_what_the_rebuild_missed() -> None:
    author, follower = user("author"), user("inactive")
    follow(follower, author)
    tweet = post(author)
    home = HomeTimeline(
        TimelineStore(),
        LaggingTweets({tweet.entry_id}),
        GraphAudience(FollowRepository(), UserRepository()),
        executor=shared_executor(),
        queue=(queue := RecordingQueue()),
    )
    home.read(follower, None, 20)  # first read: a rebuild, whose by_author lags
    assert tweet.entry_id not in cached(follower)
    (catch_up,) = queue.messages
    assert isinstance(catch_up, CatchUp) and catch_up.author_id is None
    write_side().apply(catch_up)
    assert tweet.entry_id in cached(follower)


# ---- E5 and crossing down: no gap while an author crosses the threshold ---------------------------------
def test_crossing_up_keeps_pushing_until_every_follower_is_marked() -> None:
    threshold = 3
    author = user("rising", followers=threshold)
    fans = [reader(f"fan{i}") for i in range(threshold)]
    for fan_id in fans:
        follow(fan_id, author)
    queue = RecordingQueue()
    fan = write_side(queue, settings=settings(CELEBRITY_FOLLOWER_THRESHOLD=threshold), chunk_size=2)

    assert fan.author_state(author) == RISING
    marks = [m for m in queue.messages if isinstance(m, MarkPull)]
    queue.messages.clear()
    assert len(marks) == 2 and meta(author).rising_chunks == 2
    during = post(author)
    fan.tweet_posted(during)  # the marks have not landed: the post is still pushed
    apply_all(fan, queue)
    assert all(during.entry_id in cached(f) for f in fans)

    fan.apply(marks[0])
    assert fan.author_state(author) == RISING, "one chunk of two: not yet"
    fan.apply(marks[1])
    assert meta(author).celebrity and fan.author_state(author) == CELEBRITY
    after = post(author)
    fan.tweet_posted(after)
    apply_all(fan, queue)
    assert all(after.entry_id not in cached(f) for f in fans), "now merged at read time"
    home = read_side()
    for fan_id in fans:
        assert shown(home, fan_id) == [after.entry_id, during.entry_id]


def test_marks_that_never_land_leave_the_author_pushed() -> None:
    author = user("rising", followers=2)
    fans = [reader("fan0"), reader("fan1")]
    for fan_id in fans:
        follow(fan_id, author)
    queue = RecordingQueue()
    fan = write_side(queue, settings=settings(CELEBRITY_FOLLOWER_THRESHOLD=2))
    assert fan.author_state(author) == RISING
    queue.messages.clear()  # the marks dead-letter
    later = post(author)
    fan.tweet_posted(later)
    assert all(later.entry_id in cached(f) for f in fans)
    assert all(shown(read_side(), f) == [later.entry_id] for f in fans)


def test_crossing_down_leaves_no_gap_and_the_ex_celebrity_becomes_a_floor() -> None:
    author = user("celebrity", followers=5)
    follower = reader()
    seq = follow(follower, author)
    store = TimelineStore()
    fan = write_side(settings=settings(CELEBRITY_FOLLOWER_THRESHOLD=5))
    store.switch_mode(author, celebrity=True, seq=str(ULID.from_timestamp(time.time() - 60)))
    fan.followed(follower, author, seq)
    assert meta(follower).pulls[author] == f"k:{seq}"
    as_celebrity = post(author)
    fan.tweet_posted(as_celebrity)  # never pushed
    UserRecord(pk=author).update(actions=[UserRecord.follower_count.set(1)])
    assert fan.author_state(author) == PUSH
    pushed = post(author, at=time.time() + 6)  # after the switch's margin
    fan.tweet_posted(pushed)

    home = read_side()
    assert shown(home, follower) == [pushed.entry_id, as_celebrity.entry_id]
    home._housekeeping(meta(follower), time.time())
    after = meta(follower)
    assert author not in after.pulls and after.floors[author] == meta(author).down_seq
    assert shown(home, follower) == [pushed.entry_id, as_celebrity.entry_id], "no gap after the prune"


# ---- paging ---------------------------------------------------------------------------------------------
def test_a_retweeted_original_appears_once_across_the_pages_of_a_session() -> None:
    alice, carol, follower = user("alice"), user("carol"), reader()
    follow(follower, alice)
    follow(follower, carol)
    fan = write_side()
    start = time.time() - 100
    original = post(alice, at=start)
    fan.tweet_posted(original)
    for i in range(6):
        fan.tweet_posted(post(alice, at=start + 1 + i))
    retweet = post(carol, retweet_of=original.entry_id, at=start + 10)
    fan.tweet_posted(retweet)

    ids = shown(read_side(), follower, limit=2)
    assert ids.count(original.entry_id) == 1 and ids[0] == original.entry_id, "once, at the retweet"
    assert len(ids) == 7


def test_a_prolific_account_backfilled_in_part_does_not_turn_later_pages_into_full_pulls() -> None:
    prolific, quiet, follower = user("prolific"), user("quiet"), reader()
    follow(follower, quiet)
    fan = write_side(backfill_max=10)
    start = time.time() - 1000
    quiet_tweets = [post(quiet, at=start + i * 20) for i in range(5)]
    for t in quiet_tweets:
        fan.tweet_posted(t)
    prolific_tweets = [post(prolific, at=start + 50 + i) for i in range(25)]
    fan.followed(follower, prolific, follow(follower, prolific))
    state = meta(follower)
    assert state.floor == "" and state.floors[prolific] == prolific_tweets[-10].entry_id

    home = read_side()
    everything = sorted([t.entry_id for t in quiet_tweets + prolific_tweets], reverse=True)
    assert shown(home, follower, limit=4) == everything
    _, first = home.read(follower, None, 4)
    assert not first.pulled_all and first.pull_queries <= 1, "only the prolific account is merged"
