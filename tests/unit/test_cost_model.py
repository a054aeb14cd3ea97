"""The cost model (bench/cost_model.py) adds up from the bench's measured units and AWS's price tiers."""

from __future__ import annotations

import pytest

from bench.cost_model import PRICE, Workload, measured, month, tiered


def test_tiers_charge_each_slice_at_its_own_price() -> None:
    tiers = [(10.0, 0.0), (90.0, 1.0), (float("inf"), 0.5)]
    assert tiered(5, tiers) == 0
    assert tiered(100, tiers) == 90
    assert tiered(300, tiers) == 90 + 100


def test_a_month_is_the_sum_of_its_lines_and_reads_come_from_the_measured_home_read() -> None:
    ops = measured()
    small = month(10_000, ops)
    assert small.total == pytest.approx(sum(small.lines.values()))
    home_rru = ops["home_read"]["rru"]
    reads_floor = 10_000 * 30 * Workload().home_reads * home_rru * PRICE["rru"]  # type: ignore[operator]
    assert small.lines["DynamoDB reads"] >= reads_floor
    # Per-request lines scale linearly; tiered ones (API Gateway, CloudFront, Cognito) get cheaper.
    big = month(1_000_000, ops)
    assert big.lines["DynamoDB writes"] == pytest.approx(100 * small.lines["DynamoDB writes"])
    assert big.lines["API Gateway"] < 100 * small.lines["API Gateway"]
    assert big.biggest == "DynamoDB reads"


def test_more_followers_cost_more_writes_and_the_seeds_ratios_are_the_defaults() -> None:
    ops = measured()
    assert (Workload().posts, Workload().home_reads, Workload().followers_per_post) == (2, 200, 200)
    fewer = month(10_000, ops, Workload(followers_per_post=20))
    assert fewer.lines["DynamoDB writes"] < month(10_000, ops).lines["DynamoDB writes"]
