"""Domain errors. Each carries the HTTP status and the contract's snake_case code.

They are raised by logic and data-access code and mapped to HTTP in exactly one place
(``functions.core.http``); nothing matches on message strings.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status: int = 400
    code: str = "bad_request"
    retry_after_seconds: int | None = None
    """Seconds for the response's ``Retry-After`` header (429 and 503 carry one)."""

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


class Unavailable(DomainError):
    """A dependency (DynamoDB, SQS, Cognito) still throttled or failed after every retry: 503 with
    Retry-After. Nothing was wrong with the request; the client may send it again later."""

    status, code = 503, "service_unavailable"

    def __init__(
        self, message: str = "The service is busy; try again shortly.", *, retry_after_seconds: int = 1
    ) -> None:
        super().__init__(message)
        self.retry_after_seconds = max(1, retry_after_seconds)


class RetriesExhausted(RuntimeError):
    """Base of the errors saying a dependency still left part of the work undone after every retry
    (a batch call's unprocessed keys or items under sustained throttling). A consumer's record fails
    and is redelivered; the API answers 503 like for any dependency that is unavailable."""


class UnsupportedMediaType(DomainError):
    status, code = 415, "unsupported_media_type"
