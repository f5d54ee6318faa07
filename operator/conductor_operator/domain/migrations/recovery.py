"""Recovering failed runs on the target (``spec.recoverFailed``, the blog's ``restart --use-latest``): after the
cutover, executions of the old versions that ended FAILED or TIMED_OUT (optionally TERMINATED) within a window are
restarted from their first task on the target, in waves with a health gate, each restart written to the plan's
ledger before it is made.

Pure: which ended executions are admitted (window, statuses, selector), which of them may restart (eligibility),
how many a wave takes, how a restart left as an intent by a crashed step is settled (``resolve_recovery``), and
the planner's room for the phase Recovering. The shell (reconcile/recovery.py) reads the candidates with
Conductor's search and makes the restarts.

Conductor OSS restarts with ``useLatestDefinitions=true`` on the highest registered version, so a wave restarts
nothing while a version above the target is registered. A restart of an execution that runs already is refused
by Conductor, and a restarted execution is on the target's version at once: an intent is settled from the
execution alone, and no execution is restarted twice (docs/conductor-facts.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from conductor_operator.api.common import parse_duration
from conductor_operator.api.migration import (
    DrainStatus,
    MigrationPlanSpec,
    MigrationPlanStatus,
    RecoverFailed,
    RecoveryStatus,
)
from conductor_operator.domain.conditions import format_time, parse_time
from conductor_operator.domain.definitions import Event
from conductor_operator.domain.migrations.model import (
    REASON_NOT_HIGHEST,
    REASON_RECOVERY_GATE_FAILED,
    ActionKind,
    Ended,
    MigrationStep,
    Phase,
    PlanAction,
    WaveState,
    enter_wave_state,
    some,
    versions_text,
)
from conductor_operator.domain.migrations.phases import On
from conductor_operator.domain.migrations.status import Endings
from conductor_operator.domain.waves import (
    FAILED_STATES,
    LISTED_INELIGIBLE,
    Move,
    MoveState,
    Wave,
    health,
    quota,
)

RESTART = "Restart"
"""The mover of a recovery entry in the ledger: Conductor's restart on the latest definitions."""
PLAN_MARKER = "[migrationplan "
"""How a MigrationPlan's terminations begin their reason (``domain.waves.terminate_marker``)."""
CHECK_PREFIX = "migrationplan/"
"""How a MigrationPlan's check workflows begin their correlationId (``gates.check_correlation_id``)."""


def instant(value) -> datetime | None:
    """A time as Conductor gives it: milliseconds since the epoch (an execution), or RFC 3339 text (a search
    summary: ``2026-11-30T13:04:25.391Z``); None for nothing, 0, or text that is not a time."""
    if value in (None, "", 0, "0"):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def ended_execution(summary: Mapping) -> Ended:
    """An ``Ended`` from a search summary (``GET /workflow/search``) or an execution (``GET /workflow/{id}``)."""
    failed = summary.get("failedReferenceTaskNames") or ""
    failed = [failed] if isinstance(failed, str) else list(failed)
    refs = tuple(ref.strip() for text in failed for ref in str(text).split(",") if ref.strip())
    version = summary.get("version", summary.get("workflowVersion"))
    return Ended(str(summary["workflowId"]), int(version or 0), str(summary.get("status")),
                 instant(summary.get("endTime")) or instant(summary.get("updateTime")),
                 summary.get("correlationId") or None, refs, summary.get("parentWorkflowId") or None,
                 str(summary.get("reasonForIncompletion") or ""))


def window_start(spec: RecoverFailed, registered_at: datetime) -> datetime:
    """Executions that ended since then are recovered: the target's registration less ``within``."""
    return registered_at - parse_duration(spec.within)


def admitted(item: Ended, spec: RecoverFailed, from_versions: Iterable[int], since: datetime) -> bool:
    """Whether the plan's recovery asks for this execution: an old version, a status it names, ended in the
    window, and the selector (a correlationId pattern, the task it failed on) admits it."""
    if item.version not in set(from_versions) or item.status not in spec.statuses:
        return False
    if item.ended is None or item.ended < since:
        return False
    selector = spec.selector
    if selector and selector.correlation_id_pattern and \
            not re.search(selector.correlation_id_pattern, item.correlation_id or ""):
        return False
    return not (selector and selector.failed_task and selector.failed_task not in item.failed_tasks)


