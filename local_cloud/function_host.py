"""One function's execution environment: a process of its own, as a Lambda execution environment is.

Started by ``local_cloud.lambda_runtime.FunctionProcess`` with exactly the function's environment
(``infra.grants.function_environment`` plus what the Lambda runtime and the local endpoint add), it
installs the IAM guard with the function's grants (and, when the cloud runs with ``LOCAL_CHAOS``, the
fault injector of ``local_cloud.chaos``), imports the handler on the first invocation (a cold
start) and then serves invocations one at a time over the socket it was handed. Messages are JSON, one
per ``multiprocessing.connection`` frame:

- ``{"op": "init", "function", "handler", "settings_model", "statements": [...], "region", "chaos"}``
  (first; ``chaos``: ``LOCAL_CHAOS`` text or null)
- ``{"op": "invoke", "event": ..., "context": {...}}`` -> ``{"result": ...}`` or ``{"error": {...}}``
- ``{"op": "usage"}`` -> ``{"used": [grant names], "denied": [[action, resource], ...]}``
- ``{"op": "chaos"}`` -> ``{"counts": {report key: count}}`` (what the fault injector did; see
  ``local_cloud.chaos``)

The process ends when the socket closes (its parent stopped or recycled it).
"""

from __future__ import annotations

import argparse
import importlib
import json
import socket
import sys
import traceback
import warnings
from multiprocessing.connection import Connection
from typing import Any

from local_cloud.chaos import ChaosSettings, FaultInjector
from local_cloud.iam import IamGuard, Statement
from local_cloud.lambda_runtime import LocalLambdaContext, resolve_handler


def serve(conn: Connection) -> None:
    """Answer ``init`` (the handler and the guard's statements), then invocations until EOF."""
    try:
        init: dict[str, Any] = json.loads(conn.recv_bytes())
    except (EOFError, OSError):
        return
    guard = IamGuard(init["function"], [Statement(**s) for s in init["statements"]], region=init["region"])
    guard.install()
    injector = _fault_injector(init)
    dotted = str(init["handler"])
    handler = None
    # The settings model is parsed before the first invocation, as the function's wiring does on its
    # first call on AWS: a variable the definition does not provide fails here, naming it.
    broken: dict[str, Any] | None = None
    try:
        module, _, name = str(init["settings_model"]).rpartition(".")
        getattr(importlib.import_module(module), name).from_environment()
    except Exception as exc:  # noqa: BLE001 - every invocation reports it, as a failed init would
        print(f"{init['function']}: settings: {exc}", file=sys.stderr, flush=True)
        broken = {"type": type(exc).__name__, "message": str(exc), "trace": ""}
    while True:
        try:
            message: dict[str, Any] = json.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return
        if message["op"] == "usage":
            conn.send_bytes(json.dumps({"used": sorted(guard.used), "denied": guard.denied}).encode())
            continue
        if message["op"] == "chaos":
            counts = injector.counts.snapshot() if injector is not None else {}
            conn.send_bytes(json.dumps({"counts": counts}).encode())
            continue
        if broken is not None:
            conn.send_bytes(json.dumps({"error": broken}).encode())
            continue
        context = LocalLambdaContext(**message["context"])
        try:
            if handler is None:
                handler = resolve_handler(dotted)
            reply: dict[str, Any] = {"result": handler(message["event"], context)}
        except Exception as exc:  # noqa: BLE001 - reported to the caller as Lambda reports a function error
            trace = traceback.format_exc()
            print(trace, file=sys.stderr, flush=True)  # the function's log, as CloudWatch would hold it
            reply = {"error": {"type": type(exc).__name__, "message": str(exc), "trace": trace}}
        conn.send_bytes(json.dumps(reply, default=str).encode())


def _fault_injector(init: dict[str, Any]) -> FaultInjector | None:
    """The chaos fault injector on every client of this process, when the cloud runs with chaos
    (installed like the guard, before the function's code makes any session or client)."""
    settings = ChaosSettings.parse(init.get("chaos") or "")
    if not settings.active:
        return None
    injector = FaultInjector(settings, scope=str(init["function"]))
    injector.install()
    return injector


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fd", type=int, required=True, help="the socket to the local cloud")
    args = parser.parse_args()
    # Locally there is no CloudWatch to publish to; routes without a business metric are normal.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    serve(Connection(socket.socket(fileno=args.fd).detach()))


if __name__ == "__main__":
    main()
