"""Media over HTTP against the local cloud: upload forms, the presigned POST, the check of the bytes,
tweets and avatars that carry media, and every bad input of the contract."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
import requests

from functions.media.models import MAX_BYTES
from tests.support.client import Account, Api, assert_error, sign_up_and_log_in
from tests.support.media import (
    bomb_png,
    decode_policy,
    form_post,
    image_bytes,
    ready_media,
    settled,
    ticket,
    upload,
)

pytestmark = pytest.mark.e2e

UNKNOWN_MEDIA = "01KQ8Z5Y3M0000000000000000"


def tweet_with(api: Api, who: Account, media_ids: list[str]) -> requests.Response:
    return api.post("/tweets", who.token, json={"text": "look", "media_ids": media_ids})


def object_exists(cloud: Any, key: str) -> bool:
    try:
        cloud.aws.client("s3").head_object(Bucket="media", Key=key)
    except Exception:
        return False
    return True


def key_of(url: str) -> str:
    return url.split("/cdn/media/", 1)[1]


@pytest.mark.parametrize("content_type", ["image/png", "image/jpeg", "image/gif", "image/webp"])
def test_an_uploaded_image_becomes_ready_and_a_tweet_serves_its_exact_bytes(
    api: Api, alice: Account, bob: Account, content_type: str
) -> None:
    data = image_bytes(content_type, (40, 30))
    started = time.monotonic()
    media_id = upload(api, alice, data, content_type)

    media = settled(api, alice, media_id)

    assert media["status"] == "ready", media
    assert time.monotonic() - started < 5
    assert media == {
        "media_id": media_id,
        "type": "image",
        "content_type": content_type,
        "url": media["url"],
        "status": "ready",
    }
    tweet = tweet_with(api, alice, [media_id])
    assert tweet.status_code == 201, tweet.text
    assert tweet.json()["media"] == [media]
    seen = api.get(f"/tweets/{tweet.json()['tweet_id']}", bob.token).json()
    assert seen["media"] == [media]
    served = requests.get(media["url"], timeout=10)
    assert served.status_code == 200
    assert served.content == data
    assert served.headers["Content-Type"] == content_type
    assert served.headers["X-Content-Type-Options"] == "nosniff"


def test_media_shows_in_timelines_and_tweets_without_media_carry_an_empty_list(
    api: Api, cloud: Any, alice: Account, bob: Account
) -> None:
    assert api.post(f"/users/{alice.user_id}/follow", bob.token).status_code == 200
    plain = api.post("/tweets", alice.token, json={"text": "no pictures"}).json()
    assert plain["media"] == []
    ids = [ready_media(api, alice) for _ in range(4)]
    posted = tweet_with(api, alice, ids)
    assert posted.status_code == 201, posted.text
    assert [m["media_id"] for m in posted.json()["media"]] == ids
    cloud.wait_idle()

    own = api.get(f"/timeline/user/{alice.user_id}", bob.token).json()["tweets"]
    home = api.get("/timeline/home", bob.token).json()["tweets"]

    for page in (own, home):
        by_id = {t["tweet_id"]: t for t in page}
        assert [m["media_id"] for m in by_id[posted.json()["tweet_id"]]["media"]] == ids
        assert by_id[plain["tweet_id"]]["media"] == []


def test_the_upload_form_binds_type_size_key_and_a_short_expiry(api: Api, alice: Account) -> None:
    created = ticket(api, alice, "image/gif", 1234)

    policy = decode_policy(created["upload"]["fields"])

    conditions = policy["conditions"]
    assert {"Content-Type": "image/gif"} in conditions
    assert ["content-length-range", 1, MAX_BYTES["image/gif"]] in conditions
    assert {"key": f"{alice.user_id}/{created['media_id']}"} in conditions
    assert {"bucket": "media"} in conditions
    assert created["upload"]["fields"]["key"].startswith(f"{alice.user_id}/")
    assert policy["expiration"][:19] == created["expires_at"][:19]
    assert settled(api, alice, created["media_id"], timeout=0)["status"] == "pending"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content_type": "image/svg+xml", "size_bytes": 10}, "content_type"),
        ({"content_type": "text/plain", "size_bytes": 10}, "content_type"),
        ({"content_type": "image/png", "size_bytes": 0}, "size_bytes"),
        ({"content_type": "image/png", "size_bytes": -1}, "size_bytes"),
        ({"content_type": "image/png", "size_bytes": MAX_BYTES["image/png"] + 1}, None),
        ({"content_type": "image/gif", "size_bytes": MAX_BYTES["image/gif"] + 1}, None),
        ({"content_type": "image/png"}, "size_bytes"),
        ({"content_type": "image/png", "size_bytes": 10, "key": "elsewhere"}, "key"),
    ],
)
def test_an_unsupported_type_or_a_size_out_of_range_is_refused(
    api: Api, alice: Account, body: dict[str, Any], field: str | None
) -> None:
    error = assert_error(api.post("/media", alice.token, json=body), 422, "validation_error")
    if field is not None:
        assert any(d["field"].startswith(field) for d in error["details"]), error


def test_the_largest_allowed_sizes_are_accepted(api: Api, alice: Account) -> None:
    for content_type, limit in MAX_BYTES.items():
        assert (
            api.post(
                "/media", alice.token, json={"content_type": content_type, "size_bytes": limit}
            ).status_code
            == 201
        )


@pytest.mark.parametrize(
    ("declared", "data", "reason"),
    [
        ("image/jpeg", image_bytes("image/png"), "bytes of another type"),
        ("image/png", b"<svg xmlns='http://www.w3.org/2000/svg'></svg>" * 4, "not an image"),
        ("image/png", bomb_png(), "a decompression bomb"),
        ("image/gif", image_bytes("image/png")[:8] + b"\x00" * 64, "a broken header"),
    ],
)
def test_a_file_that_is_not_what_it_claims_is_rejected_and_deleted(
    api: Api, cloud: Any, alice: Account, declared: str, data: bytes, reason: str
) -> None:
    created = ticket(api, alice, declared, len(data))
    assert form_post(created["upload"], data, **{"Content-Type": declared}).status_code == 204

    media = settled(api, alice, created["media_id"])

    assert media["status"] == "rejected", reason
    assert not object_exists(cloud, created["upload"]["fields"]["key"])
    assert requests.get(media["url"], timeout=10).status_code == 404


def test_a_file_larger_than_declared_is_rejected_and_deleted(api: Api, cloud: Any, alice: Account) -> None:
    data = image_bytes("image/png", (64, 64))
    created = ticket(api, alice, "image/png", len(data) - 1)
    assert form_post(created["upload"], data).status_code == 204

    assert settled(api, alice, created["media_id"])["status"] == "rejected"
    assert not object_exists(cloud, created["upload"]["fields"]["key"])


def test_a_tampered_form_or_a_foreign_key_is_refused_by_the_upload_endpoint(api: Api, alice: Account) -> None:
    data = image_bytes()
    created = ticket(api, alice, "image/png", len(data))
    form = created["upload"]
    fields = form["fields"]
    tampered = fields["policy"][:-4] + ("AAAA" if not fields["policy"].endswith("AAAA") else "BBBB")

    refusals = [
        (form_post(form, data, policy=tampered), 403, "SignatureDoesNotMatch"),
        (form_post(form, data, key=f"{alice.user_id}/other"), 403, "AccessDenied"),
        (form_post(form, data, **{"Content-Type": "image/gif"}), 403, "AccessDenied"),
        (form_post(form, b"x" * (MAX_BYTES["image/png"] + 1)), 400, "EntityTooLarge"),
        (form_post(form, b""), 400, "EntityTooSmall"),
        (form_post(form, data, **{"x-amz-signature": "0" * 64}), 403, "SignatureDoesNotMatch"),
    ]

    for response, status, code in refusals:
        assert response.status_code == status, response.text
        assert f"<Code>{code}</Code>" in response.text
    assert settled(api, alice, created["media_id"], timeout=0)["status"] == "pending"


def test_a_tweet_attaches_only_the_callers_ready_media_and_at_most_four(
    api: Api, alice: Account, bob: Account
) -> None:
    mine = [ready_media(api, alice) for _ in range(5)]
    bobs = ready_media(api, bob)
    pending = ticket(api, alice, "image/png", 100)["media_id"]
    rejected = upload(api, alice, b"not an image at all", "image/png")
    assert settled(api, alice, rejected)["status"] == "rejected"

    for media_ids, issue in [
        ([bobs], "unknown_media"),
        ([UNKNOWN_MEDIA], "unknown_media"),
        (["not-an-id"], "unknown_media"),
        ([pending], "media_not_ready"),
        ([rejected], "media_rejected"),
        ([mine[0], mine[0]], "duplicate_media"),
        (mine, None),
    ]:
        error = assert_error(tweet_with(api, alice, media_ids), 422, "validation_error")
        if issue is not None:
            assert error["details"][0]["issue"] == issue, error

    assert tweet_with(api, alice, mine[:4]).status_code == 201
    taken = assert_error(tweet_with(api, alice, [mine[0]]), 422, "validation_error")
    assert taken["details"][0]["issue"] == "media_attached"
    assert tweet_with(api, alice, [mine[4]]).status_code == 201


def test_the_state_of_an_upload_is_its_owners_alone(api: Api, alice: Account, bob: Account) -> None:
    media_id = ready_media(api, alice)

    assert_error(api.get(f"/media/{media_id}", bob.token), 404, "not_found")
    assert_error(api.get(f"/media/{UNKNOWN_MEDIA}", alice.token), 404, "not_found")
    assert_error(api.get("/media/a%23b", alice.token), 404, "not_found")
    assert_error(api.get(f"/media/{media_id}"), 401)


def test_the_cdn_serves_only_ready_media(api: Api, alice: Account) -> None:
    created = ticket(api, alice, "image/png", 100)
    pending_url = created["upload"]["url"].replace(
        "/s3/media", f"/cdn/media/{created['upload']['fields']['key']}"
    )

    assert requests.get(pending_url, timeout=10).status_code == 404
    assert requests.post(pending_url, timeout=10).status_code == 405


def test_deleting_a_tweet_deletes_its_media(api: Api, cloud: Any, alice: Account) -> None:
    media_id = ready_media(api, alice)
    media = settled(api, alice, media_id)
    tweet = tweet_with(api, alice, [media_id]).json()

    assert api.delete(f"/tweets/{tweet['tweet_id']}", alice.token).status_code == 204
    cloud.wait_idle()

    assert not object_exists(cloud, key_of(media["url"]))
    assert requests.get(media["url"], timeout=10).status_code == 404
    assert_error(api.get(f"/media/{media_id}", alice.token), 404, "not_found")


def test_an_avatar_is_a_ready_image_of_the_callers_and_shows_on_their_tweets(
    api: Api, alice: Account, bob: Account
) -> None:
    data = image_bytes("image/webp", (48, 48))
    media_id = upload(api, alice, data, "image/webp")
    assert settled(api, alice, media_id)["status"] == "ready"

    me = api.patch("/users/me", alice.token, json={"avatar_media_id": media_id})

    assert me.status_code == 200, me.text
    avatar = me.json()["avatar_url"]
    assert requests.get(avatar, timeout=10).content == data
    assert api.get(f"/users/{alice.user_id}", bob.token).json()["avatar_url"] == avatar
    tweet = api.post("/tweets", alice.token, json={"text": "new face"}).json()
    assert tweet["user"]["avatar_url"] == avatar
    assert api.patch("/users/me", alice.token, json={"avatar_media_id": media_id}).status_code == 200
    taken = assert_error(tweet_with(api, alice, [media_id]), 422, "validation_error")
    assert taken["details"][0]["issue"] == "media_attached"


def test_an_avatar_must_be_the_callers_own_ready_image(api: Api, alice: Account, bob: Account) -> None:
    bobs = ready_media(api, bob)
    pending = ticket(api, alice, "image/png", 100)["media_id"]

    for media_id in (bobs, pending, UNKNOWN_MEDIA):
        error = assert_error(api.patch("/users/me", alice.token, json={"avatar_media_id": media_id}), 422)
        assert error["details"][0]["field"] == "avatar_media_id"
    assert api.get("/users/me", alice.token).json()["avatar_url"] is None


def test_uploads_work_for_a_fresh_account_with_curl_style_forms(api: Api) -> None:
    carol = sign_up_and_log_in(api)
    data = image_bytes("image/png", (8, 8))
    created = ticket(api, carol, "image/png", len(data))
    # curl -F sends every field as its own part and the file last, with its own Content-Type.
    files = [(name, (None, value)) for name, value in created["upload"]["fields"].items()]
    files.append(("file", ("a.png", data, "image/png")))

    response = requests.post(created["upload"]["url"], files=files, timeout=30)

    assert response.status_code == 204, response.text
    assert settled(api, carol, created["media_id"])["status"] == "ready"


def test_posting_the_form_again_after_the_check_rejects_the_unchecked_bytes(
    api: Api, cloud: Any, alice: Account
) -> None:
    data = image_bytes()
    created = ticket(api, alice, "image/png", len(data))
    assert form_post(created["upload"], data).status_code == 204
    media = settled(api, alice, created["media_id"])
    assert media["status"] == "ready"

    assert form_post(created["upload"], b"<html>not an image</html>").status_code == 204  # still valid
    cloud.wait_idle()

    assert api.get(f"/media/{created['media_id']}", alice.token).json()["status"] == "rejected"
    assert requests.get(media["url"], timeout=10).status_code == 404
    assert not object_exists(cloud, created["upload"]["fields"]["key"])


def test_a_form_signed_by_a_function_without_put_permission_is_refused(
    api: Api, cloud: Any, alice: Account
) -> None:
    from botocore.config import Config

    from infra.resources import SPEC

    data = image_bytes()
    created = ticket(api, alice, "image/png", len(data))
    env = cloud.function_environment(SPEC.function("tweets-api"))  # may tag objects, not put them
    signer = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=created["upload"]["url"].rsplit("/", 1)[0],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    key = created["upload"]["fields"]["key"]
    forged = signer.generate_presigned_post(
        "media", key, Fields={"Content-Type": "image/png"}, Conditions=[{"Content-Type": "image/png"}]
    )

    response = form_post(forged, data)

    assert response.status_code == 403 and "<Code>AccessDenied</Code>" in response.text
    assert not object_exists(cloud, key)
