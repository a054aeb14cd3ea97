"""The write-ahead journal of the embedded moto: every acknowledged AWS write is on disk first.

With ``--data-dir DIR`` the moto process (``local_cloud/moto_process.py``) appends each request that
changed its state to ``DIR/journal.log`` and fsyncs it *after* moto applied it and *before* the response
leaves the process. On start, ``local_cloud/persistence.py`` loads the last snapshot and replays the
journal's later records over it; each snapshot then empties the journal (rotation).

Why requests, and why after applying them:
- The request is the one description of a write that every service shares (DynamoDB items, SQS
  messages and receive counts, S3 objects, Cognito users and tokens). Logging state changes instead
  would need a hook into every moto model that can change, per service and per moto version; a
  request log needs one hook, the request gate every call already passes.
- Only requests that succeeded (2xx) and may have changed state are logged: a failed request applied
  nothing (moto undoes a failed transaction), so replaying it could only reproduce the failure. Reads
  (Get*, Describe*, List*, Query, Scan, GET/HEAD on S3, every DynamoDB Streams call) and receives that
  returned no message are not logged. Logging after applying keeps the log to what was acknowledged; a
  crash between applying and the fsync loses a write nobody was told about, which is allowed.

Replay must rebuild the same state, not merely a similar one, because clients hold what moto generated
(Cognito ``sub``, SQS message ids and receipt handles, DynamoDB Streams sequence numbers the pollers
checkpoint, timestamps). moto draws every such value from its one random generator
(``moto.moto_api._internal.mock_random``) and the clock. So each logged request carries a seed, drawn
fresh from ``os.urandom`` and given to that generator just before moto handles the request, and the
time it arrived; replay seeds the generator the same way and runs the request on a clock set to that
time (``time_machine``, which moves ``time.time`` and ``datetime.now`` for the duration), so moto draws
the same ids and stamps the same times. Requests run one at a time behind the gate, so the order in the
log is the order moto applied them. A replayed request whose status differs from the logged one is
reported (it would mean moto is not deterministic for that call).

Format: a file header (``MAGIC``), then records, each framed as ``>II`` (payload length, CRC-32 of the
payload) followed by the payload: ``>I`` length of a JSON header (``seq``, ``time``, ``seed``,
``status``, the WSGI ``environ`` keys of the request), the header, then the raw request body. A
truncated or corrupt record (short frame, wrong checksum, unreadable header) ends the readable log:
``read_journal`` keeps every record before it, reports the byte offset and how many records it kept,
and the bytes from there on are moved aside to ``journal.log.corrupt-<time>`` for inspection.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

logger = logging.getLogger(__name__)

JOURNAL_FILE = "journal.log"
MAGIC = b"LCJOURNAL1\n"
_FRAME = struct.Struct(">II")
_HEADER_LENGTH = struct.Struct(">I")
MAX_RECORD_BYTES = 1 << 30
"""A frame claiming more than this is corrupt (the gateway's own limit is 10 MB per request)."""

_ENVIRON_KEYS = (
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "wsgi.url_scheme",
)
_READ_PREFIXES = ("Get", "Describe", "List", "Query", "Scan", "BatchGet", "TransactGet", "Head")
_READ_ONLY_SERVICES = ("DynamoDBStreams_",)
"""X-Amz-Target prefixes whose every call leaves moto's durable state alone (shard iterators are not
kept across restarts: pollers ask for new ones from their checkpoints)."""


@dataclass(frozen=True)
class JournalRecord:
    """One acknowledged request, as ``replay`` needs it."""

    seq: int
    time: float
    seed: int
    status: int
    environ: dict[str, str]
    body: bytes = b""

    def encode(self) -> bytes:
        header = json.dumps(
            {
                "seq": self.seq,
                "time": self.time,
                "seed": self.seed,
                "status": self.status,
                "environ": self.environ,
            },
            separators=(",", ":"),
        ).encode()
        payload = _HEADER_LENGTH.pack(len(header)) + header + self.body
        return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload

    @staticmethod
    def decode(payload: bytes) -> JournalRecord:
        (length,) = _HEADER_LENGTH.unpack_from(payload)
        header = json.loads(payload[_HEADER_LENGTH.size : _HEADER_LENGTH.size + length])
        return JournalRecord(
            seq=int(header["seq"]),
            time=float(header["time"]),
            seed=int(header["seed"]),
            status=int(header["status"]),
            environ={str(k): str(v) for k, v in header["environ"].items()},
            body=payload[_HEADER_LENGTH.size + length :],
        )


@dataclass
class JournalScan:
    """What ``read_journal`` found: the readable records and, if the tail was bad, where and why."""

    records: list[JournalRecord] = field(default_factory=list)
    valid_bytes: int = 0
    bad_offset: int | None = None
    problem: str | None = None
    total_bytes: int = 0


def read_journal(path: Path) -> JournalScan:
    """Every intact record of the journal at ``path``, stopping at the first truncated or corrupt one."""
    scan = JournalScan()
    if not path.exists():
        return scan
    data = path.read_bytes()
    scan.total_bytes = len(data)
    if not data:
        return scan
    if not data.startswith(MAGIC):
        scan.bad_offset, scan.problem = 0, "not a journal (bad file header)"
        return scan
    offset = len(MAGIC)
    while offset < len(data):
        if len(data) - offset < _FRAME.size:
            scan.bad_offset, scan.problem = offset, "truncated record frame"
            break
        length, checksum = _FRAME.unpack_from(data, offset)
        start = offset + _FRAME.size
        if length > MAX_RECORD_BYTES or start + length > len(data):
            scan.bad_offset, scan.problem = offset, f"truncated record (frame says {length} bytes)"
            break
        payload = data[start : start + length]
        if zlib.crc32(payload) != checksum:
            scan.bad_offset, scan.problem = offset, "checksum mismatch"
            break
        try:
            scan.records.append(JournalRecord.decode(payload))
        except (ValueError, KeyError, TypeError, struct.error) as error:
            scan.bad_offset, scan.problem = offset, f"unreadable record header ({error})"
            break
        offset = start + length
    scan.valid_bytes = offset if scan.bad_offset is None else scan.bad_offset
    return scan


class Journal:
    """The open journal of one data dir: ``append`` returns once the record is on disk (fsync)."""

    def __init__(self, directory: Path, next_seq: int) -> None:
        self.path = directory / JOURNAL_FILE
        self.next_seq = next_seq
        self.records = 0
        self._file = self.path.open("ab")
        if self._file.tell() == 0:
            self._file.write(MAGIC)
            self._sync()

    def append(self, record: JournalRecord) -> None:
        self._file.write(record.encode())
        self._sync()
        self.next_seq = record.seq + 1
        self.records += 1

    def reset(self) -> None:
        """Empty the journal (after a snapshot that holds everything in it); sequence numbers go on."""
        self._file.truncate(0)
        self._file.seek(0)
        self._file.write(MAGIC)
        self._sync()
        self.records = 0

    def size(self) -> int:
        return self._file.tell()

    def close(self) -> None:
        self._file.close()

    def _sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())


