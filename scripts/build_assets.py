"""Build the deploy assets without Docker: the shared dependencies layer for the Lambda functions.

The layer is defined in ``layers/dependencies/``: ``requirements.lock`` pins the whole dependency tree
of requirements.txt, every package with its wheel's sha256, resolved for the functions' runtime and
architecture (manylinux2014 aarch64, CPython 3.13).

``python scripts/build_assets.py`` installs the lock into ``.build/layer/python`` with
``--require-hashes --no-deps`` (nothing floats, nothing unverified). A stamp file in the layer records a
hash of the lock, the pip options and the trimming rules, which is also the layer's CDK asset hash: it
changes when any version, transitive ones included, does. A second run with the same lock does nothing.

The installed tree is then trimmed of what the Lambda runtime never reads (``trim_layer``): bytecode
caches (built by this interpreter, not the runtime's CPython 3.13, and /opt is read-only, so the runtime
compiles what it imports either way), type stubs, the packages' own tests, console scripts, the
dist-info files only installers read, and the botocore/boto3 service models of every AWS service but
those the functions call (``AWS_SERVICES``).

boto3 and botocore stay in the layer, pinned, rather than using the copies the Python runtime ships:
the runtime's versions change without notice and are not the ones the tests ran against (behaviour
such as the DynamoDB Streams endpoint mode differs between releases); their service models are what
made them large, and only a handful of services are kept.
``python scripts/build_assets.py --lock`` (``make lock``) resolves requirements.txt again and rewrites
the lock; the build refuses a lock that no longer matches requirements.txt. The function code itself is
staged at synth time (infra/constructs/functions.py).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements.txt"
BUILD_DIR = ROOT / ".build"
LAYER_DIR = BUILD_DIR / "layer"
LOCK = ROOT / "layers" / "dependencies" / "requirements.lock"
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


AWS_SERVICES = (
    "cognito-idp",
    "dynamodb",
    "dynamodbstreams",
    "s3",
    "secretsmanager",
    "sqs",
    "xray",  # the X-Ray SDK's own client (sampling rules)
)
"""The botocore service models the layer keeps: every service a function's grants name (``es`` needs
none: opensearch-py signs plain HTTP requests), DynamoDB Streams for the stream reader, and X-Ray for the
tracer. tests/unit/test_layer_trim.py checks this against the grants and the code's clients."""
DIST_INFO_DROPPED = ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")
"""Files of ``*.dist-info`` only installers read; METADATA and entry_points.txt stay (importlib.metadata
reads them: versions, pydantic's plugin lookup), and so do the licenses."""
TEST_DIRECTORIES = ("tests", "test")
PILLOW_UNUSED_EXTENSIONS = ("_avif", "_imagingft", "_imagingcms", "_imagingtk")
"""Pillow's optional extensions the functions never load: the media check opens only JPEG, PNG, GIF and
WebP (``functions.media.inspection``: ``Image.open(..., formats=...)``) and never decodes AVIF, draws
text, converts colour profiles or opens Tk windows; Pillow treats each as an optional plugin (an
ImportError leaves that format unsupported). The shared libraries only they needed go too
(``_unused_pillow``): about 7.5 MB of the wheel's bundled libraries."""


class StaleLock(RuntimeError):
    pass


