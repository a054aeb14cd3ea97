"""``--data-dir`` support: the embedded moto's state survives restarts, crashes and ``kill -9``.

A data dir is a snapshot plus a write-ahead journal:

- **Journal** (``local_cloud/journal.py``): once ``load`` ran, the moto process appends every request
  that changed its state and succeeded to ``DIR/journal.log`` and fsyncs it before the response goes
  out, so nothing acknowledged is lost however the process ends. That module explains why requests
  (not state changes) are logged, why after applying them, and how replay draws the same ids.
- **Snapshot** (``DIR/moto-state.pickle``): moto keeps each service's state in plain Python objects
  (``moto.backends.get_backend(name)``, one backend per account and region). ``write_snapshot``
  pickles those of DynamoDB (tables, items, stream records), DynamoDB Streams, SQS (queues and
  messages, in flight or not), S3 (buckets and objects) and Cognito (pools, clients, users with their
  ``sub``) while the gate holds every request, so it is consistent, and empties the journal in the
  same hold. Its header carries the poller checkpoints and ``journal_seq``, the last journal record
  it holds, so a crash between writing it and emptying the journal never replays a record twice.
  Written every ``interval`` seconds, at a clean stop, and at each start (after the replay).
- **Start** (``DataDirStore.open``, in the moto process): restore the snapshot, replay the journal's
  records after ``journal_seq`` (a truncated or corrupt tail is reported and set aside, the records
  before it kept), write a fresh snapshot, then journal from there.
- **One owner** (``DataDirLock``): ``Persistence.load`` takes an exclusive ``flock`` on ``DIR/LOCK``
  first; the kernel releases it when the process ends, however it ends.

Three things in moto's state do not pickle as-is; ``_SnapshotPickler`` handles them:
thread locks/conditions (SQS queues) are recreated empty, Cognito's RSA signing key is stored as
PEM, and moto's DynamoDB Streams shard iterators are dropped (AWS expires them after 15 minutes
anyway; pollers ask for a new one from their checkpoint).

Versions: the pickle is tied to the moto version that wrote it (it holds moto's classes): format 2
(before the journal) is read and rewritten as format 3 by the same moto version. Every snapshot also
writes the portable form ``DIR/moto-state.portable.json`` (AWS wire format, same ``journal_seq``;
format and limits in ``local_cloud/portable.py``). A start uses the pickle when this moto wrote it,
else the portable snapshot (another moto version: the migration path; stream records and poller
checkpoints start afresh), else refuses the pickle with the command that writes the portable form
with the old moto (``python -m local_cloud.portable export --data-dir DIR``). It only works for the
embedded server (an external endpoint such as DynamoDB Local persists by its own means). Snapshots
are written to a temporary file, fsynced and renamed, so a crash while saving leaves the previous
snapshot intact.
"""

from __future__ import annotations

import io
import json
import logging
import os
import pickle
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from local_cloud.aws import ControlError, LocalAws
from local_cloud.journal import (
    JOURNAL_FILE,
    Journal,
    JournalRecord,
    changed_state,
    may_change_state,
    new_seed,
    read_journal,
    recorded_environ,
    replay,
    seed_moto,
    set_aside_corrupt_tail,
)
from local_cloud.portable import PORTABLE_FILE, PortableError, encode, export_state, load_state, read_portable

logger = logging.getLogger(__name__)

SERVICES = ("dynamodb", "dynamodbstreams", "sqs", "s3", "cognito-idp")
SNAPSHOT_FILE = "moto-state.pickle"
FORMAT_VERSION = 3
READABLE_FORMATS = (2, 3)
"""Format 2 (no ``journal_seq``) is read as format 3 with an empty journal, then rewritten."""


class SnapshotError(RuntimeError):
    """A snapshot cannot be loaded into this process (other moto version, corrupt file)."""


@dataclass
class Snapshot:
    """What ``load`` restored besides moto's state."""

    saved_at: float
    checkpoints: dict[str, str] = field(default_factory=dict)
    """Stream poller checkpoints (``PollerGroup.checkpoints()``) at save time."""
    journal: dict[str, Any] = field(default_factory=dict)
    """What the load found in the journal: ``replayed``, ``diverged``, ``kept_records``,
    ``corrupt_offset`` and ``corrupt_problem`` (None when the tail was intact), ``replay_ms``."""

    def as_dict(self) -> dict[str, Any]:
        return {"saved_at": self.saved_at, "checkpoints": dict(self.checkpoints)}


