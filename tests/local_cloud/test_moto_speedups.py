"""The local cloud's moto speed-ups change how fast moto answers, never what it answers.

The speed-ups run in the moto process the local cloud starts; here they are compared with moto's own
code in this process (``mock_aws``), switching them off and on between two identical runs. Those
comparisons turn the speed-ups on for their own length whatever ``LOCAL_CLOUD_MOTO_SPEEDUPS`` says (they
are the oracle for the speed-ups, so ``make test-vanilla`` runs them too), and leave moto as they found it.
Also here: the version guard, and the switch that runs vanilla moto.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local_cloud import moto_speedups
from local_cloud.aws import LocalAws


class InProcess:
    """moto in this process with the speed-ups installed, and its clients."""

    def __init__(self) -> None:
        session = boto3.session.Session(
            aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1"
        )
        # account_id_endpoint_mode: see PITFALLS.md (streams calls to an account host moto ignores)
        config = Config(account_id_endpoint_mode="disabled")
        self._clients = {s: session.client(s, config=config) for s in ("dynamodb", "dynamodbstreams")}

    def client(self, service: str) -> Any:
        return self._clients[service]


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcess]:
    from moto import mock_aws

    saved = {k: os.environ.pop(k) for k in ("AWS_ENDPOINT_URL",) if k in os.environ}
    monkeypatch.setenv(moto_speedups.SWITCH, "on")
    was_installed = moto_speedups.installed()
    moto_speedups.install()
    try:
        with mock_aws():
            yield InProcess()
    finally:
        if not was_installed:
            moto_speedups.uninstall()
        os.environ.update(saved)


def _table(ddb: Any, name: str, stream: bool = True) -> None:
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "owner", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_owner",
                "KeySchema": [
                    {"AttributeName": "owner", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": stream, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )


def _stream_records(aws: InProcess, table: str) -> int:
    ddb, streams = aws.client("dynamodb"), aws.client("dynamodbstreams")
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    return len(streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"])


@pytest.fixture
def vanilla() -> Iterator[None]:
    """moto in this process without the speed-ups for the test's length, as it was afterwards."""
    was_installed = moto_speedups.installed()
    moto_speedups.uninstall()
    try:
        yield
    finally:
        if was_installed:
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv(moto_speedups.SWITCH, "on")
                moto_speedups.install()


def _moto_symbols() -> dict[str, Any]:
    """Each symbol the speed-ups replace, as its owner stores it (so a property, not its value)."""
    import moto.backends as backends
    import moto.core.responses as core_responses
    import moto.dynamodb.models.utilities as utilities
    import moto.dynamodb.responses as responses
    from moto.core.responses import ActionResult
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    owners = {
        "DynamoDBBackend.transact_write_items": DynamoDBBackend,
        "Table.query": Table,
        "ActionResult.execute_result": ActionResult,
        "Item.__init__": Item,
        "Item.project": Item,
        "DynamoHandler.parse_parameters": DynamoHandler,
        "DynamoType.size": DynamoType,
        "DynamoType.cast_value": DynamoType,
        "backends.list_of_moto_modules": backends,
        "core_responses.method_names_from_class": core_responses,
        "utilities.dynamo_to_dict": utilities,
        "responses.dynamo_to_dict": responses,
    }
    return {name: vars(owner).get(name.rsplit(".", 1)[1]) for name, owner in owners.items()}


def test_the_embedded_server_runs_in_its_own_process_patched_as_the_switch_says(aws: LocalAws) -> None:
    status = aws.control("status", {})
    assert status["pid"] != os.getpid()
    assert status["speedups"] is moto_speedups.enabled()
    assert len(status["patched"]) == (len(_moto_symbols()) if moto_speedups.enabled() else 0)


@pytest.mark.parametrize("switch", ["on", "off"])
def test_a_moto_server_patches_moto_only_when_the_switch_is_on(
    monkeypatch: pytest.MonkeyPatch, switch: str
) -> None:
    monkeypatch.setenv(moto_speedups.SWITCH, switch)
    with LocalAws(housekeeping_seconds=0) as server:
        status = server.control("status", {})
    assert status["speedups"] is (switch == "on")
    # Where each symbol's code lives, in the server's process: moto's own files, or not.
    assert len(status["patched"]) == (len(_moto_symbols()) if switch == "on" else 0)


def test_the_switch_off_leaves_moto_unpatched_in_process(
    monkeypatch: pytest.MonkeyPatch, vanilla: None
) -> None:
    before = _moto_symbols()
    monkeypatch.setenv(moto_speedups.SWITCH, "off")
    assert moto_speedups.install() is False
    assert not moto_speedups.installed()
    after = _moto_symbols()
    assert all(after[name] is original for name, original in before.items())
    assert moto_speedups.patched_symbols() == []


