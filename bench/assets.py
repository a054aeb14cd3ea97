"""Cold starts of every Lambda function and the size of every deployment asset.

Per function, each in a fresh interpreter with the environment the deployed function has
(``infra.grants.function_environment`` for stage ``prod``, tracing on as on AWS: ``LAMBDA_TASK_ROOT``
set, no ``POWERTOOLS_TRACE_DISABLED``):

- the handler module's cumulative import time (``python -X importtime -c "import <module>"``);
- the init duration as Lambda reports it: interpreter start -> handler module imported -> the
  function's settings model parsed (``functions.core.config.load``, which the first invocation would
  otherwise do);
- the first invocation's duration: the handler called with a representative event (an API request, a
  stream or queue batch) against the local cloud's moto process and embedded search engine. Lazy imports
  move work from the init to the first invocation, so init + first invocation is the figure to compare.

``python -m bench.assets [--runs N] [--code-root DIR] [--baseline DIR]`` prints the table;
``--code-root`` measures another checkout of ``functions/``, ``--baseline`` one more, its runs
interleaved with ours (a before/after comparison under the same machine load).
"""

from __future__ import annotations

import io
import json
import os
import re
import statistics
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)\s*$")


@dataclass
class ImportTime:
    function: str
    module: str
    runs_ms: list[float]
    """``-X importtime`` cumulative import time of the handler module, one per fresh interpreter."""
    init_runs_ms: list[float] = field(default_factory=list)
    """Interpreter start -> module imported -> settings parsed (Lambda's Init Duration)."""
    first_invocation_runs_ms: list[float] = field(default_factory=list)
    """The first invocation's duration in the same interpreter."""
    outcome: str = ""
    """What the first invocation answered (status code, or batch failures), so a reader sees it ran."""

    @property
    def median_ms(self) -> float:
        return statistics.median(self.runs_ms)

    @property
    def init_median_ms(self) -> float | None:
        return statistics.median(self.init_runs_ms) if self.init_runs_ms else None

    @property
    def first_invocation_median_ms(self) -> float | None:
        return statistics.median(self.first_invocation_runs_ms) if self.first_invocation_runs_ms else None


@dataclass
class AssetSize:
    name: str
    path: str
    files: int
    bytes_unzipped: int
    bytes_zipped: int


TRACED = {
    # What the Lambda runtime sets: Powertools turns tracing on only inside Lambda.
    "LAMBDA_TASK_ROOT": str(ROOT),
    "_X_AMZN_TRACE_ID": "Root=1-67890abc-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=1",
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
}
"""Added to every measured function's environment: tracing on, as the deployed functions run. Segments
go to a UDP port nobody listens on."""


def deployed_environment(fn: Any, names: Any = None, stage: str = "prod") -> dict[str, str]:
    """The environment the stack gives ``fn`` at ``stage`` (``infra.grants.function_environment``),
    with tracing on as in Lambda, and this checkout's code on the path. ``names``: the physical names
    (placeholders when None: enough to import and parse settings, not to call AWS)."""
    from infra.grants import DeployedNames, function_environment
    from infra.resources import SPEC

    if names is None:
        names = DeployedNames(
            tables={t.logical_id: f"chirp-{t.logical_id}" for t in SPEC.tables},
            queues={
                q.logical_id: f"https://sqs.us-east-1.amazonaws.com/1/{q.logical_id}" for q in SPEC.queues
            },
            buckets={b.logical_id: f"chirp-{b.logical_id}" for b in SPEC.buckets},
            bucket_urls={b.logical_id: "https://media.example" for b in SPEC.buckets},
            upload_urls={b.logical_id: "https://upload.example" for b in SPEC.buckets},
            secrets={
                s.logical_id: f"arn:aws:secretsmanager:us-east-1:1:secret:{s.logical_id}"
                for s in SPEC.secrets
            },
            user_pool_id="us-east-1_example",
            user_pool_client_id="example-client",
            search_endpoints={
                d.logical_id: f"https://search-{d.logical_id}.example" for d in SPEC.search_domains
            },
        )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": fn.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        **TRACED,
    }
    env |= function_environment(SPEC, fn, names, stage=stage, auto_confirm_signup=False)
    return env


