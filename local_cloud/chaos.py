"""Chaos for the local cloud: the failure modes of AWS that moto never shows (``LOCAL_CHAOS``).

moto never throttles or fails, never returns unprocessed batch items, delivers every SQS message once
and in order, and its global secondary indexes are immediately consistent (PITFALLS.md). AWS does all
of these, and code that was only ever run against moto has never met them.
``LOCAL_CHAOS="seed=N,faults=F,redeliver=F,index_lag_ms=N,delay_ms=N"`` (every key optional) brings
them back:

- ``faults``: that share of the functions' AWS calls fail beneath botocore's retry layer, as AWS
  answers them (throttling, HTTP 500, HTTP 503: ``FaultInjector``), and that share of their
  BatchWriteItem / BatchGetItem calls leave some items unprocessed;
- ``redeliver``: that share of SQS messages and of stream batches is delivered twice (the pollers);
- ``index_lag_ms``: queries and scans of global secondary indexes see writes that much later
  (``local_cloud.index_lag``, in the moto process);
- ``delay_ms``: deliveries wait a random 0..delay_ms, SQS messages in a shuffled order (the pollers).

Every random choice comes from a ``random.Random`` seeded from ``seed`` and the component making it (a
function's name, a poller's), so a run repeats itself as far as thread timing allows. What was
injected is counted (``ChaosCounts``); ``LocalCloud.chaos_report()`` adds the counts up.
"""

from __future__ import annotations

import json
import math
import os
import random
import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, TypeVar

ENVIRONMENT_VARIABLE = "LOCAL_CHAOS"

MAX_MILLISECONDS = 60_000
"""Upper bound of ``index_lag_ms`` and ``delay_ms``: more is a typo, not a test of anything."""

REPORT_KEYS = (
    "throttle",
    "500",
    "503",
    "unprocessed_items",
    "unprocessed_keys",
    "redelivered_sqs",
    "redelivered_stream",
    "delayed",
    "index_lag_hidden",
    "sdk_retries",
    "sdk_gave_up",
)
"""What ``LocalCloud.chaos_report()`` counts: injected faults by kind (calls answered with a throttling
error, a 500, a 503; BatchWriteItem / BatchGetItem calls answered with some items unprocessed), SQS
messages and stream batches delivered a second time, deliveries held back by ``delay_ms``, items an
index read saw in their lagged state, the retries botocore made in the functions, and the calls whose
retries ran out on an injected fault (the caller saw the error)."""

_SHARES = ("faults", "redeliver")
_MILLISECONDS = ("index_lag_ms", "delay_ms")
T = TypeVar("T")


@dataclass(frozen=True)
class ChaosSettings:
    """The parsed ``LOCAL_CHAOS``; all zero (the default) is no chaos at all."""

    seed: int = 0
    faults: float = 0.0
    redeliver: float = 0.0
    index_lag_ms: int = 0
    delay_ms: int = 0

    @classmethod
    def parse(cls, text: str | None) -> ChaosSettings:
        """``"seed=N,faults=F,redeliver=F,index_lag_ms=N,delay_ms=N"`` (any subset, any order; empty is
        no chaos). Raises ValueError naming the key for an unknown or repeated key, a value that is not
        a number, a share outside [0, 1) or milliseconds outside 0..60000."""
        known = [f.name for f in fields(cls)]
        values: dict[str, Any] = {}
        for part in (text or "").split(","):
            if not part.strip():
                continue
            key, sep, raw = (s.strip() for s in part.partition("="))
            if not sep or not raw:
                raise ValueError(f"{ENVIRONMENT_VARIABLE}: {part.strip()!r} is not key=value")
            if key not in known:
                raise ValueError(f"{ENVIRONMENT_VARIABLE}: unknown key {key!r} (known: {', '.join(known)})")
            if key in values:
                raise ValueError(f"{ENVIRONMENT_VARIABLE}: {key} is given twice")
            values[key] = _value(key, raw)
        return cls(**values)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ChaosSettings:
        """The settings ``LOCAL_CHAOS`` holds (none: no chaos)."""
        return cls.parse((os.environ if environ is None else environ).get(ENVIRONMENT_VARIABLE))

    @classmethod
    def coerce(cls, value: ChaosSettings | str | None) -> ChaosSettings:
        """Settings as given, parsed from text, or (None) read from ``LOCAL_CHAOS``."""
        if isinstance(value, ChaosSettings):
            return value
        return cls.from_environment() if value is None else cls.parse(value)

    @property
    def active(self) -> bool:
        """Whether anything is injected at all (the seed alone injects nothing)."""
        return any(getattr(self, name) for name in (*_SHARES, *_MILLISECONDS))

    def text(self) -> str:
        """The settings in ``LOCAL_CHAOS`` form, every key given (``parse`` reads it back)."""
        return ",".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))

    def describe(self) -> str:
        """One line for a person: what is injected, or that chaos is off."""
        if not self.active:
            return "chaos: off"
        parts = [f"seed={self.seed}"]
        if self.faults:
            parts.append(f"faults={self.faults:g} of function AWS calls (throttling, 5xx, partial batches)")
        if self.redeliver:
            parts.append(f"redeliver={self.redeliver:g} of SQS messages and stream batches")
        if self.index_lag_ms:
            parts.append(f"index_lag_ms={self.index_lag_ms} on global secondary indexes")
        if self.delay_ms:
            parts.append(f"delay_ms=0..{self.delay_ms} per delivery, SQS reordered")
        return "chaos: " + ", ".join(parts)

    def random(self, scope: str) -> random.Random:
        """A generator for one component (a function, a poller): the same seed and scope, the same
        sequence. A string seed is hashed with SHA-512, so it does not depend on PYTHONHASHSEED."""
        return random.Random(f"{self.seed}:{scope}")


