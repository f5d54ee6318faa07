"""Waves: running executions move onto the target wave by wave (ledger first), each wave watched by a health
gate; a wave that selects nothing holds. What moving an execution involves is in ``domain.waves``."""

from __future__ import annotations

from datetime import datetime, timedelta

from conductor_operator.api.common import parse_duration
from conductor_operator.api.migration import DrainStatus, MigrationPlanSpec, MigrationPlanStatus, WavesStatus
from conductor_operator.domain.conditions import format_time, parse_time
from conductor_operator.domain.definitions import Event
from conductor_operator.domain.migrations.gates import Gates
from conductor_operator.domain.migrations.model import (
    REASON_GATE_FAILED,
    REASON_HEALTH_GATE_FAILED,
    REASON_NOT_HIGHEST,
    REASON_WAVE_SELECTED_NOTHING,
    ActionKind,
    MigrationStep,
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
    PENDING,
    TERMINATE_RESTART,
    Candidate,
    Move,
    MoveState,
    Wave,
    health,
    ineligibility,
    pick,
    quota,
    selector_text,
)


def reads_candidates(spec: MigrationPlanSpec, status: MigrationPlanStatus, now: datetime) -> bool:
    """Whether a step of a moving plan needs the old executions with their current tasks: only where a wave
    may pick what to move next (a new promote request included, and a held wave once its ``until`` passed, every
    drainDetection.interval). While a wave is watched, paused or stalled
    that read (every task of thousands of executions) would be repeated at every step for figures nothing
    acts on."""
    waves, promote = status.waves, spec.requests.promote if spec.requests else None
    handled = status.handled_requests.promote
    if waves is None or waves.state == WaveState.MOVING or (promote and (handled is None or handled.token != promote)):
        return True
    if waves.state in (WaveState.WATCHING, WaveState.WAITING, WaveState.HELD):  # a held wave looks again at until
        return waves.until is None or now >= parse_time(waves.until)
    return False




