"""Parsing ``q``: the contract's grammar, and every bad input a 422 (never a 5xx)."""

from __future__ import annotations

import pytest

from functions.core.errors import Unprocessable
from functions.search.query import MAX_QUERY_CHARS, TweetQuery, parse_tweet_query, parse_user_query


def test_words_phrases_hashtags_and_authors_combine() -> None:
    query = parse_tweet_query('Rust  "Exact  Phrase" #Chirp from:Alice_1 fast')
    assert query == TweetQuery(
        words=("rust", "fast"), phrases=("exact phrase",), hashtags=("chirp",), authors=("alice_1",)
    )


def test_repeated_terms_count_once() -> None:
    assert parse_tweet_query("a a #x #X").words == ("a",)
    assert parse_tweet_query("a a #x #X").hashtags == ("x",)


def test_an_unbalanced_quote_makes_the_rest_a_phrase() -> None:
    query = parse_tweet_query('hello "big world')
    assert query.words == ("hello",) and query.phrases == ("big world",)


@pytest.mark.parametrize(
    ("q", "issue"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * (MAX_QUERY_CHARS + 1), "too_long"),
        ("from:", "invalid_author"),
        ("hello from:", "invalid_author"),
        ("from:not-a-name!", "invalid_author"),
        ('""', "no_terms"),
        ('" "', "no_terms"),
        ("# ## ###", "no_terms"),
        ("* ^ ( ) : -", "no_terms"),
        (" ".join(f"w{i}" for i in range(17)), "too_many_terms"),
    ],
)
def test_bad_queries_are_unprocessable_with_the_issue_named(q: str, issue: str) -> None:
    with pytest.raises(Unprocessable) as raised:
        parse_tweet_query(q)
    assert raised.value.status == 422
    assert raised.value.details == [{"field": "q", "issue": issue, "message": raised.value.message}]


def test_a_thousand_character_query_is_refused_not_parsed() -> None:
    with pytest.raises(Unprocessable):
        parse_tweet_query("a " * 500)


def test_engine_syntax_stays_in_the_terms_as_text() -> None:
    query = parse_tweet_query('NEAR(a b) title:x c++ "x AND y" -z')
    assert query.words == ("near(a", "b)", "title:x", "c++", "-z")
    assert query.phrases == ("x and y",)


def test_a_lone_hash_in_a_word_is_a_word() -> None:
    assert parse_tweet_query("c#").words == ("c#",)
    assert parse_tweet_query("#c-sharp").words == ("#c-sharp",)


def test_user_queries_take_a_prefix_and_display_name_tokens() -> None:
    assert parse_user_query("@Ali").prefix == "ali"
    assert parse_user_query("@Ali").tokens == ("ali",)
    query = parse_user_query("Ali Smi")
    assert query.prefix == "" and query.tokens == ("ali", "smi")
    with pytest.raises(Unprocessable):
        parse_user_query("@@")
    with pytest.raises(Unprocessable):
        parse_user_query(" ")
