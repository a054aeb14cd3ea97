"""What the layer build trims (scripts/build_assets.py ``trim_layer``): only what the runtime never reads.

The service models kept must cover every AWS service the functions call (their grants and their
clients), and Pillow without the dropped extensions must still identify the four upload formats.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.grants import function_grants
from infra.resources import SPEC
from tests.support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
IAM_TO_BOTOCORE = {
    "dynamodb": {"dynamodb", "dynamodbstreams"},  # streams' GetRecords is a dynamodb: action
    "sqs": {"sqs"},
    "s3": {"s3"},
    "cognito-idp": {"cognito-idp"},
    "secretsmanager": {"secretsmanager"},
    "es": set(),  # opensearch-py signs plain HTTP requests: no service model
}


@pytest.fixture(scope="module")
def build_assets() -> Any:
    return load_script("build_assets")


def test_the_kept_service_models_cover_every_granted_service_and_every_client_in_the_code(
    build_assets: Any,
) -> None:
    granted = {a.split(":")[0] for fn in SPEC.functions for g in function_grants(SPEC, fn) for a in g.actions}
    assert granted <= set(IAM_TO_BOTOCORE), f"map the new IAM service: {granted - set(IAM_TO_BOTOCORE)}"
    needed = set().union(*(IAM_TO_BOTOCORE[service] for service in granted)) | {"xray"}
    source = "\n".join(p.read_text() for p in (ROOT / "functions").rglob("*.py"))
    called = set(re.findall(r"""\bclient\(\s*["']([a-z0-9-]+)["']""", source))
    assert called, "the scan finds the code's clients"
    assert needed | called <= set(build_assets.AWS_SERVICES)


def _tree(site: Path, files: list[str]) -> None:
    for name in files:
        path = site / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")


def test_trimming_removes_what_the_runtime_never_reads_and_keeps_the_rest(
    build_assets: Any, tmp_path: Path
) -> None:
    removed = [
        "pkg/__pycache__/mod.cpython-311.pyc",
        "pkg/mod.pyi",
        "pkg/tests/test_mod.py",
        "pkg/sub/test/test_sub.py",
        "bin/jp.py",
        "pkg-1.0.dist-info/RECORD",
        "pkg-1.0.dist-info/INSTALLER",
        "botocore/data/ec2/2016-11-15/service-2.json.gz",
        "boto3/data/ec2/2016-11-15/resources-1.json",
    ]
    kept = [
        "pkg/__init__.py",
        "pkg/mod.py",
        "pkg/testing.py",
        "pkg/py.typed",
        "pkg-1.0.dist-info/METADATA",
        "pkg-1.0.dist-info/entry_points.txt",
        "pkg-1.0.dist-info/licenses/LICENSE",
        "botocore/data/endpoints.json",
        "botocore/data/dynamodb/2012-08-10/service-2.json.gz",
        "botocore/data/xray/2016-04-12/service-2.json.gz",
        "boto3/data/dynamodb/2012-08-10/resources-1.json",
    ]
    _tree(tmp_path, removed + kept)
    files, freed = build_assets.trim_layer(tmp_path)
    remaining = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert remaining == sorted(kept)
    assert (files, freed) == (len(removed), len(removed))


def test_the_trim_rules_are_part_of_the_layer_hash(
    build_assets: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = build_assets.layer_hash()
    monkeypatch.setattr(build_assets, "AWS_SERVICES", (*build_assets.AWS_SERVICES, "ec2"))
    assert build_assets.layer_hash() != before


def _installed_pillow() -> Path:
    import PIL

    return Path(PIL.__file__).resolve().parent.parent


def test_pillow_without_the_dropped_extensions_still_identifies_the_upload_formats(
    build_assets: Any, tmp_path: Path
) -> None:
    from PIL import Image

    site = tmp_path / "site"
    installed = _installed_pillow()
    shutil.copytree(installed / "PIL", site / "PIL")
    shutil.copytree(installed / "pillow.libs", site / "pillow.libs")
    build_assets.trim_layer(site)
    left = {p.name.split(".", 1)[0] for p in (site / "PIL").glob("*.so")}
    assert left.isdisjoint(build_assets.PILLOW_UNUSED_EXTENSIONS) and "_imaging" in left and "_webp" in left
    assert len(list((site / "pillow.libs").iterdir())) < len(list((installed / "pillow.libs").iterdir()))

    samples = {}
    formats = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
    for pillow_format, content_type in formats.items():
        buffer = io.BytesIO()
        Image.new("RGB", (3, 2), "red").save(buffer, format=pillow_format)
        samples[content_type] = buffer.getvalue().hex()
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]);"
        "from functions.media.inspection import inspect; import PIL;"
        "assert PIL.__file__.startswith(sys.argv[1]), PIL.__file__;"
        "samples = json.loads(sys.argv[2]);"
        "print(json.dumps({t: inspect(bytes.fromhex(h), declared_type=t, declared_size=len(h), "
        "actual_size=len(h) // 2, max_bytes=10**6).format for t, h in samples.items()}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(site), json.dumps(samples)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout) == {
        "image/jpeg": "JPEG",
        "image/png": "PNG",
        "image/gif": "GIF",
        "image/webp": "WEBP",
    }
