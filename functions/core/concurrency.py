"""Side-by-side calls for data-access code: two independent calls, a map, and fixed-size chunks.

Hand-written because the standard library has no "run these two at once" (``asyncio`` would need async
clients) and ``itertools.batched`` arrives only in Python 3.12; each helper is a few lines over
``concurrent.futures``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from functools import lru_cache
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def both(executor: Executor | None, first: Callable[[], T], second: Callable[[], R]) -> tuple[T, R]:
    """Two independent calls side by side: one round trip of latency instead of two."""
    if executor is None:
        return first(), second()
    later = executor.submit(second)
    return first(), later.result()


def run_all(executor: Executor | None, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``map`` on the executor (in order), or inline for 0-1 items / no executor."""
    if executor is None or len(items) <= 1:
        return [fn(item) for item in items]
    return list(executor.map(fn, items))


def chunked(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """Consecutive slices of at most ``size`` items."""
    return [items[i : i + size] for i in range(0, len(items), size)]


@lru_cache(maxsize=1)
def shared_executor() -> ThreadPoolExecutor:
    """The execution environment's pool for side-by-side AWS calls, created on first use.

    One pool per environment: an invocation runs at a time in it, so every domain's fan-in of calls
    shares the same threads (sized above botocore's pool of 50 connections would be pointless)."""
    return ThreadPoolExecutor(max_workers=16, thread_name_prefix="aws-io")
