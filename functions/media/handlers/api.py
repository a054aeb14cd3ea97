"""Lambda entry point of the media API: the shared entry point around this domain's routes."""

from __future__ import annotations

from functions.core.http import api_entry_point, build_app
from functions.media.handlers.routes import router

app = build_app(router)
lambda_handler = api_entry_point(app.resolve)
