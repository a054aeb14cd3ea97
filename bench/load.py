"""Concurrent load through the local cloud: home reads, then a write mix, at 1, 4 and 16 clients.

    .venv/bin/python bench/load.py                              # 1, 4, 16 clients, 8 s per step
    .venv/bin/python bench/load.py --clients 1 4 --seconds 5 --json bench/results/load_local.json

A benchmark, not a test. It starts the local cloud as ``make dev`` does (moto in its own process, the
gateway, the functions, the stream and queue pollers), signs up readers and authors over HTTP, has every
reader follow every author and the authors post (so each home page holds 20 entries), then runs closed
loops: each client sends its next request when the last one answered, for a fixed time per step.
Step 1: home reads only (``GET /timeline/home?limit=20``). Step 2: a write mix (80% home reads, 10%
posts, 10% likes). Every percentile is printed with its sample count; one the count cannot support
(p99 from fewer than 100 samples, p95 from fewer than 20) is reported as "max".

The clients are a thread pool of ``requests`` sessions, not locust: locust runs its users on gevent,
which monkey-patches sockets and threads process-wide and would have to share this interpreter with the
local cloud's threaded servers and pollers; as a subprocess it would add ~40 packages (Flask, gevent,
ZeroMQ bindings) to a bench whose client side is a loop of GETs with a stopwatch. Time is measured per
request with ``time.perf_counter`` in the client thread, so it includes the gateway, the function and
moto, and the machine's contention (the 2 cores are shared by clients and server).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stats import cell, percentile_n  # noqa: E402
from local_cloud.runtime import LocalCloud  # noqa: E402
from tests.support.client import Account, Api, sign_up_and_log_in  # noqa: E402

QUANTILES = (50.0, 95.0, 99.0)
MIX = (("home_read", 0.8), ("post", 0.1), ("like", 0.1))


def summarise(latencies_ms: dict[str, list[float]], errors: int, seconds: float) -> dict[str, Any]:
    """Per request kind and for all: count, percentiles with their counts, throughput."""
    everything = [v for values in latencies_ms.values() for v in values]
    kinds = {"all": everything, **latencies_ms}
    return {
        "seconds": round(seconds, 2),
        "requests": len(everything),
        "errors": errors,
        "throughput_rps": round(len(everything) / seconds, 1) if seconds else 0.0,
        "kinds": {
            kind: {f"p{int(q)}": percentile_n(values, q) for q in QUANTILES} | {"n": len(values)}
            for kind, values in kinds.items()
            if values
        },
    }


class Step:
    """One closed-loop step: ``clients`` threads, each its own session and reader, for ``seconds``."""

    def __init__(self, base_url: str, readers: list[Account], tweets: list[str], mix: bool) -> None:
        self.base_url = base_url
        self.readers = readers
        self.tweets = tweets
        self.mix = mix
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = {}
        self.errors = 0

    def client(self, index: int, deadline: float, max_requests: int) -> None:
        import requests

        api = Api(base_url=self.base_url, session=requests.Session())
        reader = self.readers[index % len(self.readers)]
        rng = random.Random(index)
        for _ in range(max_requests):
            if time.monotonic() >= deadline:
                return
            kind = rng.choices([k for k, _ in MIX], [w for _, w in MIX])[0] if self.mix else "home_read"
            started = time.perf_counter()
            if kind == "home_read":
                response = api.get("/timeline/home?limit=20", reader.token)
            elif kind == "post":
                response = api.post("/tweets", reader.token, json={"text": f"load {index} {rng.random()}"})
            else:
                tweet = rng.choice(self.tweets)
                response = api.post(f"/tweets/{tweet}/like", reader.token)
            elapsed = (time.perf_counter() - started) * 1000
            with self.lock:
                # A repeated like answers 409 or 200 by contract: both are served requests.
                if response.status_code >= 500 or response.status_code in (401, 403, 429):
                    self.errors += 1
                else:
                    self.latencies.setdefault(kind, []).append(elapsed)

    def run(self, clients: int, seconds: float, max_requests: int) -> dict[str, Any]:
        started = time.monotonic()
        deadline = started + seconds
        with ThreadPoolExecutor(max_workers=clients) as pool:
            for future in [pool.submit(self.client, i, deadline, max_requests) for i in range(clients)]:
                future.result()
        return summarise(self.latencies, self.errors, time.monotonic() - started)


def run(clients: list[int], seconds: float, max_requests: int) -> dict[str, Any]:
    import requests

    out: dict[str, Any] = {"clients": clients, "seconds_per_step": seconds, "steps": {}}
    with LocalCloud(port=0) as cloud:
        api = Api(base_url=cloud.base_url, session=requests.Session())
        authors = [sign_up_and_log_in(api) for _ in range(4)]
        readers = [sign_up_and_log_in(api) for _ in range(max(clients))]
        for reader in readers:
            for author in authors:
                response = api.post(f"/users/{author.user_id}/follow", reader.token)
                if response.status_code >= 300:
                    raise RuntimeError(f"follow: {response.status_code} {response.text}")
        tweets = []
        for i in range(8):
            for author in authors:
                response = api.post("/tweets", author.token, json={"text": f"seed {i} by {author.username}"})
                if response.status_code >= 300:
                    raise RuntimeError(f"post: {response.status_code} {response.text}")
                tweets.append(response.json()["tweet_id"])
        deadline = time.monotonic() + 30  # the fan-out has reached every reader
        while time.monotonic() < deadline:
            if len(api.get("/timeline/home?limit=20", readers[-1].token).json()["tweets"]) >= 20:
                break
            time.sleep(0.2)
        for reader in readers:  # warm every function and connection outside the measurement
            api.get("/timeline/home?limit=20", reader.token)
        for name, mix in (("home_read", False), ("mixed", True)):
            out["steps"][name] = {
                str(c): Step(cloud.base_url, readers, tweets, mix).run(c, seconds, max_requests)
                for c in clients
            }
    return out


def table(result: dict[str, Any]) -> str:
    lines = [
        "| step | clients | requests (errors) | req/s | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, by_clients in result["steps"].items():
        for clients, row in by_clients.items():
            stats = row["kinds"].get("home_read" if name == "home_read" else "all")
            if not stats:
                continue
            lines.append(
                f"| {name} | {clients} | {row['requests']} ({row['errors']}) | {row['throughput_rps']} | "
                + " | ".join(cell(stats[f"p{int(q)}"]) for q in QUANTILES)
                + " |"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--max-requests", type=int, default=2000, help="per client and step (a bound)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    result = run(args.clients, args.seconds, args.max_requests)
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
