"""The local cloud's moto speed-ups change how fast moto answers, never what it answers."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_cloud import moto_speedups
from local_cloud.aws import LocalAws


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


def _stream_records(aws: LocalAws, table: str) -> int:
    ddb, streams = aws.client("dynamodb"), aws.client("dynamodbstreams")
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    return len(streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"])


def test_the_embedded_server_runs_with_the_speedups(aws: LocalAws) -> None:
    from moto.dynamodb.models import DynamoDBBackend

    assert moto_speedups.installed()
    assert DynamoDBBackend.transact_write_items.__module__ == "local_cloud.moto_speedups"


def test_a_cancelled_transaction_leaves_items_and_stream_unchanged(aws: LocalAws, name: str) -> None:
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


def test_queries_answer_the_same_with_and_without_the_speedups(aws: LocalAws, name: str) -> None:
    ddb = aws.client("dynamodb")
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


def test_item_responses_are_the_same_with_and_without_the_speedups(aws: LocalAws, name: str) -> None:
    ddb = aws.client("dynamodb")
    _table(ddb, name, stream=False)
    item = {
        "pk": {"S": "a"},
        "sk": {"S": "1"},
        "owner": {"S": "o"},
        "n": {"N": "1.50"},
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
