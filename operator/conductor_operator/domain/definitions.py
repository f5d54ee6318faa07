"""Pure decisions for WorkflowDefinition and TaskDefinition resources.

Conductor lets anyone overwrite a registered version in place and never tells running
executions apart by content, so the operator records a content hash of what it registered and
decides from three facts: what the resource wants, what it registered before (status), and what
Conductor holds now.

- Not in Conductor: register.
- In Conductor with the wanted content: nothing to do.
- Differs, and the resource still wants what was registered: someone edited Conductor (drift);
  re-apply or only report, as the policy says.
- Differs because the resource's content changed (or Conductor held other content before the
  operator ever registered it): an in-place change of a version. Refused unless the policy allows.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from enum import StrEnum

from conductor_operator.api.definitions import MAX_DEFINITION_DEPTH, MAX_TASK_NESTING
from conductor_operator.domain.conditions import FALSE, TRUE, Condition, kstatus

# Condition types and reasons
REGISTERED = "Registered"
DRIFTED = "Drifted"
WARNING = "Warning"

REASON_REGISTERED = "Registered"
REASON_UPDATED = "Updated"
REASON_IN_SYNC = "InSync"
REASON_DRIFT_REPAIRED = "DriftRepaired"
REASON_DRIFT_REPORTED = "DriftReported"
REASON_IN_PLACE_CHANGE_REFUSED = "InPlaceChangeRefused"
REASON_IN_PLACE_CHANGE_APPLIED = "InPlaceChangeApplied"
REASON_INVALID_DEFINITION = "InvalidDefinition"
REASON_REJECTED = "RejectedByConductor"
REASON_UNAVAILABLE = "ConductorUnavailable"
REASON_REGISTERING = "Registering"
REASON_UNPINNED_SUB_WORKFLOW = "UnpinnedSubWorkflow"
REASON_SHARED_TASK_DEFINITION = "SharedTaskDefinitionChanged"
REASON_NO_WARNINGS = "NoWarnings"
REASON_TOO_DEEP = "NestedTooDeep"
REASON_SUB_WORKFLOW_CYCLE = "SubWorkflowCycle"

# Fields Conductor sets itself; never part of what a resource declares or of drift.
SERVER_FIELDS = frozenset({"createTime", "updateTime", "createdBy", "updatedBy", "ownerApp"})


class Action(StrEnum):
    NONE = "None"
    REGISTER = "Register"


@dataclass(frozen=True)
class Event:
    type: str  # "Normal" or "Warning"
    reason: str
    message: str
    state: bool = False
    """A report of where the resource stands (bad input, a stall, a hold) rather than of an action taken: posted
    only when the resource's conditions change, so a resource re-checked at every resync does not repeat it. An
    event of an action (registered, repaired, retired, paused, moved...) is posted every time the action is taken."""


def state_event(type_: str, reason: str, message: str) -> Event:
    """An event reporting a state: see ``Event.state``."""
    return Event(type_, reason, message, state=True)


@dataclass(frozen=True)
class DefinitionPolicy:
    on_drift: str = "Reapply"  # or "Report"
    in_place_change: str = "Refuse"  # or "Allow"


@dataclass(frozen=True)
class DefinitionPlan:
    """What to do now, and the status to write if it succeeds."""

    action: Action
    registered: bool
    content_hash: str | None
    conditions: list[Condition]
    events: list[Event] = field(default_factory=list)


def content_hash(definition: dict) -> str:
    canonical = json.dumps(_without_server_fields(definition), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _without_server_fields(definition: dict) -> dict:
    return {k: v for k, v in definition.items() if k not in SERVER_FIELDS}


def desired_workflow_definition(name: str, version: int, body: dict) -> dict:
    """The WorkflowDef to register: the resource's body with its name and version."""
    return {**_without_server_fields(body), "name": name, "version": version}


def desired_task_definition(name: str, body: dict) -> dict:
    return {**_without_server_fields(body), "name": name}


def _is_empty(value) -> bool:
    return value is None or value == {} or value == []


