"""Reading one failed batch back from its DynamoDB stream: the rescue's data access.

A batch is a range of one shard, from its first to its last sequence number. The range is read with a
shard iterator AT_SEQUENCE_NUMBER of the first and GetRecords pages until a record at or past the last
one. What the stream no longer holds (records are trimmed 24 hours after they were written; a shard is
deleted once all its records are) is reported as trimmed, with whatever part of the range is left.
Calls: 1 DescribeStream-free GetShardIterator (+1 at TRIM_HORIZON when the first record is gone) and
1 GetRecords per page of up to 1,000 records (the range holds every event of the table, also those the
consumer's filter dropped).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from functions.streams.models import StreamBatchInfo

_GONE = frozenset({"TrimmedDataAccessException", "ResourceNotFoundException"})
"""The range (or the start of it) is past the stream's 24-hour retention, or its shard is deleted."""


@dataclass(frozen=True)
class StreamRange:
    """The records of a range still in the stream, in stream order, each as a Lambda event record."""

    records: list[dict[str, Any]]
    trimmed: bool
    """Part of the range (its beginning, or all of it) is no longer in the stream."""
    reached_end: bool
    """A record at or past the range's last sequence number was read: nothing of the range is missing
    beyond what ``trimmed`` says."""


class StreamReader:
    """Reads ranges of a DynamoDB stream's shards (``dynamodbstreams`` client)."""

    def __init__(
        self, streams: Any, *, page_limit: int = 1000, max_pages: int = 200, max_empty_pages: int = 5
    ) -> None:
        self.streams = streams
        self.page_limit = page_limit
        self.max_pages = max_pages
        self.max_empty_pages = max_empty_pages
        """An open shard answers an empty page past its newest record; a range's end is never there."""

    def read(self, batch: StreamBatchInfo) -> StreamRange:
        """The records from ``startSequenceNumber`` to ``endSequenceNumber`` that the stream still holds."""
        start, end = int(batch.start_sequence_number), int(batch.end_sequence_number)
        records: list[dict[str, Any]] = []
        trimmed = False
        try:
            try:
                iterator: str | None = self._iterator(batch, "AT_SEQUENCE_NUMBER")
            except ClientError as error:
                if _code(error) != "TrimmedDataAccessException":
                    raise
                trimmed = True  # the first record is gone; the rest of the range may not be
                iterator = self._iterator(batch, "TRIM_HORIZON")
            for record in self._records(iterator):
                sequence = int(record["dynamodb"]["SequenceNumber"])
                if sequence > end:
                    return StreamRange(records, trimmed, reached_end=True)
                if sequence >= start:
                    records.append(lambda_record(record, batch.stream_arn))
                if sequence == end:
                    return StreamRange(records, trimmed, reached_end=True)
        except ClientError as error:
            if _code(error) not in _GONE:
                raise
            return StreamRange(records, trimmed=True, reached_end=False)
        return StreamRange(records, trimmed, reached_end=False)

    def _iterator(self, batch: StreamBatchInfo, kind: str) -> str:
        request: dict[str, Any] = {
            "StreamArn": batch.stream_arn,
            "ShardId": batch.shard_id,
            "ShardIteratorType": kind,
        }
        if kind == "AT_SEQUENCE_NUMBER":
            request["SequenceNumber"] = batch.start_sequence_number
        return str(self.streams.get_shard_iterator(**request)["ShardIterator"])

    def _records(self, iterator: str | None) -> Iterator[dict[str, Any]]:
        empty = 0
        for _ in range(self.max_pages):
            if iterator is None:  # the shard is closed and read to its end
                return
            response = self.streams.get_records(ShardIterator=iterator, Limit=self.page_limit)
            page = response.get("Records", [])
            yield from page
            empty = 0 if page else empty + 1
            if empty >= self.max_empty_pages:
                return
            iterator = response.get("NextShardIterator")


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as Lambda delivers it to a stream consumer: JSON types (epoch seconds for
    ``ApproximateCreationDateTime``, base64 for binary attributes) and the record's ``eventSourceARN``."""
    event: dict[str, Any] = _as_event_json(record)
    event["eventSourceARN"] = stream_arn
    return event


def _as_event_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {key: _as_event_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_as_event_json(item) for item in value]
    return value


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
