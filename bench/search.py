"""Search latency on the embedded engine (SQLite FTS5), at 10,000 and 100,000 indexed tweets.

``make bench-search`` (``python -m bench.search``): builds an index of synthetic tweets through the same
adapter the local cloud uses (``SqliteSearchEngine.apply``, bulk batches of 500, versions as the indexer
writes them), then times ``search_tweets`` / ``search_users`` calls of each query kind (the engine call
alone, connection included: the HTTP path adds the gateway and one BatchGetItem of hydration). Words
follow a Zipf law over a 5,000-word vocabulary, so common words (matching a third of all tweets) are in
the mix as in real traffic. Writes bench/results/search.json and search.md.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from functions.search.engines.sqlite import SqliteSearchEngine, create
from functions.search.ports import Change, TweetDocument, UserDocument, version_of
from functions.search.query import parse_tweet_query, parse_user_query

VOCABULARY = 5_000
HASHTAGS = 300
AUTHORS = 2_000
BATCH = 500
TARGET_P50_MS = 20.0


def _word(i: int) -> str:
    consonants, vowels = "bcdfghjklmnprstvz", "aeiou"
    out = ""
    while True:
        out += consonants[i % len(consonants)] + vowels[(i // len(consonants)) % len(vowels)]
        i //= len(consonants) * len(vowels)
        if i == 0:
            return out


class Corpus:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.words = [_word(i + 7) for i in range(VOCABULARY)]
        weights = [1 / (rank + 1) for rank in range(VOCABULARY)]
        self.cumulative = list(_accumulate(weights))
        self.texts: list[list[str]] = []

    def word(self) -> str:
        return self.rng.choices(self.words, cum_weights=self.cumulative)[0]

    def tweet(self, n: int) -> TweetDocument:
        words = [self.word() for _ in range(self.rng.randint(6, 24))]
        self.texts.append(words)
        tags = tuple({f"tag{self.rng.randint(0, HASHTAGS - 1)}" for _ in range(self.rng.randint(0, 2))})
        text = " ".join(words + [f"#{t}" for t in tags])
        seconds = 1_795_334_400 + n
        created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{n % 1000:03d}Z"
        return TweetDocument(f"01T{n:023d}", f"author{self.rng.randint(0, AUTHORS - 1)}", created, text, tags)


def _accumulate(values: list[float]) -> list[float]:
    total, out = 0.0, []
    for value in values:
        total += value
        out.append(total)
    return out


def build(engine: SqliteSearchEngine, corpus: Corpus, start: int, count: int) -> float:
    """Index tweets ``start..start+count``; seconds taken."""
    began = time.perf_counter()
    for first in range(start, start + count, BATCH):
        docs = [corpus.tweet(n) for n in range(first, min(first + BATCH, start + count))]
        changes = [
            Change("tweets", d.tweet_id, version_of(str(10**20 + int(d.tweet_id[3:]))), d) for d in docs
        ]
        assert engine.apply(changes) == [None] * len(changes)
    return time.perf_counter() - began


def queries(corpus: Corpus, samples: int) -> dict[str, list[Callable[[SqliteSearchEngine], Any]]]:
    rng = corpus.rng
    kinds: dict[str, list[Callable[[SqliteSearchEngine], Any]]] = {}

    def tweets(q: str, author: str | None = None) -> Callable[[SqliteSearchEngine], Any]:
        query = parse_tweet_query(q)
        if author:
            query = replace(query, author_ids=(author,))
        return lambda engine: engine.search_tweets(query, None, 20)

    def users(q: str) -> Callable[[SqliteSearchEngine], Any]:
        query = parse_user_query(q)
        return lambda engine: engine.search_users(query, None, 20)

    def phrase() -> str:
        words = rng.choice(corpus.texts)
        i = rng.randrange(len(words) - 1)
        return f'"{words[i]} {words[i + 1]}"'

    kinds["word"] = [tweets(corpus.word()) for _ in range(samples)]
    kinds["two words"] = [tweets(f"{corpus.word()} {corpus.word()}") for _ in range(samples)]
    kinds["phrase"] = [tweets(phrase()) for _ in range(samples)]
    kinds["hashtag"] = [tweets(f"#tag{rng.randint(0, HASHTAGS - 1)}") for _ in range(samples)]
    kinds["from: + word"] = [
        tweets(f"from:x {corpus.word()}", f"author{rng.randint(0, AUTHORS - 1)}") for _ in range(samples)
    ]
    kinds["users prefix"] = [users(_word(rng.randint(7, 400))[:2]) for _ in range(samples)]
    return kinds


def timed(engine: SqliteSearchEngine, calls: list[Callable[[SqliteSearchEngine], Any]]) -> list[float]:
    out = []
    for call in calls:
        began = time.perf_counter()
        call(engine)
        out.append((time.perf_counter() - began) * 1000)
    return out


def summary(samples: list[float]) -> dict[str, float | int]:
    ordered = sorted(samples)
    return {
        "samples": len(ordered),
        "p50_ms": round(statistics.median(ordered), 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
        "max_ms": round(ordered[-1], 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--samples", type=int, default=300, help="queries per kind and size")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    corpus = Corpus(args.seed)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        engine = SqliteSearchEngine(create(Path(tmp) / "search.db"))
        users = [
            UserDocument(f"user{i}", _word(i + 7) + str(i), f"{_word(i + 11)} {_word(i + 13)}")
            for i in range(AUTHORS)
        ]
        engine.apply([Change("users", u.user_id, version_of("1"), u) for u in users])
        indexed = 0
        for size in sorted(args.sizes):
            seconds = build(engine, corpus, indexed, size - indexed)
            rate = (size - indexed) / seconds
            indexed = size
            kinds = queries(corpus, args.samples)
            timed(engine, [call for calls in kinds.values() for call in calls[:20]])  # warm the page cache
            per_kind = {kind: summary(timed(engine, calls)) for kind, calls in kinds.items()}
            everything = [s for calls in kinds.values() for s in timed(engine, calls)]
            results.append(
                {
                    "tweets": size,
                    "index_rate_per_s": round(rate),
                    "all": summary(everything),
                    "kinds": per_kind,
                }
            )
            print(f"{size:>7} tweets  indexed at {rate:,.0f}/s  all: {summary(everything)}", flush=True)
            for kind, found in per_kind.items():
                print(f"          {kind:<14} {found}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "search.json").write_text(
        json.dumps({"target_p50_ms": TARGET_P50_MS, "runs": results}, indent=2)
    )
    lines = [
        "# Search latency, embedded engine (SQLite FTS5)",
        "",
        "Engine call only (`search_tweets`/`search_users`, limit 20, connection included), one process.",
        "",
        "| tweets | kind | samples | p50 ms | p99 ms |",
        "|---:|---|---:|---:|---:|",
    ]
    for run in results:
        for kind, found in {"all": run["all"], **run["kinds"]}.items():
            lines.append(
                f"| {run['tweets']:,} | {kind} | {found['samples']} | {found['p50_ms']} | {found['p99_ms']} |"
            )
    (args.out / "search.md").write_text("\n".join(lines) + "\n")
    worst = max(run["all"]["p50_ms"] for run in results)
    return 0 if worst < TARGET_P50_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