def differences(desired, observed, path: str = "") -> list[str]:
    """Paths where Conductor's copy departs from what the resource declares.

    Conductor fills in defaults for every field left out, so only what the resource declares is
    compared: a declared key must hold an equal value; lists must match item by item. An empty
    value and a missing one are the same.
    """
    if isinstance(desired, dict) and isinstance(observed, dict):
        found = []
        for key, value in desired.items():
            if key in SERVER_FIELDS:
                continue
            sub = f"{path}.{key}" if path else key
            if key not in observed:
                if not _is_empty(value):
                    found.append(sub)
                continue
            found += differences(value, observed[key], sub)
        return found
    if isinstance(desired, list) and isinstance(observed, list):
        if len(desired) != len(observed):
            return [path]
        found = []
        for index, (want, have) in enumerate(zip(desired, observed, strict=True)):
            found += differences(want, have, f"{path}[{index}]")
        return found
    if _is_empty(desired) and _is_empty(observed):
        return []
    return [] if desired == observed else [path or "."]


# ---- validation -------------------------------------------------------------------------------

_REFERENCE = re.compile(r"\$\{([A-Za-z0-9_\-]+)\.(output|input)\b")
_NESTED_LISTS = ("defaultCase", "loopOver")


def _task_lists(task: dict) -> list[list]:
    """The task lists a task holds (SWITCH cases, its default case, a DO_WHILE loop, FORK_JOIN branches)."""
    cases = task.get("decisionCases")
    lists = list(cases.values()) if isinstance(cases, dict) else []
    lists += [task.get(key) for key in _NESTED_LISTS]
    forks = task.get("forkTasks")
    lists += forks if isinstance(forks, list) else []
    return [tasks for tasks in lists if isinstance(tasks, list)]


def _walk_tasks(tasks: list):
    """(task, nesting level) of every task, nested ones included, in document order; iterative, so any depth."""
    stack = [(iter(tasks if isinstance(tasks, list) else []), 0)]
    while stack:
        level = stack[-1][1]
        task = next(stack[-1][0], None)
        if task is None:
            stack.pop()
            continue
        if not isinstance(task, dict):
            continue
        yield task, level
        stack.extend((iter(inner), level + 1) for inner in reversed(_task_lists(task)))


def iter_tasks(tasks: list) -> list[dict]:
    """Every task of a workflow, nested ones included, in document order."""
    return [task for task, _ in _walk_tasks(tasks or [])]


# ---- depth --------------------------------------------------------------------------------------
# A definition nested thousands of levels deep passes the API server (free-form values have no schema) and
# would exhaust Python's recursion in every recursive walk; these functions are iterative, and the operator
# refuses what is deeper than its limits before anything else walks it.

MAX_OBJECT_DEPTH = 100
"""How deep the operator reads a Kubernetes object (JSON levels from the object itself): what nests deeper is cut
as it is read from the API server, and the object's spec replaced by ``{TOO_DEEP_KEY: <where>}``."""
TOO_DEEP_KEY = "conductor-operator.io/nestedTooDeep"


_CUT = f"<conductor-operator: cut, nested deeper than {MAX_OBJECT_DEPTH} levels>"


def _cut_spec(obj) -> None:
    spec = obj.get("spec") if isinstance(obj, dict) else None
    if isinstance(spec, dict) and (where := find_string(spec, _CUT)) is not None:
        obj["spec"] = {TOO_DEEP_KEY: f"spec.{where}"}


def read_api_json(text: str | bytes):
    """json.loads for what the API server answers (an object, a list of them, a watch event): never deeper than
    MAX_OBJECT_DEPTH (+2 for the list or event around an object). The spec of an object nested deeper is
    replaced by ``{TOO_DEEP_KEY: <where it was cut>}``, which every reconciler reports and nothing else reads."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    cut = cut_deep_json(text, MAX_OBJECT_DEPTH + 2, _CUT)
    value = json.loads(cut)
    if cut is not text and isinstance(value, dict):
        _cut_spec(value.get("object"))
        for item in value.get("items") or []:
            _cut_spec(item)
        _cut_spec(value)
    return value


def cut_message(where: str) -> str:
    """The Stalled message of an object whose spec was cut at ``where`` (a path) as it was read."""
    return (f"{where} is nested deeper than the operator reads ({MAX_OBJECT_DEPTH} JSON levels), so it ignores "
            f"this spec: a definition may nest at most {MAX_DEFINITION_DEPTH} JSON levels, and tasks "
            f"{MAX_TASK_NESTING} levels; flatten it, or move nested tasks into a sub-workflow")


def json_depth(value) -> int:
    """How many levels of objects and arrays ``value`` nests (a scalar: 0, ``{}``: 1); iterative."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


