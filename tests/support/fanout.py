"""Test doubles for the fan-out code."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from functions.timeline.dal import FanoutQueue
from functions.timeline.models import FanoutMessage


@dataclass
class RecordingQueue(FanoutQueue):
    """Stands in for the fan-out queue: keeps the messages instead of sending them (and reports the
    SendMessageBatch calls the real queue would have made, 10 messages each)."""

    messages: list[FanoutMessage] = field(default_factory=list)

    def send(self, messages: Sequence[FanoutMessage], delay_seconds: int = 0) -> int:
        self.messages.extend(messages)
        return math.ceil(len(messages) / 10)
