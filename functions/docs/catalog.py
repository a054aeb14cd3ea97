"""Every domain's router, for the one OpenAPI document that describes the whole API."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.api_gateway import Router

PUBLIC_PATHS = ("/health", "/openapi.json", "/auth/")
"""Routes without the authorizer (tests/e2e checks this against the deployed route table)."""


def domain_routers() -> list[Router]:
    # Imported here, not at module import, so /health stays cheap on a cold start.
    from functions.graph.handlers.routes import router as graph
    from functions.media.handlers.routes import router as media
    from functions.search.handlers.routes import router as search
    from functions.timeline.handlers.routes import router as timeline
    from functions.tweets.handlers.routes import router as tweets
    from functions.users.handlers.routes import router as users

    return [users, graph, tweets, timeline, media, search]