def set_aside_corrupt_tail(path: Path, scan: JournalScan) -> Path | None:
    """Move the unreadable tail of the journal to a file of its own; keep the readable part in place."""
    if scan.bad_offset is None:
        return None
    data = path.read_bytes()
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
    aside.write_bytes(data[scan.valid_bytes :])
    with path.open("r+b") as stream:
        stream.truncate(max(scan.valid_bytes, 0))
        stream.flush()
        os.fsync(stream.fileno())
    logger.warning(
        "journal %s: %s at byte offset %d; kept the %d records before it, moved the last %d bytes to %s",
        path,
        scan.problem,
        scan.bad_offset,
        len(scan.records),
        len(data) - scan.valid_bytes,
        aside,
    )
    return aside


# -- what to log ----------------------------------------------------------------------------------------
def action_of(environ: Mapping[str, Any], body: bytes) -> str:
    """The API action of a request: the X-Amz-Target's operation, the query protocol's ``Action``, or
    the HTTP method for REST APIs (S3)."""
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if target:
        return target
    for source in (str(environ.get("QUERY_STRING", "")), _form_text(environ, body)):
        action = parse_qs(source).get("Action")
        if action:
            return action[0]
    return str(environ.get("REQUEST_METHOD", "GET"))


def _form_text(environ: Mapping[str, Any], body: bytes) -> str:
    if "application/x-www-form-urlencoded" in str(environ.get("CONTENT_TYPE", "")):
        return body.decode("latin-1")
    return ""


