"""The write primitive (functions.core.transactions) as the graph's data layer uses it, with PynamoDB's
transaction replaced by a script.

The real transactions run end to end in tests/e2e/test_follows.py; these tests cover what moto cannot
produce (``TransactionConflict``, throttling) and pin the mapping of wire-order reasons to labels.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

from functions.core import rate_limits, transactions
from functions.core.errors import Busy, NotFound, RateLimited
from functions.graph import dal

OK = None
FAIL = "ConditionalCheckFailed"
CONFLICT = "TransactionConflict"


def cancelled(*codes: str | None) -> TransactWriteError:
    reasons = [CancellationReason(code=code) if code else None for code in codes]
    cause = VerboseClientError(
        {"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}},
        "TransactWriteItems",
        cancellation_reasons=reasons,
    )
    return TransactWriteError("Failed to write transaction items", cause)


class ScriptedTransaction:
    """Stands in for pynamodb's TransactWrite: records the operations, then fails as scripted."""

    script: list[TransactWriteError | None] = []
    attempts: list[list[str]] = []

    def __init__(self, connection: Any = None) -> None:
        self.operations: list[str] = []

    def __enter__(self) -> ScriptedTransaction:
        return self

    def __exit__(self, *exc: object) -> None:
        ScriptedTransaction.attempts.append(self.operations)
        outcome = ScriptedTransaction.script.pop(0) if ScriptedTransaction.script else None
        if outcome is not None:
            raise outcome

    def save(self, model: Any, condition: Any = None) -> None:
        self.operations.append(f"put {type(model).__name__}")

    def update(self, model: Any, actions: Any, condition: Any = None) -> None:
        self.operations.append(f"update {type(model).__name__}")

    def delete(self, model: Any, condition: Any = None) -> None:
        self.operations.append(f"delete {type(model).__name__}")


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch) -> list[TransactWriteError | None]:
    monkeypatch.setattr(transactions, "TransactWrite", ScriptedTransaction)
    monkeypatch.setattr(transactions, "connection", lambda: None)
    no_sleep = replace(transactions.DEFAULT_BACKOFF, sleep=lambda _: None)
    monkeypatch.setattr(transactions.transact, "__kwdefaults__", {"backoff": no_sleep})
    ScriptedTransaction.script = []
    ScriptedTransaction.attempts = []
    return ScriptedTransaction.script


def quota() -> rate_limits.Charge:
    return rate_limits.charge(rate_limits.FOLLOWS, "alice", now=1_000_000.0)


def test_follow_writes_edge_both_counters_and_the_charge_in_one_transaction(script: list[Any]) -> None:
    assert dal.FollowRepository().follow("alice", "bob", quota()) is True
    assert ScriptedTransaction.attempts == [
        ["put FollowRecord", "update UserRecord", "update UserRecord", "update RateLimitRecord"]
    ]


def test_unfollow_deletes_edge_and_both_counters_in_one_transaction(script: list[Any]) -> None:
    assert dal.FollowRepository().unfollow("alice", "bob") is True
    assert ScriptedTransaction.attempts == [["delete FollowRecord", "update UserRecord", "update UserRecord"]]


@pytest.mark.parametrize(
    ("reasons", "outcome"),
    [
        ((FAIL, OK, OK, OK), False),  # repeat
        ((FAIL, OK, OK, FAIL), False),  # a repeat at the limit is still a repeat, not a 429
        ((OK, FAIL, OK, OK), NotFound),
        ((OK, OK, FAIL, OK), NotFound),
        ((OK, OK, OK, FAIL), RateLimited),
        ((OK, FAIL, OK, FAIL), NotFound),  # unknown user beats the limit
    ],
)
def test_follow_maps_cancellation_reasons_to_its_items(
    script: list[Any], reasons: tuple[str | None, ...], outcome: Any
) -> None:
    script.append(cancelled(*reasons))
    if isinstance(outcome, bool):
        assert dal.FollowRepository().follow("alice", "bob", quota()) is outcome
    else:
        with pytest.raises(outcome):
            dal.FollowRepository().follow("alice", "bob", quota())


def test_rate_limited_follow_says_when_to_retry(script: list[Any]) -> None:
    script.append(cancelled(OK, OK, OK, FAIL))
    with pytest.raises(RateLimited) as caught:
        dal.FollowRepository().follow("alice", "bob", quota())
    assert caught.value.retry_after_seconds == quota().retry_after > 0


