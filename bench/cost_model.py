"""Monthly cost of running Chirp at 10 thousand, 1 million and 100 million daily active users.

    python -m bench.cost_model            # prints the table (Markdown) that docs/architecture.md quotes

Built from the bench's measured capacity units per operation (``bench/results/results.json``, the
hybrid strategy) and the seeds' ratios: 2 tweets per active user per day, about 100 home-timeline
reads per tweet (so 200 page reads per user per day), 200 followees (so 200 followers per post on
average). What the seeds leave open is an assumption, named in ``Workload`` below. Prices are AWS list
prices for us-east-1 (``PRICES_AS_OF``), tiered where AWS tiers them; they were not re-checked against
the price pages from this machine (no access), so check them before quoting this to anyone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "results.json"
DAYS = 30
PRICES_AS_OF = (
    "AWS list prices, us-east-1, as published in 2025 (DynamoDB on-demand after the 2024-11-01 cut), "
    "read 2026-11-22; not re-checked from this machine (no access to the price pages)"
)
"""The one source of prices for the bench (bench.capacity and bench.report take theirs from ``PRICE``)."""


@dataclass(frozen=True)
class Workload:
    """Per daily active user per day. The first three are the seeds'; the rest are assumptions."""

    posts: float = 2
    home_reads: float = 200  # ~100 timeline reads per tweet
    followers_per_post: float = 200  # 200 followees on average, so 200 followers on average
    likes: float = 10  # assumption
    other_reads: float = 20  # profiles, user timelines, single tweets (assumption)
    searches: float = 2  # assumption
    follows: float = 0.05  # assumption
    media_uploads: float = 0.1  # assumption: one image per 20 posts
    media_mb_viewed: float = 5.0  # assumption: images not already in the browser's cache, 100 KB each
    mau_per_dau: float = 2.0  # assumption: Cognito bills monthly active users
    api_ms: float = 60  # assumption: API function duration on AWS (moto's local timings are not AWS's)
    api_memory_gb: float = 0.5
    fanout_ms_per_500: float = 150  # assumption: one worker message (500 followers, 20 BatchWriteItem)


def tiered(quantity: float, tiers: list[tuple[float, float]]) -> float:
    """Cost of ``quantity`` under ``tiers`` of (units in this tier, price per unit); the last tier's
    size may be ``float("inf")``."""
    cost, left = 0.0, quantity
    for size, price in tiers:
        used = min(left, size)
        cost += used * price
        left -= used
        if left <= 0:
            break
    return cost


INF = float("inf")
PRICE: dict[str, Any] = {
    "rru": 0.125e-6,
    "wru": 0.625e-6,
    "ddb_gb_month": 0.25,
    "api_requests": [(333e6, 3.5e-6), (667e6, 2.8e-6), (19e9, 2.38e-6), (INF, 1.51e-6)],
    "lambda_request": 0.2e-6,
    "lambda_gb_s_arm": 0.0000133334,
    "sqs_request": 0.4e-6,
    "cognito_lite_mau": [(10_000, 0.0), (90_000, 0.0055), (900_000, 0.0046), (9e6, 0.00325), (INF, 0.0025)],
    "s3_gb_month": 0.023,
    "s3_put": 0.005e-3,
    "cloudfront_gb": [
        (10e3, 0.085),
        (40e3, 0.080),
        (100e3, 0.060),
        (350e3, 0.040),
        (524e3, 0.030),
        (INF, 0.025),
    ],
    "cloudfront_request": 0.01e-4,  # HTTPS, per request
    "opensearch_hour": {"m6g.large.search": 0.128, "r6g.large.search": 0.167, "t3.small.search": 0.036},
    "opensearch_node_month": 0.167 * 730,  # r6g.large.search
    "opensearch_small_month": 0.036 * 730,  # t3.small.search (below 10 GB of index)
    "opensearch_gb_month": 0.122,  # gp3
    "logs_gb": 0.50,
    "waf_per_million": 0.60,
    "fixed_month": 3
    + 0.10 * 40
    + 5
    + 4 * 1
    + 0.30 * 60
    + 1,  # dashboard, 40 alarms, ACL, 4 rules, 60 metrics, KMS
}


HOURS_PER_MONTH = 730


