"""Pure decisions a MigrationPlan is made of: which versions move, the verdict, when a version drained.

The MigrationPlan reconciler (docs/migration-design.md) composes these; each is small enough to be
checked on its own, and none reads a clock: the time is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from conductor_operator.domain.compatibility import SAFE, Compatibility, Finding, Verdict, compare


def versions_to_move(*, explicit: Iterable[int] | None, all_older: bool, registered: Iterable[int],
                     target: int) -> list[int]:
    """The versions a plan moves from, lowest first; never the target itself.

    ``all_older`` takes every registered version below the target, so a version registered later
    and above it is left alone.
    """
    if all_older:
        return sorted({v for v in registered if v < target})
    return sorted({v for v in explicit or () if v != target})


@dataclass(frozen=True)
class PlanVerdict:
    level: Compatibility
    findings: tuple[tuple[int, Finding], ...]
    """(from version, finding), by version then in the order compare() gives."""

    def allows(self, strategy: str, *, acknowledged_breaking: bool = False) -> bool:
        return Verdict(self.level).allows(strategy, acknowledged_breaking=acknowledged_breaking)


def plan_verdict(old_definitions: dict[int, dict], target: dict, *,
                 changed_task_defs: Iterable[str] = ()) -> PlanVerdict:
    """Compare every old version with the target; the worst finding of any of them decides."""
    changed = tuple(changed_task_defs)
    level, findings = SAFE, []
    for version in sorted(old_definitions):
        verdict = compare(old_definitions[version], target, changed_task_defs=changed)
        level = max(level, verdict.level)
        findings += [(version, finding) for finding in verdict.findings]
    return PlanVerdict(level, tuple(findings))


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
