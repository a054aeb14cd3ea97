"""``--data-dir`` support: keep the embedded moto's state across restarts.

How: moto keeps each service's state in plain Python objects (``moto.backends.get_backend(name)``,
one backend per account and region). ``write_snapshot`` pickles those backends for DynamoDB (tables,
items, stream records), DynamoDB Streams, SQS (queues and messages, in flight or not), S3 (buckets and
objects) and Cognito (pools, clients, users with their ``sub``) while every request is held at the
server's gate, so the snapshot is consistent. ``read_snapshot`` puts the backends back into the running
server. Both run inside the moto process (``local_cloud/moto_process.py``), which holds that state;
``save`` and ``load`` ask it to, through its control routes. The round trip keeps items, messages,
objects, users (same ``sub``, same password) and stream records and sequence numbers.

Three things in moto's state do not pickle as-is; ``_SnapshotPickler`` handles them:
thread locks/conditions (SQS queues) are recreated empty, Cognito's RSA signing key is stored as
PEM, and moto's DynamoDB Streams shard iterators are dropped (AWS expires them after 15 minutes
anyway; pollers ask for a new one from their checkpoint).

Limits: a snapshot is tied to the moto version that wrote it (it holds moto's classes), so ``load``
refuses one written by another version instead of guessing; it only works for the embedded server
(an external endpoint such as DynamoDB Local persists by its own means); a crash loses at most the
last ``interval`` seconds. Snapshots are written to a temporary file and renamed, so a crash while
saving leaves the previous snapshot intact.
"""

from __future__ import annotations

import io
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

logger = logging.getLogger(__name__)

SERVICES = ("dynamodb", "dynamodbstreams", "sqs", "s3", "cognito-idp")
SNAPSHOT_FILE = "moto-state.pickle"
FORMAT_VERSION = 2


class SnapshotError(RuntimeError):
    """A snapshot cannot be loaded into this process (other moto version, corrupt file)."""


@dataclass
class Snapshot:
    """What ``load`` restored besides moto's state."""

    saved_at: float
    checkpoints: dict[str, str] = field(default_factory=dict)
    """Stream poller checkpoints (``PollerGroup.checkpoints()``) at save time."""

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
    """Restore the snapshot in ``data_dir`` into the running embedded moto; None if there is none.

    Call it right after ``aws.start()`` and before ``provision`` (which then reuses what it finds).
    Raises SnapshotError for a snapshot this moto cannot take (another moto version, a corrupt file).
    """
    directory = Path(data_dir).resolve()
    try:
        found = aws.control("snapshot/load", {"data_dir": str(directory)})["snapshot"]
    except ControlError as error:
        raise SnapshotError(str(error)) from error
    if found is None:
        return None
    return Snapshot(saved_at=float(found["saved_at"]), checkpoints=dict(found["checkpoints"]))


def write_snapshot(data_dir: str | os.PathLike[str], gate: Any, checkpoints: Mapping[str, str]) -> Path:
    """``save``, in the moto process: pickle its backends while ``gate`` holds every request."""
    directory = Path(data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    header = {
        "format": FORMAT_VERSION,
        "moto": version("moto"),
        "saved_at": time.time(),
        "checkpoints": dict(checkpoints or {}),
    }
    started = time.perf_counter()
    with gate.exclusive():
        # Two pickles, so load can check the header before unpickling any moto class.
        pickle.dump(header, buffer, protocol=pickle.HIGHEST_PROTOCOL)
        _SnapshotPickler(buffer).dump(_collect_backends())
    target = directory / SNAPSHOT_FILE
    # Write then rename: a crash mid-write must not destroy the previous snapshot.
    with tempfile.NamedTemporaryFile(dir=directory, prefix=".snapshot-", delete=False) as tmp:
        tmp.write(buffer.getvalue())
        tmp.flush()
        os.fsync(tmp.fileno())
    os.replace(tmp.name, target)
    logger.info(
        "saved local cloud state to %s (%d bytes, %.0f ms)",
        target,
        buffer.tell(),
        (time.perf_counter() - started) * 1000,
    )
    return target


def read_snapshot(data_dir: str | os.PathLike[str], gate: Any) -> Snapshot | None:
    """``load``, in the moto process: put the pickled backends back while ``gate`` holds requests."""
    from moto.backends import get_backend

    path = Path(data_dir) / SNAPSHOT_FILE
    if not path.exists():
        return None
    # The snapshot is our own file in the developer's data dir; pickle is safe for that use.
    with path.open("rb") as stream:
        try:
            header = pickle.load(stream)  # noqa: S301
            if header.get("moto") != version("moto") or header.get("format") != FORMAT_VERSION:
                raise SnapshotError(
                    f"{path} was written by moto {header.get('moto')} (format {header.get('format')}); "
                    f"this is moto {version('moto')}. Delete the data dir to start fresh."
                )
            services: dict[str, Any] = pickle.load(stream)  # noqa: S301
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as error:
            raise SnapshotError(f"cannot read {path}: {error}") from error
    with gate.exclusive():
        for name, saved in services.items():
            backend_dict: Any = get_backend(name)  # type: ignore[call-overload]
            for account_id, region, backend in saved["backends"]:
                backend_dict[account_id][region] = backend
            for attribute, value in saved["extras"].items():
                setattr(backend_dict, attribute, value)
    logger.info("loaded local cloud state from %s", path)
    return Snapshot(saved_at=header["saved_at"], checkpoints=dict(header.get("checkpoints", {})))


class Persistence:
    """A data dir bound to a running ``LocalAws``: load at start, save periodically and at shutdown.

    Order of use: ``load()`` after ``aws.start()`` and before ``provision``; build the pollers with
    ``checkpoints=persistence.checkpoints`` and hand them to ``track()``; ``start_autosave()``; at
    shutdown stop the pollers, then ``save()``, ``stop_autosave()`` and stop the server.
    """

    def __init__(self, aws: LocalAws, data_dir: str | os.PathLike[str], *, interval: float = 30.0) -> None:
        self.data_dir = Path(data_dir)
        self._aws = aws
        self._interval = interval
        self._checkpoint_source: Callable[[], Mapping[str, str]] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._save_lock = threading.Lock()
        self.snapshot: Snapshot | None = None

    @property
    def checkpoints(self) -> dict[str, str]:
        """Stream checkpoints from the loaded snapshot (empty when starting fresh)."""
        return dict(self.snapshot.checkpoints) if self.snapshot else {}

    def load(self) -> Snapshot | None:
        """Restore the data dir's snapshot, if any (see module ``load``)."""
        self.snapshot = load(self.data_dir, self._aws)
        return self.snapshot

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