class Waves(Gates, Endings):
    """The waves of a moving plan: pick, move, watch, wait, hold, and on to the next."""

    def _waves(self) -> MigrationStep | None:
        """The next step of the waves; None once the last wave passed its gate (the plan drains what is left)."""
        status, spec, observed = self.status, self.spec, self.observed
        waves = self.strategy.waves()
        progress = status.waves or WavesStatus(current=waves[0].number, count=len(waves), state=WaveState.MOVING)
        status.waves = progress
        wave = next((w for w in waves if w.number == progress.current), waves[-1])
        if observed.moves is None:
            return self._progress(On.WAVE_STEP, f"{wave.label}: reading the ledger")
        moves = observed.moves
        self._count_moves(moves)
        eligible = self._eligible(moves)
        if pending := [m for m in moves if m.state in PENDING]:
            return self._progress(On.WAVE_STEP, f"{wave.label}: finishing {len(pending)} move(s) already begun")
        if self.promoted:
            self.promoted = False  # one wave goes on, not every wave after it
            return self._next_wave(waves, wave)
        if progress.state == WaveState.GATE_FAILED:
            return self._stall(On.WAVE_STALLED, REASON_HEALTH_GATE_FAILED,
                               f"{wave.label}: the health gate failed ({progress.message}); request promote to go "
                               f"on, rollback to move the moved executions back, or abort")
        if spec.paused:
            return self._paused()
        if progress.state == WaveState.HELD and eligible is None:  # not looked at again in this step
            return self._held(wave, progress.message or f"{wave.label} selected nothing")
        if progress.state in (WaveState.MOVING, WaveState.HELD):
            if eligible is None:
                return self._progress(On.WAVE_STEP, f"{wave.label}: reading the executions to move")
            size = quota(wave, progress.total, len(moves))
            chosen = pick(eligible, wave, size, self.now)
            mover = self._mover()
            higher = [v for v in observed.registered_versions if v > status.verdict.to_version]
            if chosen and mover == TERMINATE_RESTART and higher:
                return self._stall(On.WAVE_STALLED, REASON_NOT_HIGHEST,
                                   f"{spec.workflow_name} {versions_text(higher)} was registered above the target "
                                   f"v{status.verdict.to_version}: a restart on the latest definition would land "
                                   f"there; nothing moves until the target is the highest version again")
            if chosen:
                if progress.state == WaveState.HELD:
                    self._wave_state(WaveState.MOVING)
                    progress.message = None
                intents = tuple(Move(c.execution_id, c.version, status.verdict.to_version, wave.number,
                                     MoveState.INTENT, mover, format_time(self.now)) for c in chosen)
                self.actions.append(PlanAction(ActionKind.MOVE, moves=intents, mover=mover))
                return self._progress(On.WAVE_STEP, f"{wave.label}: moving {len(chosen)} execution(s) to "
                                                    f"v{status.verdict.to_version}")
            if size and eligible and not any(m.wave == wave.number for m in moves):
                return self._hold(wave, eligible)
            self._wave_state(WaveState.WATCHING, self._gate_window())
            progress.gates = []  # this wave's check workflows start now
        if progress.state == WaveState.WATCHING:
            return self._watch(waves, wave, moves)
        if progress.state == WaveState.WAITING and self.now < parse_time(progress.until):
            return self._progress(On.WAVE_STEP, f"{wave.label} passed its health gate; the next wave starts at "
                                                f"{progress.until} (request promote to start it now)")
        return self._next_wave(waves, wave)

    def _hold(self, wave: Wave, eligible: list[Candidate]) -> MigrationStep:
        """A wave that would move executions, with executions it could move, selected none (its selector admits
        none of them): it would pass its health gate with 0 of 0 moved, and the next wave would move its share
        unprotected. It holds instead, and looks again every drainDetection.interval: it goes on once its
        selector admits an execution (one grew old enough), or when a promote request skips it."""
        progress = self.status.waves
        text = (f"{wave.label} selected nothing: its selector ({selector_text(wave.selector)}) admits none of the "
                f"{len(eligible)} execution(s) it could move")
        if wave.selector and wave.selector.older_than:
            starts = [c.started for c in eligible if c.started is not None]
            text += (f"; the oldest of them is {wave.selector.older_than} old at "
                     f"{format_time(min(starts) + parse_duration(wave.selector.older_than))}" if starts else
                     "; the start of none of them is known")
        if progress.state != WaveState.HELD:
            self._wave_state(WaveState.HELD)
            self.events.append(Event("Warning", REASON_WAVE_SELECTED_NOTHING, f"{text}; the plan holds"))
        progress.until = format_time(self.now + parse_duration(self.spec.drain_detection.interval))
        progress.message = text
        return self._held(wave, text)

    def _held(self, wave: Wave, text: str) -> MigrationStep:
        message = (f"{text}; held: a wave that moves nothing proves nothing, so the next wave does not start. "
                   f"It goes on once the selector admits an execution; request promote to skip the {wave.label}, "
                   f"or abort")
        self.warnings.append((REASON_WAVE_SELECTED_NOTHING, text))
        return self._stall(On.WAVE_STALLED, REASON_WAVE_SELECTED_NOTHING, message)

    def _eligible(self, moves: tuple[Move, ...]) -> list[Candidate] | None:
        """The old executions a wave may move, when the shell read them (see ``reads_candidates``); the
        total and the ineligible ones are counted afresh then, and kept as they were otherwise."""
        observed, progress = self.observed, self.status.waves
        if observed.candidates is None or observed.target_refs is None:
            return None
        eligible, ineligible = [], []
        for item in observed.candidates:
            why = ineligibility(item, observed.target_refs)
            if why:
                ineligible.append(f"{item.execution_id}: {why}")
            else:
                eligible.append(item)
        progress.total = len(moves) + len(observed.candidates)
        progress.ineligible, progress.ineligible_executions = len(ineligible), ineligible[:LISTED_INELIGIBLE]
        return eligible

    def _watch(self, waves: list[Wave], wave: Wave, moves: tuple[Move, ...]) -> MigrationStep | None:
        progress, gate = self.status.waves, self._health_gate()
        result = health([m for m in moves if m.wave == wave.number], self.observed.move_states)
        progress.message = f"{result.failed} of {result.moved} execution(s) moved in {wave.label} failed"
        checks = self._check_workflows(gate.workflows, progress.gates, wave=wave.number) if gate else []
        progress.gates = checks
        failed_checks = [c for c in checks if c.reason == REASON_GATE_FAILED]
        too_many = gate is not None and result.exceeds(gate.max_failure_percent)
        if too_many or failed_checks:
            text = "; ".join([f"{wave.label}: {progress.message}"
                              + (f", above {gate.max_failure_percent}% ({some(result.failed_ids)})"
                                 if too_many else ""),
                              *(f"check {g.name}: {g.message}" for g in failed_checks)])
            self.events.append(Event("Warning", REASON_HEALTH_GATE_FAILED, text))
            if self.strategy.rolls_back_on_gate_failure:
                self._begin_rollback(On.HEALTH_GATE_ROLLBACK)
                return self._rolling_back(None)
            self._wave_state(WaveState.GATE_FAILED)
            return self._stall(On.WAVE_STALLED, REASON_HEALTH_GATE_FAILED,
                               f"{text}; request promote to go on, rollback to move them back, or abort")
        running_checks = [c.name for c in checks if not c.passed]
        if (result.moved and self.now < parse_time(progress.until)) or running_checks:
            waiting = f"; check workflow(s) {', '.join(running_checks)} running" if running_checks else ""
            return self._progress(On.WAVE_STEP, f"{wave.label}: watching until {progress.until}: "
                                                f"{progress.message}{waiting}")
        self.events.append(Event("Normal", "WavePassed", f"{wave.label} passed its health gate: {progress.message}"))
        if wave.pause and wave is not waves[-1]:
            self._wave_state(WaveState.WAITING, parse_duration(wave.pause))
            return self._progress(On.WAVE_STEP, f"{wave.label} passed its health gate; the next wave starts at "
                                                f"{progress.until}")
        return self._next_wave(waves, wave)

    def _next_wave(self, waves: list[Wave], wave: Wave) -> MigrationStep | None:
        progress = self.status.waves
        self._terminate_running_gates(f"{wave.label} was promoted past its health gate")
        later = [w for w in waves if w.number > wave.number]
        if not later:
            self._wave_state(WaveState.DONE)
            if self.spec.recover_failed is not None:  # failed executions restart next (domain/migrations/recovery)
                self._begin_recovery(On.WAVES_DONE_RECOVER)
                return None
            self.enter(On.WAVES_DONE)
            self.status.drain = DrainStatus(since=format_time(self.now))
            return None
        progress.current = later[0].number
        self._wave_state(WaveState.MOVING)
        return self._waves()

    def _wave_state(self, state: WaveState, lasting: timedelta | None = None) -> None:
        enter_wave_state(self.status.waves, state, self.now, lasting)

    def _health_gate(self):
        return self.strategy.health_gate

    def _gate_window(self) -> timedelta:
        gate = self._health_gate()
        return parse_duration(gate.window) if gate else timedelta(0)

    def _count_moves(self, moves: tuple[Move, ...]) -> None:
        progress = self.status.waves
        ever_moved = [m for m in moves if m.state not in (MoveState.INTENT, MoveState.FAILED, MoveState.ENDED)]
        failed = [m for m in ever_moved if m.state is MoveState.MOVED
                  and self.observed.move_states.get(m.execution_id) in FAILED_STATES]
        progress.moved = len(ever_moved)
        progress.failed = len(failed) + sum(1 for m in moves if m.state is MoveState.FAILED)
        progress.rolled_back = sum(1 for m in moves if m.state is MoveState.ROLLED_BACK)

