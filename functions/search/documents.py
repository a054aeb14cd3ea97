"""Stream records of the tweets and users tables as index changes.

Tweets (``kind="tweet"``: tweets and replies) are indexed on INSERT and tombstoned on REMOVE; retweets
are not indexed (a search shows originals). Profiles are indexed on INSERT and on a MODIFY that changes
what is searched (username, display name), tombstoned on REMOVE; uniqueness claims and count updates
change nothing. Counts are not indexed: hits are rendered from the tables, so counts are always current
and the index takes no write per like.
"""

from __future__ import annotations

from typing import Any

from functions.core.consumer import StreamRecord
from functions.search.ports import Change, TweetDocument, UserDocument, version_of


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(str(item).lower() for item in value or ()))


def change_of(record: StreamRecord) -> Change | None:
    """The index change a stream record stands for; None when it changes nothing searched."""
    change = record.change
    version = version_of(change.sequence_number)
    image = change.new_image if record.event_name != "REMOVE" else change.old_image
    image = image or {}
    if "tweet_id" in change.keys:
        if image.get("kind", "tweet") != "tweet" or record.event_name == "MODIFY":
            return None  # a retweet, or a count changed (MODIFY is filtered upstream too)
        tweet_id = str(change.keys["tweet_id"])
        if record.event_name == "REMOVE":
            return Change("tweets", tweet_id, version)
        return Change("tweets", tweet_id, version, tweet_document(image))
    if "pk" in change.keys:
        if image.get("kind", "profile") != "profile":
            return None  # a username or e-mail claim
        user_id = str(change.keys["pk"])
        if record.event_name == "REMOVE":
            return Change("users", user_id, version)
        if record.event_name == "MODIFY" and not _profile_searchably_changed(change.old_image, image):
            return None
        return Change("users", user_id, version, user_document(image))
    return None


def tweet_document(item: dict[str, Any]) -> TweetDocument:
    """The search document of a tweets-table item (a stream image or a scanned item)."""
    return TweetDocument(
        tweet_id=str(item["tweet_id"]),
        author_id=str(item["author_id"]),
        created_at=str(item["created_at"]),
        text=str(item.get("text") or ""),
        hashtags=_strings(item.get("hashtags")),
        mentions=_strings(item.get("mentions")),
    )


def user_document(item: dict[str, Any]) -> UserDocument:
    """The search document of a users-table profile."""
    return UserDocument(
        user_id=str(item["pk"]),
        username=str(item["username"]).lower(),
        display_name=str(item.get("display_name") or ""),
    )


def _profile_searchably_changed(old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    if old is None:
        return True
    return any(old.get(name) != new.get(name) for name in ("username", "display_name"))
