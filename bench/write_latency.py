"""Latency of the single-transaction writes through the local cloud, side by side in one run.

    .venv/bin/python bench/write_latency.py                  # 200 rounds of follow, post, like
    .venv/bin/python bench/write_latency.py --rounds 50 --json bench/results/write_latency.json

A benchmark, not a test. It starts the local cloud as ``make dev`` does (moto in its own process, the
gateway, one process per function, the stream and queue pollers) and times, over HTTP, rounds of three
writes: a follow (1 TransactWriteItems: edge, both counters, the rate-limit charge), a post (1
TransactWriteItems: tweet, tweet_count, charge) and a like (1 GetItem of the tweet, then 2 UpdateItem:
the charge and the engagement; like_count follows from the engagements stream). The three are
interleaved so that they share the machine's state; medians and p99 are of the same run.

What holds on AWS is the count: a follow is 1 round trip to DynamoDB, a post 2 (it adds 1 GetItem for
the author summary), a like 3. Locally each call is also a moto request; the
absolute times are this machine's.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stats import percentile_n  # noqa: E402
from local_cloud.runtime import LocalCloud  # noqa: E402
from tests.support.client import Api, sign_up_and_log_in  # noqa: E402


def _timed(call: Any, *args: Any, **kwargs: Any) -> float:
    started = time.perf_counter()
    response = call(*args, **kwargs)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code >= 300:
        raise RuntimeError(f"{response.status_code} {response.text}")
    return elapsed


def run(rounds: int, warmup: int) -> dict[str, Any]:
    import requests

    timings: dict[str, list[float]] = {"follow": [], "post": [], "like": []}
    with LocalCloud(port=0) as cloud:
        api = Api(base_url=cloud.base_url, session=requests.Session())
        author = sign_up_and_log_in(api)
        readers = [sign_up_and_log_in(api) for _ in range(rounds + warmup)]
        for i, reader in enumerate(readers):
            samples = {
                "follow": _timed(api.post, f"/users/{author.user_id}/follow", reader.token),
                "post": _timed(api.post, "/tweets", author.token, json={"text": f"round {i}"}),
            }
            newest = api.get(f"/timeline/user/{author.user_id}", author.token).json()["tweets"][0]
            samples["like"] = _timed(api.post, f"/tweets/{newest['tweet_id']}/like", reader.token)
            if i >= warmup:  # the first rounds include the functions' cold starts
                for name, value in samples.items():
                    timings[name].append(value)
    summary: dict[str, dict[str, Any]] = {
        name: {
            "n": len(values),
            "median_ms": round(statistics.median(values), 1),
            "p99": percentile_n(values, 99),
        }
        for name, values in timings.items()
    }
    follow = summary["follow"]["median_ms"]
    for name in ("post", "like"):
        summary[name]["median_vs_follow"] = round(summary[name]["median_ms"] / follow, 2)
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    summary = run(args.rounds, args.warmup)
    print("write    n   median ms   p99 ms (max when n < 100)   median / follow")
    for name, row in summary.items():
        ratio = row.get("median_vs_follow", 1.0)
        print(f"{name:<7} {row['n']:>4} {row['median_ms']:>10} {row['p99']['value']:>8.1f} {ratio:>12}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    target = all(row.get("median_vs_follow", 1.0) <= 2.0 for row in summary.values())
    print(f"target: median like and post <= 2x median follow: {'PASS' if target else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
