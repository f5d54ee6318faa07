"""Gates: the workers gate and the check workflows, shared by the checks before the cutover and the health gate
after each wave; how a check workflow is started once (its correlationId), judged, and terminated."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from conductor_operator.api.common import parse_duration
from conductor_operator.api.migration import GateResult, GateWorkflow, MigrationPlanSpec
from conductor_operator.domain.conditions import format_time, parse_time
from conductor_operator.domain.definitions import Event, iter_tasks
from conductor_operator.domain.migrations import replay
from conductor_operator.domain.migrations.context import StepState
from conductor_operator.domain.migrations.model import (
    REASON_GATE_FAILED,
    REASON_GATE_PASSED,
    REASON_GATE_RUNNING,
    REASON_WORKERS_MISSING,
    REASON_WORKERS_NOT_REQUIRED,
    REASON_WORKERS_POLLING,
    WORKERS_GATE,
    ActionKind,
    PlanAction,
    TargetView,
)
from conductor_operator.domain.waves import RUNNING_STATES, started_at


def gates_digest(spec: MigrationPlanSpec) -> str:
    """A digest of what the gates check (the cluster, the versions, the strategy, the gates, whether it is a
    dry run): another value starts them over, while pausing or other fields do not."""
    checked = spec.model_dump(mode="json", by_alias=True,
                              include={"cluster_ref", "from_", "to", "strategy", "gates", "dry_run"})
    return hashlib.sha256(json.dumps(checked, sort_keys=True).encode()).hexdigest()[:16]


def simple_task_types(definition: dict) -> list[str]:
    """Task types that need workers: the SIMPLE tasks, nested ones included."""
    return sorted({t["name"] for t in iter_tasks(definition.get("tasks") or [])
                   if t.get("type", "SIMPLE") == "SIMPLE" and t.get("name")})


def gate_runs_target(gate: GateWorkflow, workflow_name: str, target_version: int) -> bool:
    """A check workflow naming the migrated workflow (at the target version, or none) runs the target itself."""
    return gate.name == workflow_name and gate.version in (None, target_version)


def check_correlation_id(namespace: str, plan: str, check: str, generation: int | None, wave: int | None) -> str:
    """The correlationId of a check workflow: the plan, the check, and the generation (and wave) it checks,
    so a start the plan did not record can be found again, and never confused with an earlier run's."""
    where = f"/wave-{wave}" if wave is not None else ""
    return f"migrationplan/{namespace}/{plan}/{check}{where}/gen-{generation or 0}"


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def unrecorded_check(executions: Iterable[Mapping], plan_created: str | None) -> str | None:
    """The id of the check workflow a step started without recording it (the operator died in between),
    among the executions carrying its correlationId: the latest started since the plan was created (a plan
    deleted and created again under the same name must not adopt its predecessor's checks)."""
    def started(execution: Mapping) -> datetime:
        return started_at(execution) or EPOCH

    floor = parse_time(plan_created) or EPOCH
    latest = max((e for e in executions if started(e) >= floor), key=started, default=None)
    return latest["workflowId"] if latest else None


def output_mismatches(expected: Mapping | None, output: Mapping | None) -> list[str]:
    """Keys of ``expected`` whose value the output does not hold, as ``key: wanted X, got Y``."""
    output = output or {}
    return [f"{key}: wanted {value!r}, got {output.get(key, '<missing>')!r}"
            for key, value in (expected or {}).items() if output.get(key) != value]



