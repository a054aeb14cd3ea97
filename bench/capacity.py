"""DynamoDB item sizes, capacity units and on-demand cost, computed by DynamoDB's published rules.

Hand-written on purpose: moto does not compute consumed capacity from item sizes (it answers
``ReturnConsumedCapacity`` with fixed numbers), and the PyPI packages that size items are unmaintained
"rough" estimators that skip numbers' significant digits and the List/Map element overhead. The rules
fit in this module, and tests/unit/test_bench_capacity.py pins them to worked examples.

Rules (Amazon DynamoDB Developer Guide, "DynamoDB item sizes and formats", "Read/write capacity modes",
"Global secondary indexes: writes"):
- item size = sum over attributes of UTF-8 bytes of the name + size of the value; S = UTF-8 bytes,
  B = raw bytes, N = ceil(significant digits / 2) + 1 (+1 for a negative number), BOOL/NULL = 1,
  L/M = 3 + sum(1 + element size) (a Map element also counts its key), sets = sum of element sizes;
- reads: 4 KB units, eventually consistent = 0.5, strongly consistent = 1, transactional = 2 per unit;
  GetItem / BatchGetItem round each item up separately (a missing key still costs one unit);
  Query / Scan sum the sizes of every item evaluated (before any filter, whatever the projection)
  and round up once (at least one unit);
- writes: 1 KB units per item, the larger of the old and new image (a delete: the old one; nothing
  there: 1 unit); transactional = 2x; each secondary index the write touches costs its own units
  (a put or delete of the index entry, or 2 when an index key attribute changed);
- on-demand price: us-east-1, read request unit $0.125 per million, write request unit $0.625 per
  million (price list in force since the 2024-11-01 on-demand price cut; checked 2026-11-22).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from bench.cost_model import PRICE, PRICES_AS_OF

Item = Mapping[str, Mapping[str, Any]]
"""An item in DynamoDB's wire format: ``{"name": {"S": "..."}}``."""

READ_UNIT_BYTES = 4096
WRITE_UNIT_BYTES = 1024
# Prices come from the bench's one price table (bench.cost_model.PRICE, with the date they were read).
PRICE_PER_MILLION_RRU = round(float(PRICE["rru"]) * 1e6, 6)
PRICE_PER_MILLION_WRU = round(float(PRICE["wru"]) * 1e6, 6)
PRICE_PER_MILLION_SQS_REQUESTS = round(float(PRICE["sqs_request"]) * 1e6, 6)
"""SQS standard queue, us-east-1, per million requests (each 64 KB chunk of a payload is one request)."""
PRICES_CHECKED = PRICES_AS_OF

EVENTUAL = 0.5
STRONG = 1.0
TRANSACTIONAL = 2.0


def _utf8(text: str) -> int:
    return len(text.encode("utf-8"))


def number_size(text: str) -> int:
    """Bytes DynamoDB counts for a number: 1 per two significant digits, plus 1 (plus 1 if negative)."""
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"not a DynamoDB number: {text!r}") from exc
    digits = "".join(str(d) for d in value.as_tuple().digits).strip("0")
    size = math.ceil(len(digits) / 2) + 1
    return size + 1 if value < 0 else size


def _binary_size(value: Any) -> int:
    if isinstance(value, bytes | bytearray):
        return len(value)
    return len(base64.b64decode(value))  # JSON requests carry base64 text