def op_lines(row: dict[str, Any]) -> dict[str, float]:
    """Dollars per million of one operation, by line, from a per-op row of the bench (means per op:
    sync + async read/write units, SQS requests, function invocations and GB-s). Every op is one API
    Gateway REST request, at the first tier's price (later tiers are cheaper: see ``month``)."""
    api_price: float = PRICE["api_requests"][0][1]  # type: ignore[index]
    return {
        "DynamoDB": 1e6
        * (
            (row["rcu"] + row["async_rcu"]) * PRICE["rru"]  # type: ignore[operator]
            + (row["wcu"] + row["async_wcu"]) * PRICE["wru"]  # type: ignore[operator]
        ),
        "SQS": 1e6 * row["async_sqs_requests"] * PRICE["sqs_request"],  # type: ignore[operator]
        "API Gateway": 1e6 * row.get("api_requests", 1) * api_price,
        "Lambda requests": 1e6 * row.get("lambda_invocations", 0) * PRICE["lambda_request"],  # type: ignore[operator]
        "Lambda GB-s": 1e6 * row.get("lambda_gb_s", 0) * PRICE["lambda_gb_s_arm"],  # type: ignore[operator]
    }


COUNTED_LINES = ("DynamoDB", "SQS", "API Gateway", "Lambda requests")
"""The lines that are counts (hold on AWS); Lambda GB-s comes from local (moto) durations."""


def counted(lines: dict[str, float]) -> float:
    return sum(v for k, v in lines.items() if k in COUNTED_LINES)


def opensearch_month(stage: str = "prod") -> dict[str, Any]:
    """The search domain's fixed monthly cost: instance hours and gp3 volumes of the stage's size
    (``infra.constructs.search.SIZES``, any stage but prod sized as dev)."""
    from infra.constructs.search import SIZES

    size = SIZES.get(stage, SIZES["dev"])
    hourly: float = PRICE["opensearch_hour"][size.instance_type]  # type: ignore[index]
    instances = size.data_nodes * hourly * HOURS_PER_MONTH
    storage = size.data_nodes * size.volume_gb * PRICE["opensearch_gb_month"]  # type: ignore[operator]
    return {
        "stage": stage,
        "instance_type": size.instance_type,
        "data_nodes": size.data_nodes,
        "volume_gb": size.volume_gb,
        "usd_per_month": instances + storage,
    }


def cognito_per_dau(dau: int, mau_per_dau: float = Workload().mau_per_dau) -> float:
    """Cognito (Lite, monthly active users, tiered) per daily active user per month, at ``dau``."""
    return tiered(dau * mau_per_dau, PRICE["cognito_lite_mau"]) / dau  # type: ignore[arg-type]


def per_thousand_dau(
    usd_per_million_ops: float, post_share: float, posts_per_dau: float = Workload().posts
) -> float:
    """Monthly cost of 1,000 daily active users' requests: each posts ``posts_per_dau`` a day and makes
    the mix's other ops in proportion (ops per day = posts / the posts' share of the mix)."""
    ops_per_month = 1000 * DAYS * posts_per_dau / post_share
    return ops_per_month * usd_per_million_ops / 1e6


def measured(path: Path = RESULTS) -> dict[str, dict[str, float]]:
    """Read/write units per operation of the hybrid strategy: what the op costs itself plus what it
    triggers (async), from the last ``make bench``."""
    data = json.loads(path.read_text())
    ops: dict[str, dict[str, float]] = {}
    for row in data["operations"]:
        if row["strategy"] == "hybrid":
            ops[row["op"]] = {
                "rru": row["rcu"] + row["async_rcu"],
                "wru": row["wcu"] + row["async_wcu"],
                "sync_rru": row["rcu"],
                "sync_wru": row["wcu"],
            }
    return ops


@dataclass
class Month:
    dau: int
    lines: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.lines.values())

    @property
    def biggest(self) -> str:
        return max(self.lines, key=lambda k: self.lines[k])


