"""The MigrationPlan shell: observe the target and Conductor, let the planner decide, act, report.

What is read depends on where the plan is: the versions to move from and the workers only before
the cutover, check workflow executions only while they run, running executions only every
drainDetection.interval. Actions (starting check workflows, retiring old versions) are guarded
here against what Conductor says at that moment: an old version is deleted only when a fresh
count finds none of its executions running and no definition pins it as a sub-workflow.
"""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import UTC, datetime

from pydantic import ValidationError

from conductor_operator.api.common import parse_duration
from conductor_operator.api.definitions import WorkflowDefinition
from conductor_operator.api.migration import GateResult, MigrationPlan
from conductor_operator.conductor.client import ConductorClient
from conductor_operator.conductor.errors import Conflict, NotFound, Rejected, Unavailable
from conductor_operator.domain import definitions as defs
from conductor_operator.domain import migrations as plans
from conductor_operator.domain.conditions import kstatus
from conductor_operator.kube import Missing
from conductor_operator.reconcile import (
    Outcome,
    Runtime,
    UserError,
    _cluster_name,
    _conclude,
    _validation_message,
)


async def reconcile_plan(runtime: Runtime, body, *, attempt: int = 0) -> Outcome:
    try:
        plan = MigrationPlan.from_body(body)
    except ValidationError as exc:
        return runtime._invalid_spec(body, exc)
    meta = body["metadata"]
    generation = meta.get("generation")
    label = f"MigrationPlan {meta['name']}"
    async with runtime.lock(body):
        now = runtime.clock()
        status = plan.status
        try:
            target = await _target_view(runtime, meta["namespace"], plan)
            client = await runtime.client_for(meta["namespace"], _cluster_name(plan))
            observed = await _observe(runtime, client, plan, target, now) if target else \
                plans.PlanObservation(None, ())
            step = plans.plan_migration(plan.spec, status, observed, now, generation)
            if await _act(client, plan, step, target):
                # Conductor refused a check workflow: the planner judges the gate it recorded as failed.
                step = plans.plan_migration(plan.spec, step.status, dataclasses.replace(observed, counts=None), now,
                                            generation)
        except UserError as exc:
            return _conclude(_raw(body), kstatus(False, exc.reason, exc.message, stalled=True), now, generation,
                             events=[defs.Event("Warning", exc.reason, exc.message)])
        except Unavailable as exc:
            raw = _raw(body)
            if raw.get("drain"):  # an unknown reading breaks a run of zero readings
                raw["drain"] = {**raw["drain"], "zeroReadings": 0, "firstZeroAt": None}
            return runtime._unavailable(raw, now, generation, label, exc, attempt)
        except Rejected as exc:
            message = f"Conductor refused a request of {label}: {exc.message}"
            return _conclude(_raw(body), kstatus(False, defs.REASON_REJECTED, message, stalled=True), now,
                             generation, events=[defs.Event("Warning", defs.REASON_REJECTED, message)])
        written = step.status.to_dict()
        written.pop("conditions", None)
        before = _raw(body)
        return _conclude({**before, **_with_deletions(before, written)}, step.conditions, now, generation,
                         events=step.events)


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
    name = plan.spec.to.workflow_definition_ref.name
    try:
        body = await runtime.kube.workflow_definition(namespace, name)
    except Missing:
        return None
    spec = body.get("spec") or {}
    try:
        resource = WorkflowDefinition.from_body(body)
    except ValidationError as exc:
        return plans.TargetView(name, str(spec.get("name")), int(spec.get("version") or 0), None,
                                problem=_validation_message(exc))
    workflow, version = resource.spec.name, resource.spec.version
    try:
        loaded = await runtime._definition_body(namespace, spec)
        runtime._check_identity(loaded, workflow, version)
    except UserError as exc:
        return plans.TargetView(name, workflow, version, None, problem=exc.message,
                                activation=resource.spec.activation)
    return plans.TargetView(name, workflow, version, defs.desired_workflow_definition(workflow, version, loaded),
                            activation=resource.spec.activation, registered=bool(resource.status.registered))


