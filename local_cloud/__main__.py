"""``python -m local_cloud``: the whole service on one machine, no AWS account needed (``make dev``)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time

from local_cloud.runtime import LocalCloud


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local_cloud", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--data-dir", default=None, help="keep state here across restarts (default: fresh)")
    parser.add_argument(
        "--aws-endpoint",
        default=os.environ.get("CHIRP_AWS_ENDPOINT"),
        help="use this AWS endpoint (DynamoDB Local, LocalStack) instead of the embedded moto",
    )
    parser.add_argument("--no-pollers", action="store_true", help="do not run stream and queue consumers")
    return parser.parse_args(argv)


def _banner(base: str, aws_endpoint: str) -> str:
    return f"""
Chirp is running at {base}
  API docs (Swagger UI): {base}/docs      OpenAPI: {base}/openapi.json
  AWS endpoint (moto):   {aws_endpoint}  e.g. make redrive ENDPOINT={aws_endpoint}

Try it:
  curl -s {base}/health
  curl -s -X POST {base}/auth/signup -H 'Content-Type: application/json' \\
       -d '{{"username": "alice", "email": "alice@example.com", "password": "Sup3r-secret!"}}'
  TOKEN=$(curl -s -X POST {base}/auth/login -H 'Content-Type: application/json' \\
       -d '{{"username": "alice", "password": "Sup3r-secret!"}}' \\
       | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
  curl -s {base}/users/me -H "Authorization: Bearer $TOKEN"
  curl -s -X PATCH {base}/users/me -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
       -d '{{"bio": "hello from the local cloud"}}'
  curl -s -X POST {base}/tweets -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
       -d '{{"text": "hello #chirp"}}'
  curl -s "{base}/timeline/home?limit=20" -H "Authorization: Bearer $TOKEN"

Press Ctrl-C to stop.
"""


def _chaos_line(cloud: LocalCloud) -> str:
    if cloud.chaos.active:
        return cloud.chaos.describe()
    return f"{cloud.chaos.describe()} (e.g. LOCAL_CHAOS={_CHAOS_EXAMPLE} make dev turns it on)"


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{count} B"  # unreachable: the loop returns at GB


def _data_line(cloud: LocalCloud) -> str:
    """Where the state lives and how big it is (``--data-dir``), or that it is in memory only."""
    if cloud.data_dir is None:
        return "Data: in memory only, gone at exit (make dev DATA_DIR=.local-data keeps it)"
    if not cloud.aws.embedded:
        return f"Data: search index and secrets in {cloud.data_dir.resolve()}; AWS state is the endpoint's"
    from local_cloud.persistence import data_dir_usage

    usage = data_dir_usage(cloud.data_dir)
    return (
        f"Data: {cloud.data_dir.resolve()} ({_size(usage['total'])}: snapshot {_size(usage['snapshot'])}, "
        f"journal {_size(usage['journal'])}); every acknowledged AWS write is fsynced there first"
    )


_CHAOS_EXAMPLE = "seed=1,faults=0.05,redeliver=0.1,index_lag_ms=500,delay_ms=200"


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    started = time.monotonic()
    try:
        cloud = LocalCloud(
            host=args.host,
            port=args.port,
            endpoint_url=args.aws_endpoint,
            data_dir=args.data_dir,
            start_pollers=not args.no_pollers,
        )
    except ValueError as exc:  # LOCAL_CHAOS that does not parse: say which key, start nothing
        print(f"cannot start: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    from local_cloud.persistence import DataDirLocked, SnapshotError

    try:
        cloud.start()
    except (DataDirLocked, SnapshotError) as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        cloud.stop()
        return 1
    except OSError as exc:
        print(f"cannot start: {exc} (is port {args.port} in use? set PORT=...)", file=sys.stderr)
        cloud.stop()
        return 1
    print(_banner(cloud.base_url, cloud.aws.endpoint_url), flush=True)
    print(_data_line(cloud), flush=True)
    print(_chaos_line(cloud), flush=True)
    print(f"started in {time.monotonic() - started:.2f} s", flush=True)
    stop.wait()
    print("\nstopping...", flush=True)
    cloud.stop()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