def _load_private_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(pem, password=None)


_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


class _SnapshotPickler(pickle.Pickler):
    """A pickler for moto's backends: recreates locks, stores RSA keys as PEM, drops shard iterators."""

    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        # Resolved once: reducer_override runs for every object in the state.
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from moto.dynamodbstreams.models import DynamoDBStreamsBackend

        self._serialization = serialization
        self._rsa_key_type = rsa.RSAPrivateKey
        self._streams_backend_type = DynamoDBStreamsBackend

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, threading.Condition):
            return threading.Condition, ()
        if isinstance(obj, _LOCK_TYPES):
            return (threading.RLock if "RLock" in type(obj).__name__ else threading.Lock), ()
        if isinstance(obj, self._rsa_key_type):
            pem = obj.private_bytes(
                self._serialization.Encoding.PEM,
                self._serialization.PrivateFormat.PKCS8,
                self._serialization.NoEncryption(),
            )
            return _load_private_key, (pem,)
        if isinstance(obj, self._streams_backend_type) and obj.shard_iterators:
            return _restore_object, (type(obj), dict(obj.__dict__, shard_iterators={}))
        return NotImplemented


def _restore_object(cls: type[Any], state: dict[str, Any]) -> Any:
    obj = object.__new__(cls)
    obj.__dict__.update(state)
    return obj


_BACKEND_DICT_FIELDS = {"backend", "service_name", "_use_boto3_regions", "_additional_regions", "_id"}


def _collect_backends() -> dict[str, Any]:
    from moto.backends import get_backend

    state: dict[str, Any] = {}
    for name in SERVICES:
        backend_dict: Any = get_backend(name)  # type: ignore[call-overload]
        state[name] = {
            "backends": list(backend_dict.iter_backends()),
            # Registries kept on the BackendDict itself, e.g. S3's bucket_accounts (bucket -> owner):
            # without it CreateBucket on a restored bucket silently replaces it with an empty one.
            "extras": {k: v for k, v in vars(backend_dict).items() if k not in _BACKEND_DICT_FIELDS},
        }
    return state


def save(
    data_dir: str | os.PathLike[str],
    aws: LocalAws,
    *,
    checkpoints: Mapping[str, str] | None = None,
) -> Path:
    """Write a consistent snapshot of the embedded moto into ``data_dir``; return its path.

    Pass the poller checkpoints read *before* this call: a checkpoint never points past records the
    snapshot holds, so a restart re-delivers at worst a few records (consumers are idempotent).
    """
    directory = Path(data_dir).resolve()
    request = {"data_dir": str(directory), "checkpoints": dict(checkpoints or {})}
    result = aws.control("snapshot/save", request)
    return Path(result["path"])


def load(data_dir: str | os.PathLike[str], aws: LocalAws) -> Snapshot | None:
    """Restore the data dir into the running embedded moto (snapshot, then the journal's records after
    it) and turn on its journal; None if the dir holds neither.

    Call it right after ``aws.start()`` and before ``provision`` (which then reuses what it finds):
    requests before it are not journaled. Raises SnapshotError for a snapshot this moto cannot take
    (another moto version, a corrupt file).
    """
    directory = Path(data_dir).resolve()
    try:
        answer = aws.control("snapshot/load", {"data_dir": str(directory)})
    except ControlError as error:
        raise SnapshotError(str(error)) from error
    found = answer["snapshot"]
    if found is None:
        return None
    return Snapshot(
        saved_at=float(found["saved_at"]),
        checkpoints=dict(found["checkpoints"]),
        journal=dict(answer.get("journal") or {}),
    )


def _header(checkpoints: Mapping[str, str], journal_seq: int) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "moto": version("moto"),
        "saved_at": time.time(),
        "checkpoints": dict(checkpoints or {}),
        "journal_seq": journal_seq,
    }


