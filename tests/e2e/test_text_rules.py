"""Text rules for tweets, display names and bios over HTTP: invisible, control and bidi characters are a
422 naming the field and the issue, and a refused request stores nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.client import PASSWORD, Account, Api, assert_error, sign_up_and_log_in, unique_name

pytestmark = pytest.mark.e2e

INVISIBLE_TWEETS = [
    "\u200b",  # zero width space
    "\ufeff",  # byte order mark
    "\u3164",  # hangul filler
    "\u115f\u1160",  # hangul choseong and jungseong fillers
    "\uffa0",  # halfwidth hangul filler
    "\u2800",  # braille pattern blank
    "\u0301",  # a combining mark with nothing to sit on
    "\u200f",  # right-to-left mark alone
    " \u200b\u3000\ufeff\n",
]
BIDI_TWEETS = ["https://example.com/\u202egpj.exe", "a\u202ab", "a\u202db", "\u2066x\u2069", "\u2068x"]
CONTROL_TWEETS = ["a\x00b", "a\x1b[2Jb", "a\tb", "a\rb"]


def refused(response: Any, field: str, issue: str) -> None:
    """A 422 in the contract's error shape whose details name ``field`` and ``issue``."""
    error = assert_error(response, 422, "validation_error")
    assert any(d["field"] == field and d["issue"] == issue for d in error["details"]), error
    assert all(isinstance(d["message"], str) and d["message"] for d in error["details"]), error


def me(api: Api, who: Account) -> dict[str, Any]:
    response = api.get("/users/me", who.token)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_invisible_control_and_bidi_tweets_are_refused_and_store_nothing(api: Api, alice: Account) -> None:
    cases = (
        [(text, "blank") for text in INVISIBLE_TWEETS]
        + [(text, "bidi_control") for text in BIDI_TWEETS]
        + [(text, "control_character") for text in CONTROL_TWEETS]
    )
    for text, issue in cases:
        refused(api.post("/tweets", alice.token, json={"text": text}), "text", issue)
    assert me(api, alice)["tweet_count"] == 0
    timeline = api.get(f"/timeline/user/{alice.user_id}", alice.token).json()
    assert timeline["tweets"] == []


def test_ordinary_text_in_any_script_is_posted_as_sent(api: Api, alice: Account) -> None:
    texts = [
        "👩‍💻 🇫🇷 ❤️",
        "שלום עולם!\u200f",
        "مرحبا بالعالم",
        "你好\uff0c世界",
        "line one\nline two",
        "\u200bx",
    ]
    for text in texts:
        response = api.post("/tweets", alice.token, json={"text": text})
        assert response.status_code == 201, (text, response.text)
        assert response.json()["text"] == text
    assert me(api, alice)["tweet_count"] == len(texts)


def test_extracted_urls_hold_no_bidi_or_hidden_characters(api: Api, alice: Account) -> None:
    response = api.post("/tweets", alice.token, json={"text": "עיין https://example.com/a\u200f\u200bb"})
    assert response.status_code == 201, response.text
    assert response.json()["entities"]["urls"] == ["https://example.com/a"]


BAD_DISPLAY_NAMES = [
    ("Ali\x00ce", "control_character"),
    ("Ali\x1b[31mce", "control_character"),
    ("Ali\nce", "control_character"),
    ("Alice\u202eeilA", "bidi_control"),
    ("\u2067Alice", "bidi_control"),
    ("", "blank"),
    ("   ", "blank"),
    ("\u200b\ufeff", "blank"),
    ("\u3164", "blank"),
    ("\u2800", "blank"),
    ("\u0301", "blank"),
]
BAD_BIOS = [
    ("hi\x00", "control_character"),
    ("hi \x1b[31m", "control_character"),
    ("line\r\nline", "control_character"),
    ("bio \u202eevil", "bidi_control"),
    ("bio \u2066x\u2069", "bidi_control"),
]


def test_bad_display_names_and_bios_are_refused_and_change_nothing(api: Api, alice: Account) -> None:
    api.patch("/users/me", alice.token, json={"bio": "before"})
    before = me(api, alice)
    for value, issue in BAD_DISPLAY_NAMES:
        refused(api.patch("/users/me", alice.token, json={"display_name": value}), "display_name", issue)
    for value, issue in BAD_BIOS:
        refused(api.patch("/users/me", alice.token, json={"bio": value}), "bio", issue)
    # A bad value next to a good one refuses the whole update.
    response = api.patch("/users/me", alice.token, json={"display_name": "New", "bio": "x\u202e"})
    refused(response, "bio", "bidi_control")
    assert me(api, alice) == before


def test_profiles_keep_newlines_in_bios_and_any_script_in_names(api: Api, alice: Account) -> None:
    update = {"display_name": "דני (Danny) 👩‍💻", "bio": "line one\nline two"}
    response = api.patch("/users/me", alice.token, json=update)
    assert response.status_code == 200, response.text
    assert {k: response.json()[k] for k in update} == update
    assert api.patch("/users/me", alice.token, json={"bio": ""}).json()["bio"] == ""


def test_sign_up_with_a_bad_display_name_is_refused_and_leaves_the_name_free(api: Api) -> None:
    name = unique_name()
    for value, issue in BAD_DISPLAY_NAMES:
        body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD, "display_name": value}
        refused(api.post("/auth/signup", json=body), "display_name", issue)
    assert sign_up_and_log_in(api, username=name, display_name="Fine").username == name
