"""The local IAM guard: which actions a request needs, and the refusal AWS gives without them."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from infra.grants import function_grants
from infra.resources import SPEC
from local_cloud.iam import IamGuard, required, statements

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table"


def test_a_transaction_needs_each_items_write_action_on_each_items_table() -> None:
    params = {
        "TransactItems": [
            {"Put": {"TableName": "engagements", "Item": {}}},
            {"Update": {"TableName": "tweets", "Key": {}}},
            {"ConditionCheck": {"TableName": "users", "Key": {}}},
        ]
    }
    assert required("dynamodb", "TransactWriteItems", params) == [
        ("dynamodb:PutItem", f"{TABLE}/engagements"),
        ("dynamodb:UpdateItem", f"{TABLE}/tweets"),
        ("dynamodb:ConditionCheckItem", f"{TABLE}/users"),
    ]


def test_index_queries_batches_and_queues_are_authorised_as_aws_does() -> None:
    query = {"TableName": "tweets", "IndexName": "by_author"}
    assert required("dynamodb", "Query", query) == [("dynamodb:Query", f"{TABLE}/tweets/index/by_author")]
    batch = {"RequestItems": {"tweets": {}, "users": {}}}
    assert required("dynamodb", "BatchGetItem", batch) == [
        ("dynamodb:BatchGetItem", f"{TABLE}/tweets"),
        ("dynamodb:BatchGetItem", f"{TABLE}/users"),
    ]
    send = {"QueueUrl": "http://127.0.0.1:5000/123456789012/fanout"}
    assert required("sqs", "SendMessageBatch", send) == [
        ("sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:fanout")
    ]
    assert required("cognito-idp", "InitiateAuth", {"ClientId": "x"}) == []  # not authorised by IAM


def guard_of(name: str) -> IamGuard:
    return IamGuard(name, statements(function_grants(SPEC, SPEC.function(name)), user_pool_id="pool"))


def test_what_the_grants_allow_passes_and_is_recorded() -> None:
    guard = guard_of("fanout-worker")
    guard.check("dynamodb", "BatchWriteItem", {"RequestItems": {"timelines": []}})
    guard.check("dynamodb", "Query", {"TableName": "timelines"})
    assert guard.used == {"timelines:write", "timelines:read"} and guard.denied == []


@pytest.mark.parametrize(
    ("service", "operation", "params", "code"),
    [
        ("dynamodb", "GetItem", {"TableName": "tweets"}, "AccessDeniedException"),  # not granted
        ("dynamodb", "Scan", {"TableName": "timelines"}, "AccessDeniedException"),  # never granted
        ("dynamodb", "Query", {"TableName": "timelines", "IndexName": "other"}, "AccessDeniedException"),
        ("sqs", "SendMessage", {"QueueUrl": "http://h/123456789012/fanout"}, "AccessDenied"),
    ],
)
def test_anything_else_is_refused_like_aws(service: str, operation: str, params: dict, code: str) -> None:
    guard = guard_of("fanout-worker")
    with pytest.raises(ClientError) as refused:
        guard.check(service, operation, params)
    error = refused.value.response["Error"]
    assert error["Code"] == code
    assert "assumed-role/fanout-worker-role/fanout-worker is not authorized to perform" in error["Message"]
    assert guard.used == set() and len(guard.denied) == 1


def test_an_attached_client_is_refused_before_anything_is_sent() -> None:
    client = guard_of("docs-api").attach(
        boto3.client("dynamodb", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")  # nothing there
    )
    with pytest.raises(ClientError) as refused:
        client.get_item(TableName="users", Key={"pk": {"S": "x"}})
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
