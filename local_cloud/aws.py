"""The embedded AWS of the local cloud: moto's server in a thread, or any external endpoint.

``LocalAws`` owns the endpoint every local component talks to. Embedded mode starts moto's
``ThreadedMotoServer`` on a free loopback port; external mode (``LocalAws(endpoint_url=...)``, for
DynamoDB Local or LocalStack) starts nothing and only hands out the endpoint and clients.
"""

from __future__ import annotations

import logging
import os
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import boto3
from botocore.config import Config

from local_cloud import moto_speedups

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
"""moto's default account; ARNs the local cloud builds itself use it too."""

_DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
# Stream iterators moto keeps forever (one per GetRecords call); see LocalAws.prune_shard_iterators.
_KEEP_SHARD_ITERATORS = 1000
_HOUSEKEEPING_SECONDS = 30.0

logger = logging.getLogger(__name__)


class _RequestGate:
    """Shared/exclusive gate around moto's request handling.

    Requests and snapshots both take the exclusive side today (see ``gated_app``); the shared side is
    kept for read-only work that may run alongside each other. Writers get
    preference so a busy poller loop cannot starve a snapshot. The stdlib has no reader-writer lock
    and the project pins no package that has one, hence these few lines.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writer and not self._writers_waiting)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            self._cond.wait_for(lambda: not self._writer and self._readers == 0)
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


_GATE = _RequestGate()


def _gated_server_class() -> type[Any]:
    """Build the ThreadedMotoServer subclass lazily, so importing this module does not import moto."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class GatedMotoServer(ThreadedMotoServer):
        """ThreadedMotoServer whose WSGI app runs inside a _RequestGate.

        Only ``_server_entry`` is replaced (same body as moto 5.2.5 plus the gate); start, stop and
        get_host_and_port are moto's own.
        """

        def __init__(self, gate: _RequestGate, ip_address: str, port: int) -> None:
            super().__init__(ip_address=ip_address, port=port, verbose=False)
            self._gate = gate

        def _server_entry(self) -> None:
            app = DomainDispatcherApplication(create_backend_app)
            gate = self._gate

            def gated_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
                # One request at a time: moto 5.2.5 is not thread-safe (TransactWriteItems checks its
                # conditions, writes, and on failure restores a copy of the table, with no lock), so
                # concurrent requests could both pass a "put if not exists". DynamoDB serialises
                # conflicting writes; serialising every request gives the same guarantee here, and
                # costs little because moto's work holds the GIL anyway.
                with gate.exclusive():
                    # Materialise the body inside the gate: moto builds it lazily from live state.
                    return list(app(environ, start_response))

            self._server = make_server(
                self._ip_address, self._port, gated_app, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

        def close(self) -> None:
            """Stop serving, join the thread and release the listening socket (moto's stop keeps it)."""
            server = self._server
            self.stop()
            if server is not None:
                server.server_close()

    return GatedMotoServer


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
    ) -> None:
        self.region = region
        self.embedded = endpoint_url is None
        self._endpoint_url = endpoint_url
        self._host = host
        self._port = port
        # One gate for every embedded server in the process: moto's state (and the speed-ups' patches)
        # are process-global, so two servers must not run requests side by side either.
        self._gate = _GATE
        self._server: Any = None
        self._clients: Clients | None = None
        self._housekeeping_seconds = housekeeping_seconds
        self._stopping = threading.Event()
        self._housekeeper: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> LocalAws:
        """Start moto (embedded mode) with fresh state; in external mode do nothing."""
        if not self.embedded or self._server is not None:
            return self
        # werkzeug logs every request at INFO; the local cloud logs what matters itself.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        moto_speedups.install()  # safe: the gate serialises every request
        server = _gated_server_class()(self._gate, self._host, self._port)
        server.start()
        self._server = server
        host, port = server.get_host_and_port()
        self._endpoint_url = f"http://{host}:{port}"
        # No reset here: moto's state is process-global and shared by every server in the process
        # (a test session may run several); a new process starts empty, which is what `make dev` gets.
        self._stopping.clear()
        if self._housekeeping_seconds > 0:
            self._housekeeper = threading.Thread(
                target=self._housekeeping_loop, name="local-aws-housekeeping", daemon=True
            )
            self._housekeeper.start()
        logger.info("moto server listening on %s", self._endpoint_url)
        return self

    def stop(self) -> None:
        """Shut the embedded server down and wait for its thread; no-op in external mode."""
        self._stopping.set()
        if self._housekeeper is not None:
            self._housekeeper.join()
            self._housekeeper = None
        if self._server is not None:
            self._server.close()
            self._server = None
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

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold every request to the embedded moto while the block runs (consistent snapshots)."""
        self._require_embedded("exclusive access")
        with self._gate.exclusive():
            yield

    def prune_shard_iterators(self, keep: int = _KEEP_SHARD_ITERATORS) -> int:
        """Forget all but the newest ``keep`` DynamoDB Streams shard iterators; return how many went.

        moto stores every iterator GetRecords hands out and never expires them (AWS does after 15
        minutes), so a poller loop grows memory and snapshots without bound. Dicts keep insertion
        order, so the newest entries (the ones pollers hold) are at the end. A poller whose iterator
        was pruned simply asks for a new one from its checkpoint.
        """
        from moto.backends import get_backend

        removed = 0
        with self.exclusive():
            streams: Any = get_backend("dynamodbstreams")
            for _, _, backend in streams.iter_backends():
                iterators: dict[str, Any] = backend.shard_iterators
                excess = len(iterators) - keep
                for arn in list(iterators)[: max(excess, 0)]:
                    del iterators[arn]
                    removed += 1
        return removed

    def _housekeeping_loop(self) -> None:
        while not self._stopping.wait(self._housekeeping_seconds):
            try:
                self.prune_shard_iterators()
            except Exception:  # housekeeping must never take the cloud down
                logger.exception("pruning shard iterators failed")

    def _require_embedded(self, what: str) -> None:
        if not self.embedded or self._server is None:
            raise RuntimeError(f"{what} needs the embedded, started moto server")
