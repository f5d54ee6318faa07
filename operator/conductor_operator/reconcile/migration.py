"""The MigrationPlan shell: observe the target and Conductor, let the planner decide, act, report.

What a step reads depends on where the plan is: ``observe_plan`` lists it, phase by phase, with the requests each
read costs. Moves a previous step began are settled before anything is planned. Each action is carried out on its
own, so one that fails leaves the results of the others recorded. A plan that ended reads nothing at all until its
spec changes.
"""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import UTC, datetime

from pydantic import ValidationError

from conductor_operator import metrics
from conductor_operator.api.common import parse_duration
from conductor_operator.api.definitions import WorkflowDefinition
from conductor_operator.api.migration import GateResult, MigrationPlan
from conductor_operator.conductor.client import ConductorClient, counts_by_version
from conductor_operator.conductor.errors import ConductorError, Conflict, NotFound, Rejected, Unavailable
from conductor_operator.domain import definitions as defs
from conductor_operator.domain import migrations as plans
from conductor_operator.domain import waves
from conductor_operator.domain.conditions import kstatus
from conductor_operator.domain.migrations.replay import replay_due
from conductor_operator.kube import Missing
from conductor_operator.reconcile import (
    Outcome,
    Runtime,
    UserError,
    cluster_name,
    conclude,
    parse_plans,
    validation_message,
)
from conductor_operator.reconcile.moves import (
    History,
    Ledger,
    LedgerUnavailable,
    Mover,
    pause_triggers,
    pinning_triggers,
    resume_triggers,
)
from conductor_operator.reconcile.recovery import (
    observe_recovery,
    restart_ended,
    restarted_text,
    settle_recoveries,
    settled_text,
)
from conductor_operator.reconcile.replay import observe_replay

REASON_UNLISTED_TRANSITION = "UnlistedTransition"