def _value(key: str, raw: str) -> int | float:
    try:
        number = float(raw) if key in _SHARES else int(raw)
    except ValueError:
        kind = "a number" if key in _SHARES else "a whole number"
        raise ValueError(f"{ENVIRONMENT_VARIABLE}: {key}={raw!r} is not {kind}") from None
    if key in _SHARES and not (math.isfinite(number) and 0 <= number < 1):
        raise ValueError(f"{ENVIRONMENT_VARIABLE}: {key}={raw} is a share: at least 0 and below 1")
    if key in _MILLISECONDS and not 0 <= number <= MAX_MILLISECONDS:
        raise ValueError(f"{ENVIRONMENT_VARIABLE}: {key}={raw} must be 0..{MAX_MILLISECONDS} (milliseconds)")
    return number


class ChaosCounts:
    """Counts of what was injected, by ``REPORT_KEYS`` name; safe to add to from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, key: str, amount: int = 1) -> None:
        if key not in REPORT_KEYS:
            raise KeyError(f"{key} is not a chaos report key: {REPORT_KEYS}")
        with self._lock:
            self._counts[key] += amount

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {key: self._counts[key] for key in REPORT_KEYS}


def report(parts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Every ``REPORT_KEYS`` count summed over ``parts`` (zero where none counted it)."""
    total: Counter[str] = Counter()
    for part in parts:
        total.update({key: int(value) for key, value in part.items() if key in REPORT_KEYS})
    return {key: total[key] for key in REPORT_KEYS}


class DeliveryChaos:
    """The pollers' chaos: whether to deliver a message or batch again, and how long to hold one back.

    Inert while the settings say zero (the pollers then behave exactly as without chaos); the
    settings may change while running (``LocalCloud.set_chaos``)."""

    def __init__(self, settings: ChaosSettings, scope: str, counts: ChaosCounts) -> None:
        self.settings = settings
        self.counts = counts
        self._random = settings.random(scope)
        self._lock = threading.Lock()

    def redeliver(self) -> bool:
        """Deliver this once more? True for a ``redeliver`` share of calls."""
        share = self.settings.redeliver
        if not share:
            return False
        with self._lock:
            return self._random.random() < share

    @property
    def delays(self) -> bool:
        return self.settings.delay_ms > 0

    def delay_seconds(self) -> float:
        """How long to hold a delivery back: uniform in 0..delay_ms (0 without delays)."""
        if not self.settings.delay_ms:
            return 0.0
        with self._lock:
            return self._random.uniform(0, self.settings.delay_ms) / 1000

    def shuffled_groups(self, items: Sequence[T]) -> list[list[T]]:
        """``items`` in a random order, cut into consecutive groups at random points (each delivered
        on its own, after its own delay: the messages of one receive arrive in any order)."""
        with self._lock:
            order = list(items)
            self._random.shuffle(order)
            groups: list[list[T]] = [[]]
            for item in order:
                if groups[-1] and self._random.random() < 0.5:
                    groups.append([])
                groups[-1].append(item)
        return groups


