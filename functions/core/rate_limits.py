"""Per-user rate limits, charged inside the same DynamoDB transaction as the write they guard (or, for a
write that is one item, just before it: ``Charge.spend``, given back when the write changed nothing).

Fixed windows: the item ``<action>#<user_id>#<window_start>`` counts the writes in that window, and the
charge is a conditional ``ADD count 1`` that fails once the count reached the limit. Because the
charge is one of the transaction's items, a burst of concurrent requests cannot overshoot, and a
write that fails for another reason does not use up quota. Items expire with TTL after the window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from functions.core.config import REGION, FromEnv
from functions.core.errors import RateLimited
from functions.core.transactions import Transaction, is_condition_failure


@dataclass(frozen=True)
class Limit:
    action: str
    max_count: int
    window_seconds: int


TWEETS = Limit("tweets", 300, 3 * 3600)
FOLLOWS = Limit("follows", 400, 24 * 3600)
LIKES = Limit("likes", 1000, 24 * 3600)
"""Generous on purpose (Twitter's own figure): a keen reader likes a few hundred tweets on a busy day
and never meets it, while a script farming likes, which costs a transaction and a counter write each,
stops within the day."""


class RateLimitRecord(Model):
    class Meta:
        table_name = FromEnv("RATE_LIMITS_TABLE_NAME")
        region = REGION

    pk = UnicodeAttribute(hash_key=True)
    used = NumberAttribute(default=0, attr_name="count")  # not `count`: Model.count is a method
    expires_at = NumberAttribute()


@dataclass(frozen=True)
class Charge:
    """One unit of quota, ready to be added to a transaction."""

    limit: Limit
    user_id: str
    now: float

    @property
    def window_start(self) -> int:
        return int(self.now) - int(self.now) % self.limit.window_seconds

    @property
    def retry_after(self) -> int:
        return self.window_start + self.limit.window_seconds - int(self.now)

    def add_to(self, tx: Transaction, label: str) -> None:
        """The charge as one labelled update item of ``tx``; its condition fails once the window is full."""
        tx.update(label, self._record(), self._actions(), self._room())

    def spend(self) -> bool:
        """The charge on its own: 1 UpdateItem (1 write unit), for a write that is a single item and so
        needs no transaction. False when the window is full (nothing changed)."""
        record = self._record()
        try:
            record.update(actions=self._actions(), condition=self._room())
        except UpdateError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def refund(self) -> None:
        """Give back a ``spend`` whose write then turned out to change nothing: 1 UpdateItem."""
        self._record().update(actions=[RateLimitRecord.used.add(-1)])

    def _record(self) -> RateLimitRecord:
        return RateLimitRecord(pk=f"{self.limit.action}#{self.user_id}#{self.window_start}")

    def _actions(self) -> list[Action]:
        return [
            RateLimitRecord.used.add(1),
            RateLimitRecord.expires_at.set(self.window_start + self.limit.window_seconds + 3600),
        ]

    def _room(self) -> Condition:
        return RateLimitRecord.used.does_not_exist() | (RateLimitRecord.used < self.limit.max_count)

    def exceeded(self) -> RateLimited:
        return RateLimited(
            f"Rate limit reached: at most {self.limit.max_count} {self.limit.action} per "
            f"{self.limit.window_seconds // 3600} hours.",
            retry_after_seconds=self.retry_after,
        )


def charge(limit: Limit, user_id: str, now: float | None = None) -> Charge:
    return Charge(limit, user_id, time.time() if now is None else now)
