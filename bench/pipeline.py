"""Drives the service the way AWS does: API Gateway events into the API handlers, stream and queue
events into the consumers (real-shaped events, the handlers named in ``infra.resources.SPEC``).

``Api.call`` builds the REST (payload v1) proxy event the API Gateway Cognito authorizer would pass
(claims of a verified access token) and invokes the route's Lambda handler in-process: the Powertools
resolver, validation, logic and data access all run; HTTP and token verification do not.

``Pump.drain`` plays the event-source mappings: it reads new records of every table stream that has a
mapping (DynamoDB Streams GetRecords), keeps the events the mapping's filter lets through (`event_names`),
invokes each mapped function with batches of the mapping's batch
size, then receives the ``fanout`` queue's messages (10 per batch, as mapped) and invokes the worker,
deleting what succeeded; until nothing is left. Reading streams and queues is the harness's work and
is not recorded (Lambda's pollers do it on AWS, at no DynamoDB cost).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any

from bench.recorder import RECORDER
from infra.resources import BASE_PATH, SPEC
from local_cloud.pollers import event_json


@cache
def handler_for(function_name: str) -> Callable[[dict[str, Any], Any], Any]:
    from local_cloud.lambda_runtime import resolve_handler

    return resolve_handler(SPEC.function(function_name).handler)


def context_for(function_name: str) -> Any:
    from local_cloud.lambda_runtime import LocalLambdaContext

    fn = SPEC.function(function_name)
    return LocalLambdaContext(
        function_name=fn.name, memory_limit_in_mb=fn.memory_mb, timeout_seconds=fn.timeout_seconds
    )


class ApiError(RuntimeError):
    pass


class Api:
    """Invokes the API's Lambda handlers with API Gateway REST proxy events."""

    def call(
        self,
        method: str,
        template: str,
        caller: str,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        query: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        route = next(r for r in SPEC.routes if r.method == method and r.path == template)
        path = BASE_PATH + template.format(**(params or {}))
        now = datetime.now(UTC)
        event = {
            "resource": BASE_PATH + template,
            "path": path,
            "httpMethod": method,
            "headers": {"Content-Type": "application/json", "Accept": "application/json"},
            "multiValueHeaders": {"Content-Type": ["application/json"], "Accept": ["application/json"]},
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "resourcePath": BASE_PATH + template,
                "httpMethod": method,
                "path": f"/local{path}",
                "stage": "local",
                "requestId": str(uuid.uuid4()),
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "requestTimeEpoch": int(time.time() * 1000),
                "identity": {"sourceIp": "127.0.0.1", "userAgent": "chirp-bench"},
                "authorizer": {
                    "claims": {
                        "sub": caller,
                        "token_use": "access",
                        "scope": "aws.cognito.signin.user.admin",
                    }
                },
                "accountId": "123456789012",
                "apiId": "local",
                "protocol": "HTTP/1.1",
            },
            "body": json.dumps(body) if body is not None else None,
            "isBase64Encoded": False,
        }
        response = handler_for(route.function)(event, context_for(route.function))
        status = int(response.get("statusCode", 500))
        payload = json.loads(response["body"]) if response.get("body") else {}
        if status >= 400:
            raise ApiError(f"{method} {template} -> {status}: {payload}")
        return payload  # type: ignore[no-any-return]


class Pump:
    """Delivers stream records and queue messages to the mapped functions until all is consumed."""

    def __init__(self, provisioned: Any) -> None:
        import boto3

        self._streams = boto3.client("dynamodbstreams")
        self._sqs = boto3.client("sqs")
        self._provisioned = provisioned
        self._iterators: dict[str, str | None] = {}
        self.stream_mappings = [m for m in SPEC.mappings if m.kind == "stream"]
        self.queue_mappings = [m for m in SPEC.mappings if m.kind == "queue"]
        self.invocations: dict[str, int] = {}
        self.seconds: dict[str, float] = {}
        """Wall seconds spent in each function's handler (its Lambda duration, as measured here)."""
        self.sqs_requests = 0
        self.failures = 0
        self.failures_by_function: dict[str, int] = {}

    def _iterator(self, table: str, position: str) -> str:
        arn = self._provisioned.stream_arns[table]
        with RECORDER.suppressed():
            shard = self._streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
            return str(
                self._streams.get_shard_iterator(
                    StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType=position
                )["ShardIterator"]
            )

    def _records(self, table: str) -> list[dict[str, Any]]:
        if table not in self._iterators:
            self._iterators[table] = self._iterator(table, "TRIM_HORIZON")
        with RECORDER.suppressed():
            records: list[dict[str, Any]] = []
            while True:
                response = self._streams.get_records(ShardIterator=self._iterators[table], Limit=1000)
                self._iterators[table] = response.get("NextShardIterator")
                got = response.get("Records", [])
                records.extend(got)
                if len(got) < 1000:
                    return records

    def skip_existing(self) -> None:
        """Start every stream after the records written so far (the seed data): LATEST iterators."""
        for table in {m.source for m in self.stream_mappings}:
            self._iterators[table] = self._iterator(table, "LATEST")

    def _invoke(self, function: str, event: dict[str, Any]) -> Any:
        self.invocations[function] = self.invocations.get(function, 0) + 1
        started = time.perf_counter()
        result = handler_for(function)(event, context_for(function))
        self.seconds[function] = self.seconds.get(function, 0.0) + time.perf_counter() - started
        if isinstance(result, dict) and result.get("batchItemFailures"):
            self.failures += len(result["batchItemFailures"])
            self.failures_by_function[function] = self.failures_by_function.get(function, 0) + len(
                result["batchItemFailures"]
            )
        return result

    def drain(
        self, max_rounds: int = 10_000, on_message: Callable[[dict[str, Any]], bool] | None = None
    ) -> None:
        """Deliver until streams and queues are empty. ``on_message(body)`` False: delete unprocessed."""
        tables = sorted({m.source for m in self.stream_mappings})
        for _ in range(max_rounds):
            progressed = False
            for table in tables:
                records = self._records(table)
                if not records:
                    continue
                progressed = True
                arn = self._provisioned.stream_arns[table]
                for mapping in (m for m in self.stream_mappings if m.source == table):
                    names = mapping.event_names  # the mapping's event filter, as Lambda applies it
                    wanted = [r for r in records if r.get("eventName") in names] if names else records
                    for i in range(0, len(wanted), mapping.batch_size):
                        batch = wanted[i : i + mapping.batch_size]
                        event = {"Records": [{**event_json(r), "eventSourceARN": arn} for r in batch]}
                        self._invoke(mapping.function, event)
            for mapping in self.queue_mappings:
                if self._queue_batch(mapping.source, mapping.function, mapping.batch_size, on_message):
                    progressed = True
            if not progressed:
                return
        raise RuntimeError("pump did not settle")

    def _queue_batch(
        self, queue: str, function: str, batch_size: int, on_message: Callable[[dict[str, Any]], bool] | None
    ) -> bool:
        url = self._provisioned.queue_urls[queue]
        arn = self._provisioned.queue_arns[queue]
        with RECORDER.suppressed():
            messages = self._sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=min(10, batch_size), MessageSystemAttributeNames=["All"]
            ).get("Messages", [])
        if not messages:
            return False
        deliver = []
        for message in messages:
            if on_message is None or on_message(json.loads(message["Body"])):
                deliver.append(message)
        if deliver:
            records = [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": dict(m.get("Attributes", {})),
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn,
                    "awsRegion": "us-east-1",
                }
                for m in deliver
            ]
            self._invoke(function, {"Records": records})
        with RECORDER.suppressed():
            self._sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        return True
