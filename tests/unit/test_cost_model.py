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


def test_one_source_of_prices() -> None:
    from bench import capacity
    from bench.cost_model import PRICES_AS_OF

    per_million = {k: float(PRICE[k]) * 1e6 for k in ("rru", "wru", "sqs_request")}
    measured = (
        capacity.PRICE_PER_MILLION_RRU,
        capacity.PRICE_PER_MILLION_WRU,
        capacity.PRICE_PER_MILLION_SQS_REQUESTS,
    )
    assert measured == pytest.approx((per_million["rru"], per_million["wru"], per_million["sqs_request"]))
    assert capacity.PRICES_CHECKED == PRICES_AS_OF and "2026-11-22" in PRICES_AS_OF


def _row(**overrides: float) -> dict[str, float]:
    row = {
        "rcu": 68.0,
        "async_rcu": 0.0,
        "wcu": 0.0,
        "async_wcu": 0.0,
        "async_sqs_requests": 0.0,
        "api_requests": 1,
        "lambda_invocations": 1,
        "lambda_gb_s": 0.05,
    }
    return {**row, **overrides}


def test_op_lines_price_each_line_per_million_ops() -> None:
    from bench.cost_model import COUNTED_LINES, counted, op_lines

    lines = op_lines(_row())
    assert lines["DynamoDB"] == pytest.approx(68 * 0.125)
    assert lines["API Gateway"] == pytest.approx(3.5)  # REST API, first tier
    assert lines["Lambda requests"] == pytest.approx(0.2)
    assert lines["Lambda GB-s"] == pytest.approx(0.05 * 0.0000133334 * 1e6)
    assert lines["SQS"] == 0
    assert counted(lines) == pytest.approx(sum(lines[k] for k in COUNTED_LINES))
    assert "Lambda GB-s" not in COUNTED_LINES  # local durations stay out of the verdict
    post = op_lines(
        _row(rcu=0.5, wcu=7, async_rcu=29, async_wcu=55, async_sqs_requests=3, lambda_invocations=4)
    )
    assert post["DynamoDB"] == pytest.approx(29.5 * 0.125 + 62 * 0.625)
    assert post["SQS"] == pytest.approx(3 * 0.4)
    assert post["Lambda requests"] == pytest.approx(4 * 0.2)
    backfill = op_lines(_row(api_requests=0))
    assert backfill["API Gateway"] == 0


def test_per_thousand_dau_and_per_user_lines() -> None:
    from bench.cost_model import cognito_per_dau, opensearch_month, per_thousand_dau

    # 2 posts a day, posts 10% of the mix -> 20 ops a day, 600 a month, 600,000 for 1,000 users.
    assert per_thousand_dau(10.0, 0.1) == pytest.approx(600_000 * 10.0 / 1e6)
    assert cognito_per_dau(5_000) == 0  # inside Cognito Lite's free 10,000 MAU
    assert cognito_per_dau(1_000_000) == pytest.approx(
        tiered(2_000_000, PRICE["cognito_lite_mau"]) / 1_000_000  # type: ignore[arg-type]
    )
    prod, dev = opensearch_month("prod"), opensearch_month("dev")
    assert prod["instance_type"] == "m6g.large.search" and prod["data_nodes"] == 2
    assert prod["usd_per_month"] == pytest.approx(2 * 0.128 * 730 + 2 * 50 * 0.122)
    assert dev["usd_per_month"] < prod["usd_per_month"]
