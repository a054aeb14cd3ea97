"""The indexer and the dispatcher's forwarding, on real-shaped events: one bulk request per batch,
failures reported per record (by SequenceNumber from the stream, by messageId from the queue), nothing
indexed that search does not show."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from functions.search import publish
from functions.search.handlers import indexer
from functions.search.ports import Change, EngineUnavailable
from tests.support.events import event


class FakeEngine:
    def __init__(self, reasons: list[str | None] | None = None, down: bool = False) -> None:
        self.batches: list[list[Change]] = []
        self.reasons = reasons
        self.down = down

    def apply(self, changes: Sequence[Change]) -> list[str | None]:
        self.batches.append(list(changes))
        if self.down:
            raise EngineUnavailable("down")
        return self.reasons if self.reasons is not None else [None] * len(changes)


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    fake = FakeEngine()
    monkeypatch.setattr(indexer, "index_engine", lambda: fake)
    return fake


def as_queue_message(record: dict[str, Any], message_id: str) -> dict[str, Any]:
    return {"messageId": message_id, "eventSource": "aws:sqs", "body": json.dumps(record)}


def user_record(name: str, seq: str, old: dict[str, Any] | None = None, **image: Any) -> dict[str, Any]:
    new = {
        "pk": {"S": "u1"},
        "kind": {"S": "profile"},
        "username": {"S": "Alice"},
        "display_name": {"S": name},
    }
    new |= {k: {"N": str(v)} for k, v in image.items()}
    record: dict[str, Any] = {
        "eventID": f"e{seq}",
        "eventName": "MODIFY" if old else "INSERT",
        "eventSource": "aws:dynamodb",
        "dynamodb": {"Keys": {"pk": {"S": "u1"}}, "NewImage": new, "SequenceNumber": seq},
    }
    if old:
        record["dynamodb"]["OldImage"] = old
    return record


def test_tweets_from_the_queue_and_profiles_from_the_stream_become_one_bulk_each(engine: FakeEngine) -> None:
    insert = event("tweets_stream_insert.json")["Records"][0]
    remove = event("tweets_stream_remove.json")["Records"][0]
    result = indexer.index_batch(
        {"Records": [as_queue_message(insert, "m1"), as_queue_message(remove, "m2")]}
    )
    assert result == {"batchItemFailures": []}
    (batch,) = engine.batches
    assert [(c.index, c.is_tombstone) for c in batch] == [("tweets", False), ("tweets", True)]
    assert batch[0].document is not None and batch[0].version == insert["dynamodb"]["SequenceNumber"].zfill(
        40
    )

    assert indexer.index_batch({"Records": [user_record("Alice A", "100")]}) == {"batchItemFailures": []}
    assert engine.batches[1][0].document.username == "alice"  # type: ignore[union-attr]


def test_count_changes_and_retweets_index_nothing(engine: FakeEngine) -> None:
    old = user_record("Alice A", "1")["dynamodb"]["NewImage"]
    counted = user_record("Alice A", "200", old=old, follower_count=3)
    retweet = event("tweets_stream_insert.json")["Records"][0]
    retweet["dynamodb"]["NewImage"]["kind"] = {"S": "retweet"}
    assert indexer.index_batch({"Records": [counted, as_queue_message(retweet, "m1")]}) == {
        "batchItemFailures": []
    }
    assert engine.batches == []


def test_a_record_that_does_not_parse_fails_alone(engine: FakeEngine) -> None:
    good = as_queue_message(event("tweets_stream_insert.json")["Records"][0], "good")
    bad = {"messageId": "bad", "eventSource": "aws:sqs", "body": "[1, 2]"}
    assert indexer.index_batch({"Records": [good, bad]}) == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert len(engine.batches[0]) == 1


def test_partial_bulk_failures_and_an_unreachable_engine_fail_exactly_their_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    records = [user_record("A", "301"), user_record("B", "302")]
    monkeypatch.setattr(indexer, "index_engine", lambda: FakeEngine(reasons=[None, "429 rejected"]))
    assert indexer.index_batch({"Records": records}) == {"batchItemFailures": [{"itemIdentifier": "302"}]}
    monkeypatch.setattr(indexer, "index_engine", lambda: FakeEngine(down=True))
    assert indexer.index_batch({"Records": records}) == {
        "batchItemFailures": [{"itemIdentifier": "301"}, {"itemIdentifier": "302"}]
    }


def test_forwarding_sends_tweet_records_the_consumer_did_not_fail_and_reports_unsent_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[list[tuple[str, dict[str, Any]]]] = []

    def fake_publish(records: list[tuple[str, dict[str, Any]]]) -> list[str]:
        sent.append(records)
        return [records[-1][0]]  # the last one could not be sent

    monkeypatch.setattr(publish, "publish", fake_publish)
    tweets = [event("tweets_stream_insert.json")["Records"][0] for _ in range(3)]
    for i, record in enumerate(tweets):
        record["dynamodb"]["SequenceNumber"] = f"50{i}"
    follow = event("follows_stream_insert.json")["Records"][0]
    handler = publish.forwarding(lambda ev, ctx: {"batchItemFailures": [{"itemIdentifier": "500"}]})

    result = handler({"Records": [*tweets, follow]}, None)  # type: ignore[arg-type]

    assert [identifier for identifier, _ in sent[0]] == ["501", "502"], "not the failed one, not follows"
    assert sent[0][0][1] == tweets[1], "the record unchanged"
    assert result == {"batchItemFailures": [{"itemIdentifier": "500"}, {"itemIdentifier": "502"}]}


def test_publish_batches_ten_per_call_and_returns_what_sqs_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from botocore.stub import ANY, Stubber

    sqs = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/search-index"
    monkeypatch.setenv("SEARCH_INDEX_QUEUE_URL", url)
    publish._queue_url.cache_clear()
    monkeypatch.setattr(publish, "client", lambda _: sqs)
    records = [(f"id{i}", {"eventName": "INSERT", "n": i}) for i in range(12)]
    with Stubber(sqs) as stub:
        stub.add_response(
            "send_message_batch",
            {"Successful": [], "Failed": [{"Id": "3", "SenderFault": False, "Code": "InternalError"}]},
            {"QueueUrl": url, "Entries": ANY},
        )
        stub.add_client_error("send_message_batch", "ServiceUnavailable", http_status_code=503)
        unsent = publish.publish(records)
    publish._queue_url.cache_clear()
    assert unsent == ["id3", "id10", "id11"]
