"""Data access of the social graph: follow edges and the exact counts on both profiles.

Table ``follows`` (one item per edge, streamed to the home-timeline fan-out):
- ``follower_id`` (partition) + ``followee_id`` (sort): the edge; GetItem / BatchGetItem answer
  "does A follow B" and make a second follow of the same pair impossible.
- ``follow_seq``: a ULID minted per follow, so "newest follow first" is a stable, unique order.
- GSI ``by_followee`` (``followee_id``, ``follow_seq``): someone's followers, newest first.
- LSI ``by_follow_time`` (``follower_id``, ``follow_seq``): whom someone follows, newest first
  (an LSI, so it can be read with strong consistency).

Follow and unfollow are one TransactWriteItems each: the edge put (or delete), both counters on the
``users`` table and, for a follow, the rate-limit charge. The edge's condition makes repeats change
nothing, so the counters are exact without any read-modify-write.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import Executor
from typing import Any

from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, LocalSecondaryIndex
from pynamodb.models import Model
from ulid import ULID

from functions.core.batch_get import Read, batch_get
from functions.core.clock import iso_millis
from functions.core.config import REGION, FromEnv
from functions.core.errors import NotFound
from functions.core.ids import plausible_key
from functions.core.rate_limits import Charge
from functions.core.transactions import Transaction, transact
from functions.users.dal import UserRecord


class ByFollowee(GlobalSecondaryIndex["FollowRecord"]):
    class Meta:
        index_name = "by_followee"
        projection = AllProjection()

    followee_id = UnicodeAttribute(hash_key=True)
    follow_seq = UnicodeAttribute(range_key=True)


class ByFollowTime(LocalSecondaryIndex["FollowRecord"]):
    class Meta:
        index_name = "by_follow_time"
        projection = AllProjection()

    follower_id = UnicodeAttribute(hash_key=True)
    follow_seq = UnicodeAttribute(range_key=True)


class FollowRecord(Model):
    """``follower_id`` follows ``followee_id`` since ``created_at``."""

    class Meta:
        table_name = FromEnv("FOLLOWS_TABLE_NAME")
        region = REGION

    follower_id = UnicodeAttribute(hash_key=True)
    followee_id = UnicodeAttribute(range_key=True)
    follow_seq = UnicodeAttribute()
    created_at = UnicodeAttribute()

    by_followee = ByFollowee()
    by_follow_time = ByFollowTime()


def new_follow(follower_id: str, followee_id: str) -> FollowRecord:
    """A new edge: ``follow_seq`` and ``created_at`` come from the same instant."""
    now = time.time()
    return FollowRecord(
        follower_id=follower_id,
        followee_id=followee_id,
        follow_seq=str(ULID.from_timestamp(now)),
        created_at=iso_millis(now),
    )


def _profile_exists() -> Condition:
    return UserRecord.pk.exists() & (UserRecord.kind == "profile")


class FollowRepository:
    """Every DynamoDB call of the graph domain goes through here."""

    # -- writes ------------------------------------------------------------------------------------
    def follow(self, follower_id: str, followee_id: str, quota: Charge) -> bool:
        """Create the edge, count it on both profiles and charge ``quota``: 1 TransactWriteItems, 4 items.

        Returns False (and changes nothing, charges nothing) when the edge already existed. Raises
        NotFound for an unknown followee and RateLimited when the quota is used up.
        """
        if not plausible_key(followee_id):
            raise NotFound("No such user.")
        edge = new_follow(follower_id, followee_id)

        def build(tx: Transaction) -> None:
            tx.put("edge", edge, FollowRecord.follower_id.does_not_exist())
            followee = UserRecord(pk=followee_id)
            tx.update("followee", followee, [UserRecord.follower_count.add(1)], _profile_exists())
            follower = UserRecord(pk=follower_id)
            tx.update("follower", follower, [UserRecord.following_count.add(1)], _profile_exists())
            quota.add_to(tx, "quota")

        failed = transact(build)
        if "edge" in failed:
            return False  # a repeat: already following, nothing written or charged
        if "followee" in failed:
            raise NotFound("No such user.")
        if "follower" in failed:
            raise NotFound("Your profile does not exist.")
        if "quota" in failed:
            raise quota.exceeded()
        return True

    def unfollow(self, follower_id: str, followee_id: str) -> bool:
        """Delete the edge and uncount it on both profiles: 1 TransactWriteItems, 3 items.

        Returns False (and changes nothing) when there was no edge. Raises NotFound for an unknown user.
        """
        if not plausible_key(followee_id):
            raise NotFound("No such user.")

        def build(tx: Transaction) -> None:
            edge = FollowRecord(follower_id=follower_id, followee_id=followee_id)
            tx.delete("edge", edge, FollowRecord.follower_id.exists())
            followee = UserRecord(pk=followee_id)
            tx.update("followee", followee, [UserRecord.follower_count.add(-1)], _profile_exists())
            follower = UserRecord(pk=follower_id)
            tx.update("follower", follower, [UserRecord.following_count.add(-1)], _profile_exists())

        failed = transact(build)
        # DynamoDB evaluates every item's condition and reports each failure, so an unknown followee
        # shows up as "followee" even when the (absent) edge failed too.
        if "followee" in failed:
            raise NotFound("No such user.")
        if "edge" in failed:
            return False  # a repeat: not following, nothing written
        if "follower" in failed:
            raise NotFound("Your profile does not exist.")
        return True

    # -- reads -------------------------------------------------------------------------------------
    def is_following(self, follower_id: str, followee_id: str) -> bool:
        """1 GetItem, strongly consistent so a follow is visible to its author at once."""
        if not (plausible_key(follower_id) and plausible_key(followee_id)):
            return False
        try:
            FollowRecord.get(
                follower_id, followee_id, consistent_read=True, attributes_to_get=["follower_id"]
            )
        except DoesNotExist:
            return False
        return True

    def follow_seq(self, follower_id: str, followee_id: str) -> str | None:
        """The edge's ``follow_seq`` (None: not following): 1 GetItem, strongly consistent."""
        if not (plausible_key(follower_id) and plausible_key(followee_id)):
            return None
        try:
            record = FollowRecord.get(follower_id, followee_id, consistent_read=True)
        except DoesNotExist:
            return None
        return record.follow_seq

    def edge_check(self, follower_id: str, followee_id: str, follow_seq: str) -> dict[str, Any]:
        """A TransactWriteItems ConditionCheck item (DynamoDB JSON) that holds while exactly this follow
        (``follow_seq``) exists, for other domains' transactions."""
        return {
            "ConditionCheck": {
                "TableName": FollowRecord.Meta.table_name,
                "Key": {"follower_id": {"S": follower_id}, "followee_id": {"S": followee_id}},
                "ConditionExpression": "follow_seq = :s",
                "ExpressionAttributeValues": {":s": {"S": follow_seq}},
            }
        }

    def followed_among(self, follower_id: str, candidate_ids: Iterable[str]) -> set[str]:
        """Which of ``candidate_ids`` ``follower_id`` follows: 1 BatchGetItem (<= 100 keys)."""
        keys = [(follower_id, candidate) for candidate in set(candidate_ids)]
        if not keys:
            return set()
        found = FollowRecord.batch_get(keys, attributes_to_get=["follower_id", "followee_id"])
        return {record.followee_id for record in found}

    def followers(self, user_id: str, before_seq: str | None, limit: int) -> list[FollowRecord]:
        """Edges into ``user_id``, newest first, older than ``before_seq``: 1 Query on by_followee."""
        if not plausible_key(user_id):
            return []
        condition = FollowRecord.follow_seq < before_seq if before_seq else None
        return list(
            FollowRecord.by_followee.query(
                user_id, range_key_condition=condition, scan_index_forward=False, limit=limit
            )
        )

    def following(self, user_id: str, before_seq: str | None, limit: int) -> list[FollowRecord]:
        """Edges out of ``user_id``, newest first, older than ``before_seq``: 1 Query on by_follow_time."""
        if not plausible_key(user_id):
            return []
        condition = FollowRecord.follow_seq < before_seq if before_seq else None
        return list(
            FollowRecord.by_follow_time.query(
                user_id,
                range_key_condition=condition,
                scan_index_forward=False,
                limit=limit,
                consistent_read=True,
            )
        )

    def profile_exists(self, user_id: str) -> bool:
        """1 GetItem of the profile's key attributes."""
        if not plausible_key(user_id):
            return False
        try:
            record = UserRecord.get(user_id, attributes_to_get=["pk", "kind"])
        except DoesNotExist:
            return False
        return record.kind == "profile"

    def profiles_and_followed(
        self,
        user_ids: Iterable[str],
        follower_id: str,
        candidate_ids: Iterable[str],
        executor: Executor | None = None,
    ) -> tuple[dict[str, UserRecord], set[str]]:
        """``profiles(user_ids)`` and ``followed_among(follower_id, candidate_ids)`` in ONE BatchGetItem
        across users and follows (a page of 20 is 40 keys); beyond 100 keys, calls side by side."""
        profiles = Read(UserRecord, set(user_ids))
        edges = Read(FollowRecord, [(follower_id, c) for c in set(candidate_ids)])
        batch_get([profiles, edges], executor)
        found = {r.user_id: r for r in profiles.found if r.kind == "profile"}
        return found, {edge.followee_id for edge in edges.found}

    def profiles(self, user_ids: Iterable[str]) -> dict[str, UserRecord]:
        """Profiles by user id: 1 BatchGetItem on users (<= 100 keys; unknown ids are left out)."""
        ids = set(user_ids)
        if not ids:
            return {}
        return {r.user_id: r for r in UserRecord.batch_get(ids) if r.kind == "profile"}
