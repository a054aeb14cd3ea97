"""The Swagger UI page of the local runtime, pointed at the whole API's OpenAPI document.

Powertools' own Swagger route embeds the schema of the resolver that serves it, here the docs function's
two routes only, and then repoints the page at ``?format=json``, the same partial document. This page
instead loads ``/openapi.json``, the document built from every domain's routes, so the browser shows the
whole API and its bearer scheme (the Authorize button). The script and style sheet ship inside
Powertools, so the page works without reaching a CDN.
"""

from __future__ import annotations

import html
import json
from functools import lru_cache
from pathlib import Path

import aws_lambda_powertools.event_handler as event_handler

_ASSETS = Path(event_handler.__file__).parent / "openapi" / "swagger_ui"


@lru_cache(maxsize=1)
def swagger_page(document_url: str, title: str) -> str:
    """HTML that starts Swagger UI on ``document_url`` (a path on this host), with the bearer token
    kept across reloads so a developer authorises once."""
    script = (_ASSETS / "swagger-ui-bundle.min.js").read_text(encoding="utf-8")
    style = (_ASSETS / "swagger-ui.min.css").read_text(encoding="utf-8")
    options = {
        "url": document_url,
        "dom_id": "#swagger-ui",
        "deepLinking": True,
        "docExpansion": "list",
        "filter": True,
        "persistAuthorization": True,
    }
    # json.dumps keeps the values valid JavaScript; escaping "</" stops a value from closing the script.
    config = json.dumps(options, indent=2).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html>
<head>
  <meta charset="UTF-8">
  <title>{html.escape(title)}</title>
  <style>{style}</style>
</head>
<body>
  <div id="swagger-ui">Loading...</div>
  <script>{script}</script>
  <script>
    var swaggerUIOptions = {config};
    swaggerUIOptions.presets = [SwaggerUIBundle.presets.apis];
    window.ui = SwaggerUIBundle(swaggerUIOptions);
  </script>
</body>
</html>
"""
