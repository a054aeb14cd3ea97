"""The journal's own rules, in-process: what is logged, its framing, and fail-stop when it cannot write.

``DataDirStore.serve`` is given a small WSGI app standing in for moto, so each rule is checked on the
records it leaves in ``journal.log``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from local_cloud.journal import JOURNAL_FILE, Journal, read_journal
from local_cloud.persistence import DataDirStore


class _App:
    """Answers every request with ``status`` and ``body``; counts the calls."""

    def __init__(self, status: str = "200 OK", body: bytes = b"{}") -> None:
        self.status, self.body, self.calls = status, body, 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.calls += 1
        start_response(self.status, [("Content-Type", "application/x-amz-json-1.0")])
        return [self.body]


def _environ(
    target: str | None = None, method: str = "POST", path: str = "/", body: bytes = b"{}"
) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "CONTENT_TYPE": "application/x-amz-json-1.0",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "HTTP_HOST": "127.0.0.1:1",
    }
    if target:
        environ["HTTP_X_AMZ_TARGET"] = target
    return environ


def _serve(store: DataDirStore, app: _App, environ: dict[str, Any]) -> tuple[str, bytes]:
    seen: list[str] = []
    body = b"".join(store.serve(app, environ, lambda status, headers, exc_info=None: seen.append(status)))
    return seen[0], body


def _store(tmp_path: Path) -> DataDirStore:
    return DataDirStore(tmp_path, Journal(tmp_path, next_seq=1))


def test_only_successful_writes_are_logged_with_their_body(tmp_path: Path) -> None:
    store = _store(tmp_path)
    item = json.dumps({"TableName": "t", "Item": {"pk": {"S": "a"}}}).encode()
    _serve(store, _App(), _environ("DynamoDB_20120810.PutItem", body=item))
    _serve(store, _App("400 Bad Request"), _environ("DynamoDB_20120810.PutItem", body=item))
    _serve(store, _App(), _environ("DynamoDB_20120810.GetItem"))
    _serve(store, _App(), _environ("DynamoDB_20120810.Query"))
    _serve(store, _App(), _environ("DynamoDBStreams_20120810.GetShardIterator"))
    _serve(store, _App(body=b"{}"), _environ("AmazonSQS.ReceiveMessage"))  # nothing received
    _serve(store, _App(body=b'{"Messages": [{"MessageId": "m"}]}'), _environ("AmazonSQS.ReceiveMessage"))
    _serve(store, _App(), _environ(method="GET", path="/media/a.png"))
    _serve(store, _App(), _environ(method="PUT", path="/media/a.png", body=b"\x89PNG"))

    records = read_journal(tmp_path / JOURNAL_FILE).records

    assert [(r.seq, r.environ.get("HTTP_X_AMZ_TARGET", r.environ["REQUEST_METHOD"])) for r in records] == [
        (1, "DynamoDB_20120810.PutItem"),
        (2, "AmazonSQS.ReceiveMessage"),
        (3, "PUT"),
    ]
    assert records[0].body == item and records[2].body == b"\x89PNG"
    assert all(r.status == 200 for r in records)
    assert len({r.seed for r in records}) == 3


def test_a_journal_that_cannot_be_written_refuses_the_write_and_every_later_one(tmp_path: Path) -> None:
    store = _store(tmp_path)
    app = _App()

    def broken() -> None:
        raise OSError(28, "No space left on device")

    store.journal._sync = broken  # type: ignore[method-assign]

    status, body = _serve(store, app, _environ("DynamoDB_20120810.PutItem"))
    assert status.startswith("503") and b"No space left on device" in body
    later, _ = _serve(store, app, _environ("AmazonSQS.SendMessage"))
    assert later.startswith("503")
    assert app.calls == 1  # the later write never reached moto
    read, _ = _serve(store, app, _environ("DynamoDB_20120810.GetItem"))
    assert read.startswith("200")  # reads go on


def test_sequence_numbers_go_on_across_a_reset(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _serve(store, _App(), _environ("DynamoDB_20120810.PutItem"))
    store.journal.reset()
    _serve(store, _App(), _environ("DynamoDB_20120810.DeleteItem"))
    assert [r.seq for r in read_journal(tmp_path / JOURNAL_FILE).records] == [2]


@pytest.mark.parametrize("cut", [1, 5, 9])
def test_a_torn_frame_keeps_every_record_before_it(tmp_path: Path, cut: int) -> None:
    store = _store(tmp_path)
    for _ in range(3):
        _serve(store, _App(), _environ("DynamoDB_20120810.PutItem"))
    path = tmp_path / JOURNAL_FILE
    path.write_bytes(path.read_bytes()[:-cut])
    scan = read_journal(path)
    assert [r.seq for r in scan.records] == [1, 2]
    assert scan.problem is not None and scan.bad_offset == scan.valid_bytes
