"""The shell of ``spec.recoverFailed``: read the ended executions of the old versions (Conductor's search), restart
those the planner picked on the target, ledger first, and settle the restarts a previous step left as intents.

Every restart is written to the plan's ledger (mover ``Restart``, kept apart from the moves) before Conductor is
called, and confirmed after. An intent left by an operator killed in between is settled from the execution alone
(``recovery.resolve_recovery``): restarted only while it is still ended on its old version, so no execution is
restarted twice. Conductor refuses a restart of an execution that runs, and a restarted execution is on the new
version at once (docs/conductor-facts.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from conductor_operator.api.common import parse_duration
from conductor_operator.api.migration import MigrationPlan
from conductor_operator.conductor.client import ConductorClient
from conductor_operator.conductor.errors import Rejected
from conductor_operator.domain.conditions import format_time, parse_time
from conductor_operator.domain.migrations import recovery
from conductor_operator.domain.migrations.model import Phase
from conductor_operator.domain.waves import Move, MoveState
from conductor_operator.reconcile.moves import Ledger


def _stamp(entry: Move, state: MoveState, now: datetime, message: str = "") -> Move:
    return entry.but(state, format_time(now), message)


async def settle_recoveries(client: ConductorClient, ledger: Ledger, now: datetime) -> list[Move]:
    """Finish the restarts a previous step recorded as intents (it may have died before or after the call)."""
    pending = [e for e in ledger.recoveries.values() if e.state is MoveState.INTENT]
    if not pending:
        return []
    found = {e.get("workflowId"): e for e in await client.existing_executions(e.execution_id for e in pending)}
    settled = []
    for entry in pending:
        execution = found.get(entry.execution_id)
        fix = recovery.resolve_recovery(entry, execution, now)
        if fix is recovery.RecoveryFix.WAIT:
            continue  # a restart sent before a crash may still land: settled at a later step
        if fix is recovery.RecoveryFix.DONE:
            version = int(execution.get("workflowVersion") or 0)
            settled.append(_stamp(entry, MoveState.MOVED, now, "" if version == entry.to_version else
                                  f"restarted on v{version}"))
        elif fix is recovery.RecoveryFix.ENDED:
            settled.append(_stamp(entry, MoveState.ENDED, now,
                                  f"{execution.get('status')} on v{entry.from_version} by other means (a retry?)"
                                  if execution else "gone"))
        else:
            settled.append(await _restart_one(client, entry, now))
    if settled:
        await ledger.record(settled)
    return settled


async def _restart_one(client: ConductorClient, entry: Move, now: datetime) -> Move:
    try:
        await client.restart(entry.execution_id, use_latest_definitions=True)
    except Rejected as exc:
        return _stamp(entry, MoveState.FAILED, now, f"Conductor refused to restart it: {exc.message}")
    return _stamp(entry, MoveState.MOVED, now)


async def restart_ended(client: ConductorClient, ledger: Ledger, intents: Iterable[Move], now: datetime) -> list[Move]:
    """Record the intents, restart them on the latest definitions (the target), confirm. One Conductor did not
    restart stays an intent, settled from its state next step (restarted once more only if still ended)."""
    intents = {e.execution_id: e for e in intents}
    await ledger.record(intents.values())
    result = await client.bulk_restart(intents, use_latest_definitions=True)
    done = [_stamp(intents[i], MoveState.MOVED, now) for i in result.succeeded if i in intents]
    await ledger.record(done)
    return done


async def observe_recovery(client: ConductorClient, plan: MigrationPlan, ledger: Ledger, now: datetime) -> dict:
    """What the planner's phase Recovering needs (requests in brackets): the ledger's restarts [0]; while a wave
    may pick, the ended executions in the window [ceil(n/1000)]; while Recovering, the state of each restarted
    execution [ceil(m/1000)]. Fields of ``PlanObservation``."""
    spec, status = plan.spec, plan.status
    if spec.recover_failed is None and not ledger.recoveries:
        return {}
    observed: dict = {"recoveries": tuple(ledger.recoveries.values())}
    if recovery.reads_recovery_candidates(spec, status):
        since = parse_time(status.recovery.window_start) if status.recovery else None
        if since is None:
            since = (parse_time(status.registered_at) or now) - parse_duration(spec.recover_failed.within)
        summaries = await client.ended_executions(spec.workflow_name, spec.recover_failed.statuses, since)
        observed["recovery_candidates"] = tuple(recovery.ended_execution(s) for s in summaries
                                                if s.get("workflowId") not in ledger.recoveries)
    if status.phase == Phase.RECOVERING:
        restarted = [e.execution_id for e in ledger.recoveries.values() if e.state is MoveState.MOVED]
        states = {e["workflowId"]: e.get("status") for e in await client.existing_executions(restarted)}
        observed["recovery_states"] = {i: states.get(i) for i in restarted}
    return observed


def restarted_text(intents: tuple[Move, ...], done: list[Move]) -> str:
    unsettled = len(intents) - len(done)
    return (f"recovery wave {intents[0].wave}: {len(done)} of {len(intents)} failed execution(s) restarted on "
            f"v{intents[0].to_version}" + (f"; {unsettled} to be settled from their state next step"
                                           if unsettled else ""))


def settled_text(settled: list[Move]) -> str:
    counts: dict[str, int] = {}
    for entry in settled:
        counts[entry.state.value] = counts.get(entry.state.value, 0) + 1
    return "settled restarts a previous step began: " + ", ".join(f"{n} {state}" for state, n in counts.items())
