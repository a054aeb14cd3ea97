"""Nothing is lost when a stream consumer's retries run out: the failed records come back to it.

A cloud of its own, from the definition with one change: the replay queues retry after 1 s and give
up after 2 receives (instead of 6 minutes and 5), so a record that keeps failing reaches its DLQ within
the test. The faults are real ones, across processes: a bad deployment (a tunable the dispatcher's
settings reject, cleared by the next configuration) and a tweets item no consumer can read (written
past the API).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from ulid import ULID

from infra.grants import function_grants
from infra.resources import SPEC, ServiceSpec
from tests.support.client import Account, Api, post_tweet, sign_up_and_log_in

pytestmark = pytest.mark.e2e

_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "redrive.py"
_spec = importlib.util.spec_from_file_location("redrive", _SCRIPT)
assert _spec is not None and _spec.loader is not None
redrive = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("redrive", redrive)  # dataclasses look their module up there
_spec.loader.exec_module(redrive)

REPLAY_QUEUES = {m.replay for m in SPEC.mappings if m.replay}


def fast_replays(spec: ServiceSpec) -> ServiceSpec:
    queues = tuple(
        dataclasses.replace(q, visibility_timeout_seconds=1, max_receive_count=2)
        if q.logical_id in REPLAY_QUEUES
        else q
        for q in spec.queues
    )
    return dataclasses.replace(spec, queues=queues)


@pytest.fixture(scope="module")
def rescue_cloud() -> Iterator[Any]:
    from local_cloud.runtime import LocalCloud

    with LocalCloud(fast_replays(SPEC), port=0) as running:
        yield running


@pytest.fixture(scope="module")
def rescue_api(rescue_cloud: Any) -> Api:
    return Api(base_url=rescue_cloud.base_url, session=requests.Session())


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json() if response.content else None


def settler(cloud: Any) -> Callable[[], None]:
    def settle() -> None:
        assert cloud.wait_idle(60.0), "the pollers did not settle"

    return settle


def cached(cloud: Any, user_id: str) -> list[str]:
    """The entry ids of a reader's cached home timeline, read from the table (not through the read
    path, which merges followed accounts' own timelines and would show a tweet the fan-out missed)."""
    ddb = cloud.aws.client("dynamodb")
    items = ddb.query(
        TableName="timelines",
        KeyConditionExpression="user_id = :u",
        ExpressionAttributeValues={":u": {"S": user_id}},
    )["Items"]
    return [i["entry_id"]["S"] for i in items if not i["entry_id"]["S"].startswith("~")]


def dead_letters(cloud: Any, queue: str) -> list[dict[str, Any]]:
    """The stream records waiting in a replay queue's DLQ (left there: received invisible for 0 s)."""
    sqs = cloud.aws.client("sqs")
    url = cloud.provisioned.dlq_urls[queue]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def idempotency_records(cloud: Any) -> int:
    return int(cloud.aws.client("dynamodb").scan(TableName="idempotency", Select="COUNT")["Count"])


def home_ids(api: Api, reader: Account) -> list[str]:
    return [
        t["tweet_id"] for t in ok(api.get("/timeline/home", reader.token, params={"limit": 50}))["tweets"]
    ]


def test_records_the_dispatcher_failed_past_its_retries_reach_the_timelines_once_after_a_replay(
    rescue_cloud: Any, rescue_api: Api
) -> None:
    cloud, api, settle = rescue_cloud, rescue_api, settler(rescue_cloud)
    alice, bob, carol = (sign_up_and_log_in(api) for _ in range(3))
    ok(api.post(f"/users/{alice.user_id}/follow", bob.token))
    earlier = post_tweet(api, alice, "before the bad deployment")
    for reader in (bob, carol):
        ok(api.get("/timeline/home", reader.token))  # active readers: the fan-out writes their caches
    settle()
    assert earlier in cached(cloud, bob.user_id)

    # A bad deployment: the dispatcher's settings reject the threshold, so it fails every record.
    cloud.configure(CELEBRITY_FOLLOWER_THRESHOLD=0)
    try:
        ok(api.post(f"/users/{alice.user_id}/follow", carol.token))
        missed = post_tweet(api, alice, "during the bad deployment")
        settle()  # 4 stream attempts, the on-failure record, the rescue, 2 replay attempts, the DLQ
        waiting = dead_letters(cloud, "fanout-dispatcher-replay")
    finally:
        cloud.configure(CELEBRITY_FOLLOWER_THRESHOLD=None)  # the fix is deployed

    # Both records wait in full, as the stream delivered them, long after the stream would drop them.
    by_key = {json.dumps(r["dynamodb"]["Keys"], sort_keys=True): r for r in waiting}
    tweet_key = json.dumps({"tweet_id": {"S": missed}})
    follow_key = json.dumps({"followee_id": {"S": alice.user_id}, "follower_id": {"S": carol.user_id}})
    assert set(by_key) == {tweet_key, follow_key}
    assert by_key[tweet_key]["eventName"] == by_key[follow_key]["eventName"] == "INSERT"
    assert by_key[tweet_key]["eventSourceARN"] == cloud.provisioned.stream_arns["tweets"]
    assert by_key[follow_key]["eventSourceARN"] == cloud.provisioned.stream_arns["follows"]
    assert missed not in cached(cloud, bob.user_id) and earlier not in cached(cloud, carol.user_id)

    assert redrive.main(["--replay", "--endpoint-url", cloud.aws.endpoint_url]) == 0  # make replay
    settle()

    assert cached(cloud, bob.user_id).count(missed) == 1, "the missed tweet reached its follower"
    assert earlier in cached(cloud, carol.user_id), "the missed follow backfilled the new follower"
    assert home_ids(api, bob).count(missed) == 1
    assert dead_letters(cloud, "fanout-dispatcher-replay") == []

    # The same records replayed again (a duplicate, a second redrive under new message ids): applied once.
    remembered = idempotency_records(cloud)
    sqs = cloud.aws.client("sqs")
    for record in [*waiting, *waiting]:
        url = cloud.provisioned.queue_urls["fanout-dispatcher-replay"]
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))
    settle()
    assert idempotency_records(cloud) == remembered, "no record was applied a second time"
    assert cached(cloud, bob.user_id).count(missed) == 1 and home_ids(api, bob).count(missed) == 1


