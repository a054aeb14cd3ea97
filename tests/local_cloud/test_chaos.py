"""LOCAL_CHAOS: AWS's faults beneath botocore's retries, partial batches, redeliveries and delays."""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import Counter
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from infra.resources import EventSourceMapping, Key, Queue, Table
from local_cloud.aws import LocalAws
from local_cloud.chaos import REPORT_KEYS, ChaosSettings, FaultInjector, fault_response, report
from local_cloud.pollers import PollerGroup
from local_cloud.provision import provision
from tests.local_cloud.conftest import make_spec

Event = dict[str, Any]


# -- settings ----------------------------------------------------------------------------------------
def test_settings_parse_every_key_and_read_back_their_own_text() -> None:
    settings = ChaosSettings.parse(" seed=7, faults=0.25,redeliver=0.1 ,index_lag_ms=500,delay_ms=40 ")
    assert settings == ChaosSettings(seed=7, faults=0.25, redeliver=0.1, index_lag_ms=500, delay_ms=40)
    assert ChaosSettings.parse(settings.text()) == settings
    assert settings.active
    line = settings.describe()
    assert "\n" not in line and "faults=0.25" in line and "index_lag_ms=500" in line


def test_no_settings_or_a_seed_alone_is_no_chaos() -> None:
    for text in (None, "", "seed=3"):
        settings = ChaosSettings.parse(text)
        assert not settings.active
        assert settings.describe() == "chaos: off"


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("fault=0.1", "unknown key 'fault'"),
        ("faults=1", "faults=1 is a share"),
        ("faults=1.5", "faults=1.5 is a share"),
        ("redeliver=-0.1", "redeliver=-0.1 is a share"),
        ("faults=nan", "faults=nan is a share"),
        ("faults=lots", "faults='lots' is not a number"),
        ("index_lag_ms=0.5", "index_lag_ms='0.5' is not a whole number"),
        ("delay_ms=-1", "delay_ms=-1 must be 0..60000"),
        ("index_lag_ms=600000", "index_lag_ms=600000 must be 0..60000"),
        ("faults=0.1,faults=0.2", "faults is given twice"),
        ("faults", "'faults' is not key=value"),
    ],
)
def test_settings_that_make_no_sense_are_refused_naming_the_key(text: str, names: str) -> None:
    with pytest.raises(ValueError, match="LOCAL_CHAOS") as refused:
        ChaosSettings.parse(text)
    assert names in str(refused.value)


def test_the_local_cloud_reads_local_chaos_from_the_environment_when_not_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from local_cloud.runtime import LocalCloud

    monkeypatch.setenv("LOCAL_CHAOS", "seed=2,redeliver=0.5")
    assert LocalCloud(port=0).chaos == ChaosSettings(seed=2, redeliver=0.5)
    assert LocalCloud(port=0, chaos="faults=0.1").chaos == ChaosSettings(faults=0.1)
    assert not LocalCloud(port=0, chaos="").chaos.active  # explicit: none, whatever the environment
    monkeypatch.setenv("LOCAL_CHAOS", "faults=2")
    with pytest.raises(ValueError, match="faults=2"):
        LocalCloud(port=0)


def test_make_dev_refuses_unreadable_chaos_before_starting_anything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from local_cloud.__main__ import main

    monkeypatch.setenv("LOCAL_CHAOS", "faults=0.1,typo=1")
    assert main(["--port", "0"]) == 2
    assert "unknown key 'typo'" in capsys.readouterr().err


def test_the_report_has_every_key_and_sums_its_parts() -> None:
    total = report([{"throttle": 2, "sdk_retries": 3}, {"throttle": 1, "redelivered_sqs": 4}])
    assert list(total) == list(REPORT_KEYS)
    assert (total["throttle"], total["sdk_retries"], total["redelivered_sqs"], total["500"]) == (3, 3, 4, 0)


