"""In-process moto for the benchmark: thread-safe, with a cheap transaction rollback, and a direct view
of the stored items (the capacity calculator needs the full old and new images of what a call touched).

Why in-process rather than the local cloud's moto server (its own process, over HTTP): the same moto
code answers, about 3x faster per call (no HTTP), and the bench can read item images straight from
moto's backend without making extra (counted) calls. Two adjustments, both about moto's speed, neither
about behaviour:

- moto is not thread-safe in-process, and the service's code issues calls from thread pools. Every
  moto request runs under one lock (as the local cloud's request gate does for the server).
- the local cloud's speed-ups of moto (``local_cloud/moto_speedups.py``: transaction rollback, Query
  partition lookup, plain JSON in and out, ...), so the bench measures the same moto the local cloud
  runs.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from local_cloud import moto_speedups

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
MOTO_LOCK = threading.RLock()
"""Held around every moto request and every direct read of moto's state."""

_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "Chirp",
    "POWERTOOLS_SERVICE_NAME": "chirp",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "STAGE": "local",
    "AUTO_CONFIRM_SIGNUP": "true",
    "CURSOR_SIGNING_KEY": "bench-cursor-key",
}
_installed = False
_originals: list[tuple[Any, str, Any]] = []


def _install_lock() -> None:
    from moto.core.botocore_stubber import BotocoreStubber

    original = BotocoreStubber.__call__

    def locked(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        with MOTO_LOCK:
            return original(self, event_name, request, **kwargs)

    _originals.append((BotocoreStubber, "__call__", original))
    BotocoreStubber.__call__ = locked  # type: ignore[method-assign]


def install_patches() -> None:
    """The lock and the local cloud's moto speed-ups (idempotent; ``uninstall_patches`` undoes the lock)."""
    if _originals:
        return
    _install_lock()
    moto_speedups.install()  # none with LOCAL_CLOUD_MOTO_SPEEDUPS=off: the bench then measures vanilla moto


def uninstall_patches() -> None:
    while _originals:
        owner, name, original = _originals.pop()
        setattr(owner, name, original)
    # The speed-ups stay: a local cloud in the same process may rely on them.


def install() -> None:
    """Environment and patches; idempotent. Call before any boto3/PynamoDB client exists."""
    global _installed
    if _installed:
        return
    for name, value in _ENV.items():
        os.environ[name] = value
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)
    install_patches()
    _installed = True


class MotoSession:
    """A fresh in-process moto with every resource of ``infra.resources.SPEC`` provisioned."""

    def __init__(self) -> None:
        install()
        from moto import mock_aws

        self._mock = mock_aws()
        self.provisioned: Any = None

    def __enter__(self) -> MotoSession:
        import boto3

        from infra.resources import SPEC
        from local_cloud.provision import provision

        self._saved_environment = dict(os.environ)
        self._mock.start()
        self.provisioned = provision(SPEC, boto3.session.Session())
        os.environ.update(self.provisioned.environment())
        # The search indexer runs on the pipeline's streams and queues too: an embedded engine per run.
        from local_cloud.search import LocalSearch

        self._search = LocalSearch(SPEC, None)
        os.environ.update(definition_environment(self.provisioned, self._search.start()))
        _new_execution_environments()
        return self

    def __exit__(self, *exc: object) -> None:
        self._mock.stop()
        self._search.stop()
        # What this session set must not leak into a local cloud the bench starts next (its functions
        # would inherit another run's queue URLs and search database).
        os.environ.clear()
        os.environ.update(self._saved_environment)


def _new_execution_environments() -> None:
    """Every function starts this session as a new execution environment would: what the handlers
    built once (``lru_cache`` composition roots: repositories, the search engine bound to the last
    session's endpoint, the home timeline's cache of merged accounts) is built again."""
    for name, module in list(sys.modules.items()):
        if not name.startswith("functions.") or module is None:
            continue
        for value in list(vars(module).values()):
            if callable(getattr(value, "cache_clear", None)) and hasattr(value, "cache_info"):
                value.cache_clear()


def table(name: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[ACCOUNT_ID][REGION].get_table(name)


def stored_item(table_name: str, key: dict[str, Any]) -> dict[str, Any] | None:
    """The full stored item (wire format) at ``key``, or None. Read under the moto lock, no API call."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    with MOTO_LOCK:
        try:
            t = table(table_name)
        except Exception:
            return None
        try:
            hash_key = DynamoType(key[t.hash_key_attr])
            range_key = DynamoType(key[t.range_key_attr]) if t.range_key_attr else None
        except KeyError:
            return None
        item = t.get_item(hash_key, range_key)
        return None if item is None else dict(item.to_json()["Attributes"])


def key_attributes(table_name: str) -> tuple[str, str | None]:
    with MOTO_LOCK:
        t = table(table_name)
        return t.hash_key_attr, t.range_key_attr


@contextmanager
def locked() -> Iterator[None]:
    with MOTO_LOCK:
        yield


def count_items(table_name: str, attribute: str, value: str) -> int:
    """How many stored items have ``attribute`` = ``value`` (S), read directly from moto's state."""
    with MOTO_LOCK:
        return sum(
            1
            for item in table(table_name).all_items()
            if (attr := item.attrs.get(attribute)) is not None and attr.value == value
        )


# Per-function variables that differ between functions; the bench runs every handler in one process.
_PER_FUNCTION = {"POWERTOOLS_SERVICE_NAME", "LOG_LEVEL", "POWERTOOLS_LOGGER_SAMPLE_RATE"}


def definition_environment(provisioned: Any, search_endpoints: dict[str, str]) -> dict[str, str]:
    """What the definition gives the functions (``infra.grants.function_environment``, as the stack and
    the local cloud compute it), merged over every function: the handlers share this process."""
    from infra.grants import DeployedNames, function_environment
    from infra.resources import SPEC

    names = DeployedNames(
        tables=provisioned.table_names,
        queues=provisioned.queue_urls,
        buckets=provisioned.bucket_names,
        # No bytes are served here (the bench posts no media): a base URL to render, as CloudFront's.
        bucket_urls={b.logical_id: "https://media.bench.invalid" for b in SPEC.buckets},
        secrets={s.logical_id: "bench-cursor-key" for s in SPEC.secrets},
        user_pool_id=provisioned.user_pool_id,
        user_pool_client_id=provisioned.user_pool_client_id,
        inline_secrets=True,
        search_endpoints=search_endpoints,
    )
    merged: dict[str, str] = {}
    for fn in SPEC.functions:
        env = function_environment(SPEC, fn, names, stage="local", auto_confirm_signup=True)
        merged |= {k: v for k, v in env.items() if k not in _PER_FUNCTION}
    return merged
