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


# ---- visible characters, controls and bidi controls ---------------------------------------------------
INVISIBLE_ONLY = {
    "zero width space": "\u200b",
    "byte order mark": "\ufeff",
    "word joiner": "\u2060",
    "soft hyphen": "\u00ad",
    "hangul filler": "\u3164",
    "hangul choseong filler": "\u115f",
    "hangul jungseong filler": "\u1160",
    "halfwidth hangul filler": "\uffa0",
    "braille blank": "\u2800",
    "musical null notehead": "\U0001d159",
    "lone combining mark": "\u0301",
    "lone enclosing mark": "\u20dd",
    "lone variation selector": "\ufe0f",
    "marks and joiners": "\u200d\u0301\u200c",
    "left-to-right mark": "\u200e",
    "right-to-left mark": "\u200f",
    "ideographic space and zwsp": "\u3000\u200b\u3000",
    "line and paragraph separators": "\u2028\u2029",
    "mixed invisibles": " \u200b\ufeff\u3164\u2800\u0301\n",
}


@pytest.mark.parametrize("text", INVISIBLE_ONLY.values(), ids=INVISIBLE_ONLY.keys())
def test_text_of_only_invisible_characters_is_refused_as_blank(text: str) -> None:
    with pytest.raises(TextRuleError) as refused:
        normalise(text)
    assert refused.value.issue == "blank"


BIDI_CONTROLS = {
    "LRE": "\u202a",
    "RLE": "\u202b",
    "PDF": "\u202c",
    "LRO": "\u202d",
    "RLO": "\u202e",
    "LRI": "\u2066",
    "RLI": "\u2067",
    "FSI": "\u2068",
    "PDI": "\u2069",
}


@pytest.mark.parametrize("control", BIDI_CONTROLS.values(), ids=BIDI_CONTROLS.keys())
def test_bidi_embeddings_overrides_and_isolates_are_refused(control: str) -> None:
    with pytest.raises(TextRuleError) as refused:
        normalise(f"invoice{control}gpj.exe")
    assert refused.value.issue == "bidi_control"
    assert f"U+{ord(control):04X}" in refused.value.message


@pytest.mark.parametrize("control", ["\x00", "\x07", "\x1b", "\t", "\r", "\x7f", "\x85", "\x9b"])
def test_control_characters_other_than_newline_are_refused(control: str) -> None:
    with pytest.raises(TextRuleError) as refused:
        normalise(f"a{control}b")
    assert refused.value.issue == "control_character"


ORDINARY_TEXT = {
    "emoji zwj sequence": "👩‍💻 shipping",
    "emoji only": "👩‍👩‍👧‍👦",
    "flag": "🇫🇷🇯🇵",
    "subdivision flag": "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
    "emoji with variation selector": "❤️",
    "keycap": "1\ufe0f\u20e3",
    "arabic": "مرحبا بالعالم",
    "hebrew": "שלום עולם",
    "hebrew with rlm before punctuation": "שלום!\u200f",
    "arabic letter mark": "\u061c123 مرحبا",
    "cjk": "你好\uff0c世界。こんにちは 안녕하세요",
    "devanagari with spacing mark": "नमस्ते",
    "combining accent on a base": "Cafe\u0301",
    "zwsp between words": "soft\u200bwrap",
    "newlines": "line one\n\nline two\n",
    "single visible character": "\u200b.\u200b",
}


@pytest.mark.parametrize("text", ORDINARY_TEXT.values(), ids=ORDINARY_TEXT.keys())
def test_ordinary_text_in_any_script_passes(text: str) -> None:
    assert normalise(text) == unicodedata.normalize("NFC", text)


def test_rule_errors_name_the_issue_in_request_validation() -> None:
    for text, issue in (("\u200b", "blank"), ("a\u202eb", "bidi_control"), ("a\tb", "control_character")):
        with pytest.raises(ValidationError) as refused:
            TweetCreate.model_validate({"text": text})
        (error,) = refused.value.errors()
        assert error["loc"] == ("text",) and error["type"] == issue, error
    with pytest.raises(ValidationError) as refused:
        TweetCreate.model_validate({"text": "a" * 281})
    assert refused.value.errors()[0]["type"] == "string_too_long"


@pytest.mark.parametrize(
    ("text", "urls"),
    [
        ("see https://example.com/\u202egpj.exe", ["https://example.com/"]),
        ("https://a.io/x\u2066y https://b.io", ["https://a.io/x", "https://b.io"]),
        ("https://a.io\u200fhttps://b.io", ["https://a.io", "https://b.io"]),
        ("https://a.io/p\u200bq", ["https://a.io/p"]),
        ("https://a.io/p\u00adq", ["https://a.io/p"]),
        ("https://a.io/\u202e", ["https://a.io/"]),
        ("https://\u202eexample.com", []),
        ("https://x.io/👩‍💻", ["https://x.io/👩‍💻"]),  # the ZWJ belongs to the emoji
    ],
)
def test_urls_end_at_bidi_controls_and_hidden_format_characters(text: str, urls: list[str]) -> None:
    found = extract_entities(text).urls
    assert found == urls
    assert not any(ch in url for url in found for ch in (*BIDI_CONTROLS.values(), "\u200e", "\u200f"))


def test_a_hashtag_after_a_cut_url_is_still_found() -> None:
    assert extract_entities("https://a.io\u200b#tag").hashtags == ["tag"]
    assert extract_entities("https://a.io/#frag").hashtags == []