async def reconcile_plan(runtime: Runtime, body, *, attempt: int = 0) -> Outcome:
    meta = body["metadata"]
    generation = meta.get("generation")
    label = f"MigrationPlan {meta['name']}"
    async with runtime.lock(body):
        now = runtime.clock()
        current = _raw(body)
        recorded = runtime.recorded_status(meta["uid"], current)
        try:
            plan = MigrationPlan.from_body({**body, "status": recorded})
        except ValidationError as exc:
            return runtime.invalid_spec(body, exc)
        if plans.at_rest(plan.status, generation):
            return Outcome(None)  # it ended: nothing to read, its status is the record of its end
        try:
            target = await _target_view(runtime, meta["namespace"], plan)
            client = await runtime.client_for(meta["namespace"], cluster_name(plan))
            ledger = await Ledger(runtime.kube, plan).load()
            metrics.ledger_size(meta["namespace"], meta["name"], len(ledger.moves) + len(ledger.recoveries))
            flavor = (await client.detect_flavor()).value
            settled = await _settle(client, plan, ledger, flavor, now)
            restarts = await settle_recoveries(client, ledger, now)  # spec.recoverFailed (reconcile/recovery.py)
            plan.status.triggers = ledger.trigger_status()
            observed = await observe_plan(client, plan, target, now, ledger, flavor)
            if observed.counts is not None:  # the definitions of the workflow count from this read too
                runtime.remember_counts(client, plan.spec.workflow_name, observed.counts, now)
                # The dashboard's picture: at most a point per interval; its failure holds nothing.
                await History(runtime.kube, plan).record(observed.counts, now,
                                                         parse_duration(plan.spec.drain_detection.interval))
            observed = dataclasses.replace(observed, rival=await _rival(runtime, plan, client.base_url))
        except LedgerUnavailable as exc:
            return _error(runtime, body, recorded, now, unavailable=(label, Unavailable(None, str(exc)), attempt))
        except UserError as exc:
            return _error(runtime, body, recorded, now, kstatus(False, exc.reason, exc.message, stalled=True),
                          defs.state_event("Warning", exc.reason, exc.message))
        except Unavailable as exc:
            return _error(runtime, body, recorded, now, unavailable=(label, exc, attempt))
        except ConductorError as exc:
            message = f"Conductor refused a request of {label}: {exc.message}"
            return _error(runtime, body, recorded, now, kstatus(False, defs.REASON_REJECTED, message, stalled=True),
                          defs.state_event("Warning", defs.REASON_REJECTED, message))
        try:
            step = plans.plan_migration(plan.spec, plan.status, observed, now, generation)
        except plans.UnlistedTransition as exc:  # a status this operator never writes (edited by hand, or older)
            message = (f"{label} cannot go on from its recorded status: {exc}; restore the status it had, or "
                       f"delete and recreate the plan")
            return _error(runtime, body, recorded, now,
                          kstatus(False, REASON_UNLISTED_TRANSITION, message, stalled=True),
                          defs.state_event("Warning", REASON_UNLISTED_TRANSITION, message))
        if restarts:
            step.events.append(defs.Event("Normal", "RestartsSettled", settled_text(restarts)))
        if settled:
            step.events.append(defs.Event("Normal", "MovesSettled", _settled_text(settled)))
        refused, failures = await _act(client, plan, step, target, ledger, now)
        if refused:  # Conductor refused a check workflow: the planner judges the gate it recorded as failed
            step = plans.plan_migration(plan.spec, step.status, dataclasses.replace(observed, counts=None), now,
                                        generation)
        retry_after = None
        if failures:  # what succeeded is recorded; the rest is tried again after a backoff
            step.status.message = f"{step.status.message}; failed: {'; '.join(failures)}"
            retry_after = runtime.settings.retry_delay(attempt)
        step.status.ledger = ledger.name if ledger.exists else None
        step.status.triggers = ledger.trigger_status()
        written = step.status.to_dict()
        written.pop("conditions", None)
        # Clear what the planner dropped from the object, and from the status planned from (when the body is stale).
        written = _with_deletions(recorded, _with_deletions(current, written))
        outcome = conclude({**current, **written}, step.conditions, now, generation,
                            events=step.events, retry_after=retry_after, message=step.status.message or "")
        runtime.record_status(meta["uid"], current, outcome.status)
        return outcome


def _error(runtime: Runtime, body, recorded: dict, now: datetime, conditions=None, event=None, *,
           unavailable: tuple | None = None) -> Outcome:
    """The outcome of a reconcile that could not observe: the last status, conditions saying why. A run of
    zero readings is broken by a reading that could not be taken."""
    status = dict(recorded)
    if status.get("drain"):
        status["drain"] = {**status["drain"], "zeroReadings": 0, "firstZeroAt": None}
    generation = body["metadata"].get("generation")
    if unavailable:
        label, exc, attempt = unavailable
        outcome = runtime.unavailable(status, now, generation, label, exc, attempt)
    else:
        outcome = conclude(status, conditions, now, generation, events=[event] if event else ())
    outcome.status = {**_raw(body), **_with_deletions(_raw(body), outcome.status)}
    runtime.record_status(body["metadata"]["uid"], _raw(body), outcome.status)
    return outcome


def _with_deletions(before: dict, after: dict) -> dict:
    """``after``, with None for every key of ``before`` it lacks, at any depth of nested objects.

    Status is written as a JSON merge patch, where a missing key keeps its old value and only null
    removes it: a field the planner cleared (a drain that started over) must be sent as null.
    """
    merged = dict(after)
    for key, old in before.items():
        if key == "conditions":
            continue
        if key not in after:
            merged[key] = None
        elif isinstance(old, dict) and isinstance(after[key], dict):
            merged[key] = _with_deletions(old, after[key])
    return merged


def _raw(body) -> dict:
    return dict(body.get("status") or {})


