"""The replay gate, pure: which executions of the old versions to replay, the test request that runs one through
the target definition with every task's output mocked from what that execution's own task produced, how a
replay is compared with what the execution did, and the gate's verdict on a sample.

The I/O (searching the executions, ``POST /workflow/test``, removing the test execution) is in
``reconcile/replay.py``; what the server does with a test request is in docs/conductor-facts.md ("Replaying an
execution"). A replay diverges when it ends otherwise than the execution (a completed execution must complete,
a running one must stop at its current task, a failed one must fail), takes another path through a SWITCH,
DO_WHILE or FORK the two versions share, produces other workflow outputs, or runs a new (or changed) task whose
input reads a field the execution's data lacks (the "old schema" failure).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from conductor_operator.api.common import parse_duration
from conductor_operator.api.migration import ReplayDivergence, ReplayGate, ReplayStatus
from conductor_operator.domain.conditions import format_time
from conductor_operator.domain.definitions import iter_tasks

REPLAY_GATE = "Replay"
REASON_REPLAY_PENDING = "ReplayPending"
REASON_REPLAY_PASSED = "ReplayPassed"
REASON_REPLAY_FAILED = "GateFailed"
"""As a failed check workflow: the plan fails before the cutover."""
REASON_REPLAY_UNSUPPORTED = "ReplayUnsupported"
REASON_REPLAY_SKIPPED = "ReplaySkipped"
LISTED = 20
"""Divergent (and skipped) executions listed in status at most."""

SERVER_TASKS = frozenset({"SWITCH", "DECISION", "DO_WHILE", "FORK_JOIN", "FORK", "FORK_JOIN_DYNAMIC", "JOIN",
                          "EXCLUSIVE_JOIN", "INLINE", "LAMBDA", "JSON_JQ_TRANSFORM", "SET_VARIABLE", "TERMINATE",
                          "DYNAMIC", "NOOP"})
"""Task types the server decides itself in a test run (a mock for them is ignored): their outcome is replayed."""
REAL_RUN_TASKS = frozenset({"SUB_WORKFLOW", "START_WORKFLOW"})
"""Task types a test run starts for real (a sub-workflow is started as an execution of its own)."""
_TERMINAL_TASK = frozenset({"COMPLETED", "FAILED", "FAILED_WITH_TERMINAL_ERROR", "COMPLETED_WITH_ERRORS",
                            "TIMED_OUT"})
_ACTIVE_TASK = frozenset({"SCHEDULED", "IN_PROGRESS"})
_RUNNING = frozenset({"RUNNING", "PAUSED"})
_REFERENCE = re.compile(r"^\$\{([^{}]+)\}$")
_ITERATION = re.compile(r"__\d+$")


@dataclass(frozen=True)
class ReplayRun:
    """One execution replayed: what it did, how its replay went, and why they differ (nothing: the same)."""

    execution_id: str
    version: int
    status: str
    replay_status: str | None
    reasons: tuple[str, ...] = ()
    new_task_inputs: Mapping[str, object] = field(default_factory=dict)
    """The tasks the target runs that the execution's version lacks (or changed), with the inputs they got."""

    @property
    def divergent(self) -> bool:
        return bool(self.reasons)


@dataclass(frozen=True)
class ReplayObservation:
    runs: tuple[ReplayRun, ...] = ()
    skipped: tuple[str, ...] = ()
    """Executions sampled but not replayed, as 'id: why'."""
    unsupported: str | None = None
    """Why the server cannot replay (no test endpoint, or a target a test run would run for real)."""


# ---- what to replay -----------------------------------------------------------------------------------------

def settled(result) -> bool:
    """A replay gate's recorded result that stands until the gates' spec changes: passed, failed or skipped."""
    return result is not None and result.reason not in (REASON_REPLAY_PENDING, REASON_REPLAY_UNSUPPORTED)


def replay_due(spec, status) -> bool:
    """Whether this step replays (``spec``: a MigrationPlanSpec, ``status`` its status): before the gates passed,
    a replay gate not settled yet, and a plan that is neither paused, a dry run, nor stalled in validation (its
    replay would be thrown away). A replay is done once per spec of the gates (a change clears the result)."""
    if spec.gates.replay is None or spec.dry_run or spec.paused or status.phase == "Validating":
        return False
    if status.gates_passed_at is not None or status.cutover_at is not None:
        return False
    return not settled(next((g for g in status.gates if g.name == REPLAY_GATE), None))