def recovery_ineligibility(item: Ended, moved: Iterable[str] = ()) -> str | None:
    """Why an admitted execution is not restarted (None: it is). ``moved``: executions the ledger records as
    moved by this plan (their terminations are the plan's own)."""
    if item.execution_id in set(moved):
        return "the plan terminated it to move it (the ledger holds it)"
    if PLAN_MARKER in item.reason:
        return "terminated by a MigrationPlan"
    if (item.correlation_id or "").startswith(CHECK_PREFIX):
        return "a check workflow of a MigrationPlan"
    if item.parent:
        return f"a sub-workflow of {item.parent}: its parent restarts it"
    return None


def recovery_waves(spec: RecoverFailed) -> list[Wave]:
    """The canary (wave 0, when declared), then the steps from 1, and a last wave of 100% when the steps stop
    short of it: the same shape as upgrade waves, on the executions found instead of the running ones."""
    waves = []
    if spec.canary:
        waves.append(Wave(0, "recovery canary", spec.canary.count, spec.canary.percent))
    waves += [Wave(i, f"recovery step {i}", percent=step.percent, pause=step.pause)
              for i, step in enumerate(spec.steps, 1)]
    if not spec.steps or spec.steps[-1].percent < 100:
        waves.append(Wave(len(spec.steps) + 1, "recovery of the rest", percent=100))
    return waves


def pick_ended(eligible: Iterable[Ended], size: int) -> list[Ended]:
    """At most ``size``, those that ended first first (then by id): the same order at every step."""
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(eligible, key=lambda e: (e.ended or far, e.execution_id))[:max(0, size)]


RESTART_SETTLES_AFTER = timedelta(minutes=2)
"""How old an intent must be before a step restarts an execution still ended on its old version: a restart
sent by an operator killed mid-request may still be carried out by Conductor (it goes on with a request whose
client is gone). Restarted by both, an execution that ended on the target in between would run a third time
(a run of the kill test without this wait saw a wave of 5 restarted twice); two minutes is four times the
client's request timeout."""


class RecoveryFix(StrEnum):
    """What a recovery left as an intent needs, judged from the execution as it is now."""

    DONE = "Done"  # it runs (or ran) on another version: the restart happened
    WAIT = "Wait"  # still ended where it was, and a restart sent before a crash may still land: look again later
    RESTART = "Restart"  # still ended where it was, long enough: the restart never happened, make it
    ENDED = "Ended"  # gone, or on its old version again by other means (a retry by hand): leave it


def resolve_recovery(entry: Move, execution: Mapping | None, now: datetime) -> RecoveryFix:
    """Settle a restart recorded as an intent from the execution alone: after a crash the operator cannot know
    whether the restart went through, but the execution's version and state tell. It is restarted only while it
    is still ended on the old version, and only once a restart sent before the crash can no longer land
    (``RESTART_SETTLES_AFTER``), so it is never restarted twice."""
    if execution is None:
        return RecoveryFix.ENDED
    version = int(execution.get("workflowVersion", execution.get("version")) or 0)
    if version != entry.from_version:
        return RecoveryFix.DONE
    if execution.get("status") in FAILED_STATES:
        recorded = parse_time(entry.at)
        return RecoveryFix.RESTART if recorded is None or now - recorded >= RESTART_SETTLES_AFTER \
            else RecoveryFix.WAIT
    return RecoveryFix.ENDED


def reads_recovery_candidates(spec: MigrationPlanSpec, status: MigrationPlanStatus) -> bool:
    """Whether a step reads the ended executions (a search per 1000): only while Recovering and a wave may pick
    what to restart (its first step, or a promote request not handled yet)."""
    if status.phase != Phase.RECOVERING or spec.recover_failed is None:
        return False
    progress = status.recovery
    promote = spec.requests.promote if spec.requests else None
    handled = status.handled_requests.promote
    return (progress is None or progress.state == WaveState.MOVING
            or bool(promote and (handled is None or handled.token != promote)))


