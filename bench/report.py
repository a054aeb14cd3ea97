"""Aggregation of the measurements, PASS/FAIL against the targets, and the result files."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.assets import AssetSize, ImportTime
from bench.capacity import (
    PRICE_PER_MILLION_RRU,
    PRICE_PER_MILLION_SQS_REQUESTS,
    PRICE_PER_MILLION_WRU,
    PRICES_CHECKED,
)
from bench.lag import LagResult, expected_batch_writes
from bench.workload import OP_KINDS, OpResult, median, percentile

STRATEGY_ORDER = ("push", "pull", "hybrid")
OP_LABELS = {
    "post": "post",
    "home_read": "home read",
    "user_read": "user-timeline read",
    "follow": "follow",
    "like": "like",
}


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0


def usd_per_million(rcu: float, wcu: float, sqs: float = 0.0) -> float:
    """Dollars per million operations that each consume ``rcu`` RRU, ``wcu`` WRU and ``sqs`` requests."""
    return rcu * PRICE_PER_MILLION_RRU + wcu * PRICE_PER_MILLION_WRU + sqs * PRICE_PER_MILLION_SQS_REQUESTS


def _mean_calls(dicts: list[dict[str, int]]) -> dict[str, float]:
    names = sorted({k for d in dicts for k in d})
    return {k: _mean(d.get(k, 0) for d in dicts) for k in names}


def summarise_ops(results: list[OpResult]) -> list[dict[str, Any]]:
    rows = []
    for strategy in STRATEGY_ORDER:
        for kind in OP_KINDS:
            sample = [r for r in results if r.strategy == strategy and r.kind == kind]
            if not sample:
                continue
            rcu = _mean(r.capacity.rcu for r in sample)
            wcu = _mean(r.capacity.wcu for r in sample)
            arcu = _mean(r.async_capacity.rcu for r in sample)
            awcu = _mean(r.async_capacity.wcu for r in sample)
            sqs = _mean(r.sqs_requests for r in sample)
            latencies = [r.latency_s * 1000 for r in sample]
            rows.append(
                {
                    "strategy": strategy,
                    "op": kind,
                    "n": len(sample),
                    "calls": _mean_calls([r.calls for r in sample]),
                    "round_trips_median": median([r.depth for r in sample]),
                    "round_trips_max": max(r.depth for r in sample),
                    "items_read": _mean(r.capacity.items_read for r in sample),
                    "items_written": _mean(r.capacity.items_written for r in sample),
                    "rcu": rcu,
                    "wcu": wcu,
                    "index_wcu": _mean(r.capacity.index_wcu for r in sample),
                    "usd_per_million": usd_per_million(rcu, wcu),
                    "async_calls": _mean_calls([r.async_calls for r in sample]),
                    "async_items_written": _mean(r.async_capacity.items_written for r in sample),
                    "async_rcu": arcu,
                    "async_wcu": awcu,
                    "async_sqs_requests": sqs,
                    "async_usd_per_million": usd_per_million(arcu, awcu, sqs),
                    "total_usd_per_million": usd_per_million(rcu + arcu, wcu + awcu, sqs),
                    "p50_ms": percentile(latencies, 50),
                    "p99_ms": percentile(latencies, 99),
                }
            )
    return rows


def mix_totals(rows: list[dict[str, Any]], mix: dict[str, float]) -> dict[str, dict[str, float]]:
    """Cost of one million ops of the mix: sum over op kinds of share x mean cost (sync + async)."""
    totals: dict[str, dict[str, float]] = {}
    for strategy in STRATEGY_ORDER:
        by_op = {r["op"]: r for r in rows if r["strategy"] == strategy}
        if not by_op:
            continue
        rcu = sum(mix[k] * (by_op[k]["rcu"] + by_op[k]["async_rcu"]) for k in mix if k in by_op)
        wcu = sum(mix[k] * (by_op[k]["wcu"] + by_op[k]["async_wcu"]) for k in mix if k in by_op)
        sqs = sum(mix[k] * by_op[k]["async_sqs_requests"] for k in mix if k in by_op)
        totals[strategy] = {
            "rru_per_op": rcu,
            "wru_per_op": wcu,
            "sqs_per_op": sqs,
            "dynamodb_usd_per_million": usd_per_million(rcu, wcu),
            "usd_per_million": usd_per_million(rcu, wcu, sqs),
        }
    return totals


def sweep_row(
    threshold: int, celebrities: int, results: list[OpResult], mix: dict[str, float]
) -> dict[str, Any]:
    """The hybrid at one CELEBRITY_FOLLOWER_THRESHOLD: its cost per million ops of the mix and what its
    home reads cost in Queries and local latency (a lower threshold pulls more accounts per read)."""
    hybrid = [r for r in results if r.strategy == "hybrid"]
    total = mix_totals(summarise_ops(hybrid), mix)["hybrid"]
    reads = [r for r in hybrid if r.kind == "home_read"]
    return {
        "threshold": threshold,
        "celebrities": celebrities,
        "usd_per_million": total["usd_per_million"],
        "home_read_queries": sum(r.checks["queries"] for r in reads) / max(1, len(reads)),
        "home_read_p50_ms": percentile([r.latency_s * 1000 for r in reads], 50),
    }


def _op_cost(rows: list[dict[str, Any]], strategy: str, op: str) -> float:
    row = next((r for r in rows if r["strategy"] == strategy and r["op"] == op), None)
    return float(row["total_usd_per_million"]) if row else math.nan


def break_even_reads_per_post(rows: list[dict[str, Any]]) -> float | None:
    """Home reads per post at which hybrid and push cost the same (other ops ignored)."""
    extra_read = _op_cost(rows, "hybrid", "home_read") - _op_cost(rows, "push", "home_read")
    saved_post = _op_cost(rows, "push", "post") - _op_cost(rows, "hybrid", "post")
    if extra_read <= 0 or saved_post <= 0:
        return None
    return saved_post / extra_read


def break_even_vs_pull(rows: list[dict[str, Any]]) -> float | None:
    """Home reads per post at which hybrid and pull cost the same (other ops ignored): above it the
    hybrid's cheaper reads have paid for its fan-out writes."""
    saved_read = _op_cost(rows, "pull", "home_read") - _op_cost(rows, "hybrid", "home_read")
    extra_post = _op_cost(rows, "hybrid", "post") - _op_cost(rows, "pull", "post")
    if saved_read <= 0 or extra_post <= 0:
        return None
    return extra_post / saved_read


