"""Lambda entry point of the graph API: the shared entry point around this domain's routes.

The routes (and with them the domain's models and data layer) are imported and built into the resolver
on the first invocation, not when Lambda imports this module (``functions.core.entry_points``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.core.entry_points import api_entry_point, lazy_resolver

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.api_gateway import Router


def routers() -> list[Router]:
    from functions.graph.handlers.routes import router

    return [router]


lambda_handler = api_entry_point(lazy_resolver(routers))
