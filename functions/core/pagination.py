"""Opaque, tamper-evident page cursors and the ``limit`` rule shared by every list route.

A cursor is ``base64url(json position) + "." + base64url(HMAC-SHA256(key, scope + position))``. The
scope names the list (route and owner), so a cursor from another list is refused like a forged one.
Keyset positions (the last key returned) mean items that arrive while a client pages never cause a
repeat or a skip: newer items sort before the position and older ones after it.

Hand-written on purpose: itsdangerous would do the signing, but it is one more runtime dependency for
twenty lines of stdlib ``hmac``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from functions.core.config import PagingSettings
from functions.core.errors import InvalidCursor

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@lru_cache(maxsize=1)
def _signing_key() -> bytes:
    """The key comes from configuration: CURSOR_SIGNING_KEY locally, a Secrets Manager secret on AWS."""
    settings = PagingSettings.from_environment()
    if settings.cursor_signing_key:
        return settings.cursor_signing_key.encode()
    from aws_lambda_powertools.utilities import parameters

    return str(parameters.get_secret(str(settings.cursor_secret_arn), max_age=3600)).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(scope: str, payload: bytes) -> bytes:
    return hmac.new(_signing_key(), scope.encode() + b"\x00" + payload, hashlib.sha256).digest()[:18]


def encode_cursor(scope: str, position: dict[str, Any]) -> str:
    payload = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return f"{_b64(payload)}.{_b64(_mac(scope, payload))}"


def decode_cursor(scope: str, cursor: str | None) -> dict[str, Any] | None:
    """The position inside a cursor this service issued for ``scope``; InvalidCursor otherwise."""
    if cursor is None:
        return None
    try:
        payload_part, mac_part = cursor.split(".", 1)
        payload = _unb64(payload_part)
        if not hmac.compare_digest(_unb64(mac_part), _mac(scope, payload)):
            raise InvalidCursor("The cursor is invalid.")
        position = json.loads(payload)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursor("The cursor is invalid.") from exc
    if not isinstance(position, dict):
        raise InvalidCursor("The cursor is invalid.")
    return position


def cursor_field(scope: str, cursor: str | None, name: str, valid: Callable[[Any], bool]) -> Any:
    """The ``name`` field of a cursor's position (None without a cursor); InvalidCursor when the cursor
    is forged, from another list, or its field fails ``valid``."""
    position = decode_cursor(scope, cursor)
    if position is None:
        return None
    value = position.get(name)
    if not valid(value):
        raise InvalidCursor("The cursor is invalid.")
    return value
