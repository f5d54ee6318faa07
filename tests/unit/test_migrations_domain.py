from datetime import UTC, datetime, timedelta

import pytest
from conductor_operator.domain.compatibility import BREAKING, CAUTION, SAFE
from conductor_operator.domain.migrations import (
    DrainState,
    drained,
    plan_verdict,
    record_reading,
    versions_to_move,
)

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"explicit": None, "all_older": True, "registered": [1, 2, 3, 5], "target": 3}, [1, 2]),
    ({"explicit": [2, 1, 2, 3], "all_older": False, "registered": [], "target": 3}, [1, 2]),
    ({"explicit": None, "all_older": True, "registered": [3], "target": 3}, []),
    ({"explicit": [4], "all_older": False, "registered": [1, 2, 3, 4], "target": 3}, [4]),
])
def test_versions_to_move(kwargs, expected):
    assert versions_to_move(**kwargs) == expected


def workflow(*refs, version=1):
    return {"name": "orders", "version": version,
            "tasks": [{"name": r, "taskReferenceName": r, "type": "SIMPLE"} for r in refs]}


def test_plan_verdict_is_the_worst_over_every_old_version():
    target = workflow("a", "b", "c", version=3)
    verdict = plan_verdict({2: workflow("a", "b", version=2), 1: workflow("a", "x", "b")}, target)
    assert verdict.level is BREAKING  # v1's task x is gone
    assert [v for v, _ in verdict.findings] == sorted(v for v, _ in verdict.findings), "by version"
    assert {(v, f.reason) for v, f in verdict.findings} >= {(1, "TaskRemoved"), (2, "TaskAppended")}
    assert verdict.allows("parallel") and not verdict.allows("upgradeWaves")
    assert verdict.allows("upgradeWaves", acknowledged_breaking=True)


def test_plan_verdict_of_only_appended_tasks_is_safe_and_of_nothing_is_safe():
    assert plan_verdict({1: workflow("a")}, workflow("a", "b", version=2)).level is SAFE
    assert plan_verdict({}, workflow("a")).level is SAFE
    assert plan_verdict({1: workflow("a", "b")}, workflow("b", "a", version=2)).level is CAUTION


def test_drain_needs_consecutive_zero_readings_over_the_grace_period():
    state = DrainState()
    for minute in range(3):
        state = record_reading(state, 0, T0 + timedelta(minutes=minute))
    assert state == DrainState(3, T0)
    assert not drained(state, T0 + timedelta(minutes=2), readings_needed=3, grace=timedelta(minutes=5))
    assert drained(state, T0 + timedelta(minutes=5), readings_needed=3, grace=timedelta(minutes=5))
    assert not drained(state, T0 + timedelta(minutes=5), readings_needed=4, grace=timedelta(minutes=5))


@pytest.mark.parametrize("reading", [1, None])
def test_a_running_execution_or_an_unknown_reading_starts_over(reading):
    state = record_reading(record_reading(DrainState(), 0, T0), 0, T0 + timedelta(minutes=1))
    assert record_reading(state, reading, T0 + timedelta(minutes=2)) == DrainState()


def test_one_reading_is_never_enough():
    state = record_reading(DrainState(), 0, T0)
    assert not drained(state, T0 + timedelta(days=1), readings_needed=1, grace=timedelta(0))