# -- faults beneath botocore's retries ----------------------------------------------------------------
def _client(aws: LocalAws, service: str, attempts: int) -> Any:
    config = Config(
        retries={"total_max_attempts": attempts, "mode": "standard"}, account_id_endpoint_mode="disabled"
    )
    return boto3.session.Session(
        aws_access_key_id="local", aws_secret_access_key="local", region_name=aws.region
    ).client(service, endpoint_url=aws.endpoint_url, config=config)


CALLS = {
    "dynamodb": lambda c: c.list_tables(Limit=1),
    "sqs": lambda c: c.list_queues(MaxResults=1),
    "cognito-idp": lambda c: c.list_user_pools(MaxResults=1),
}
EVENT_SERVICE = {"dynamodb": "dynamodb", "sqs": "sqs", "cognito-idp": "cognito-identity-provider"}


def _answer_first_attempts(client: Any, service: str, kind: str, times: int) -> None:
    left = {"n": times}

    def fault(request: Any, **_: Any) -> Any:
        if left["n"] <= 0:
            return None
        left["n"] -= 1
        return fault_response(EVENT_SERVICE[service], kind, request)

    client.meta.events.register("before-send", fault)


@pytest.mark.parametrize(
    ("service", "kind", "code", "status"),
    [
        ("dynamodb", "throttle", "ProvisionedThroughputExceededException", 400),
        ("dynamodb", "500", "InternalServerError", 500),
        ("dynamodb", "503", "ServiceUnavailable", 503),
        ("sqs", "throttle", "RequestThrottled", 400),
        ("sqs", "500", "InternalFailure", 500),
        ("cognito-idp", "throttle", "TooManyRequestsException", 400),
        ("cognito-idp", "503", "ServiceUnavailable", 503),
    ],
)
def test_each_fault_is_the_error_aws_sends_and_botocore_retries_it(
    aws: LocalAws, service: str, kind: str, code: str, status: int
) -> None:
    # Given a fault on the only attempt: the caller sees the service's error code and status.
    once = _client(aws, service, attempts=1)
    _answer_first_attempts(once, service, kind, times=1)
    with pytest.raises(ClientError) as failed:
        CALLS[service](once)
    assert failed.value.response["Error"]["Code"] == code
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    # Given a fault on the first of two attempts: botocore's retry handler retries it, and it succeeds.
    twice = _client(aws, service, attempts=2)
    _answer_first_attempts(twice, service, kind, times=1)
    assert CALLS[service](twice)["ResponseMetadata"]["RetryAttempts"] == 1


def _table(aws: LocalAws, name: str) -> str:
    aws.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def _counter(aws: LocalAws, table: str) -> int:
    item = aws.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": "n"}}, ConsistentRead=True)
    return int(item.get("Item", {}).get("n", {}).get("N", "0"))