_JSON_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def json_text_depth(text: str) -> int:
    """How deep the JSON document ``text`` nests, read from the text without decoding it."""
    if text.count("{") + text.count("[") <= 1:
        return text.count("{") + text.count("[")
    depth = deepest = 0
    for token in _JSON_TOKENS.finditer(text):
        char = token.group()[0]
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def cut_deep_json(text: str, limit: int, marker: str) -> str:
    """``text`` with each object or array nested deeper than ``limit`` levels replaced by the string ``marker``.

    Returns ``text`` itself when nothing is that deep. Invalid JSON stays invalid (the decoder says so).
    """
    if text.count("{") + text.count("[") <= limit:
        return text
    pieces, depth, start, last = [], 0, -1, 0
    for token in _JSON_TOKENS.finditer(text):
        char = token.group()[0]
        if char in "[{":
            depth += 1
            if depth == limit + 1:
                start = token.start()
        elif char in "]}":
            if depth == limit + 1 and start >= 0:
                pieces += [text[last:start], json.dumps(marker)]
                last, start = token.end(), -1
            depth -= 1
    if not pieces:
        return text
    return "".join([*pieces, text[last:]])


def find_string(value, wanted: str) -> str | None:
    """The path (``a.b[2].c``) of the first place ``value`` holds the string ``wanted``; iterative."""
    stack = [(value, "")]
    while stack:
        item, path = stack.pop()
        if item == wanted and isinstance(item, str):
            return path or "."
        if isinstance(item, dict):
            stack.extend((child, f"{path}.{key}" if path else str(key)) for key, child in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{index}]") for index, child in reversed(list(enumerate(item))))
    return None


def task_nesting(tasks: list) -> int:
    """The deepest nesting level of a task (0: only top-level tasks)."""
    return max((level for _, level in _walk_tasks(tasks or [])), default=0)


def depth_error(definition, where: str = "spec.definition") -> str | None:
    """Why a definition is nested too deep for the operator, naming the limit and the fix; None when it is not."""
    depth = json_depth(definition)
    if depth > MAX_DEFINITION_DEPTH:
        return (f"{where} nests {depth} JSON levels deep; the limit is {MAX_DEFINITION_DEPTH}: flatten it, or move "
                f"nested tasks into a sub-workflow")
    nesting = task_nesting(definition.get("tasks") if isinstance(definition, dict) else [])
    if nesting > MAX_TASK_NESTING:
        return (f"{where} nests tasks {nesting} levels deep (a SWITCH, FORK_JOIN or DO_WHILE inside another); the "
                f"limit is {MAX_TASK_NESTING}: move the inner tasks into a sub-workflow")
    return None


def text_depth_error(text: str, where: str) -> str | None:
    """``depth_error`` for a JSON document not decoded yet (so that decoding it cannot exhaust the stack)."""
    depth = json_text_depth(text)
    if depth > MAX_DEFINITION_DEPTH:
        return (f"{where} nests {depth} JSON levels deep; the limit is {MAX_DEFINITION_DEPTH}: flatten it, or move "
                f"nested tasks into a sub-workflow")
    return None


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def validate_workflow_definition(definition: dict) -> list[str]:
    """Semantic errors Conductor itself does not catch (or catches with a worse message)."""
    tasks = definition.get("tasks") or []
    if not tasks:
        return ["the workflow has no tasks: spec.definition.tasks needs at least one"]
    if error := depth_error(definition):
        return [error]
    errors = []
    all_tasks = iter_tasks(tasks)
    refs = [t.get("taskReferenceName") for t in all_tasks]
    for task in all_tasks:
        if not task.get("taskReferenceName"):
            errors.append(f"task {task.get('name')!r} has no taskReferenceName")
    seen, duplicates = set(), []
    for ref in refs:
        if ref and ref in seen and ref not in duplicates:
            duplicates.append(ref)
        seen.add(ref)
    for ref in duplicates:
        errors.append(f"taskReferenceName {ref!r} is used more than once")
    known = set(refs) | {"workflow"}
    unknown = []
    for text in _strings({"tasks": tasks, "outputParameters": definition.get("outputParameters")}):
        for ref, _ in _REFERENCE.findall(text):
            if ref not in known and ref not in unknown:
                unknown.append(ref)
    for ref in unknown:
        errors.append(f"an expression refers to ${{{ref}.…}} but no task has taskReferenceName {ref!r}")
    return errors