def search_query(workflow_name: str, gate: ReplayGate, now: datetime) -> str:
    """The search (``GET /workflow/search``) for candidates: the workflow, the statuses, the window. The version
    is filtered here afterwards: Conductor's search ignores a version filter."""
    statuses = {*gate.statuses, *(["PAUSED"] if "RUNNING" in gate.statuses else [])}
    since = int((now - parse_duration(gate.within)).timestamp() * 1000)
    return (f'workflowType="{workflow_name}" AND status IN ({",".join(sorted(statuses))}) '
            f"AND startTime>{since}")


def select(summaries: Iterable[Mapping], versions: Iterable[int], gate: ReplayGate) -> list[str]:
    """The ids to replay among search results: of the old versions, matching the pattern, newest first, at most
    ``sample``."""
    versions = set(versions)
    pattern = re.compile(gate.correlation_id_pattern) if gate.correlation_id_pattern else None
    chosen = [s for s in summaries
              if _version(s) in versions and (pattern is None or pattern.search(s.get("correlationId") or ""))]
    chosen.sort(key=lambda s: (str(s.get("startTime") or ""), s.get("workflowId") or ""), reverse=True)
    return [s["workflowId"] for s in chosen[:gate.sample]]


def unreplayable_target(target: Mapping) -> str | None:
    """Why the target cannot be replayed without side effects: a sub-workflow would start for real."""
    real = sorted({t.get("taskReferenceName") or "?" for t in iter_tasks(target.get("tasks") or [])
                   if t.get("type") in REAL_RUN_TASKS})
    return (f"the target runs {', '.join(real)} as a sub-workflow, which a test run starts as a real execution"
            if real else None)


def unreplayable(execution: Mapping) -> str | None:
    """Why this execution is not replayed: a running one whose current task the server would run for real."""
    if execution.get("status") not in _RUNNING:
        return None
    current = [t for t in execution.get("tasks") or [] if t.get("status") in _ACTIVE_TASK]
    system = [str(t.get("referenceTaskName")) for t in current
              if ((t.get("workflowTask") or {}).get("type") or "SIMPLE") not in ("SIMPLE", *SERVER_TASKS)]
    if system:
        return f"its current task {', '.join(system)} is a system task a test run would carry out for real"
    return None


# ---- the test request ---------------------------------------------------------------------------------------

def mocks(execution: Mapping, target: Mapping) -> dict[str, list[dict]]:
    """taskReferenceName -> the results a test run gives that task, in order: every ended attempt of the
    execution's own task (its status and output); a task the execution never ran (a new one, not a server task)
    completes with an empty output, so the replay goes on past it. The task the execution is at now gets none:
    the replay of a running execution stops there."""
    result: dict[str, list[dict]] = {}
    for task in sorted(execution.get("tasks") or [], key=lambda t: t.get("seq") or 0):
        ref = task.get("referenceTaskName")
        if ref and task.get("status") in _TERMINAL_TASK:
            result.setdefault(ref, []).append({"status": task["status"], "output": task.get("outputData") or {}})
    ran = {_base(t.get("referenceTaskName") or "") for t in execution.get("tasks") or []}
    iterations = max([int(t.get("iteration") or 0) for t in execution.get("tasks") or []] + [0]) + 1
    looped = _looped_refs(target)
    for task in iter_tasks(target.get("tasks") or []):
        ref, kind = task.get("taskReferenceName"), task.get("type") or "SIMPLE"
        if not ref or ref in ran or kind in SERVER_TASKS or kind in REAL_RUN_TASKS:
            continue
        refs = [f"{ref}__{i}" for i in range(1, iterations + 1)] if ref in looped else [ref]
        for one in refs:
            result.setdefault(one, [{"status": "COMPLETED", "output": {}}])
    return result


def test_request(execution: Mapping, target: Mapping, correlation_id: str) -> dict:
    """The WorkflowTestRequest replaying ``execution`` through ``target`` (inline: nothing is registered)."""
    return {"name": target["name"], "version": target["version"], "input": execution.get("input") or {},
            "correlationId": correlation_id, "workflowDef": dict(target),
            "taskRefToMockOutput": mocks(execution, target)}


# ---- the comparison -----------------------------------------------------------------------------------------

def compare(execution: Mapping, replayed: Mapping, old: Mapping | None, target: Mapping,
            compare_output_keys: Sequence[str] | None = None) -> ReplayRun:
    """How the replay of ``execution`` (of version ``old``) through ``target`` differs from what it did."""
    status = str(execution.get("status"))
    replay_status = replayed.get("status")
    reasons = [*_outcome(execution, replayed)]
    reasons += _paths(execution, replayed, old or {}, target)
    if status == "COMPLETED" and replay_status == "COMPLETED":
        reasons += _outputs(execution.get("output") or {}, replayed.get("output") or {}, compare_output_keys)
    new_inputs, missing = _new_task_inputs(replayed, old or {}, target)
    reasons += missing
    return ReplayRun(str(execution.get("workflowId")), _version(execution), status, replay_status,
                     tuple(reasons), new_inputs)