_PROBE = r"""
import importlib, json, sys, time
started = time.time()
args = json.loads(sys.argv[1])
module, _, name = args["handler"].rpartition(".")
handler = getattr(importlib.import_module(module), name)
imported = time.time()
model_module, _, model_name = args["settings_model"].rpartition(".")
from functions.core.config import load
load(getattr(importlib.import_module(model_module), model_name))
ready = time.time()
loaded = sorted(sys.modules)
out = {"started": started, "imported": imported, "ready": ready, "modules": loaded}
if args.get("event") is not None:
    class Context:
        function_name = args["function"]
        function_version = "$LATEST"
        memory_limit_in_mb = 256
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + args["function"]
        aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
        log_group_name = "/aws/lambda/" + args["function"]
        log_stream_name = "cold"
        def get_remaining_time_in_millis(self):
            return 30000
    t0 = time.perf_counter()
    try:
        result = handler(args["event"], Context())
    except Exception as exc:  # a whole batch failed: Lambda retries it; the work was still done
        result = {"raised": type(exc).__name__}
    out["invoke_ms"] = (time.perf_counter() - t0) * 1000
    out["result"] = result if isinstance(result, dict) else None
    out["done_modules"] = sorted(sys.modules)
print("\n" + json.dumps(out))
"""
"""Runs in the measured interpreter: imports only what the handler does, before the handler."""


def probe(
    fn: Any, env: dict[str, str], event: dict[str, Any] | None, code_root: Path = ROOT
) -> dict[str, Any]:
    """One cold start of ``fn`` in a fresh interpreter with ``env``: the init (ms, from the process's
    start), the modules loaded by then, and the first invocation of ``event`` (when given)."""
    child = {k: v for k, v in env.items() if k != "PYTHONPATH"}
    child["PYTHONPATH"] = str(code_root)
    child["PYTHONDONTWRITEBYTECODE"] = "0"
    arguments = {
        "handler": fn.handler,
        "settings_model": fn.settings_model,
        "function": fn.name,
        "event": event,
    }
    spawned = time.time()
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(arguments)],
        cwd=code_root,
        env=child,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{fn.name}: cold start failed:\n{completed.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(completed.stdout.rstrip().rsplit("\n", 1)[-1])
    report["init_ms"] = (report["ready"] - spawned) * 1000
    return report


def import_time_ms(module: str, env: dict[str, str] | None = None, code_root: Path = ROOT) -> float:
    """Cumulative import time (ms) of ``module`` in a fresh interpreter, from ``-X importtime``."""
    if env is None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "PYTHONPATH"}
    env = {**env, "PYTHONPATH": str(code_root), "PYTHONDONTWRITEBYTECODE": "0"}
    completed = subprocess.run(  # fixed arguments, no shell
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=code_root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    for line in completed.stderr.splitlines():
        match = _LINE.match(line)
        if match and match.group(4) == module and not match.group(3).strip(" "):
            return int(match.group(2)) / 1000
    for line in completed.stderr.splitlines():
        match = _LINE.match(line)
        if match and match.group(4) == module:
            return int(match.group(2)) / 1000
    raise RuntimeError(f"no import time line for {module}")


def _load_event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "events" / name).read_text())
    return loaded


def _api_event(method: str, path: str, query: dict[str, str] | None = None) -> dict[str, Any]:
    """The committed API Gateway event, for another route, as a signed-in caller."""
    event = _load_event("api_get_users_me.json")
    full = f"/api/v1{path}"
    event.update(resource=full, path=full, httpMethod=method, queryStringParameters=query)
    event["requestContext"].update(resourcePath=full, httpMethod=method, path=f"/prod{full}")
    event["requestContext"]["authorizer"]["claims"]["sub"] = "8f2c6a0e-4b1d-4f7e-9a3c-2d5e6f708192"
    return event


