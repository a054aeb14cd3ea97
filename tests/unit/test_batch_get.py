"""One BatchGetItem across tables: key limits, consistency per table, UnprocessedKeys retries."""

from __future__ import annotations

from typing import Any

import pytest

from functions.core.batch_get import Read, UnprocessedKeysError, batch_get
from functions.core.retry import Backoff
from functions.tweets.dal import EngagementRecord, TweetRecord
from functions.users.dal import UserRecord


@pytest.fixture(autouse=True)
def _tables(monkeypatch: pytest.MonkeyPatch) -> None:
    for var, name in (
        ("TWEETS_TABLE_NAME", "tweets"),
        ("USERS_TABLE_NAME", "users"),
        ("ENGAGEMENTS_TABLE_NAME", "engagements"),
    ):
        monkeypatch.setenv(var, name)


class FakeDynamo:
    """Answers BatchGetItem from a dict; holds back the first ``throttle`` keys of each call once."""

    def __init__(self, items: dict[str, list[dict[str, Any]]], throttle: int = 0) -> None:
        self.items = items
        self.throttle = throttle
        self.calls: list[dict[str, Any]] = []

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(RequestItems)
        assert sum(len(r["Keys"]) for r in RequestItems.values()) <= 100
        responses: dict[str, list[Any]] = {}
        unprocessed: dict[str, Any] = {}
        held = self.throttle
        for table, request in RequestItems.items():
            for key in request["Keys"]:
                if held:
                    held -= 1
                    unprocessed.setdefault(table, {**request, "Keys": []})["Keys"].append(key)
                    continue
                found = [i for i in self.items.get(table, []) if all(i[k] == v for k, v in key.items())]
                responses.setdefault(table, []).extend(found)
        self.throttle = 0
        return {"Responses": responses, "UnprocessedKeys": unprocessed}


def _tweet(i: int) -> dict[str, Any]:
    return {
        "tweet_id": {"S": f"t{i:03d}"},
        "kind": {"S": "tweet"},
        "author_id": {"S": "u1"},
        "created_at": {"S": "2026-11-22T00:00:00.000Z"},
        "text": {"S": "hi"},
    }


def test_three_tables_in_one_call_with_consistency_per_table() -> None:
    ddb = FakeDynamo(
        {
            "tweets": [_tweet(1)],
            "users": [
                {
                    "pk": {"S": "u1"},
                    "username": {"S": "ann"},
                    "email": {"S": "a@x.io"},
                    "created_at": {"S": "t"},
                }
            ],
            "engagements": [
                {
                    "tweet_id": {"S": "t001"},
                    "sk": {"S": "u#me"},
                    "user_id": {"S": "me"},
                    "liked_at": {"S": "t"},
                }
            ],
        }
    )
    tweets = Read(TweetRecord, ["t001", "t002", "t001"], consistent=True)
    users = Read(UserRecord, ["u1"])
    engagements = Read(EngagementRecord, [("t001", "u#me"), ("t002", "u#me")])

    batch_get([tweets, users, engagements], client=ddb)

    assert len(ddb.calls) == 1
    request = ddb.calls[0]
    assert len(request["tweets"]["Keys"]) == 2  # duplicates asked once
    assert request["tweets"]["ConsistentRead"] and not request["users"]["ConsistentRead"]
    assert not request["engagements"]["ConsistentRead"]
    assert request["engagements"]["Keys"][0] == {"tweet_id": {"S": "t001"}, "sk": {"S": "u#me"}}
    assert [t.tweet_id for t in tweets.found] == ["t001"]
    assert [u.username for u in users.found] == ["ann"]
    assert [e.flags() for e in engagements.found] == [{("t001", "like")}]


def test_more_than_100_keys_are_split_and_unprocessed_keys_retried() -> None:
    ddb = FakeDynamo({"tweets": [_tweet(i) for i in range(150)]}, throttle=30)
    pauses: list[float] = []
    tweets = Read(TweetRecord, [f"t{i:03d}" for i in range(150)])

    batch_get([tweets], client=ddb, backoff=Backoff(sleep=pauses.append))

    assert sorted(t.tweet_id for t in tweets.found) == [f"t{i:03d}" for i in range(150)]
    assert [sum(len(r["Keys"]) for r in c.values()) for c in ddb.calls] == [100, 30, 50]
    assert len(pauses) == 1 and 0 <= pauses[0] <= 0.05


def test_keys_still_unprocessed_after_every_attempt_raise() -> None:
    class AlwaysThrottled(FakeDynamo):
        def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
            self.calls.append(RequestItems)
            return {"Responses": {}, "UnprocessedKeys": RequestItems}

    ddb = AlwaysThrottled({})
    with pytest.raises(UnprocessedKeysError):
        batch_get(
            [Read(TweetRecord, ["t001"])], client=ddb, backoff=Backoff(attempts=3, sleep=lambda _: None)
        )
    assert len(ddb.calls) == 3