async def _target_view(runtime: Runtime, namespace: str, plan: MigrationPlan) -> plans.TargetView | None:
    # After the cutover the plan follows the resource it released, whatever spec.to says now.
    name = plan.status.released if plan.status.cutover_at and plan.status.released else \
        plan.spec.to.workflow_definition_ref.name
    try:
        body = await runtime.kube.workflow_definition(namespace, name)
    except Missing:
        return None
    spec = body.get("spec") or {}
    try:
        resource = WorkflowDefinition.from_body(body)
    except ValidationError as exc:
        return plans.TargetView(name, str(spec.get("name")), int(spec.get("version") or 0), None,
                                problem=validation_message(exc))
    workflow, version = resource.spec.name, resource.spec.version
    try:
        loaded = await runtime.definition_body(namespace, spec)
        runtime.check_identity(loaded, workflow, version)
    except UserError as exc:
        return plans.TargetView(name, workflow, version, None, problem=exc.message,
                                activation=resource.spec.activation)
    ready = resource.status.condition("Ready")
    in_sync = bool(resource.status.registered) and ready is not None and ready.status == "True"
    return plans.TargetView(name, workflow, version, defs.desired_workflow_definition(workflow, version, loaded),
                            activation=resource.spec.activation, registered=in_sync)


async def _settle(client: ConductorClient, plan: MigrationPlan, ledger: Ledger, flavor: str,
                  now: datetime) -> list[waves.Move]:
    """Finish the moves a previous step recorded as intents (it may have crashed halfway)."""
    if not ledger.pending():
        return []
    settings = plan.spec.strategy.mover_settings
    mover = plans.mover_for(settings, flavor) if settings else next(iter(ledger.moves.values())).mover
    return await Mover(client, plan, mover, now).finish(ledger)


def _settled_text(settled: list[waves.Move]) -> str:
    counts = waves.ledger_counts(settled)
    return "settled moves a previous step began: " + ", ".join(f"{n} {state.value}" for state, n in counts.items())


async def _rival(runtime: Runtime, plan: MigrationPlan, here: str) -> str | None:
    """An older plan at work on this workflow on the same Conductor (``here``, this plan's server root), in any
    namespace the operator watches: ConductorClusters are namespaced, so plans are compared by server root."""
    others = parse_plans(await runtime.kube.watched_migration_plans(runtime.settings.namespaces))
    older = plans.older_plans_at_work(plan, others)
    same = [p for p in older if await runtime.conductor_root(p.metadata.namespace, cluster_name(p)) == here]
    return plans.rival_plan(plan, same)


