"""Pure decisions a MigrationPlan is made of: which versions move, the verdict, when a version drained, and the
planner that walks a plan through its phases (``plan_migration``).

The MigrationPlan shell (reconcile/migration.py, docs/migration-design.md) observes, calls ``plan_migration``
and carries out the actions it returns; nothing here reads a clock (the time is passed in) or does I/O. The
package, by room: ``model`` (phases, reasons, observation, actions, the step), ``phases`` (the phase table),
``validation``, ``gates``, ``drain``, ``waves``, ``rollback``, ``requests``, ``retirement``, ``status``
(how a step ends), ``neighbours`` (other plans), ``strategies`` (one module a strategy) and ``planner``. What
moving an execution involves is in ``domain.waves``.
"""

from conductor_operator.domain.migrations import model as _model
from conductor_operator.domain.migrations.drain import DrainState, drained, record_reading
from conductor_operator.domain.migrations.gates import (
    EPOCH,
    check_correlation_id,
    gate_runs_target,
    gates_digest,
    output_mismatches,
    simple_task_types,
    unrecorded_check,
)
from conductor_operator.domain.migrations.model import *  # noqa: F403
from conductor_operator.domain.migrations.neighbours import (
    older_plans_at_work,
    plans_releasing,
    rival_plan,
    same_cluster,
)
from conductor_operator.domain.migrations.phases import TRANSITIONS, On, UnlistedTransition
from conductor_operator.domain.migrations.planner import plan_migration
from conductor_operator.domain.migrations.retirement import (
    REASON_AWAITING_ACTIVATION,
    REASON_RETIRED,
    REASON_RETIRED_RUNNING,
    definition_hold,
    plans_retiring,
    record_retirement,
)
from conductor_operator.domain.migrations.status import at_rest, counts_due
from conductor_operator.domain.migrations.strategies import mover_for, moves_executions
from conductor_operator.domain.migrations.validation import PlanVerdict, plan_verdict, versions_to_move
from conductor_operator.domain.migrations.waves import reads_candidates

__all__ = [  # noqa: PLE0604 (the vocabulary of model, then the rest)
    *_model.__all__,
    "EPOCH", "REASON_AWAITING_ACTIVATION", "REASON_RETIRED", "REASON_RETIRED_RUNNING", "TRANSITIONS",
    "DrainState", "On", "PlanVerdict", "UnlistedTransition", "at_rest", "check_correlation_id", "counts_due",
    "definition_hold", "drained", "gate_runs_target", "gates_digest", "moves_executions", "mover_for",
    "older_plans_at_work", "output_mismatches", "plan_migration", "plan_verdict", "plans_releasing",
    "plans_retiring", "record_reading", "record_retirement", "reads_candidates", "rival_plan", "same_cluster",
    "simple_task_types", "unrecorded_check", "versions_to_move"
]
