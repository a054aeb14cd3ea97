"""Fixtures for the local cloud's own tests: one embedded moto per test module, unique names per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from infra.resources import EventSourceMapping, Function, Queue, ServiceSpec, Table
from local_cloud.aws import LocalAws


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    with LocalAws(housekeeping_seconds=0) as running:
        yield running


@pytest.fixture
def name() -> str:
    """A unique prefix: a module's tests share one moto server, and so its state."""
    return f"t{uuid.uuid4().hex[:8]}"


def make_spec(
    tables: tuple[Table, ...] = (),
    queues: tuple[Queue, ...] = (),
    mappings: tuple[EventSourceMapping, ...] = (),
    **kwargs: Any,
) -> ServiceSpec:
    functions = tuple(Function(name=m.function, handler="tests.unused.handler") for m in mappings)
    return ServiceSpec(
        tables=tables,
        queues=queues,
        buckets=kwargs.pop("buckets", ()),
        functions=functions,
        routes=(),
        mappings=mappings,
        **kwargs,
    )