def test_a_removal_no_consumer_can_apply_waits_whole_in_the_replay_dlqs(
    rescue_cloud: Any, rescue_api: Api
) -> None:
    cloud, settle = rescue_cloud, settler(rescue_cloud)
    ddb = cloud.aws.client("dynamodb")
    # An item no tweet image validates (no author), written past the API as a botched import would.
    poison = str(ULID())
    ddb.put_item(TableName="tweets", Item={"tweet_id": {"S": poison}, "kind": {"S": "tweet"}})
    ddb.delete_item(TableName="tweets", Key={"tweet_id": {"S": poison}})
    settle()

    def of_poison(queue: str) -> list[tuple[str, Any]]:
        return [
            (r["eventName"], (r["dynamodb"].get("OldImage") or r["dynamodb"].get("NewImage")))
            for r in dead_letters(cloud, queue)
            if r["dynamodb"]["Keys"] == {"tweet_id": {"S": poison}}
        ]

    image = {"tweet_id": {"S": poison}, "kind": {"S": "tweet"}}
    assert of_poison("tweets-cleanup-replay") == [("REMOVE", image)], "only what its filter delivers"
    assert sorted(of_poison("fanout-dispatcher-replay"), key=lambda e: e[0]) == [
        ("INSERT", image),
        ("REMOVE", image),
    ]

    # Every grant of the rescue was used on the way, and the guard refused nobody anything.
    usage = cloud.grant_usage()
    # The users stream's route (to the search indexer) is toured by tests/e2e/test_search_unavailable.py.
    search_route = {"users/stream:read", "search-index:send"}
    # The engagements stream's route (to engagement-counter) is toured by the test below.
    counter_route = {"engagements/stream:read", "engagement-counter-replay:send"}
    assert set(usage["stream-rescue"]["used"]) - counter_route == (
        {g.name for g in function_grants(SPEC, SPEC.function("stream-rescue"))} - search_route - counter_route
    )
    assert {name: u["denied"] for name, u in usage.items() if u["denied"]} == {}


def test_like_counts_the_stream_gave_up_on_are_recounted_from_the_engagements_on_replay(
    rescue_cloud: Any, rescue_api: Api
) -> None:
    cloud, api, settle = rescue_cloud, rescue_api, settler(rescue_cloud)
    alice, bob, carol = (sign_up_and_log_in(api) for _ in range(3))
    tweet_id = post_tweet(api, alice, "counted the hard way")
    settle()
    ddb = cloud.aws.client("dynamodb")
    # A count no update can add to (a string, written past the API as a botched import would).
    ddb.update_item(
        TableName="tweets",
        Key={"tweet_id": {"S": tweet_id}},
        UpdateExpression="SET like_count = :bad",
        ExpressionAttributeValues={":bad": {"S": "many"}},
    )

    # The import's likes too (the API would not read the tweet either, with its count a string).
    for who in (bob, carol):
        item = {"user_id": {"S": who.user_id}, "liked_at": {"S": "2026-12-01T00:00:00.000Z"}}
        keys = {"tweet_id": {"S": tweet_id}, "sk": {"S": f"u#{who.user_id}"}}
        ddb.put_item(TableName="engagements", Item={**keys, **item})
    settle()  # the stream's retries, the on-failure record, the rescue, the replay's recount

    stored = ddb.get_item(TableName="tweets", Key={"tweet_id": {"S": tweet_id}}, ConsistentRead=True)
    assert stored["Item"]["like_count"] == {"N": "2"}, "recounted from the two engagement items"
    assert ok(api.get(f"/tweets/{tweet_id}", bob.token))["like_count"] == 2
    assert dead_letters(cloud, "engagement-counter-replay") == []

    usage = cloud.grant_usage()
    assert {"engagements/stream:read", "engagement-counter-replay:send"} <= set(
        usage["stream-rescue"]["used"]
    )
    assert "engagements:read" in usage["engagement-counter"]["used"]
    assert {name: u["denied"] for name, u in usage.items() if u["denied"]} == {}
