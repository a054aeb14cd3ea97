"""The replay queues: rescued stream records go to their consumer's queue, one message per record."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from functions.core.retry import Backoff

SQS_BATCH_MAX = 10
SQS_BATCH_BYTES = 240 * 1024
"""Below SendMessageBatch's 256 KiB per request, with room for the request's own fields."""


class ReplayNotSent(RuntimeError):
    """Some records could not be put on the replay queue; the on-failure message must be retried."""


class ReplayQueues:
    """Sends stream records to replay queues: SendMessageBatch of up to 10 bodies (each the record as the
    stream delivered it), entries SQS failed retried with capped backoff. 1 call per 10 records."""

    def __init__(self, sqs: Any, backoff: Backoff | None = None) -> None:
        self.sqs = sqs
        self.backoff = backoff or Backoff(attempts=4, base_seconds=0.05, cap_seconds=1.0)

    def send(self, queue_url: str, records: Sequence[dict[str, Any]]) -> None:
        """Put every record on the queue, or raise ReplayNotSent (some may have been sent: consumers
        apply a record once, however often it arrives)."""
        bodies = [json.dumps(record, separators=(",", ":")) for record in records]
        for chunk in _batches(bodies):
            self._send_batch(queue_url, chunk)

    def _send_batch(self, queue_url: str, bodies: list[str]) -> None:
        pending = {str(i): body for i, body in enumerate(bodies)}
        for attempt in range(self.backoff.attempts):
            entries = [{"Id": key, "MessageBody": body} for key, body in pending.items()]
            failed = self.sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed", [])
            refused = [f for f in failed if f.get("SenderFault")]
            if refused:  # the request itself is wrong: sending it again cannot help
                raise ReplayNotSent(f"SQS refused {len(refused)} replay message(s): {refused[0].get('Code')}")
            pending = {f["Id"]: pending[f["Id"]] for f in failed}
            if not pending:
                return
            if attempt + 1 < self.backoff.attempts:
                self.backoff.pause(attempt)
        raise ReplayNotSent(
            f"{len(pending)} replay message(s) still failing after {self.backoff.attempts} attempts"
        )


def _batches(bodies: list[str]) -> Iterator[list[str]]:
    """Consecutive groups of at most 10 bodies and SQS_BATCH_BYTES (a larger body goes alone)."""
    chunk: list[str] = []
    size = 0
    for body in bodies:
        length = len(body.encode())
        if chunk and (len(chunk) == SQS_BATCH_MAX or size + length > SQS_BATCH_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(body)
        size += length
    if chunk:
        yield chunk
