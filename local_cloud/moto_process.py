"""The embedded moto server's own process: ``python -m local_cloud.moto_process --port 0``.

``LocalAws`` starts this program and talks to it over HTTP only. In its own process, moto's work (the
server side of every SDK call) runs on a second core beside the functions, pollers and SDK clients
(the client side), instead of sharing one interpreter lock with them: measured on this 2-core machine,
a 10,000-follower fan-out went from about 5.5 s to 3.7 s (bench/fanout_lag.py). Each ``LocalAws`` also
gets its own moto state, where before every server in a process shared one.

What runs here:
- moto's WSGI app behind waitress, one request at a time inside a ``RequestGate``;
- the local speed-ups of moto (``local_cloud/moto_speedups.py``), unless ``LOCAL_CLOUD_MOTO_SPEEDUPS=off``;
- housekeeping: pruning DynamoDB Streams shard iterators moto never expires;
- with ``--index-lag-ms N`` (``LOCAL_CHAOS`` index_lag_ms), global secondary indexes that see writes
  N ms late (``local_cloud/index_lag.py``);
- control routes under ``/_local/`` for what needs moto's in-memory state: snapshot save and load
  (``local_cloud/persistence.py``), the pruning itself, and the index lag (set it, read its counts);
- with a data dir loaded, the write-ahead journal (``local_cloud/journal.py``): every request that
  changed moto's state is fsynced to ``DIR/journal.log`` before its response leaves this process.

It prints ``READY <endpoint>`` once listening, and exits when its standard input closes, so it never
outlives the process that started it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

logger = logging.getLogger(__name__)

CONTROL_PREFIX = "/_local/"
KEEP_SHARD_ITERATORS = 1000
"""Stream iterators kept by housekeeping (moto stores one per GetRecords call, forever)."""


class RequestGate:
    """Shared/exclusive gate around moto's request handling.

    Requests and snapshots both take the exclusive side today (see ``MotoServer``); the shared side is
    kept for read-only work that may run alongside each other. Writers get preference so a busy poller
    loop cannot starve a snapshot. The stdlib has no reader-writer lock and the project pins no package
    that has one, hence these few lines.
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


def prune_shard_iterators(gate: RequestGate, keep: int = KEEP_SHARD_ITERATORS) -> int:
    """Forget all but the newest ``keep`` DynamoDB Streams shard iterators; return how many went.

    moto stores every iterator GetRecords hands out and never expires them (AWS does after 15 minutes),
    so a poller loop grows memory and snapshots without bound. Dicts keep insertion order, so the newest
    entries (the ones pollers hold) are at the end. A poller whose iterator was pruned simply asks for a
    new one from its checkpoint.
    """
    from moto.backends import get_backend

    removed = 0
    with gate.exclusive():
        streams: Any = get_backend("dynamodbstreams")
        for _, _, backend in streams.iter_backends():
            iterators: dict[str, Any] = backend.shard_iterators
            excess = len(iterators) - keep
            for arn in list(iterators)[: max(excess, 0)]:
                del iterators[arn]
                removed += 1
    return removed


