"""A data dir keeps tables, items, queues, objects and Cognito users (same ``sub``) across restarts.

Each phase runs in its own interpreter: moto's state is process-global, so only a new process proves
that the snapshot alone carries the state (and that it unpickles without the writer's objects).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from local_cloud.aws import LocalAws
from local_cloud.persistence import load, save, snapshot_info

_PRELUDE = """
import json, sys
from infra.resources import Bucket, CognitoPool, Key, Queue, Table
from local_cloud.aws import LocalAws
from local_cloud.persistence import Persistence
from local_cloud.provision import provision
from tests.local_cloud.conftest import make_spec
spec = make_spec(
    tables=(Table("profiles", "PROFILES", partition_key=Key("pk"), stream="NEW_IMAGE"),),
    queues=(Queue("jobs", "JOBS_URL"),),
    buckets=(Bucket("media-bucket", "MEDIA"),),
    user_pool=CognitoPool(logical_id="people"),
)
data_dir = sys.argv[1]
"""

_WRITE = """
with LocalAws() as aws:
    persistence = Persistence(aws, data_dir)
    assert persistence.load() is None
    env = provision(spec, aws).environment()
    cognito = aws.client("cognito-idp")
    client_id = env["USER_POOL_CLIENT_ID"]
    sub = cognito.sign_up(ClientId=client_id, Username="ada", Password="Secr3t-pass!")["UserSub"]
    cognito.admin_confirm_sign_up(UserPoolId=env["USER_POOL_ID"], Username="ada")
    aws.client("dynamodb").put_item(TableName="profiles", Item={"pk": {"S": sub}, "name": {"S": "Ada"}})
    aws.client("sqs").send_message(QueueUrl=env["JOBS_URL"], MessageBody="job-1")
    aws.client("s3").put_object(Bucket="media-bucket", Key="a.txt", Body=b"hello")
    # A shard iterator in moto's state must not end up in (or break) the snapshot.
    arn = aws.client("dynamodb").describe_table(TableName="profiles")["Table"]["LatestStreamArn"]
    shard = aws.client("dynamodbstreams").describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    aws.client("dynamodbstreams").get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )
    persistence.save()
print(json.dumps({"sub": sub, "env": env}))
"""

_READ = """
with LocalAws() as aws:
    persistence = Persistence(aws, data_dir)
    assert persistence.load() is not None
    env = provision(spec, aws).environment()
    cognito = aws.client("cognito-idp")
    user = cognito.admin_get_user(UserPoolId=env["USER_POOL_ID"], Username="ada")
    sub = next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")
    cognito.initiate_auth(
        ClientId=env["USER_POOL_CLIENT_ID"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "ada", "PASSWORD": "Secr3t-pass!"},
    )
    item = aws.client("dynamodb").get_item(TableName="profiles", Key={"pk": {"S": sub}})["Item"]
    body = aws.client("sqs").receive_message(QueueUrl=env["JOBS_URL"])["Messages"][0]["Body"]
    obj = aws.client("s3").get_object(Bucket="media-bucket", Key="a.txt")["Body"].read().decode()
    streams = aws.client("dynamodbstreams")
    arn = aws.client("dynamodb").describe_table(TableName="profiles")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
print(json.dumps({"sub": sub, "env": env, "name": item["name"]["S"], "body": body, "object": obj,
                  "stream": [r["eventName"] for r in records]}))
"""


def _run(script: str, data_dir: Path) -> dict[str, object]:
    code = textwrap.dedent(_PRELUDE) + textwrap.dedent(script)
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code, str(data_dir)], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_restart_with_data_dir_keeps_state_and_cognito_sub(tmp_path: Path) -> None:
    before = _run(_WRITE, tmp_path)

    after = _run(_READ, tmp_path)

    assert after["sub"] == before["sub"]
    ids = ("USER_POOL_ID", "USER_POOL_CLIENT_ID", "COGNITO_ISSUER", "PROFILES")
    # Same pool and client ids, so the tokens' issuer is unchanged (URLs differ only by the new port).
    assert {k: after["env"][k] for k in ids} == {k: before["env"][k] for k in ids}  # type: ignore[index]
    assert after["name"] == "Ada"
    assert after["body"] == "job-1"
    assert after["object"] == "hello"
    assert after["stream"] == ["INSERT"]


def test_snapshot_records_checkpoints_and_drops_shard_iterators(aws: LocalAws, tmp_path: Path) -> None:
    from moto.backends import get_backend

    save(tmp_path, aws, checkpoints={"users->projector": "42"})

    snapshot = load(tmp_path, aws)

    assert snapshot is not None and snapshot.checkpoints == {"users->projector": "42"}
    assert snapshot_info(tmp_path)["moto"]  # type: ignore[index]
    for _, _, backend in get_backend("dynamodbstreams").iter_backends():  # type: ignore[call-overload]
        assert backend.shard_iterators == {}


def test_load_without_snapshot_means_fresh_state(aws: LocalAws, tmp_path: Path) -> None:
    assert load(tmp_path / "empty", aws) is None