def _write_file(directory: Path, target: Path, data: bytes) -> None:
    """Write then rename: a crash mid-write must not destroy the previous snapshot."""
    with tempfile.NamedTemporaryFile(dir=directory, prefix=".snapshot-", delete=False) as tmp:
        tmp.write(data)
        tmp.flush()
        os.fsync(tmp.fileno())
    os.replace(tmp.name, target)
    # The rename itself is durable only once the directory is synced.
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_snapshot(
    data_dir: str | os.PathLike[str],
    gate: Any,
    checkpoints: Mapping[str, str],
    store: DataDirStore | None = None,
) -> Path:
    """``save``, in the moto process: pickle its backends while ``gate`` holds every request.

    With the ``store`` of this data dir the journal is emptied in the same hold, so no request falls
    between the snapshot and the journal; the header's ``journal_seq`` says which records the snapshot
    holds, so a crash between the rename and the truncation replays none of them twice."""
    directory = Path(data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / SNAPSHOT_FILE
    started = time.perf_counter()
    buffer = io.BytesIO()
    with gate.exclusive():
        journal = store.journal if store is not None and store.directory == directory.resolve() else None
        applied = journal.next_seq - 1 if journal is not None else 0
        # Two pickles, so load can check the header before unpickling any moto class.
        pickle.dump(_header(checkpoints, applied), buffer, protocol=pickle.HIGHEST_PROTOCOL)
        _SnapshotPickler(buffer).dump(_collect_backends())
        pickled = time.perf_counter()
        portable_bytes: bytes | None = None
        try:
            portable_bytes = encode(export_state(journal_seq=applied, checkpoints=dict(checkpoints or {})))
        except Exception:
            # The pickle still goes out (this moto reads it). The old portable file goes: it would lack
            # the journal records this snapshot empties, so another moto must refuse the dir instead.
            logger.exception("cannot write the portable snapshot; removed %s", directory / PORTABLE_FILE)
            (directory / PORTABLE_FILE).unlink(missing_ok=True)
        exported = time.perf_counter()
        _write_file(directory, target, buffer.getvalue())
        if portable_bytes is not None:
            _write_file(directory, directory / PORTABLE_FILE, portable_bytes)
        if journal is not None:
            journal.reset()
    logger.info(
        "saved local cloud state to %s (%d bytes, %.0f ms; portable form %d bytes, %.0f ms of that)",
        target,
        buffer.tell(),
        (time.perf_counter() - started) * 1000,
        len(portable_bytes or b""),
        (exported - pickled) * 1000,
    )
    return target


def write_portable(directory: Path, state: dict[str, Any]) -> Path:
    """Write a portable snapshot (``local_cloud/portable.py``) into ``directory``, crash-safe."""
    target = directory / PORTABLE_FILE
    _write_file(directory, target, encode(state))
    return target


def _read_pickle(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    # The snapshot is our own file in the developer's data dir; pickle is safe for that use.
    with path.open("rb") as stream:
        try:
            header = pickle.load(stream)  # noqa: S301
            if header.get("moto") != version("moto") or header.get("format") not in READABLE_FORMATS:
                raise SnapshotError(
                    f"{path} was written by moto {header.get('moto')} (format {header.get('format')}); "
                    f"this is moto {version('moto')}, which cannot read moto's objects of another "
                    f"version, and the data dir has no portable snapshot ({PORTABLE_FILE}). To keep "
                    f"the data, write one with the moto that wrote it: pip install "
                    f"moto=={header.get('moto')}, python -m local_cloud.portable export --data-dir "
                    f"{path.parent}, then reinstall this moto and start again; to start fresh, "
                    f"delete {path.parent}."
                )
            services: dict[str, Any] = pickle.load(stream)  # noqa: S301
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as error:
            raise SnapshotError(f"cannot read {path}: {error}") from error
    return header, services


def _choose_snapshot(
    directory: Path,
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, dict[str, Any] | None]:
    """(header, pickled services, portable state) to start from: the pickle when this moto wrote it
    (fast), else the portable snapshot (another moto version: the migration path), else none; a pickle
    neither this moto nor a portable snapshot can stand in for is refused with what to do."""
    path = directory / SNAPSHOT_FILE
    problem: SnapshotError | None = None
    if path.exists():
        try:
            header, services = _read_pickle(path)
        except SnapshotError as error:
            problem = error
        else:
            if header.get("format") != FORMAT_VERSION:
                logger.info("migrating %s from format %s to %d", path, header.get("format"), FORMAT_VERSION)
            return header, services, None
    portable_path = directory / PORTABLE_FILE
    if portable_path.exists():
        try:
            portable = read_portable(portable_path)
        except PortableError as error:
            raise SnapshotError(f"{problem}; and {error}" if problem else str(error)) from error
        logger.warning(
            "loading the portable snapshot %s (written with moto %s, this is moto %s)%s; stream records "
            "and poller checkpoints start afresh, messages in flight are visible again",
            portable_path,
            portable.get("moto"),
            version("moto"),
            f": {path.name} cannot be read by this moto" if problem else "",
        )
        # Checkpoints point into stream records a portable snapshot does not carry: start afresh.
        header = {"saved_at": portable["saved_at"], "checkpoints": {}, "journal_seq": portable["journal_seq"]}
        return header, None, portable
    if problem is not None:
        raise problem
    return None, None, None


def _restore(services: Mapping[str, Any]) -> None:
    from moto.backends import get_backend

    for name, saved in services.items():
        backend_dict: Any = get_backend(name)  # type: ignore[call-overload]
        for account_id, region, backend in saved["backends"]:
            backend_dict[account_id][region] = backend
        for attribute, value in saved["extras"].items():
            setattr(backend_dict, attribute, value)


def read_snapshot(data_dir: str | os.PathLike[str], gate: Any) -> Snapshot | None:
    """Put the pickled backends back while ``gate`` holds requests (no journal; see ``DataDirStore``)."""
    path = Path(data_dir) / SNAPSHOT_FILE
    if not path.exists():
        return None
    header, services = _read_pickle(path)
    with gate.exclusive():
        _restore(services)
    logger.info("loaded local cloud state from %s", path)
    return Snapshot(saved_at=header["saved_at"], checkpoints=dict(header.get("checkpoints", {})))


def _unavailable(start_response: Any, message: str) -> list[bytes]:
    """A 503 in the shape every AWS JSON protocol client reads (``__type`` + ``message``)."""
    payload = json.dumps({"__type": "ServiceUnavailable", "message": message}).encode()
    headers = [
        ("Content-Type", "application/x-amz-json-1.0"),
        ("Content-Length", str(len(payload))),
        ("x-amzn-ErrorType", "ServiceUnavailable"),
    ]
    start_response("503 Service Unavailable", headers)
    return [payload]


class DataDirStore:
    """The data dir as the moto process holds it: snapshot + journal, and the journaling of requests.

    ``open`` restores the snapshot, replays the journal's later records over it, writes a new snapshot
    (so the journal starts empty, and a Cognito pool's state is on disk from the first start) and opens
    the journal; from then on ``serve`` logs every acknowledged write before its response goes out.
    """

    def __init__(self, directory: Path, journal: Journal) -> None:
        self.directory = directory
        self.journal = journal
        self.failure: OSError | None = None
        """Set when a journal write failed: from then on writes are refused (fail-stop), see ``serve``."""

    @classmethod
    def open(
        cls, data_dir: str | os.PathLike[str], gate: Any, app: Any
    ) -> tuple[DataDirStore, Snapshot | None, dict[str, Any]]:
        directory = Path(data_dir).resolve()
        directory.mkdir(parents=True, exist_ok=True)
        for leftover in directory.glob(".snapshot-*"):  # a snapshot a crash interrupted before its rename
            leftover.unlink()
        header, services, portable = _choose_snapshot(directory)
        journal_path = directory / JOURNAL_FILE
        scan = read_journal(journal_path)
        set_aside_corrupt_tail(journal_path, scan)
        applied = int(header.get("journal_seq", 0)) if header else 0
        pending = [record for record in scan.records if record.seq > applied]
        started = time.perf_counter()
        with gate.exclusive():
            if services is not None:
                _restore(services)
            elif portable is not None:
                try:
                    load_state(portable)
                except Exception as error:
                    raise SnapshotError(
                        f"cannot load the portable snapshot {directory / PORTABLE_FILE}: {error!r}"
                    ) from error
            replayed, diverged = replay(app, pending)
        last = max([applied, *(record.seq for record in scan.records)])
        store = cls(directory, Journal(directory, next_seq=last + 1))
        checkpoints = dict(header.get("checkpoints", {})) if header else {}
        write_snapshot(directory, gate, checkpoints, store)
        report = {
            "replayed": replayed,
            "diverged": diverged,
            "corrupt_offset": scan.bad_offset,
            "corrupt_problem": scan.problem,
            "kept_records": len(scan.records),
            "replay_ms": round((time.perf_counter() - started) * 1000),
        }
        if pending:
            logger.warning(
                "replayed %d journal records written after the snapshot (%d diverged) in %d ms",
                replayed,
                diverged,
                report["replay_ms"],
            )
        if header is None and not scan.records and scan.bad_offset is None:
            return store, None, report
        saved_at = float(header["saved_at"]) if header else time.time()
        return store, Snapshot(saved_at=saved_at, checkpoints=checkpoints), report

    def serve(self, app: Any, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        """Run one request (the gate held); log it, fsynced, before returning if it changed state."""
        length = int(environ.get("CONTENT_LENGTH") or 0)
        stream = environ["wsgi.input"]
        body: bytes = stream.read(length) if length else stream.read()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        if not may_change_state(environ, body):
            return list(app(environ, start_response))
        if self.failure is not None:
            return _unavailable(start_response, f"the data dir journal cannot be written: {self.failure}")
        seed, arrived = new_seed(), time.time()
        seed_moto(seed)
        started: list[tuple[str, Any, Any]] = []

        def deferred_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            # Held back until the write is on disk: a failed journal write must still be able to
            # answer with an error instead (moto returns its body as an iterable, never via write()).
            started.append((status, headers, exc_info))
            return lambda _data: None

        response = list(app(environ, deferred_start_response))
        status_line, headers, exc_info = started[-1]
        status = int(status_line.split(" ", 1)[0])
        if changed_state(environ, body, status, response):
            record = JournalRecord(
                seq=self.journal.next_seq,
                time=arrived,
                seed=seed,
                status=status,
                environ=recorded_environ(environ),
                body=body,
            )
            try:
                self.journal.append(record)
            except OSError as error:
                # moto applied the write but it is not on disk: do not acknowledge it, and stop taking
                # writes, so what the data dir holds stays exactly what clients were told succeeded.
                self.failure = error
                logger.error(
                    "journal write to %s failed, refusing writes from now on: %s", self.journal.path, error
                )
                return _unavailable(
                    start_response, f"the write was not stored: the journal cannot be written: {error}"
                )
        start_response(status_line, headers, exc_info)
        return response

    def close(self) -> None:
        self.journal.close()


LOCK_FILE = "LOCK"


class DataDirLocked(RuntimeError):
    """Another local cloud holds the data dir."""


class DataDirLock:
    """One owner per data dir: an exclusive ``flock`` on ``DIR/LOCK``, held while the cloud runs.

    The kernel drops the lock when its holder exits, however it exits (a ``kill -9`` included), so a
    crash never leaves a stale lock behind; the pid written into the file is only for the message.
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_FILE
        self._descriptor: int | None = None

    @property
    def held(self) -> bool:
        return self._descriptor is not None

    def acquire(self) -> None:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(descriptor)
            raise DataDirLocked(
                f"data dir {self.path.parent} is in use by another local cloud (pid {holder}); "
                f"stop that one first, or pick another DATA_DIR"
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        self._descriptor = descriptor

    def release(self) -> None:
        descriptor, self._descriptor = self._descriptor, None
        if descriptor is not None:
            os.close(descriptor)  # closing the last descriptor drops the flock


def data_dir_usage(data_dir: str | os.PathLike[str]) -> dict[str, int]:
    """Bytes on disk in ``data_dir``: ``snapshot`` (both forms), ``journal`` and ``total`` (search index
    included)."""
    directory = Path(data_dir)
    usage = {"snapshot": 0, "journal": 0, "total": 0}
    for path in directory.rglob("*") if directory.exists() else ():
        if path.is_file():
            size = path.stat().st_size
            usage["total"] += size
            if path.name in (SNAPSHOT_FILE, PORTABLE_FILE):  # the pickle and its portable form
                usage["snapshot"] += size
            elif path.name == JOURNAL_FILE:
                usage["journal"] = size
    return usage


class Persistence:
    """A data dir bound to a running ``LocalAws``: lock and load at start, journal every acknowledged
    write (in the moto process), snapshot periodically (emptying the journal) and at shutdown.

    Order of use: ``load()`` after ``aws.start()`` and before ``provision`` (it takes the data dir's
    lock, raising ``DataDirLocked`` if another cloud has it); build the pollers with
    ``checkpoints=persistence.checkpoints`` and hand them to ``track()``; ``start_autosave()``; at
    shutdown stop the pollers, then ``close()`` (final snapshot, lock released) and stop the server.
    """

    def __init__(self, aws: LocalAws, data_dir: str | os.PathLike[str], *, interval: float = 30.0) -> None:
        self.data_dir = Path(data_dir)
        self._aws = aws
        self._interval = interval
        self._checkpoint_source: Callable[[], Mapping[str, str]] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._save_lock = threading.Lock()
        self._lock = DataDirLock(self.data_dir.resolve())
        self.snapshot: Snapshot | None = None

    @property
    def checkpoints(self) -> dict[str, str]:
        """Stream checkpoints from the loaded snapshot (empty when starting fresh)."""
        return dict(self.snapshot.checkpoints) if self.snapshot else {}

    def load(self) -> Snapshot | None:
        """Take the data dir's lock, then restore its snapshot and journal, if any (module ``load``)."""
        self._lock.acquire()
        try:
            self.snapshot = load(self.data_dir, self._aws)
        except BaseException:
            self._lock.release()
            raise
        report = self.snapshot.journal if self.snapshot else {}
        if report.get("corrupt_offset") is not None:
            logger.warning(
                "the journal in %s ends in a bad record (%s) at byte offset %d: kept the %d records "
                "before it, skipped the rest (moved aside to journal.log.corrupt-*)",
                self.data_dir,
                report.get("corrupt_problem"),
                report["corrupt_offset"],
                report.get("kept_records", 0),
            )
        if report.get("replayed"):
            logger.info(
                "replayed %d acknowledged writes from the journal in %s ms",
                report["replayed"],
                report.get("replay_ms"),
            )
        return self.snapshot

    def close(self) -> None:
        """Stop the periodic saves, take the final snapshot and release the lock (if it was held)."""
        self.stop_autosave()
        if not self._lock.held:
            return
        try:
            self.save()
        finally:
            self._lock.release()

    def track(self, pollers: Any) -> None:
        """Save ``pollers.checkpoints()`` with every snapshot (a ``PollerGroup``)."""
        self._checkpoint_source = pollers.checkpoints

    def save(self) -> Path:
        """Take a snapshot now (checkpoints read first, see module ``save``)."""
        with self._save_lock:  # the autosave thread and shutdown may meet here
            checkpoints = self._checkpoint_source() if self._checkpoint_source else self.checkpoints
            return save(self.data_dir, self._aws, checkpoints=checkpoints)

    def start_autosave(self) -> None:
        """Save every ``interval`` seconds in a daemon thread, so a crash loses little."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="local-cloud-autosave", daemon=True)
        self._thread.start()

    def stop_autosave(self) -> None:
        """Stop the periodic saves (call ``save()`` for the final snapshot)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.save()
            except Exception:  # a failed periodic save must not stop the next one
                logger.exception("periodic save to %s failed", self.data_dir)


def snapshot_info(data_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The header of the snapshot in ``data_dir`` (moto version, time, checkpoints), for diagnostics."""
    path = Path(data_dir) / SNAPSHOT_FILE
    if not path.exists():
        return None
    with path.open("rb") as stream:
        header: dict[str, Any] = pickle.load(stream)  # noqa: S301 - our own file, see load()
    return header
