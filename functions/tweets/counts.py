"""Like counts from the engagements stream: which records change a tweet's ``like_count``, and by what.

The engagement item (one per tweet and user) is the truth; ``like_count`` on the tweet follows it.
Keeping the count out of the like's write makes a like 2 single-item writes instead of a transaction
over three items, and a burst of likes of one tweet a few counter updates (one per tweet per batch)
instead of a transaction per like on one hot item.
"""

from __future__ import annotations

from collections.abc import Iterable

from functions.core.consumer import StreamRecord
from functions.tweets.dal import LikeChange

SEQ_DIGITS = 40
"""Stream sequence numbers are decimal strings of up to 40 digits; padded, they compare as strings."""


def padded(sequence_number: str) -> str:
    return sequence_number.zfill(SEQ_DIGITS)


def like_change(record: StreamRecord) -> tuple[str, LikeChange] | None:
    """(tweet_id, change) when the record likes or un-likes; None when it leaves the like as it was (a
    retweet or un-retweet on the same item)."""
    old = record.change.old_image or {}
    new = record.change.new_image or {}
    delta = int(bool(new.get("liked_at"))) - int(bool(old.get("liked_at")))
    if delta == 0:
        return None
    keys = record.change.keys
    user_id = str(new.get("user_id") or old.get("user_id") or str(keys["sk"]).removeprefix("u#"))
    liked_at = new.get("liked_at")
    change = LikeChange(
        seq=padded(record.change.sequence_number),
        delta=delta,
        user_id=user_id,
        liked_at=str(liked_at) if liked_at else None,
    )
    return str(keys["tweet_id"]), change


def by_tweet(records: Iterable[tuple[str, StreamRecord]]) -> dict[str, list[tuple[str, LikeChange]]]:
    """The like changes of ``(record id, record)`` pairs grouped by tweet, each group in stream order,
    with the id of the record each change came from (what a failure is reported by)."""
    groups: dict[str, list[tuple[str, LikeChange]]] = {}
    for record_id, record in records:
        found = like_change(record)
        if found is not None:
            tweet_id, change = found
            groups.setdefault(tweet_id, []).append((record_id, change))
    for group in groups.values():
        group.sort(key=lambda pair: pair[1].seq)
    return groups