class Gates(StepState):
    """Starting, judging and terminating check workflows; the workers gate."""

    def _workers_gate(self, target: TargetView) -> GateResult:
        checked_at = format_time(self.now)
        if not self.spec.gates.require_workers:
            return GateResult(name=WORKERS_GATE, passed=True, reason=REASON_WORKERS_NOT_REQUIRED,
                              message="spec.gates.requireWorkers is false", checked_at=checked_at)
        window = parse_duration(self.spec.gates.workers_seen_within)
        polls = self.observed.last_polls or {}
        idle = [t for t in simple_task_types(target.definition)
                if polls.get(t) is None or self.now - polls[t] > window]
        if idle:
            return GateResult(name=WORKERS_GATE, passed=False, reason=REASON_WORKERS_MISSING,
                              message=f"no worker polled {', '.join(idle)} in the last "
                                      f"{self.spec.gates.workers_seen_within}", checked_at=checked_at)
        return GateResult(name=WORKERS_GATE, passed=True, reason=REASON_WORKERS_POLLING,
                          message="every SIMPLE task type of the target has a polling worker", checked_at=checked_at)

    def _replay_gate(self) -> GateResult | None:
        """The replay gate (spec.gates.replay): judged once on what the shell replayed, then settled; held (or
        skipped, with a Warning event) where the server cannot replay."""
        gate = self.spec.gates.replay
        if gate is None:
            return None
        before = next((g for g in self.status.gates if g.name == replay.REPLAY_GATE), None)
        if replay.settled(before):
            return before  # settled: replayed once per spec of the gates
        observed = self.observed.replay
        if observed is None:
            return before or GateResult(name=replay.REPLAY_GATE, passed=False, reason=replay.REASON_REPLAY_PENDING,
                                        message="replaying executions of the old versions",
                                        checked_at=format_time(self.now))
        verdict = replay.judge(gate, observed, self.now)
        self.status.replay = verdict.status
        if verdict.reason == replay.REASON_REPLAY_SKIPPED:
            self.events.append(Event("Warning", replay.REASON_REPLAY_SKIPPED, verdict.message))
        elif verdict.reason == replay.REASON_REPLAY_UNSUPPORTED and \
                (before is None or before.reason != replay.REASON_REPLAY_UNSUPPORTED):
            self.events.append(Event("Warning", replay.REASON_REPLAY_UNSUPPORTED, verdict.message))
        return GateResult(name=replay.REPLAY_GATE, passed=verdict.passed, reason=verdict.reason,
                          message=verdict.message, checked_at=format_time(self.now))

    def _workflow_gates(self, target: TargetView) -> list[GateResult]:
        return self._check_workflows(self.spec.gates.workflows, self.status.gates, target_version=target.version)

    def _check_workflows(self, workflows: list[GateWorkflow], previous: list[GateResult], *,
                         target_version: int | None = None, wave: int | None = None) -> list[GateResult]:
        """Start the check workflows not started yet, judge the others. Before the cutover a check naming the
        migrated workflow runs the target inline; after a wave, what is registered runs."""
        previous = {g.name: g for g in previous}
        results = []
        for gate in workflows:
            before = previous.get(gate.name)
            if before is None or (before.execution_id is None and before.reason != REASON_GATE_FAILED):
                inline = wave is None and gate_runs_target(gate, self.spec.workflow_name, target_version)
                self.actions.append(PlanAction(ActionKind.START_GATE, gate=gate, run_target_inline=inline, wave=wave))
                results.append(GateResult(name=gate.name, passed=False, reason=REASON_GATE_RUNNING,
                                          message="starting", checked_at=format_time(self.now),
                                          started_at=format_time(self.now)))
                continue
            results.append(self._judge_gate(gate, before))
        return results

    def _judge_gate(self, gate: GateWorkflow, before: GateResult) -> GateResult:
        if before.passed or before.reason == REASON_GATE_FAILED:
            return before  # settled: a check workflow runs once per spec generation
        result = before.model_copy(update={"checked_at": format_time(self.now)})
        execution = self.observed.gate_executions.get(before.execution_id)
        if execution is None:
            return result.model_copy(update={"reason": REASON_GATE_FAILED,
                                             "message": f"execution {before.execution_id} no longer exists"})
        state = execution.get("status")
        if state == "COMPLETED":
            mismatches = output_mismatches(gate.expected_output, execution.get("output"))
            if mismatches:
                return result.model_copy(update={"reason": REASON_GATE_FAILED,
                                                 "message": "completed with unexpected output: " +
                                                            "; ".join(mismatches)})
            return result.model_copy(update={"passed": True, "reason": REASON_GATE_PASSED,
                                             "message": f"execution {before.execution_id} completed as expected"})
        if state not in RUNNING_STATES:
            reason = execution.get("reasonForIncompletion") or ""
            return result.model_copy(update={"reason": REASON_GATE_FAILED, "message": f"execution "
                                             f"{before.execution_id} ended {state}{': ' + reason if reason else ''}"})
        started = parse_time(before.started_at) or self.now
        if self.now - started > parse_duration(gate.timeout):
            self.actions.append(PlanAction(ActionKind.TERMINATE_GATE, execution_id=before.execution_id))
            return result.model_copy(update={"reason": REASON_GATE_FAILED, "message": f"execution "
                                             f"{before.execution_id} did not complete within {gate.timeout}"})
        return result.model_copy(update={"message": f"execution {before.execution_id} is {state}"})

    def _terminate_running_gates(self, why: str) -> None:
        """Terminate the check workflows still running, before the cutover and in the current wave: what they
        would have judged no longer matters."""
        status = self.status
        for results in (status.gates, status.waves.gates if status.waves else []):
            for index, gate in enumerate(results):
                if gate.execution_id and not gate.passed and gate.reason == REASON_GATE_RUNNING:
                    self.actions.append(PlanAction(ActionKind.TERMINATE_GATE, execution_id=gate.execution_id))
                    results[index] = gate.model_copy(update={
                        "message": f"execution {gate.execution_id} terminated: {why}",
                        "checked_at": format_time(self.now)})

