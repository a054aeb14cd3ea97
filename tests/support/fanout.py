"""Test doubles for the fan-out code."""

from __future__ import annotations

import math

from functions.timeline.models import FanoutMessage


class RecordingQueue:
    """Stands in for the fan-out queue: keeps the messages instead of sending them (and reports the
    SendMessageBatch calls the real queue would have made, 10 messages each)."""

    def __init__(self) -> None:
        self.messages: list[FanoutMessage] = []

    def send(self, messages: list[FanoutMessage]) -> int:
        self.messages.extend(messages)
        return math.ceil(len(messages) / 10)
