"""A data dir keeps tables, items, queues, objects and Cognito users (same ``sub``) across restarts.

Each phase runs in its own interpreter: moto's state is process-global, so only a new process proves
that the snapshot alone carries the state (and that it unpickles without the writer's objects).
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from local_cloud.aws import LocalAws
from local_cloud.journal import JOURNAL_FILE, read_journal
from local_cloud.persistence import DataDirLocked, Persistence, SnapshotError, load, save, snapshot_info

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
        assert backend.shard_iterators == {}  # type: ignore[attr-defined]


def test_load_without_snapshot_means_fresh_state(aws: LocalAws, tmp_path: Path) -> None:
    assert load(tmp_path / "empty", aws) is None


# -- the journal: writes acknowledged since the last snapshot -----------------------------------------
def _crash(aws: LocalAws) -> None:
    """End the moto process the way a ``kill -9`` does: no final snapshot, nothing flushed by it."""
    process = aws._process
    assert process is not None
    process.kill()
    process.wait()
    aws.stop()


def _queue_and_table(aws: LocalAws) -> str:
    aws.client("dynamodb").create_table(
        TableName="notes",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    return str(aws.client("sqs").create_queue(QueueName="work")["QueueUrl"])


def _stream_sequence_numbers(aws: LocalAws) -> list[str]:
    streams = aws.client("dynamodbstreams")
    arn = aws.client("dynamodb").describe_table(TableName="notes")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    return [r["dynamodb"]["SequenceNumber"] for r in records]


def test_writes_after_the_last_snapshot_are_replayed_with_the_ids_clients_saw(tmp_path: Path) -> None:
    with LocalAws(housekeeping_seconds=0) as aws:
        assert load(tmp_path, aws) is None
        url = _queue_and_table(aws)
        pool = aws.client("cognito-idp").create_user_pool(PoolName="people")["UserPool"]["Id"]
        client = aws.client("cognito-idp").create_user_pool_client(UserPoolId=pool, ClientName="web")
        client_id = client["UserPoolClient"]["ClientId"]
        sub = aws.client("cognito-idp").sign_up(ClientId=client_id, Username="ada", Password="Secr3t-pass!")[
            "UserSub"
        ]
        for n in range(3):
            aws.client("dynamodb").put_item(TableName="notes", Item={"pk": {"S": f"n{n}"}})
        aws.client("dynamodb").delete_item(TableName="notes", Key={"pk": {"S": "n0"}})
        assert "Messages" not in aws.client("sqs").receive_message(QueueUrl=url)  # empty: not logged
        # In flight for 30 s from now: still in flight after the replay, as it would be on AWS.
        aws.client("sqs").send_message(QueueUrl=url, MessageBody="in flight")
        aws.client("sqs").receive_message(QueueUrl=url, VisibilityTimeout=30)
        sent = aws.client("sqs").send_message(QueueUrl=url, MessageBody="job")["MessageId"]
        received = aws.client("sqs").receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"][0]
        aws.client("sqs").receive_message(QueueUrl=url, VisibilityTimeout=0)
        aws.client("s3").create_bucket(Bucket="media")
        etag = aws.client("s3").put_object(Bucket="media", Key="a.bin", Body=b"\x00\xffbytes")["ETag"]
        sequence_numbers = _stream_sequence_numbers(aws)
        _crash(aws)

    with LocalAws(housekeeping_seconds=0) as aws:
        snapshot = load(tmp_path, aws)
        assert snapshot is not None
        # create x3, sign-up, 3 puts, delete, send, receive, send, 2 receives, bucket, object
        assert snapshot.journal["replayed"] == 16 and snapshot.journal["diverged"] == 0
        assert snapshot.journal["corrupt_offset"] is None
        user = aws.client("cognito-idp").admin_get_user(UserPoolId=pool, Username="ada")
        assert {a["Name"]: a["Value"] for a in user["UserAttributes"]}["sub"] == sub
        items = aws.client("dynamodb").scan(TableName="notes")["Items"]
        assert sorted(i["pk"]["S"] for i in items) == ["n1", "n2"]
        messages = aws.client("sqs").receive_message(
            QueueUrl=url,
            AttributeNames=["ApproximateReceiveCount"],
            VisibilityTimeout=0,
            MaxNumberOfMessages=10,
        )["Messages"]
        assert [m["Body"] for m in messages] == ["job"]
        again = messages[0]
        assert again["ReceiptHandle"] != received["ReceiptHandle"]
        assert again["MessageId"] == sent == received["MessageId"]
        assert again["Attributes"]["ApproximateReceiveCount"] == "3"  # two receives logged, then this one
        stored = aws.client("s3").get_object(Bucket="media", Key="a.bin")
        assert stored["Body"].read() == b"\x00\xffbytes" and stored["ETag"] == etag
        # The stream holds the same records under the same sequence numbers: poller checkpoints hold.
        assert _stream_sequence_numbers(aws) == sequence_numbers
        _crash(aws)

    # The load compacted the journal into a new snapshot: a third start sees the same state.
    with LocalAws(housekeeping_seconds=0) as aws:
        snapshot = load(tmp_path, aws)
        assert snapshot is not None
        assert len(aws.client("dynamodb").scan(TableName="notes")["Items"]) == 2


def test_a_truncated_or_corrupt_journal_tail_is_reported_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with LocalAws(housekeeping_seconds=0) as aws:
        load(tmp_path, aws)
        _queue_and_table(aws)
        _crash(aws)
    # Compact those into a snapshot, then journal three puts.
    with LocalAws(housekeeping_seconds=0) as aws:
        load(tmp_path, aws)
        for n in range(3):
            aws.client("dynamodb").put_item(TableName="notes", Item={"pk": {"S": f"n{n}"}})
        _crash(aws)
    journal = tmp_path / JOURNAL_FILE
    records = read_journal(journal).records
    assert [r.environ["HTTP_X_AMZ_TARGET"] for r in records] == ["DynamoDB_20120810.PutItem"] * 3
    data = journal.read_bytes()
    last_offset = len(data) - len(records[-1].encode())
    journal.write_bytes(data[:-7])  # a torn write: the last record lost its end

    with LocalAws(housekeeping_seconds=0) as aws, caplog.at_level(logging.WARNING):
        persistence = Persistence(aws, tmp_path)
        snapshot = persistence.load()
        assert snapshot is not None and snapshot.journal["corrupt_offset"] == last_offset
        assert snapshot.journal["kept_records"] == 2
        assert f"at byte offset {last_offset}: kept the 2 records" in caplog.text
        items = aws.client("dynamodb").scan(TableName="notes")["Items"]
        assert sorted(i["pk"]["S"] for i in items) == ["n0", "n1"]
        assert len(list(tmp_path.glob("journal.log.corrupt-*"))) == 1
        # A flipped byte in a later record: the checksum catches it; the records before it stay.
        aws.client("dynamodb").put_item(TableName="notes", Item={"pk": {"S": "n3"}})
        aws.client("dynamodb").put_item(TableName="notes", Item={"pk": {"S": "n4"}})
        persistence._lock.release()
        _crash(aws)
    flipped = bytearray(journal.read_bytes())
    flipped[-3] ^= 0xFF
    journal.write_bytes(bytes(flipped))
    with LocalAws(housekeeping_seconds=0) as aws:
        snapshot = load(tmp_path, aws)
        assert snapshot is not None and snapshot.journal["corrupt_problem"] == "checksum mismatch"
        items = aws.client("dynamodb").scan(TableName="notes")["Items"]
        assert sorted(i["pk"]["S"] for i in items) == ["n0", "n1", "n3"]


def test_a_second_owner_of_a_data_dir_is_refused_until_the_first_ends(tmp_path: Path) -> None:
    with LocalAws(housekeeping_seconds=0) as aws:
        first = Persistence(aws, tmp_path)
        first.load()
        with pytest.raises(DataDirLocked, match=f"in use by another local cloud \\(pid {os.getpid()}\\)"):
            Persistence(aws, tmp_path).load()
        first.close()
        second = Persistence(aws, tmp_path)
        assert second.load() is not None
        second.close()


def _rewrite_header(path: Path, **changes: Any) -> None:
    with path.open("rb") as stream:
        header = pickle.load(stream)
        rest = stream.read()
    header.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del header[key]
    path.write_bytes(pickle.dumps(header) + rest)


def test_a_format_2_snapshot_is_migrated_and_a_foreign_moto_version_is_refused(tmp_path: Path) -> None:
    with LocalAws(housekeeping_seconds=0) as aws:
        load(tmp_path, aws)
        _queue_and_table(aws)
        aws.client("dynamodb").put_item(TableName="notes", Item={"pk": {"S": "kept"}})
        save(tmp_path, aws)
    snapshot_file = tmp_path / "moto-state.pickle"
    _rewrite_header(snapshot_file, format=2, journal_seq=None)  # as the previous version wrote it
    (tmp_path / JOURNAL_FILE).unlink()
    with LocalAws(housekeeping_seconds=0) as aws:
        assert load(tmp_path, aws) is not None
        assert aws.client("dynamodb").scan(TableName="notes")["Items"] == [{"pk": {"S": "kept"}}]
    assert snapshot_info(tmp_path)["format"] == 3  # type: ignore[index]

    _rewrite_header(snapshot_file, moto="4.0.0")
    (tmp_path / "moto-state.portable.json").unlink()  # else it loads that (test_persistence_portable.py)
    with LocalAws(housekeeping_seconds=0) as aws, pytest.raises(SnapshotError) as refused:
        load(tmp_path, aws)
    assert "written by moto 4.0.0" in str(refused.value)
    assert "pip install moto==4.0.0" in str(refused.value)
    assert "python -m local_cloud.portable export" in str(refused.value)