def month(dau: int, ops: dict[str, dict[str, float]], w: Workload = Workload()) -> Month:
    m = Month(dau)
    days = dau * DAYS
    home, post, like = ops["home_read"], ops["post"], ops["like"]
    other, follow = ops["user_read"], ops["follow"]
    # A post's fan-out: 1 WRU per follower entry (items < 1 KB) and 0.5 RRU per follower's meta read
    # (eventually consistent, < 4 KB), on top of the post itself and the dispatcher's fixed reads.
    post_rru = post["sync_rru"] + 1.0 + 0.5 * w.followers_per_post
    post_wru = post["sync_wru"] + 3.0 + 1.0 * w.followers_per_post
    rru = days * (
        w.home_reads * home["rru"]
        + w.posts * post_rru
        + w.likes * like["rru"]
        + w.other_reads * other["rru"]
        + w.follows * follow["rru"]
    )
    wru = days * (w.posts * post_wru + w.likes * like["wru"] + w.follows * follow["wru"])
    m.lines["DynamoDB reads"] = rru * PRICE["rru"]  # type: ignore[operator]
    m.lines["DynamoDB writes"] = wru * PRICE["wru"]  # type: ignore[operator]
    # Storage: each user's cached timeline (800 entries of ~150 B), a month of tweets (~1 KB each).
    gb = dau * (800 * 150 + w.posts * DAYS * 1000) / 1e9
    m.lines["DynamoDB storage"] = gb * PRICE["ddb_gb_month"]  # type: ignore[operator]
    requests = days * (
        w.home_reads + w.posts + w.likes + w.other_reads + w.searches + w.follows + w.media_uploads
    )
    m.lines["API Gateway"] = tiered(requests, PRICE["api_requests"])  # type: ignore[arg-type]
    worker_invocations = days * w.posts * max(1.0, w.followers_per_post / 500) / 10  # 10 messages a batch
    gb_s = requests * w.api_ms / 1000 * w.api_memory_gb + days * w.posts * w.fanout_ms_per_500 / 1000 * 0.5
    m.lines["Lambda"] = (requests + worker_invocations) * PRICE["lambda_request"] + gb_s * PRICE[
        "lambda_gb_s_arm"
    ]  # type: ignore[operator]
    sqs = (
        days * w.posts * (3 * max(1.0, w.followers_per_post / 500) + 0.3)
    )  # send+receive+delete; search forward
    m.lines["SQS"] = sqs * PRICE["sqs_request"]  # type: ignore[operator]
    m.lines["Cognito (Lite)"] = tiered(dau * w.mau_per_dau, PRICE["cognito_lite_mau"])  # type: ignore[arg-type]
    index_gb = dau * w.posts * 90 * 1.5e-6  # 90 days of tweets hot, 1.5 KB per document with replicas
    if index_gb < 10:
        m.lines["OpenSearch"] = 2 * PRICE["opensearch_small_month"]  # type: ignore[operator]
    else:
        nodes = max(2, -(-index_gb // 100) * 2)  # a node per 100 GB, doubled for a replica
        m.lines["OpenSearch"] = (
            nodes * PRICE["opensearch_node_month"] + index_gb * 2 * PRICE["opensearch_gb_month"]
        )  # type: ignore[operator]
    stored_gb = dau * w.media_uploads * DAYS * 0.2 / 1000 * 6  # 200 KB each, six months kept on average
    m.lines["S3"] = stored_gb * PRICE["s3_gb_month"] + days * w.media_uploads * PRICE["s3_put"]  # type: ignore[operator]
    cdn_gb = days * w.media_mb_viewed / 1000
    m.lines["CloudFront"] = (
        tiered(cdn_gb, PRICE["cloudfront_gb"]) + days * w.media_mb_viewed * 10 * PRICE["cloudfront_request"]
    )  # type: ignore[arg-type, operator]
    m.lines["CloudWatch + WAF"] = (
        requests * 600e-9 * PRICE["logs_gb"]  # ~600 bytes of access and function log per request
        + requests / 1e6 * PRICE["waf_per_million"]
        + PRICE["fixed_month"]
    )  # type: ignore[operator]
    return m


def table(months: list[Month]) -> str:
    names = list(months[0].lines)
    head = "| line | " + " | ".join(f"{m.dau:,} DAU" for m in months) + " |"
    rows = [head, "|---|" + "---|" * len(months)]
    for name in names:
        rows.append(f"| {name} | " + " | ".join(f"${m.lines[name]:,.0f}" for m in months) + " |")
    rows.append("| **total per month** | " + " | ".join(f"**${m.total:,.0f}**" for m in months) + " |")
    rows.append("| per 1,000 DAU | " + " | ".join(f"${m.total / m.dau * 1000:,.2f}" for m in months) + " |")
    rows.append("| biggest line | " + " | ".join(m.biggest for m in months) + " |")
    return "\n".join(rows)


def main() -> dict[str, Any]:
    ops = measured()
    months = [month(dau, ops) for dau in (10_000, 1_000_000, 100_000_000)]
    print(f"Prices: {PRICES_AS_OF}. Workload per DAU per day: {Workload()}")
    print(table(months))
    return {"months": [{"dau": m.dau, "lines": m.lines, "total": m.total} for m in months]}


if __name__ == "__main__":
    main()