def test_faulted_attempts_apply_nothing_and_every_fault_is_retried_or_given_up(
    aws: LocalAws, name: str
) -> None:
    table = _table(aws, name)
    injector = FaultInjector(ChaosSettings(seed=11, faults=0.4), scope="probe")
    client = injector.attach(_client(aws, "dynamodb", attempts=4))
    applied = 0
    for _ in range(12):  # not idempotent: an attempt applied twice would show in the count
        try:
            client.update_item(
                TableName=table,
                Key={"pk": {"S": "n"}},
                UpdateExpression="ADD n :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
            applied += 1
        except ClientError:
            pass
    counts = injector.counts.snapshot()
    faults = counts["throttle"] + counts["500"] + counts["503"]
    assert faults > 0 and counts["sdk_retries"] > 0
    assert counts["sdk_retries"] + counts["sdk_gave_up"] == faults
    assert applied == 12 - counts["sdk_gave_up"]
    assert _counter(aws, table) == applied, "a faulted attempt never reached moto"


def test_the_same_seed_and_scope_inject_the_same_faults(aws: LocalAws) -> None:
    def run(scope: str) -> list[str]:
        injector = FaultInjector(ChaosSettings(seed=5, faults=0.5), scope=scope)
        client = injector.attach(_client(aws, "sqs", attempts=1))
        outcomes = []
        for _ in range(12):
            try:
                client.list_queues(MaxResults=1)
                outcomes.append("ok")
            except ClientError as error:
                outcomes.append(str(error.response["Error"]["Code"]))
        return outcomes

    assert run("a") == run("a")
    assert run("a") != run("b")


def test_batch_writes_come_back_partly_unprocessed_and_what_was_held_back_was_not_written(
    aws: LocalAws, name: str
) -> None:
    table = _table(aws, name)
    injector = FaultInjector(ChaosSettings(seed=3, faults=0.6), scope="probe")
    client = injector.attach(_client(aws, "dynamodb", attempts=1))  # whole-call faults: just call again
    wanted = {f"k{i}" for i in range(10)}
    requests = [{"PutRequest": {"Item": {"pk": {"S": k}}}} for k in sorted(wanted)]
    partial = None
    while partial is None:
        try:
            response = client.batch_write_item(RequestItems={table: requests})
        except ClientError:
            continue
        if response.get("UnprocessedItems"):
            partial = response["UnprocessedItems"][table]
    held = {r["PutRequest"]["Item"]["pk"]["S"] for r in partial}
    stored = {i["pk"]["S"] for i in aws.client("dynamodb").scan(TableName=table)["Items"]}
    assert held and stored and held | stored == wanted and not held & stored
    assert injector.counts.snapshot()["unprocessed_items"] >= 1


def test_batch_reads_come_back_partly_unprocessed_with_their_read_settings(aws: LocalAws, name: str) -> None:
    table = _table(aws, name)
    ddb = aws.client("dynamodb")
    for i in range(6):
        ddb.put_item(TableName=table, Item={"pk": {"S": f"k{i}"}, "v": {"S": "x"}})
    injector = FaultInjector(ChaosSettings(seed=4, faults=0.6), scope="probe")
    client = injector.attach(_client(aws, "dynamodb", attempts=1))
    keys = [{"pk": {"S": f"k{i}"}} for i in range(6)]
    request = {table: {"Keys": keys, "ProjectionExpression": "pk", "ConsistentRead": True}}
    while True:
        try:
            response = client.batch_get_item(RequestItems=request)
        except ClientError:
            continue
        if response.get("UnprocessedKeys"):
            break
    unprocessed = response["UnprocessedKeys"][table]
    got = {i["pk"]["S"] for i in response["Responses"].get(table, [])}
    missing = {k["pk"]["S"] for k in unprocessed["Keys"]}
    assert got | missing == {f"k{i}" for i in range(6)} and not got & missing
    assert unprocessed["ProjectionExpression"] == "pk" and unprocessed["ConsistentRead"] is True
    assert injector.counts.snapshot()["unprocessed_keys"] >= 1


# -- in a function's process --------------------------------------------------------------------------
def count_up(event: Event, context: Any) -> dict[str, Any]:
    """A function (run in its own process by the tests below): ADD 1 to a counter ``times`` times."""
    client = boto3.client("dynamodb", config=Config(retries={"max_attempts": 8, "mode": "standard"}))
    for _ in range(int(event["times"])):
        client.update_item(
            TableName=event["table"],
            Key={"pk": {"S": "n"}},
            UpdateExpression="ADD n :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
    return {"done": int(event["times"])}


def _function(aws: LocalAws, table: str, chaos: str | None) -> Any:
    from local_cloud.lambda_runtime import FunctionProcess

    env = {"PATH": os.environ["PATH"], **aws.environment()}
    grant = {
        "grant": "t:write",
        "actions": ["dynamodb:UpdateItem"],
        "resource": f"arn:aws:dynamodb:*:*:table/{table}",
    }
    return FunctionProcess(
        "probe", "tests.local_cloud.test_chaos.count_up", env, [grant], region=aws.region, chaos=chaos
    )


def test_a_functions_calls_under_faults_are_retried_by_botocore_and_succeed(aws: LocalAws, name: str) -> None:
    from local_cloud.lambda_runtime import LocalLambdaContext

    table = _table(aws, name)
    process = _function(aws, table, chaos="seed=1,faults=0.3")
    try:
        assert process({"table": table, "times": 8}, LocalLambdaContext("probe")) == {"done": 8}
        counts = process.chaos_counts()
    finally:
        process.stop()
    faults = counts["throttle"] + counts["500"] + counts["503"]
    assert faults > 0 and counts["sdk_retries"] == faults and counts["sdk_gave_up"] == 0
    assert _counter(aws, table) == 8, "every call applied once: faulted attempts never reached moto"


def test_a_function_without_chaos_has_no_injector_and_changing_chaos_keeps_the_counts(
    aws: LocalAws, name: str
) -> None:
    from local_cloud.lambda_runtime import LocalLambdaContext

    table = _table(aws, name)
    process = _function(aws, table, chaos=None)
    try:
        process({"table": table, "times": 3}, LocalLambdaContext("probe"))
        assert set(process.chaos_counts().values()) == {0}
        process.set_chaos("seed=2,faults=0.5")  # recycled: the next invocation starts with the injector
        process({"table": table, "times": 4}, LocalLambdaContext("probe"))
        during = process.chaos_counts()
        process.set_chaos(None)
        process({"table": table, "times": 1}, LocalLambdaContext("probe"))
        after = process.chaos_counts()
    finally:
        process.stop()
    assert during["sdk_retries"] > 0 and after == during
    assert _counter(aws, table) == 8


# -- pollers: redeliveries and delays -----------------------------------------------------------------
class Recorder:
    """A handler that records every record it is given, in order."""

    def __init__(self) -> None:
        self.records: list[Event] = []
        self.batches: list[list[Event]] = []
        self._lock = threading.Lock()

    def __call__(self, event: Event, context: Any) -> Any:
        with self._lock:
            self.batches.append(list(event["Records"]))
            self.records.extend(event["Records"])
        return {"batchItemFailures": []}


def _queue(aws: LocalAws, name: str, batch_size: int = 10) -> tuple[Any, Any, str]:
    queue = Queue(name, "Q_URL", visibility_timeout_seconds=5, max_receive_count=5)
    esm = EventSourceMapping(function="consumer", source=name, kind="queue", batch_size=batch_size)
    spec = make_spec(queues=(queue,), mappings=(esm,))
    provisioned = provision(spec, aws)
    return spec, provisioned, provisioned.queue_urls[name]


def _send(aws: LocalAws, url: str, count: int) -> None:
    sqs = aws.client("sqs")
    for start in range(0, count, 10):
        entries = [{"Id": str(i), "MessageBody": str(i)} for i in range(start, min(count, start + 10))]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)


def test_redelivered_sqs_messages_reach_the_handler_twice_with_the_same_message_id(
    aws: LocalAws, name: str
) -> None:
    spec, provisioned, url = _queue(aws, name)
    _send(aws, url, 10)
    handler = Recorder()
    chaos = ChaosSettings(seed=1, redeliver=0.5)
    with PollerGroup(
        spec, provisioned, aws, handlers={"consumer": handler}, poll_interval=0.05, chaos=chaos
    ) as group:
        group.drain(timeout=20)
        counts = group.chaos_counts.snapshot()

    deliveries = Counter(r["messageId"] for r in handler.records)
    twice = [m for m, n in deliveries.items() if n == 2]
    assert len(deliveries) == 10 and set(deliveries.values()) <= {1, 2}
    assert twice and counts["redelivered_sqs"] == len(twice)
    for message_id in twice:
        first, again = [r for r in handler.records if r["messageId"] == message_id]
        assert first["body"] == again["body"]
        assert (
            first["attributes"]["ApproximateReceiveCount"],
            again["attributes"]["ApproximateReceiveCount"],
        ) == (
            "1",
            "2",
        )
    assert (
        aws.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
        == "0"
    )


def test_delayed_sqs_deliveries_come_out_of_order_and_drain_waits_for_them(aws: LocalAws, name: str) -> None:
    spec, provisioned, url = _queue(aws, name)
    _send(aws, url, 30)
    handler = Recorder()
    chaos = ChaosSettings(seed=2, delay_ms=300)
    with PollerGroup(
        spec, provisioned, aws, handlers={"consumer": handler}, poll_interval=0.05, chaos=chaos
    ) as group:
        group.drain(timeout=20)
        delivered = [int(r["body"]) for r in handler.records]  # read at once: drain returned
        counts = group.chaos_counts.snapshot()

    assert sorted(delivered) == list(range(30)), "each exactly once, all before drain returned"
    assert delivered != list(range(30)), "held back in shuffled groups: not in the order sent"
    assert counts["delayed"] >= 3 and counts["redelivered_sqs"] == 0


def _stream_table(aws: LocalAws, name: str) -> tuple[Any, Any, Any]:
    table = Table(name, "T_NAME", Key("pk"), stream="NEW_AND_OLD_IMAGES")
    esm = EventSourceMapping(function="consumer", source=name, kind="stream", batch_size=3)
    spec = make_spec(tables=(table,), mappings=(esm,))
    return spec, provision(spec, aws), esm


def test_redelivered_stream_batches_repeat_the_same_records_in_order(aws: LocalAws, name: str) -> None:
    spec, provisioned, _ = _stream_table(aws, name)
    for i in range(9):
        aws.client("dynamodb").put_item(TableName=provisioned.table_names[name], Item={"pk": {"S": f"k{i}"}})
    handler = Recorder()
    chaos = ChaosSettings(seed=3, redeliver=0.9)
    with PollerGroup(
        spec, provisioned, aws, handlers={"consumer": handler}, poll_interval=0.05, chaos=chaos
    ) as group:
        group.drain(timeout=20)
        counts = group.chaos_counts.snapshot()

    ids = [[r["eventID"] for r in batch] for batch in handler.batches]
    repeats = [b for previous, b in itertools.pairwise(ids) if b == previous]
    assert repeats and counts["redelivered_stream"] == len(repeats)
    distinct = [b for i, b in enumerate(ids) if i == 0 or b != ids[i - 1]]
    keys = [r["dynamodb"]["Keys"]["pk"]["S"] for batch in handler.batches for r in batch]
    assert sum(len(b) for b in distinct) == 9 and list(dict.fromkeys(keys)) == [f"k{i}" for i in range(9)]


def test_delayed_stream_batches_keep_the_shards_order(aws: LocalAws, name: str) -> None:
    spec, provisioned, _ = _stream_table(aws, name)
    table = provisioned.table_names[name]
    handler = Recorder()
    chaos = ChaosSettings(seed=4, delay_ms=150)
    with PollerGroup(
        spec, provisioned, aws, handlers={"consumer": handler}, poll_interval=0.02, chaos=chaos
    ) as group:
        for i in range(6):
            aws.client("dynamodb").put_item(TableName=table, Item={"pk": {"S": f"k{i}"}})
            time.sleep(0.03)
        group.drain(timeout=20)
        counts = group.chaos_counts.snapshot()

    keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in handler.records]
    assert keys == [f"k{i}" for i in range(6)] and counts["delayed"] >= 1


def test_pollers_without_chaos_count_nothing_and_deliver_once(aws: LocalAws, name: str) -> None:
    spec, provisioned, url = _queue(aws, name)
    _send(aws, url, 10)
    handler = Recorder()
    with PollerGroup(spec, provisioned, aws, handlers={"consumer": handler}, poll_interval=0.05) as group:
        group.drain(timeout=20)
        counts = group.chaos_counts.snapshot()
    assert sorted(int(r["body"]) for r in handler.records) == list(range(10))
    assert set(counts.values()) == {0}
