"""What the rescue reads and decides: Lambda's on-failure record, the replay routes, the outcome."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class StreamBatchInfo(BaseModel):
    """``DDBStreamBatchInfo``: where in which stream the failed batch lies."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    shard_id: str = Field(alias="shardId")
    start_sequence_number: str = Field(alias="startSequenceNumber")
    end_sequence_number: str = Field(alias="endSequenceNumber")
    batch_size: int = Field(alias="batchSize", ge=1)
    """Records the function was given (after the mapping's event filter)."""
    stream_arn: str = Field(
        alias="streamArn", pattern=r"^arn:[^:]+:dynamodb:[^:]*:[^:]*:table/[^/]+/stream/.+$"
    )
    approximate_arrival_of_first_record: str | None = Field(
        default=None, alias="approximateArrivalOfFirstRecord"
    )
    approximate_arrival_of_last_record: str | None = Field(
        default=None, alias="approximateArrivalOfLastRecord"
    )

    @property
    def table_name(self) -> str:
        """The table whose stream this is (``arn:...:table/<name>/stream/<label>``)."""
        return self.stream_arn.split(":", 5)[5].split("/")[1]


class FailedInvocation(BaseModel):
    """``requestContext``: which function failed the batch, and why it was given up."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    function_arn: str = Field(
        alias="functionArn", pattern=r"^arn:[^:]+:lambda:[^:]*:[^:]*:function:[^:]+(:.+)?$"
    )
    condition: str
    """``RetryAttemptsExhausted``, ``RecordAgeExceeded``..."""
    approximate_invoke_count: int = Field(default=0, alias="approximateInvokeCount")

    @property
    def function_name(self) -> str:
        """The function's name, without a version or alias qualifier."""
        return self.function_arn.split(":")[6]


class StreamFailure(BaseModel):
    """Lambda's on-failure record of a DynamoDB stream batch (the ``stream-failures`` message body)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    invocation: FailedInvocation = Field(alias="requestContext")
    batch: StreamBatchInfo = Field(alias="DDBStreamBatchInfo")
    timestamp: str | None = None

    def describe(self) -> dict[str, Any]:
        """The coordinates, for logs: enough for an operator to find the batch again."""
        return {
            "function": self.invocation.function_name,
            "condition": self.invocation.condition,
            "stream_arn": self.batch.stream_arn,
            "shard_id": self.batch.shard_id,
            "start_sequence_number": self.batch.start_sequence_number,
            "end_sequence_number": self.batch.end_sequence_number,
            "batch_size": self.batch.batch_size,
            "first_record_arrival": self.batch.approximate_arrival_of_first_record,
        }


class ReplayRoute(BaseModel):
    """Where the records one function failed on one table's stream go back (``STREAM_REPLAY_ROUTES``,
    computed from the definition's stream mappings by ``infra.grants.replay_routes``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    function: str
    """The consumer's physical function name."""
    table: str
    """The physical name of the table whose stream the mapping reads."""
    queue_url: str
    """The consumer's replay queue."""
    event_names: tuple[str, ...] = ()
    """The mapping's event filter: only these events reached the consumer (empty: every event)."""

    def accepts(self, record: dict[str, Any]) -> bool:
        """Whether the mapping's filter would have delivered this stream record to the consumer."""
        return not self.event_names or record.get("eventName") in self.event_names


@dataclass(frozen=True)
class RescueReport:
    """What became of one failed batch."""

    replayed: int
    """Records put on the replay queue."""
    filtered: int
    """Records of the range the consumer's filter never delivered (not replayed)."""
    lost: int
    """Records of the batch the stream no longer holds: trimmed (older than 24 h) before the rescue."""

    def as_dict(self) -> dict[str, int]:
        return asdict(self)
