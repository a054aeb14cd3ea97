"""Load the real-shaped sample events under events/ and tweak them per test."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parents[2] / "events"


@cache
def _load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())  # type: ignore[no-any-return]


def event(name: str) -> dict[str, Any]:
    return copy.deepcopy(_load(name))


def api_event_as(name: str, user_id: str) -> dict[str, Any]:
    """An API event whose authorizer claims name ``user_id`` (what API Gateway passes after verifying)."""
    ev = event(name)
    ev["requestContext"]["authorizer"]["claims"]["sub"] = user_id
    return ev
