"""The served OpenAPI document, the deployed route table and ../shared/API-CONTRACT.md agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from functions.docs.handlers.api import PUBLIC_PATHS
from infra.resources import SPEC
from tests.support.client import Api

CONTRACT = Path(__file__).resolve().parents[3] / "shared" / "API-CONTRACT.md"
NOT_BUILT_YET: set[tuple[str, str]] = set()
"""Contract routes not built yet (none)."""


def contract_routes() -> set[tuple[str, str]]:
    if not CONTRACT.exists():
        pytest.skip(f"{CONTRACT} is not beside the checkout")
    rows = re.findall(r"^\| (GET|POST|PATCH|PUT|DELETE) (/\S*) \|", CONTRACT.read_text(), flags=re.M)
    assert len(rows) > 20, "the contract's route table was not found"
    return set(rows)


def spec_routes() -> set[tuple[str, str]]:
    return {(r.method, r.path) for r in SPEC.routes}


def test_every_deployed_route_is_in_the_contract_and_every_contract_route_is_deployed() -> None:
    contract = contract_routes()
    assert spec_routes() <= contract
    assert contract - spec_routes() == NOT_BUILT_YET


def test_the_openapi_document_describes_exactly_the_deployed_routes(api: Api) -> None:
    doc = api.get("/openapi.json").json()
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    assert documented == spec_routes()
    assert doc["servers"] == [{"url": "/api/v1"}]


def test_public_routes_are_the_same_in_the_document_and_the_stack(api: Api) -> None:
    doc = api.get("/openapi.json").json()
    for route in SPEC.routes:
        operation = doc["paths"][route.path][route.method.lower()]
        assert route.path.startswith(PUBLIC_PATHS) == (not route.auth), route
        assert (operation.get("security") == []) == (not route.auth), route


def test_every_operation_documents_the_contract_error_body(api: Api) -> None:
    doc = api.get("/openapi.json").json()
    for path, ops in doc["paths"].items():
        for method, operation in ops.items():
            for status in ("404", "422"):
                schema = operation["responses"][status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)