# -- faults inside a function's process ---------------------------------------------------------------
_FAULT_KINDS = ("throttle", "500", "503")
_THROTTLING = {
    # What each service answers when it throttles; all are in botocore's throttling codes (standard
    # mode retries them with the throttling backoff). SQS's JSON protocol carries its old query-protocol
    # code in x-amzn-query-error, which botocore reports as the error code.
    "dynamodb": ("ProvisionedThroughputExceededException", "ThrottlingException"),
    "sqs": ("RequestThrottled",),
    "cognito-identity-provider": ("TooManyRequestsException",),
    "s3": ("SlowDown",),
}
_SERVER_ERROR = {
    "dynamodb": "InternalServerError",
    "cognito-identity-provider": "InternalErrorException",
    "s3": "InternalError",
}
_TYPE_PREFIX = {"dynamodb": "com.amazonaws.dynamodb.v20120810#", "sqs": "com.amazonaws.sqs#"}
_QUERY_COMPATIBLE = frozenset({"sqs"})
_MESSAGES = {
    "throttle": "Rate of requests exceeds the allowed throughput.",
    "500": "The server encountered an internal error trying to fulfill the request.",
    "503": "The service is currently unavailable or busy.",
}
_CHAOS_HEADER = "x-local-chaos"
"""Marks a synthetic response, so the retry counter can tell the calls that gave up on one."""
_HELD = "local_chaos_unprocessed"
"""Where a batch call's request context keeps the items held back from the request."""


class _Body:
    """The raw stream ``AWSResponse`` reads its content from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterable[bytes]:
        yield self._data


def fault_response(service: str, kind: str, request: Any, code: str | None = None) -> Any:
    """The HTTP response AWS gives ``request`` for a fault of ``kind`` ("throttle", "500", "503"):
    status, error body and headers in the service's protocol (JSON, or XML for S3)."""
    from botocore.awsrequest import AWSResponse, HeadersDict

    if kind == "throttle":
        code = code or _THROTTLING.get(service, ("ThrottlingException",))[0]
        status = 503 if service == "s3" else 400
    elif kind == "500":
        code, status = code or _SERVER_ERROR.get(service, "InternalFailure"), 500
    else:
        code, status = code or "ServiceUnavailable", 503
    request_id = uuid.uuid4().hex
    message = _MESSAGES[kind]
    headers = HeadersDict({"x-amzn-requestid": request_id, _CHAOS_HEADER: kind})
    if service == "s3":
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        headers["Content-Type"] = "application/xml"
    else:
        body = json.dumps({"__type": _TYPE_PREFIX.get(service, "") + code, "message": message}).encode()
        headers["Content-Type"] = request.headers.get("Content-Type") or "application/x-amz-json-1.1"
        if service in _QUERY_COMPATIBLE:
            headers["x-amzn-query-error"] = f"{code};{'Sender' if status < 500 else 'Receiver'}"
    headers["Content-Length"] = str(len(body))
    return AWSResponse(request.url, status, headers, _Body(body))