async def observe_plan(client: ConductorClient, plan: MigrationPlan, target: plans.TargetView | None,
                       now: datetime, ledger: Ledger, flavor: str) -> plans.PlanObservation:
    """What this step needs, each thing read once, and only where the plan is (requests to Conductor in brackets):

    ============================================  ===============================================================
    where the plan is                             what it reads
    ============================================  ===============================================================
    every step                                    the registered versions [1]
    before its gates passed, with a target        each old version's definition [1 each]; with requireWorkers,
                                                  the last poll of each task type the target runs [1 each]
    Moving, or the drain counts due               the running executions [1 + ceil(n/1000)]
    Moving, a wave about to be chosen             the old executions not moved yet, with their tasks
                                                  [ceil(n/1000)], and the target's definition [1]
    Moving or RollingBack                         the moved executions that no longer run [ceil(m/1000)]
    Retiring                                      every workflow definition, for the pins [1]
    a check workflow running                      its execution [1 each]
    Draining after the cutover                    the event handlers and schedules that start the workflow [2]
    Recovering (spec.recoverFailed)               the restarted executions [ceil(m/1000)]; where a recovery wave
                                                  may pick, the ended executions in its window [ceil(n/1000)]
    before its gates passed, spec.gates.replay    once, until the replay gate is settled: a search [1], the sampled
    not settled                                   executions with tasks [1], a test and a removal each [2 each]
    ============================================  ===============================================================

    With no target, before the cutover only the versions are read (the plan waits); after it the plan goes on
    with the version it released.
    """
    spec, status = plan.spec, plan.status
    name = spec.workflow_name
    registered = tuple(await client.workflow_versions(name))
    if target is not None and target.registered and target.version not in registered:
        target = dataclasses.replace(target, registered=False)
    before_cutover = status.cutover_at is None
    before_gates = before_cutover and status.gates_passed_at is None
    if before_gates and target is None:
        return plans.PlanObservation(None, registered, flavor=flavor)
    old_definitions, last_polls = await _before_gates(client, plan, target, registered) if before_gates else ({}, None)
    replayed = await observe_replay(client, plan, target, old_definitions, now) \
        if before_gates and target.definition is not None and replay_due(spec, status) else None
    moving = status.phase == plans.Phase.MOVING and status.verdict is not None  # else a status never written here
    frozen = status.verdict and (status.gates_passed_at or status.cutover_at)  # as the planner reads them
    old_versions = set(status.verdict.from_versions if frozen else old_definitions)
    running: list[dict] = []
    counts = old_starts = candidates = target_refs = None
    if moving or plans.counts_due(status, parse_duration(spec.drain_detection.interval), now):
        running = await client.running_executions(name)
        counts = counts_by_version(running)
        old = [e for e in running if int(e.get("workflowVersion") or 0) in old_versions]
        old_starts = tuple(started for e in old if (started := waves.started_at(e)) is not None)
        if moving and plans.reads_candidates(spec, status, now):
            candidates, target_refs = await _wave_candidates(client, plan, old, ledger)
    referrers = await _retiring_referrers(client, plan) \
        if status.phase == plans.Phase.RETIRING and status.verdict is not None else None
    wave_checks = status.waves.gates if moving and status.waves else []
    executions = await _check_executions(client, [*(status.gates if before_cutover else ()), *wave_checks])
    pinning = await pinning_triggers(client, name) \
        if status.phase == plans.Phase.DRAINING and not before_cutover else None
    move_states = await _move_states(client, ledger, running) \
        if moving or status.phase == plans.Phase.ROLLING_BACK else {}
    recovered = await observe_recovery(client, plan, ledger, now)  # spec.recoverFailed: reconcile/recovery.py
    return plans.PlanObservation(target, registered, old_definitions, counts, last_polls, executions, referrers,
                                 flavor=flavor, moves=tuple(ledger.moves.values()), candidates=candidates,
                                 move_states=move_states, target_refs=target_refs, old_starts=old_starts,
                                 pinning_triggers=pinning, replay=replayed, **recovered)


async def _before_gates(client: ConductorClient, plan: MigrationPlan, target: plans.TargetView,
                        registered: tuple[int, ...]) -> tuple[dict[int, dict], dict | None]:
    """The old versions' definitions (for the verdict) and, when the gates ask for workers, their last polls."""
    spec, name = plan.spec, plan.spec.workflow_name
    old_definitions: dict[int, dict] = {}
    for version in plans.versions_to_move(explicit=spec.from_.versions, all_older=bool(spec.from_.all_older),
                                          registered=registered, target=target.version):
        if (definition := await client.get_workflow_def(name, version)) is not None:
            old_definitions[version] = definition
    last_polls = None
    if target.definition is not None and spec.gates.require_workers:
        last_polls = {task_type: await _last_poll(client, task_type)
                      for task_type in plans.simple_task_types(target.definition)}
    return old_definitions, last_polls


async def _wave_candidates(client: ConductorClient, plan: MigrationPlan, old: list[dict],
                           ledger: Ledger) -> tuple[tuple, frozenset | None]:
    """The old executions a wave may choose from (not moved yet, still running, with their tasks) and the task
    references of the target, to judge which of them may move."""
    unmoved = [e["workflowId"] for e in old if e["workflowId"] not in ledger.moves]
    candidates = tuple(waves.candidate(e) for e in await client.existing_executions(unmoved, include_tasks=True)
                       if e.get("status") in waves.RUNNING_STATES)
    target_def = await client.get_workflow_def(plan.spec.workflow_name, plan.status.verdict.to_version)
    return candidates, frozenset(waves.task_refs(target_def)) if target_def else None


