"""The bench's op plan (bench/workload.py): returning readers stay inactive until their rebuild, the
inactive share leaves the phase's actors active, deep paging and rebuilds are ops of their own."""

from __future__ import annotations

from bench.graph import GraphParams, generate
from bench.workload import inactive_set, plan, returning_readers, with_rebuilds

GRAPH = generate(GraphParams(users=200, seed=7))
COUNTS = {"home_read": 30, "deep_page": 3, "user_read": 5, "post": 10, "like": 5, "follow": 3}


def test_returning_readers_are_disjoint_follow_someone_and_never_act_before_their_rebuild() -> None:
    batches = returning_readers(GRAPH, per_batch=3, batches=3, seed=1)
    everyone = [u for batch in batches for u in batch]
    assert len(everyone) == len(set(everyone)) == 9
    assert all(GRAPH.following[u] for u in everyone)
    for b, readers in enumerate(batches):
        ops = with_rebuilds(plan(GRAPH, COUNTS, 100 * b, frozenset(everyone)), readers, b)
        assert sorted(op.actor for op in ops if op.kind == "rebuild") == sorted(readers)
        assert not any(op.actor in everyone for op in ops if op.kind != "rebuild")
        kinds = [op.kind for op in ops]
        assert {k: kinds.count(k) for k in COUNTS} == COUNTS


def test_the_plan_is_seeded() -> None:
    assert plan(GRAPH, COUNTS, 5) == plan(GRAPH, COUNTS, 5)
    assert plan(GRAPH, COUNTS, 5) != plan(GRAPH, COUNTS, 6)


def test_inactive_set_has_the_share_and_spares_the_actors() -> None:
    keep = {0, 1, 2, 3}
    inactive = inactive_set(GRAPH, 0.5, keep, seed=3)
    assert len(inactive) == 100 and not inactive & keep
    assert inactive_set(GRAPH, 0.0, keep, seed=3) == set()
    assert len(inactive_set(GRAPH, 0.8, keep, seed=3)) == 160
