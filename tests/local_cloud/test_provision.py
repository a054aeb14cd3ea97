"""Provisioning from the spec: idempotent, complete, and described from what moto really holds."""

from __future__ import annotations

import json
import urllib.request

import jwt
import pytest
from botocore.exceptions import ClientError

from infra.resources import Bucket, CognitoPool, Index, Key, Queue, Table
from local_cloud.aws import LocalAws
from local_cloud.provision import describe_local, provision
from tests.local_cloud.conftest import make_spec


def _spec(name: str):  # type: ignore[no-untyped-def]
    table = Table(
        logical_id=f"{name}-posts",
        env_var="POSTS_TABLE_NAME",
        partition_key=Key("pk"),
        sort_key=Key("sk"),
        indexes=(
            Index("by-author", Key("author"), Key("created", "N")),
            Index("by-score", Key("pk"), Key("score", "N"), local=True),
        ),
        stream="NEW_AND_OLD_IMAGES",
        ttl_attribute="expires_at",
    )
    queue = Queue(f"{name}-fanout", "FANOUT_QUEUE_URL", visibility_timeout_seconds=7, max_receive_count=4)
    return make_spec(
        tables=(table,),
        queues=(queue,),
        buckets=(Bucket(f"{name}-media", "MEDIA_BUCKET_NAME"),),
        user_pool=CognitoPool(logical_id=f"{name}-users", password_min_length=10),
    )


def test_provision_twice_reuses_every_resource(aws: LocalAws, name: str) -> None:
    spec = _spec(name)

    first = provision(spec, aws)
    second = provision(spec, aws)

    assert first.environment() == second.environment()
    env = first.environment()
    assert env["POSTS_TABLE_NAME"] == f"{name}-posts"
    assert env["FANOUT_QUEUE_URL"].endswith(f"/{name}-fanout")
    assert env["MEDIA_BUCKET_NAME"] == f"{name}-media"
    assert env["COGNITO_ISSUER"] == f"https://cognito-idp.us-east-1.amazonaws.com/{env['USER_POOL_ID']}"
    assert first.stream_arns[f"{name}-posts"].startswith("arn:aws:dynamodb:us-east-1:")
    assert first.dlq_urls[f"{name}-fanout"].endswith(f"/{name}-fanout-dlq")


def test_described_resources_match_the_spec(aws: LocalAws, name: str) -> None:
    provisioned = provision(_spec(name), aws)

    described = describe_local(aws, provisioned)

    assert described == {
        "tables": {
            f"{name}-posts": {
                "keys": [("pk", "HASH", "S"), ("sk", "RANGE", "S")],
                "indexes": {
                    "by-author": {
                        "keys": [("author", "HASH", "S"), ("created", "RANGE", "N")],
                        "local": False,
                    },
                    "by-score": {"keys": [("pk", "HASH", "S"), ("score", "RANGE", "N")], "local": True},
                },
                "stream": "NEW_AND_OLD_IMAGES",
                "ttl": "expires_at",
            }
        },
        "queues": {
            f"{name}-fanout": {"dlq": f"{name}-fanout-dlq", "max_receive_count": 4, "visibility_timeout": 7}
        },
    }


def test_description_is_read_back_from_moto(aws: LocalAws, name: str) -> None:
    provisioned = provision(_spec(name), aws)
    url = provisioned.queue_urls[f"{name}-fanout"]
    aws.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "99"})

    described = describe_local(aws, provisioned)

    assert described["queues"][f"{name}-fanout"]["visibility_timeout"] == 99


def test_bucket_allows_browser_post_uploads(aws: LocalAws, name: str) -> None:
    provision(_spec(name), aws)

    rules = aws.client("s3").get_bucket_cors(Bucket=f"{name}-media")["CORSRules"]

    assert "POST" in rules[0]["AllowedMethods"]


def test_user_pool_enforces_password_policy_and_serves_jwks(aws: LocalAws, name: str) -> None:
    env = provision(_spec(name), aws).environment()
    cognito = aws.client("cognito-idp")

    with pytest.raises(ClientError) as weak:
        cognito.sign_up(ClientId=env["USER_POOL_CLIENT_ID"], Username="weak", Password="Sh0rt!")
    cognito.sign_up(ClientId=env["USER_POOL_CLIENT_ID"], Username="strong", Password="L0ng-enough!")
    cognito.admin_confirm_sign_up(UserPoolId=env["USER_POOL_ID"], Username="strong")
    tokens = cognito.initiate_auth(
        ClientId=env["USER_POOL_CLIENT_ID"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "strong", "PASSWORD": "L0ng-enough!"},
    )["AuthenticationResult"]
    with urllib.request.urlopen(env["COGNITO_JWKS_URL"]) as response:
        jwks = json.load(response)

    assert weak.value.response["Error"]["Code"] == "InvalidPasswordException"
    assert tokens["RefreshToken"]
    # The moto process signs with a key of its own (not moto's published one) and publishes only it.
    assert [key["kid"] for key in jwks["keys"]] == [jwt.get_unverified_header(tokens["AccessToken"])["kid"]]
    assert "dummy" not in {key["kid"] for key in jwks["keys"]}


def test_external_endpoint_starts_nothing(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> None:
    external = LocalAws(endpoint_url=aws.endpoint_url)
    for var in external.environment():
        monkeypatch.delenv(var, raising=False)

    with external:
        external.apply_env()
        tables = external.client("dynamodb").list_tables()

    import os

    assert not external.embedded
    assert os.environ["AWS_ENDPOINT_URL"] == aws.endpoint_url
    assert os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] == "disabled"
    assert "TableNames" in tables
    with pytest.raises(RuntimeError):
        external.reset()