async def _retiring_referrers(client: ConductorClient, plan: MigrationPlan) -> dict[int, list[str]]:
    """For each old version not retired yet, the definitions that pin it (a version pinned is not retired)."""
    status, name = plan.status, plan.spec.workflow_name
    definitions = await client.all_workflow_defs()
    return {version: defs.pinned_referrers(definitions, name, version)
            for version in status.verdict.from_versions if version not in status.retired_versions}


async def _check_executions(client: ConductorClient, gates) -> dict[str, dict]:
    """The executions of the check workflows still to judge (a gone one is left out: the planner reruns it)."""
    executions = {}
    for gate in gates:
        if gate.execution_id and not gate.passed and gate.reason != plans.REASON_GATE_FAILED:
            try:
                executions[gate.execution_id] = await client.get_execution(gate.execution_id)
            except NotFound:
                continue
    return executions


async def _move_states(client: ConductorClient, ledger: Ledger, running: list[dict]) -> dict[str, str | None]:
    """The state of each execution the ledger records as moved: from the running ones read already, and one read
    for those that no longer run."""
    moved = [m.execution_id for m in ledger.moves.values() if m.state is waves.MoveState.MOVED]
    found = {e["workflowId"]: e.get("status") for e in running}  # most moved executions still run
    ended = [i for i in moved if i not in found]
    found |= {e["workflowId"]: e.get("status") for e in await client.existing_executions(ended)}
    return {i: found.get(i) for i in moved}


async def _last_poll(client: ConductorClient, task_type: str) -> datetime | None:
    polls = [p.get("lastPollTime") for p in await client.poll_data(task_type) if p.get("lastPollTime")]
    return datetime.fromtimestamp(max(polls) / 1000, UTC) if polls else None


async def _act(client: ConductorClient, plan: MigrationPlan, step: plans.MigrationStep,
               target: plans.TargetView | None, ledger: Ledger, now: datetime) -> tuple[bool, list[str]]:
    """Carry out the step's actions, each on its own: one that fails leaves the others' results recorded.

    Returns whether Conductor refused to start a check workflow, and what failed otherwise.
    """
    refused, failures = False, []
    for action in step.actions:
        try:
            if action.kind is plans.ActionKind.RECOVER:  # spec.recoverFailed: ledger first, then restart
                done = await restart_ended(client, ledger, action.moves, now)
                step.events.append(defs.Event("Normal", "Restarted", restarted_text(action.moves, done)))
                continue
            if action.kind in (plans.ActionKind.MOVE, plans.ActionKind.MOVE_BACK):
                done = await Mover(client, plan.model_copy(update={"status": step.status}), action.mover,
                                   now).carry_out(ledger, action.moves)
                step.events.append(defs.Event("Normal", action.kind.value, _moved_text(action, done)))
                continue
            if action.kind is plans.ActionKind.PAUSE_TRIGGERS:
                if paused := await pause_triggers(client, ledger, plan):
                    step.events.append(defs.Event("Normal", "TriggersPaused", f"paused {', '.join(paused)} "
                                                                              f"while the old versions drain"))
                to_version = step.status.verdict.to_version if step.status.verdict else None
                step.events += [defs.Event("Warning", plans.REASON_TRIGGER_PINS_OLD,
                                           f"{key} starts {plan.spec.workflow_name} v{version}, pinned: once resumed "
                                           f"it keeps starting that version, not v{to_version}; unpin it or point "
                                           f"it at v{to_version}") for key, version in paused.items()
                                if version is not None and version != to_version]
                continue
            if action.kind is plans.ActionKind.RESUME_TRIGGERS:
                if resumed := await resume_triggers(client, ledger):
                    step.events.append(defs.Event("Normal", "TriggersResumed", f"resumed {', '.join(resumed)}"))
                continue
            if action.kind is plans.ActionKind.REPUBLISH:
                await _republish(client, plan, step, action.version)
                continue
            if action.kind is plans.ActionKind.START_GATE:
                refused |= not await _start_gate(client, plan, step, action, target)
            elif action.kind is plans.ActionKind.TERMINATE_GATE:
                with contextlib.suppress(NotFound, Conflict):  # it ended meanwhile
                    await client.terminate(action.execution_id, f"check workflow of MigrationPlan "
                                                                f"{plan.metadata.name}, no longer needed: it timed "
                                                                f"out, the plan's spec changed, or the plan went "
                                                                f"on without it (promote, rollback, abort)")
            elif action.kind is plans.ActionKind.RETIRE:
                with contextlib.suppress(NotFound):  # already gone
                    await client.delete_workflow_def(plan.spec.workflow_name, action.version)
                plans.record_retirement(step.status, action.version)
                step.events.append(defs.Event("Normal", "Retired", f"retired workflow {plan.spec.workflow_name} "
                                                                   f"v{action.version} from Conductor"))
        except (ConductorError, LedgerUnavailable) as exc:
            failures.append(f"{action.kind.value} {_subject(action)}: {getattr(exc, 'message', None) or exc}")
    return refused, failures


