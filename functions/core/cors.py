"""Cross-origin access for browser clients: which origins may call the API, and the headers that say so.

One definition for the three places that answer a browser: the functions' responses (``api_entry_point``),
API Gateway's preflight and error responses (``infra/constructs/api.py``) and the local gateway. The
allowed origins come from ``CORS_ALLOWED_ORIGINS`` (comma-separated; ``*`` for any). Tokens travel in the
``Authorization`` header, never in cookies, so no credentials mode is allowed and ``*`` exposes nothing a
page could not send itself.

Hand-written (a few lines) rather than Powertools' ``CORSConfig``: that is fixed when the resolver is
built at import time, and the local gateway needs the same rule without a resolver.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

ENV_VAR = "CORS_ALLOWED_ORIGINS"
ALLOW_METHODS = ("GET", "POST", "PATCH", "DELETE", "OPTIONS")
ALLOW_HEADERS = ("Authorization", "Content-Type")
EXPOSE_HEADERS = ("Retry-After",)
MAX_AGE_SECONDS = 3600


def parse_origins(text: str | None) -> tuple[str, ...]:
    """``"https://a.example, https://b.example"`` -> the origins; ``"*"`` -> ``("*",)``; empty -> none."""
    return tuple(o.strip().rstrip("/") for o in (text or "").split(",") if o.strip())


def configured_origins() -> tuple[str, ...]:
    return parse_origins(os.environ.get(ENV_VAR))


def allowed_origin(origin: str | None, allowed: tuple[str, ...]) -> str | None:
    """The value of ``Access-Control-Allow-Origin`` for a request from ``origin``, or None."""
    if "*" in allowed:
        return "*"
    if origin and origin.rstrip("/") in allowed:
        return origin
    return None


def response_headers(origin: str | None, allowed: tuple[str, ...]) -> dict[str, str]:
    """Headers to add to an actual (non-preflight) response; empty when the origin is not allowed."""
    value = allowed_origin(origin, allowed)
    if value is None:
        return {}
    headers = {
        "Access-Control-Allow-Origin": value,
        "Access-Control-Expose-Headers": ",".join(EXPOSE_HEADERS),
    }
    if value != "*":
        headers["Vary"] = "Origin"
    return headers


def preflight_headers(origin: str | None, allowed: tuple[str, ...]) -> dict[str, str]:
    """Headers of the answer to an ``OPTIONS`` preflight; empty when the origin is not allowed."""
    headers = response_headers(origin, allowed)
    if headers:
        headers |= {
            "Access-Control-Allow-Methods": ",".join(ALLOW_METHODS),
            "Access-Control-Allow-Headers": ",".join(ALLOW_HEADERS),
            "Access-Control-Max-Age": str(MAX_AGE_SECONDS),
        }
    return headers


def request_origin(headers: Mapping[str, str] | None) -> str | None:
    for name, value in (headers or {}).items():
        if name.lower() == "origin":
            return value
    return None
