"""Move queues' dead letters back: every message of a queue's DLQ returns to the queue.

    python scripts/redrive.py                         # the fanout queue (``make redrive``)
    python scripts/redrive.py --replay                # every replay queue of the definition (``make replay``)
    python scripts/redrive.py --queue fanout --queue tweets-cleanup-replay   # several queues
    python scripts/redrive.py --replay --endpoint-url http://127.0.0.1:PORT  # the local cloud
    python scripts/redrive.py --replay --stack chirp-dev                     # AWS: URLs from the stack
    python scripts/redrive.py --queue-url https://sqs.eu-west-1.amazonaws.com/123/chirp-fanout  # one URL

A queue (a logical id of ``infra/resources.py``) is found by its URL variable (``FANOUT_QUEUE_URL``...)
when set, else in the outputs of ``--stack`` (``Queue.url_output``), else by its name (the local cloud
names queues by logical id). Its DLQ is found from the queue's own RedrivePolicy, so nothing is
configured twice. Messages are received in batches of 10, sent to the queue with SendMessageBatch (body
and attributes kept), and deleted from the DLQ only once sent, so an interruption duplicates at most one
batch (the consumers are idempotent) and never loses one. Prints the counts per queue; exits 1 if some
message could not be moved.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the definition, when run as a script
from infra.resources import SPEC


@dataclass
class RedriveResult:
    queue_url: str
    dlq_url: str
    moved: int = 0
    failed: int = 0


def dlq_url_of(sqs: Any, queue_url: str) -> str:
    """The DLQ named in the queue's RedrivePolicy."""
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]
    if "RedrivePolicy" not in attributes:
        raise SystemExit(f"{queue_url} has no RedrivePolicy (no DLQ)")
    arn = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
    _, _, _, _, account, name = arn.split(":", 5)
    return str(sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])


def redrive(sqs: Any, queue_url: str, *, max_messages: int | None = None) -> RedriveResult:
    """Move messages from the queue's DLQ back to the queue until the DLQ is empty (or ``max_messages``)."""
    result = RedriveResult(queue_url=queue_url, dlq_url=dlq_url_of(sqs, queue_url))
    empty_receives = 0
    while max_messages is None or result.moved + result.failed < max_messages:
        wanted = 10 if max_messages is None else min(10, max_messages - result.moved - result.failed)
        messages = sqs.receive_message(
            QueueUrl=result.dlq_url,
            MaxNumberOfMessages=wanted,
            WaitTimeSeconds=1,
            VisibilityTimeout=60,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            empty_receives += 1
            if empty_receives >= 2:  # SQS may answer empty once while messages remain
                break
            continue
        empty_receives = 0
        entries = []
        for i, message in enumerate(messages):
            entry: dict[str, Any] = {"Id": str(i), "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                entry["MessageAttributes"] = message["MessageAttributes"]
            entries.append(entry)
        sent = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        ok = {s["Id"] for s in sent.get("Successful", [])}
        result.failed += len(messages) - len(ok)
        done = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
            for i, m in enumerate(messages)
            if str(i) in ok
        ]
        if done:
            sqs.delete_message_batch(QueueUrl=result.dlq_url, Entries=done)
        result.moved += len(done)
    return result


REPLAY_QUEUES = tuple(sorted({m.replay for m in SPEC.mappings if m.replay}))
"""The replay queues of the definition: stream records their consumers failed, put back by stream-rescue."""


def stack_queue_urls(cloudformation: Any, stack: str) -> dict[str, str]:
    """Queue URLs by logical id, from the stack's outputs (``Queue.url_output``)."""
    outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    by_key = {output["OutputKey"]: output["OutputValue"] for output in outputs}
    return {q.logical_id: by_key[q.url_output] for q in SPEC.queues if q.url_output in by_key}


def queue_url(sqs: Any, logical_id: str, deployed: dict[str, str]) -> str:
    """The URL of a queue of the definition: its environment variable, the stack's output, or its name."""
    variable = next((q.env_var for q in SPEC.queues if q.logical_id == logical_id), None)
    if variable and os.environ.get(variable):
        return os.environ[variable]
    if logical_id in deployed:
        return deployed[logical_id]
    return str(sqs.get_queue_url(QueueName=logical_id)["QueueUrl"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--queue", action="append", default=[], help="a queue's logical id; repeatable (default: fanout)"
    )
    parser.add_argument(
        "--replay", action="store_true", help=f"every replay queue: {', '.join(REPLAY_QUEUES)}"
    )
    parser.add_argument("--queue-url", help="one queue URL (instead of --queue / --replay)")
    parser.add_argument(
        "--stack", help="find queue URLs in this CloudFormation stack's outputs (chirp-<stage>)"
    )
    parser.add_argument(
        "--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"), help="SQS endpoint (the local cloud)"
    )
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    parser.add_argument("--max", type=int, default=None, help="move at most this many messages per queue")
    args = parser.parse_args(argv)
    local = bool(args.endpoint_url) and urlparse(args.endpoint_url).hostname in {"127.0.0.1", "localhost"}
    if local and "AWS_ACCESS_KEY_ID" not in os.environ:
        # The local cloud's moto accepts any credentials; a fresh machine has none configured.
        os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    sqs = boto3.client("sqs", endpoint_url=args.endpoint_url, region_name=args.region)
    if args.queue_url:
        urls = [str(args.queue_url)]
    else:
        names = list(dict.fromkeys([*args.queue, *(REPLAY_QUEUES if args.replay else ())])) or ["fanout"]
        deployed = (
            stack_queue_urls(boto3.client("cloudformation", region_name=args.region), args.stack)
            if args.stack
            else {}
        )
        urls = [queue_url(sqs, name, deployed) for name in names]
    failed = 0
    for url in urls:
        result = redrive(sqs, url, max_messages=args.max)
        failed += result.failed
        print(
            f"moved {result.moved} message(s) from {result.dlq_url} to {result.queue_url}; "
            f"failed {result.failed}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