class FaultInjector:
    """Fails a ``faults`` share of the AWS calls of every botocore client in a function's process.

    Beneath botocore's retry layer: a ``before-send`` handler answers the attempt with a synthetic
    response (throttling, 500 or 503, as the service would send it) instead of sending it, so nothing
    reaches moto (a faulted attempt applied nothing) and botocore's retry handler sees a real retryable
    error and retries it with its own backoff, as it would on AWS. Each attempt draws again.

    BatchWriteItem and BatchGetItem calls (not attempts) also come back partial at the same share: a
    ``before-call`` handler takes a random part of the request's items or keys out of the request and
    the ``after-call`` handler of a successful call hands them back as ``UnprocessedItems`` /
    ``UnprocessedKeys``, as DynamoDB does under load. (A batch of one item is never split: DynamoDB
    answers that with a throttling error, which the faults above already cover.)

    Counts every injection and the retries botocore made (``RetryAttempts`` of each response).
    """

    def __init__(self, settings: ChaosSettings, scope: str, counts: ChaosCounts | None = None) -> None:
        self.settings = settings
        self.counts = counts or ChaosCounts()
        self._random = settings.random(scope)
        self._lock = threading.Lock()

    def handlers(self) -> list[tuple[str, Any]]:
        """(botocore event, handler) pairs; the batch handlers run before boto3's own transformations
        (more specific events run first), so they always see DynamoDB's wire format."""
        return [
            ("before-send", self._before_send),
            ("before-call.dynamodb.BatchWriteItem", self._hold_back),
            ("before-call.dynamodb.BatchGetItem", self._hold_back),
            ("after-call.dynamodb.BatchWriteItem", self._hand_back),
            ("after-call.dynamodb.BatchGetItem", self._hand_back),
            ("after-call", self._count_retries),
        ]

    def install(self) -> None:
        """Put the handlers on every botocore session created in this process from now on (call it
        before the function's code runs), the way ``local_cloud.iam.IamGuard.install`` does."""
        import botocore.handlers

        botocore.handlers.BUILTIN_HANDLERS.extend(self.handlers())

    def attach(self, client: Any) -> Any:
        """Put the handlers on one client (tests that run code in their own process)."""
        for event, handler in self.handlers():
            client.meta.events.register(event, handler)
        return client

    def _draw(self) -> float:
        with self._lock:
            return self._random.random()

    # -- whole-call faults -------------------------------------------------------------------------
    def _before_send(self, request: Any, event_name: str = "", **_: Any) -> Any:
        if not self.settings.faults or self._draw() >= self.settings.faults:
            return None
        service = event_name.split(".")[1] if event_name.count(".") >= 2 else ""
        with self._lock:
            kind = self._random.choice(_FAULT_KINDS)
            codes = _THROTTLING.get(service, ("ThrottlingException",))
            code = self._random.choice(codes) if kind == "throttle" else None
        self.counts.add(kind)
        return fault_response(service, kind, request, code)

    # -- partial batches ---------------------------------------------------------------------------
    def _hold_back(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if not self.settings.faults:
            return
        raw = params.get("body")
        if not raw:
            return
        body = json.loads(raw)
        requests: dict[str, Any] = body.get("RequestItems") or {}
        writes = model.name == "BatchWriteItem"
        slots = [
            (table, i)
            for table, entry in requests.items()
            for i in range(len(entry if writes else entry.get("Keys", [])))
        ]
        if len(slots) < 2 or self._draw() >= self.settings.faults:
            return
        with self._lock:
            held = set(self._random.sample(slots, self._random.randint(1, len(slots) - 1)))
        kept: dict[str, Any] = {}
        unprocessed: dict[str, Any] = {}
        for table, entry in requests.items():
            items = entry if writes else entry.get("Keys", [])
            keep = [item for i, item in enumerate(items) if (table, i) not in held]
            hold = [item for i, item in enumerate(items) if (table, i) in held]
            if writes:
                if keep:
                    kept[table] = keep
                if hold:
                    unprocessed[table] = hold
            else:
                if keep:
                    kept[table] = {**entry, "Keys": keep}
                if hold:
                    unprocessed[table] = {**entry, "Keys": hold}
        body["RequestItems"] = kept
        params["body"] = json.dumps(body).encode()
        context[_HELD] = unprocessed
        self.counts.add("unprocessed_items" if writes else "unprocessed_keys")

    def _hand_back(
        self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        held = context.pop(_HELD, None)
        if not held or http_response is None or http_response.status_code >= 300:
            return  # a failed call is retried whole by its caller: nothing was lost
        if model.name == "BatchWriteItem":
            items: dict[str, list[Any]] = parsed.setdefault("UnprocessedItems", {})
            for table, requests in held.items():
                items.setdefault(table, []).extend(requests)
        else:
            keys: dict[str, dict[str, Any]] = parsed.setdefault("UnprocessedKeys", {})
            for table, entry in held.items():
                present = keys.setdefault(table, {k: v for k, v in entry.items() if k != "Keys"})
                present["Keys"] = [*present.get("Keys", []), *entry["Keys"]]

    # -- counting ----------------------------------------------------------------------------------
    def _count_retries(self, http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
        retries = int((parsed or {}).get("ResponseMetadata", {}).get("RetryAttempts") or 0)
        if retries:
            self.counts.add("sdk_retries", retries)
        if http_response is not None and http_response.headers.get(_CHAOS_HEADER):
            self.counts.add("sdk_gave_up")
