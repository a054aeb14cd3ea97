"""Cold import time of every Lambda handler module and the size of every deployment asset."""

from __future__ import annotations

import io
import os
import re
import statistics
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)\s*$")


@dataclass
class ImportTime:
    function: str
    module: str
    runs_ms: list[float]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.runs_ms)


@dataclass
class AssetSize:
    name: str
    path: str
    files: int
    bytes_unzipped: int
    bytes_zipped: int


def import_time_ms(module: str) -> float:
    """Cumulative import time (ms) of ``module`` in a fresh interpreter, from ``-X importtime``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONDONTWRITEBYTECODE"] = "0"
    completed = subprocess.run(  # fixed arguments, no shell
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=ROOT,
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


def handler_import_times(runs: int) -> list[ImportTime]:
    from infra.resources import SPEC

    results = []
    for fn in SPEC.functions:
        module = fn.handler.rpartition(".")[0]
        import_time_ms(module)  # a first run writes the .pyc files, as the deployed asset would carry
        results.append(ImportTime(fn.name, module, [import_time_ms(module) for _ in range(runs)]))
    return results


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
