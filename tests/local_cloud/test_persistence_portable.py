"""The portable snapshot carries a data dir across moto versions (``local_cloud/portable.py``).

Another moto version is simulated by rewriting the pickle's header to name one: this moto must then
refuse the pickle and start from the portable snapshot alone. Each phase runs in its own interpreter
(moto's state is process-global), with the speed-ups on and off.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from local_cloud.aws import LocalAws
from local_cloud.persistence import SNAPSHOT_FILE, SnapshotError, load
from local_cloud.portable import PORTABLE_FILE, read_portable

_PRELUDE = """
import json, sys
from infra.resources import Bucket, CognitoPool, Index, Key, Queue, Table
from local_cloud.aws import LocalAws
from local_cloud.persistence import Persistence
from local_cloud.provision import provision
from tests.local_cloud.conftest import make_spec
spec = make_spec(
    tables=(
        Table("profiles", "PROFILES", partition_key=Key("pk"), stream="NEW_IMAGE", ttl_attribute="expires"),
        Table(
            "posts", "POSTS", partition_key=Key("pk"), sort_key=Key("sk", "N"),
            indexes=(Index("by-author", Key("author")),),
        ),
    ),
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
    sub = cognito.sign_up(
        ClientId=env["USER_POOL_CLIENT_ID"], Username="ada", Password="Secr3t-pass!",
        UserAttributes=[{"Name": "email", "Value": "ada@example.com"}],
    )["UserSub"]
    cognito.admin_confirm_sign_up(UserPoolId=env["USER_POOL_ID"], Username="ada")
    ddb = aws.client("dynamodb")
    profile = {"pk": {"S": sub}, "name": {"S": "Ada"}, "avatar": {"B": b"\\x00\\xffpng"},
               "tags": {"SS": ["a", "b"]}, "prefs": {"M": {"dark": {"BOOL": True}, "n": {"N": "1.5"}}},
               "expires": {"N": "4102444800"}}
    ddb.put_item(TableName="profiles", Item=profile)
    for n in range(30):
        ddb.put_item(TableName="posts", Item={"pk": {"S": "p"}, "sk": {"N": str(n)}, "author": {"S": sub},
                                               "none": {"NULL": True}, "ids": {"NS": ["1", "2"]}})
    sqs = aws.client("sqs")
    attributes = {"kind": {"DataType": "String", "StringValue": "welcome"},
                  "blob": {"DataType": "Binary", "BinaryValue": b"\\x01\\x02"}}
    sent = sqs.send_message(QueueUrl=env["JOBS_URL"], MessageBody="job-1", MessageAttributes=attributes)
    # Received once and left in flight: a portable load makes it visible again, receive count kept.
    received = sqs.receive_message(QueueUrl=env["JOBS_URL"], VisibilityTimeout=600, AttributeNames=["All"])
    first = received["Messages"][0]["Attributes"]
    s3 = aws.client("s3")
    s3.put_object(Bucket="media-bucket", Key="dir/a b.txt", Body=b"hello", ContentType="text/plain",
                  Metadata={"owner": sub}, Tagging="kind=avatar")
    metadata = s3.head_object(Bucket="media-bucket", Key="dir/a b.txt")["Metadata"]
    persistence.save()
    # After the snapshot: journaled only, replayed over the portable load.
    ddb.put_item(TableName="profiles", Item={"pk": {"S": "late"}, "name": {"S": "Late"}})
print(json.dumps({"sub": sub, "env": env, "message_id": sent["MessageId"], "first": first,
                  "metadata": metadata}))
"""

_READ = """
with LocalAws() as aws:
    persistence = Persistence(aws, data_dir)
    snapshot = persistence.load()
    assert snapshot is not None
    env = provision(spec, aws).environment()
    cognito = aws.client("cognito-idp")
    user = cognito.admin_get_user(UserPoolId=env["USER_POOL_ID"], Username="ada")
    tokens = cognito.initiate_auth(
        ClientId=env["USER_POOL_CLIENT_ID"], AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "ada", "PASSWORD": "Secr3t-pass!"},
    )["AuthenticationResult"]
    me = cognito.get_user(AccessToken=tokens["AccessToken"])
    ddb = aws.client("dynamodb")
    profiles = ddb.scan(TableName="profiles")["Items"]
    posts = ddb.query(TableName="posts", IndexName="by-author", KeyConditionExpression="author = :a",
                      ExpressionAttributeValues={":a": {"S": next(
                          a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")}})["Items"]
    ttl = ddb.describe_time_to_live(TableName="profiles")["TimeToLiveDescription"]
    table = ddb.describe_table(TableName="profiles")["Table"]
    streams = aws.client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=table["LatestStreamArn"])["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(StreamArn=table["LatestStreamArn"], ShardId=shard["ShardId"],
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    message = aws.client("sqs").receive_message(
        QueueUrl=env["JOBS_URL"], AttributeNames=["All"], MessageAttributeNames=["All"]
    )["Messages"][0]
    s3 = aws.client("s3")
    obj = s3.get_object(Bucket="media-bucket", Key="dir/a b.txt")
    tags = s3.get_object_tagging(Bucket="media-bucket", Key="dir/a b.txt")["TagSet"]
print(json.dumps({
    "env": env, "user_sub": next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub"),
    "token_sub": next(a["Value"] for a in me["UserAttributes"] if a["Name"] == "sub"),
    "email": next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "email"),
    "status": user["UserStatus"], "profiles": profiles, "posts": len(posts), "ttl": ttl,
    "stream": [r["eventName"] for r in records], "checkpoints": snapshot.checkpoints,
    "message": message, "object": obj["Body"].read().decode(), "content_type": obj["ContentType"],
    "metadata": obj["Metadata"], "tags": tags,
}, default=str))
"""


def _run(script: str, data_dir: Path, speedups: str) -> dict[str, Any]:
    code = textwrap.dedent(_PRELUDE) + textwrap.dedent(script)
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, LOCAL_CLOUD_MOTO_SPEEDUPS=speedups)
    done = subprocess.run(
        [sys.executable, "-c", code, str(data_dir)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _as_another_moto(data_dir: Path) -> None:
    """Make the pickle look written by another moto version, so only the portable path can load it."""
    path = data_dir / SNAPSHOT_FILE
    with path.open("rb") as stream:
        header = pickle.load(stream)
        rest = stream.read()
    header["moto"] = "0.0.1"
    path.write_bytes(pickle.dumps(header) + rest)


def _assert_everything_came_back(before: dict[str, Any], after: dict[str, Any]) -> None:
    sub = before["sub"]
    ids = ("USER_POOL_ID", "USER_POOL_CLIENT_ID", "COGNITO_ISSUER", "PROFILES", "POSTS")  # URLs: new port
    assert {k: after["env"][k] for k in ids} == {k: before["env"][k] for k in ids}
    assert after["user_sub"] == after["token_sub"] == sub  # logs in with the same password and sub
    assert after["email"] == "ada@example.com"
    assert after["status"] == "CONFIRMED"
    by_pk = {item["pk"]["S"]: item for item in after["profiles"]}
    assert set(by_pk) == {sub, "late"}  # the journaled write replayed over the portable load
    profile = by_pk[sub]
    assert profile["name"] == {"S": "Ada"}
    assert profile["avatar"] == {"B": "b'\\x00\\xffpng'"}  # bytes, as json default=str printed them
    assert sorted(profile["tags"]["SS"]) == ["a", "b"]
    assert profile["prefs"] == {"M": {"dark": {"BOOL": True}, "n": {"N": "1.5"}}}
    assert after["posts"] == 30
    assert after["ttl"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}
    # Stream records are not carried: only the write replayed after the load is on the stream.
    assert after["stream"] == ["INSERT"]
    assert after["checkpoints"] == {}
    message = after["message"]
    assert message["MessageId"] == before["message_id"]
    assert message["Body"] == "job-1"
    assert message["MessageAttributes"]["kind"] == {"StringValue": "welcome", "DataType": "String"}
    assert message["MessageAttributes"]["blob"]["BinaryValue"] == "b'\\x01\\x02'"
    assert message["Attributes"]["ApproximateReceiveCount"] == "2"  # once before the load, once now
    assert message["Attributes"]["SentTimestamp"] == before["first"]["SentTimestamp"]
    first_receive = before["first"]["ApproximateFirstReceiveTimestamp"]
    assert message["Attributes"]["ApproximateFirstReceiveTimestamp"] == first_receive
    assert after["object"] == "hello"
    assert after["content_type"] == "text/plain"
    assert after["metadata"] == before["metadata"]
    assert {k.lower(): v for k, v in after["metadata"].items()} == {"owner": sub}
    assert after["tags"] == [{"Key": "kind", "Value": "avatar"}]


@pytest.mark.parametrize("speedups", ["on", "off"])
def test_another_moto_version_loads_the_portable_snapshot(tmp_path: Path, speedups: str) -> None:
    before = _run(_WRITE, tmp_path, speedups)
    portable = read_portable(tmp_path / PORTABLE_FILE)
    assert portable["version"] == 1
    assert {entry["table"]["TableName"] for entry in portable["dynamodb"]} == {"profiles", "posts"}
    _as_another_moto(tmp_path)

    after = _run(_READ, tmp_path, speedups)

    _assert_everything_came_back(before, after)


def test_the_export_command_writes_a_portable_snapshot_from_a_pickle(tmp_path: Path) -> None:
    before = _run(_WRITE, tmp_path, "on")
    (tmp_path / PORTABLE_FILE).unlink()  # as a data dir written before portable snapshots existed
    root = Path(__file__).resolve().parents[2]

    done = subprocess.run(
        [sys.executable, "-m", "local_cloud.portable", "export", "--data-dir", str(tmp_path)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr[-4000:]
    assert f"wrote {tmp_path / PORTABLE_FILE}" in done.stdout
    portable = read_portable(tmp_path / PORTABLE_FILE)
    users = portable["cognito-idp"][0]["users"]
    assert [(u["username"], u["password"]) for u in users] == [("ada", "Secr3t-pass!")]
    _as_another_moto(tmp_path)
    _assert_everything_came_back(before, _run(_READ, tmp_path, "on"))


def test_a_foreign_pickle_without_a_portable_snapshot_is_refused_with_the_export_command(
    tmp_path: Path,
) -> None:
    with LocalAws(housekeeping_seconds=0) as aws:
        load(tmp_path, aws)
        aws.client("sqs").create_queue(QueueName="kept")
    (tmp_path / PORTABLE_FILE).unlink()
    _as_another_moto(tmp_path)

    with LocalAws(housekeeping_seconds=0) as aws, pytest.raises(SnapshotError) as refused:
        load(tmp_path, aws)

    assert "written by moto 0.0.1" in str(refused.value)
    assert f"python -m local_cloud.portable export --data-dir {tmp_path.resolve()}" in str(refused.value)


def test_a_corrupt_portable_snapshot_is_refused_not_guessed(tmp_path: Path) -> None:
    with LocalAws(housekeeping_seconds=0) as aws:
        load(tmp_path, aws)
    _as_another_moto(tmp_path)
    (tmp_path / PORTABLE_FILE).write_text(json.dumps({"format": "something-else", "version": 9}))

    with LocalAws(housekeeping_seconds=0) as aws, pytest.raises(SnapshotError) as refused:
        load(tmp_path, aws)

    assert "written by moto 0.0.1" in str(refused.value)
    assert "is not a portable snapshot of version 1" in str(refused.value)


class _OpenGate:
    """The request gate of a process that serves nothing else (this test's own)."""

    def exclusive(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


def test_a_failed_portable_export_keeps_the_pickle_and_removes_the_stale_portable_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from local_cloud import persistence

    persistence.write_snapshot(tmp_path, _OpenGate(), {})
    assert read_portable(tmp_path / PORTABLE_FILE)["journal_seq"] == 0
    (tmp_path / SNAPSHOT_FILE).unlink()

    def broken(**_: Any) -> dict[str, Any]:
        raise RuntimeError("moto changed")

    monkeypatch.setattr(persistence, "export_state", broken)
    persistence.write_snapshot(tmp_path, _OpenGate(), {})

    assert (tmp_path / SNAPSHOT_FILE).exists()
    assert not (tmp_path / PORTABLE_FILE).exists()  # a stale one would lose the emptied journal's writes


def test_the_data_dir_size_counts_both_snapshot_forms(tmp_path: Path) -> None:
    from local_cloud import persistence

    persistence.write_snapshot(tmp_path, _OpenGate(), {})

    usage = persistence.data_dir_usage(tmp_path)
    both = (tmp_path / SNAPSHOT_FILE).stat().st_size + (tmp_path / PORTABLE_FILE).stat().st_size
    assert usage["snapshot"] == both