def may_change_state(environ: Mapping[str, Any], body: bytes) -> bool:
    """Whether a request might change moto's durable state (decided before moto runs it)."""
    path = str(environ.get("PATH_INFO", ""))
    if path.startswith("/moto-api/"):
        return path.rstrip("/") == "/moto-api/reset"
    action = action_of(environ, body)
    if action.startswith(_READ_ONLY_SERVICES):
        return False
    operation = action.rsplit(".", 1)[-1]
    if operation in ("GET", "HEAD", "OPTIONS"):
        return False
    return not operation.startswith(_READ_PREFIXES)


def changed_state(environ: Mapping[str, Any], body: bytes, status: int, response: Iterable[bytes]) -> bool:
    """Whether a request that ``may_change_state`` did: it succeeded, and a receive returned a message."""
    if not 200 <= status < 300:
        return False
    if action_of(environ, body).endswith("ReceiveMessage"):
        answer = b"".join(response)
        # JSON protocol: {"Messages": [...]}, {} when empty; query protocol: <Message> elements.
        return b'"Messages"' in answer or b"<Message>" in answer
    return True


def recorded_environ(environ: Mapping[str, Any]) -> dict[str, str]:
    """The parts of a WSGI environ moto reads: method, path, query, content headers, HTTP headers."""
    kept = {key: str(environ[key]) for key in _ENVIRON_KEYS if key in environ}
    kept.update({key: str(value) for key, value in environ.items() if key.startswith("HTTP_")})
    return kept


def new_seed() -> int:
    return int.from_bytes(os.urandom(8), "big")


def seed_moto(seed: int) -> None:
    """Seed moto's one generator of ids (message ids, receipt handles, Cognito subs, stream shards)."""
    from moto.moto_api._internal import mock_random

    mock_random.seed(seed)


App = Callable[[dict[str, Any], Any], Iterable[bytes]]


def replay(app: App, records: Iterable[JournalRecord]) -> tuple[int, int]:
    """Run ``records`` through moto's WSGI ``app`` as they first ran (same seed, same clock); return
    (replayed, diverged). Call it with the request gate held."""
    import io
    import sys

    import time_machine

    replayed = diverged = 0
    for record in records:
        environ: dict[str, Any] = dict(record.environ)
        environ.update(
            {
                "wsgi.input": io.BytesIO(record.body),
                "wsgi.errors": sys.stderr,
                "wsgi.version": (1, 0),
                "wsgi.multithread": False,
                "wsgi.multiprocess": False,
                "wsgi.run_once": False,
                "CONTENT_LENGTH": str(len(record.body)),
            }
        )
        statuses: list[int] = []

        def start_response(
            status: str, headers: Any, exc_info: Any = None, _seen: list[int] = statuses
        ) -> Any:
            _seen.append(int(status.split(" ", 1)[0]))
            return lambda _data: None

        with time_machine.travel(record.time, tick=True):
            seed_moto(record.seed)
            for _ in app(environ, start_response):
                pass
        replayed += 1
        if not statuses or statuses[0] != record.status:
            diverged += 1
            logger.warning(
                "journal record %d (%s) replayed with status %s, logged with %d",
                record.seq,
                action_of(record.environ, record.body),
                statuses[0] if statuses else "none",
                record.status,
            )
    return replayed, diverged
