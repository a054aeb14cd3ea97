"""Percentiles with their sample counts (no dependency beyond the standard library: bench/load.py and
the local-cloud scripts use it in their own interpreters)."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["cell", "percentile", "percentile_n", "samples_needed"]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def samples_needed(q: float) -> int:
    """Fewest samples for which the nearest-rank q-th percentile is not simply the maximum: 1/(1 - q)
    (p50: 2, p95: 20, p99: 100)."""
    return math.ceil(100 / (100 - q) - 1e-9) if q < 100 else 1 << 62


def percentile_n(values: list[float], q: float) -> dict[str, Any]:
    """The q-th percentile with its sample count, and whether the count supports it: with fewer than
    ``samples_needed(q)`` samples it is the maximum, and is reported as such ("max")."""
    n = len(values)
    supported = n >= samples_needed(q)
    value = percentile(values, q) if supported else (max(values) if values else float("nan"))
    return {"q": q, "value": value, "n": n, "supported": supported}


def cell(p: dict[str, Any], digits: int = 1) -> str:
    """A percentile for a table: "12.3 (n=60)", or "max 45.2 (n=60)" when the count cannot support it."""
    if p["n"] == 0:
        return "-"
    value = f"{p['value']:,.{digits}f}"
    return f"{value} (n={p['n']})" if p["supported"] else f"max {value} (n={p['n']})"
