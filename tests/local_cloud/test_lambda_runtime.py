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
