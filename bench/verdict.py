"""The cost comparison's arithmetic: mixes by home reads per post, recombination of measured per-op
costs, spread across repeats, and the pre-registered rule by which the hybrid wins.

THE RULE (fixed before any number of this bench was looked at; bench/README.md states the same):
for a home-reads-per-post ratio R and a hybrid threshold T, take for every repeat b of the op sequence
the counted cost C_s(R, b) of each strategy s in {push, pull, hybrid@T}, per million ops of the mix at
R (DynamoDB + SQS + API Gateway + Lambda requests; Lambda GB-s is left out of the verdict because its
durations are moto's, not AWS's). Let best = the pure strategy (push or pull) with the lower median.
The hybrid@T wins at R when

    median_b C_hybrid  <  median_b C_best  -  max(range_b C_hybrid, range_b C_best)

with range = max - min over the repeats: it must be cheaper than both pure strategies by more than the
spread of the repeats. The target row is judged at the seeds' ratio (``SEEDS_READS_PER_POST``) at the
bench's headline threshold and at the shipped default; every other (R, T) is reported, wins and losses.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

SEEDS_READS_PER_POST = 100.0
"""The seeds' ratio: ~100 home-timeline reads per tweet."""
TWITTER_READS_PER_POST = 55.0
"""Twitter's published ratio, ~50-65 timeline reads per tweet."""
READS_PER_POST = (8.0, 15.0, 25.0, 40.0, TWITTER_READS_PER_POST, 75.0, SEEDS_READS_PER_POST)
"""The sweep of home reads per post."""


def mix_at(base: Mapping[str, float], reads_per_post: float) -> dict[str, float]:
    """``base`` with home reads set to ``reads_per_post`` times the posts' share, every other op keeping
    its ratio to posts, normalised to 1."""
    if base.get("post", 0) <= 0:
        raise ValueError("the base mix needs posts")
    shares = {k: v for k, v in base.items() if k != "home_read"}
    shares["home_read"] = reads_per_post * base["post"]
    total = sum(shares.values())
    return {k: v / total for k, v in shares.items()}


def recombine(costs: Mapping[str, float], mix: Mapping[str, float]) -> float:
    """Cost of the mix (per million ops) from per-op costs: sum of share x cost (cost is linear in it).
    Every op of the mix must have a cost."""
    missing = [k for k, share in mix.items() if share and k not in costs]
    if missing:
        raise KeyError(f"no measured cost for {missing}")
    return sum(share * costs[k] for k, share in mix.items() if share)


def spread(values: list[float]) -> dict[str, float]:
    """min / median / max of repeated measurements (and their range)."""
    if not values:
        raise ValueError("no values")
    low, high = min(values), max(values)
    return {
        "min": low,
        "median": statistics.median(values),
        "max": high,
        "range": high - low,
        "n": len(values),
    }


def judge(hybrid: list[float], push: list[float], pull: list[float]) -> dict[str, Any]:
    """The pre-registered rule on one (R, T): the repeats' costs of each strategy."""
    h, p, q = spread(hybrid), spread(push), spread(pull)
    best_name, best = ("push", p) if p["median"] <= q["median"] else ("pull", q)
    margin = max(h["range"], best["range"])
    saving = best["median"] - h["median"]
    return {
        "wins": saving > margin,
        "best_pure": best_name,
        "hybrid": h,
        "push": p,
        "pull": q,
        "saving": saving,
        "saving_share": saving / best["median"] if best["median"] else 0.0,
        "margin": margin,
    }


def break_even(read_a: float, post_a: float, read_b: float, post_b: float) -> float | None:
    """Home reads per post at which two strategies cost the same, given their costs of one home read and
    of one post (everything else equal); None when one is cheaper at every ratio."""
    extra_read = read_a - read_b
    saved_post = post_b - post_a
    if extra_read == 0 or saved_post / extra_read <= 0:
        return None
    return saved_post / extra_read