class MotoServer:
    """moto's WSGI app behind waitress, one request at a time inside a ``RequestGate``.

    Why not moto's ThreadedMotoServer: it runs werkzeug's development server, which closes the
    connection after every response (werkzeug does so on purpose: http.server cannot drain a keep-alive
    stream), so every SDK call paid a TCP connect and a new server thread. waitress keeps connections
    alive and serves them from a fixed pool of threads.
    """

    def __init__(self, host: str, port: int, gate: RequestGate | None = None) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from waitress.server import create_server

        self.gate = gate or RequestGate()
        app = DomainDispatcherApplication(create_backend_app)
        self._app = app
        self.store: Any = None
        """The data dir's ``DataDirStore`` once ``snapshot/load`` opened it: journals every write."""

        def gated_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            if str(environ.get("PATH_INFO", "")).startswith(CONTROL_PREFIX):
                return self._control(environ, start_response)  # takes the gate itself
            # One request at a time: moto 5.2.5 is not thread-safe (TransactWriteItems checks its
            # conditions, writes, and on failure restores a copy of the table, with no lock), so
            # concurrent requests could both pass a "put if not exists". DynamoDB serialises
            # conflicting writes; serialising every request gives the same guarantee here, and
            # costs little because moto's work holds the GIL anyway.
            with self.gate.exclusive():
                if self.store is not None:
                    # With a data dir: an acknowledged write is in the journal, fsynced, before its
                    # response leaves (local_cloud/journal.py).
                    return list(self.store.serve(app, environ, start_response))
                # Materialise the body inside the gate: moto builds it lazily from live state.
                return list(app(environ, start_response))

        # Eight threads: requests run one at a time anyway; the others only read requests and write
        # responses. ``channel_timeout`` closes idle keep-alive connections after a minute.
        self._server: Any = create_server(
            gated_app, host=host, port=port, threads=8, channel_timeout=60, ident="moto"
        )
        self._thread = threading.Thread(target=self._server.run, name="moto-server", daemon=True)

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self) -> MotoServer:
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving: finish the request in hand, close every socket (the loop ends with the last
        one) and join the thread."""
        from waitress import wasyncore

        self._server.task_dispatcher.shutdown(timeout=5)
        wasyncore.close_all(self._server._map)
        self._thread.join(timeout=10)

    # -- control routes ------------------------------------------------------------------------------
    def _control(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        from local_cloud.persistence import DataDirStore, SnapshotError, write_snapshot

        route = str(environ["PATH_INFO"])[len(CONTROL_PREFIX) :]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body: dict[str, Any] = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
        status, result = "200 OK", dict[str, Any]()
        try:
            if route == "snapshot/save":
                path = write_snapshot(body["data_dir"], self.gate, body.get("checkpoints") or {}, self.store)
                result = {"path": str(path)}
            elif route == "snapshot/load":
                if self.store is not None:  # loaded again: the open journal ends here, between requests
                    with self.gate.exclusive():
                        self.store, previous = None, self.store
                        previous.close()
                store, snapshot, report = DataDirStore.open(body["data_dir"], self.gate, self._app)
                self.store = store
                result = {"snapshot": None if snapshot is None else snapshot.as_dict(), "journal": report}
            elif route == "status":
                from local_cloud import moto_speedups

                result = {
                    "pid": os.getpid(),
                    "speedups": moto_speedups.installed(),
                    "patched": moto_speedups.patched_symbols(),
                }
            elif route == "prune-shard-iterators":
                keep = int(body.get("keep", KEEP_SHARD_ITERATORS))
                result = {"removed": prune_shard_iterators(self.gate, keep)}
            elif route == "index-lag":
                result = _index_lag(self.gate, body.get("lag_ms"))
            else:
                status, result = "404 Not Found", {"error": f"no control route {route}"}
        except SnapshotError as error:
            status, result = "409 Conflict", {"error": str(error)}
        payload = json.dumps(result).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]


def _index_lag(gate: RequestGate, lag_ms: Any) -> dict[str, Any]:
    """Set the index lag (when ``lag_ms`` is given; between requests) and report it: the lag, the
    items index reads saw lagged, and how long until every write so far is visible to the indexes."""
    from local_cloud import index_lag

    if lag_ms is not None:
        with gate.exclusive():
            index_lag.install(int(lag_ms))
    lag = index_lag.LAG
    return {
        "lag_ms": round(lag.lag_seconds * 1000),
        "hidden": lag.hidden,
        "remaining_ms": lag.remaining_seconds() * 1000,
    }


def _housekeeping(server: MotoServer, every: float, stop: threading.Event) -> None:
    while not stop.wait(every):
        try:
            prune_shard_iterators(server.gate)
        except Exception:  # housekeeping must never take the server down
            logger.exception("pruning shard iterators failed")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The local cloud's moto server (started by LocalAws).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--housekeeping-seconds", type=float, default=30.0)
    parser.add_argument("--index-lag-ms", type=int, default=0, help="global secondary indexes lag this much")
    args = parser.parse_args(argv)
    # Ctrl-C in `make dev` reaches the whole process group: the parent decides when this process ends
    # (after its final snapshot, which needs this process), by closing our stdin.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="moto: %(levelname)s %(name)s %(message)s")
    # waitress warns whenever requests queue for its threads: here they queue for the gate.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)

    from local_cloud import moto_cognito, moto_speedups

    # Cognito features the local cloud needs (RevokeToken, a per-process signing key): installed
    # whatever the speed-up switch says. Raises before READY on a moto it was not checked against.
    moto_cognito.install()
    # Safe: the gate serialises every request. Patches nothing when switched off; on a moto it was not
    # checked against it raises here, before READY, so the local cloud fails at start, saying why.
    moto_speedups.install()
    if args.index_lag_ms > 0:
        from local_cloud import index_lag

        index_lag.install(args.index_lag_ms)  # refuses, before READY, a moto it was not checked on
    server = MotoServer(args.host, args.port).start()
    stop = threading.Event()
    if args.housekeeping_seconds > 0:
        threading.Thread(
            target=_housekeeping, args=(server, args.housekeeping_seconds, stop), daemon=True
        ).start()
    print(f"READY {server.endpoint_url}", flush=True)
    sys.stdin.read()  # returns when the parent closes the pipe, or dies
    stop.set()
    server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
