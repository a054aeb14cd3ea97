"""Swagger UI (local runtime) loads the whole API's document, with the bearer scheme to authorise."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from infra.resources import SPEC
from tests.support.client import Api

pytestmark = pytest.mark.e2e

_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)
_URL_OPTION = re.compile(r"""["']?url["']?\s*:\s*["']([^"']+)["']""")


def swagger_config_script(page: str) -> str:
    """The page's own script that starts Swagger UI (not the bundled library, which defines it)."""
    starters = [s for s in _SCRIPT.findall(page) if "SwaggerUIBundle(" in s and len(s) < 10_000]
    assert len(starters) == 1, "expected one inline script that starts SwaggerUIBundle"
    return starters[0]


def document_url_of(page_url: str, page: str) -> str:
    """The URL the page's Swagger UI loads its document from, as a browser would resolve it."""
    script = swagger_config_script(page)
    # An embedded spec or a later updateUrl() would make the browser show another document than `url`.
    assert not re.search(r"\bspec\s*:", script), "the page embeds a document instead of loading one"
    assert "updateUrl(" not in script, "the page repoints Swagger UI after start-up"
    urls = _URL_OPTION.findall(script)
    assert len(urls) == 1, urls
    return urljoin(page_url, urls[0])


def effective_security(document: dict[str, Any], operation: dict[str, Any]) -> list[dict[str, list[str]]]:
    security: list[dict[str, list[str]]] = operation.get("security", document.get("security", []))
    return security


def test_swagger_ui_loads_the_whole_api_with_a_bearer_scheme(api: Api) -> None:
    # Given the docs page as a browser fetches it
    page_url = f"{api.base_url}/docs"
    page = api.get("/docs")
    assert page.status_code == 200, page.text[:200]
    assert page.headers["Content-Type"].startswith("text/html")

    # When the document its Swagger UI config points at is fetched
    document_url = document_url_of(page_url, page.text)
    assert document_url == f"{api.base_url}/openapi.json"
    response = requests.get(document_url, timeout=30)
    assert response.status_code == 200
    document = response.json()

    # Then it describes every deployed route
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    assert documented >= {(r.method, r.path) for r in SPEC.routes}

    # And has a bearer scheme that every authenticated route requires (the Authorize button fills it)
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["type"] == "http"
    assert schemes["bearerAuth"]["scheme"].lower() == "bearer"
    for route in SPEC.routes:
        security = effective_security(document, document["paths"][route.path][route.method.lower()])
        assert ({"bearerAuth": []} in security) == route.auth, route
