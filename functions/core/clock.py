"""The one time format of the service: ISO 8601 in UTC with milliseconds and a ``Z`` (API and storage)."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def iso_millis(timestamp: float | None = None) -> str:
    """``2026-12-02T02:35:29.123Z`` for ``timestamp`` (seconds since the epoch; now when None)."""
    moment = datetime.fromtimestamp(time.time() if timestamp is None else timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