def _outcome(execution: Mapping, replayed: Mapping) -> list[str]:
    status, replay_status = execution.get("status"), replayed.get("status")
    why = replayed.get("reasonForIncompletion")
    ended = f"the replay ended {replay_status}{': ' + why if why else ''}"
    if status == "COMPLETED":
        if replay_status == "COMPLETED":
            return []
        if replay_status in _RUNNING:
            waiting = _active_refs(replayed)
            return [f"did not complete: the replay stops at {', '.join(waiting) or 'a task'} "
                    f"(no recorded output to replay)"]
        return [f"did not complete: {ended}"]
    if status in _RUNNING:
        if replay_status not in _RUNNING:
            return [f"the execution runs at {', '.join(_active_refs(execution)) or 'a task'}, but {ended}"]
        at, replay_at = _active_refs(execution), _active_refs(replayed)
        if set(map(_base, at)) != set(map(_base, replay_at)):
            return [f"the execution is at {', '.join(at) or 'no task'}, the replay stops at "
                    f"{', '.join(replay_at) or 'no task'}"]
        return []
    if replay_status != status:
        return [f"the execution ended {status}, {ended}"]
    return []


def _paths(execution: Mapping, replayed: Mapping, old: Mapping, target: Mapping) -> list[str]:
    """Branches of SWITCH, DO_WHILE and FORK tasks both versions share, taken otherwise in the replay; and tasks
    both versions share that ran in one and not in the other."""
    shared = _refs(old) & _refs(target)
    before = {t.get("referenceTaskName"): t for t in execution.get("tasks") or []}
    after = {t.get("referenceTaskName"): t for t in replayed.get("tasks") or []}
    reasons = []
    for ref in sorted(shared):
        was, now = before.get(ref), after.get(ref)
        if was is None or now is None:
            continue
        kind = now.get("taskType")
        if kind in ("SWITCH", "DECISION"):
            took, takes = _case(was), _case(now)
            if took != takes:
                reasons.append(f"path: {kind} {ref} took case {took!r}, the replay takes {takes!r}")
        elif kind == "DO_WHILE":
            took, takes = (was.get("outputData") or {}).get("iteration"), (now.get("outputData") or {}).get(
                "iteration")
            if took != takes and now.get("status") == "COMPLETED" and was.get("status") == "COMPLETED":
                reasons.append(f"path: DO_WHILE {ref} ran {took} iteration(s), the replay runs {takes}")
    if reasons:
        return reasons
    stopped = replayed.get("status") in _RUNNING or execution.get("status") in _RUNNING
    ran = {r for r in before if _base(r or "") in shared and (before[r].get("status") in _TERMINAL_TASK)}
    runs = {r for r in after if _base(r or "") in shared and (after[r].get("status") in _TERMINAL_TASK)}
    only_old = sorted(ran - runs) if not stopped else []
    only_new = sorted(runs - ran)
    if only_old or only_new:
        parts = ([f"ran {', '.join(only_old)} where the replay does not"] if only_old else []) + \
                ([f"the replay runs {', '.join(only_new)} where the execution did not"] if only_new else [])
        reasons.append("path: " + "; ".join(parts))
    return reasons


def _outputs(output: Mapping, replay_output: Mapping, keys: Sequence[str] | None) -> list[str]:
    keys = list(keys) if keys is not None else sorted(output)
    differ = [f"{k}: {output.get(k, '<missing>')!r} became {replay_output.get(k, '<missing>')!r}"
              for k in keys if output.get(k) != replay_output.get(k)]
    return [f"output differs: {'; '.join(differ)}"] if differ else []


def _new_task_inputs(replayed: Mapping, old: Mapping, target: Mapping) -> tuple[dict, list[str]]:
    """The inputs of the tasks the replay ran that the old version lacks or has with other inputs, and the
    fields they read that the execution's data lacks (the "old schema" failure)."""
    old_params = {t.get("taskReferenceName"): t.get("inputParameters") or {}
                  for t in iter_tasks(old.get("tasks") or [])}
    templates = {t.get("taskReferenceName"): t.get("inputParameters") or {}
                 for t in iter_tasks(target.get("tasks") or [])}
    inputs: dict[str, object] = {}
    missing: list[str] = []
    for task in replayed.get("tasks") or []:
        ref = task.get("referenceTaskName") or ""
        base = _base(ref)
        if base not in templates or (base in old_params and old_params[base] == templates[base]):
            continue
        if (task.get("taskType") or "") in SERVER_TASKS - {"INLINE", "JSON_JQ_TRANSFORM", "SET_VARIABLE"}:
            continue
        data = task.get("inputData") or {}
        inputs[ref] = data
        lacking = sorted(set(_missing_fields(templates[base], data)))
        if lacking:
            what = "new task" if base not in old_params else "changed task"
            missing.append(f"old schema: {what} {ref} reads {', '.join(lacking)}, which the execution's data "
                           f"lacks")
    return inputs, missing


