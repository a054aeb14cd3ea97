"""Checks on identifiers taken from requests, before they reach DynamoDB as keys.

A value DynamoDB would refuse as a key (empty, over its size limit) or one that could address another
kind of item (``#`` separates the parts of composite keys) is answered as "no such thing", a 404, and
never reaches the database, where it would be a 500.
"""

from __future__ import annotations

import re
from typing import Any

_ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
MAX_KEY_CHARS = 128


def plausible_key(value: str) -> bool:
    """True when ``value`` may be a user id, username or other single-part key."""
    return 0 < len(value) <= MAX_KEY_CHARS and "#" not in value


def is_ulid(value: Any) -> bool:
    """True for a canonical (upper-case Crockford base32) ULID: tweet ids and follow sequence numbers."""
    return isinstance(value, str) and bool(_ULID.match(value))
