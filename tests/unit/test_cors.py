"""Which browser origins may call the API and the headers that tell them (functions/core/cors.py), as the
functions add them to their responses."""

from __future__ import annotations

import pytest

from functions.core import cors
from functions.core.http import with_cors


def test_origins_parse_from_a_comma_separated_setting() -> None:
    assert cors.parse_origins(" https://a.example/, https://b.example ,") == (
        "https://a.example",
        "https://b.example",
    )
    assert cors.parse_origins("") == () and cors.parse_origins(None) == ()


def test_a_listed_origin_is_named_and_varies_and_an_unlisted_one_gets_nothing() -> None:
    allowed = ("https://app.example",)
    headers = cors.response_headers("https://app.example", allowed)
    assert headers["Access-Control-Allow-Origin"] == "https://app.example" and headers["Vary"] == "Origin"
    assert headers["Access-Control-Expose-Headers"] == "Retry-After"
    assert cors.response_headers("https://evil.example", allowed) == {}
    assert cors.response_headers(None, allowed) == {}
    assert cors.response_headers("https://app.example", ()) == {}


def test_any_origin_is_star_without_vary_and_preflights_list_methods_and_headers() -> None:
    headers = cors.preflight_headers("https://x.example", ("*",))
    assert headers["Access-Control-Allow-Origin"] == "*" and "Vary" not in headers
    assert "Authorization" in headers["Access-Control-Allow-Headers"]
    assert "PATCH" in headers["Access-Control-Allow-Methods"]


def test_function_responses_carry_the_headers_for_the_requests_origin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(cors.ENV_VAR, "https://app.example")
    event = {"headers": {"origin": "https://app.example"}}
    single = with_cors(event, {"statusCode": 200, "headers": {"Cache-Control": "no-store"}})
    assert single["headers"]["Access-Control-Allow-Origin"] == "https://app.example"
    assert single["headers"]["Cache-Control"] == "no-store"
    multi = with_cors(event, {"statusCode": 201, "multiValueHeaders": {"Set": ["a"]}})
    assert multi["multiValueHeaders"]["Access-Control-Allow-Origin"] == ["https://app.example"]
    other = with_cors({"headers": {"Origin": "https://evil.example"}}, {"statusCode": 200, "headers": {}})
    assert "Access-Control-Allow-Origin" not in other["headers"]
    monkeypatch.delenv(cors.ENV_VAR)
    assert with_cors(event, {"statusCode": 200, "headers": {}}) == {"statusCode": 200, "headers": {}}
