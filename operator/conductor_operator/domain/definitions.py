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
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from conductor_operator.domain.conditions import FALSE, TRUE, Condition, kstatus
from conductor_operator.domain.depth import (  # noqa: F401 (the names definitions always offered)
    MAX_OBJECT_DEPTH,
    TOO_DEEP_KEY,
    cut_deep_json,
    cut_message,
    find_string,
    json_depth,
    json_text_depth,
    read_api_json,
)
from conductor_operator.domain.workflow_tasks import (  # noqa: F401 (the names definitions always offered)
    REASON_SUB_WORKFLOW_CYCLE,
    cycle_warning,
    depth_error,
    iter_tasks,
    pinned_referrers,
    pinned_sub_workflow_refs,
    sub_workflow_cycle,
    task_nesting,
    text_depth_error,
    unpinned_sub_workflows,
    validate_workflow_definition,
)

# Condition types and reasons
REGISTERED = "Registered"
DRIFTED = "Drifted"
WARNING = "Warning"

REASON_REGISTERED = "Registered"
REASON_UPDATED = "Updated"
REASON_IN_SYNC = "InSync"
REASON_ADOPTED = "Adopted"
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
    if not drift and recorded_hash is None:
        # Registered before this resource recorded anything (by hand, by other tooling: what `kubectl conductor
        # import` writes manifests for): taken over as it is, nothing registered.
        message = f"{label} was already registered in Conductor with identical content; adopted without registering"
        adopted = hold(REASON_ADOPTED, message, stalled=False, ready=True, recorded=wanted)
        return DefinitionPlan(adopted.action, adopted.registered, adopted.content_hash, adopted.conditions,
                              [Event("Normal", REASON_ADOPTED, message)])
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


# ---- one resource per Conductor definition ----------------------------------------------------
#
# Two resources that declare the same workflow version (or task definition) on one Conductor server would fight
# over it: both find it absent and register it, or each repairs the other's content as drift at every check, and
# deleting either takes it from under the other. The resource created first owns it; the others wait, Stalled,
# and one of them takes over once the owner is deleted.

REASON_DECLARED_ELSEWHERE = "DeclaredByAnotherResource"


@dataclass(frozen=True)
class Claimant:
    """A resource declaring a Conductor definition, as the operator's index keeps it."""
    kind: str
    namespace: str
    name: str
    uid: str
    created: str  # metadata.creationTimestamp (RFC 3339 in UTC: its text sorts in time order)
    cluster: str | None  # spec.clusterRef.name; None for the namespace's default ConductorCluster

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    @property
    def seniority(self) -> tuple[str, str, str]:
        """Sorts the first created first (then by namespace and name: timestamps have whole seconds)."""
        return self.created, self.namespace, self.name


def claim_of(kind: str, body) -> tuple[tuple, Claimant] | None:
    """The Conductor definition a WorkflowDefinition or TaskDefinition body declares, as a key (("workflow", name,
    version) or ("task", name)), and the resource as its claimant; None when the spec names no definition (its
    reconcile says what is wrong)."""
    spec = body.get("spec")
    if not isinstance(spec, dict):
        return None  # none at all, or cut for nesting too deep (the reconcile reports it)
    name, version = spec.get("name"), spec.get("version")
    if not isinstance(name, str) or not name:
        return None
    if kind == "TaskDefinition":
        key: tuple = ("task", name)
    elif isinstance(version, int) and not isinstance(version, bool):
        key = ("workflow", name, version)
    else:
        return None
    ref = spec.get("clusterRef")
    cluster = ref.get("name") if isinstance(ref, dict) and isinstance(ref.get("name"), str) else None
    meta = body.get("metadata") or {}
    return key, Claimant(kind, meta.get("namespace") or "", meta.get("name") or "", meta.get("uid") or "",
                         meta.get("creationTimestamp") or "", cluster or None)


def declared_elsewhere(label: str, owner: Claimant) -> list[Condition]:
    """The conditions of a resource that waits because ``owner`` declared its definition first."""
    return kstatus(False, REASON_DECLARED_ELSEWHERE,
                   f"{label} is declared by {owner.ref} too, created earlier on the same Conductor server: one "
                   f"resource per Conductor definition. Delete this one or change its spec (it takes over if "
                   f"{owner.ref} is deleted)", stalled=True)


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
                  referrers: list[str], declared_by: Sequence[str] = ()) -> DeletionPlan:
    """Whether a deleted resource may take its Conductor definition with it.

    ``running`` counts this version's running executions (None when unknown); ``referrers`` names
    the definitions that still point at this exact version (pinned sub-workflows); ``declared_by`` names the
    other resources that declare the same definition on the same server (they keep it).
    """
    if on_delete != "Delete":
        return DeletionPlan(DeletionAction.RELEASE, REASON_RETAINED,
                            f"{label} is kept in Conductor (spec.policy.onDelete: Retain)")
    if not registered_by_us:
        return DeletionPlan(DeletionAction.RELEASE, REASON_RETAINED,
                            f"{label} was never registered by this resource; nothing to delete")
    if declared_by:
        return DeletionPlan(DeletionAction.RELEASE, REASON_RETAINED,
                            f"{label} is kept in Conductor: {', '.join(sorted(declared_by))} declares it too")
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