def _fresh_ids(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` with new record ids: an idempotent consumer would skip a record id it has seen."""
    for record in event.get("Records", []):
        if "messageId" in record:
            record["messageId"] = str(uuid.uuid4())
        if "eventID" in record:
            record["eventID"] = uuid.uuid4().hex
    return event


def _in_queue_message(body: dict[str, Any]) -> dict[str, Any]:
    """An SQS batch whose one message holds ``body``."""
    message = _load_event("fanout_sqs_event.json")["Records"][0]
    message["body"] = json.dumps(body)
    return {"Records": [message]}


def _as_queue_message(stream_event: dict[str, Any]) -> dict[str, Any]:
    """A replay-queue batch whose one body is the stream event's first record."""
    return _in_queue_message(stream_event["Records"][0])


FIRST_EVENTS: dict[str, Callable[[], dict[str, Any]]] = {
    "users-api": lambda: _api_event("GET", "/users/me"),
    "tweets-api": lambda: _api_event("GET", "/tweets/01KQ8Z5Y3M0000000000000000"),
    "graph-api": lambda: _api_event("GET", "/users/8f2c6a0e-4b1d-4f7e-9a3c-2d5e6f708192/followers"),
    "timeline-api": lambda: _api_event("GET", "/timeline/home"),
    "media-api": lambda: _api_event("GET", "/media/01KQ8Z5Y3M0000000000000000"),
    "search-api": lambda: _api_event("GET", "/search/tweets", {"q": "chirp"}),
    "docs-api": lambda: _api_event("GET", "/health"),
    "tweets-cleanup": lambda: _fresh_ids(_load_event("tweets_stream_remove.json")),
    "fanout-dispatcher": lambda: _fresh_ids(_load_event("tweets_stream_insert.json")),
    "fanout-worker": lambda: _fresh_ids(_load_event("fanout_sqs_event.json")),
    "stream-rescue": lambda: _fresh_ids(_in_queue_message(_load_event("stream_failure_record.json"))),
    "media-processor": lambda: _fresh_ids(_load_event("media_object_created_sqs_event.json")),
    "search-indexer": lambda: _fresh_ids(_as_queue_message(_load_event("tweets_stream_insert.json"))),
}
"""A representative first event per function: a read through each API (a signed-in caller), a batch
of each consumer's source. Functions without one here are measured without an invocation."""


def _outcome(result: dict[str, Any] | None) -> str:
    if result is None:
        return "-"
    if "statusCode" in result:
        return f"HTTP {result['statusCode']}"
    if "raised" in result:
        return f"raised {result['raised']}"
    return f"{len(result.get('batchItemFailures') or [])} failed"


@contextmanager
def local_backends() -> Iterator[Any]:
    """The local cloud's moto process and embedded search engines, provisioned from the definition, and
    the deployed names that point at them (secrets in Secrets Manager, as on AWS)."""
    import tempfile

    from infra.grants import DeployedNames
    from infra.resources import SPEC
    from local_cloud.aws import LocalAws
    from local_cloud.provision import provision
    from local_cloud.search import LocalSearch

    with tempfile.TemporaryDirectory() as tmp, LocalAws() as aws:
        provisioned = provision(SPEC, aws.clients())
        search = LocalSearch(SPEC, Path(tmp))
        search.start()
        secrets = aws.client("secretsmanager")
        arns = {
            s.logical_id: secrets.create_secret(Name=s.logical_id, SecretString=uuid.uuid4().hex)["ARN"]
            for s in SPEC.secrets
        }
        names = DeployedNames(
            tables=provisioned.table_names,
            queues=provisioned.queue_urls,
            buckets=provisioned.bucket_names,
            bucket_urls={b: "https://media.bench.invalid" for b in provisioned.bucket_names},
            upload_urls={b: "https://upload.bench.invalid" for b in provisioned.bucket_names},
            secrets=arns,
            user_pool_id=provisioned.user_pool_id,
            user_pool_client_id=provisioned.user_pool_client_id,
            search_endpoints=search.endpoints,
        )
        try:
            yield names, aws.environment()
        finally:
            search.stop()


def measure_cold_starts(
    runs: int, code_root: Path = ROOT, log: Callable[[str], None] = print, baseline: Path | None = None
) -> list[ImportTime]:
    """Per function: ``runs`` fresh interpreters each for the import time and for init + first
    invocation (a first run of each writes the .pyc files, as the deployed asset would carry them).
    With ``baseline`` (another checkout of ``functions/``), its runs interleave with ours, run for run,
    so both see the same machine load; its rows follow ours, named ``<function> (baseline)``."""
    from infra.resources import SPEC

    roots = [code_root] if baseline is None else [code_root, baseline]
    results: list[ImportTime] = []
    baseline_results: list[ImportTime] = []
    with local_backends() as (names, aws_env):
        for fn in SPEC.functions:
            module = fn.handler.rpartition(".")[0]
            env = deployed_environment(fn, names) | aws_env
            make_event = FIRST_EVENTS.get(fn.name)
            items = [
                ImportTime(fn.name if r == code_root else f"{fn.name} (baseline)", module, []) for r in roots
            ]
            for root in roots:
                probe(fn, env, make_event() if make_event else None, root)  # writes .pyc, warms moto
            for _ in range(runs):
                for item, root in zip(items, roots, strict=True):
                    item.runs_ms.append(import_time_ms(module, env, root))
                    report = probe(fn, env, make_event() if make_event else None, root)
                    item.init_runs_ms.append(report["init_ms"])
                    if "invoke_ms" in report:
                        item.first_invocation_runs_ms.append(report["invoke_ms"])
                    item.outcome = _outcome(report.get("result"))
            for item in items:
                log(
                    f"  {item.function}: import {item.median_ms:.0f} ms, init {item.init_median_ms:.0f} ms, "
                    f"first invocation {item.first_invocation_median_ms or 0:.0f} ms ({item.outcome})"
                )
            results.append(items[0])
            baseline_results += items[1:]
    return results + baseline_results


def handler_import_times(runs: int) -> list[ImportTime]:
    """``measure_cold_starts`` in an interpreter of its own: the bench's process has moto patched into
    botocore, which would capture the provisioning calls meant for the moto process."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "cold.json"
        command = [sys.executable, "-m", "bench.assets", "--runs", str(runs), "--json", str(target)]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
        subprocess.run(command, cwd=ROOT, env=env, check=True)
        rows = json.loads(target.read_text())
    return [ImportTime(**row) for row in rows]


def _zip_size(files: list[tuple[Path, str]]) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, name in files:
            archive.write(path, name)
    return buffer.tell()


def functions_asset() -> AssetSize:
    """What infra/constructs/functions.py stages: ``functions/`` .py files, no caches or tests."""
    base = ROOT / "functions"
    files = [
        (path, str(path.relative_to(ROOT)))
        for path in sorted(base.rglob("*.py"))
        if "__pycache__" not in path.parts and "tests" not in path.parts and not path.name.startswith("test_")
    ]
    return AssetSize(
        "functions code (every function)",
        "functions/",
        len(files),
        sum(p.stat().st_size for p, _ in files),
        _zip_size(files),
    )


def layer_asset(log: object = print) -> AssetSize:
    """The dependencies layer in .build/layer, built by scripts/build_assets.py if missing."""
    layer = ROOT / ".build" / "layer"
    if not (layer / "python").is_dir():
        print("  building the layer (scripts/build_assets.py) ...")
        subprocess.run([sys.executable, str(ROOT / "scripts" / "build_assets.py")], cwd=ROOT, check=True)
    files = [(p, str(p.relative_to(layer))) for p in sorted(layer.rglob("*")) if p.is_file()]
    return AssetSize(
        "dependencies layer",
        ".build/layer",
        len(files),
        sum(p.stat().st_size for p, _ in files),
        _zip_size(files),
    )


def main(argv: list[str] | None = None) -> int:
    import argparse
    from dataclasses import asdict

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--code-root", type=Path, default=ROOT, help="a checkout whose functions/ to measure")
    parser.add_argument("--baseline", type=Path, help="another checkout to measure interleaved with this one")
    parser.add_argument("--json", type=Path, help="write the rows here")
    args = parser.parse_args(argv)
    rows = measure_cold_starts(
        args.runs,
        args.code_root.resolve(),
        log=lambda line: print(line, file=sys.stderr),
        baseline=args.baseline.resolve() if args.baseline else None,
    )
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1))
    print("| function | import ms | init ms | first invocation ms | init + first ms | first answer |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        init, first = r.init_median_ms or 0.0, r.first_invocation_median_ms or 0.0
        print(
            f"| {r.function} | {r.median_ms:.0f} | {init:.0f} | {first:.0f} | {init + first:.0f} "
            f"| {r.outcome} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
