"""`make redrive`: dead letters of the fan-out queue go back to it and are applied by the worker."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
from ulid import ULID

from functions.timeline.dal import TimelineStore
from functions.timeline.models import AddEntry, EntryBody, TimelineEntry

_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "redrive.py"
_spec = importlib.util.spec_from_file_location("redrive", _SCRIPT)
assert _spec is not None and _spec.loader is not None
redrive = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("redrive", redrive)  # dataclasses look their module up there
_spec.loader.exec_module(redrive)


def test_redrive_moves_every_dead_letter_back_and_the_worker_applies_them(cloud: Any) -> None:
    sqs = boto3.client("sqs")
    queue_url = cloud.provisioned.queue_urls["fanout"]
    dlq_url = cloud.provisioned.dlq_urls["fanout"]
    readers = [f"r-{uuid.uuid4().hex[:10]}" for _ in range(12)]
    tweet_id = str(ULID())
    entry = EntryBody.of(TimelineEntry(tweet_id, tweet_id, "author"))
    for reader in readers:  # dead letters: one message per reader
        body = AddEntry(users=[reader], entry=entry).model_dump_json(exclude_none=True)
        sqs.send_message(QueueUrl=dlq_url, MessageBody=body)

    result = redrive.redrive(sqs, queue_url)

    assert (result.moved, result.failed, result.dlq_url) == (12, 0, dlq_url)
    assert cloud.wait_idle(60)  # returns as soon as idle; slow only under load (vanilla moto in CI)
    store = TimelineStore()
    assert all(
        [e.entry_id for e in store.query_page(r, None, 5, with_meta=False)[1]] == [tweet_id] for r in readers
    )
    assert redrive.redrive(sqs, queue_url).moved == 0
