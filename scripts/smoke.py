#!/usr/bin/env python3
"""End-to-end smoke test of a deployment, through its public API only.

    python scripts/smoke.py --api-url https://<id>.execute-api.<region>.amazonaws.com/dev/api/v1
    python scripts/smoke.py --api-url http://127.0.0.1:3000/api/v1          # a running `make dev`

Signs up two users, follows, posts, reads the follower's home timeline, searches tweets and users,
uploads an image with the presigned POST and attaches it, and deletes the tweet (then checks it is gone
from the timeline and from search). Exits 0 when every step passed, 1 at the first failure, printing
each step with its time. In a stage that makes Cognito verify e-mail (prod), sign-ups cannot log in
before confirming: pass two confirmed accounts with ``--user name:password`` (twice).
"""

from __future__ import annotations

import argparse
import struct
import sys
import time
import uuid
import zlib
from collections.abc import Callable
from typing import Any

import requests

PASSWORD = "Smoke-test-9!"


class SmokeFailure(Exception):
    pass


def tiny_png(width: int = 2, height: int = 2) -> bytes:
    """A valid PNG of one colour, built with the standard library (the script needs no Pillow)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x1d\x9b\xf0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


class Smoke:
    def __init__(self, api_url: str, timeout: float) -> None:
        self.base = api_url.rstrip("/")
        self.timeout = timeout
        self.http = requests.Session()

    # ---- HTTP ----------------------------------------------------------------------------------------
    def call(self, method: str, path: str, token: str | None = None, expect: int = 200, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.http.request(method, self.base + path, headers=headers, timeout=30, **kw)
        if response.status_code != expect:
            raise SmokeFailure(
                f"{method} {path}: {response.status_code} (expected {expect}): {response.text[:300]}"
            )
        return response.json() if response.content else None

    def until(self, what: str, check: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.timeout
        while not check():
            if time.monotonic() > deadline:
                raise SmokeFailure(f"{what}: not within {self.timeout:.0f} s")
            time.sleep(0.5)

    # ---- steps ---------------------------------------------------------------------------------------
    def account(self, given: str | None) -> dict[str, str]:
        if given:
            username, password = given.split(":", 1)
        else:
            username, password = f"smoke{uuid.uuid4().hex[:10]}", PASSWORD
            body = {"username": username, "email": f"{username}@example.com", "password": password}
            self.call("POST", "/auth/signup", expect=201, json=body)
        tokens = self.call("POST", "/auth/login", json={"username": username, "password": password})
        me = self.call("GET", "/users/me", tokens["access_token"])
        return {"username": username, "user_id": me["user_id"], "token": tokens["access_token"]}

    def home_ids(self, token: str) -> list[str]:
        return [t["tweet_id"] for t in self.call("GET", "/timeline/home", token)["tweets"]]

    def search_ids(self, token: str, q: str) -> list[str]:
        return [t["tweet_id"] for t in self.call("GET", "/search/tweets", token, params={"q": q})["tweets"]]

    def run(self, users: list[str | None]) -> None:
        step = Steps()
        step("health", lambda: self.call("GET", "/health"))
        alice, bob = step("two accounts", lambda: [self.account(u) for u in users])
        step(
            "bob follows alice", lambda: self.call("POST", f"/users/{alice['user_id']}/follow", bob["token"])
        )
        tag = f"smoke{uuid.uuid4().hex[:8]}"
        text = f"Smoke test {tag} of the timeline #{tag}"
        tweet = step(
            "alice posts",
            lambda: self.call("POST", "/tweets", alice["token"], expect=201, json={"text": text}),
        )
        tweet_id = tweet["tweet_id"]
        step(
            "bob's home timeline shows it",
            lambda: self.until("home", lambda: tweet_id in self.home_ids(bob["token"])),
        )
        step(
            "search by hashtag finds it",
            lambda: self.until("search", lambda: tweet_id in self.search_ids(bob["token"], f"#{tag}")),
        )
        step(
            "search by word and author",
            lambda: self.until(
                "search", lambda: tweet_id in self.search_ids(bob["token"], f"{tag} from:{alice['username']}")
            ),
        )

        def users_found() -> bool:
            page = self.call("GET", "/search/users", bob["token"], params={"q": alice["username"][:9]})
            return alice["user_id"] in [u["user_id"] for u in page["users"]]

        step("search users by prefix", lambda: self.until("user search", users_found))
        image = tiny_png()

        def upload() -> str:
            media = self.call(
                "POST",
                "/media",
                alice["token"],
                expect=201,
                json={"content_type": "image/png", "size_bytes": len(image)},
            )
            form = media["upload"]
            sent = self.http.post(
                form["url"], data=form["fields"], files={"file": ("s.png", image, "image/png")}, timeout=30
            )
            if sent.status_code not in (200, 201, 204):
                raise SmokeFailure(f"presigned POST upload: {sent.status_code}: {sent.text[:300]}")
            media_id = str(media["media_id"])
            self.until(
                "media ready",
                lambda: self.call("GET", f"/media/{media_id}", alice["token"])["status"] == "ready",
            )
            return media_id

        media_id = step("upload an image (presigned POST), ready", upload)

        def attach() -> str:
            body = {"text": f"With a picture {tag}", "media_ids": [media_id]}
            posted = self.call("POST", "/tweets", alice["token"], expect=201, json=body)
            url = posted["media"][0]["url"]
            served = self.http.get(url, timeout=30)
            if served.status_code != 200 or served.content != image:
                raise SmokeFailure(f"media URL {url}: {served.status_code}, {len(served.content)} bytes")
            return str(posted["tweet_id"])

        step("attach it to a tweet; its URL serves the bytes", attach)
        step(
            "alice deletes the first tweet",
            lambda: self.call("DELETE", f"/tweets/{tweet_id}", alice["token"], expect=204),
        )
        step("it is gone", lambda: self.call("GET", f"/tweets/{tweet_id}", bob["token"], expect=404))
        step(
            "and gone from home and search",
            lambda: self.until(
                "gone",
                lambda: (
                    tweet_id not in self.home_ids(bob["token"])
                    and tweet_id not in self.search_ids(bob["token"], f"#{tag}")
                ),
            ),
        )
        print(f"smoke: all {step.count} steps passed in {step.total:.1f} s")


class Steps:
    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0

    def __call__(self, name: str, action: Callable[[], Any]) -> Any:
        started = time.monotonic()
        try:
            result = action()
        except (SmokeFailure, requests.RequestException, KeyError, IndexError, TypeError) as error:
            print(f"FAIL {name}: {error}", file=sys.stderr)
            raise SystemExit(1) from error
        elapsed = time.monotonic() - started
        self.count += 1
        self.total += elapsed
        print(f"ok   {name} ({elapsed * 1000:.0f} ms)")
        return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api-url", required=True, help="base URL including /api/v1")
    parser.add_argument("--timeout", type=float, default=30, help="seconds to wait for each eventual step")
    parser.add_argument(
        "--user", action="append", default=[], help="name:password of a confirmed account (twice)"
    )
    args = parser.parse_args(argv)
    if len(args.user) not in (0, 2):
        parser.error("--user is given twice or not at all")
    users: list[str | None] = list(args.user) or [None, None]
    Smoke(args.api_url, args.timeout).run(users)


if __name__ == "__main__":
    main()
