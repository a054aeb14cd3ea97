from __future__ import annotations

import pytest

from functions.core import pagination
from functions.core.errors import InvalidCursor


@pytest.fixture(autouse=True)
def signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CURSOR_SIGNING_KEY", "unit-test-key")
    pagination._signing_key.cache_clear()


def test_a_cursor_round_trips_within_its_scope() -> None:
    cursor = pagination.encode_cursor("followers:u1", {"follow_seq": "01J", "n": 3})
    assert pagination.decode_cursor("followers:u1", cursor) == {"follow_seq": "01J", "n": 3}
    assert pagination.decode_cursor("followers:u1", None) is None


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c[:-2] + ("AA" if c[-2:] != "AA" else "BB"),
        lambda c: "x" + c,
        lambda c: c.replace(".", ""),
        lambda c: "not-a-cursor",
        lambda c: "",
    ],
)
def test_a_tampered_cursor_is_refused(mutate) -> None:  # type: ignore[no-untyped-def]
    cursor = pagination.encode_cursor("followers:u1", {"follow_seq": "01J"})
    with pytest.raises(InvalidCursor):
        pagination.decode_cursor("followers:u1", mutate(cursor))


def test_a_cursor_from_another_list_is_refused() -> None:
    cursor = pagination.encode_cursor("followers:u1", {"follow_seq": "01J"})
    with pytest.raises(InvalidCursor):
        pagination.decode_cursor("followers:u2", cursor)


def test_a_cursor_signed_with_another_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    cursor = pagination.encode_cursor("s", {"k": 1})
    monkeypatch.setenv("CURSOR_SIGNING_KEY", "other-key")
    pagination._signing_key.cache_clear()
    with pytest.raises(InvalidCursor):
        pagination.decode_cursor("s", cursor)
