"""Properties of one version (PROPERTY_REASONS): a finding when the change brings them in, a standing
warning when the old version has them just the same."""

from __future__ import annotations

from conductor_operator.domain.compatibility.tree import Located, Tree, task_type
from conductor_operator.domain.compatibility.verdict import Reason, StandingWarning, finding


def property_findings(old: Tree, new: Tree) -> tuple[list[Located], tuple[StandingWarning, ...]]:
    """Findings for the properties the change brought in; standing warnings for those old had alike.

    A property holds at a task (by its ref, renames followed) with a detail, such as the sub-workflow
    it starts; it is unchanged when the old version's task of that ref has it with the same detail.
    """
    introduced: list[Located] = []
    standing: list[tuple[tuple[int, ...], StandingWarning]] = []
    for reason, holds, describe in PROPERTY_RULES:
        before = holds(old)
        for ref, detail in holds(new).items():
            unchanged = ref in before and before[ref] == detail
            message = describe(ref, detail, unchanged)
            if unchanged:
                standing.append((new.tasks[ref].position, StandingWarning(reason, ref, message)))
            else:
                introduced.append((new.tasks[ref].position, finding(reason, ref, message)))
    standing.sort(key=lambda placed_warning: placed_warning[0])
    return introduced, tuple(warning for _, warning in standing)


def _unpinned_sub_workflows(tree: Tree) -> dict[str, str | None]:
    """Task ref -> the sub-workflow it starts with no pinned version (so at whatever version is latest)."""
    unpinned: dict[str, str | None] = {}
    for ref, placed in tree.tasks.items():
        param = placed.task.get("subWorkflowParam") or {}
        if task_type(placed.task) != "SUB_WORKFLOW" or param.get("workflowDefinition") or param.get("version"):
            continue
        unpinned[ref] = param.get("name")
    return unpinned


def _unpinned_text(ref: str, child: str | None, unchanged: bool) -> str:
    floats = f"so it runs whatever version of {child!r} is the latest when the task starts"
    if unchanged:
        return (f"Task {ref!r} starts sub-workflow {child!r} with no pinned version in the old version and the new "
                f"alike, {floats}; this change does not alter that (pin subWorkflowParam.version to end it).")
    return f"Task {ref!r} now starts sub-workflow {child!r} with no pinned version, {floats}."


PROPERTY_RULES = ((Reason.UNPINNED_SUB_WORKFLOW, _unpinned_sub_workflows, _unpinned_text),)
"""(reason, the tasks of a tree that have the property with its detail, the message): one per PROPERTY_REASONS."""
