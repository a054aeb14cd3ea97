"""Asset building and synth-time checks that need no synthesis."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from infra.constructs.event_sources import _check
from infra.constructs.functions import AssetsNotBuiltError, _StageFunctionsPackage, layer_code
from infra.resources import SPEC
from tests.infrastructure.variant_spec import QUEUE_MAPPING, STREAM_MAPPING, variant_spec


def test_missing_layer_fails_with_a_hint_to_run_make_build(tmp_path: Path) -> None:
    with pytest.raises(AssetsNotBuiltError, match="make build"):
        layer_code(tmp_path / "layer")


def test_functions_package_holds_only_python_sources_without_tests(tmp_path: Path) -> None:
    source = tmp_path / "functions"
    for name in [
        "__init__.py",
        "users/handlers/api.py",
        "users/tests/test_api.py",
        "users/test_logic.py",
        "users/__pycache__/api.cpython-313.pyc",
        "users/README.md",
        "conftest.py",
    ]:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text("")
    out = tmp_path / "out"
    assert _StageFunctionsPackage(source).try_bundle(str(out))
    staged = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert staged == ["functions/__init__.py", "functions/users/handlers/api.py"]


def test_stream_mapping_without_a_stream_or_failure_queue_is_refused() -> None:
    spec = variant_spec()
    no_stream = dataclasses.replace(STREAM_MAPPING, source="idempotency")
    with pytest.raises(ValueError, match="no stream"):
        _check(dataclasses.replace(spec, tables=SPEC.tables + spec.tables[-1:]), no_stream)
    with pytest.raises(ValueError, match="on_failure"):
        _check(spec, dataclasses.replace(STREAM_MAPPING, on_failure=None))


def test_queue_mapping_with_visibility_below_function_timeout_is_refused() -> None:
    spec = variant_spec()
    slow = dataclasses.replace(spec.function(QUEUE_MAPPING.function), timeout_seconds=900)
    others = tuple(f for f in spec.functions if f.name != slow.name)
    with pytest.raises(ValueError, match="visibility timeout"):
        _check(dataclasses.replace(spec, functions=(*others, slow)), QUEUE_MAPPING)