def unpinned_sub_workflows(definition: dict) -> list[str]:
    """References of SUB_WORKFLOW tasks with no version: they float to the child's latest version."""
    return [t.get("taskReferenceName") for t in iter_tasks(definition.get("tasks") or [])
            if t.get("type") == "SUB_WORKFLOW" and not (t.get("subWorkflowParam") or {}).get("version")]


def pinned_sub_workflow_refs(definition: dict) -> list[tuple[str, int]]:
    """(workflow name, version) of every SUB_WORKFLOW task pinned to a version."""
    pinned = []
    for task in iter_tasks(definition.get("tasks") or []):
        param = task.get("subWorkflowParam") or {}
        if task.get("type") == "SUB_WORKFLOW" and param.get("name") and param.get("version"):
            pinned.append((param["name"], int(param["version"])))
    return pinned


def sub_workflow_cycle(start: tuple[str, int],
                       pinned: dict[tuple[str, int], list[tuple[str, int]]]) -> list[tuple[str, int]] | None:
    """The shortest chain of pinned sub-workflows from ``start`` back to itself (``[start, ..., start]``), or None.

    ``pinned`` maps (name, version) to the pinned sub-workflows of that definition, as far as they are known.
    """
    parents: dict[tuple[str, int], tuple[str, int]] = {}
    frontier, seen = [start], {start}
    while frontier:
        following = []
        for node in frontier:
            for child in pinned.get(node, []):
                if child == start:
                    chain = [node]
                    while chain[-1] != start:
                        chain.append(parents[chain[-1]])
                    return [start, *reversed(chain[:-1]), start] if node != start else [start, start]
                if child not in seen:
                    seen.add(child)
                    parents[child] = node
                    following.append(child)
        frontier = following
    return None


def cycle_warning(cycle: list[tuple[str, int]]) -> tuple[str, str]:
    """The Warning (reason, message) of a cycle of pinned sub-workflows."""
    chain = " -> ".join(f"{name} v{version}" for name, version in cycle)
    what = "starts itself" if len(cycle) == 2 else "is started again by its own sub-workflows"
    return (REASON_SUB_WORKFLOW_CYCLE,
            f"pinned sub-workflows form a cycle ({chain}): each execution {what} until Conductor or the "
            f"workflow's own conditions stop it; break the cycle, or make sure a SWITCH ends it")


def pinned_referrers(definitions: list[dict], name: str, version: int) -> list[str]:
    """Labels ("parent v3") of the definitions whose SUB_WORKFLOW tasks are pinned to ``name`` ``version``."""
    return [f"{d['name']} v{d.get('version')}" for d in definitions if (name, version) in pinned_sub_workflow_refs(d)]


# ---- planning ---------------------------------------------------------------------------------

def _conditions(*, ready: bool, reason: str, message: str, registered: bool, label: str,
                stalled: bool = False, drifted: bool = False,
                warnings: list[tuple[str, str]] = ()) -> list[Condition]:
    return [
        *kstatus(ready, reason, message, stalled=stalled),
        Condition(REGISTERED, TRUE if registered else FALSE,
                  REASON_REGISTERED if registered else "NotRegistered",
                  f"{label} is {'' if registered else 'not '}registered in Conductor"),
        Condition(DRIFTED, TRUE if drifted else FALSE,
                  REASON_DRIFT_REPORTED if drifted else REASON_IN_SYNC, message if drifted else ""),
        Condition(WARNING, TRUE if warnings else FALSE,
                  warnings[0][0] if warnings else REASON_NO_WARNINGS,
                  "; ".join(text for _, text in warnings)),
    ]


