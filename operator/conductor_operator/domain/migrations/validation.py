"""Validating a plan before its gates: which versions move, the verdict on the change, and a chain of small
pure checks (in the style of cert-manager's certificate policies), each returning a ``Refusal`` (a reason and
a message) or None. The first refusal stalls the plan in Validating."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from conductor_operator.api.migration import Finding as FindingStatus
from conductor_operator.api.migration import MigrationPlanSpec
from conductor_operator.api.migration import StandingWarning as StandingWarningStatus
from conductor_operator.api.migration import Verdict as VerdictStatus
from conductor_operator.domain.compatibility import (
    BREAKING,
    SAFE,
    Compatibility,
    Finding,
    InvalidDefinition,
    StandingWarning,
    Verdict,
    compare,
)
from conductor_operator.domain.migrations.model import (
    REASON_INVALID_DEFINITION,
    REASON_MOVER_UNSUPPORTED,
    REASON_NOT_HIGHEST,
    REASON_STRATEGY_NOT_ALLOWED,
    REASON_VERSIONS_NOT_FOUND,
    REASON_WORKERS_NOT_IDEMPOTENT,
    PlanObservation,
    TargetView,
    versions_text,
)
from conductor_operator.domain.migrations.strategies import Strategy
from conductor_operator.domain.waves import ORKES_UPGRADE, TERMINATE_RESTART


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
    standing_warnings: tuple[tuple[int, StandingWarning], ...] = ()
    """(from version, warning): risks that version shares with the target; they do not raise the level."""

    def allows(self, strategy: str, *, acknowledged_breaking: bool = False) -> bool:
        return Verdict(self.level).allows(strategy, acknowledged_breaking=acknowledged_breaking)


def plan_verdict(old_definitions: dict[int, dict], target: dict, *,
                 changed_task_defs: Iterable[str] = ()) -> PlanVerdict:
    """Compare every old version with the target; the worst finding of any of them decides."""
    changed = tuple(changed_task_defs)
    level, findings, standing = SAFE, [], []
    for version in sorted(old_definitions):
        verdict = compare(old_definitions[version], target, changed_task_defs=changed)
        level = max(level, verdict.level)
        findings += [(version, finding) for finding in verdict.findings]
        standing += [(version, warning) for warning in verdict.standing_warnings]
    return PlanVerdict(level, tuple(findings), tuple(standing))


def verdict_status(verdict: PlanVerdict, from_versions: list[int], to_version: int) -> VerdictStatus:
    findings = [FindingStatus(level=f.level.value, reason=f.reason.value, task_ref=f.task_ref,
                              message=f"v{version}: {f.message}") for version, f in verdict.findings]
    standing = [StandingWarningStatus(reason=w.reason.value, task_ref=w.task_ref, message=f"v{version}: {w.message}")
                for version, w in verdict.standing_warnings]
    return VerdictStatus(level=verdict.level.value, findings=findings, standing_warnings=standing,
                         from_versions=from_versions, to_version=to_version)


# ---- the chain of checks ------------------------------------------------------------------------

@dataclass(frozen=True)
class Refusal:
    reason: str
    message: str


@dataclass(frozen=True)
class PlanUnderCheck:
    """What the checks look at: the spec, what was observed, the target, the versions to move from, the
    strategy, and (for the checks after it) the verdict."""

    spec: MigrationPlanSpec
    observed: PlanObservation
    target: TargetView
    from_versions: list[int]
    strategy: Strategy
    verdict: PlanVerdict | None = None

    @property
    def acknowledged(self) -> bool:
        settings = self.strategy.mover_settings
        return bool(settings and settings.acknowledge_breaking)


Check = Callable[[PlanUnderCheck], Refusal | None]


def versions_registered(p: PlanUnderCheck) -> Refusal | None:
    missing = [v for v in p.from_versions if v not in p.observed.old_definitions]
    if missing:
        return Refusal(REASON_VERSIONS_NOT_FOUND, f"{p.spec.workflow_name} version(s) {versions_text(missing)} are "
                                                  f"not registered in Conductor: fix spec.from")
    return None


def strategy_allowed(p: PlanUnderCheck) -> Refusal | None:
    strategy = p.strategy.name
    if not p.verdict.allows(strategy, acknowledged_breaking=p.acknowledged):
        return Refusal(REASON_STRATEGY_NOT_ALLOWED,
                       f"the change is {p.verdict.level.value}: {strategy} would move running executions onto a "
                       f"definition they cannot continue on; use parallel or drain, or set "
                       f"spec.strategy.upgradeWaves.acknowledgeBreaking after reading the findings")
    return None


def breaking_move_acknowledged(p: PlanUnderCheck) -> Refusal | None:
    if p.verdict.level is BREAKING and p.strategy.moves_executions and not p.acknowledged:
        return Refusal(REASON_STRATEGY_NOT_ALLOWED,
                       "the change is Breaking: onDeadline: MoveRemaining would move running executions onto a "
                       "definition they cannot continue on; use Wait or Fail, or set "
                       "spec.strategy.drain.acknowledgeBreaking after reading the findings")
    return None


def mover_supported(p: PlanUnderCheck) -> Refusal | None:
    if not p.strategy.moves_executions:
        return None
    flavor = p.observed.flavor
    mover = p.strategy.mover(flavor)
    if mover == ORKES_UPGRADE and flavor != "Orkes":
        return Refusal(REASON_MOVER_UNSUPPORTED, "the OrkesUpgrade mover needs Orkes Conductor; this server is "
                                                 f"{flavor or 'not Orkes'}: use TerminateRestart")
    if mover == TERMINATE_RESTART and not p.strategy.mover_settings.workers_idempotent:
        return Refusal(REASON_WORKERS_NOT_IDEMPOTENT, "the TerminateRestart mover runs every task of a moved "
                                                      "execution again from the start; set workersIdempotent: "
                                                      "true once the workers tolerate that")
    return None


def target_highest(p: PlanUnderCheck) -> Refusal | None:
    if higher := [v for v in p.observed.registered_versions if v > p.target.version]:
        return Refusal(REASON_NOT_HIGHEST,
                       f"{p.spec.workflow_name} {versions_text(higher)} is registered above the target "
                       f"v{p.target.version}: unpinned starts would go to v{max(higher)}, not to the target; "
                       f"target the highest version, or retire the higher ones first")
    return None


BEFORE_VERDICT: tuple[Check, ...] = (versions_registered,)
def recovery_idempotent(p: PlanUnderCheck) -> Refusal | None:
    """spec.recoverFailed restarts executions from their first task: the workers must say they tolerate that."""
    recover = p.spec.recover_failed
    if recover is not None and not recover.workers_idempotent:
        return Refusal(REASON_WORKERS_NOT_IDEMPOTENT,
                       "spec.recoverFailed restarts failed executions of the old versions from their first task on "
                       "the target, so every task they ran before runs again (a charge, an e-mail): set "
                       "spec.recoverFailed.workersIdempotent: true once the workers tolerate that, or remove "
                       "spec.recoverFailed")
    return None


AFTER_VERDICT: tuple[Check, ...] = (strategy_allowed, breaking_move_acknowledged, mover_supported, target_highest,
                                    recovery_idempotent)


def first_refusal(checks: Iterable[Check], plan: PlanUnderCheck) -> Refusal | None:
    return next((refusal for check in checks if (refusal := check(plan))), None)


def validate(plan: PlanUnderCheck) -> tuple[PlanVerdict | None, Refusal | None]:
    """The verdict (None when the checks before it refused, or a definition is invalid) and the first refusal."""
    if refusal := first_refusal(BEFORE_VERDICT, plan):
        return None, refusal
    old = plan.observed.old_definitions
    try:
        verdict = plan_verdict({v: old[v] for v in plan.from_versions}, plan.target.definition)
    except InvalidDefinition as exc:
        return None, Refusal(REASON_INVALID_DEFINITION, str(exc))
    return verdict, first_refusal(AFTER_VERDICT, replace(plan, verdict=verdict))
