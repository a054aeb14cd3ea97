"""A dependency that is still unavailable after the SDK's retries answers 503 with Retry-After, never 500,
and a write that answered 503 either applied completely or not at all."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from aws_lambda_powertools.event_handler.api_gateway import Router
from botocore.exceptions import ClientError, EndpointConnectionError
from pynamodb.exceptions import GetError, TransactWriteError

from functions.core import transactions
from functions.core.batch_get import UnprocessedKeysError
from functions.core.errors import Busy, Unavailable
from functions.core.http import BASE_PATH, build_app
from functions.core.retry import Backoff
from local_cloud.lambda_runtime import LocalLambdaContext
from tests.support.client import Account, Api, sign_up_and_log_in

pytestmark = pytest.mark.e2e


# -- the mapping itself ---------------------------------------------------------------------------------
def aws_error(code: str, status: int = 400, operation: str = "GetItem") -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": "internal detail"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)


def wrapped(cause: Exception, outer: Exception) -> Exception:
    try:
        raise outer from cause
    except Exception as exc:
        return exc


router = Router()
raised: dict[str, BaseException] = {}


@router.get("/boom/<name>")
def boom(name: str) -> dict[str, str]:
    raise raised[name]


def answer(error: BaseException) -> dict[str, Any]:
    raised["e"] = error
    event = {
        "resource": f"{BASE_PATH}/boom/e",
        "path": f"{BASE_PATH}/boom/e",
        "httpMethod": "GET",
        "headers": {},
        "requestContext": {"requestId": "r", "stage": "t"},
        "body": None,
        "isBase64Encoded": False,
    }
    return build_app(router).resolve(event, LocalLambdaContext("unit"))


def header(response: dict[str, Any], name: str) -> str | None:
    multi = response.get("multiValueHeaders") or {}
    if name in multi:
        return str(multi[name][0])
    single = response.get("headers") or {}
    return single.get(name)


@pytest.mark.parametrize(
    "error",
    [
        aws_error("ProvisionedThroughputExceededException"),
        aws_error("ThrottlingException"),
        aws_error("InternalServerError", 500),
        aws_error("ServiceUnavailable", 503),
        aws_error("RequestThrottled", operation="SendMessage"),
        aws_error("TooManyRequestsException", operation="InitiateAuth"),
        GetError("Failed to get item", aws_error("InternalServerError", 500)),  # PynamoDB wraps botocore
        wrapped(aws_error("ThrottlingException"), RuntimeError("persistence layer failed")),  # Powertools
        EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
        UnprocessedKeysError("3 keys unprocessed"),
        Unavailable(),
    ],
    ids=lambda e: type(e).__name__ + ":" + str(getattr(e, "response", {}).get("Error", {}).get("Code", "")),
)
def test_a_dependency_unavailable_after_retries_is_503_with_retry_after(error: BaseException) -> None:
    response = answer(error)
    assert response["statusCode"] == 503
    body = json.loads(response["body"])
    assert (
        set(body) == {"error"} and body["error"]["code"] == "service_unavailable" and body["error"]["message"]
    )
    assert int(header(response, "Retry-After") or 0) >= 1
    assert "internal detail" not in response["body"] and "Throughput" not in response["body"]


@pytest.mark.parametrize(
    "error",
    [aws_error("ValidationException"), aws_error("AccessDeniedException"), RuntimeError("a bug")],
    ids=["validation", "access-denied", "bug"],
)
def test_a_bug_or_a_misconfiguration_is_still_a_500(error: BaseException) -> None:
    response = answer(error)
    assert response["statusCode"] == 500
    assert json.loads(response["body"])["error"]["code"] == "internal_error"
    assert header(response, "Retry-After") is None


class _Scripted:
    """Stands in for ``transactions.Transaction``: every commit answers ``reasons``."""

    reasons: dict[str, str] = {}

    def __init__(self) -> None:
        pass

    def put(self, *_: Any, **__: Any) -> None:
        pass

    def commit(self) -> dict[str, str]:
        return dict(self.reasons)


NO_WAIT = Backoff(attempts=3, base_seconds=0, cap_seconds=0, sleep=lambda _: None)


def test_a_transaction_still_throttled_after_its_retries_is_unavailable_and_a_lost_race_is_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(transactions, "Transaction", _Scripted)
    monkeypatch.setattr(_Scripted, "reasons", {"*": "ThrottlingError"})
    with pytest.raises(Unavailable) as unavailable:
        transactions.transact(lambda tx: None, backoff=NO_WAIT)
    assert (unavailable.value.status, unavailable.value.retry_after_seconds) == (503, 1)
    monkeypatch.setattr(_Scripted, "reasons", {"item": "TransactionConflict"})
    with pytest.raises(Busy):
        transactions.transact(lambda tx: None, backoff=NO_WAIT)


def test_a_transaction_failing_inside_dynamodb_is_503() -> None:
    failed = TransactWriteError("Failed to write transaction items", aws_error("InternalServerError", 500))
    assert answer(failed)["statusCode"] == 503


# -- through the local cloud under LOCAL_CHAOS faults ---------------------------------------------------
@pytest.fixture(scope="module")
def chaotic() -> Iterator[Any]:
    """A cloud of its own (no pollers: only the API functions matter here), started without chaos."""
    from local_cloud.runtime import LocalCloud

    with LocalCloud(port=0, start_pollers=False, chaos="") as running:
        yield running


@pytest.fixture(scope="module")
def chaotic_api(chaotic: Any) -> Api:
    return Api(base_url=chaotic.base_url, session=requests.Session())


@pytest.fixture(scope="module")
def author(chaotic_api: Api) -> Account:
    return sign_up_and_log_in(chaotic_api, display_name="Author")


@pytest.fixture
def faults(chaotic: Any) -> Iterator[Any]:
    """Sets chaos for one test and switches it off again, whatever happens."""

    def set_to(text: str) -> None:
        chaotic.set_chaos(text)

    yield set_to
    chaotic.set_chaos("")


def assert_unavailable(response: requests.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json() == {
        "error": {"code": "service_unavailable", "message": response.json()["error"]["message"]}
    }
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_cloud_without_chaos_injects_nothing(chaotic: Any, chaotic_api: Api, author: Account) -> None:
    assert chaotic_api.get("/users/me", author.token).status_code == 200
    assert set(chaotic.chaos_report().values()) == {0}


def test_a_read_whose_retries_run_out_answers_503_and_every_fault_was_retried_first(
    chaotic: Any, chaotic_api: Api, author: Account, faults: Any
) -> None:
    before = chaotic.chaos_report()
    faults("seed=3,faults=0.95")
    statuses = []
    for _ in range(6):
        response = chaotic_api.get("/users/me", author.token)
        statuses.append(response.status_code)
        assert response.status_code in (200, 503), response.text  # never a 500
        if response.status_code == 503:
            assert_unavailable(response)
            break
    assert 503 in statuses
    report = {k: v - before[k] for k, v in chaotic.chaos_report().items()}
    injected = report["throttle"] + report["500"] + report["503"]
    assert report["sdk_gave_up"] >= 1 and report["sdk_retries"] >= 3
    assert report["sdk_retries"] + report["sdk_gave_up"] == injected, "each fault: retried, or the last straw"


def test_writes_that_answered_503_applied_all_or_nothing_and_a_retry_does_not_count_twice(
    chaotic: Any, chaotic_api: Api, author: Account, faults: Any
) -> None:
    api = chaotic_api
    tweet = api.post("/tweets", author.token, json={"text": "like me"}).json()["tweet_id"]
    faults("seed=5,faults=0.7")
    posted: list[str] = []
    statuses: list[int] = []
    for i in range(4):
        response = api.post("/tweets", author.token, json={"text": f"under faults {i}"})
        statuses.append(response.status_code)
        if response.status_code == 201:
            posted.append(response.json()["tweet_id"])
        else:
            assert_unavailable(response)
    liked = None
    for _ in range(6):  # a client retrying its like after a 503, as Retry-After invites
        response = api.post(f"/tweets/{tweet}/like", author.token)
        statuses.append(response.status_code)
        if response.status_code == 200:
            liked = response.json()
            break
        assert_unavailable(response)
    faults("")

    assert set(statuses) <= {200, 201, 503}
    assert liked is not None and liked["liked"] is True
    # A retried like counts once: one engagement item (the truth the stream counts; this cloud runs no
    # pollers), and the response counts it.
    assert liked["like_count"] == 1
    likes = chaotic.aws.client("dynamodb").query(
        TableName=chaotic.provisioned.table_names["engagements"],
        KeyConditionExpression="tweet_id = :t",
        ExpressionAttributeValues={":t": {"S": tweet}},
        ConsistentRead=True,
    )["Items"]
    assert [item["user_id"]["S"] for item in likes if "liked_at" in item] == [author.user_id]
    listed = [
        t["tweet_id"] for t in api.get(f"/timeline/user/{author.user_id}", author.token).json()["tweets"]
    ]
    assert set(posted) <= set(listed), "every 201 is there"
    unavailable_posts = statuses[:4].count(503)
    assert len(listed) - 1 - len(posted) <= unavailable_posts, "a 503 applied a post at most once"
    profile = api.get(f"/users/{author.user_id}", author.token).json()
    assert profile["tweet_count"] == len(listed), "the counter moved exactly with the tweets: all or nothing"