def value_size(value: Mapping[str, Any]) -> int:
    """Size of one attribute value (without its name)."""
    ((kind, data),) = value.items()
    if kind == "S":
        return _utf8(data)
    if kind == "N":
        return number_size(data)
    if kind == "B":
        return _binary_size(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(_utf8(s) for s in data)
    if kind == "NS":
        return sum(number_size(n) for n in data)
    if kind == "BS":
        return sum(_binary_size(b) for b in data)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in data)
    if kind == "M":
        return 3 + sum(1 + _utf8(name) + value_size(element) for name, element in data.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def item_size(item: Item | None) -> int:
    """Size in bytes of an item by DynamoDB's rules (0 for no item)."""
    if not item:
        return 0
    return sum(_utf8(name) + value_size(value) for name, value in item.items())


def read_units(size_bytes: int, factor: float) -> float:
    """Read capacity for one item (or one Query/Scan total): 4 KB units, at least one, times factor."""
    return max(1, math.ceil(size_bytes / READ_UNIT_BYTES)) * factor


def write_units(size_bytes: int, factor: float = 1.0) -> float:
    """Write capacity for one item: 1 KB units, at least one, times factor (2 for a transaction)."""
    return max(1, math.ceil(size_bytes / WRITE_UNIT_BYTES)) * factor


def get_items_rcu(sizes: Iterable[int], factor: float) -> float:
    """GetItem / BatchGetItem / TransactGetItems: every key rounded up on its own (missing keys = 0 bytes)."""
    return sum(read_units(size, factor) for size in sizes)


def query_rcu(sizes: Iterable[int], factor: float) -> float:
    """Query / Scan: the evaluated items' sizes summed, then rounded up to 4 KB once."""
    return read_units(sum(sizes), factor)


def item_write_wcu(old: Item | None, new: Item | None, factor: float = 1.0) -> float:
    """A put, update or delete of one item: the larger image decides (1 unit when neither exists)."""
    return write_units(max(item_size(old), item_size(new)), factor)


@dataclass(frozen=True)
class IndexSpec:
    """What the write-cost rules need of a secondary index (as ``infra.resources`` declares it)."""

    name: str
    key_attributes: tuple[str, ...]
    table_keys: tuple[str, ...] = ()
    include: tuple[str, ...] | None = None
    """Non-key attributes the index carries; None = projection ALL."""

    def entry(self, item: Item) -> dict[str, Any]:
        """The index entry ``item`` makes: the whole item (ALL), or its keys and included attributes."""
        if self.include is None:
            return dict(item)
        kept = {*self.key_attributes, *self.table_keys, *self.include}
        return {name: value for name, value in item.items() if name in kept}


def index_write_wcu(indexes: Iterable[IndexSpec], old: Item | None, new: Item | None) -> float:
    """Write units the secondary indexes consume when ``old`` becomes ``new`` (None = no item).

    Per index: an item enters or leaves the index = 1 write of its entry's size; an index key attribute
    changed = 2 writes (delete + put); another attribute the index carries changed = 1 write of the
    larger entry; nothing it carries changed (a counter an INCLUDE index leaves out) = nothing.
    """
    total = 0.0
    for index in indexes:
        old_in = bool(old) and all(a in old for a in index.key_attributes)  # type: ignore[operator]
        new_in = bool(new) and all(a in new for a in index.key_attributes)  # type: ignore[operator]
        before = index.entry(old) if old_in and old is not None else None
        after = index.entry(new) if new_in and new is not None else None
        if before is not None and after is not None:
            if any(before[a] != after[a] for a in index.key_attributes):
                total += write_units(item_size(before)) + write_units(item_size(after))
            elif before != after:
                total += write_units(max(item_size(before), item_size(after)))
        elif before is not None:
            total += write_units(item_size(before))
        elif after is not None:
            total += write_units(item_size(after))
    return total


@dataclass
class Capacity:
    """Capacity of one call or a sum of calls; ``index_wcu`` is included in ``wcu``."""

    rcu: float = 0.0
    wcu: float = 0.0
    index_wcu: float = 0.0
    items_read: int = 0
    items_written: int = 0
    by_table: dict[str, list[float]] = field(default_factory=dict)

    def add(self, other: Capacity) -> None:
        self.rcu += other.rcu
        self.wcu += other.wcu
        self.index_wcu += other.index_wcu
        self.items_read += other.items_read
        self.items_written += other.items_written
        for table, (r, w) in other.by_table.items():
            current = self.by_table.setdefault(table, [0.0, 0.0])
            current[0] += r
            current[1] += w

    def charge(self, table: str, rcu: float = 0.0, wcu: float = 0.0) -> None:
        self.rcu += rcu
        self.wcu += wcu
        current = self.by_table.setdefault(table, [0.0, 0.0])
        current[0] += rcu
        current[1] += wcu


def cost_usd(rcu: float, wcu: float, sqs_requests: float = 0.0) -> float:
    """On-demand cost in US dollars of that many read and write request units (and SQS requests)."""
    return (
        rcu * PRICE_PER_MILLION_RRU
        + wcu * PRICE_PER_MILLION_WRU
        + sqs_requests * PRICE_PER_MILLION_SQS_REQUESTS
    ) / 1_000_000
