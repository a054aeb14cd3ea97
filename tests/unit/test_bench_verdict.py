"""The cost comparison's arithmetic (bench/verdict.py, bench/stats.py, bench/report.py): percentiles
with their sample counts, mixes by reads per post, recombination of per-op costs, the pre-registered
verdict rule."""

from __future__ import annotations

import math

import pytest

from bench.capacity import Capacity
from bench.report import batch_costs, reads_sweep, verdicts
from bench.stats import cell, percentile_n, samples_needed
from bench.verdict import break_even, judge, mix_at, recombine, spread
from bench.workload import OpResult

MIX = {"home_read": 0.60, "user_read": 0.15, "like": 0.15, "post": 0.07, "follow": 0.03}


# ---- percentiles with sample counts ----------------------------------------------------------------
def test_samples_needed_for_a_percentile() -> None:
    assert (samples_needed(50), samples_needed(95), samples_needed(99)) == (2, 20, 100)


def test_p99_of_fewer_than_100_samples_is_reported_as_the_maximum() -> None:
    values = [float(v) for v in range(1, 61)]  # 60 samples
    p99 = percentile_n(values, 99)
    assert p99 == {"q": 99, "value": 60.0, "n": 60, "supported": False}
    assert cell(p99) == "max 60.0 (n=60)"
    p50 = percentile_n(values, 50)
    assert p50["supported"] and p50["value"] == 30.0
    assert cell(p50) == "30.0 (n=60)"


def test_p99_of_200_samples_is_the_198th_value_not_the_maximum() -> None:
    values = [float(v) for v in range(1, 201)]
    p99 = percentile_n(values, 99)
    assert p99["supported"] and p99["value"] == 198.0 and p99["n"] == 200
    assert cell(p99) == "198.0 (n=200)"


def test_no_samples() -> None:
    empty = percentile_n([], 95)
    assert empty["n"] == 0 and not empty["supported"] and math.isnan(empty["value"])
    assert cell(empty) == "-"


# ---- mixes and recombination -----------------------------------------------------------------------
def test_mix_at_sets_reads_per_post_and_keeps_the_other_ratios() -> None:
    mix = mix_at(MIX, 100)
    assert sum(mix.values()) == pytest.approx(1.0)
    assert mix["home_read"] / mix["post"] == pytest.approx(100)
    assert mix["like"] / mix["post"] == pytest.approx(0.15 / 0.07)
    assert mix["follow"] / mix["user_read"] == pytest.approx(0.03 / 0.15)
    with pytest.raises(ValueError):
        mix_at({"home_read": 1.0}, 10)


def test_recombination_is_the_share_weighted_sum_and_needs_every_op() -> None:
    costs = {"home_read": 10.0, "post": 100.0}
    assert recombine(costs, {"home_read": 0.9, "post": 0.1}) == pytest.approx(19.0)
    with pytest.raises(KeyError):
        recombine(costs, {"home_read": 0.5, "like": 0.5})


def test_break_even_of_two_strategies() -> None:
    # A: reads cost 12, posts 20; B: reads 10, posts 60 -> equal at 40 / 2 = 20 reads per post.
    assert break_even(12, 20, 10, 60) == pytest.approx(20)
    assert break_even(12, 70, 10, 60) is None  # A dearer at every ratio
    assert break_even(10, 20, 10, 60) is None


# ---- the pre-registered rule -----------------------------------------------------------------------
def test_spread() -> None:
    assert spread([3.0, 1.0, 2.0]) == {"min": 1.0, "median": 2.0, "max": 3.0, "range": 2.0, "n": 3}
    with pytest.raises(ValueError):
        spread([])


def test_the_hybrid_wins_only_by_more_than_the_spread() -> None:
    wins = judge(hybrid=[8.0, 8.1, 8.2], push=[10.0, 10.1, 10.2], pull=[9.0, 9.1, 9.3])
    assert wins["wins"] and wins["best_pure"] == "pull"
    assert wins["saving"] == pytest.approx(1.0) and wins["margin"] == pytest.approx(0.3)
    # 1% cheaper than pull but the repeats spread over 0.5: not a win.
    close = judge(hybrid=[7.9, 7.93, 8.4], push=[9.9, 9.91, 9.92], pull=[8.0, 8.01, 8.02])
    assert not close["wins"] and close["saving"] == pytest.approx(0.08)
    # Cheaper than push, dearer than pull: not a win, whatever the spread.
    between = judge(hybrid=[8.5, 8.5, 8.5], push=[9.0, 9.0, 9.0], pull=[8.0, 8.0, 8.0])
    assert not between["wins"] and between["saving"] < 0
    # Equal to the best pure strategy (e.g. the hybrid at a threshold nobody reaches is push): no win.
    same = judge(hybrid=[5.0, 5.0], push=[5.0, 5.0], pull=[6.0, 6.0])
    assert not same["wins"] and same["saving"] == 0


def _op(kind: str, batch: int, rcu: float = 0.0, wcu: float = 0.0, strategy: str = "push") -> OpResult:
    return OpResult(
        kind=kind,
        strategy=strategy,
        latency_s=0.01,
        calls={},
        depth=1,
        capacity=Capacity(rcu=rcu, wcu=wcu),
        async_calls={},
        async_capacity=Capacity(),
        async_depth=0,
        sqs_requests=0,
        batch=batch,
        lambda_invocations=1,
    )


def _run(read_rru: list[float], post_wru: list[float], strategy: str) -> list[OpResult]:
    out = []
    for batch, (rru, wru) in enumerate(zip(read_rru, post_wru, strict=True)):
        out += [
            _op("home_read", batch, rcu=rru, strategy=strategy),
            _op("post", batch, wcu=wru, strategy=strategy),
        ]
        out += [_op(k, batch, strategy=strategy) for k in ("user_read", "like", "follow")]
    return out


def test_batches_are_costed_apart_and_recombined_per_ratio() -> None:
    runs = {
        "push": _run([8, 8, 8], [200, 210, 190], "push"),  # cheap reads, dear posts
        "pull": _run([40, 40, 40], [8, 8, 8], "pull"),  # dear reads, cheap posts
        "hybrid@50": _run([10, 10, 10], [30, 30, 30], "hybrid"),
    }
    per_batch = batch_costs(runs["push"])
    assert len(per_batch) == 3
    # A post of 200 WRU: $125 per million in DynamoDB, + API Gateway $3.50 + 1 Lambda request $0.20.
    assert per_batch[0]["post"] == pytest.approx(200 * 0.625 + 3.5 + 0.2)
    assert per_batch[1]["post"] > per_batch[0]["post"] > per_batch[2]["post"]
    sweep = reads_sweep(runs, MIX, ratios=[1.0, 100.0])
    low, high = sweep
    mix = mix_at(MIX, 100.0)
    expected = [recombine(b, mix) for b in per_batch]
    assert low["costs"]["push"] != high["costs"]["push"]
    assert high["costs"]["push"] == pytest.approx(expected)
    assert high["spread"]["push"]["median"] == pytest.approx(sorted(expected)[1])
    rows = verdicts(sweep)
    by_ratio = {r["reads_per_post"]: r for r in rows if r["threshold"] == 50}
    assert by_ratio[100.0]["wins"] and by_ratio[100.0]["best_pure"] == "push"
    assert by_ratio[1.0]["best_pure"] == "pull"
