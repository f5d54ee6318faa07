"""Retirement: drained old versions are deleted from Conductor once a fresh count finds them idle and no
definition pins them; a retired version stays retired (its WorkflowDefinition holds it, ``definition_hold``)."""

from __future__ import annotations

from collections.abc import Iterable

from conductor_operator.api.common import parse_duration
from conductor_operator.api.migration import MigrationPlan, MigrationPlanStatus
from conductor_operator.domain.conditions import FALSE, TRUE, Condition, format_time, kstatus, parse_time
from conductor_operator.domain.definitions import REGISTERED
from conductor_operator.domain.migrations.model import (
    REASON_NO_WARNINGS,
    REASON_RETIREMENT_BLOCKED,
    WARNING,
    ActionKind,
    MigrationStep,
    Phase,
    PlanAction,
    versions_text,
)
from conductor_operator.domain.migrations.neighbours import plans_releasing
from conductor_operator.domain.migrations.phases import On
from conductor_operator.domain.migrations.status import Endings

REASON_AWAITING_ACTIVATION = "AwaitingActivation"
REASON_RETIRED = "RetiredByMigrationPlan"
REASON_RETIRED_RUNNING = "RetiredVersionRunning"


class Retirement(Endings):
    """Retiring the drained old versions."""

    def _retire(self, old: list[int]) -> MigrationStep:
        """RETIRE each old version a fresh count finds idle and no definition pins; say what holds the others."""
        ready_at = parse_time(self.status.drain.drained_at) + parse_duration(self.strategy.retire_after)
        if self.now < ready_at:
            return self._progress(On.RETIRE_STEP, f"retiring {versions_text(old)} at {format_time(ready_at)} "
                                                  f"(spec.strategy.parallel.retireAfter)")
        if self.observed.counts is None or self.observed.referrers is None:
            return self._progress(On.RETIRE_STEP, f"retiring {versions_text(old)} once counted afresh")
        blocked = {v: refs for v in old if (refs := self.observed.referrers.get(v))}
        self.actions += [PlanAction(ActionKind.RETIRE, version=v) for v in old if v not in blocked]
        if blocked:
            text = "; ".join(f"v{v} is pinned as a sub-workflow by {', '.join(sorted(refs))}"
                             for v, refs in blocked.items())
            self.warnings.append((REASON_RETIREMENT_BLOCKED, f"not retired: {text}"))
            return self._progress(On.RETIRE_STEP, f"waiting to retire: {text}")
        return self._progress(On.RETIRE_STEP, f"retiring {versions_text(old)} from Conductor")




def record_retirement(status: MigrationPlanStatus, version: int) -> None:
    if version not in status.retired_versions:
        status.retired_versions = sorted([*status.retired_versions, version])


def plans_retiring(workflow_name: str, version: int, plans: Iterable[MigrationPlan]) -> list[str]:
    """Plans that retired this version of the workflow from Conductor, or may be retiring it: a plan in
    Retiring deletes a version before it records it, so an operator killed in between leaves a deleted
    version that only the plan's phase tells apart from one deleted by hand."""
    def retiring(p: MigrationPlan) -> bool:
        status = p.status
        return version in status.retired_versions or (
            status.phase == Phase.RETIRING and status.verdict is not None and version in status.verdict.from_versions)

    return [p.metadata.name for p in plans if p.spec.workflow_name == workflow_name and retiring(p)]



def definition_hold(*, resource: str, workflow_name: str, version: int, activation: str, ever_registered: bool,
                    plans: Iterable[MigrationPlan], label: str, running: int | None = None) -> list[Condition] | None:
    """Conditions for a WorkflowDefinition whose version is absent from Conductor and must stay so, else None.

    Absent because a MigrationPlan retired it (registering it again would undo the retirement), or
    because it waits for a plan to release it (``spec.activation: ByMigrationPlan``): registering a
    version is what moves unpinned starts to it, so it waits for the plan's gates. ``running`` counts the
    running executions of a retired version (None: not counted): retiring deletes the definition, not the
    executions, and a plain restart of an ended one runs it again on its own version, which no plan watches
    any more, so their reappearance is a Warning.
    """
    plans = list(plans)
    if retired_by := plans_retiring(workflow_name, version, plans):
        by = f"MigrationPlan {', '.join(retired_by)}"
        message = f"{label} was retired from Conductor by {by}"
        warning = Condition(WARNING, FALSE, REASON_NO_WARNINGS, "")
        if running:
            warning = Condition(WARNING, TRUE, REASON_RETIRED_RUNNING,
                                f"executions of {label} run again although {by} retired it (status.executions."
                                f"running counts them): a plain restart of an ended execution runs it on its own "
                                f"version, which nothing migrates any more; let them end, or restart them with "
                                f"useLatestDefinitions")
        return [*kstatus(True, REASON_RETIRED, message),
                Condition(REGISTERED, FALSE, REASON_RETIRED, message), warning]
    if activation == "ByMigrationPlan" and not ever_registered and not plans_releasing(resource, plans):
        message = (f"{label} is registered once a MigrationPlan in this namespace that targets WorkflowDefinition "
                   f"{resource} passes its gates (spec.activation: ByMigrationPlan)")
        return [*kstatus(False, REASON_AWAITING_ACTIVATION, message, reconciling=True),
                Condition(REGISTERED, FALSE, REASON_AWAITING_ACTIVATION, message)]
    return None
