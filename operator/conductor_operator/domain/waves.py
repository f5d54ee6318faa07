"""Pure decisions of moving running executions: the ledger's entries, who may move, how many per wave,
what a half-done move needs after a crash, and whether a wave is healthy.

A move is recorded in the ledger as an intent before any call to Conductor and confirmed after it.
After a crash, an intent is finished by looking at the execution itself (``resolve``), never by
repeating the call blindly: that is what keeps every execution moved at most once.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from conductor_operator.api.common import parse_duration
from conductor_operator.api.migration import CanarySelector, UpgradeWaves
from conductor_operator.domain.definitions import iter_tasks

TERMINATE_RESTART = "TerminateRestart"
ORKES_UPGRADE = "OrkesUpgrade"
RUNNING_STATES = frozenset({"RUNNING", "PAUSED"})
FAILED_STATES = frozenset({"FAILED", "TIMED_OUT", "TERMINATED"})
_ACTIVE_TASK_STATES = frozenset({"SCHEDULED", "IN_PROGRESS"})
LISTED_INELIGIBLE = 20


class MoveState(StrEnum):
    INTENT = "Intent"  # recorded before the mover's calls
    MOVED = "Moved"  # the execution runs on the target
    FAILED = "Failed"  # Conductor refused to move it; it was left where it was
    ENDED = "Ended"  # it ended on its own before it could be moved
    BACK_INTENT = "RollbackIntent"  # recorded before moving it back
    ROLLED_BACK = "RolledBack"  # it runs on the old behaviour again
    BACK_ENDED = "RollbackEnded"  # it ended on the target before it could be moved back


PENDING = frozenset({MoveState.INTENT, MoveState.BACK_INTENT})


@dataclass(frozen=True)
class Move:
    """One ledger entry: an execution, where it came from, where it went, in which wave, and how it ended."""

    execution_id: str
    from_version: int
    to_version: int
    wave: int
    state: MoveState
    mover: str
    at: str
    message: str = ""
    back_version: int | None = None

    def to_json(self) -> str:
        data = {k: v for k, v in asdict(self).items() if v not in (None, "") and k != "execution_id"}
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, execution_id: str, text: str) -> Move:
        data = json.loads(text)
        return cls(execution_id=execution_id, from_version=int(data["from_version"]),
                   to_version=int(data["to_version"]), wave=int(data["wave"]), state=MoveState(data["state"]),
                   mover=str(data["mover"]), at=str(data.get("at", "")), message=str(data.get("message", "")),
                   back_version=data.get("back_version"))

    def but(self, state: MoveState, at: str, message: str = "", **changes) -> Move:
        return replace(self, state=state, at=at, message=message, **changes)


@dataclass(frozen=True)
class Candidate:
    """A running execution of an old version, as the waves see it."""

    execution_id: str
    version: int
    status: str
    started: datetime | None
    correlation_id: str | None
    current_task: str | None
    """The taskReferenceName of the task it waits on (scheduled or in progress); None before its first task."""


def current_task(execution: Mapping) -> str | None:
    """The reference name of the last task still scheduled or in progress (tasks must be included)."""
    active = [t for t in execution.get("tasks") or [] if t.get("status") in _ACTIVE_TASK_STATES]
    return active[-1].get("referenceTaskName") if active else None


def started_at(execution: Mapping) -> datetime | None:
    """When an execution started, the one answer to that question: its ``startTime``, else its ``createTime``;
    None when it has neither.

    Conductor OSS 3.32.3 answers ``GET /workflow/{id}`` (and the correlated search) with both, equal, but
    ``POST /workflow/bulk/search``, through which running executions are read, with ``createTime`` only
    (docs/conductor-facts.md). A restart sets both to the time of the restart.
    """
    for key in ("startTime", "createTime"):
        if millis := execution.get(key):
            return datetime.fromtimestamp(int(millis) / 1000, UTC)
    return None


def candidate(execution: Mapping) -> Candidate:
    return Candidate(str(execution["workflowId"]), int(execution.get("workflowVersion") or 0),
                     str(execution.get("status")), started_at(execution), execution.get("correlationId"),
                     current_task(execution))


def task_refs(definition: Mapping) -> set[str]:
    """Every taskReferenceName of a definition, nested tasks included."""
    return {t["taskReferenceName"] for t in iter_tasks(definition.get("tasks") or []) if t.get("taskReferenceName")}


def ineligibility(item: Candidate, target_refs: set[str]) -> str | None:
    """Why an execution cannot move to the target (None: it can). It moves only if the target has the task
    it is on, so it has somewhere to continue from."""
    if item.current_task is not None and item.current_task not in target_refs:
        return f"its current task {item.current_task} is not in the target"
    return None


def selected(item: Candidate, selector: CanarySelector | None, now: datetime) -> bool:
    """Whether the canary's selector admits an execution (no selector: every one)."""
    if selector is None:
        return True
    if selector.older_than and (item.started is None or now - item.started < parse_duration(selector.older_than)):
        return False
    if selector.correlation_id_pattern and not re.search(selector.correlation_id_pattern, item.correlation_id or ""):
        return False
    return not (selector.current_task and item.current_task != selector.current_task)


