"""How the bench judges its targets: the cost target by the pre-registered rule at the seeds' ratio
and the named thresholds (never the cheapest of a sweep), the unit targets, the 5-second bound on the
local-cloud lag."""

from __future__ import annotations

from typing import Any

from bench.capacity import Capacity
from bench.report import evaluate_targets
from bench.verdict import judge
from bench.workload import OpResult


def _verdict(
    threshold: int, ratio: float, hybrid: list[float], push: list[float], pull: list[float]
) -> dict[str, Any]:
    return {"threshold": threshold, "reads_per_post": ratio, **judge(hybrid, push, pull)}


def _target(targets: list[dict[str, Any]], prefix: str) -> dict[str, Any]:
    return next(t for t in targets if t["target"].startswith(prefix))


PUSH, PULL = [9.9, 9.91, 9.92], [8.0, 8.01, 8.02]


def test_the_cost_target_is_judged_at_the_named_thresholds_not_the_cheapest() -> None:
    rows = [
        _verdict(25, 100.0, [6.0, 6.0, 6.0], PUSH, PULL),  # cheapest of the sweep: not what is judged
        _verdict(500, 100.0, [8.88, 8.88, 8.89], PUSH, PULL),
        _verdict(500, 55.0, [7.0, 7.0, 7.0], PUSH, PULL),  # another ratio: not the target
        _verdict(10_000, 100.0, PUSH, PUSH, PULL),
    ]
    targets = evaluate_targets([], [], rows, headline=500, shipped=10_000)
    headline = _target(
        targets, "hybrid wins by the pre-registered rule at the seeds' 100 home reads per post, the bench's"
    )
    shipped = _target(
        targets, "hybrid wins by the pre-registered rule at the seeds' 100 home reads per post, the shipped"
    )
    assert (
        headline["status"] == "FAIL" and "$8.88" in headline["detail"] and "pull $8.01" in headline["detail"]
    )
    assert shipped["status"] == "FAIL" and "saves -23.7%" in shipped["detail"]  # it is push here


def test_the_cost_target_passes_when_the_rule_says_so() -> None:
    rows = [_verdict(500, 100.0, [7.0, 7.1, 7.2], PUSH, PULL)]
    target = _target(evaluate_targets([], [], rows, headline=500, shipped=10_000), "hybrid wins")
    assert target["status"] == "PASS" and "threshold 500" in target["target"]


def _read(rru: float, tweets: int = 20) -> OpResult:
    return OpResult(
        kind="home_read",
        strategy="hybrid",
        latency_s=0.01,
        calls={"Query": 1, "BatchGetItem": 1},
        depth=2,
        capacity=Capacity(rcu=rru),
        async_calls={},
        async_capacity=Capacity(),
        async_depth=0,
        sqs_requests=0,
        checks={"queries": 1, "pull_set": 0, "batch_gets": 1, "pre_hydration_depth": 2, "tweets": tweets},
    )


def _like(wru: float, async_wru: float) -> OpResult:
    return OpResult(
        kind="like",
        strategy="hybrid",
        latency_s=0.01,
        calls={},
        depth=1,
        capacity=Capacity(wcu=wru),
        async_calls={},
        async_capacity=Capacity(wcu=async_wru),
        async_depth=0,
        sqs_requests=0,
    )


def test_home_read_and_like_unit_targets() -> None:
    ok = evaluate_targets([_read(38.0), _read(40.0), _read(90.0, tweets=7), _like(2, 2)], [])
    assert _target(ok, "home read of 20 entries <= 40 RRU")["status"] == "PASS"
    assert "2/2 pages" in _target(ok, "home read of 20 entries")["detail"]  # the 7-entry page is not judged
    assert _target(ok, "like <= 4 WRU")["status"] == "PASS"
    bad = evaluate_targets([_read(68.0), _like(5, 0)], [])
    assert _target(bad, "home read of 20 entries <= 40 RRU")["status"] == "FAIL"
    assert _target(bad, "like <= 4 WRU")["status"] == "FAIL"
    assert _target(bad, "home read (hybrid): 1 Query")["status"] == "PASS"


def test_the_lag_bound_is_judged_on_the_local_cloud_worst_post() -> None:
    rows = [{"followers": 10_000, "posts": 5, "lag_p50_s": 3.6, "lag_max_s": 4.9}]
    assert _target(evaluate_targets([], [], [], rows), "(local runtime)")["status"] == "PASS"
    rows[0]["lag_max_s"] = 5.2
    assert _target(evaluate_targets([], [], [], rows), "(local runtime)")["status"] == "FAIL"


def test_the_cold_import_target_fails_on_any_handler_at_or_over_200_ms() -> None:
    rows = [{"function": "a", "median_ms": 120.0}, {"function": "b", "median_ms": 199.0}]
    target = _target(evaluate_targets([], [], imports=rows), "every handler module")
    assert target["status"] == "PASS" and "2/2 within" in target["detail"]
    rows.append({"function": "c", "median_ms": 200.0})
    target = _target(evaluate_targets([], [], imports=rows), "every handler module")
    assert target["status"] == "FAIL" and "slowest c 200 ms" in target["detail"]
