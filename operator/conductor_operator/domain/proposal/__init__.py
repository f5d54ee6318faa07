"""Propose a MigrationPlan for a change: a strategy, the rules that chose it (each with its reason), the manifest
to commit and a short runbook. Pure: the caller reads the verdict, the running executions and the triggers.

What the rules weigh, in Conductor's terms: every execution keeps the definition it started with, so leaving
executions where they are (parallel, drain) is always possible; what differs is whether both versions may run
side by side (Safe: yes; Caution: better not, so drain), whether waiting for the old ones costs too much (a drain
pauses the triggers that start the workflow all along), and whether moving executions is allowed at all (on
Conductor OSS a move re-runs every task, so only with workers that tolerate it; never silently across a
Breaking change).
"""

from __future__ import annotations

from conductor_operator.domain.proposal.model import (
    API_VERSION,
    BY_MIGRATION_PLAN,
    DEADLINE_FLOOR,
    DEADLINE_MARGIN,
    DRAIN,
    LONG_RUN,
    MANY_RUNS,
    MAX_TRIGGER_PAUSE,
    PARALLEL,
    PERCENTILE,
    RETIRE_AFTER,
    UNKNOWN_DEADLINE,
    UPGRADE_WAVES,
    Change,
    Proposal,
    Rationale,
    Running,
    Trigger,
    Workload,
    deadline_text,
    duration_text,
    percentile,
    summarize,
)
from conductor_operator.domain.proposal.rules import (
    propose,
)
from conductor_operator.domain.proposal.runbook import (
    runbook,
)

__all__ = [
    "API_VERSION", "BY_MIGRATION_PLAN", "DEADLINE_FLOOR", "DEADLINE_MARGIN", "DRAIN", "LONG_RUN", "MANY_RUNS",
    "MAX_TRIGGER_PAUSE", "PARALLEL", "PERCENTILE", "RETIRE_AFTER", "UNKNOWN_DEADLINE", "UPGRADE_WAVES", "Change",
    "Proposal", "Rationale", "Running", "Trigger", "Workload", "deadline_text", "duration_text", "percentile",
    "summarize", "propose", "runbook",
]
