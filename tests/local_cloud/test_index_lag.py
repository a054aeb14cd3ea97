"""LOCAL_CHAOS index_lag_ms: global secondary indexes see writes late; the base table and LSIs do not."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from local_cloud.aws import LocalAws

LAG_MS = 300


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    with LocalAws(housekeeping_seconds=0, index_lag_ms=LAG_MS) as running:
        yield running


def S(value: str) -> dict[str, str]:
    return {"S": value}


@pytest.fixture
def table(aws: LocalAws, name: str) -> str:
    aws.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "g")],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by_pk_g",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "g", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def item(pk: str, value: str, g: str = "x") -> dict[str, Any]:
    return {"pk": S(pk), "sk": S("1"), "g": S(g), "v": S(value)}


def on_gsi(aws: LocalAws, table: str, g: str = "x") -> list[str]:
    response = aws.client("dynamodb").query(
        TableName=table,
        IndexName="by_g",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": S(g)},
    )
    return sorted(f"{i['pk']['S']}={i['v']['S']}" for i in response["Items"])


def on_table(aws: LocalAws, table: str, pk: str) -> str | None:
    got = aws.client("dynamodb").get_item(
        TableName=table, Key={"pk": S(pk), "sk": S("1")}, ConsistentRead=True
    )
    return got["Item"]["v"]["S"] if "Item" in got else None


def after_the_lag() -> None:
    time.sleep(LAG_MS / 1000 + 0.05)


def test_a_new_item_is_missing_from_the_index_until_the_lag_passes_while_the_table_has_it(
    aws: LocalAws, table: str
) -> None:
    ddb = aws.client("dynamodb")
    ddb.put_item(TableName=table, Item=item("a", "v1"))
    assert on_gsi(aws, table) == []
    assert on_table(aws, table, "a") == "v1"
    base = ddb.query(
        TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("a")}
    )
    local = ddb.query(
        TableName=table,
        IndexName="by_pk_g",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": S("a")},
    )
    assert base["Count"] == 1 and local["Count"] == 1, "the base table and local indexes are exact"
    assert (
        ddb.scan(TableName=table, IndexName="by_g")["Count"] == 0 and ddb.scan(TableName=table)["Count"] == 1
    )
    after_the_lag()
    assert on_gsi(aws, table) == ["a=v1"]


def test_an_updated_item_shows_its_old_image_and_a_deleted_one_stays_until_the_lag_passes(
    aws: LocalAws, table: str
) -> None:
    ddb = aws.client("dynamodb")
    ddb.put_item(TableName=table, Item=item("a", "v1"))
    after_the_lag()
    ddb.update_item(
        TableName=table,
        Key={"pk": S("a"), "sk": S("1")},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": S("v2")},
    )
    ddb.update_item(
        TableName=table,
        Key={"pk": S("a"), "sk": S("1")},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": S("v3")},
    )
    assert on_gsi(aws, table) == ["a=v1"], "the image as of the lag ago, before both updates"
    assert on_table(aws, table, "a") == "v3"
    after_the_lag()
    assert on_gsi(aws, table) == ["a=v3"]
    ddb.delete_item(TableName=table, Key={"pk": S("a"), "sk": S("1")})
    assert on_gsi(aws, table) == ["a=v3"] and on_table(aws, table, "a") is None
    after_the_lag()
    assert on_gsi(aws, table) == []


def test_an_item_moving_between_index_partitions_is_in_the_old_one_until_the_lag_passes(
    aws: LocalAws, table: str
) -> None:
    ddb = aws.client("dynamodb")
    ddb.put_item(TableName=table, Item=item("a", "v1", g="x"))
    after_the_lag()
    ddb.put_item(TableName=table, Item=item("a", "v2", g="y"))
    assert (on_gsi(aws, table, "x"), on_gsi(aws, table, "y")) == (["a=v1"], [])
    after_the_lag()
    assert (on_gsi(aws, table, "x"), on_gsi(aws, table, "y")) == ([], ["a=v2"])


def test_batch_writes_and_transactions_lag_but_a_cancelled_transaction_changes_nothing(
    aws: LocalAws, table: str
) -> None:
    ddb = aws.client("dynamodb")
    ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": item(k, "b")}} for k in ("a", "b")]})
    ddb.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": item("c", "t")}}])
    assert on_gsi(aws, table) == []
    after_the_lag()
    assert on_gsi(aws, table) == ["a=b", "b=b", "c=t"]
    hidden = aws.index_lag()["hidden"]
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": item("d", "t")}},
                {
                    "Put": {
                        "TableName": table,
                        "Item": item("a", "changed"),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    assert on_gsi(aws, table) == ["a=b", "b=b", "c=t"]
    assert aws.index_lag()["hidden"] == hidden, "nothing changed, so nothing was recorded or hidden"


def test_the_lag_is_counted_reports_when_indexes_catch_up_and_can_be_switched_off(
    aws: LocalAws, table: str
) -> None:
    ddb = aws.client("dynamodb")
    before = aws.index_lag()["hidden"]
    ddb.put_item(TableName=table, Item=item("a", "v1"))
    status = aws.index_lag()
    assert status["lag_ms"] == LAG_MS and 0 < status["remaining_ms"] <= LAG_MS
    on_gsi(aws, table)
    assert aws.index_lag()["hidden"] == before + 1
    try:
        aws.index_lag(0)
        ddb.put_item(TableName=table, Item=item("b", "v1"))
        assert on_gsi(aws, table) == ["a=v1", "b=v1"], "no lag: every index is exact at once"
        assert aws.index_lag()["remaining_ms"] == 0
    finally:
        aws.index_lag(LAG_MS)


def test_the_lag_refuses_a_moto_it_was_not_checked_against(monkeypatch: pytest.MonkeyPatch) -> None:
    from local_cloud import index_lag
    from local_cloud.moto_patching import UnsupportedMotoError

    monkeypatch.setattr(index_lag, "moto_version", lambda: "99.0.0")
    with pytest.raises(UnsupportedMotoError, match=r"index_lag supports moto 5\.2\.5 only"):
        index_lag.check_supported()
    monkeypatch.undo()
    index_lag.check_supported()  # the pinned moto has every symbol it relies on


def test_the_lag_on_motos_own_table_object_follows_the_clock_and_restores_the_table() -> None:
    # In-process, with a clock: the lag reads moto's Table attributes (items, key names, global
    # indexes), which the symbol check cannot see, exactly as they are.
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    from local_cloud.index_lag import IndexLag

    now = [100.0]
    lag = IndexLag(clock=lambda: now[0])
    lag.set_lag(500)
    table = Table(
        "t",
        account_id="123456789012",
        region="us-east-1",
        schema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        attr=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "g", "AttributeType": "S"}],
        global_indexes=[
            {
                "IndexName": "by_g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    backend = type("Backend", (), {"tables": {"t": table}})()
    attrs = {"pk": S("a"), "g": S("x")}
    lag.write(backend, "PutItem", {"TableName": "t", "Item": attrs}, lambda: table.put_item(attrs))

    def index_read() -> list[str]:
        params = {"TableName": "t", "IndexName": "by_g"}
        return lag.read(backend, params, lambda: [i.attrs["pk"].value for i in table.all_items()])

    assert index_read() == [] and lag.hidden == 1
    assert table.get_item(DynamoType(S("a"))) is not None, "the table holds its current items again"
    assert lag.remaining_seconds() == pytest.approx(0.5)
    now[0] += 0.6
    assert index_read() == ["a"] and lag.remaining_seconds() == 0
