"""``make reindex`` on the local engine: documents the index lost come back from the tables, newer ones
stand, and a deleted tweet stays out of search."""

from __future__ import annotations

import importlib.util
import sqlite3
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support.client import Account, Api, post_tweet

_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "reindex.py"
_spec = importlib.util.spec_from_file_location("reindex", _SCRIPT)
assert _spec is not None and _spec.loader is not None
reindex = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("reindex", reindex)
_spec.loader.exec_module(reindex)


def found(api: Api, who: Account, q: str) -> list[str]:
    response = api.get("/search/tweets", who.token, params={"q": q})
    assert response.status_code == 200, response.text
    return [t["tweet_id"] for t in response.json()["tweets"]]


def wait_for(check: Any, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline
        time.sleep(0.1)


def forget(database: Path, tweet_id: str) -> None:
    """Take a document out of the index behind the indexer's back (a lost write)."""
    with sqlite3.connect(database) as connection:
        connection.execute(
            "INSERT INTO tweets_fts (tweets_fts, rowid, text, hashtags) "
            "SELECT 'delete', doc, text, hashtags FROM tweets WHERE tweet_id = ? AND deleted = 0",
            (tweet_id,),
        )
        connection.execute("DELETE FROM tweets WHERE tweet_id = ?", (tweet_id,))


@pytest.mark.e2e
def test_reindex_restores_lost_documents_and_keeps_deleted_tweets_out(
    api: Api, alice: Account, cloud: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    m = "r" + uuid.uuid4().hex[:10]
    kept = post_tweet(api, alice, f"{m} kept")
    gone = post_tweet(api, alice, f"{m} deleted")
    wait_for(lambda: set(found(api, alice, m)) == {kept, gone})
    assert api.delete(f"/tweets/{gone}", alice.token).status_code == 204
    assert cloud.wait_idle(30)
    database = cloud.search.database("search")
    forget(database, kept)
    assert found(api, alice, m) == []

    assert reindex.main(["--engine", cloud.search.endpoints["search"]]) == 0

    assert "reindexed" in capsys.readouterr().out
    assert found(api, alice, m) == [kept]
    with sqlite3.connect(database) as connection:
        (deleted,) = connection.execute("SELECT deleted FROM tweets WHERE tweet_id = ?", (gone,)).fetchone()
    assert deleted == 1, "the tombstone stands: the scan's version is lower than the REMOVE's"
