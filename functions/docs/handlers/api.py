"""Lambda entry point of the docs function: health, the OpenAPI document and (locally) Swagger UI.

The routes (``functions.docs.handlers.routes``) are imported on the first invocation, so a cold /health
loads neither the OpenAPI models nor any domain (``functions.core.entry_points``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.core.config import FunctionSettings, load
from functions.core.entry_points import api_entry_point, lazy_resolver
from functions.docs.catalog import PUBLIC_PATHS as PUBLIC_PATHS  # the routes without the authorizer

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.api_gateway import Router


def routers() -> list[Router]:
    """The document's routes, and locally Swagger UI's (the stack does not deploy /docs)."""
    from functions.docs.handlers.routes import local_router, router

    return [router, local_router] if load(FunctionSettings).stage == "local" else [router]


lambda_handler = api_entry_point(lazy_resolver(routers))
