"""Invoking Lambda handlers the way the Lambda runtime would: each function in a process of its own
(``FunctionProcess``, what the local cloud uses), or in this process (``LazyHandler``, for tests)."""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from local_cloud.aws import ACCOUNT_ID
from local_cloud.chaos import report

Handler = Callable[[dict[str, Any], Any], Any]
"""A Lambda handler: ``handler(event, context)``; its return value is the Lambda response."""

_ROOT = Path(__file__).resolve().parents[1]


class FunctionError(RuntimeError):
    """The function raised (or its process died): Lambda's "Unhandled" function error."""

    def __init__(self, function: str, error_type: str, message: str) -> None:
        super().__init__(f"{function}: {error_type}: {message}")
        self.error_type = error_type


def resolve_handler(dotted: str) -> Handler:
    """Import ``package.module.callable`` (a ``Function.handler`` path) and return the callable."""
    module_name, _, attribute = dotted.rpartition(".")
    if not module_name:
        raise ValueError(f"handler path needs a module and a callable: {dotted!r}")
    handler = getattr(importlib.import_module(module_name), attribute)
    if not callable(handler):
        raise TypeError(f"{dotted} is not callable")
    return handler  # type: ignore[no-any-return]


_ENVIRONMENTS_LOCK = threading.Lock()
_ENVIRONMENTS: dict[str, threading.Lock] = {}


def environment_lock(dotted: str) -> threading.Lock:
    """The lock standing for the one warm execution environment of the function ``dotted``.

    Lambda never runs two invocations in one execution environment at once, and handler code relies
    on that: Powertools' resolvers keep the current event on the module-level ``app``. Locally every
    function has a single environment (a module is imported once per process), so invocations of
    one function — from the gateway or from a poller — take turns, while different functions still
    run side by side.
    """
    with _ENVIRONMENTS_LOCK:
        return _ENVIRONMENTS.setdefault(dotted, threading.Lock())


class LazyHandler:
    """A handler imported on first use, so starting the pollers never imports function code."""

    def __init__(self, dotted: str) -> None:
        self.dotted = dotted
        self._handler: Handler | None = None
        self._environment = environment_lock(dotted)

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        with self._environment:
            if self._handler is None:
                self._handler = resolve_handler(self.dotted)
            return self._handler(event, context)


@dataclass
class LocalLambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int = 512
    timeout_seconds: int = 10
    region: str = "us-east-1"
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _started: float = field(default_factory=time.monotonic, repr=False)

    @property
    def invoked_function_arn(self) -> str:
        return function_arn(self.function_name, self.region)

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's timeout (not enforced locally)."""
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


def function_arn(function_name: str, region: str) -> str:
    """The ARN the local cloud uses for a function (moto's default account)."""
    return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"


class FunctionProcess:
    """A function's one warm execution environment: a process with exactly ``environment``.

    Called like a handler (``process(event, context)``); invocations take turns, as Lambda never runs
    two in one environment at once. The process starts on ``start()`` or the first invocation (its
    handler is imported on the first invocation: a cold start), is recycled by ``restart`` with a new
    environment (a configuration change), and is started again after it died.
    """

    def __init__(
        self,
        name: str,
        handler: str,
        environment: Mapping[str, str],
        statements: list[dict[str, Any]],
        *,
        region: str,
        settings_model: str = "functions.core.config.FunctionSettings",
        chaos: str | None = None,
    ) -> None:
        """``chaos``: ``LOCAL_CHAOS`` settings (text) for the process's fault injector; None: none."""
        self.name = name
        self.handler = handler
        self.environment = dict(environment)
        self._init = {
            "op": "init",
            "function": name,
            "handler": handler,
            "settings_model": settings_model,
            "statements": statements,
            "region": region,
            "chaos": chaos,
        }
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._chaos_counts: Counter[str] = Counter()
        """What the fault injectors of earlier processes of this environment counted."""

    def start(self) -> FunctionProcess:
        with self._lock:
            self._ensure_started()
        return self

    def _ensure_started(self) -> Connection:
        if self._conn is not None and self._process is not None and self._process.poll() is None:
            return self._conn
        self._close()
        parent, child = socket.socketpair()
        env = dict(self.environment)
        env["PYTHONPATH"] = str(_ROOT)
        self._process = subprocess.Popen(  # noqa: S603 - our own module, run by this interpreter
            [sys.executable, "-m", "local_cloud.function_host", "--fd", str(child.fileno())],
            env=env,
            cwd=_ROOT,
            pass_fds=(child.fileno(),),
            stdin=subprocess.DEVNULL,
        )
        child.close()
        self._conn = Connection(parent.detach())
        self._conn.send_bytes(json.dumps(self._init).encode())
        return self._conn

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        message = {"op": "invoke", "event": event, "context": _context_fields(context)}
        reply = self._request(message)
        if "error" in reply:
            error = reply["error"]
            raise FunctionError(self.name, str(error["type"]), str(error["message"]))
        return reply["result"]

    def usage(self) -> dict[str, Any]:
        """Grants that allowed a call, and calls refused, since the process started."""
        if self._conn is None:
            return {"used": [], "denied": []}
        return self._request({"op": "usage"})

    def chaos_counts(self) -> dict[str, int]:
        """What the chaos fault injector injected (and botocore retried) in this environment, over
        every process it had (``local_cloud.chaos.REPORT_KEYS``)."""
        with self._lock:
            return report([self._chaos_counts, self._live_chaos_counts()])

    def set_chaos(self, chaos: str | None) -> None:
        """Run with other chaos settings (None: none) from the next invocation on. The environment is
        recycled: the injector sits on every botocore session, and sessions are made once."""
        with self._lock:
            self._harvest_and_close()
            self._init["chaos"] = chaos

    def _live_chaos_counts(self) -> dict[str, int]:
        if self._conn is None or self._init.get("chaos") is None:
            return {}
        try:
            self._conn.send_bytes(json.dumps({"op": "chaos"}).encode())
            counts: dict[str, int] = json.loads(self._conn.recv_bytes())["counts"]
        except (EOFError, OSError):
            self._close()
            return {}
        return counts

    def _harvest_and_close(self) -> None:
        self._chaos_counts.update(self._live_chaos_counts())
        self._close()

    def _request(self, message: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            conn = self._ensure_started()
            try:
                conn.send_bytes(json.dumps(message).encode())
                reply: dict[str, Any] = json.loads(conn.recv_bytes())
            except (EOFError, OSError) as exc:
                code = self._process.poll() if self._process else None
                self._close()
                raise FunctionError(self.name, "Runtime.ExitError", f"process exited ({code})") from exc
            return reply

    def restart(self, environment: Mapping[str, str] | None = None) -> None:
        """End the environment (after the invocation in flight); the next one starts fresh."""
        with self._lock:
            if environment is not None:
                self.environment = dict(environment)
            self._harvest_and_close()

    def stop(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        process, self._process = self._process, None
        if conn is not None:
            conn.close()  # the host exits at EOF
        if process is not None:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _context_fields(context: Any) -> dict[str, Any]:
    if isinstance(context, LocalLambdaContext):
        fields = dataclasses.asdict(context)
        fields.pop("_started", None)
        return fields
    return {"function_name": str(getattr(context, "function_name", "local"))}


def runtime_environment(function_name: str, memory_mb: int, aws: Mapping[str, str]) -> dict[str, str]:
    """What the Lambda runtime itself puts in every function's environment, plus the local endpoint
    (``aws``: endpoint, region, dummy credentials) and the switches the local cloud needs."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        # No X-Ray daemon locally: the tracer would only warn.
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    return env | dict(aws)