def republish_marker(from_version: int, namespace: str, plan: str) -> str:
    """Written into the description of a version a MigrationPlan's rollback registered with an old version's
    content: how the plan adopts its own copy after a crash, and how a definition is told what holds its
    version."""
    return f"[republished v{from_version} by MigrationPlan {namespace}/{plan}]"


_REPUBLISHED = re.compile(r"\[republished v(\d+) by MigrationPlan ([^\]/\s]+)/([^\]\s]+)\]")


def republished_by(definition: dict | None) -> str | None:
    """"v<N>'s content, republished by MigrationPlan <ns>/<name>" when a rollback registered this version."""
    found = _REPUBLISHED.search((definition or {}).get("description") or "")
    return f"v{found[1]}'s content, republished by MigrationPlan {found[2]}/{found[3]}" if found else None


def plan_definition(desired: dict, recorded_hash: str | None, observed: dict | None,
                    policy: DefinitionPolicy, *, label: str, warnings: list[tuple[str, str]] = (),
                    errors: list[str] = (), versioned: bool = True) -> DefinitionPlan:
    """Decide registration for one definition; the plan's status is the one to write on success.

    ``label`` names it in messages ("workflow order v2"); ``recorded_hash`` is the hash in status
    (None if the operator never registered it); ``observed`` is Conductor's copy or None;
    ``warnings`` are (reason, message) pairs that do not block; ``errors`` block registration.
    Unversioned definitions (Conductor's task definitions) have no version to protect: a changed
    resource simply updates them.
    """
    warnings = list(warnings)
    wanted = content_hash(desired)

    def register(reason: str, message: str, event: Event) -> DefinitionPlan:
        return DefinitionPlan(Action.REGISTER, True, wanted,
                              _conditions(ready=True, reason=reason, message=message, registered=True,
                                          label=label, warnings=warnings), [event])

    def hold(reason: str, message: str, *, stalled: bool, drifted: bool = False,
             ready: bool = False, recorded: str | None = recorded_hash) -> DefinitionPlan:
        registered = observed is not None
        events = [state_event("Warning", reason, message)] if stalled or drifted else []
        return DefinitionPlan(Action.NONE, registered, recorded,
                              _conditions(ready=ready, reason=reason, message=message, registered=registered,
                                          label=label, stalled=stalled, drifted=drifted, warnings=warnings),
                              events)

    if errors:
        return hold(REASON_INVALID_DEFINITION, f"{label} is invalid: " + "; ".join(errors), stalled=True)

    if observed is None:
        return register(REASON_REGISTERED, f"{label} is registered in Conductor",
                        Event("Normal", REASON_REGISTERED, f"registered {label} in Conductor"))

    drift = differences(desired, observed)
    if not drift:
        return hold(REASON_IN_SYNC, f"{label} is registered and matches Conductor", stalled=False,
                    ready=True, recorded=wanted)

    where = ", ".join(drift[:5]) + (f" and {len(drift) - 5} more" if len(drift) > 5 else "")
    if recorded_hash == wanted:
        if policy.on_drift == "Report":
            return hold(REASON_DRIFT_REPORTED,
                        f"{label} was changed in Conductor ({where}); spec.policy.onDrift=Report leaves it",
                        stalled=False, drifted=True, ready=True)
        message = f"{label} was changed in Conductor ({where}); re-applied the declared content"
        return register(REASON_DRIFT_REPAIRED, message, Event("Warning", REASON_DRIFT_REPAIRED, message))

    if not versioned:
        return register(REASON_UPDATED, f"{label} is updated in Conductor",
                        Event("Normal", REASON_UPDATED, f"updated {label} in Conductor ({where})"))
    if policy.in_place_change != "Allow":
        if origin := republished_by(observed):
            return hold(REASON_IN_PLACE_CHANGE_REFUSED,
                        f"{label} is already registered in Conductor with {origin} in a rollback, and "
                        f"executions may run on it: give this definition the next free version", stalled=True)
        return hold(REASON_IN_PLACE_CHANGE_REFUSED,
                    f"{label} is already registered in Conductor with other content ({where}); "
                    f"changing a registered version in place would change what its running and future "
                    f"executions mean. Create a new version, or set spec.policy.inPlaceChange: Allow",
                    stalled=True)
    message = f"overwrote {label} in place ({where}), as spec.policy.inPlaceChange allows"
    return register(REASON_IN_PLACE_CHANGE_APPLIED, message,
                    Event("Warning", REASON_IN_PLACE_CHANGE_APPLIED, message))


