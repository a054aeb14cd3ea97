"""The in-process Lambda runtime: one execution environment per function."""

from __future__ import annotations

import concurrent.futures as cf
import sys
import threading
import time
import types
from typing import Any

import pytest

from local_cloud.lambda_runtime import LazyHandler, resolve_handler


@pytest.fixture
def probe_module() -> Any:
    """A handler module that records how many invocations overlap."""
    module = types.ModuleType("probe_handlers")
    state = {"inside": 0, "most": 0}
    guard = threading.Lock()

    def handler(event: dict[str, Any], context: Any) -> int:
        with guard:
            state["inside"] += 1
            state["most"] = max(state["most"], state["inside"])
        time.sleep(0.02)
        with guard:
            state["inside"] -= 1
        return int(event["n"])

    module.handler = handler  # type: ignore[attr-defined]
    module.state = state  # type: ignore[attr-defined]
    sys.modules["probe_handlers"] = module
    yield module
    del sys.modules["probe_handlers"]


def test_invocations_of_one_function_never_overlap_even_through_two_callers(probe_module: Any) -> None:
    # The gateway and a poller each hold their own LazyHandler for the same function.
    callers = [LazyHandler("probe_handlers.handler"), LazyHandler("probe_handlers.handler")]
    with cf.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda n: callers[n % 2]({"n": n}, None), range(16)))
    assert results == list(range(16))
    assert probe_module.state["most"] == 1


def test_resolve_handler_rejects_paths_without_a_module() -> None:
    with pytest.raises(ValueError):
        resolve_handler("handler")


# -- one process per function ---------------------------------------------------------------------------
def _process(environment: dict[str, str], statements: list[dict[str, Any]] | None = None) -> Any:
    import os

    from local_cloud.lambda_runtime import FunctionProcess

    env = {"PATH": os.environ["PATH"], "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", **environment}
    return FunctionProcess(
        "probe", "tests.local_cloud.probe_function.handler", env, statements or [], region="us-east-1"
    )


def test_a_function_process_sees_exactly_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from local_cloud.lambda_runtime import LocalLambdaContext

    monkeypatch.setenv("SOMETHING_OF_THE_DEVELOPER", "leak")
    process = _process({"TWEETS_TABLE_NAME": "tweets"})
    try:
        result = process({}, LocalLambdaContext("probe"))
    finally:
        process.stop()
    environment = result["environment"]
    assert environment["TWEETS_TABLE_NAME"] == "tweets" and result["function"] == "probe"
    assert "SOMETHING_OF_THE_DEVELOPER" not in environment
    assert set(environment) <= {"PATH", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "TWEETS_TABLE_NAME"} | {
        "PYTHONPATH",
        "LC_CTYPE",  # set by the interpreter itself on some platforms
    }


def test_a_failure_is_a_function_error_and_a_dead_process_is_started_again() -> None:
    from local_cloud.lambda_runtime import FunctionError, LocalLambdaContext

    process = _process({})
    try:
        first = process({}, LocalLambdaContext("probe"))["pid"]
        with pytest.raises(FunctionError, match="asked to fail"):
            process({"raise": True}, LocalLambdaContext("probe"))
        assert process({}, LocalLambdaContext("probe"))["pid"] == first, "an error keeps the environment"
        with pytest.raises(FunctionError, match="process exited"):
            process({"exit": True}, LocalLambdaContext("probe"))
        assert process({}, LocalLambdaContext("probe"))["pid"] != first, "a crash gets a new environment"
    finally:
        process.stop()


def test_calls_outside_the_grants_are_refused_inside_the_function_process() -> None:
    from local_cloud.lambda_runtime import FunctionError, LocalLambdaContext

    allowed = {"grant": "t:read", "actions": ["dynamodb:GetItem"], "resource": "arn:aws:dynamodb:*:*:table/t"}
    process = _process(
        {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}, [allowed]
    )
    try:
        with pytest.raises(FunctionError, match=r"AccessDenied.*dynamodb:GetItem.*table/other"):
            process({"call": "other"}, LocalLambdaContext("probe"))
        assert process.usage()["denied"] == [
            ["dynamodb:GetItem", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/other"]
        ]
    finally:
        process.stop()


ACCOUNT = "123456789012"