def _subject(action: plans.PlanAction) -> str:
    if action.moves:
        return f"of {len(action.moves)} execution(s)"
    return str(action.version or action.execution_id or (action.gate.name if action.gate else ""))


def _moved_text(action: plans.PlanAction, done: list[waves.Move]) -> str:
    wave = f"wave {action.moves[0].wave}: " if action.kind is plans.ActionKind.MOVE else ""
    confirmed = sum(1 for m in done if m.state in (waves.MoveState.MOVED, waves.MoveState.ROLLED_BACK)
                    and m.message == "")
    refused = [m for m in done if m.state is waves.MoveState.FAILED or m.message]
    back = " back" if action.kind is plans.ActionKind.MOVE_BACK else ""
    text = f"{wave}{confirmed} of {len(action.moves)} execution(s) moved{back} with {action.mover}"
    if refused:
        text += "; refused: " + "; ".join(f"{m.execution_id}: {m.message}" for m in refused[:5])
    unsettled = len(action.moves) - len(done)
    return text + (f"; {unsettled} to be settled from their state next step" if unsettled else "")


async def _republish(client: ConductorClient, plan: MigrationPlan, step: plans.MigrationStep, version: int) -> None:
    """Register the old version's content as a new highest version, so unpinned starts run it again. A copy
    a crashed step registered already (its description says so) is adopted, not registered twice."""
    rollback, name = step.status.rollback, plan.spec.workflow_name
    marker = defs.republish_marker(rollback.from_version, plan.metadata.namespace, plan.metadata.name)
    highest = max(await client.workflow_versions(name), default=0)
    latest = await client.get_workflow_def(name, highest) if highest else None
    if latest and marker in (latest.get("description") or ""):
        rollback.version = highest
        return
    old = await client.get_workflow_def(name, rollback.from_version)
    if old is None:
        raise NotFound(None, f"v{rollback.from_version} is no longer registered, so its content cannot be republished")
    description = f"{old.get('description') or ''} {marker}".strip()
    copy = defs.desired_workflow_definition(name, version, old)  # without the fields Conductor sets itself
    await client.register_workflow_defs([{**copy, "description": description}])
    rollback.version = version
    step.events.append(defs.Event("Normal", "Republished", f"registered v{rollback.from_version}'s content as "
                                                           f"{name} v{version}: unpinned starts run it"))


