"""Build the deploy assets without Docker: the shared dependencies layer for the Lambda functions.

``python scripts/build_assets.py`` installs requirements.txt into ``.build/layer/python`` as
manylinux aarch64 wheels for CPython 3.13 (the functions' runtime and architecture). A stamp file
in the layer records a hash of the requirements and pip options, so a second run with the
same inputs does nothing. The function code itself is staged at synth time (infra/constructs/functions.py).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements.txt"
BUILD_DIR = ROOT / ".build"
LAYER_DIR = BUILD_DIR / "layer"
STAMP = LAYER_DIR / "requirements.sha256"
"""Inside the layer (as /opt/requirements.sha256): provenance, and the layer's CDK asset hash."""
PIP_OPTIONS = (
    "--platform",
    "manylinux2014_aarch64",
    "--only-binary=:all:",
    "--python-version",
    "3.13",
    "--implementation",
    "cp",
)


def layer_hash() -> str:
    """Hash of everything the layer is built from; also the layer's asset hash in CDK."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    digest.update(" ".join(PIP_OPTIONS).encode())
    return digest.hexdigest()


def built_layer_hash() -> str | None:
    """Hash of the layer currently in .build/layer, or None when it is missing or incomplete."""
    if not (LAYER_DIR / "python").is_dir() or not STAMP.is_file():
        return None
    return STAMP.read_text().strip()


def build_layer(force: bool = False) -> Path:
    """Build .build/layer unless it is already built from the same requirements; return its path."""
    wanted = layer_hash()
    if not force and built_layer_hash() == wanted:
        return LAYER_DIR
    shutil.rmtree(LAYER_DIR, ignore_errors=True)
    STAMP.unlink(missing_ok=True)
    target = LAYER_DIR / "python"
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    command += [*PIP_OPTIONS, "--target", str(target), "-r", str(REQUIREMENTS)]
    subprocess.run(command, check=True)  # noqa: S603 - fixed arguments, no shell
    for cache in target.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    STAMP.write_text(wanted + "\n")  # written last: an interrupted build is rebuilt next time
    return LAYER_DIR


def main() -> None:
    force = "--force" in sys.argv[1:]
    layer = build_layer(force=force)
    size = sum(f.stat().st_size for f in layer.rglob("*") if f.is_file())
    print(f"layer ready: {layer.relative_to(ROOT)} ({size / 1e6:.1f} MB, {layer_hash()[:12]})")


if __name__ == "__main__":
    main()