def rejected(*, label: str, message: str, registered: bool,
             recorded_hash: str | None, warnings: list[tuple[str, str]] = ()) -> DefinitionPlan:
    """The status after Conductor refused a registration (a 4xx): the user must fix the input.

    The previous registration stays, and so does the hash of what was last registered.
    """
    text = f"Conductor refused {label}: {message}"
    return DefinitionPlan(Action.NONE, registered, recorded_hash,
                          _conditions(ready=False, reason=REASON_REJECTED, message=text,
                                      registered=registered, label=label, stalled=True,
                                      warnings=list(warnings)),
                          [state_event("Warning", REASON_REJECTED, text)])


def unavailable(previous: list[dict] | None, message: str) -> list[Condition]:
    """Conditions while Conductor cannot be reached: the last known ones, marked as reconciling.

    Ready and the domain conditions keep their last good values so a flaky network does not make
    the status (and a GitOps tool watching it) flap.
    """
    kept = [Condition(c["type"], c["status"], c.get("reason", ""), c.get("message", ""))
            for c in previous or [] if c.get("type") not in ("Reconciling", "Stalled")]
    if not any(c.type == "Ready" for c in kept):
        kept.insert(0, Condition("Ready", "Unknown", REASON_UNAVAILABLE, message))
    return [*kept, Condition("Reconciling", TRUE, REASON_UNAVAILABLE, message),
            Condition("Stalled", FALSE, "NotStalled", "")]


# ---- deletion ---------------------------------------------------------------------------------

REASON_RETAINED = "Retained"
REASON_DELETION_BLOCKED = "DeletionBlocked"
REASON_DELETED = "Deleted"


class DeletionAction(StrEnum):
    RELEASE = "Release"  # remove the finalizer, leave Conductor as it is
    DELETE = "Delete"  # delete from Conductor, then remove the finalizer
    HOLD = "Hold"  # keep the finalizer; status says why


@dataclass(frozen=True)
class DeletionPlan:
    action: DeletionAction
    reason: str
    message: str


def plan_deletion(*, label: str, on_delete: str, registered_by_us: bool, running: int | None,
                  referrers: list[str]) -> DeletionPlan:
    """Whether a deleted resource may take its Conductor definition with it.

    ``running`` counts this version's running executions (None when unknown); ``referrers`` names
    the definitions that still point at this exact version (pinned sub-workflows).
    """
    if on_delete != "Delete":
        return DeletionPlan(DeletionAction.RELEASE, REASON_RETAINED,
                            f"{label} is kept in Conductor (spec.policy.onDelete: Retain)")
    if not registered_by_us:
        return DeletionPlan(DeletionAction.RELEASE, REASON_RETAINED,
                            f"{label} was never registered by this resource; nothing to delete")
    if running is None:
        return DeletionPlan(DeletionAction.HOLD, REASON_DELETION_BLOCKED,
                            f"waiting to delete {label}: its running executions could not be counted")
    if running > 0:
        return DeletionPlan(DeletionAction.HOLD, REASON_DELETION_BLOCKED,
                            f"waiting to delete {label}: {running} execution(s) of it are still running")
    if referrers:
        return DeletionPlan(DeletionAction.HOLD, REASON_DELETION_BLOCKED,
                            f"waiting to delete {label}: still referred to as a pinned sub-workflow by "
                            f"{', '.join(sorted(referrers))}")
    return DeletionPlan(DeletionAction.DELETE, REASON_DELETED, f"deleted {label} from Conductor")
