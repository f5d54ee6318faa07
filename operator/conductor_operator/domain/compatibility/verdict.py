"""The words of the verdict: the levels, the reasons and what each weighs, findings, and the verdict."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum
from functools import total_ordering

__all__ = [
    "BREAKING", "CAUTION", "PROPERTY_REASONS", "REASON_LEVELS", "SAFE", "STRATEGIES", "Compatibility", "Finding",
    "InvalidDefinition", "Reason", "StandingWarning", "Verdict",
]


@total_ordering
class Compatibility(Enum):
    """Ordered: SAFE < CAUTION < BREAKING. The values are the words MigrationPlan status uses."""

    SAFE = "Safe"
    CAUTION = "Caution"
    BREAKING = "Breaking"

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Compatibility):
            return NotImplemented
        order = list(Compatibility)
        return order.index(self) < order.index(other)


SAFE, CAUTION, BREAKING = Compatibility.SAFE, Compatibility.CAUTION, Compatibility.BREAKING


class Reason(StrEnum):
    TASK_APPENDED = "TaskAppended"
    TASK_INSERTED = "TaskInserted"
    TASK_REMOVED = "TaskRemoved"
    TASK_RENAMED = "TaskRenamed"
    TASKS_REORDERED = "TasksReordered"
    TASK_TYPE_CHANGED = "TaskTypeChanged"
    TASK_DEFINITION_CHANGED = "TaskDefinitionChanged"
    TASK_SETTINGS_CHANGED = "TaskSettingsChanged"
    BRANCHING_CHANGED = "BranchingChanged"
    INPUT_MAPPING_CHANGED = "InputMappingChanged"
    SUB_WORKFLOW_CHANGED = "SubWorkflowChanged"
    UNPINNED_SUB_WORKFLOW = "UnpinnedSubWorkflow"
    SHARED_TASK_DEFINITION_CHANGED = "SharedTaskDefinitionChanged"
    WORKFLOW_INPUT_CHANGED = "WorkflowInputChanged"
    OUTPUT_MAPPING_CHANGED = "OutputMappingChanged"
    WORKFLOW_SETTINGS_CHANGED = "WorkflowSettingsChanged"
    WORKFLOW_RENAMED = "WorkflowRenamed"


REASON_LEVELS: dict[Reason, Compatibility] = {
    Reason.TASK_APPENDED: SAFE,
    Reason.INPUT_MAPPING_CHANGED: SAFE,
    Reason.WORKFLOW_SETTINGS_CHANGED: SAFE,
    Reason.TASK_INSERTED: CAUTION,
    Reason.TASKS_REORDERED: CAUTION,
    Reason.TASK_TYPE_CHANGED: CAUTION,
    Reason.TASK_DEFINITION_CHANGED: CAUTION,
    # Unclassified task fields (optional, asyncComplete, an inline taskDefinition...): unknown
    # effect on a half-run execution, so drain first rather than call them safe.
    Reason.TASK_SETTINGS_CHANGED: CAUTION,
    Reason.BRANCHING_CHANGED: CAUTION,
    Reason.SUB_WORKFLOW_CHANGED: CAUTION,
    Reason.UNPINNED_SUB_WORKFLOW: CAUTION,
    Reason.SHARED_TASK_DEFINITION_CHANGED: CAUTION,
    Reason.WORKFLOW_INPUT_CHANGED: CAUTION,
    Reason.OUTPUT_MAPPING_CHANGED: CAUTION,
    Reason.TASK_REMOVED: BREAKING,
    Reason.TASK_RENAMED: BREAKING,
    Reason.WORKFLOW_RENAMED: BREAKING,
}

PROPERTY_REASONS = frozenset({Reason.UNPINNED_SUB_WORKFLOW})
"""Reasons about a property of the new version rather than a difference: a finding when the change
brings the property in, a StandingWarning when the old version has it unchanged."""

STRATEGIES = ("parallel", "drain", "upgradeWaves")


@dataclass(frozen=True)
class Finding:
    level: Compatibility
    reason: Reason
    task_ref: str | None
    message: str


def finding(reason: Reason, task_ref: str | None, message: str) -> Finding:
    """A finding at the level its reason weighs."""
    return Finding(REASON_LEVELS[reason], reason, task_ref, message)


@dataclass(frozen=True)
class StandingWarning:
    """A risk the old and the new version share unchanged: shown beside the verdict, never raising it."""

    reason: Reason
    task_ref: str | None
    message: str


@dataclass(frozen=True)
class Verdict:
    level: Compatibility
    findings: tuple[Finding, ...] = ()
    """What the change does; the level is the worst of them."""
    standing_warnings: tuple[StandingWarning, ...] = ()
    """Risks that hold in both versions alike: not part of the change, so not part of the level."""

    def allows(self, strategy: str, *, acknowledged_breaking: bool = False) -> bool:
        """Whether a MigrationPlan may use this strategy for the change.

        parallel and drain leave every running execution on the version it started with, so they
        suit any change. upgradeWaves moves running executions onto the new definition, which a
        breaking change permits only when the user acknowledged it.
        """
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
        if strategy == "upgradeWaves":
            return self.level < BREAKING or acknowledged_breaking
        return True


class InvalidDefinition(ValueError):
    """A definition the comparison cannot read; ``which`` is "old" or "new"."""

    def __init__(self, which: str, problem: str):
        super().__init__(f"the {which} definition is invalid: {problem}")
        self.which = which
        self.problem = problem
