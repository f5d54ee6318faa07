"""The history the operator keeps for the dashboard (reconcile/moves.py ``History``): at most one point per
drainDetection interval, at most HISTORY_POINTS points, older points thinned, and never in the way of a step."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from conductor_operator.api.migration import MigrationPlan
from conductor_operator.domain.conditions import format_time
from conductor_operator.kube import KubeError
from conductor_operator.reconcile.moves import HISTORY_KEY, HISTORY_POINTS, History, history_name, thin_history

START = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
INTERVAL = timedelta(seconds=30)


class MemoryKube:
    def __init__(self):
        self.maps: dict[tuple[str, str], dict[str, str]] = {}
        self.owners: dict[tuple[str, str], dict] = {}
        self.writes = 0
        self.fail: KubeError | None = None

    async def config_map_data(self, namespace, name):
        if self.fail:
            raise self.fail
        return dict(self.maps.get((namespace, name), {}))

    async def merge_config_map_data(self, namespace, name, data, *, owner):
        self.writes += 1
        self.maps.setdefault((namespace, name), {}).update(data)
        self.owners[(namespace, name)] = owner


def plan(name: str = "orders-to-v2") -> MigrationPlan:
    return MigrationPlan.from_body({
        "metadata": {"name": name, "namespace": "team", "uid": "uid-1", "generation": 1},
        "spec": {"workflowName": "orders", "from": {"allOlder": True}, "to": {"workflowDefinitionRef": {"name": "v2"}},
                 "strategy": {"parallel": {}}}})


def points(kube: MemoryKube, name: str = "orders-to-v2-history") -> list[dict]:
    return json.loads(kube.maps[("team", name)][HISTORY_KEY])


async def test_a_point_per_interval_at_most_in_a_config_map_the_plan_owns():
    kube = MemoryKube()
    history = History(kube, plan())
    assert await history.record({1: 3, 2: 0}, START, INTERVAL)
    assert not await history.record({1: 2, 2: 1}, START + timedelta(seconds=29), INTERVAL), "within the interval"
    assert await history.record({2: 3, 1: 0}, START + timedelta(seconds=30), INTERVAL)
    assert points(kube) == [{"at": "2026-11-30T12:00:00Z", "running": {"1": 3, "2": 0}},
                            {"at": "2026-11-30T12:00:30Z", "running": {"1": 0, "2": 3}}]
    assert kube.writes == 2
    assert kube.owners[("team", "orders-to-v2-history")] == {
        "apiVersion": "conductor-operator.io/v1alpha1", "kind": "MigrationPlan", "name": "orders-to-v2",
        "uid": "uid-1"}


async def test_the_history_stays_bounded_over_a_long_migration_keeping_its_start_and_recent_past():
    kube = MemoryKube()
    history = History(kube, plan())
    for i in range(5 * HISTORY_POINTS):
        await history.record({1: 5 * HISTORY_POINTS - i, 2: i}, START + i * INTERVAL, INTERVAL)
        assert len(points(kube)) <= HISTORY_POINTS
    kept = points(kube)
    assert kept[0]["at"] == format_time(START), "the start of the migration stays"
    newest = [format_time(START + i * INTERVAL) for i in range(5 * HISTORY_POINTS - HISTORY_POINTS // 2,
                                                               5 * HISTORY_POINTS)]
    assert [p["at"] for p in kept[-HISTORY_POINTS // 2:]] == newest, "the recent past at full resolution"
    times = [p["at"] for p in kept]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert len(kube.maps[("team", "orders-to-v2-history")][HISTORY_KEY]) < 40_000, "tens of KB, not a MiB"


@pytest.mark.parametrize("count", [0, 1, 2, 499, 500, 501, 750, 1001, 10_000])
def test_thinning_bounds_any_length(count):
    thinned = thin_history(list(range(count)))
    assert len(thinned) <= HISTORY_POINTS
    assert thinned == sorted(thinned)
    if count:
        assert thinned[0] == 0 and thinned[-1] == count - 1
    if count <= HISTORY_POINTS:
        assert thinned == list(range(count))
    else:
        assert thinned[-HISTORY_POINTS // 2:] == list(range(count - HISTORY_POINTS // 2, count))


async def test_a_history_edited_by_hand_starts_over_and_a_failing_api_holds_nothing():
    kube = MemoryKube()
    kube.maps[("team", "orders-to-v2-history")] = {HISTORY_KEY: "not json"}
    history = History(kube, plan())
    assert await history.record({1: 1}, START, INTERVAL)
    assert points(kube) == [{"at": "2026-11-30T12:00:00Z", "running": {"1": 1}}]
    kube.maps[("team", "orders-to-v2-history")] = {HISTORY_KEY: '{"a": 1}'}
    assert await history.record({1: 1}, START, INTERVAL)
    assert points(kube) == [{"at": "2026-11-30T12:00:00Z", "running": {"1": 1}}]
    kube.fail = KubeError(403, "Forbidden: configmaps \"orders-to-v2-history\" is forbidden")
    assert not await history.record({1: 0}, START + INTERVAL, INTERVAL)
    kube.fail = KubeError(None, "cannot reach the Kubernetes API server: Connection refused")
    assert not await history.record({1: 0}, START + INTERVAL, INTERVAL)


def test_the_history_has_its_own_name_within_kubernetes_limits():
    assert history_name("orders-to-v2") == "orders-to-v2-history"
    long = history_name("x" * 253)
    assert len(long) <= 253 and long.endswith("-history") and long != history_name("x" * 252 + "y")


async def test_the_plan_shell_keeps_the_history_as_a_waves_plan_moves():
    """The real shell (reconcile_plan) over the component tests' fakes: a point per 30s interval as the waves
    move executions from v1 to v2, in ``<plan>-history`` beside the ledger, which it leaves alone."""
    from tests.component.test_migration_moves import LEDGER, crash_run, ledger_entries
    from tests.component.test_reconcile import Clock

    conductor, kube, status, _ = await crash_run(-1, Clock(), crash=False)
    assert status["phase"] == "Draining"
    kept = json.loads(kube.config_maps[("ns", "order-to-v2-history")][HISTORY_KEY])
    assert 2 <= len(kept) <= HISTORY_POINTS
    times = [datetime.fromisoformat(p["at"].replace("Z", "+00:00")) for p in kept]
    assert all(b - a >= INTERVAL for a, b in zip(times, times[1:], strict=False)), "a point per interval at most"
    assert kept[0]["running"] == {"1": 12} and kept[-1]["running"].get("2", 0) > kept[0]["running"].get("2", 0)
    assert set(ledger_entries(kube)) == set(conductor.executions) and LEDGER != "order-to-v2-history"
