"""Rebuild the search indexes from DynamoDB (``make reindex``), without search going down.

    python scripts/reindex.py --stack chirp-dev                       # AWS: the domain from the stack
    python scripts/reindex.py --engine https://search-...es.amazonaws.com --tweets-table T --users-table U
    python scripts/reindex.py --endpoint-url http://127.0.0.1:PORT --engine sqlite:///.local-data/search/search.db

OpenSearch: a new generation of each index (``tweets-v<N+1>``) is created from the index template; the
write alias moves to it first, so every change the indexer applies from then on lands there; the tables
are scanned and loaded with the scan version (the lowest: any stream change, earlier or later, wins over
a scanned document, and a tombstone is never undone); then the read alias moves to it in one atomic
``_aliases`` call. Searches keep reading the old generation until that moment. The old generation is
kept for a rollback (``--drop-old`` deletes it).

The local engine (``sqlite://``): the scanned documents are upserted in place with the scan version, so
documents the index lost come back and newer ones stand; a deleted tweet that is still indexed stays
hidden by the read-time check. Needs read access to the tables (Scan) and to the domain (es:ESHttp*).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the definition, when run as a script
from functions.search.documents import tweet_document, user_document
from functions.search.engines import engine_for
from functions.search.ports import SCAN_VERSION, Change, SearchEngine

BATCH = 500
_DESERIALIZER = TypeDeserializer()


def scan(dynamodb: Any, table: str) -> Iterator[dict[str, Any]]:
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page["Items"]:
            yield {name: _DESERIALIZER.deserialize(value) for name, value in item.items()}


def changes(dynamodb: Any, tweets_table: str, users_table: str) -> Iterator[Change]:
    for item in scan(dynamodb, tweets_table):
        if item.get("kind", "tweet") == "tweet":
            yield Change("tweets", str(item["tweet_id"]), SCAN_VERSION, tweet_document(item))
    for item in scan(dynamodb, users_table):
        if item.get("kind", "profile") == "profile":
            yield Change("users", str(item["pk"]), SCAN_VERSION, user_document(item))


def load(apply: Any, found: Iterator[Change]) -> tuple[int, int]:
    """Apply in batches; (applied, failed)."""
    applied = failed = 0
    batch: list[Change] = []
    for change in [*found, None]:
        if change is not None:
            batch.append(change)
        if batch and (change is None or len(batch) >= BATCH):
            reasons = apply(batch)
            failed += sum(reason is not None for reason in reasons)
            applied += sum(reason is None for reason in reasons)
            batch = []
    return applied, failed


def rebuild_opensearch(
    engine: Any, dynamodb: Any, tables: tuple[str, str], drop_old: bool
) -> tuple[int, int]:
    engine.ensure_ready()
    targets: dict[str, tuple[str, list[str]]] = {}
    for index in ("tweets", "users"):
        current = engine.generations(index)["read"]
        generation = 1 + max((int(name.rsplit("-v", 1)[1]) for name in current), default=0)
        name = engine.create_generation(index, generation, read=False)  # takes the write alias
        targets[index] = (name, current)
    found = list(changes(dynamodb, *tables))
    applied = failed = 0
    for index, (name, _) in targets.items():
        a, f = load(
            lambda batch, target=name: engine.load(batch, target), (c for c in found if c.index == index)
        )
        applied, failed = applied + a, failed + f
    if failed:
        print(f"{failed} documents failed; the read aliases stay where they were", file=sys.stderr)
        return applied, failed
    for index, (name, old) in targets.items():
        engine.swap_aliases(index, alias=index, to=name)
        if drop_old:
            for previous in old:
                engine.client.indices.delete(index=previous)
    return applied, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rebuild the search indexes from DynamoDB.")
    parser.add_argument(
        "--engine", default=os.environ.get("SEARCH_ENDPOINT"), help="https://... or sqlite://..."
    )
    parser.add_argument("--stack", help="read the domain endpoint from this stack's SearchEndpoint output")
    parser.add_argument("--tweets-table", default=os.environ.get("TWEETS_TABLE_NAME", "tweets"))
    parser.add_argument("--users-table", default=os.environ.get("USERS_TABLE_NAME", "users"))
    parser.add_argument("--endpoint-url", help="DynamoDB endpoint (the local cloud's)")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    parser.add_argument("--drop-old", action="store_true", help="delete the previous generation (OpenSearch)")
    args = parser.parse_args(argv)
    if args.stack:
        cloudformation = boto3.client("cloudformation", region_name=args.region)
        outputs = cloudformation.describe_stacks(StackName=args.stack)["Stacks"][0].get("Outputs", [])
        args.engine = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "SearchEndpoint")
    if not args.engine:
        parser.error("name the engine: --engine, --stack or SEARCH_ENDPOINT")
    dynamodb = boto3.client("dynamodb", region_name=args.region, endpoint_url=args.endpoint_url)
    engine: SearchEngine = engine_for(args.engine, region=args.region)
    tables = (args.tweets_table, args.users_table)
    if args.engine.startswith("sqlite://"):
        engine.ensure_ready()
        applied, failed = load(engine.apply, changes(dynamodb, *tables))
    else:
        applied, failed = rebuild_opensearch(engine, dynamodb, tables, args.drop_old)
    print(f"reindexed {applied} documents, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