def _missing_fields(template, value) -> list[str]:
    """The references (``workflow.input.x``) of an input template that resolved to nothing."""
    if isinstance(template, str):
        found = _REFERENCE.match(template)
        return [found[1]] if found and value is None else []
    if isinstance(template, Mapping):
        value = value if isinstance(value, Mapping) else {}
        return [m for key, sub in template.items() for m in _missing_fields(sub, value.get(key))]
    if isinstance(template, list):
        value = value if isinstance(value, list) else []
        return [m for i, sub in enumerate(template)
                for m in _missing_fields(sub, value[i] if i < len(value) else None)]
    return []


# ---- the verdict ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReplayVerdict:
    passed: bool
    reason: str
    message: str
    status: ReplayStatus


def judge(gate: ReplayGate, observed: ReplayObservation, now: datetime) -> ReplayVerdict:
    """The gate on a replayed sample: passed while the divergent replays stay within the plan's threshold."""
    checked = format_time(now)
    skipped = list(observed.skipped[:LISTED])
    if observed.unsupported is not None:
        skip = gate.on_unsupported == "Skip"
        message = (f"cannot replay: {observed.unsupported}; " +
                   ("skipped as spec.gates.replay.onUnsupported says (nothing was compared)" if skip else
                    "holding before the cutover (spec.gates.replay.onUnsupported: Hold)"))
        return ReplayVerdict(skip, REASON_REPLAY_SKIPPED if skip else REASON_REPLAY_UNSUPPORTED, message,
                             ReplayStatus(checked_at=checked, skipped=skipped, message=message))
    runs = observed.runs
    divergent = [r for r in runs if r.divergent]
    if gate.max_divergent_percent is not None:
        allowed = len(runs) * gate.max_divergent_percent / 100
        limit = f"{gate.max_divergent_percent}% allowed"
    else:
        allowed, limit = gate.max_divergent, f"{gate.max_divergent} allowed"
    passed = len(divergent) <= allowed
    listed = [ReplayDivergence(execution_id=r.execution_id, version=r.version, reason="; ".join(r.reasons))
              for r in divergent[:LISTED]]
    if not runs:
        message = "no execution of the old versions to replay in the window" + \
                  (f" ({len(observed.skipped)} skipped)" if observed.skipped else "")
    else:
        message = f"{len(divergent)} of {len(runs)} replayed execution(s) diverged ({limit})"
        if divergent:
            first = divergent[0]
            message += f"; {first.execution_id}: {first.reasons[0]}"
    return ReplayVerdict(passed, REASON_REPLAY_PASSED if passed else REASON_REPLAY_FAILED, message,
                         ReplayStatus(checked_at=checked, sampled=len(runs), divergent=len(divergent),
                                      skipped=skipped, divergent_executions=listed, message=message))


# ---- helpers ------------------------------------------------------------------------------------------------

def _version(execution: Mapping) -> int:
    return int(execution.get("workflowVersion") or execution.get("version") or 0)


def _base(ref: str) -> str:
    return _ITERATION.sub("", ref)


def _refs(definition: Mapping) -> set[str]:
    return {t["taskReferenceName"] for t in iter_tasks(definition.get("tasks") or []) if t.get("taskReferenceName")}


def _looped_refs(definition: Mapping) -> set[str]:
    return {inner["taskReferenceName"] for t in iter_tasks(definition.get("tasks") or []) if t.get("type") == "DO_WHILE"
            for inner in iter_tasks(t.get("loopOver") or []) if inner.get("taskReferenceName")}


def _active_refs(execution: Mapping) -> list[str]:
    return sorted(str(t.get("referenceTaskName")) for t in execution.get("tasks") or []
                  if t.get("status") in _ACTIVE_TASK and (t.get("taskType") or "") not in SERVER_TASKS)


def _case(task: Mapping) -> object:
    """The branch a SWITCH took: the case it selected, or ``defaultCase`` when the value selects none of its cases
    (the value itself differs between two executions that both took the default branch)."""
    output = task.get("outputData") or {}
    value = output.get("selectedCase")
    if value is None and "selectedCase" not in output:
        evaluated = output.get("evaluationResult")
        value = evaluated[0] if isinstance(evaluated, list) and evaluated else evaluated
    cases = (task.get("workflowTask") or {}).get("decisionCases")
    if isinstance(cases, Mapping) and str(value) not in cases:
        return "defaultCase"
    return value
