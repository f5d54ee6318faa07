"""Drain: when a version drained (consecutive zero readings spanning a grace period), the counts a step reads,
and the drain before the cutover (triggers paused, old versions finish, then the release; at the deadline wait,
fail or move what remains)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from conductor_operator.api.common import parse_duration
from conductor_operator.api.migration import DrainStatus, RunningSummary, VersionCount
from conductor_operator.domain.conditions import format_time, kstatus, parse_time
from conductor_operator.domain.definitions import Event
from conductor_operator.domain.migrations.model import (
    DRAINED,
    REASON_DEADLINE_PASSED,
    REASON_TRIGGER_PINS_OLD,
    ActionKind,
    MigrationStep,
    Phase,
    PlanAction,
    TargetView,
    versions_text,
)
from conductor_operator.domain.migrations.phases import On
from conductor_operator.domain.migrations.status import Endings
from conductor_operator.domain.waves import estimate_drain_end


@dataclass(frozen=True)
class DrainState:
    """Consecutive zero readings of a version's running executions, and when the run of zeros began."""

    zero_readings: int = 0
    first_zero_at: datetime | None = None


def record_reading(state: DrainState, running: int | None, now: datetime) -> DrainState:
    """Fold one reading in. Anything but a known zero (executions, or a failed read) starts over."""
    if running != 0:
        return DrainState()
    return DrainState(state.zero_readings + 1, state.first_zero_at or now)


def drained(state: DrainState, now: datetime, *, readings_needed: int, grace: timedelta) -> bool:
    """Drained: enough zero readings in a row, the first of them at least ``grace`` ago. Never one reading."""
    return (state.zero_readings >= max(2, readings_needed) and state.first_zero_at is not None
            and now - state.first_zero_at >= grace)



def drain_state(drain: DrainStatus | None) -> DrainState:
    if drain is None:
        return DrainState()
    return DrainState(drain.zero_readings, parse_time(drain.first_zero_at))



