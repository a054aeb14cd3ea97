"""Domain errors. Each carries the HTTP status and the contract's snake_case code.

They are raised by logic and data-access code and mapped to HTTP in exactly one place
(``functions.core.http``); nothing matches on message strings.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadRequest(DomainError):
    status, code = 400, "malformed_request"


class InvalidCursor(DomainError):
    status, code = 400, "invalid_cursor"


class Unauthorized(DomainError):
    status, code = 401, "unauthorized"


class InvalidCredentials(DomainError):
    status, code = 401, "invalid_credentials"


class Forbidden(DomainError):
    status, code = 403, "forbidden"


class AccountNotConfirmed(DomainError):
    status, code = 403, "account_not_confirmed"


class NotFound(DomainError):
    status, code = 404, "not_found"


class Conflict(DomainError):
    status, code = 409, "conflict"


class UsernameTaken(Conflict):
    code = "username_taken"


class EmailTaken(Conflict):
    code = "email_taken"


class PayloadTooLarge(DomainError):
    status, code = 413, "payload_too_large"


class Unprocessable(DomainError):
    status, code = 422, "validation_error"


class RateLimited(DomainError):
    status, code = 429, "rate_limited"

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = max(1, retry_after_seconds)


class Busy(RateLimited):
    """An item took too many concurrent changes to apply this one (conflicts outlasted the retries)."""

    code = "busy"


class UnsupportedMediaType(DomainError):
    status, code = 415, "unsupported_media_type"
