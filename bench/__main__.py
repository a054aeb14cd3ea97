"""``python -m bench`` (``make bench``): the benchmark. See bench/README.md."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def _check_dependencies() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        sys.stderr.write(
            "bench: matplotlib is missing. The bench has its own pinned dependencies:\n"
            "    .venv/bin/pip install -r bench/requirements.txt\n"
        )
        raise SystemExit(2) from None


def _log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


@dataclass(frozen=True)
class Profile:
    counts: dict[str, int]
    """Ops per strategy."""
    lag: dict[int, int]
    """Followers -> fan-out lag samples (in-process, counted)."""
    import_runs: int
    local_lag_sizes: list[int]
    """Authors' follower counts for the lag through the local cloud (bench/fanout_lag.py)."""
    local_lag_posts: int
    sweep: list[int]
    """Further CELEBRITY_FOLLOWER_THRESHOLDs the hybrid is run with (its cost against the threshold)."""


FULL = Profile(
    counts={"home_read": 60, "user_read": 20, "post": 40, "like": 20, "follow": 12},
    lag={10: 8, 1000: 3, 10000: 2},
    import_runs=3,
    local_lag_sizes=[10, 1000, 10000],
    local_lag_posts=5,
    sweep=[10, 15, 25, 50, 100, 250],
)
QUICK = Profile(
    counts={"home_read": 20, "user_read": 6, "post": 8, "like": 6, "follow": 4},
    lag={10: 3, 1000: 2},
    import_runs=1,
    local_lag_sizes=[10, 1000],
    local_lag_posts=2,
    sweep=[25],
)
MIX = {"home_read": 0.60, "user_read": 0.15, "like": 0.15, "post": 0.07, "follow": 0.03}
"""Share of each op in the workload whose total cost is compared (reads dominate, as on Twitter)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small run (~1 min) to check the harness")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--scale", type=float, default=1.25, help="Zipf scale of follower counts")
    parser.add_argument("--threshold", type=int, default=500, help="CELEBRITY_FOLLOWER_THRESHOLD (hybrid)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    _check_dependencies()
    started = time.perf_counter()

    # Before anything creates a botocore session: in-process moto and the call recorder.
    from bench import moto_local
    from bench.recorder import RECORDER

    moto_local.install()
    RECORDER.install()
    warnings.filterwarnings("ignore", message="No application metrics to publish")

    from bench import report
    from bench.assets import functions_asset, handler_import_times, layer_asset
    from bench.graph import GraphParams, generate
    from bench.lag import run_lag
    from bench.workload import Strategy, StrategyRun, percentile, plan, strategies

    profile = QUICK if args.quick else FULL
    params = GraphParams(users=args.users, scale=args.scale, seed=args.seed)
    graph = generate(params)
    counts = [graph.follower_count(u) for u in range(params.users)]
    celebrities = graph.celebrities(args.threshold)
    _log(
        f"graph: {params.users} users, {graph.edges} follows, max followers {max(counts)}, "
        f"{len(celebrities)} at or above {args.threshold}"
    )
    ops = plan(graph, profile.counts, args.seed)
    results = []
    for strategy in strategies(args.threshold):
        t0 = time.perf_counter()
        run = StrategyRun(graph, strategy, ops, log=_log)
        results += run.run()
        _log(
            f"strategy {strategy.name}: seeded in {run.seed_seconds:.1f} s, {len(ops)} ops, "
            f"{time.perf_counter() - t0:.1f} s total, consumer failures {run.pump_failures}"
        )
    sweep = []
    for threshold in sorted(set(profile.sweep) - {args.threshold}):
        t0 = time.perf_counter()
        run = StrategyRun(graph, Strategy("hybrid", threshold), ops, log=_log)
        swept = run.run()
        sweep.append(report.sweep_row(threshold, len(graph.celebrities(threshold)), swept, MIX))
        _log(f"hybrid at threshold {threshold}: {time.perf_counter() - t0:.1f} s")
    _log("fan-out lag ...")
    lag = run_lag(profile.lag, args.seed, log=_log)
    _log("fan-out lag through the local cloud (bench/fanout_lag.py, as make dev runs it) ...")
    local_lag = _local_cloud_lag(profile.local_lag_sizes, profile.local_lag_posts, args.out)
    _log("write latency through the local cloud (bench/write_latency.py) ...")
    writes = _write_latency(20 if args.quick else 100, args.out)
    _log("cold imports and assets ...")
    imports = handler_import_times(profile.import_runs)
    assets = [functions_asset(), layer_asset()]

    rows = report.summarise_ops(results)
    totals = report.mix_totals(rows, MIX)
    sweep.append(report.sweep_row(args.threshold, len(celebrities), results, MIX))
    sweep.sort(key=lambda row: int(row["threshold"]))
    fan = report.lag_rows(lag)
    ordered = sorted(counts)
    data: dict[str, Any] = {
        "meta": {
            "finished_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "wall_seconds": time.perf_counter() - started,
            "seed": args.seed,
            "quick": args.quick,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
            "python": platform.python_version(),
            "moto": _version("moto"),
            "graph": {
                "users": params.users,
                "edges": graph.edges,
                "scale": params.scale,
                "threshold": args.threshold,
                "celebrities": len(celebrities),
                "celebrity_followers": sorted((graph.follower_count(c) for c in celebrities), reverse=True),
                "followers_p50": percentile([float(c) for c in ordered], 50),
                "followers_p99": percentile([float(c) for c in ordered], 99),
                "followers_max": ordered[-1],
                "seed_tweets": len(graph.tweet_authors),
            },
            "workload_counts": profile.counts,
            "mix": MIX,
            "import_runs": profile.import_runs,
        },
        "operations": rows,
        "totals": totals,
        "break_even_reads_per_post": report.break_even_reads_per_post(rows),
        "fanout": fan,
        "fanout_local_cloud": local_lag,
        "write_latency_local_cloud": writes,
        "threshold_sweep": sweep,
        "imports": report.imports_json(imports),
        "assets": report.assets_json(assets),
    }
    data["targets"] = report.evaluate_targets(results, fan, totals, local_lag, sweep, args.threshold)
    data["meta"]["wall_seconds"] = time.perf_counter() - started
    text = report.write(data, args.out)
    sys.stdout.write(text)
    _log(f"wrote {args.out}/results.json, results.md, results.png in {data['meta']['wall_seconds']:.0f} s")
    return 0


def _local_cloud_lag(sizes: list[int], posts: int, out: Path) -> list[dict[str, Any]]:
    """Run bench/fanout_lag.py in its own interpreter (it starts the local cloud: moto process, gateway,
    pollers; this process has the bench's in-process moto patched into botocore) and read its rows."""
    target = out / "fanout_lag_local.json"
    command = [sys.executable, str(Path(__file__).resolve().parent / "fanout_lag.py"), "--sizes"]
    command += [str(size) for size in sizes] + ["--posts", str(posts), "--json", str(target)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    rows: list[dict[str, Any]] = json.loads(target.read_text())
    return rows


def _write_latency(rounds: int, out: Path) -> dict[str, Any]:
    """Run bench/write_latency.py in its own interpreter (it starts the local cloud) and read its
    medians: follow, post and like side by side in one run."""
    target = out / "write_latency_local.json"
    command = [sys.executable, str(Path(__file__).resolve().parent / "write_latency.py")]
    command += ["--rounds", str(rounds), "--json", str(target)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    summary: dict[str, Any] = json.loads(target.read_text())
    _log("write medians: " + ", ".join(f"{name} {row['median_ms']} ms" for name, row in summary.items()))
    return summary


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    raise SystemExit(main())
