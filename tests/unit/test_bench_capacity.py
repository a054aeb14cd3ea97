"""The bench's capacity and cost arithmetic against DynamoDB's published rules, on worked examples,
and its moto speed-ups against moto's own behaviour."""

from __future__ import annotations

import math

import pytest

from bench.capacity import (
    EVENTUAL,
    STRONG,
    TRANSACTIONAL,
    IndexSpec,
    cost_usd,
    get_items_rcu,
    index_write_wcu,
    item_size,
    item_write_wcu,
    number_size,
    query_rcu,
    read_units,
    value_size,
    write_units,
)


# ---- item sizes ----------------------------------------------------------------------------------------
def test_string_size_is_utf8_bytes_of_name_and_value() -> None:
    assert item_size({"id": {"S": "abc"}}) == 2 + 3
    assert item_size({"t": {"S": "héllo"}}) == 1 + 6  # é is two bytes in UTF-8
    assert item_size({"emoji": {"S": "\U0001f426"}}) == 5 + 4


@pytest.mark.parametrize(
    ("number", "size"),
    [
        ("0", 1),  # no significant digits
        ("7", 2),  # 1 digit -> 1 byte + 1
        ("12", 2),
        ("123", 3),
        ("1000", 2),  # trailing zeros trimmed: "1"
        ("0.00012", 2),  # leading zeros trimmed: "12"
        ("1234567890", 6),
        ("-5", 3),  # negative: one more byte
        ("12345678901234567890123456789012345678", 20),  # 38 digits
    ],
)
def test_number_size_counts_significant_digits(number: str, size: int) -> None:
    assert number_size(number) == size


def test_binary_null_bool_sizes() -> None:
    assert value_size({"B": b"\x00\x01\x02"}) == 3
    assert value_size({"B": "AAEC"}) == 3  # base64 text in a JSON request: the raw bytes count
    assert value_size({"NULL": True}) == 1
    assert value_size({"BOOL": False}) == 1


def test_list_and_map_have_3_bytes_plus_1_per_element() -> None:
    assert value_size({"L": []}) == 3
    assert value_size({"M": {}}) == 3
    # ["ab", 5]: 3 + (1 + 2) + (1 + 2)
    assert value_size({"L": [{"S": "ab"}, {"N": "5"}]}) == 9
    # {"k": "v"}: 3 + (1 + len("k") + 1)
    assert value_size({"M": {"k": {"S": "v"}}}) == 6
    assert item_size({"tags": {"L": [{"S": "chirp"}]}}) == 4 + 3 + 1 + 5


def test_sets_are_the_sum_of_their_elements() -> None:
    assert value_size({"SS": ["ab", "cde"]}) == 5
    assert value_size({"NS": ["1", "100"]}) == 4


def test_a_timeline_entry_item() -> None:
    entry = {
        "user_id": {"S": "8f2c6a0e-4b1d-4f7e-9a3c-2d5e6f708192"},  # 7 + 36
        "entry_id": {"S": "01KQ8Z5Y3M0000000000000000"},  # 8 + 26
        "original_id": {"S": "01KQ8Z5Y3M0000000000000000"},  # 11 + 26
        "author_id": {"S": "0b7c6a0e-4b1d-4f7e-9a3c-2d5e6f708192"},  # 9 + 36
    }
    assert item_size(entry) == 43 + 34 + 37 + 45
    assert item_write_wcu(None, entry) == 1


# ---- reads ---------------------------------------------------------------------------------------------
def test_read_units_round_up_to_4kb_with_a_minimum_of_one() -> None:
    assert read_units(0, EVENTUAL) == 0.5  # a missing item still costs the minimum
    assert read_units(1, STRONG) == 1
    assert read_units(4096, STRONG) == 1
    assert read_units(4097, STRONG) == 2
    assert read_units(10_000, EVENTUAL) == 1.5  # 3 units, eventually consistent
    assert read_units(5000, TRANSACTIONAL) == 4


def test_batch_get_rounds_each_item_but_query_rounds_the_sum() -> None:
    sizes = [1000] * 10  # ten 1 KB items
    assert get_items_rcu(sizes, STRONG) == 10  # each item its own 4 KB unit
    assert query_rcu(sizes, STRONG) == 3  # 10,000 bytes -> 3 units
    assert query_rcu(sizes, EVENTUAL) == 1.5
    assert query_rcu([], EVENTUAL) == 0.5


# ---- writes --------------------------------------------------------------------------------------------
def test_write_units_are_1kb_each_larger_image_and_2x_in_transactions() -> None:
    assert write_units(0) == 1
    assert write_units(1024) == 1
    assert write_units(1025) == 2
    assert write_units(3500, TRANSACTIONAL) == 8
    small, big = {"a": {"S": "x" * 100}}, {"a": {"S": "x" * 1500}}
    assert item_write_wcu(big, small) == 2  # an update shrinking a 1.5 KB item costs its old size
    assert item_write_wcu(big, None) == 2  # a delete costs the deleted item's size
    assert item_write_wcu(None, None) == 1  # deleting nothing still costs one unit
    assert item_write_wcu(None, small, TRANSACTIONAL) == 2


def test_secondary_index_writes() -> None:
    by_author = IndexSpec("by_author", ("author_id", "tweet_id"))
    by_reply = IndexSpec("by_reply_to", ("reply_to", "tweet_id"))
    tweet = {"tweet_id": {"S": "t1"}, "author_id": {"S": "a"}, "like_count": {"N": "0"}}
    liked = {**tweet, "like_count": {"N": "1"}}
    moved = {**tweet, "author_id": {"S": "b"}}
    assert index_write_wcu([by_author, by_reply], None, tweet) == 1  # sparse by_reply_to: not written
    assert index_write_wcu([by_author], tweet, liked) == 1  # projected attribute changed
    assert index_write_wcu([by_author], tweet, tweet) == 0  # nothing changed
    assert index_write_wcu([by_author], tweet, moved) == 2  # key changed: delete + put
    assert index_write_wcu([by_author], tweet, None) == 1  # item deleted


def test_an_index_that_does_not_carry_an_attribute_is_not_written_when_it_changes() -> None:
    by_author = IndexSpec("by_author", ("author_id", "tweet_id"), ("tweet_id",), include=("kind",))
    tweet = {
        "tweet_id": {"S": "t1"},
        "author_id": {"S": "a"},
        "kind": {"S": "tweet"},
        "text": {"S": "x" * 2000},
        "like_count": {"N": "0"},
    }
    assert index_write_wcu([by_author], tweet, {**tweet, "like_count": {"N": "1"}}) == 0
    assert index_write_wcu([by_author], tweet, {**tweet, "kind": {"S": "retweet"}}) == 1
    # The entry written is the keys and the included attribute, not the 2 KB item.
    assert index_write_wcu([by_author], None, tweet) == 1
    assert index_write_wcu([IndexSpec("all", ("author_id", "tweet_id"))], None, tweet) == 2


def test_cost_uses_the_on_demand_prices() -> None:
    assert math.isclose(cost_usd(1_000_000, 0), 0.125)
    assert math.isclose(cost_usd(0, 1_000_000), 0.625)
    assert math.isclose(cost_usd(2_000_000, 2_000_000, 1_000_000), 0.25 + 1.25 + 0.40)
