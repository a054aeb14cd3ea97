"""Tweet text rules and entity extraction (pure functions and the request model)."""

from __future__ import annotations

import unicodedata

import pytest
from pydantic import ValidationError

from functions.tweets.models import TweetCreate, is_tweet_id
from functions.tweets.text import TextRuleError, extract_entities, normalise


def test_text_is_stored_in_nfc_form() -> None:
    decomposed = "Cafe\u0301"  # e + combining acute accent
    assert normalise(decomposed) == "Café"
    assert unicodedata.is_normalized("NFC", normalise(decomposed))


def test_length_counts_code_points_after_normalisation() -> None:
    assert normalise("a" * 280) == "a" * 280
    # 280 decomposed characters are 560 code points before NFC and 280 after: allowed.
    assert len(normalise("e\u0301" * 280)) == 280
    # Emoji outside the BMP count as one code point each.
    assert normalise("😀" * 280) == "😀" * 280
    with pytest.raises(TextRuleError):
        normalise("😀" * 281)


@pytest.mark.parametrize(
    "text",
    ["", " ", "\n\n", " \u3000 ", "a" * 281, "tab\there", "bell\x07", "cr\r\nlf", "nul\x00", "del\x7f"],
)
def test_bad_text_is_refused(text: str) -> None:
    with pytest.raises(TextRuleError):
        normalise(text)


def test_newlines_are_allowed() -> None:
    assert normalise("line one\nline two") == "line one\nline two"


def test_entities_are_extracted() -> None:
    text = "Hi @bob_1 and @Alice! #Chirp #café #chirp see https://example.com/a?b=1, http://x.io/#frag."
    entities = extract_entities(text)
    assert entities.hashtags == ["Chirp", "café"]  # case-insensitive repeat dropped, unicode kept
    assert entities.mentions == ["bob_1", "Alice"]
    assert entities.urls == ["https://example.com/a?b=1", "http://x.io/#frag"]  # no hashtag from #frag


@pytest.mark.parametrize(
    ("text", "mentions"),
    [
        ("mail me at bob@example.com", []),  # an e-mail address is not a mention
        ("@" + "a" * 16, []),  # longer than a username can be
        ("@" + "a" * 15 + " ok", ["a" * 15]),
        ("@@bob", []),
        ("(@bob)", ["bob"]),
    ],
)
def test_mentions_follow_the_username_rule(text: str, mentions: list[str]) -> None:
    assert extract_entities(text).mentions == mentions


def test_hashtags_need_a_word_boundary() -> None:
    assert extract_entities("a#b ##c #d_e").hashtags == ["d_e"]
    assert extract_entities("no tags here").hashtags == []


def test_request_model_normalises_and_rejects_unknown_fields() -> None:
    assert TweetCreate.model_validate({"text": "Cafe\u0301"}).text == "Café"
    for extra in ({"like_count": 5}, {"user_id": "x"}, {"tweet_id": "x"}):
        with pytest.raises(ValidationError):
            TweetCreate.model_validate({"text": "ok", **extra})
    with pytest.raises(ValidationError):
        TweetCreate.model_validate({"text": "ok", "media_ids": ["a", "b", "c", "d", "e"]})
    with pytest.raises(ValidationError):
        TweetCreate.model_validate({"text": "   "})


def test_tweet_ids_are_ulids() -> None:
    assert is_tweet_id("01KQ8Z5Y3M0000000000000000")
    for bad in ("", "nope", "01kq8z5y3m0000000000000000", "01KQ8Z5Y3M000000000000000U", "x" * 3000, None):
        assert not is_tweet_id(bad)
