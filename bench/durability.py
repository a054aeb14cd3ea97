"""What durability costs per acknowledged AWS write in the local cloud (``make dev --data-dir``).

    .venv/bin/python bench/durability.py                 # 300 writes of each kind
    .venv/bin/python bench/durability.py -n 1000 --json bench/results/durability.json

A benchmark, not a test. It starts two embedded moto processes as the local cloud does (``LocalAws``):
one without a data dir (state in memory only) and one with a data dir loaded (every acknowledged write
journaled and fsynced before its response, ``local_cloud/journal.py``), then times the same writes
against both, alternating request by request so the noise of a shared machine hits both alike:
DynamoDB PutItem (a small item), SQS SendMessage, SQS ReceiveMessage + DeleteMessage (one round trip
each, timed together), S3 PutObject (10 KB) and Cognito SignUp (n/5 of them).
Each time is one SDK call from the client's side, round trip included. It also times a bare
``write + fsync`` of a 1 KB record on the data dir's file system, the floor of what durability adds.
Prints a table of medians and p99 in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from local_cloud.aws import LocalAws  # noqa: E402
from local_cloud.persistence import load  # noqa: E402


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def _summary(values: list[float]) -> dict[str, float]:
    return {"median_ms": statistics.median(values), "p99_ms": _p99(values), "n": len(values)}


class _Target:
    """One moto process, its resources and a timed write of each kind."""

    def __init__(self, aws: LocalAws) -> None:
        self.aws = aws
        dynamodb, sqs, cognito = aws.client("dynamodb"), aws.client("sqs"), aws.client("cognito-idp")
        dynamodb.create_table(
            TableName="bench",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        self.queue = sqs.create_queue(QueueName="bench")["QueueUrl"]
        aws.client("s3").create_bucket(Bucket="bench")
        pool = cognito.create_user_pool(PoolName="bench")["UserPool"]["Id"]
        self.client_id = cognito.create_user_pool_client(UserPoolId=pool, ClientName="bench")[
            "UserPoolClient"
        ]["ClientId"]
        self.blob = os.urandom(10 * 1024)

    def put_item(self) -> None:
        item = {"pk": {"S": uuid.uuid4().hex}, "text": {"S": "hello #chirp " * 8}, "n": {"N": "1"}}
        self.aws.client("dynamodb").put_item(TableName="bench", Item=item)

    def send_message(self) -> None:
        self.aws.client("sqs").send_message(
            QueueUrl=self.queue, MessageBody=json.dumps({"id": uuid.uuid4().hex})
        )

    def receive_and_delete(self) -> None:
        sqs = self.aws.client("sqs")
        messages = sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=1).get("Messages", [])
        for message in messages:
            sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])

    def put_object(self) -> None:
        self.aws.client("s3").put_object(Bucket="bench", Key=uuid.uuid4().hex, Body=self.blob)

    def sign_up(self) -> None:
        self.aws.client("cognito-idp").sign_up(
            ClientId=self.client_id, Username=uuid.uuid4().hex[:16], Password="Sup3r-secret!"
        )


def _time(call: Callable[[], None]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def _bare_fsync(directory: Path, n: int) -> list[float]:
    times = []
    with (directory / "fsync-probe").open("ab") as stream:
        record = os.urandom(1024)
        for _ in range(n):
            started = time.perf_counter()
            stream.write(record)
            stream.flush()
            os.fsync(stream.fileno())
            times.append((time.perf_counter() - started) * 1000)
    (directory / "fsync-probe").unlink()
    return times


def run(n: int, data_root: Path) -> dict[str, Any]:
    kinds: list[tuple[str, str, int]] = [
        ("DynamoDB PutItem", "put_item", n),
        ("SQS SendMessage", "send_message", n),
        ("SQS ReceiveMessage + DeleteMessage", "receive_and_delete", n),
        ("S3 PutObject (10 KB)", "put_object", n),
        ("Cognito SignUp", "sign_up", max(n // 5, 10)),
    ]
    results: dict[str, Any] = {"n": n, "kinds": {}, "machine": {"cpus": os.cpu_count()}}
    data_dir = data_root / "data"
    with LocalAws(housekeeping_seconds=0) as memory, LocalAws(housekeeping_seconds=0) as durable:
        load(data_dir, durable)  # turns its journal on
        targets = {"memory": _Target(memory), "durable": _Target(durable)}
        for label, method, count in kinds:
            times: dict[str, list[float]] = {"memory": [], "durable": []}
            for target in targets.values():  # warm-up, not timed
                for _ in range(5):
                    getattr(target, method)()
            for _ in range(count):
                for name, target in targets.items():
                    times[name].append(_time(getattr(target, method)))
            results["kinds"][label] = {name: _summary(values) for name, values in times.items()} | {
                "added_median_ms": statistics.median(times["durable"]) - statistics.median(times["memory"])
            }
        results["journal_bytes"] = (data_dir / "journal.log").stat().st_size
    results["bare_fsync_1kb"] = _summary(_bare_fsync(data_root, n))
    return results


def table(results: dict[str, Any]) -> str:
    head = f"{'write (n)':<40} {'memory p50':>10} {'p99':>8} {'data dir p50':>13} {'p99':>8}"
    lines = [f"{head} {'added p50':>10}"]
    for label, row in results["kinds"].items():
        memory, durable = row["memory"], row["durable"]
        lines.append(
            f"{label + ' (' + str(memory['n']) + ')':<40} "
            f"{memory['median_ms']:>10.2f} {memory['p99_ms']:>8.2f} "
            f"{durable['median_ms']:>13.2f} {durable['p99_ms']:>8.2f} {row['added_median_ms']:>10.2f}"
        )
    fsync = results["bare_fsync_1kb"]
    lines.append(f"bare write+fsync of 1 KB: p50 {fsync['median_ms']:.2f} ms, p99 {fsync['p99_ms']:.2f} ms")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("-n", type=int, default=300, help="writes of each kind (Cognito: n/5)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--dir", type=Path, default=None, help="data dir parent (default: a temp dir)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="durability-", dir=args.dir) as root:
        results = run(args.n, Path(root))
    print(table(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
