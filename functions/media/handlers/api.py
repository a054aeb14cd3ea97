"""Lambda entry point of the media API: the shared entry point around this domain's routes.

The routes (and with them the domain's models and data layer) are imported and built into the resolver
on the first invocation, not when Lambda imports this module (``functions.core.entry_points``).
"""

from __future__ import annotations

from functions.core.entry_points import api_entry_point, lazy_resolver

lambda_handler = api_entry_point(lazy_resolver("functions.media.handlers.routes"))