@pytest.mark.parametrize(
    ("reasons", "outcome"),
    [
        ((FAIL, OK, OK), False),
        ((FAIL, FAIL, OK), NotFound),
        ((OK, FAIL, OK), NotFound),
        ((OK, OK, FAIL), NotFound),
    ],
)
def test_unfollow_maps_cancellation_reasons_to_its_items(
    script: list[Any], reasons: tuple[str | None, ...], outcome: Any
) -> None:
    script.append(cancelled(*reasons))
    if isinstance(outcome, bool):
        assert dal.FollowRepository().unfollow("alice", "bob") is outcome
    else:
        with pytest.raises(outcome):
            dal.FollowRepository().unfollow("alice", "bob")


def test_a_transaction_conflict_is_retried_until_it_goes_through(script: list[Any]) -> None:
    script += [cancelled(OK, CONFLICT, OK, OK), cancelled(OK, CONFLICT, OK, OK)]
    assert dal.FollowRepository().follow("alice", "bob", quota()) is True
    assert len(ScriptedTransaction.attempts) == 3


def test_a_conflict_then_a_repeat_is_a_repeat(script: list[Any]) -> None:
    script += [cancelled(OK, CONFLICT, OK, OK), cancelled(FAIL, OK, OK, OK)]
    assert dal.FollowRepository().follow("alice", "bob", quota()) is False


def test_a_conflict_that_never_clears_is_busy_429_with_retry_after(script: list[Any]) -> None:
    script += [cancelled(OK, CONFLICT, OK, OK) for _ in range(10)]
    with pytest.raises(Busy) as caught:
        dal.FollowRepository().follow("alice", "bob", quota())
    assert len(ScriptedTransaction.attempts) == transactions.DEFAULT_BACKOFF.attempts == 5
    assert (caught.value.status, caught.value.code, caught.value.retry_after_seconds) == (429, "busy", 1)


def test_a_throttled_transaction_is_retried(script: list[Any]) -> None:
    script += [cancelled(OK, "ThrottlingError", OK, OK), None]
    assert dal.FollowRepository().unfollow("alice", "bob") is True
    assert len(ScriptedTransaction.attempts) == 2


def test_other_failures_are_not_mistaken_for_outcomes(script: list[Any]) -> None:
    script.append(cancelled(OK, "ValidationError", OK, OK))
    with pytest.raises(RuntimeError):
        dal.FollowRepository().follow("alice", "bob", quota())
    plain = TransactWriteError(
        "boom", ClientError({"Error": {"Code": "InternalServerError"}}, "TransactWriteItems")
    )
    script.append(plain)
    with pytest.raises(TransactWriteError):
        dal.FollowRepository().unfollow("alice", "bob")


@pytest.mark.parametrize("user_id", ["", "x" * 129, "a#b"])
def test_implausible_ids_are_unknown_users_without_a_call(script: list[Any], user_id: str) -> None:
    with pytest.raises(NotFound):
        dal.FollowRepository().follow("alice", user_id, quota())
    with pytest.raises(NotFound):
        dal.FollowRepository().unfollow("alice", user_id)
    assert dal.FollowRepository().is_following("alice", user_id) is False
    assert dal.FollowRepository().followers(user_id, None, 5) == []
    assert dal.FollowRepository().following(user_id, None, 5) == []
    assert dal.FollowRepository().profile_exists(user_id) is False
    assert ScriptedTransaction.attempts == []


def test_follow_items_carry_what_the_fan_out_needs() -> None:
    edge = dal.new_follow("alice", "bob")
    later = dal.new_follow("alice", "carol")
    assert (edge.follower_id, edge.followee_id) == ("alice", "bob")
    assert len(edge.follow_seq) == 26 and edge.created_at.endswith("Z")
    assert edge.created_at[:19] <= later.created_at[:19]
    assert edge.follow_seq != later.follow_seq


def test_labels_follow_the_wire_order_not_the_order_items_were_added(script: list[Any]) -> None:
    # PynamoDB sends condition checks, deletes, puts, then updates: an update added first is still last.
    def build(tx: transactions.Transaction) -> None:
        tx.update("counter", dal.UserRecord(pk="bob"), [dal.UserRecord.follower_count.add(1)])
        tx.put("edge", dal.new_follow("alice", "bob"))
        tx.delete("old", dal.FollowRecord(follower_id="alice", followee_id="carol"))

    script.append(cancelled(OK, FAIL, OK))  # wire order: delete old, put edge, update counter
    assert transactions.transact(build) == {"edge"}