def selector_text(selector: CanarySelector | None) -> str:
    """A selector as the spec writes it, for messages: "olderThan 30s, currentTask b" ("every execution": none)."""
    if selector is None:
        return "every execution"
    parts = [f"olderThan {selector.older_than}" if selector.older_than else "",
             f"correlationIdPattern {selector.correlation_id_pattern}" if selector.correlation_id_pattern else "",
             f"currentTask {selector.current_task}" if selector.current_task else ""]
    return ", ".join(p for p in parts if p) or "every execution"


@dataclass(frozen=True)
class Wave:
    number: int
    label: str
    count: int | None = None
    percent: int | None = None
    pause: str | None = None
    selector: CanarySelector | None = None


def waves_of(spec: UpgradeWaves | None) -> list[Wave]:
    """The canary (wave 0, when declared), then the steps from 1; a last wave of 100% is added when the
    steps stop short of it, so a completed plan has moved every eligible execution. No spec: one wave of all
    (drain's MoveRemaining)."""
    if spec is None:
        return [Wave(1, "all remaining", percent=100)]
    waves = []
    if spec.canary:
        waves.append(Wave(0, "canary", spec.canary.count, spec.canary.percent, selector=spec.canary.selector))
    waves += [Wave(i, f"step {i}", percent=step.percent, pause=step.pause) for i, step in enumerate(spec.steps, 1)]
    if not spec.steps or spec.steps[-1].percent < 100:
        waves.append(Wave(len(spec.steps) + 1, "the rest", percent=100))
    return waves


def quota(wave: Wave, total: int, done: int) -> int:
    """How many executions this wave moves: its size, less what earlier waves did; ``total`` counts every
    execution of the old versions (done, ineligible and waiting), ``done`` those moved or tried."""
    wanted = wave.count if wave.count is not None else math.ceil(total * (wave.percent or 0) / 100)
    return max(0, wanted - done)


def pick(candidates: Iterable[Candidate], wave: Wave, size: int, now: datetime) -> list[Candidate]:
    """The executions the wave's selector admits, at most ``size``, oldest first: an order that stays the same
    from one reconcile to the next."""
    admitted = [c for c in candidates if selected(c, wave.selector, now)]
    admitted.sort(key=lambda c: (c.started or datetime.max.replace(tzinfo=now.tzinfo), c.execution_id))
    return admitted[:size]


class Fix(StrEnum):
    """What a pending ledger entry needs, judged from the execution as it is now."""

    DONE = "Done"  # the move (or the move back) happened: confirm it
    RESTART = "Restart"  # terminated by this plan, not restarted yet: restart it
    MOVE = "Move"  # still running where it was: the move never started, do it
    ENDED = "Ended"  # it ended on its own (or is gone): nothing to move


def resolve(move: Move, execution: Mapping | None, marker: str) -> Fix:
    """Finish a move recorded as an intent, from the execution itself: after a crash the operator cannot
    know which calls went through, but the execution's version and state tell."""
    if execution is None:
        return Fix.ENDED
    back = move.state is MoveState.BACK_INTENT
    start = move.to_version if back else move.from_version
    version = int(execution.get("workflowVersion") or 0)
    state = execution.get("status")
    if version != start:
        return Fix.DONE
    if state in RUNNING_STATES:
        return Fix.MOVE
    if state == "TERMINATED" and marker in (execution.get("reasonForIncompletion") or ""):
        return Fix.RESTART
    return Fix.ENDED


def terminate_marker(plan_uid: str, back: bool) -> str:
    """Written into the reason of every termination the mover makes, so a crashed move can be told apart
    from a termination by someone else."""
    return f"[migrationplan {plan_uid} {'rollback' if back else 'move'}]"


@dataclass(frozen=True)
class Health:
    moved: int
    failed_ids: tuple[str, ...] = ()

    @property
    def failed(self) -> int:
        return len(self.failed_ids)

    def exceeds(self, max_failure_percent: int) -> bool:
        return self.moved > 0 and self.failed * 100 > max_failure_percent * self.moved


def health(moves: Iterable[Move], states: Mapping[str, str | None]) -> Health:
    """What a wave tried to move, and how much of it failed: refused by Conductor, or failed since it
    moved (a missing state is not judged)."""
    tried = [m for m in moves if m.state in (MoveState.MOVED, MoveState.FAILED)]
    failed = tuple(m.execution_id for m in tried
                   if m.state is MoveState.FAILED or states.get(m.execution_id) in FAILED_STATES)
    return Health(len(tried), failed)


def estimate_drain_end(starts: Iterable[datetime], now: datetime) -> datetime | None:
    """A rough guess: every execution runs at least as long as the oldest one has run so far, so the
    youngest ends no sooner than that much after it started. None when nothing runs."""
    starts = sorted(starts)
    if not starts:
        return None
    longest = now - starts[0]
    return max(now, starts[-1] + max(longest, timedelta(0)))


def ledger_counts(moves: Iterable[Move]) -> dict[MoveState, int]:
    counts: dict[MoveState, int] = {}
    for move in moves:
        counts[move.state] = counts.get(move.state, 0) + 1
    return counts