def _name(raw: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", raw).lower()


def pins(text: str) -> dict[str, str]:
    """``name -> version`` of every ``name[extras]==version`` line (comments and options skipped)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)", line)
        if match:
            found[_name(match.group(1))] = match.group(3)
    return found


def lock_problems(requirements: str, lock: str) -> list[str]:
    """What makes ``lock`` stale for ``requirements``: a pin missing or at another version, or a
    locked package without its hash."""
    locked = pins(lock)
    problems = [
        f"{name}=={version} is not in the lock" + (f" (it has {locked[name]})" if name in locked else "")
        for name, version in pins(requirements).items()
        if locked.get(name) != version
    ]
    entries = [e for e in lock.replace("\\\n", " ").splitlines() if pins(e)]
    problems += [f"no hash for {e.split()[0]}" for e in entries if "--hash=sha256:" not in e]
    return problems


def write_lock() -> Path:
    """Resolve requirements.txt for the runtime's platform and write the lock (needs the package index)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        command += ["--dry-run", "--ignore-installed", "--report", str(report), "--target", tmp]
        command += [*PIP_OPTIONS, "-r", str(REQUIREMENTS)]
        subprocess.run(command, check=True)  # noqa: S603 - fixed arguments, no shell
        installs = json.loads(report.read_text())["install"]
    lines = [
        "# The dependency layer's whole tree, resolved from requirements.txt for " + " ".join(PIP_OPTIONS),
        "# Generated by `make lock` (scripts/build_assets.py --lock): do not edit.",
    ]
    for item in sorted(installs, key=lambda i: _name(i["metadata"]["name"])):
        sha = item["download_info"]["archive_info"]["hashes"]["sha256"]
        lines.append(f"{_name(item['metadata']['name'])}=={item['metadata']['version']} --hash=sha256:{sha}")
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    LOCK.write_text("\n".join(lines) + "\n")
    return LOCK


def layer_hash() -> str:
    """Hash of everything the layer is built from; also the layer's asset hash in CDK."""
    digest = hashlib.sha256(LOCK.read_bytes())
    digest.update(" ".join(PIP_OPTIONS).encode())
    rules = (AWS_SERVICES, DIST_INFO_DROPPED, TEST_DIRECTORIES, PILLOW_UNUSED_EXTENSIONS)
    digest.update(json.dumps(rules).encode())
    return digest.hexdigest()


def _removable(path: Path, site: Path) -> bool:
    """Whether ``path`` (a file or directory under ``site``, the layer's python/) is something the Lambda
    runtime never reads."""
    parts = path.relative_to(site).parts
    name = path.name
    if path.is_dir():
        if name == "__pycache__" or (parts[0] == "bin" and len(parts) == 1):
            return True
        if len(parts) >= 2 and name in TEST_DIRECTORIES and not parts[0].endswith(".dist-info"):
            return True  # a package's own test suite (not a top-level package that happens to be named so)
        if len(parts) == 3 and parts[:2] in (("botocore", "data"), ("boto3", "data")):
            return name not in AWS_SERVICES
        return False
    if name.endswith((".pyc", ".pyi")):
        return True
    return len(parts) == 2 and parts[0].endswith(".dist-info") and name in DIST_INFO_DROPPED


def _unused_pillow(site: Path) -> list[Path]:
    """Pillow's unused extensions, and then every library in ``pillow.libs`` that no remaining extension
    or library names. A shared object names what it links in its dynamic string table, so the file's
    bytes hold each needed library's file name: a library is dropped only if no kept object holds it."""
    extensions = [
        path
        for path in sorted((site / "PIL").glob("*.so"))
        if path.name.split(".", 1)[0] in PILLOW_UNUSED_EXTENSIONS
    ]
    libraries = sorted((site / "pillow.libs").glob("*.so*"))
    kept = [p for p in sorted((site / "PIL").glob("*.so")) if p not in extensions] + libraries
    content = {path: path.read_bytes() for path in kept}
    unused: list[Path] = []
    changed = True
    while changed:  # a library only a dropped library needed goes in a later round
        changed = False
        for library in [lib for lib in kept if lib in libraries]:
            if not any(library.name.encode() in content[other] for other in kept if other != library):
                kept.remove(library)
                unused.append(library)
                changed = True
    return extensions + unused


def trim_layer(site: Path) -> tuple[int, int]:
    """Remove from ``site`` what the runtime never reads (``_removable``, ``_unused_pillow``); (files
    removed, bytes freed)."""
    files = freed = 0
    for path in _unused_pillow(site) if (site / "PIL").is_dir() else []:
        files += 1
        freed += path.stat().st_size
        path.unlink()
    for path in sorted(site.rglob("*"), key=lambda p: len(p.parts)):
        if not path.exists() or path.is_symlink() or not _removable(path, site):
            continue
        if path.is_dir():
            inside = [f for f in path.rglob("*") if f.is_file()]
            files += len(inside)
            freed += sum(f.stat().st_size for f in inside)
            shutil.rmtree(path)
        else:
            files += 1
            freed += path.stat().st_size
            path.unlink()
    return files, freed


def built_layer_hash() -> str | None:
    """Hash of the layer currently in .build/layer, or None when it is missing or incomplete."""
    if not (LAYER_DIR / "python").is_dir() or not STAMP.is_file():
        return None
    return STAMP.read_text().strip()


def build_layer(force: bool = False) -> Path:
    """Build .build/layer unless it is already built from the same requirements; return its path."""
    problems = lock_problems(REQUIREMENTS.read_text(), LOCK.read_text())
    if problems:
        raise StaleLock(
            f"{LOCK.relative_to(ROOT)} does not match requirements.txt ({'; '.join(problems)}): run make lock"
        )
    wanted = layer_hash()
    if not force and built_layer_hash() == wanted:
        return LAYER_DIR
    shutil.rmtree(LAYER_DIR, ignore_errors=True)
    STAMP.unlink(missing_ok=True)
    target = LAYER_DIR / "python"
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    command += [*PIP_OPTIONS, "--require-hashes", "--no-deps", "--target", str(target), "-r", str(LOCK)]
    subprocess.run(command, check=True)  # noqa: S603 - fixed arguments, no shell
    trim_layer(target)
    STAMP.write_text(wanted + "\n")  # written last: an interrupted build is rebuilt next time
    return LAYER_DIR


def main() -> None:
    if "--lock" in sys.argv[1:]:
        print(f"wrote {write_lock().relative_to(ROOT)}")
        return
    force = "--force" in sys.argv[1:]
    layer = build_layer(force=force)
    size = sum(f.stat().st_size for f in layer.rglob("*") if f.is_file())
    print(f"layer ready: {layer.relative_to(ROOT)} ({size / 1e6:.1f} MB, {layer_hash()[:12]})")


if __name__ == "__main__":
    main()