def lag_rows(lag: LagResult) -> list[dict[str, Any]]:
    rows = []
    for followers, samples in sorted(lag.samples.items()):
        lags = [s.lag_s * 1000 for s in samples]
        first = samples[0]
        rows.append(
            {
                "followers": followers,
                "n": len(samples),
                "lag_p50_ms": percentile(lags, 50),
                "lag_p99_ms": percentile(lags, 99),
                "visible_all": all(s.visible == followers + 1 for s in samples),
                "batch_write_items": sorted({s.add_batch_writes for s in samples}),
                "expected_batch_write_items": expected_batch_writes(followers),
                "calls_first_sample": first.calls,
                "round_trips_first_sample": first.depth,
                "rcu": first.rcu,
                "wcu": first.wcu,
                "sqs_requests": first.sqs_requests,
                "usd_per_million": usd_per_million(first.rcu, first.wcu, first.sqs_requests),
            }
        )
    return rows


def evaluate_targets(
    results: list[OpResult],
    lag: list[dict[str, Any]],
    totals: dict[str, dict[str, float]],
    local_lag: list[dict[str, Any]] | None = None,
    sweep: list[dict[str, Any]] | None = None,
    threshold: int = 0,
) -> list[dict[str, Any]]:
    targets = []
    reads = [r for r in results if r.strategy == "hybrid" and r.kind == "home_read"]
    q_ok = sum(1 for r in reads if r.checks["queries"] == 1 + r.checks["pull_set"])
    b_ok = sum(1 for r in reads if r.checks["batch_gets"] == 1)
    d_ok = sum(1 for r in reads if r.checks["pre_hydration_depth"] <= 2)
    batch_gets = sorted({r.checks["batch_gets"] for r in reads})
    targets.append(
        {
            "target": "home read (hybrid): 1 Query + 1 BatchGetItem + 1 parallel Query per followed "
            "celebrity, <= 2 sequential round trips before hydration",
            "status": "PASS" if reads and q_ok == b_ok == d_ok == len(reads) else "FAIL",
            "detail": (
                f"Query = 1 + celebrities followed: {q_ok}/{len(reads)}; "
                f"BatchGetItem = 1: {b_ok}/{len(reads)} (seen {batch_gets} per read); "
                f"<= 2 round trips before hydration: {d_ok}/{len(reads)}"
            ),
            "parts": {"queries": q_ok, "batch_get_item": b_ok, "round_trips": d_ok, "samples": len(reads)},
        }
    )
    checked = []
    for row in lag:
        checked.append((row["followers"], row["batch_write_items"], [row["expected_batch_write_items"]]))
    for r in results:
        if r.kind == "post" and r.strategy in ("push", "hybrid") and not r.checks["celebrity"]:
            followers = int(r.checks["followers"])
            checked.append((followers, [r.checks["add_batch_writes"]], [expected_batch_writes(followers)]))
    bad = [c for c in checked if c[1] != c[2]]
    targets.append(
        {
            "target": "fan-out of a tweet to N followers = ceil(N/25) BatchWriteItem (nothing throttled)",
            "status": "PASS" if checked and not bad else "FAIL",
            "detail": f"{len(checked) - len(bad)}/{len(checked)} fan-outs exact "
            f"(lag authors 10/1,000/10,000 and every pushed workload post)"
            + (f"; mismatches (N, seen, expected): {bad[:5]}" if bad else ""),
        }
    )
    if {"push", "pull", "hybrid"} <= set(totals):
        hybrid = totals["hybrid"]["usd_per_million"]
        push = totals["push"]["usd_per_million"]
        pull = totals["pull"]["usd_per_million"]
        best = min(sweep or [], key=lambda row: float(row["usd_per_million"]), default=None)
        cheapest = float(best["usd_per_million"]) if best else hybrid
        detail = (
            f"per million ops of the mix: push ${push:.2f}, pull ${pull:.2f}; hybrid at threshold "
            f"{threshold}: ${hybrid:.2f} ({hybrid / push:.2f}x push, {hybrid / pull:.2f}x pull)"
        )
        if best and best["threshold"] != threshold:
            detail += (
                f"; cheapest threshold of the sweep, {best['threshold']} followers: ${cheapest:.2f} "
                f"({cheapest / push:.2f}x push, {cheapest / pull:.2f}x pull)"
            )
        targets.append(
            {
                "target": "hybrid total cost below both pure strategies (power-law workload)",
                "status": "PASS" if cheapest < push and cheapest < pull else "FAIL",
                "detail": detail,
            }
        )
    local = next((row for row in local_lag or [] if row["followers"] >= 10_000), None)
    if local:
        big = next((row for row in lag if row["followers"] >= 10_000), None)
        in_process = (
            f"; the bench's in-process run (one interpreter for moto and the handlers, every call "
            f"recorded): p50 {big['lag_p50_ms'] / 1000:.1f} s, p99 {big['lag_p99_ms'] / 1000:.1f} s"
            if big
            else ""
        )
        targets.append(
            {
                "target": "(issue 4, local runtime) 10,000-follower fan-out visible within 5 s",
                "status": "PASS" if local["lag_max_s"] <= 5.0 else "FAIL",
                "detail": f"through the local cloud as `make dev` runs it: p50 {local['lag_p50_s']:.1f} s, "
                f"max {local['lag_max_s']:.1f} s over {local['posts']} posts{in_process}",
            }
        )
    return targets


