"""Rescuing a failed stream batch: read its records back and put them on the consumer's replay queue.

The consumer is the function the on-failure record names (``requestContext.functionArn``), the stream
the one its batch info names; the route for that pair (``STREAM_REPLAY_ROUTES``) holds the consumer's
replay queue and the mapping's event filter, so only records the consumer was given go back to it. The
range may hold records the consumer had applied before the failing one: they go back too, and the
consumer's idempotency (by ``eventID``) or its conditional writes make them no-ops.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from functions.streams.models import ReplayRoute, RescueReport, StreamBatchInfo, StreamFailure
from functions.streams.reader import StreamRange


class UnknownConsumer(LookupError):
    """No route names the failed function and stream: the definition and the deployment disagree."""


class IncompleteRead(RuntimeError):
    """The stream did not reach the range's end within the read budget; reading again later may."""


class BatchReader(Protocol):
    def read(self, batch: StreamBatchInfo) -> StreamRange: ...


class ReplaySink(Protocol):
    def send(self, queue_url: str, records: Sequence[dict[str, Any]]) -> None: ...


class Rescue:
    """Turns on-failure records into replayed stream records."""

    def __init__(self, routes: Iterable[ReplayRoute], reader: BatchReader, queues: ReplaySink) -> None:
        self.routes = {(route.function, route.table): route for route in routes}
        self.reader = reader
        self.queues = queues

    def route_for(self, failure: StreamFailure) -> ReplayRoute:
        key = (failure.invocation.function_name, failure.batch.table_name)
        route = self.routes.get(key)
        if route is None:
            raise UnknownConsumer(f"no replay route for function {key[0]} on the stream of table {key[1]}")
        return route

    def rescue(self, failure: StreamFailure) -> RescueReport:
        """Replay the batch's records the consumer's filter accepts; count those the stream lost.

        Calls: those of ``StreamReader.read`` + 1 SendMessageBatch per 10 records replayed."""
        route = self.route_for(failure)
        found = self.reader.read(failure.batch)
        if not found.reached_end and not found.trimmed:
            raise IncompleteRead(f"the end of the range was not reached: {failure.describe()}")
        wanted = [record for record in found.records if route.accepts(record)]
        if wanted:
            self.queues.send(route.queue_url, wanted)
        return RescueReport(
            replayed=len(wanted),
            filtered=len(found.records) - len(wanted),
            lost=max(0, failure.batch.batch_size - len(wanted)),
        )