class Draining(Endings):
    """The drain before the cutover, and the counts and drain readings of every step."""

    def _drain_before_cutover(self, target: TargetView) -> MigrationStep:
        status, spec = self.status, self.spec
        drain = self.strategy  # drains_before_cutover: the drain strategy, with its deadline and onDeadline
        if status.phase == Phase.ABORTED:
            return self._ended()
        if status.phase == Phase.FAILED:  # the deadline passed (onDeadline: Fail)
            return self._stall(On.DEADLINE_FAIL, REASON_DEADLINE_PASSED, status.message or "the drain deadline passed")
        if status.drain is None or status.drain.since is None:
            deadline = self.now + parse_duration(drain.deadline)
            status.drain = DrainStatus(since=format_time(self.now), deadline=format_time(deadline))
            self.enter(On.DRAIN_STARTED)
            self._estimate_drain_end()
        if self.strategy.pauses_triggers:
            self.actions.append(PlanAction(ActionKind.PAUSE_TRIGGERS))
        old = self.from_versions
        if self.promoted:
            self._release(target, "promoted")
            return self._after_cutover(target)
        if spec.paused:
            return self._paused()
        if self._drain_ended(old):
            self._release(target, "drained")
            return self._after_cutover(target)
        if self.now < parse_time(status.drain.deadline):
            return self._progress(On.DRAIN_WAITS, self._drain_message(old))
        running = status.running.old if status.running else "some"
        if drain.on_deadline == "Fail":
            self.enter(On.DEADLINE_FAIL)
            message = (f"the drain deadline ({drain.deadline}) passed with {running} execution(s) on "
                       f"{versions_text(old)}")
            self.events.append(Event("Warning", REASON_DEADLINE_PASSED, message))
            status.message = message
            return self._step(kstatus(False, REASON_DEADLINE_PASSED, f"{message}; triggers are resumed and "
                                                                     f"nothing was cut over", stalled=True))
        if drain.on_deadline == "MoveRemaining":
            self.events.append(Event("Normal", REASON_DEADLINE_PASSED, f"the drain deadline passed: moving the "
                                                                       f"{running} remaining execution(s)"))
            self._release(target, "the drain deadline passed")
            return self._after_cutover(target)
        self.warnings.append((REASON_DEADLINE_PASSED, f"the drain deadline ({drain.deadline}) passed; the plan "
                                                      f"keeps waiting (onDeadline: Wait)"))
        return self._progress(On.DRAIN_WAITS, self._drain_message(old))


    def _record_counts(self, target_version: int) -> None:
        counts = self.observed.counts
        if counts is None or self.had_ended:  # a plan that ended keeps its final counts
            return
        status = self.status
        read_at = format_time(self.now)
        old = self.from_versions
        shown = sorted(set(counts) | set(old) | {target_version})
        status.versions = [VersionCount(version=v, running=counts.get(v, 0), read_at=read_at) for v in shown]
        status.running = RunningSummary(old=sum(counts.get(v, 0) for v in old), target=counts.get(target_version, 0),
                                        read_at=read_at)
        self._estimate_drain_end()
        if status.phase in (Phase.DRAINING, Phase.RETIRING) and status.drain is not None:
            unretired = [v for v in old if v not in status.retired_versions]
            state = record_reading(drain_state(status.drain), sum(counts.get(v, 0) for v in unretired), self.now)
            status.drain.zero_readings = state.zero_readings
            status.drain.first_zero_at = format_time(state.first_zero_at) if state.first_zero_at else None

    def _estimate_drain_end(self) -> None:
        drain = self.status.drain
        if drain is not None and self.observed.old_starts is not None:
            end = estimate_drain_end(self.observed.old_starts, self.now)
            drain.estimated_end = format_time(end) if end else None

    def _old_running(self, old: list[int]) -> bool:
        counts = self.observed.counts
        return counts is not None and any(counts.get(v, 0) for v in old)

    def _drain_ended(self, old: list[int]) -> bool:
        """Whether the old versions drained (judged on a fresh reading); if so, record when and say so."""
        detection = self.spec.drain_detection
        ended = not old or (self.observed.counts is not None and drained(
            drain_state(self.status.drain), self.now, readings_needed=detection.consecutive_zero_readings,
            grace=parse_duration(detection.grace_period)))
        if ended:
            self.status.drain.drained_at = format_time(self.now)
            self.events.append(Event("Normal", DRAINED, f"no execution of {versions_text(old)} has run for "
                                                        f"{detection.grace_period}"))
        return ended

    def _drain_message(self, old: list[int]) -> str:
        running = self.status.running.old if self.status.running else None
        drain = self.status.drain or DrainStatus()
        needed = max(2, self.spec.drain_detection.consecutive_zero_readings)
        if running:
            paused = "triggers are paused; " if self.strategy.pauses_triggers else ""
            where = ("new unpinned starts go to the target" if self.status.registered_at else
                     f"{paused}deadline {drain.deadline}")
            ends = f"; estimated end {drain.estimated_end}" if drain.estimated_end else ""
            return f"{running} execution(s) still run on {versions_text(old)}; {where}{ends}"
        return (f"{versions_text(old)} read zero {drain.zero_readings} of {needed} time(s) in a row; drained after "
                f"{self.spec.drain_detection.grace_period} at zero")

    def _pinning_triggers(self, old: list[int], target: TargetView) -> None:
        """Warn of triggers that keep starting an old version: the drain cannot end while they do."""
        pinning = {key: v for key, v in (self.observed.pinning_triggers or {}).items() if v in old}
        if pinning:
            text = ", ".join(f"{key} starts v{version}" for key, version in sorted(pinning.items()))
            self.warnings.append((REASON_TRIGGER_PINS_OLD, f"{text} (pinned): the old versions will not drain "
                                                           f"while it does; unpin it or point it at v{target.version}"))

