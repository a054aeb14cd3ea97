"""The dependency layer is built from a lock of its whole tree (layers/dependencies/requirements.lock):
the lock must still match requirements.txt, hold a hash for every package, and drive the asset hash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def build_assets() -> Any:
    return load_script("build_assets")


def test_the_committed_lock_matches_requirements_and_pins_every_package_by_hash(build_assets: Any) -> None:
    requirements = (ROOT / "requirements.txt").read_text()
    lock = build_assets.LOCK.read_text()
    assert build_assets.lock_problems(requirements, lock) == []
    locked = build_assets.pins(lock)
    assert set(build_assets.pins(requirements)) < set(locked), "transitive packages are pinned too"
    assert {"botocore", "pydantic-core", "aws-xray-sdk"} <= set(locked)


def test_a_lock_that_misses_a_pin_or_a_hash_is_stale(build_assets: Any) -> None:
    requirements = "pydantic==2.14.3\naws-lambda-powertools[tracer]==3.37.0\n"
    lock = "pydantic==2.14.3 --hash=sha256:ab\naws-lambda-powertools==3.36.0 --hash=sha256:cd\nsix==1.17.0\n"
    problems = build_assets.lock_problems(requirements, lock)
    assert any("aws-lambda-powertools==3.37.0" in p and "3.36.0" in p for p in problems)
    assert any("no hash for six==1.17.0" in p for p in problems)


def test_the_layer_hash_follows_the_lock_not_only_the_top_level_pins(
    build_assets: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("botocore==1.44.8 --hash=sha256:aa\n")
    monkeypatch.setattr(build_assets, "LOCK", lock)
    before = build_assets.layer_hash()
    lock.write_text("botocore==1.44.9 --hash=sha256:bb\n")  # a transitive bump, requirements.txt unchanged
    assert build_assets.layer_hash() != before
