"""The replay gate's I/O (spec.gates.replay): sample recent executions of the old versions, replay each through
the target definition with ``POST /workflow/test`` (nothing registered, every task's output mocked from the
execution's own task; the test execution is removed at once), and compare (``domain/migrations/replay``, pure).

Requests: one search, the sampled executions with their tasks [ceil(n/1000)], one test (and one removal) per
execution. Done once per spec of the gates, before they passed; a server without the endpoint (404/405) is
reported as unsupported, and the plan holds or skips as ``onUnsupported`` says.
"""

from __future__ import annotations

from datetime import datetime

from conductor_operator.api.migration import MigrationPlan
from conductor_operator.conductor.client import ConductorClient
from conductor_operator.conductor.errors import NotFound, Rejected
from conductor_operator.domain.migrations import check_correlation_id
from conductor_operator.domain.migrations import replay as pure
from conductor_operator.domain.migrations.model import TargetView

SEARCHED_PER_SAMPLED = 5
"""Summaries searched for each execution to replay: the version and the pattern are filtered here."""


async def observe_replay(client: ConductorClient, plan: MigrationPlan, target: TargetView,
                         old_definitions: dict[int, dict], now: datetime) -> pure.ReplayObservation:
    gate = plan.spec.gates.replay
    definition = target.definition
    if why := pure.unreplayable_target(definition):
        return pure.ReplayObservation(unsupported=why)
    size = min(1000, max(100, gate.sample * SEARCHED_PER_SAMPLED))
    summaries = await client.search_executions(pure.search_query(plan.spec.workflow_name, gate, now), size=size)
    ids = pure.select(summaries, old_definitions, gate)
    by_id = {e["workflowId"]: e for e in await client.existing_executions(ids, include_tasks=True)}
    meta = plan.metadata
    correlation = check_correlation_id(meta.namespace, meta.name, pure.REPLAY_GATE.lower(), meta.generation, None)
    runs: list[pure.ReplayRun] = []
    skipped: list[str] = []
    for execution in (by_id[i] for i in ids if i in by_id):  # gone since the search: not replayed
        execution_id = execution["workflowId"]
        if why := pure.unreplayable(execution):
            skipped.append(f"{execution_id}: {why}")
            continue
        try:
            replayed = await client.test_workflow(pure.test_request(execution, definition, correlation))
        except NotFound as exc:
            return pure.ReplayObservation(skipped=tuple(skipped), unsupported=exc.message)
        except Rejected as exc:  # the target itself was refused: every replay would be
            runs.append(pure.ReplayRun(execution_id, int(execution.get("workflowVersion") or 0),
                                       str(execution.get("status")), None,
                                       (f"Conductor refused the replay: {exc}",)))
            continue
        version = int(execution.get("workflowVersion") or 0)
        runs.append(pure.compare(execution, replayed, old_definitions.get(version), definition,
                                 gate.compare_output_keys))
    return pure.ReplayObservation(tuple(runs), tuple(skipped))
