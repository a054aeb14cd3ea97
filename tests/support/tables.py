"""Private copies of the service's tables, for tests that drive a consumer or a domain directly."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from infra.resources import ServiceSpec, Table
from local_cloud.provision import provision


def private_copies(aws: Any, tables: Iterable[Table], suffix: str) -> dict[str, str]:
    """Create copies of ``tables`` named ``<logical id>-<suffix>``, without streams (so the local
    cloud's pollers cannot act on them), and return their environment (table-name variables)."""
    copies = tuple(dataclasses.replace(t, logical_id=f"{t.logical_id}-{suffix}", stream=None) for t in tables)
    spec = ServiceSpec(tables=copies, queues=(), buckets=(), functions=(), routes=(), mappings=())
    return dict(provision(spec, aws).env)
