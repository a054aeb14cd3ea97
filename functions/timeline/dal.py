"""Data access of the timeline domain: the ``timelines`` table and the ``fanout`` queue.

Table ``timelines`` (keys declared once in ``infra/resources.py``):
- ``user_id`` + ``entry_id`` (a tweet or retweet ULID): one cached home-timeline entry, with
  ``original_id``, ``author_id`` (who posted the entry) and ``original_author_id`` (when known). Entries
  carry no TTL: expiry would open holes the read path cannot see; trimming bounds the partition.
- ``user_id`` + ``entry_id = "~meta"``: the user's meta item (see ``TimelineMeta``): floor, pull set and
  last_seen as a reader; celebrity mode as an author.

This module talks to DynamoDB with a plain boto3 client rather than PynamoDB: the fan-out needs
``BatchWriteItem`` with its own handling of ``UnprocessedItems`` (capped exponential backoff with full
jitter, then a hard failure so SQS redelivers), exact call accounting for the benchmark, and a client
tests can hook. Every call goes through ``_call``, which counts it in ``calls``.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from ulid import ULID

from functions.core.concurrency import chunked
from functions.core.config import env
from functions.core.errors import RetriesExhausted
from functions.core.retry import Backoff
from functions.core.retry import client as shared_client
from functions.core.transactions import is_condition_failure
from functions.timeline.models import (
    ENTRY_KEY_BELOW,
    FLOOR_PREFIX,
    META_KEY,
    PULL_PREFIX,
    FanoutMessage,
    TimelineEntry,
    TimelineMeta,
    WriteStats,
)

BATCH_WRITE_MAX = 25
BATCH_GET_MAX = 100
SQS_BATCH_MAX = 10
SQS_BATCH_BYTES = 240 * 1024  # below SendMessageBatch's 256 KiB total, with room for attributes
ENTRY_TTL_DAYS = 30
"""Entries expire (DynamoDB TTL on ``expires_at``) this long after their tweet was posted, whoever wrote
them and whenever. TTL deletes lazily and without raising the floor, so the read path treats every entry
older than this as possibly gone: below the TTL horizon it merges from the followed accounts."""
_TRANSACTION_RETRIES = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


class UnprocessedItemsError(RetriesExhausted):
    """BatchWriteItem still returned UnprocessedItems after every retry; the caller's record must fail."""

    def __init__(self, remaining: int) -> None:
        super().__init__(f"{remaining} items still unprocessed after retries")
        self.remaining = remaining


def _ddb() -> Any:
    return shared_client("dynamodb")


def _ddb_bulk() -> Any:
    """The client for the fan-out's bulk calls (BatchWriteItem of entries, BatchGetItem of meta items),
    whose requests are built only here from typed values: botocore's per-item client-side validation
    is skipped (see core.retry)."""
    return shared_client("dynamodb", validate_params=False)


def _sqs() -> Any:
    return shared_client("sqs")


def ulid_lower_bound(epoch_seconds: float) -> str:
    """The smallest ULID of that millisecond: every id created at or after it compares >= this."""
    return str(ULID.from_timestamp(max(0.0, epoch_seconds)))[:10] + "0" * 16


def ulid_seconds(ulid: str) -> float:
    try:
        return float(ULID.from_str(ulid).timestamp)
    except ValueError:
        return 0.0


def now_seq(now: float) -> str:
    """A ULID for ``now``: a position in the same order as tweet ids."""
    return str(ULID.from_timestamp(now))


TTL_MARGIN_SECONDS = 2 * 86_400
"""How far ahead of TTL the floor is kept: a reader's housekeeping (hourly, on read) raises the floor to
the horizon this far in the future whenever the cache holds an entry below it, so nothing TTL deletes
before then is above the floor; a reader away longer than this reads with the horizon as a floor."""


def ttl_horizon(now: float) -> str:
    """Entries with ids below this may have been deleted by TTL at ``now``."""
    return ulid_lower_bound(now - ENTRY_TTL_DAYS * 86_400)