async def _observe(runtime: Runtime, client: ConductorClient, plan: MigrationPlan, target: plans.TargetView,
                   now: datetime) -> plans.PlanObservation:
    spec, status = plan.spec, plan.status
    name = spec.workflow_name
    registered = tuple(await client.workflow_versions(name))
    if target.registered and target.version not in registered:
        target = dataclasses.replace(target, registered=False)
    before_cutover = status.cutover_at is None
    old_definitions: dict[int, dict] = {}
    last_polls = None
    if before_cutover:
        from_versions = plans.versions_to_move(explicit=spec.from_.versions, all_older=bool(spec.from_.all_older),
                                               registered=registered, target=target.version)
        for version in from_versions:
            if (definition := await client.get_workflow_def(name, version)) is not None:
                old_definitions[version] = definition
        if target.definition is not None and spec.gates.require_workers:
            last_polls = {task_type: await _last_poll(client, task_type)
                          for task_type in plans.simple_task_types(target.definition)}
    counts = None
    if plans.counts_due(status, parse_duration(spec.drain_detection.interval), now):
        counts = await runtime.running_counts(client, name)
    executions = {}
    for gate in status.gates if before_cutover else ():
        if gate.execution_id and not gate.passed and gate.reason != plans.REASON_GATE_FAILED:
            try:
                execution = await client.get_execution(gate.execution_id)
            except NotFound:
                continue
            executions[gate.execution_id] = execution
    return plans.PlanObservation(target, registered, old_definitions, counts, last_polls, executions)


async def _last_poll(client: ConductorClient, task_type: str) -> datetime | None:
    polls = [p.get("lastPollTime") for p in await client.poll_data(task_type) if p.get("lastPollTime")]
    return datetime.fromtimestamp(max(polls) / 1000, UTC) if polls else None


async def _act(client: ConductorClient, plan: MigrationPlan, step: plans.MigrationStep,
               target: plans.TargetView | None) -> bool:
    """Carry out the step's actions; True when Conductor refused to start a check workflow."""
    refused = False
    for action in step.actions:
        if action.kind is plans.ActionKind.START_GATE:
            refused |= not await _start_gate(client, plan, step, action, target)
        elif action.kind is plans.ActionKind.TERMINATE_GATE:
            with contextlib.suppress(NotFound, Conflict):  # it ended meanwhile
                await client.terminate(action.execution_id, f"check workflow of MigrationPlan {plan.metadata.name}: "
                                                            f"timed out, or the plan's spec changed")
        elif action.kind is plans.ActionKind.RETIRE:
            await _retire(client, plan, step, action.version)
    return refused


async def _start_gate(client: ConductorClient, plan: MigrationPlan, step: plans.MigrationStep,
                      action: plans.PlanAction, target: plans.TargetView) -> bool:
    gate = action.gate
    result = next(g for g in step.status.gates if g.name == gate.name)
    correlation = f"migrationplan/{plan.metadata.namespace}/{plan.metadata.name}/{gate.name}"
    try:
        if action.run_target_inline:
            execution_id = await client.start_workflow(gate.name, version=target.version, input=gate.input,
                                                       correlation_id=correlation, workflow_def=target.definition)
        else:
            execution_id = await client.start_workflow(gate.name, version=gate.version, input=gate.input,
                                                       correlation_id=correlation)
    except Rejected as exc:
        _update_gate(step, result.model_copy(update={"reason": plans.REASON_GATE_FAILED,
                                                     "message": f"Conductor refused to start it: {exc.message}"}))
        return False
    _update_gate(step, result.model_copy(update={"execution_id": execution_id,
                                                 "message": f"execution {execution_id} started"}))
    step.events.append(defs.Event("Normal", "GateStarted", f"started check workflow {gate.name}: {execution_id}"))
    return True


def _update_gate(step: plans.MigrationStep, result: GateResult) -> None:
    step.status.gates = [result if g.name == result.name else g for g in step.status.gates]


async def _retire(client: ConductorClient, plan: MigrationPlan, step: plans.MigrationStep, version: int) -> None:
    name = plan.spec.workflow_name
    label = f"workflow {name} v{version}"
    running = (await client.running_counts_by_version(name)).get(version, 0)
    referrers = [f"{d['name']} v{d.get('version')}" for d in await client.all_workflow_defs()
                 if (name, version) in defs.pinned_sub_workflow_refs(d)]
    decision = defs.plan_deletion(label=label, on_delete="Delete", registered_by_us=True, running=running,
                                  referrers=referrers)
    if decision.action is defs.DeletionAction.DELETE:
        with contextlib.suppress(NotFound):  # already gone
            await client.delete_workflow_def(name, version)
        plans.record_retirement(step.status, version)
        step.events.append(defs.Event("Normal", "Retired", f"retired {label} from Conductor"))
        return
    # Held: a pinned caller started the version again, or a definition pins it. The next count
    # takes the plan back to Draining; a pin holds it here until the referrer changes.
    step.status.message = decision.message.replace("waiting to delete", "waiting to retire")