def test_uninstall_restores_moto_exactly(monkeypatch: pytest.MonkeyPatch, vanilla: None) -> None:
    before = _moto_symbols()
    monkeypatch.setenv(moto_speedups.SWITCH, "on")
    assert moto_speedups.install() is True
    # As many patches as listed symbols: each patch is among those the guard checks and the server reports.
    assert len(moto_speedups._patches.originals) == len(moto_speedups.patched_symbols()) == len(before)
    assert all(_moto_symbols()[name] is not original for name, original in before.items())
    moto_speedups.uninstall()
    assert all(_moto_symbols()[name] is original for name, original in before.items())
    assert moto_speedups.patched_symbols() == []


def test_the_guard_refuses_another_moto_version(monkeypatch: pytest.MonkeyPatch, vanilla: None) -> None:
    import moto

    monkeypatch.setenv(moto_speedups.SWITCH, "on")
    monkeypatch.setattr(moto, "__version__", "5.3.0")
    with pytest.raises(moto_speedups.UnsupportedMotoError) as refused:
        moto_speedups.install()
    message = str(refused.value)
    assert "moto 5.3.0" in message
    assert f"moto {moto_speedups.SUPPORTED_MOTO_VERSION}" in message
    assert "LOCAL_CLOUD_MOTO_SPEEDUPS=off" in message
    assert "SUPPORTED_MOTO_VERSION = '5.3.0'" in message
    assert not moto_speedups.installed()
    assert moto_speedups.patched_symbols() == []


def test_the_guard_does_not_apply_when_the_switch_is_off(
    monkeypatch: pytest.MonkeyPatch, vanilla: None
) -> None:
    import moto

    monkeypatch.setenv(moto_speedups.SWITCH, "off")
    monkeypatch.setattr(moto, "__version__", "5.3.0")
    assert moto_speedups.install() is False  # vanilla moto is the way to run any other version


@pytest.mark.parametrize(
    ("breakage", "complaint"),
    [
        ("missing", "moto.dynamodb.models.dynamo_type.Item.project is missing"),
        (
            "new parameter",
            "moto.dynamodb.models.dynamo_type.Item.project takes ('self', 'expressions', 'extra')",
        ),
    ],
)
def test_the_guard_refuses_a_moto_whose_patched_symbols_changed(
    monkeypatch: pytest.MonkeyPatch, vanilla: None, breakage: str, complaint: str
) -> None:
    from moto.dynamodb.models.dynamo_type import Item

    monkeypatch.setenv(moto_speedups.SWITCH, "on")
    if breakage == "missing":
        monkeypatch.delattr(Item, "project")
    else:
        monkeypatch.setattr(Item, "project", lambda self, expressions, extra: None)
    with pytest.raises(moto_speedups.UnsupportedMotoError, match=re.escape(complaint)):
        moto_speedups.install()
    assert not moto_speedups.installed()


def test_an_unknown_switch_value_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(moto_speedups.SWITCH, "fast")
    with pytest.raises(ValueError, match="LOCAL_CLOUD_MOTO_SPEEDUPS='fast'"):
        moto_speedups.enabled()


def test_the_supported_moto_version_is_the_pinned_one() -> None:
    requirements = (Path(__file__).resolve().parents[2] / "requirements-dev.txt").read_text()
    pinned = re.search(r"^moto\[[^\]]*\]==(\S+)", requirements, re.MULTILINE)
    assert pinned is not None
    assert pinned.group(1) == moto_speedups.SUPPORTED_MOTO_VERSION


