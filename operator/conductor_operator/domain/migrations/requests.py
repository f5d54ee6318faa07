"""One-shot requests from spec.requests (abort, rollback, promote): each token is acted on once, and recorded in
status.handledRequests with what it did. A request present when the plan was created is not acted on."""

from __future__ import annotations

from conductor_operator.api.migration import HandledRequest
from conductor_operator.domain.conditions import format_time
from conductor_operator.domain.definitions import Event
from conductor_operator.domain.migrations.gates import Gates
from conductor_operator.domain.migrations.model import ENDED, Phase, TargetView, WaveState
from conductor_operator.domain.migrations.phases import On


class Requests(Gates):
    """abort, rollback and promote."""

    def _requests(self, target: TargetView) -> None:
        requests, handled = self.spec.requests, self.status.handled_requests
        if requests is None:
            return
        for kind in ("abort", "rollback", "promote"):
            token, last = getattr(requests, kind), getattr(handled, kind)
            if not token or (last is not None and last.token == token):
                continue
            if self.created:
                result = "present when the plan was created: not acted on"
            else:
                result = getattr(self, f"_request_{kind}")()
            setattr(handled, kind, HandledRequest(token=token, handled_at=format_time(self.now), result=result))
            self.events.append(Event("Normal", f"{kind.capitalize()}Requested", result))

    def _request_abort(self) -> str:
        status = self.status
        if status.phase in (*ENDED, Phase.FAILED, Phase.ROLLING_BACK):
            return f"nothing to abort: the plan is {status.phase}"
        was = status.phase or Phase.PENDING
        self.enter(On.ABORT_REQUESTED)
        self._terminate_running_gates("the plan was aborted")
        moved = status.waves.moved if status.waves else 0
        return f"aborted in phase {was}: nothing more moves; {moved} moved execution(s) stay on the target"

    def _request_rollback(self) -> str:
        status = self.status
        if status.phase in (Phase.ROLLING_BACK, Phase.ROLLED_BACK):
            return f"already {status.phase}"
        if status.cutover_at is None:
            return "nothing was cut over, so nothing to roll back: " + self._request_abort()
        if not self.from_versions:
            return "nothing to roll back to: no older version was moved from"
        if max(self.from_versions) in status.retired_versions:
            return f"nothing to roll back to: v{max(self.from_versions)} was retired from Conductor"
        self._begin_rollback(On.ROLLBACK_REQUESTED)
        return f"rolling back from phase {status.waves.state if status.waves else status.phase}"

    def _request_promote(self) -> str:
        status = self.status
        waves = status.waves
        if self.spec.paused:
            return "not acted on: the plan is held by spec.paused; resume it, then promote again"
        if status.phase == Phase.MOVING and waves and waves.state in (WaveState.WAITING, WaveState.GATE_FAILED):
            self.promoted = True
            what = "its pause" if waves.state == WaveState.WAITING else "its failed health gate"
            return f"wave {waves.current}: went on past {what}"
        if status.phase == Phase.MOVING and waves and waves.state == WaveState.HELD:
            self.promoted = True
            return f"wave {waves.current}: skipped, as it selected nothing; the next wave starts"
        if self.strategy.drains_before_cutover and status.phase == Phase.DRAINING and status.cutover_at is None:
            self.promoted = True
            return "cut over before the drain ended: what still runs finishes on its version"
        return f"nothing to promote in phase {status.phase or Phase.PENDING}"

