"""How safe it is to move from one version of a workflow definition to another.

Every Conductor execution keeps its own snapshot of the definition, so registering a new version
never changes running executions by itself. What can hurt is moving them (Orkes' upgrade, or a
restart on the latest definition) and running old and new side by side. `compare` sorts each
difference between two definitions into SAFE, CAUTION (drain first) or BREAKING (migrate
explicitly), following "The rules of change" in the design notes.

Tasks are matched by taskReferenceName, the key under which executions record their tasks. The
task tree is seen as paths: the ordered task list at one level (the top level, a SWITCH case, a
fork branch, a loop body), written like ``tasks/route.decisionCases[big]``.

The verdict describes the change, not the new version. Nearly every rule compares old with new, so
its finding is a difference. A few rules look at a property of one version (PROPERTY_REASONS: a
sub-workflow started with no pinned version); such a property becomes a finding only when the change
brings it in. When the old version has it just the same, it is a StandingWarning: shown beside the
verdict, never raising it. A changed shared task definition (``changed_task_defs``) is part of the
change itself, so it is always a finding.

The package, by room: ``verdict`` (levels, reasons, findings, the verdict), ``tree`` (reading the
task tree), ``renames``, ``structure`` (tasks renamed, removed, added, moved), ``task_changes`` (a
kept task changed), ``properties`` (of one version), ``workflow`` (the workflow as a whole) and
``values`` (comparing values as Conductor stores them). It imports only the standard library.
"""

from __future__ import annotations

from collections.abc import Iterable

from conductor_operator.domain.compatibility import verdict as _verdict
from conductor_operator.domain.compatibility.properties import PROPERTY_RULES as _PROPERTY_RULES  # noqa: F401 (tests)
from conductor_operator.domain.compatibility.properties import property_findings
from conductor_operator.domain.compatibility.renames import find_renames, with_old_refs
from conductor_operator.domain.compatibility.structure import added, moved, removed, renamed
from conductor_operator.domain.compatibility.task_changes import changed, shared_task_definitions
from conductor_operator.domain.compatibility.tree import read_tree
from conductor_operator.domain.compatibility.verdict import *  # noqa: F403
from conductor_operator.domain.compatibility.verdict import SAFE, Verdict
from conductor_operator.domain.compatibility.workflow import workflow_findings

__all__ = [*_verdict.__all__, "compare"]  # noqa: PLE0604 (the words of the verdict, then compare)


def compare(old: dict, new: dict, *, changed_task_defs: Iterable[str] = ()) -> Verdict:
    """The verdict on moving from ``old`` to ``new``.

    ``changed_task_defs`` names task definitions changed along with the workflow: they are global
    in Conductor, so their change reaches running executions of every version.
    Raises InvalidDefinition when a definition's task tree cannot be read.
    """
    if isinstance(changed_task_defs, str):
        changed_task_defs = [changed_task_defs]
    old_tree = read_tree(old, "old")
    new_tree = read_tree(new, "new")
    renames = find_renames(old_tree, new_tree)
    new_tree = with_old_refs(new_tree, renames)

    introduced, standing = property_findings(old_tree, new_tree)
    task_findings = [
        *renamed(old_tree, renames),
        *removed(old_tree, new_tree),
        *added(old_tree, new_tree),
        *moved(old_tree, new_tree),
        *changed(old_tree, new_tree),
        *introduced,
        *shared_task_definitions(new_tree, set(changed_task_defs)),
    ]
    task_findings.sort(key=lambda placed_finding: placed_finding[0])  # stable: rule order breaks ties
    findings = (*workflow_findings(old, new), *(finding for _, finding in task_findings))
    return Verdict(max((f.level for f in findings), default=SAFE), findings, standing)
