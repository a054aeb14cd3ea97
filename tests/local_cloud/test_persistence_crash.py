"""An acknowledged write survives ``kill -9`` of ``make dev --data-dir``, and the pipelines resume.

The local cloud runs as ``make dev`` runs it (``python -m local_cloud --data-dir DIR``, a process group of
its own). The first run has no pollers, so the tweet's stream record and the upload's queue message are
still waiting when the whole group is killed with SIGKILL right after the last 2xx; the restarted cloud
(with pollers) must hold every write and process what was waiting. A second cloud on the same dir is
refused while the first one runs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import requests

from tests.support.client import PASSWORD, Api, sign_up_and_log_in
from tests.support.media import form_post, image_bytes, ticket

_ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(data_dir: Path, port: int, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(_ROOT))
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "local_cloud", "--port", str(port), "--data-dir", str(data_dir), *extra],
            cwd=_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal gives `make dev`
        )


def _wait_started(process: subprocess.Popen[bytes], log: Path, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "started in" in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"the local cloud did not start:\n{log.read_text(errors='replace')[-4000:]}")


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


@contextmanager
def _cloud(data_dir: Path, log: Path, *extra: str) -> Iterator[tuple[Api, subprocess.Popen[bytes]]]:
    port = _free_port()
    process = _start(data_dir, port, log, *extra)
    try:
        _wait_started(process, log)
        yield Api(f"http://127.0.0.1:{port}/api/v1", requests.Session()), process
    finally:
        _kill_group(process)


def _eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def _log_in(api: Api, username: str) -> str:
    response = api.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def test_every_acknowledged_write_survives_sigkill_and_the_pipelines_resume(tmp_path: Path) -> None:
    data_dir, log = tmp_path / "data", tmp_path / "after.log"
    with _cloud(data_dir, tmp_path / "before.log", "--no-pollers") as (api, process):
        alice, bob = sign_up_and_log_in(api), sign_up_and_log_in(api)
        follow = api.post(f"/users/{alice.user_id}/follow", bob.token)
        assert follow.status_code == 200, follow.text
        created = api.post("/tweets", alice.token, json={"text": "before the crash #durable"})
        assert created.status_code == 201, created.text
        tweet_id = created.json()["tweet_id"]
        liked = api.post(f"/tweets/{tweet_id}/like", bob.token)
        assert liked.status_code == 200, liked.text
        upload = ticket(api, alice, "image/png", len(data := image_bytes()))
        posted = form_post(upload["upload"], data)
        assert posted.status_code == 204, posted.text
        os.killpg(process.pid, signal.SIGKILL)  # right after the last 2xx: no snapshot since start
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    with _cloud(data_dir, log) as (api, _):
        second = _start(data_dir, _free_port(), tmp_path / "second.log")
        assert second.wait(timeout=120) == 1
        assert "is in use by another local cloud" in (tmp_path / "second.log").read_text()

        # Tokens are signed by a key of each moto process: log in again, with the same passwords.
        alice_token, bob_token = _log_in(api, alice.username), _log_in(api, bob.username)
        assert api.get("/users/me", alice_token).json()["user_id"] == alice.user_id
        tweet = api.get(f"/tweets/{tweet_id}", bob_token)
        assert tweet.status_code == 200, tweet.text
        assert tweet.json()["text"] == "before the crash #durable"
        # The like's stream record is delivered again after the crash; counted once either way.
        assert _eventually(lambda: api.get(f"/tweets/{tweet_id}", bob_token).json()["like_count"] == 1)
        followers = api.get(f"/users/{alice.user_id}/followers", alice_token).json()["users"]
        assert [u["user_id"] for u in followers] == [bob.user_id]

        def home_has_tweet() -> bool:
            items = api.get("/timeline/home?limit=20", bob_token).json()["tweets"]
            return any(item["tweet_id"] == tweet_id for item in items)

        assert _eventually(home_has_tweet), "the tweet never reached the follower's home timeline"

        # The tweets-stream record waiting at the crash goes on through the dispatcher, the search-index
        # queue and the indexer (a first home read could rebuild from the index alone; search cannot).
        def indexed() -> bool:
            found = api.get("/search/tweets?q=%23durable", bob_token)
            return found.status_code == 200 and [t["tweet_id"] for t in found.json()["tweets"]] == [tweet_id]

        assert _eventually(indexed), "the stream record waiting at the crash was never processed"

        def media_settled() -> dict[str, Any] | None:
            media = api.get(f"/media/{upload['media_id']}", alice_token).json()
            return media if media["status"] != "pending" else None

        media = _eventually(media_settled)
        assert media is not None and media["status"] == "ready", media
        served = requests.get(media["url"], timeout=10)
        assert served.status_code == 200 and served.content == data
    assert "is in use" not in log.read_text()