def test_a_cancelled_transaction_leaves_items_and_stream_unchanged(moto: InProcess, name: str) -> None:
    aws = moto
    ddb = aws.client("dynamodb")
    _table(ddb, name)
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "n": {"N": "1"}})
    records = _stream_records(aws, name)
    with pytest.raises(ClientError, match="TransactionCanceled"):
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": name,
                        "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
                        "UpdateExpression": "SET n = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                },
                {"Put": {"TableName": name, "Item": {"pk": {"S": "a"}, "sk": {"S": "2"}}}},
                {
                    "ConditionCheck": {
                        "TableName": name,
                        "Key": {"pk": {"S": "b"}, "sk": {"S": "1"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    items = ddb.query(
        TableName=name, KeyConditionExpression="pk = :a", ExpressionAttributeValues={":a": {"S": "a"}}
    )["Items"]
    assert items == [{"pk": {"S": "a"}, "sk": {"S": "1"}, "n": {"N": "1"}}]
    assert _stream_records(aws, name) == records
    # ... and a transaction that succeeds still applies everything.
    ddb.transact_write_items(
        TransactItems=[{"Put": {"TableName": name, "Item": {"pk": {"S": "a"}, "sk": {"S": "3"}}}}]
    )
    assert "Item" in ddb.get_item(TableName=name, Key={"pk": {"S": "a"}, "sk": {"S": "3"}})
    assert _stream_records(aws, name) == records + 1


def test_queries_answer_the_same_with_and_without_the_speedups(moto: InProcess, name: str) -> None:
    ddb = moto.client("dynamodb")
    _table(ddb, name, stream=False)
    for i in range(60):
        item = {"pk": {"S": f"p{i % 3}"}, "sk": {"S": f"{i:03d}"}, "owner": {"S": f"o{i % 4}"}}
        ddb.put_item(TableName=name, Item=item)
    requests: list[dict[str, Any]] = [
        {"KeyConditionExpression": "pk = :v", "ExpressionAttributeValues": {":v": {"S": "p1"}}},
        {
            "KeyConditionExpression": "pk = :v AND sk < :s",
            "ExpressionAttributeValues": {":v": {"S": "p2"}, ":s": {"S": "040"}},
            "ScanIndexForward": False,
            "Limit": 5,
        },
        {
            "IndexName": "by_owner",
            "KeyConditionExpression": "#o = :v",
            "ExpressionAttributeNames": {"#o": "owner"},
            "ExpressionAttributeValues": {":v": {"S": "o3"}},
            "ScanIndexForward": False,
        },
        {"KeyConditionExpression": "pk = :v", "ExpressionAttributeValues": {":v": {"S": "nobody"}}},
    ]
    fast = [ddb.query(TableName=name, **r) for r in requests]
    moto_speedups.uninstall()
    try:
        plain = [ddb.query(TableName=name, **r) for r in requests]
    finally:
        moto_speedups.install()
    for a, b in zip(fast, plain, strict=True):
        assert (a["Items"], a["Count"], a.get("LastEvaluatedKey")) == (
            b["Items"],
            b["Count"],
            b.get("LastEvaluatedKey"),
        )
    assert [len(r["Items"]) for r in fast] == [20, 5, 15, 0]


def test_item_responses_are_the_same_with_and_without_the_speedups(moto: InProcess, name: str) -> None:
    ddb = moto.client("dynamodb")
    _table(ddb, name, stream=False)
    item = {
        "pk": {"S": "a"},
        "sk": {"S": "1"},
        "owner": {"S": "o"},
        "n": {"N": "1.50"},
        "n2": {"N": "007"},
        "b": {"B": b"\x00\xffhi"},
        "ss": {"SS": ["x", "y"]},
        "ns": {"NS": ["1", "2"]},
        "bs": {"BS": [b"\x01"]},
        "l": {"L": [{"S": "q"}, {"N": "3"}]},
        "m": {"M": {"k": {"BOOL": True}, "z": {"NULL": True}}},
    }
    ddb.put_item(TableName=name, Item=item)
    key = {"pk": {"S": "a"}, "sk": {"S": "1"}}

    def answers() -> list[dict[str, Any]]:
        responses = [
            ddb.get_item(TableName=name, Key=key),
            ddb.get_item(TableName=name, Key={"pk": {"S": "none"}, "sk": {"S": "1"}}),
            ddb.query(
                TableName=name,
                KeyConditionExpression="pk = :a",
                ExpressionAttributeValues={":a": {"S": "a"}},
                ReturnConsumedCapacity="TOTAL",
                Limit=1,
            ),
            ddb.batch_get_item(RequestItems={name: {"Keys": [key, {"pk": {"S": "z"}, "sk": {"S": "9"}}]}}),
            ddb.update_item(
                TableName=name,
                Key=key,
                UpdateExpression="SET #o = :o",  # the same value: both runs see the same item
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":o": {"S": "o"}},
                ReturnValues="ALL_OLD",
            ),
            ddb.scan(TableName=name, Limit=5),
            # projections: top-level strings and numbers (fast path), and anything else (moto's own)
            ddb.batch_get_item(
                RequestItems={
                    name: {
                        "Keys": [key],
                        "ProjectionExpression": "#n, pk, #o, absent, n2",
                        "ExpressionAttributeNames": {"#n": "n", "#o": "owner"},
                    }
                }
            ),
            ddb.get_item(TableName=name, Key=key, ProjectionExpression="b, ss, m.k, l[1]"),
            ddb.query(
                TableName=name,
                IndexName="by_owner",
                KeyConditionExpression="#o = :o",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":o": {"S": "o"}},
                ProjectionExpression="sk, n",
            ),
            ddb.get_item(TableName=name, Key=key),  # the projections above changed nothing stored
        ]
        for response in responses:
            response.pop("ResponseMetadata")
        return responses

    fast = answers()
    moto_speedups.uninstall()
    try:
        plain = answers()
    finally:
        moto_speedups.install()
    assert fast == plain
    assert fast[0]["Item"]["b"] == {"B": b"\x00\xffhi"}


def test_the_item_size_limit_holds_with_the_speedups(moto: InProcess, name: str) -> None:
    ddb = moto.client("dynamodb")
    _table(ddb, name, stream=False)
    small = {"pk": {"S": "a"}, "sk": {"S": "1"}, "x": {"S": "x" * 300_000}}
    ddb.put_item(TableName=name, Item=small)
    too_big = {**small, "y": {"S": "y" * 110_000}}
    with pytest.raises(ClientError, match="Item size has exceeded the maximum allowed size"):
        ddb.put_item(TableName=name, Item=too_big)
    with pytest.raises(ClientError, match="Item size has exceeded the maximum allowed size"):
        ddb.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": too_big}}]})
    assert len(ddb.get_item(TableName=name, Key={"pk": {"S": "a"}, "sk": {"S": "1"}})["Item"]) == 3