class Recovery(Endings):
    """The phase Recovering: restart, watch, wait, and on to the next recovery wave; then drain what is left."""

    def _recovers(self) -> bool:
        return self.spec.recover_failed is not None

    def _begin_recovery(self, on: On) -> None:
        self.enter(on)
        waves = recovery_waves(self.spec.recover_failed)
        registered = parse_time(self.status.registered_at) or self.now
        self.status.recovery = RecoveryStatus(
            current=waves[0].number, count=len(waves), state=WaveState.MOVING, since=format_time(self.now),
            window_start=format_time(window_start(self.spec.recover_failed, registered)))

    def _request_promote(self) -> str:
        progress = self.status.recovery
        if self.status.phase == Phase.RECOVERING and progress and not self.spec.paused \
                and progress.state in (WaveState.WAITING, WaveState.GATE_FAILED):
            self.promoted = True
            what = "its pause" if progress.state == WaveState.WAITING else "its failed health gate"
            return f"recovery wave {progress.current}: went on past {what}"
        return super()._request_promote()

    def _recovery(self) -> MigrationStep | None:
        """The next step of the recovery; None once its last wave passed its gate (the plan drains)."""
        status, spec, observed = self.status, self.spec, self.observed
        if spec.recover_failed is None:  # removed from the spec meanwhile: nothing more restarts
            return self._recovery_done("spec.recoverFailed was removed")
        waves = recovery_waves(spec.recover_failed)
        if status.recovery is None:
            self._begin_recovery(On.RECOVER_STEP)
        progress = status.recovery
        wave = next((w for w in waves if w.number == progress.current), waves[-1])
        if observed.recoveries is None:
            return self._progress(On.RECOVER_STEP, f"{wave.label}: reading the ledger")
        entries = observed.recoveries
        self._count_recoveries(entries)
        eligible = self._recoverable(entries)
        if pending := [e for e in entries if e.state is MoveState.INTENT]:
            return self._progress(On.RECOVER_STEP, f"{wave.label}: finishing {len(pending)} restart(s) already "
                                                   f"begun")
        if self.promoted:
            self.promoted = False
            return self._next_recovery_wave(waves, wave)
        if progress.state == WaveState.GATE_FAILED:
            return self._stall(On.RECOVER_STALLED, REASON_RECOVERY_GATE_FAILED,
                               f"{wave.label}: the health gate failed ({progress.message}); request promote to go "
                               f"on, or abort")
        if progress.state == WaveState.MOVING:
            if eligible is None:
                return self._progress(On.RECOVER_STEP, f"{wave.label}: reading the failed executions")
            chosen = pick_ended(eligible, quota(wave, progress.found, len(entries)))
            to_version = status.verdict.to_version
            if chosen and (higher := [v for v in observed.registered_versions if v > to_version]):
                return self._stall(On.RECOVER_STALLED, REASON_NOT_HIGHEST,
                                   f"{spec.workflow_name} {versions_text(higher)} was registered above the target "
                                   f"v{to_version}: a restart on the latest definition would land there; nothing "
                                   f"restarts until the target is the highest version again")
            if chosen:
                intents = tuple(Move(e.execution_id, e.version, to_version, wave.number, MoveState.INTENT, RESTART,
                                     format_time(self.now)) for e in chosen)
                self.actions.append(PlanAction(ActionKind.RECOVER, moves=intents, mover=RESTART))
                return self._progress(On.RECOVER_STEP, f"{wave.label}: restarting {len(chosen)} failed "
                                                       f"execution(s) on v{to_version}")
            self._recovery_state(WaveState.WATCHING, parse_duration(spec.recover_failed.health_gate.window))
        if progress.state == WaveState.WATCHING:
            return self._watch_recovery(waves, wave, entries)
        if progress.state == WaveState.WAITING and self.now < parse_time(progress.until):
            return self._progress(On.RECOVER_STEP, f"{wave.label} passed its health gate; the next recovery wave "
                                                   f"starts at {progress.until} (request promote to start it now)")
        return self._next_recovery_wave(waves, wave)

    def _recoverable(self, entries: tuple[Move, ...]) -> list[Ended] | None:
        """The ended executions a recovery wave may restart, when the shell read them; ``found`` and the
        ineligible ones are counted afresh then, and kept as they were otherwise."""
        observed, progress, spec = self.observed, self.status.recovery, self.spec.recover_failed
        if observed.recovery_candidates is None:
            return None
        since = parse_time(progress.window_start) or self.now
        known = {e.execution_id for e in entries}
        moved = {m.execution_id for m in observed.moves or ()}
        eligible, ineligible = [], []
        for item in observed.recovery_candidates:
            if item.execution_id in known or not admitted(item, spec, self.from_versions, since):
                continue
            if why := recovery_ineligibility(item, moved):
                ineligible.append(f"{item.execution_id}: {why}")
            else:
                eligible.append(item)
        progress.found = len(entries) + len(eligible) + len(ineligible)
        progress.ineligible, progress.ineligible_executions = len(ineligible), ineligible[:LISTED_INELIGIBLE]
        return eligible

    def _watch_recovery(self, waves: list[Wave], wave: Wave, entries: tuple[Move, ...]) -> MigrationStep | None:
        progress, gate = self.status.recovery, self.spec.recover_failed.health_gate
        result = health([e for e in entries if e.wave == wave.number], self.observed.recovery_states)
        progress.message = f"{result.failed} of {result.moved} execution(s) restarted in {wave.label} failed"
        if result.exceeds(gate.max_failure_percent):
            text = (f"{wave.label}: {progress.message}, above {gate.max_failure_percent}% "
                    f"({some(result.failed_ids)})")
            self.events.append(Event("Warning", REASON_RECOVERY_GATE_FAILED, text))
            self._recovery_state(WaveState.GATE_FAILED)
            return self._stall(On.RECOVER_STALLED, REASON_RECOVERY_GATE_FAILED,
                               f"{text}; request promote to go on, or abort")
        if result.moved and self.now < parse_time(progress.until):
            return self._progress(On.RECOVER_STEP, f"{wave.label}: watching until {progress.until}: "
                                                   f"{progress.message}")
        self.events.append(Event("Normal", "RecoveryWavePassed", f"{wave.label} passed its health gate: "
                                                                 f"{progress.message}"))
        if wave.pause and wave is not waves[-1]:
            self._recovery_state(WaveState.WAITING, parse_duration(wave.pause))
            return self._progress(On.RECOVER_STEP, f"{wave.label} passed its health gate; the next recovery wave "
                                                   f"starts at {progress.until}")
        return self._next_recovery_wave(waves, wave)

    def _next_recovery_wave(self, waves: list[Wave], wave: Wave) -> MigrationStep | None:
        later = [w for w in waves if w.number > wave.number]
        if not later:
            return self._recovery_done(f"restarted {self.status.recovery.restarted} failed execution(s) on the "
                                       f"target")
        self.status.recovery.current = later[0].number
        self._recovery_state(WaveState.MOVING)
        return self._recovery()

    def _recovery_done(self, text: str) -> None:
        status = self.status
        if status.recovery is not None:
            self._recovery_state(WaveState.DONE)
        self.enter(On.RECOVERED)
        self.events.append(Event("Normal", "Recovered", text))
        if status.drain is None or status.drain.drained_at is None:  # a drain before the cutover stays drained
            status.drain = DrainStatus(since=format_time(self.now))
        return None

    def _recovery_state(self, state: WaveState, lasting: timedelta | None = None) -> None:
        enter_wave_state(self.status.recovery, state, self.now, lasting)

    def _count_recoveries(self, entries: tuple[Move, ...]) -> None:
        progress, states = self.status.recovery, self.observed.recovery_states
        restarted = [e for e in entries if e.state is MoveState.MOVED]
        progress.restarted = len(restarted)
        progress.failed = (sum(1 for e in restarted if states.get(e.execution_id) in FAILED_STATES)
                           + sum(1 for e in entries if e.state is MoveState.FAILED))


def recovery_planned(spec: RecoverFailed, to_version: int) -> list[str]:
    """A dry run's lines for the recovery."""
    statuses = ", ".join(spec.statuses)
    waves = recovery_waves(spec)
    sizes = "; ".join(f"{w.label}: {w.count} execution(s)" if w.count else f"{w.label}: up to {w.percent}%"
                      for w in waves)
    return [f"restart the executions of the old versions that ended {statuses} within {spec.within} before the "
            f"cutover on v{to_version}, in waves ({sizes}), each watched for {spec.health_gate.window} (at most "
            f"{spec.health_gate.max_failure_percent}% may fail again)"]

