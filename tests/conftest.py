"""Shared fixtures. The local cloud starts once per session; tests isolate through unique data."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import requests

from tests.support.client import Account, Api, sign_up_and_log_in

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
# Powertools reads these when functions.core.observability is first imported, which may happen at
# collection, before the local cloud sets the functions' environment.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Chirp")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "chirp")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")


@pytest.fixture(scope="session")
def cloud() -> Iterator[object]:
    from local_cloud.runtime import LocalCloud

    with LocalCloud(port=0, start_pollers=os.environ.get("CHIRP_NO_POLLERS") != "1") as running:
        yield running


@pytest.fixture(scope="session")
def api(cloud: object) -> Api:
    return Api(base_url=cloud.base_url, session=requests.Session())  # type: ignore[attr-defined]


@pytest.fixture
def alice(api: Api) -> Account:
    return sign_up_and_log_in(api, display_name="Alice")


@pytest.fixture
def bob(api: Api) -> Account:
    return sign_up_and_log_in(api, display_name="Bob")