def ttl_cut(now: float) -> str:
    """Entries below this may be gone within TTL_MARGIN_SECONDS: no writer caches them, and a floor at
    least this high covers them."""
    return ttl_horizon(now + TTL_MARGIN_SECONDS)


class CallCounter:
    """Thread-safe count of DynamoDB / SQS calls by operation name (what the benchmark reads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def add(self, operation: str, n: int = 1) -> None:
        with self._lock:
            self.counts[operation] += n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)


def _s(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    return None if value is None else str(value.get("S"))


def _entry_item(user_id: str, entry: TimelineEntry) -> dict[str, Any]:
    item: dict[str, Any] = {
        "user_id": {"S": user_id},
        "entry_id": {"S": entry.entry_id},
        "original_id": {"S": entry.original_id},
        "author_id": {"S": entry.author_id},
    }
    if entry.original_author_id:
        item["original_author_id"] = {"S": entry.original_author_id}
    posted = ulid_seconds(entry.entry_id)
    if posted:
        item["expires_at"] = {"N": str(int(posted) + ENTRY_TTL_DAYS * 86_400)}
    return item


def _entry_of(item: dict[str, Any]) -> TimelineEntry:
    return TimelineEntry(
        entry_id=str(_s(item, "entry_id")),
        original_id=str(_s(item, "original_id")),
        author_id=str(_s(item, "author_id")),
        original_author_id=_s(item, "original_author_id"),
    )


def _meta_of(item: dict[str, Any]) -> TimelineMeta:
    pulls = {author: "" for author in item.get("pull_ids", {}).get("SS", [])}  # before versioned pulls
    floors: dict[str, str] = {}
    for name, value in item.items():
        if name.startswith(PULL_PREFIX):
            pulls[name[len(PULL_PREFIX) :]] = str(value.get("S"))
        elif name.startswith(FLOOR_PREFIX):
            floors[name[len(FLOOR_PREFIX) :]] = str(value.get("S"))
    return TimelineMeta(
        user_id=str(_s(item, "user_id")),
        floor=_s(item, "floor_id") or "",
        pulls=pulls,
        floors=floors,
        last_seen=int(item["last_seen"]["N"]) if "last_seen" in item else None,
        celebrity=bool(item.get("is_celebrity", {}).get("BOOL", False)),
        mode_seq=_s(item, "mode_seq") or "",
        down_seq=_s(item, "down_seq") or "",
        rising_seq=_s(item, "rising_seq") or "",
        rising_chunks=int(item["rising_chunks"]["N"]) if "rising_chunks" in item else 0,
        marked={int(n) for n in item.get("marked", {}).get("NS", [])},
    )


def _pull_name(author_id: str) -> str:
    return PULL_PREFIX + author_id


def _floor_name(author_id: str) -> str:
    return FLOOR_PREFIX + author_id


@dataclass
class TimelineStore:
    """Every DynamoDB call on the ``timelines`` table goes through here."""

    client: Any = None
    table_name: str | None = None
    backoff: Backoff = field(default_factory=Backoff)
    calls: CallCounter = field(default_factory=CallCounter)

    @property
    def table(self) -> str:
        return self.table_name or env("TIMELINES_TABLE_NAME")

    def _client(self, bulk: bool = False) -> Any:
        """The injected client, else the shared one (the unvalidated ``_ddb_bulk`` for bulk calls)."""
        if self.client is not None:
            return self.client
        return _ddb_bulk() if bulk else _ddb()

    def _call(self, operation: str, method: str, *, bulk: bool = False, **request: Any) -> Any:
        self.calls.add(operation)
        return getattr(self._client(bulk), method)(**request)

    # ---- reads ------------------------------------------------------------------------------------
    def query_page(
        self, user_id: str, before: str | None, limit: int, *, with_meta: bool
    ) -> tuple[TimelineMeta | None, list[TimelineEntry], bool]:
        """Newest entries strictly older than ``before`` (1 Query, eventually consistent).

        With ``with_meta`` (first page: no ``before``) the meta item comes back first in the same call.
        Returns (meta, entries, more) where ``more`` means older entries may follow.
        """
        request: dict[str, Any] = {
            "TableName": self.table,
            "ScanIndexForward": False,
            "Limit": limit + (1 if with_meta else 0),
            "KeyConditionExpression": "user_id = :u AND entry_id < :b",
            "ExpressionAttributeValues": {
                ":u": {"S": user_id},
                ":b": {"S": before or ENTRY_KEY_BELOW},
            },
        }
        if with_meta:
            request["KeyConditionExpression"] = "user_id = :u AND entry_id <= :b"
            request["ExpressionAttributeValues"][":b"] = {"S": META_KEY}
        response = self._call("Query", "query", **request)
        items = response.get("Items", [])
        meta = None
        if items and _s(items[0], "entry_id") == META_KEY:
            meta = _meta_of(items.pop(0))
        entries = [_entry_of(item) for item in items[:limit]]
        more = "LastEvaluatedKey" in response or len(items) > limit
        return meta, entries, more

    def get_meta(self, user_id: str) -> TimelineMeta | None:
        """1 GetItem."""
        response = self._call(
            "GetItem",
            "get_item",
            TableName=self.table,
            Key={"user_id": {"S": user_id}, "entry_id": {"S": META_KEY}},
        )
        item = response.get("Item")
        return _meta_of(item) if item else None

    def get_metas(self, user_ids: Sequence[str], attributes: Sequence[str]) -> dict[str, TimelineMeta]:
        """Meta items of up to 100 users: 1 BatchGetItem (+1 per retry of UnprocessedKeys)."""
        if len(user_ids) > BATCH_GET_MAX:
            raise ValueError("at most 100 keys per BatchGetItem")
        if not user_ids:
            return {}
        projection = ", ".join(f"#a{i}" for i in range(len(attributes) + 1))
        names = {f"#a{i}": name for i, name in enumerate(["user_id", *attributes])}
        keys: list[dict[str, Any]] = [
            {"user_id": {"S": u}, "entry_id": {"S": META_KEY}} for u in dict.fromkeys(user_ids)
        ]
        found: dict[str, TimelineMeta] = {}
        for attempt in range(self.backoff.attempts):
            response = self._call(
                "BatchGetItem",
                "batch_get_item",
                bulk=True,
                RequestItems={
                    self.table: {
                        "Keys": keys,
                        "ProjectionExpression": projection,
                        "ExpressionAttributeNames": names,
                    }
                },
            )
            for item in response.get("Responses", {}).get(self.table, []):
                meta = _meta_of(item)
                found[meta.user_id] = meta
            keys = response.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
            if not keys:
                return found
            self.backoff.pause(attempt)
        raise UnprocessedItemsError(len(keys))

    def entry_ids_by_author(self, user_id: str, author_id: str) -> list[str]:
        """Entries of one author in a user's timeline: Query with a filter, 1 call per 1 MB read.

        The partition is bounded (TIMELINE_MAX_ITEMS plus the trimming slack), so a filter over it is
        cheaper than maintaining an index for the rare unfollow.
        """
        ids: list[str] = []
        start: dict[str, Any] | None = None
        while True:
            request: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "user_id = :u AND entry_id < :b",
                "FilterExpression": "author_id = :a",
                "ProjectionExpression": "entry_id",
                "ExpressionAttributeValues": {
                    ":u": {"S": user_id},
                    ":b": {"S": ENTRY_KEY_BELOW},
                    ":a": {"S": author_id},
                },
            }
            if start:
                request["ExclusiveStartKey"] = start
            response = self._call("Query", "query", **request)
            ids.extend(str(_s(item, "entry_id")) for item in response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if not start:
                return ids

    def entry_ids_beyond(self, user_id: str, keep: int) -> list[str]:
        """Ids of the entries older than the newest ``keep``, newest first (keys-only Query, paged)."""
        ids: list[str] = []
        start: dict[str, Any] | None = None
        while True:
            request: dict[str, Any] = {
                "TableName": self.table,
                "ScanIndexForward": False,
                "KeyConditionExpression": "user_id = :u AND entry_id < :b",
                "ProjectionExpression": "entry_id",
                "ExpressionAttributeValues": {":u": {"S": user_id}, ":b": {"S": ENTRY_KEY_BELOW}},
            }
            if start:
                request["ExclusiveStartKey"] = start
            response = self._call("Query", "query", **request)
            ids.extend(str(_s(item, "entry_id")) for item in response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if not start:
                return ids[keep:]

    def has_entries_below(self, user_id: str, entry_id: str) -> bool:
        """Whether the cache holds an entry older than ``entry_id``: 1 keys-only Query, Limit 1."""
        response = self._call(
            "Query",
            "query",
            TableName=self.table,
            KeyConditionExpression="user_id = :u AND entry_id < :b",
            ProjectionExpression="entry_id",
            ExpressionAttributeValues={":u": {"S": user_id}, ":b": {"S": entry_id}},
            Limit=1,
        )
        return bool(response.get("Items"))

    # ---- entry writes -----------------------------------------------------------------------------
    def put_entry(self, user_id: str, entry: TimelineEntry) -> None:
        """1 PutItem (idempotent: the key is the entry)."""
        self._call("PutItem", "put_item", TableName=self.table, Item=_entry_item(user_id, entry))

    def delete_entry(self, user_id: str, entry_id: str) -> None:
        """1 DeleteItem (idempotent)."""
        self._call(
            "DeleteItem",
            "delete_item",
            TableName=self.table,
            Key={"user_id": {"S": user_id}, "entry_id": {"S": entry_id}},
        )

    def put_entries(self, items: Iterable[tuple[str, TimelineEntry]]) -> list[list[dict[str, Any]]]:
        """Build the BatchWriteItem request chunks (25 puts each) for (user_id, entry) pairs."""
        requests = [{"PutRequest": {"Item": _entry_item(u, e)}} for u, e in items]
        return [list(chunk) for chunk in chunked(requests, BATCH_WRITE_MAX)]

    def delete_entries(self, keys: Iterable[tuple[str, str]]) -> list[list[dict[str, Any]]]:
        """Build the BatchWriteItem request chunks (25 deletes each) for (user_id, entry_id) keys."""
        requests = [{"DeleteRequest": {"Key": {"user_id": {"S": u}, "entry_id": {"S": e}}}} for u, e in keys]
        return [list(chunk) for chunk in chunked(requests, BATCH_WRITE_MAX)]

    def batch_write(self, chunk: list[dict[str, Any]]) -> WriteStats:
        """Write one chunk of at most 25 requests: 1 BatchWriteItem, plus 1 per retry of UnprocessedItems.

        Unprocessed items are retried with capped exponential backoff and full jitter; when attempts run
        out, UnprocessedItemsError is raised so the message (or stream record) fails and is redelivered.
        """
        stats = WriteStats(items=len(chunk))
        pending = chunk
        for attempt in range(self.backoff.attempts):
            stats.calls += 1
            response = self._call(
                "BatchWriteItem", "batch_write_item", bulk=True, RequestItems={self.table: pending}
            )
            pending = response.get("UnprocessedItems", {}).get(self.table, [])
            if not pending:
                return stats
            stats.retried_items += len(pending)
            if attempt + 1 < self.backoff.attempts:
                self.backoff.pause(attempt)
        raise UnprocessedItemsError(len(pending))

    # ---- meta writes ------------------------------------------------------------------------------
    def _update_meta(self, user_id: str, expression: str, values: dict[str, Any], **extra: Any) -> bool:
        """1 UpdateItem on the meta item; False when its condition did not hold (nothing changed)."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "Key": {"user_id": {"S": user_id}, "entry_id": {"S": META_KEY}},
            "UpdateExpression": expression,
            **extra,
        }
        if values:
            request["ExpressionAttributeValues"] = values
        try:
            self._call("UpdateItem", "update_item", **request)
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def raise_floor(self, user_id: str, floor: str) -> bool:
        """Move the floor up to ``floor`` (never down): 1 conditional UpdateItem."""
        return self._update_meta(
            user_id,
            "SET floor_id = :f",
            {":f": {"S": floor}},
            ConditionExpression="attribute_not_exists(floor_id) OR floor_id < :f",
        )

    def touch(self, user_id: str, now: float) -> bool:
        """Record a home read: 1 UpdateItem (callers do it at most once per TOUCH_INTERVAL)."""
        return self._update_meta(user_id, "SET last_seen = :t", {":t": {"N": str(int(now))}})

    def record_rebuild(self, user_id: str, floor: str, pulls: dict[str, str], floors: dict[str, str]) -> bool:
        """After a rebuild: set the floor, the per-author floors and pull set entries (adds or overwrites
        only the named authors; removes nothing): 1 UpdateItem."""
        values: dict[str, Any] = {":f": {"S": floor}}
        names: dict[str, str] = {}
        sets = ["floor_id = :f"]
        for i, (author, version) in enumerate(sorted(pulls.items())):
            names[f"#p{i}"] = _pull_name(author)
            values[f":p{i}"] = {"S": version}
            sets.append(f"#p{i} = :p{i}")
        for i, (author, author_floor) in enumerate(sorted(floors.items())):
            names[f"#f{i}"] = _floor_name(author)
            values[f":f{i}"] = {"S": author_floor}
            sets.append(f"#f{i} = :f{i}")
        extra: dict[str, Any] = {"ExpressionAttributeNames": names} if names else {}
        return self._update_meta(user_id, "SET " + ", ".join(sets), values, **extra)

    def set_pull(self, user_id: str, author_id: str, version: str) -> bool:
        """Merge ``author_id`` at read time for this user: 1 UpdateItem (idempotent)."""
        return self._update_meta(
            user_id,
            "SET #p = :v",
            {":v": {"S": version}},
            ExpressionAttributeNames={"#p": _pull_name(author_id)},
        )

    def add_pull(self, user_id: str, author_id: str) -> bool:
        """A pull set entry with no follow behind it (tests, tools): version ``k:``."""
        return self.set_pull(user_id, author_id, "k:")

    def mark_pull(self, user_id: str, author_id: str, version: str, edge_check: dict[str, Any]) -> bool:
        """Set the pull set entry only while the follow ``edge_check`` names still exists: 1
        TransactWriteItems (the edge's ConditionCheck and the meta item's update). False when the follow
        is gone (nothing written). Conflicts and throttling are retried with backoff."""
        update = {
            "Update": {
                "TableName": self.table,
                "Key": {"user_id": {"S": user_id}, "entry_id": {"S": META_KEY}},
                "UpdateExpression": "SET #p = :v",
                "ExpressionAttributeNames": {"#p": _pull_name(author_id)},
                "ExpressionAttributeValues": {":v": {"S": version}},
            }
        }
        for attempt in range(self.backoff.attempts):
            try:
                self._call("TransactWriteItems", "transact_write_items", TransactItems=[edge_check, update])
                return True
            except ClientError as exc:
                reasons = [r.get("Code", "") for r in exc.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in reasons:
                    return False
                if not set(reasons) & _TRANSACTION_RETRIES:
                    raise
            if attempt + 1 < self.backoff.attempts:
                self.backoff.pause(attempt)
        raise UnprocessedItemsError(1)

    def remove_pull(self, user_id: str, author_id: str, versions: Sequence[str] | None = None) -> bool:
        """Remove the pull set entry (1 UpdateItem; only if the meta item exists, so none is created).
        With ``versions``, only while the entry is absent or one of them: a newer follow's entry stays."""
        condition = "attribute_exists(user_id)"
        values: dict[str, Any] = {":legacy": {"SS": [author_id]}}
        if versions:
            allowed = ", ".join(f":v{i}" for i in range(len(versions)))
            condition += f" AND (attribute_not_exists(#p) OR #p IN ({allowed}))"
            values |= {f":v{i}": {"S": v} for i, v in enumerate(versions)}
        return self._update_meta(
            user_id,
            "REMOVE #p DELETE pull_ids :legacy",
            values,
            ConditionExpression=condition,
            ExpressionAttributeNames={"#p": _pull_name(author_id)},
        )

    def pull_to_floor(self, user_id: str, author_id: str, version: str, author_floor: str) -> bool:
        """An ex-celebrity leaves the pull set and becomes a per-author floor (its tweets below
        ``author_floor`` were never pushed): 1 UpdateItem, only while the entry is still ``version``."""
        names = {"#p": _pull_name(author_id), "#f": _floor_name(author_id)}
        values: dict[str, Any] = {
            ":v": {"S": version},
            ":d": {"S": author_floor},
            ":legacy": {"SS": [author_id]},
        }
        held = "(#p = :v OR (attribute_not_exists(#p) AND contains(pull_ids, :a)))"
        values[":a"] = {"S": author_id}
        if self._update_meta(
            user_id,
            "REMOVE #p SET #f = :d DELETE pull_ids :legacy",
            values,
            ConditionExpression=f"{held} AND (attribute_not_exists(#f) OR #f < :d)",
            ExpressionAttributeNames=names,
        ):
            return True
        return self._update_meta(  # the author's floor was higher already
            user_id,
            "REMOVE #p DELETE pull_ids :legacy",
            {k: values[k] for k in (":v", ":legacy", ":a")},
            ConditionExpression=held,
            ExpressionAttributeNames={"#p": names["#p"]},
        )

    def set_author_floor(self, user_id: str, author_id: str, author_floor: str) -> bool:
        """Raise the reader's floor for one author (never lowers): 1 conditional UpdateItem."""
        return self._update_meta(
            user_id,
            "SET #f = :d",
            {":d": {"S": author_floor}},
            ConditionExpression="attribute_not_exists(#f) OR #f < :d",
            ExpressionAttributeNames={"#f": _floor_name(author_id)},
        )

    def drop_author_floors(self, user_id: str, authors: Sequence[str]) -> bool:
        """Forget per-author floors the global floor has passed: 1 UpdateItem."""
        if not authors:
            return True
        names = {f"#f{i}": _floor_name(a) for i, a in enumerate(authors)}
        return self._update_meta(
            user_id,
            "REMOVE " + ", ".join(names),
            {},
            ConditionExpression="attribute_exists(user_id)",
            ExpressionAttributeNames=names,
        )

    # ---- author modes -----------------------------------------------------------------------------
    def start_rising(self, author_id: str, seq: str, chunks: int) -> bool:
        """Phase one of crossing up: the author stays pushed while followers are marked. 1 conditional
        UpdateItem; only one concurrent caller starts a round."""
        return self._update_meta(
            author_id,
            "SET rising_seq = :r, rising_chunks = :n, rising_at = :now REMOVE marked",
            {
                ":r": {"S": seq},
                ":n": {"N": str(chunks)},
                ":t": {"BOOL": True},
                ":now": {"N": str(int(ulid_seconds(seq)))},
            },
            ConditionExpression="attribute_not_exists(rising_seq) AND "
            "(attribute_not_exists(is_celebrity) OR is_celebrity <> :t)",
        )

    def restart_rising(self, author_id: str, round_seq: str, now: float, stale_after: float = 300) -> bool:
        """Claim the re-send of a round's marks: 1 UpdateItem; only one caller per ``stale_after``."""
        return self._update_meta(
            author_id,
            "SET rising_at = :now",
            {
                ":now": {"N": str(int(now))},
                ":old": {"N": str(int(now - stale_after))},
                ":r": {"S": round_seq},
            },
            ConditionExpression="rising_seq = :r AND (attribute_not_exists(rising_at) OR rising_at < :old)",
        )

    def record_marked(self, author_id: str, round_seq: str, chunk: int) -> TimelineMeta | None:
        """One chunk of the round is marked: 1 UpdateItem (ADD to a number set: a repeat is a no-op).
        Returns the author's meta after it, or None when that round is over (finished or cancelled)."""
        try:
            response = self._call(
                "UpdateItem",
                "update_item",
                TableName=self.table,
                Key={"user_id": {"S": author_id}, "entry_id": {"S": META_KEY}},
                UpdateExpression="ADD marked :c",
                ConditionExpression="rising_seq = :r",
                ExpressionAttributeValues={":c": {"NS": [str(chunk)]}, ":r": {"S": round_seq}},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return None
            raise
        return _meta_of(response["Attributes"])

    def finish_rising(self, author_id: str, round_seq: str, seq: str) -> bool:
        """Phase two: every follower is marked, the author flips to fan-out on read. 1 UpdateItem."""
        return self._update_meta(
            author_id,
            "SET is_celebrity = :t, mode_seq = :s REMOVE rising_seq, rising_chunks, rising_at, marked",
            {":t": {"BOOL": True}, ":s": {"S": seq}, ":r": {"S": round_seq}},
            ConditionExpression="rising_seq = :r",
        )

    def cancel_rising(self, author_id: str, round_seq: str, seq: str) -> bool:
        """The follower count fell back before the round finished: 1 UpdateItem. ``down_seq`` moves, so
        followers marked in this round later convert their pull entry into a floor."""
        return self._update_meta(
            author_id,
            "SET down_seq = :s REMOVE rising_seq, rising_chunks, rising_at, marked",
            {":s": {"S": seq}, ":r": {"S": round_seq}},
            ConditionExpression="rising_seq = :r",
        )

    def switch_mode(self, author_id: str, *, celebrity: bool, seq: str) -> bool:
        """Switch an author between fan-out on write and on read: 1 conditional UpdateItem.

        Only one concurrent caller wins a given switch (the condition names the current mode).
        """
        if celebrity:
            return self._update_meta(
                author_id,
                "SET is_celebrity = :t, mode_seq = :s",
                {":t": {"BOOL": True}, ":s": {"S": seq}, ":f": {"BOOL": False}},
                ConditionExpression="attribute_not_exists(is_celebrity) OR is_celebrity = :f",
            )
        return self._update_meta(
            author_id,
            "SET is_celebrity = :f, down_seq = :s",
            {":f": {"BOOL": False}, ":s": {"S": seq}, ":t": {"BOOL": True}},
            ConditionExpression="is_celebrity = :t",
        )


@dataclass
class FanoutQueue:
    """Sends fan-out messages to the ``fanout`` queue: SendMessageBatch, 10 messages per call."""

    client: Any = None
    queue_url: str | None = None
    backoff: Backoff = field(default_factory=Backoff)
    calls: CallCounter = field(default_factory=CallCounter)

    @property
    def url(self) -> str:
        return self.queue_url or env("FANOUT_QUEUE_URL")

    def send(self, messages: Sequence[FanoutMessage], delay_seconds: int = 0) -> int:
        """Send every message (delivered after ``delay_seconds``, at most 900); returns the number of
        SendMessageBatch calls. Failed entries are retried with backoff; if some still fail, the error
        propagates (the stream record fails and is retried)."""
        calls = 0
        for batch in _size_bounded_batches([m.model_dump_json(exclude_none=True) for m in messages]):
            pending = {str(i): body for i, body in enumerate(batch)}
            for attempt in range(self.backoff.attempts):
                calls += 1
                self.calls.add("SendMessageBatch")
                response = (self.client or _sqs()).send_message_batch(
                    QueueUrl=self.url,
                    Entries=[
                        {"Id": key, "MessageBody": body, "DelaySeconds": delay_seconds}
                        for key, body in pending.items()
                    ],
                )
                pending = {f["Id"]: pending[f["Id"]] for f in response.get("Failed", [])}
                if not pending:
                    break
                self.backoff.pause(attempt)
            if pending:
                raise RuntimeError(f"{len(pending)} fan-out messages could not be sent")
        return calls


def _size_bounded_batches(bodies: list[str]) -> list[list[str]]:
    batches: list[list[str]] = []
    current: list[str] = []
    size = 0
    for body in bodies:
        length = len(body.encode())
        if current and (len(current) == SQS_BATCH_MAX or size + length > SQS_BATCH_BYTES):
            batches.append(current)
            current, size = [], 0
        current.append(body)
        size += length
    if current:
        batches.append(current)
    return batches
