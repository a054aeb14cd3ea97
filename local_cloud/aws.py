"""The embedded AWS of the local cloud: moto's server in its own process, or any external endpoint.

``LocalAws`` owns the endpoint every local component talks to. Embedded mode starts
``python -m local_cloud.moto_process`` (moto behind waitress, on a free loopback port, see that module
for why a process of its own); external mode (``LocalAws(endpoint_url=...)``, for DynamoDB Local or
LocalStack) starts nothing and only hands out the endpoint and clients.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from botocore.config import Config

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
"""moto's default account; ARNs the local cloud builds itself use it too."""

_DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
_HOUSEKEEPING_SECONDS = 30.0
_START_TIMEOUT_SECONDS = 60.0
_ROOT = Path(__file__).resolve().parents[1]

logger = logging.getLogger(__name__)


class ControlError(RuntimeError):
    """A control route of the embedded moto process refused the request (e.g. a foreign snapshot)."""


class Clients:
    """A small cache of boto3 clients bound to one endpoint and region (boto3 clients are thread-safe)."""

    def __init__(self, endpoint_url: str | None, region: str = REGION) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self._session = boto3.session.Session(
            aws_access_key_id=_DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=_DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=region,
        )
        # account_id_endpoint_mode: botocore 1.44 sends DynamoDB Streams to an account-based host
        # that moto does not route (PITFALLS.md).
        self._config = Config(
            account_id_endpoint_mode="disabled",
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=32,
        )
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service_name: str) -> Any:
        """Return the cached client for ``service_name`` (e.g. "dynamodb", "sqs")."""
        with self._lock:
            if service_name not in self._clients:
                self._clients[service_name] = self._session.client(
                    service_name,
                    endpoint_url=self.endpoint_url,
                    config=self._config,
                )
            return self._clients[service_name]


class LocalAws:
    """The local AWS endpoint: an embedded moto server, or an external endpoint when one is given.

    Use as a context manager, or call ``start()`` / ``stop()``.
    """

    def __init__(
        self,
        endpoint_url: str | None = None,
        *,
        region: str = REGION,
        host: str = "127.0.0.1",
        port: int = 0,
        housekeeping_seconds: float = _HOUSEKEEPING_SECONDS,
        index_lag_ms: int = 0,
    ) -> None:
        """``index_lag_ms``: global secondary indexes of the embedded moto see writes this late
        (``local_cloud.index_lag``; ``LOCAL_CHAOS`` index_lag_ms); ignored for an external endpoint."""
        self.region = region
        self.embedded = endpoint_url is None
        self._endpoint_url = endpoint_url
        self._host = host
        self._port = port
        self._process: subprocess.Popen[str] | None = None
        self._clients: Clients | None = None
        self._housekeeping_seconds = housekeeping_seconds
        self._index_lag_ms = index_lag_ms

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> LocalAws:
        """Start the moto process (embedded mode) with fresh state; in external mode do nothing."""
        if not self.embedded or self._process is not None:
            return self
        command = [
            sys.executable,
            "-m",
            "local_cloud.moto_process",
            "--host",
            self._host,
            "--port",
            str(self._port),
            "--housekeeping-seconds",
            str(self._housekeeping_seconds),
            "--index-lag-ms",
            str(self._index_lag_ms),
        ]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH", "")) if p)
        process = subprocess.Popen(  # noqa: S603 - our own module, run by this interpreter
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=_ROOT, text=True
        )
        try:
            self._endpoint_url = _read_ready_line(process, _START_TIMEOUT_SECONDS)
        except BaseException:
            process.kill()
            process.wait()
            raise
        self._process = process
        logger.info("moto server listening on %s (pid %d)", self._endpoint_url, process.pid)
        return self

    def stop(self) -> None:
        """Stop the moto process (closing its stdin ends it) and wait; no-op in external mode."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        logger.info("moto server stopped")

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- endpoint and clients ----------------------------------------------------------------------
    @property
    def endpoint_url(self) -> str:
        """The endpoint every client must use (``http://127.0.0.1:<port>`` when embedded)."""
        if self._endpoint_url is None:
            raise RuntimeError("LocalAws is not started")
        return self._endpoint_url

    def environment(self) -> dict[str, str]:
        """The environment variables that point boto3 (and anything built on it) at this endpoint."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            **_DUMMY_CREDENTIALS,
            # See PITFALLS.md: without it DynamoDB Streams calls go to a host moto does not route.
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        }

    def apply_env(self) -> None:
        """Export ``environment()`` into ``os.environ`` so handlers' own boto3 clients find this cloud."""
        os.environ.update(self.environment())

    def clients(self) -> Clients:
        """Cached boto3 clients bound to this endpoint (no dependence on os.environ)."""
        if self._clients is None or self._clients.endpoint_url != self.endpoint_url:
            self._clients = Clients(self.endpoint_url, self.region)
        return self._clients

    def client(self, service_name: str) -> Any:
        """Shortcut for ``clients().client(service_name)``."""
        return self.clients().client(service_name)

    # -- embedded-only operations ------------------------------------------------------------------
    def reset(self) -> None:
        """Drop every resource in the embedded moto (moto's own reset endpoint)."""
        self._require_embedded("reset")
        # Fixed http URL of our own server (not user input), hence the S310 waivers.
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()

    def control(self, route: str, body: dict[str, Any], timeout: float = 120.0) -> dict[str, Any]:
        """Call a control route of the moto process (``local_cloud.moto_process``); JSON both ways."""
        self._require_embedded(f"control route {route}")
        request = urllib.request.Request(  # noqa: S310 - our own loopback server
            f"{self.endpoint_url}/_local/{route}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                result: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as error:
            detail = json.loads(error.read() or b"{}").get("error", str(error))
            raise ControlError(detail) from error
        return result

    def prune_shard_iterators(self, keep: int = 1000) -> int:
        """Forget all but the newest ``keep`` stream shard iterators in moto (the moto process also
        does it every ``housekeeping_seconds``); return how many went."""
        return int(self.control("prune-shard-iterators", {"keep": keep})["removed"])

    def index_lag(self, lag_ms: int | None = None) -> dict[str, Any]:
        """The embedded moto's index lag (``local_cloud.index_lag``): set it when ``lag_ms`` is given;
        returns ``lag_ms``, ``hidden`` (items index reads saw lagged) and ``remaining_ms`` (until every
        write so far is visible to the indexes)."""
        body = {} if lag_ms is None else {"lag_ms": lag_ms}
        result = self.control("index-lag", body)
        self._index_lag_ms = int(result["lag_ms"])
        return result

    def _require_embedded(self, what: str) -> None:
        if not self.embedded or self._process is None:
            raise RuntimeError(f"{what} needs the embedded, started moto server")


def _read_ready_line(process: subprocess.Popen[str], timeout: float) -> str:
    """Wait for the moto process's ``READY <endpoint>`` line; fail if it exits or takes too long."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(timeout=0.5):
                line = process.stdout.readline()
                if line.startswith("READY "):
                    return line.split(" ", 1)[1].strip()
                if not line:
                    break  # the process exited before getting ready
            elif process.poll() is not None:
                break
    raise RuntimeError(f"the moto process did not start (exit code {process.poll()}); see its output above")
