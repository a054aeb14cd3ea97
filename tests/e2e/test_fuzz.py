"""Property-based fuzzing of every documented operation, driven by the served OpenAPI document.

Schemathesis generates requests from ``/openapi.json`` (valid ones, and ones that break the schema) and
checks each response: never a 5xx, a body that matches the documented schema for its status, and the
documented content type. Examples are bounded and derandomised, so a run is deterministic and short.
Path parameters are sometimes real ids (the caller, another user, their tweets), so the fuzzer also
reaches the code behind a found resource instead of only 404s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from infra.resources import SPEC
from tests.support.client import Account, Api, sign_up_and_log_in

pytestmark = pytest.mark.e2e

ROUTES = sorted((route.method, route.path) for route in SPEC.routes)
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
MAX_EXAMPLES = {GenerationMode.POSITIVE: 15, GenerationMode.NEGATIVE: 10}
"""Per operation and mode. The caller then posts a few dozen tweets and follows per run (shrinking
included), far below the rate limits of 300 tweets per 3 hours and 400 follows per day."""
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]

EXPECTED_TO_FAIL: dict[tuple[str, str, GenerationMode], str] = {}
"""Known contract breaks outside the documented behaviour, each with its reason; strict, so a fix shows."""


@dataclass
class Fuzzer:
    """The signed-in caller, a second user and a request count for the run's summary."""

    api: Api
    me: Account
    other: Account
    session: requests.Session = field(default_factory=requests.Session)
    requests_sent: int = 0
    seconds: float = 0.0

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.me.token}"}

    def tweet(self, author: Account) -> str:
        created = self.api.post("/tweets", author.token, json={"text": "a tweet to fuzz #fuzz"})
        assert created.status_code == 201, created.text
        return str(created.json()["tweet_id"])

    def real_path_parameters(self, path: str) -> list[dict[str, str]]:
        """Parameters naming resources that exist (fresh tweets, since a fuzzed DELETE may remove one)."""
        if "{user_id}" in path:
            return [{"user_id": self.me.user_id}, {"user_id": self.other.user_id}]
        if "{username}" in path:
            return [{"username": self.me.username}, {"username": self.other.username.upper()}]
        if "{tweet_id}" in path:
            return [{"tweet_id": self.tweet(self.me)}, {"tweet_id": self.tweet(self.other)}]
        return []


@pytest.fixture(scope="module")
def fuzz_schema(cloud: Any) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{cloud.base_url}/openapi.json", timeout=30)


@pytest.fixture(scope="module")
def fuzzer(api: Api, request: pytest.FixtureRequest) -> Iterator[Fuzzer]:
    run = Fuzzer(api=api, me=sign_up_and_log_in(api), other=sign_up_and_log_in(api))
    yield run
    # The run's size goes to the terminal (capture is on during teardown) so a reader sees the budget.
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.ensure_newline()
            reporter.write_line(f"fuzzing: {run.requests_sent} requests in {run.seconds:.1f} s")


SCHEMA_DOCUMENT = ("GET", "/openapi.json")
"""Schemathesis leaves the operation that serves the document it loaded out of its own list; the
parametrised test below still fuzzes it, looked up by path."""


def test_the_fuzzer_covers_every_documented_operation(fuzz_schema: schemathesis.BaseSchema) -> None:
    listed = set()
    for result in fuzz_schema.get_all_operations():
        # An operation the fuzzer cannot read would otherwise go untested without a word.
        assert isinstance(result, Ok), result
        listed.add((result.ok().method.upper(), result.ok().path))
    assert listed | {SCHEMA_DOCUMENT} == set(ROUTES)


def _cases() -> list[Any]:
    cases = []
    for method, path in ROUTES:
        for mode in MODES:
            reason = EXPECTED_TO_FAIL.get((method, path, mode))
            marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
            cases.append(pytest.param(method, path, mode, marks=marks, id=f"{method} {path} {mode.value}"))
    return cases


def _has_inputs(operation: schemathesis.APIOperation) -> bool:
    return bool(operation.path_parameters or operation.query or operation.headers or operation.body)


@pytest.mark.parametrize(("method", "path", "mode"), _cases())
def test_fuzzed_requests_get_documented_responses_and_no_server_error(
    fuzz_schema: schemathesis.BaseSchema, fuzzer: Fuzzer, method: str, path: str, mode: GenerationMode
) -> None:
    operation = fuzz_schema[path][method.lower()]
    if mode is GenerationMode.NEGATIVE and not _has_inputs(operation):
        pytest.skip(f"{method} {path} takes no input that a request could get wrong")
    strategies = [operation.as_strategy(mode)]
    if mode is GenerationMode.POSITIVE:
        # Negative cases need an invalid part of their own choosing, so only valid cases get real ids.
        strategies += [
            operation.as_strategy(mode, path_parameters=real) for real in fuzzer.real_path_parameters(path)
        ]

    @given(case=st.one_of(strategies))
    @settings(
        max_examples=MAX_EXAMPLES[mode],
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    def fuzz(case: schemathesis.Case) -> None:
        fuzzer.requests_sent += 1
        case.call_and_validate(session=fuzzer.session, headers=fuzzer.headers, checks=CHECKS, timeout=30)

    started = time.monotonic()
    try:
        fuzz()
    finally:
        fuzzer.seconds += time.monotonic() - started
