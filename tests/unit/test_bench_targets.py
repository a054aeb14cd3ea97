"""How the bench judges its targets: the cost target at the cheapest swept threshold, the 5-second bound
on the local-cloud lag."""

from __future__ import annotations

from typing import Any

from bench.report import evaluate_targets


def _totals(push: float, pull: float, hybrid: float) -> dict[str, dict[str, float]]:
    return {
        name: {"usd_per_million": cost} for name, cost in (("push", push), ("pull", pull), ("hybrid", hybrid))
    }


def _sweep(*rows: tuple[int, float]) -> list[dict[str, Any]]:
    return [{"threshold": t, "usd_per_million": cost} for t, cost in rows]


def _target(targets: list[dict[str, Any]], prefix: str) -> dict[str, Any]:
    return next(t for t in targets if t["target"].startswith(prefix))


def test_the_cost_target_is_judged_at_the_cheapest_threshold_and_names_both() -> None:
    targets = evaluate_targets(
        [], [], _totals(9.91, 8.01, 8.88), sweep=_sweep((25, 7.93), (500, 8.88)), threshold=500
    )
    cost = _target(targets, "hybrid total cost")
    assert cost["status"] == "PASS"
    assert "threshold 500: $8.88" in cost["detail"] and "25 followers: $7.93" in cost["detail"]


def test_the_cost_target_fails_when_no_threshold_beats_both() -> None:
    targets = evaluate_targets(
        [], [], _totals(9.91, 8.01, 8.88), sweep=_sweep((25, 8.05), (500, 8.88)), threshold=500
    )
    assert _target(targets, "hybrid total cost")["status"] == "FAIL"
    cheaper_than_pull_only = evaluate_targets([], [], _totals(7.0, 9.0, 8.0), sweep=[], threshold=500)
    assert _target(cheaper_than_pull_only, "hybrid total cost")["status"] == "FAIL"


def test_the_lag_bound_is_judged_on_the_local_cloud_worst_post() -> None:
    rows = [{"followers": 10_000, "posts": 5, "lag_p50_s": 3.6, "lag_max_s": 4.9}]
    assert _target(evaluate_targets([], [], {}, rows), "(issue 4")["status"] == "PASS"
    rows[0]["lag_max_s"] = 5.2
    assert _target(evaluate_targets([], [], {}, rows), "(issue 4")["status"] == "FAIL"
