"""``scripts/smoke.py``, the smoke test a team runs against any deployment, passes against the local
cloud (so CI runs it on every change) and fails, saying where, against one that does not answer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.client import Api

ROOT = Path(__file__).resolve().parents[2]


def smoke(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "smoke.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


def test_the_smoke_script_passes_against_the_local_cloud(api: Api) -> None:
    result = smoke("--api-url", api.base_url, "--timeout", "20")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "steps passed" in result.stdout
    steps = ("home timeline shows it", "search by hashtag", "presigned POST", "gone from home and search")
    for step in steps:
        assert step in result.stdout


def test_the_smoke_script_fails_at_the_first_broken_step(api: Api) -> None:
    result = smoke("--api-url", api.base_url.replace("/api/v1", "/api/v0"), "--timeout", "1")
    assert result.returncode == 1
    assert "FAIL health" in result.stderr
