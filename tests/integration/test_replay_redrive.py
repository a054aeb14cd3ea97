"""`make replay`: the replay queues' dead letters go back to their queues, several queues in one run,
found by URL variable, stack output or name (scripts/redrive.py, against an in-process moto)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.resources import (
    ENGAGEMENT_COUNTER_REPLAY,
    FANOUT,
    FANOUT_DISPATCHER_REPLAY,
    SEARCH_INDEX,
    TWEETS_CLEANUP_REPLAY,
    ServiceSpec,
)
from local_cloud.provision import Provisioned, provision

_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "redrive.py"
_spec = importlib.util.spec_from_file_location("redrive", _SCRIPT)
assert _spec is not None and _spec.loader is not None
redrive = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("redrive", redrive)  # dataclasses look their module up there
_spec.loader.exec_module(redrive)


class InProcess:
    def client(self, service: str) -> Any:
        return boto3.client(service, region_name="us-east-1")


@pytest.fixture
def queues(monkeypatch: pytest.MonkeyPatch) -> Iterator[Provisioned]:
    from moto import mock_aws

    for name in (
        "AWS_ENDPOINT_URL",
        *(
            q.env_var
            for q in (
                FANOUT,
                FANOUT_DISPATCHER_REPLAY,
                TWEETS_CLEANUP_REPLAY,
                ENGAGEMENT_COUNTER_REPLAY,
                SEARCH_INDEX,
            )
        ),
    ):
        monkeypatch.delenv(name, raising=False)  # set when a local cloud runs in this session
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        spec = ServiceSpec(
            tables=(),
            queues=(
                FANOUT,
                FANOUT_DISPATCHER_REPLAY,
                TWEETS_CLEANUP_REPLAY,
                ENGAGEMENT_COUNTER_REPLAY,
                SEARCH_INDEX,
            ),
            buckets=(),
            functions=(),
            routes=(),
            mappings=(),
        )
        yield provision(spec, InProcess())


def _count(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_replay_moves_every_replay_dlq_back_to_its_queue_and_leaves_the_rest(
    queues: Provisioned, capsys: pytest.CaptureFixture[str]
) -> None:
    sqs = boto3.client("sqs", region_name="us-east-1")
    replays = (
        ("fanout-dispatcher-replay", 3),
        ("tweets-cleanup-replay", 12),
        ("engagement-counter-replay", 2),
        ("search-index", 1),
    )
    for queue, n in (*replays, ("fanout", 2)):
        for i in range(n):
            sqs.send_message(QueueUrl=queues.dlq_urls[queue], MessageBody=f'{{"eventID": "{queue}-{i}"}}')

    assert redrive.main(["--replay", "--region", "us-east-1"]) == 0

    assert _count(sqs, queues.queue_urls["fanout-dispatcher-replay"]) == 3
    assert _count(sqs, queues.queue_urls["tweets-cleanup-replay"]) == 12
    assert _count(sqs, queues.dlq_urls["fanout-dispatcher-replay"]) == 0
    assert _count(sqs, queues.dlq_urls["tweets-cleanup-replay"]) == 0
    assert _count(sqs, queues.queue_urls["engagement-counter-replay"]) == 2
    assert _count(sqs, queues.queue_urls["search-index"]) == 1, "the users stream's replays land there"
    assert _count(sqs, queues.dlq_urls["fanout"]) == 2, "only the replay queues"
    printed = capsys.readouterr().out.splitlines()
    assert sorted(line.split(" from ")[0] for line in printed) == [
        "moved 1 message(s)",
        "moved 12 message(s)",
        "moved 2 message(s)",
        "moved 3 message(s)",
    ]


def test_a_queue_is_found_by_its_variable_then_the_stack_outputs_then_its_name(
    queues: Provisioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqs = boto3.client("sqs", region_name="us-east-1")

    class Stack:
        def describe_stacks(self, StackName: str) -> dict[str, Any]:
            assert StackName == "chirp-dev"
            outputs = [
                {"OutputKey": "TweetsCleanupReplayQueueUrl", "OutputValue": "https://deployed/cleanup"}
            ]
            return {"Stacks": [{"Outputs": outputs}]}

    deployed = redrive.stack_queue_urls(Stack(), "chirp-dev")
    assert deployed == {"tweets-cleanup-replay": "https://deployed/cleanup"}
    assert redrive.queue_url(sqs, "tweets-cleanup-replay", deployed) == "https://deployed/cleanup"
    assert (
        redrive.queue_url(sqs, "fanout-dispatcher-replay", deployed)
        == queues.queue_urls["fanout-dispatcher-replay"]
    )
    monkeypatch.setenv("TWEETS_CLEANUP_REPLAY_QUEUE_URL", "https://from/the/environment")
    assert redrive.queue_url(sqs, "tweets-cleanup-replay", deployed) == "https://from/the/environment"
