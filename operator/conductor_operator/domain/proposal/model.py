"""The proposal's inputs, its result and the thresholds its rules use."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

API_VERSION = "conductor-operator.io/v1alpha1"
PARALLEL, DRAIN, UPGRADE_WAVES = "parallel", "drain", "upgradeWaves"
BY_MIGRATION_PLAN = "ByMigrationPlan"

LONG_RUN = timedelta(hours=1)
"""Executions whose runs (their p95 age) reach this are worth moving rather than waiting for."""
MANY_RUNS = 20
"""From this many running executions on, waves go in several steps rather than one."""
DEADLINE_MARGIN = 1.5
"""A drain's deadline is the p95 age times this: the youngest execution still needs about a whole run."""
DEADLINE_FLOOR = timedelta(minutes=15)
"""Never shorter: counting zero three times over the default grace period alone takes minutes."""
UNKNOWN_DEADLINE = timedelta(hours=24)
"""The deadline when the ages are unknown: long, and onDeadline Wait only warns when it passes."""
MAX_TRIGGER_PAUSE = timedelta(hours=1)
"""Default for how long a drain may pause the event handlers and schedules that start the workflow."""
RETIRE_AFTER = "1h"
PERCENTILE = 95


@dataclass(frozen=True)
class Change:
    """What moves where, and the names the plan uses."""

    workflow: str
    new_version: int
    target_ref: str
    """The WorkflowDefinition resource of the new version."""
    plan_name: str
    old_version: int | None = None
    """None: every older version (from.allOlder)."""
    namespace: str | None = None
    cluster_ref: str | None = None
    target_activation: str | None = None
    """The new manifest's spec.activation (Immediate when it leaves it out); None when the new version is not a
    WorkflowDefinition manifest."""

    def moves_from(self, version: int) -> bool:
        return version == self.old_version if self.old_version is not None else version < self.new_version

    @property
    def old_label(self) -> str:
        return f"v{self.old_version}" if self.old_version is not None else f"the versions below v{self.new_version}"


@dataclass(frozen=True)
class Running:
    """The running (RUNNING or PAUSED) executions of one version: how many, and how long each has run (those
    Conductor gave a start time for)."""

    version: int
    count: int
    ages: tuple[timedelta, ...] = ()


@dataclass(frozen=True)
class Trigger:
    """An active event handler or schedule that starts the workflow; pinned_version when it names one."""

    kind: str
    name: str
    pinned_version: int | None = None


@dataclass(frozen=True)
class Rationale:
    """One rule that shaped the proposal, and why it applies here."""

    rule: str
    why: str


@dataclass(frozen=True)
class Proposal:
    strategy: str
    rationale: tuple[Rationale, ...]
    unknowns: tuple[str, ...]
    manifest: dict
    runbook: str

    def to_json(self) -> dict:
        return {"strategy": self.strategy,
                "reasons": [{"rule": r.rule, "why": r.why} for r in self.rationale],
                "unknowns": list(self.unknowns), "manifest": self.manifest, "runbook": self.runbook}


@dataclass(frozen=True)
class Workload:
    """The old versions' running executions, summed up."""

    count: int
    p95_age: timedelta | None
    oldest_age: timedelta | None
    others: tuple[Running, ...] = ()
    """Older versions running that the plan does not move from (when it moves from one version)."""

    @property
    def long(self) -> bool:
        return self.p95_age is not None and self.p95_age >= LONG_RUN

    @property
    def expected_drain(self) -> timedelta:
        """How long the old versions likely take to finish, with the margin: the drain deadline."""
        if self.count == 0 or self.p95_age is None:
            return DEADLINE_FLOOR
        return max(DEADLINE_FLOOR, self.p95_age * DEADLINE_MARGIN)

    def describe(self, label: str) -> str:
        if self.count == 0:
            return f"no execution of {label} runs"
        ages = (f", the oldest for {duration_text(self.oldest_age)} (p{PERCENTILE} {duration_text(self.p95_age)})"
                if self.p95_age is not None else " (their start times are unknown)")
        many = self.count != 1
        return f"{self.count} execution{'s' if many else ''} of {label} run{'' if many else 's'}{ages}"


def percentile(values: Sequence[timedelta], percent: int) -> timedelta | None:
    """Nearest-rank percentile: an observed value, never an interpolation; None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


def summarize(change: Change, running: Sequence[Running]) -> Workload:
    moved = [r for r in running if change.moves_from(r.version)]
    others = tuple(r for r in running
                   if r.count and not change.moves_from(r.version) and r.version < change.new_version)
    ages = [age for r in moved for age in r.ages]
    return Workload(count=sum(r.count for r in moved), p95_age=percentile(ages, PERCENTILE),
                    oldest_age=max(ages, default=None), others=others)


def duration_text(value: timedelta | None) -> str:
    """A short human duration: 45s, 12m, 3h5m."""
    if value is None:
        return "?"
    seconds = int(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m" if minutes else f"{secs}s"


def deadline_text(value: timedelta) -> str:
    """A deadline as a MigrationPlan duration, rounded up: to 5 minutes below an hour, to the hour above."""
    minutes = math.ceil(value.total_seconds() / 60)
    if minutes < 60:
        return f"{max(5, math.ceil(minutes / 5) * 5)}m"
    return f"{math.ceil(minutes / 60)}h"



@dataclass
class _Draft:
    strategy: str = PARALLEL
    settings: dict = field(default_factory=dict)
    rationale: list[Rationale] = field(default_factory=list)
    unknowns: list[str] = field(default_factory=list)

    def rule(self, rule: str, why: str) -> None:
        self.rationale.append(Rationale(rule, why))

def trigger_names(triggers: Sequence[Trigger]) -> str:
    return ", ".join(f"{t.kind} {t.name}" for t in triggers)
