"""The ledger of a MigrationPlan against the real kube-apiserver: its size limit is the API server's.

A plan that moves thousands of executions writes an entry for each. The API server refuses a ConfigMap
whose data passes 1 MiB, so the ledger spreads over several ConfigMaps; this reads it back whole.
"""

from __future__ import annotations

import time
import uuid

import pytest
from conductor_operator.api.migration import MigrationPlan
from conductor_operator.domain.waves import TERMINATE_RESTART, Move, MoveState
from conductor_operator.kube import Kube
from conductor_operator.reconcile.moves import SHARDS_KEY, Ledger, shard_name
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.e2e.kopf_vault import kopf_vault

pytestmark = pytest.mark.realenv

EXECUTIONS = 12_000
BATCH = 500


def plan_in(namespace: str) -> MigrationPlan:
    return MigrationPlan.from_body({
        "metadata": {"name": "big-move", "namespace": namespace, "uid": str(uuid.uuid4()), "generation": 1},
        "spec": {"workflowName": "orders", "from": {"allOlder": True}, "to": {"workflowDefinitionRef": {"name": "v2"}},
                 "strategy": {"upgradeWaves": {"workersIdempotent": True}}}})


def intents(ids: list[str], wave: int) -> list[Move]:
    return [Move(i, 1, 2, wave, MoveState.INTENT, TERMINATE_RESTART, "2026-11-25T10:00:00Z") for i in ids]


async def test_a_ledger_of_thousands_of_moves_spreads_over_config_maps_and_reads_back_whole(k8s, kubeconfig, namespace):
    ids = [str(uuid.uuid4()) for _ in range(EXECUTIONS)]
    core = client.CoreV1Api(k8s)

    # The limit is real: the same entries in one ConfigMap are refused (the API server counts the values,
    # 1.5 MB here, against 1 MiB).
    whole = {m.execution_id: m.to_json() for m in intents(ids, 0)}
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_config_map(namespace, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="one-config-map"), data=whole))
    assert refused.value.status == 422 and "1048576" in refused.value.body

    async with kopf_vault(kubeconfig) as settings:
        plan = plan_in(namespace)
        ledger = await Ledger(Kube(settings), plan).load()
        started = time.monotonic()
        for wave, first in enumerate(range(0, EXECUTIONS, BATCH)):
            batch = intents(ids[first:first + BATCH], wave)
            await ledger.record(batch)  # written ahead, as a wave does
            await ledger.record(m.but(MoveState.MOVED, "2026-11-25T10:01:00Z") for m in batch)
        elapsed = time.monotonic() - started
        print(f"\nledger: {EXECUTIONS} moves written as intents and confirmed in {elapsed:.1f}s "
              f"({2 * EXECUTIONS / elapsed:.0f} entries/s)")

        shards = int(core.read_namespaced_config_map(ledger.name, namespace).data[SHARDS_KEY])
        assert shards >= 1
        sizes = []
        for index in range(shards + 1):
            data = core.read_namespaced_config_map(shard_name(ledger.name, index), namespace).data
            sizes.append(sum(len(k) + len(v) for k, v in data.items()))
        print(f"ledger: {shards + 1} ConfigMaps of {', '.join(f'{s // 1024} KiB' for s in sizes)}")
        assert all(size < 1024 * 1024 for size in sizes)

        again = await Ledger(Kube(settings), plan).load()
        assert set(again.moves) == set(ids), "every entry reads back, each once"
        assert {m.state for m in again.moves.values()} == {MoveState.MOVED}
        assert [m.wave for m in (again.moves[i] for i in ids[::BATCH])] == list(range(EXECUTIONS // BATCH))

        # A later confirmation lands where its entry is kept, not in a new ConfigMap.
        await again.record([again.moves[ids[0]].but(MoveState.ENDED, "2026-11-25T10:02:00Z", "ended on the target")])
        assert core.read_namespaced_config_map(ledger.name, namespace).data[SHARDS_KEY] == str(shards)
        assert (await Ledger(Kube(settings), plan).load()).moves[ids[0]].state is MoveState.ENDED
