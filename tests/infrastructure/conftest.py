"""Synthesise once per session (about 10 s each): the real SPEC in dev, and the variant in prod and dev."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from infra.resources import SPEC, ServiceSpec  # noqa: E402
from tests.infrastructure.template_resources import synthesize  # noqa: E402
from tests.infrastructure.variant_spec import variant_spec  # noqa: E402


@pytest.fixture(scope="session")
def dev_synthesis() -> tuple[dict[str, Any], dict[str, Any]]:
    return synthesize(SPEC, "dev")


@pytest.fixture(scope="session")
def template(dev_synthesis: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    return dev_synthesis[0]


@pytest.fixture(scope="session")
def variant() -> ServiceSpec:
    return variant_spec()


@pytest.fixture(scope="session")
def prod_synthesis(variant: ServiceSpec) -> tuple[dict[str, Any], dict[str, Any]]:
    return synthesize(variant, "prod")


@pytest.fixture(scope="session")
def prod_template(prod_synthesis: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    return prod_synthesis[0]


@pytest.fixture(scope="session")
def dev_variant_synthesis(variant: ServiceSpec) -> tuple[dict[str, Any], dict[str, Any]]:
    return synthesize(variant, "dev")
