"""A browser page on another origin can call the local cloud (any origin unless CORS_ALLOWED_ORIGINS is
set): preflights pass, and function responses and gateway errors both carry the CORS headers."""

from __future__ import annotations

from tests.support.client import Account, Api

ORIGIN = "http://localhost:5173"


def test_a_preflight_then_the_call_both_allow_the_page(api: Api, alice: Account) -> None:
    preflight = api.call(
        "OPTIONS",
        "/tweets",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    posted = api.post("/tweets", alice.token, json={"text": "from a browser"}, headers={"Origin": ORIGIN})
    assert posted.status_code == 201
    assert posted.headers["Access-Control-Allow-Origin"] == "*"
    assert "Retry-After" in posted.headers["Access-Control-Expose-Headers"]


def test_gateway_errors_are_readable_by_the_page(api: Api) -> None:
    refused = api.get("/users/me", headers={"Origin": ORIGIN})
    assert refused.status_code == 401 and refused.headers["Access-Control-Allow-Origin"] == "*"