# ---- formatting ------------------------------------------------------------------------------------
def _num(value: float) -> str:
    if value == int(value):
        return str(int(value))
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}".rstrip("0").rstrip(".")


def _calls(calls: dict[str, float]) -> str:
    return ", ".join(f"{_num(v)} {k}" for k, v in calls.items() if v) or "-"


def markdown(data: dict[str, Any]) -> str:
    meta = data["meta"]
    g = meta["graph"]
    lines = [
        "# Chirp bench results",
        "",
        f"Run {meta['finished_at']} on {meta['machine']}; wall time {meta['wall_seconds']:.0f} s; "
        f"seed {meta['seed']}.",
        f"Graph: {g['users']} users, {g['edges']} follows (Zipf's law: rank r has "
        f"~{g['scale']}*{g['users']}/(r-1/2) followers), followers p50 {g['followers_p50']:.0f}, "
        f"p99 {g['followers_p99']:.0f}, max {g['followers_max']}; "
        f"celebrity threshold {g['threshold']} -> {g['celebrities']} celebrities "
        f"({', '.join(str(c) for c in g['celebrity_followers'])} followers); "
        f"{g['seed_tweets']} seed tweets.",
        f"Prices: us-east-1 on-demand, ${PRICE_PER_MILLION_RRU} per million RRU, "
        f"${PRICE_PER_MILLION_WRU} per million WRU, "
        f"SQS ${PRICE_PER_MILLION_SQS_REQUESTS} per million requests ({PRICES_CHECKED}).",
        "Counts (calls, round trips, items, capacity, cost) hold on AWS; latencies are local "
        "(in-process moto, see bench/README.md) and are not AWS's.",
        "",
        "## Targets",
        "",
        "| target | result | detail |",
        "|---|---|---|",
    ]
    lines += [f"| {t['target']} | **{t['status']}** | {t['detail']} |" for t in data["targets"]]
    lines += [
        "",
        "## Per operation (means per op; async = what the op triggers through streams and SQS)",
        "",
        "| strategy | op | n | DynamoDB calls | round trips (median/max) | items read / written | RRU | WRU "
        "| $/M ops | async calls | async RRU / WRU / SQS | async $/M | total $/M | p50 ms | p99 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data["operations"]:
        lines.append(
            f"| {r['strategy']} | {OP_LABELS[r['op']]} | {r['n']} | {_calls(r['calls'])} | "
            f"{_num(r['round_trips_median'])}/{r['round_trips_max']} | {_num(r['items_read'])} / "
            f"{_num(r['items_written'])} | {_num(r['rcu'])} | {_num(r['wcu'])} | "
            f"{r['usd_per_million']:.2f} | "
            f"{_calls(r['async_calls'])} | {_num(r['async_rcu'])} / {_num(r['async_wcu'])} / "
            f"{_num(r['async_sqs_requests'])} | {r['async_usd_per_million']:.2f} | "
            f"{r['total_usd_per_million']:.2f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |"
        )
    mix = meta["mix"]
    lines += [
        "",
        "## Whole workload (" + ", ".join(f"{v:.0%} {OP_LABELS[k]}" for k, v in mix.items()) + ")",
        "",
        "| strategy | RRU / op | WRU / op | SQS req / op | DynamoDB $/M ops | total $/M ops | vs hybrid |",
        "|---|---|---|---|---|---|---|",
    ]
    totals = data["totals"]
    hybrid = totals.get("hybrid", {}).get("usd_per_million", math.nan)
    for strategy, t in totals.items():
        lines.append(
            f"| {strategy} | {t['rru_per_op']:.2f} | {t['wru_per_op']:.2f} | {t['sqs_per_op']:.3f} | "
            f"{t['dynamodb_usd_per_million']:.2f} | {t['usd_per_million']:.2f} | "
            f"{t['usd_per_million'] / hybrid:.2f}x |"
        )
    if data.get("break_even_reads_per_post") is not None:
        lines += [
            "",
            f"Hybrid vs push break-even: {data['break_even_reads_per_post']:.1f} home reads per post (fewer: "
            "hybrid cheaper; more: push cheaper), from the measured per-op costs.",
        ]
    vs_pull = break_even_vs_pull(data["operations"])
    mix = data["meta"].get("mix", {})
    if vs_pull is not None and mix.get("post"):
        ratio = mix.get("home_read", 0) / mix["post"]
        lines += [
            f"Hybrid vs pull break-even: {vs_pull:.1f} home reads per post (more: hybrid cheaper). "
            f"This mix has {ratio:.1f} home reads per post.",
        ]
        push_even = data.get("break_even_reads_per_post")
        if push_even is not None and vs_pull < push_even:
            lines.append(
                f"So the hybrid is the cheapest of the three between {vs_pull:.1f} and {push_even:.1f} "
                "home reads per post on this graph."
            )
    sweep = data.get("threshold_sweep") or []
    if len(sweep) > 1:
        costs = data["totals"]
        lines += [
            "",
            "## The hybrid by celebrity threshold (same graph, same ops)",
            "",
            "The threshold decides which authors are pulled at read time. Lower: cheaper posts, dearer and "
            "slower home reads (one more Query per followed celebrity).",
            "",
            "| CELEBRITY_FOLLOWER_THRESHOLD | celebrities | total $/M ops | vs push | vs pull "
            "| home read Queries | home read p50 ms |",
            "|---|---|---|---|---|---|---|",
        ]
        push, pull = costs["push"]["usd_per_million"], costs["pull"]["usd_per_million"]
        for row in sweep:
            cost = float(row["usd_per_million"])
            lines.append(
                f"| {row['threshold']} | {row['celebrities']} | {cost:.2f} | {cost / push:.2f}x | "
                f"{cost / pull:.2f}x | {row['home_read_queries']:.1f} | {row['home_read_p50_ms']:.0f} |"
            )
    lines += [
        "",
        "## Fan-out of one tweet (pure push; dispatcher + worker handlers, real-shaped events)",
        "",
        "| followers | n | lag p50 ms | lag p99 ms | all visible | BatchWriteItem (expected) "
        "| AWS calls (first sample) | round trips | RRU | WRU | SQS req | $/M tweets |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data["fanout"]:
        lines.append(
            f"| {r['followers']:,} | {r['n']} | {r['lag_p50_ms']:.0f} | {r['lag_p99_ms']:.0f} | "
            f"{'yes' if r['visible_all'] else 'NO'} | {','.join(map(str, r['batch_write_items']))} "
            f"({r['expected_batch_write_items']}) | {_calls(r['calls_first_sample'])} | "
            f"{r['round_trips_first_sample']} | {_num(r['rcu'])} | {_num(r['wcu'])} | {r['sqs_requests']} | "
            f"{r['usd_per_million']:,.0f} |"
        )
    local_lag = data.get("fanout_local_cloud") or []
    if local_lag:
        lines += [
            "",
            "## Fan-out lag through the local cloud (`bench/fanout_lag.py`: moto process, gateway, pollers)",
            "",
            "POST /tweets returned -> the worker applied the last `add` message (a sample of followers is "
            "read back). The in-process lags above share one interpreter with moto and record every call; "
            "these are what `make dev` gives.",
            "",
            "| followers | posts | lag p50 s | lag max s | BatchWriteItem per post (ceil(N/25)) |",
            "|---|---|---|---|---|",
        ]
        for r in local_lag:
            lines.append(
                f"| {r['followers']:,} | {r['posts']} | {r['lag_p50_s']:.2f} | {r['lag_max_s']:.2f} | "
                f"{_num(r['batch_write_calls_per_post'])} ({r['expected_ceil_n_over_25']}) |"
            )
    lines += cold_start_lines(meta, data["imports"], data["assets"])
    return "\n".join(lines) + "\n"


def chart(data: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(17, 5.2))
    ops = [k for k in OP_KINDS if any(r["op"] == k for r in data["operations"])]
    width = 0.27
    colors = {"push": "#4C72B0", "pull": "#DD8452", "hybrid": "#55A868"}
    ax = axes[0]
    for i, strategy in enumerate(STRATEGY_ORDER):
        values = []
        for op in ops:
            row = next((r for r in data["operations"] if r["strategy"] == strategy and r["op"] == op), None)
            values.append(row["total_usd_per_million"] if row else 0)
        ax.bar(
            [x + (i - 1) * width for x in range(len(ops))],
            values,
            width,
            label=strategy,
            color=colors[strategy],
        )
    ax.set_xticks(range(len(ops)), [OP_LABELS[o] for o in ops], rotation=15)
    ax.set_yscale("log")
    ax.set_ylabel("$ per million ops (sync + async, log)")
    ax.set_title("Cost per operation")
    ax.legend()
    ax = axes[1]
    totals = data["totals"]
    names = [s for s in STRATEGY_ORDER if s in totals]
    labels = [f"hybrid ({data['meta']['graph']['threshold']})" if s == "hybrid" else s for s in names]
    costs = [totals[s]["usd_per_million"] for s in names]
    bar_colors = [colors[s] for s in names]
    best = min(data.get("threshold_sweep") or [], key=lambda r: float(r["usd_per_million"]), default=None)
    if best and best["threshold"] != data["meta"]["graph"]["threshold"]:
        labels.append(f"hybrid ({best['threshold']})")
        costs.append(float(best["usd_per_million"]))
        bar_colors.append("#2e7d32")
    ax.bar(labels, costs, color=bar_colors)
    for x, cost in enumerate(costs):
        ax.text(x, cost, f"${cost:.2f}", ha="center", va="bottom")
    ax.set_ylim(0, 1.12 * max(costs))
    ax.set_ylabel("$ per million ops of the mix (DynamoDB + SQS)")
    ax.set_title("Whole workload (hybrid by celebrity threshold)")
    ax = axes[2]
    fan = data["fanout"]
    xs = [r["followers"] for r in fan]
    ax.plot(xs, [r["lag_p50_ms"] / 1000 for r in fan], "o-", label="in-process p50")
    ax.plot(xs, [r["lag_p99_ms"] / 1000 for r in fan], "s--", label="in-process p99")
    local = data.get("fanout_local_cloud") or []
    if local:
        lx = [r["followers"] for r in local]
        ax.plot(lx, [r["lag_p50_s"] for r in local], "^-", label="local cloud p50")
        ax.plot(lx, [r["lag_max_s"] for r in local], "v:", label="local cloud max")
    ax.axhline(5, color="red", linewidth=0.8, linestyle=":", label="5 s (contract, local)")
    ax.set_xscale("log")
    ax.set_xlabel("followers")
    ax.set_ylabel("seconds (local moto)")
    ax.set_title("Fan-out lag (post returned -> in every timeline)")
    ax.legend()
    fig.suptitle(f"Chirp bench {data['meta']['finished_at']} (counts hold on AWS; timings are local)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(data: dict[str, Any], out: Path) -> str:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(data, indent=2, default=_default) + "\n")
    text = markdown(data)
    (out / "results.md").write_text(text)
    chart(data, out / "results.png")
    return text


def _default(value: Any) -> Any:
    if isinstance(value, set):
        return sorted(value)
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    raise TypeError(type(value))


def imports_json(items: list[ImportTime]) -> list[dict[str, Any]]:
    return [
        {
            "function": i.function,
            "module": i.module,
            "runs_ms": i.runs_ms,
            "median_ms": i.median_ms,
            "init_runs_ms": i.init_runs_ms,
            "init_median_ms": i.init_median_ms,
            "first_invocation_runs_ms": i.first_invocation_runs_ms,
            "first_invocation_median_ms": i.first_invocation_median_ms,
            "outcome": i.outcome,
        }
        for i in items
    ]


def cold_start_lines(
    meta: dict[str, Any], imports: list[dict[str, Any]], assets: list[dict[str, Any]]
) -> list[str]:
    """The cold-start table (bench/assets.py: import, init, first invocation) and the assets table."""

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}"

    lines = [
        "",
        f"## Cold starts (median of {meta['import_runs']} fresh interpreters each, local CPython "
        f"{meta['python']}) and deployment assets",
        "",
        "Each function with its deployed environment (stage prod, tracing on). Import: "
        "`python -X importtime` of the handler module. Init: interpreter start -> module imported -> "
        "settings parsed (Lambda's Init Duration). First invocation: a representative event against the "
        "local cloud's moto process. Deferred imports move work from init to the first invocation: "
        "compare init + first.",
        "",
        "| function | handler module | import ms | init ms | first invocation ms | init + first ms "
        "| first answer | import runs ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i in imports:
        init, first = i.get("init_median_ms"), i.get("first_invocation_median_ms")
        total = None if init is None or first is None else init + first
        runs = ", ".join(f"{x:.0f}" for x in i["runs_ms"])
        lines.append(
            f"| {i['function']} | `{i['module']}` | {i['median_ms']:.0f} | {ms(init)} | {ms(first)} "
            f"| {ms(total)} | {i.get('outcome') or '-'} | {runs} |"
        )
    lines += ["", "| asset | path | files | bytes | zipped bytes |", "|---|---|---|---|---|"]
    for a in assets:
        lines.append(
            f"| {a['name']} | `{a['path']}` | {a['files']:,} | {a['bytes_unzipped']:,} "
            f"| {a['bytes_zipped']:,} |"
        )
    return lines


def assets_json(items: list[AssetSize]) -> list[dict[str, Any]]:
    return [asdict(a) for a in items]