async def _start_gate(client: ConductorClient, plan: MigrationPlan, step: plans.MigrationStep,
                      action: plans.PlanAction, target: plans.TargetView) -> bool:
    gate = action.gate
    wave = action.wave is not None
    result = next(g for g in (step.status.waves.gates if wave else step.status.gates) if g.name == gate.name)
    meta = plan.metadata
    correlation = plans.check_correlation_id(meta.namespace, meta.name, gate.name, meta.generation, action.wave)
    try:
        earlier = await client.correlated_executions(gate.name, correlation)
        if adopted := plans.unrecorded_check(earlier, meta.creation_timestamp):
            _update_gate(step, result.model_copy(update={
                "execution_id": adopted, "message": f"execution {adopted} adopted: an earlier step started it "
                                                    f"and did not record it"}), wave)
            step.events.append(defs.Event("Normal", "GateAdopted", f"check workflow {gate.name}: adopted "
                                                                   f"{adopted}, started before a restart"))
            return True
        if action.run_target_inline:
            execution_id = await client.start_workflow(gate.name, version=target.version, input=gate.input,
                                                       correlation_id=correlation, workflow_def=target.definition)
        else:
            execution_id = await client.start_workflow(gate.name, version=gate.version, input=gate.input,
                                                       correlation_id=correlation)
    except Rejected as exc:
        _update_gate(step, result.model_copy(update={"reason": plans.REASON_GATE_FAILED,
                                                     "message": f"Conductor refused to start it: {exc.message}"}),
                     wave)
        return False
    _update_gate(step, result.model_copy(update={"execution_id": execution_id,
                                                 "message": f"execution {execution_id} started"}), wave)
    step.events.append(defs.Event("Normal", "GateStarted", f"started check workflow {gate.name}: {execution_id}"))
    return True


def _update_gate(step: plans.MigrationStep, result: GateResult, wave: bool) -> None:
    holder = step.status.waves if wave else step.status
    holder.gates = [result if g.name == result.name else g for g in holder.gates]


async def finalize_plan(runtime: Runtime, body, *, attempt: int = 0) -> Outcome:
    """Before a plan goes: settle the moves it began (none stays terminated and not restarted) and resume the
    triggers it paused, so none stays off because of a plan that is gone. With no way to reach Conductor
    any more (no ConductorCluster), it lets go with a Warning naming what it leaves."""
    outcome = await _finalize_plan(runtime, body, attempt)
    if outcome.retry_after is None:  # it lets go: the plan is about to go
        runtime.forget(body["metadata"]["uid"])
    return outcome


async def _finalize_plan(runtime: Runtime, body, attempt: int) -> Outcome:
    meta = body["metadata"]
    label = f"MigrationPlan {meta['name']}"
    async with runtime.lock(body):
        now = runtime.clock()
        try:
            plan = MigrationPlan.from_body(body)
        except ValidationError:
            return Outcome(None)
        try:
            ledger = await Ledger(runtime.kube, plan).load()
            pending = [m.execution_id for m in ledger.pending()]
            held = ledger.held_triggers()
            if not held and not pending:
                return Outcome(None)
            client = await runtime.client_for(meta["namespace"], cluster_name(plan))
            await _settle(client, plan, ledger, (await client.detect_flavor()).value, now)
            resumed = await resume_triggers(client, ledger)
        except UserError as exc:
            left = []
            if held:
                left.append(f"resuming {', '.join(held)}")
            if pending:
                left.append(f"settling the moves of {', '.join(pending)}")
            message = f"{label} is deleted without {' or '.join(left)}: {exc.message}"
            return Outcome(None, [defs.Event("Warning", "TriggersLeftPaused", message)])
        except (ConductorError, LedgerUnavailable) as exc:
            return runtime.unavailable(dict(body.get("status") or {}), now, meta.get("generation"), label,
                                       exc if isinstance(exc, ConductorError) else Unavailable(None, str(exc)),
                                       attempt)
        events = [defs.Event("Normal", "TriggersResumed", f"resumed {', '.join(resumed)} before {label} was "
                                                          f"deleted")] if resumed else []
        return Outcome(None, events)
