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
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum, StrEnum
from functools import total_ordering


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


def compare(old: dict, new: dict, *, changed_task_defs: Iterable[str] = ()) -> Verdict:
    """The verdict on moving from ``old`` to ``new``.

    ``changed_task_defs`` names task definitions changed along with the workflow: they are global
    in Conductor, so their change reaches running executions of every version.
    Raises InvalidDefinition when a definition's task tree cannot be read.
    """
    if isinstance(changed_task_defs, str):
        changed_task_defs = [changed_task_defs]
    old_tree = _tree(old, "old")
    new_tree = _tree(new, "new")
    renames = _find_renames(old_tree, new_tree)
    new_tree = _with_old_refs(new_tree, renames)

    introduced, standing = _properties(old_tree, new_tree)
    task_findings = [
        *_renamed(old_tree, renames),
        *_removed(old_tree, new_tree),
        *_added(old_tree, new_tree),
        *_moved(old_tree, new_tree),
        *_changed(old_tree, new_tree),
        *introduced,
        *_shared_task_definitions(new_tree, set(changed_task_defs)),
    ]
    task_findings.sort(key=lambda placed_finding: placed_finding[0])  # stable: rule order breaks ties
    findings = (*_workflow_findings(old, new), *(finding for _, finding in task_findings))
    return Verdict(max((f.level for f in findings), default=SAFE), findings, standing)


def _finding(reason: Reason, task_ref: str | None, message: str) -> Finding:
    return Finding(REASON_LEVELS[reason], reason, task_ref, message)


# ---- the task tree ----------------------------------------------------------------------------

TaskPath = tuple[tuple[str, str], ...]
"""(parent ref, branch) pairs from the top level down; () is the top level."""


@dataclass(frozen=True)
class _Placed:
    task: dict
    path: TaskPath
    index: int
    position: tuple[int, ...]  # depth-first place in the document; orders the findings


@dataclass(frozen=True)
class _Tree:
    tasks: dict[str, _Placed]  # by taskReferenceName, in document order (parents first)
    paths: dict[TaskPath, list[str]]  # the refs of each path, in order


def _show(path: TaskPath) -> str:
    return "tasks" + "".join(f"/{ref}.{branch}" for ref, branch in path)


def _task_list(value, which: str, where: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidDefinition(which, f"{where} must be a list of tasks")
    return value


def _branches(task: dict, which: str, where: str) -> Iterator[tuple[str, list]]:
    cases = task.get("decisionCases") or {}
    if not isinstance(cases, dict):
        raise InvalidDefinition(which, f"{where}.decisionCases must map case values to task lists")
    for case, tasks in cases.items():
        yield f"decisionCases[{case}]", _task_list(tasks, which, f"{where}.decisionCases[{case}]")
    yield "defaultCase", _task_list(task.get("defaultCase"), which, f"{where}.defaultCase")
    for number, tasks in enumerate(_task_list(task.get("forkTasks"), which, f"{where}.forkTasks")):
        yield f"forkTasks[{number}]", _task_list(tasks, which, f"{where}.forkTasks[{number}]")
    yield "loopOver", _task_list(task.get("loopOver"), which, f"{where}.loopOver")


def _check_fields(task: dict, which: str, where: str) -> None:
    for key, kind, shape in (("subWorkflowParam", dict, "an object"), ("joinOn", list, "a list of task references")):
        if task.get(key) is not None and not isinstance(task[key], kind):
            raise InvalidDefinition(which, f"{where}.{key} must be {shape}")


def _tree(definition: dict, which: str) -> _Tree:
    if not isinstance(definition, dict):
        raise InvalidDefinition(which, "it is not a JSON object")
    tasks: dict[str, _Placed] = {}
    paths: dict[TaskPath, list[str]] = {}

    def walk(task_list: list, path: TaskPath, position: tuple[int, ...]) -> None:
        paths[path] = []
        for index, task in enumerate(task_list):
            where = f"{_show(path)}[{index}]"
            ref = task.get("taskReferenceName") if isinstance(task, dict) else None
            if not isinstance(ref, str) or not ref:
                raise InvalidDefinition(which, f"{where} has no taskReferenceName")
            if ref in tasks:
                raise InvalidDefinition(which, f"taskReferenceName {ref!r} is used more than once")
            _check_fields(task, which, f"{_show(path)}/{ref}")
            here = (*position, index)
            tasks[ref] = _Placed(task, path, index, here)
            paths[path].append(ref)
            for rank, (branch, nested) in enumerate(_branches(task, which, f"{_show(path)}/{ref}")):
                walk(nested, (*path, (ref, branch)), (*here, rank))

    walk(_task_list(definition.get("tasks"), which, "tasks"), (), ())
    return _Tree(tasks, paths)


def _task_type(task: dict) -> str:
    return task.get("type") or "SIMPLE"


def _find_renames(old: _Tree, new: _Tree) -> dict[str, str]:
    """New ref -> old ref, for tasks that look renamed.

    A removed and an added task look like one renamed task when they sit in the same slot (the same
    path, after the same surviving task) and run the same task name and type. New tasks are visited
    parents first, so a renamed parent is known before its children's paths are compared.
    """
    kept = old.tasks.keys() & new.tasks.keys()
    removed_by_slot: dict[tuple, list[str]] = {}
    for ref in old.tasks:
        if ref not in kept:
            removed_by_slot.setdefault(_slot(old, ref, kept, {}), []).append(ref)
    renames: dict[str, str] = {}
    for ref, placed in new.tasks.items():
        if ref in kept:
            continue
        candidates = removed_by_slot.get(_slot(new, ref, kept, renames), [])
        for candidate in candidates:
            before = old.tasks[candidate].task
            if before.get("name") == placed.task.get("name") and _task_type(before) == _task_type(placed.task):
                candidates.remove(candidate)
                renames[ref] = candidate
                break
    return renames


def _slot(tree: _Tree, ref: str, kept: set[str], renames: dict[str, str]) -> tuple:
    placed = tree.tasks[ref]
    earlier = tree.paths[placed.path][:placed.index]
    previous_kept = next((r for r in reversed(earlier) if r in kept), None)
    return _renamed_path(placed.path, renames), previous_kept


def _renamed_path(path: TaskPath, renames: dict[str, str]) -> TaskPath:
    return tuple((renames.get(ref, ref), branch) for ref, branch in path)


def _with_old_refs(tree: _Tree, renames: dict[str, str]) -> _Tree:
    """The tree with renamed tasks known by their old refs, so both trees share one key space."""
    if not renames:
        return tree
    tasks = {renames.get(ref, ref): _Placed(p.task, _renamed_path(p.path, renames), p.index, p.position)
             for ref, p in tree.tasks.items()}
    paths = {_renamed_path(path, renames): [renames.get(ref, ref) for ref in refs]
             for path, refs in tree.paths.items()}
    return _Tree(tasks, paths)


def _inside(path: TaskPath, refs) -> bool:
    return any(ref in refs for ref, _ in path)


def _task_with_nested(tree: _Tree, ref: str, among: set[str]) -> str:
    """"Task 'x'", naming how many of ``among`` sit inside it."""
    count = sum(1 for nested, placed in tree.tasks.items() if nested in among and _inside(placed.path, {ref}))
    if not count:
        return f"Task {ref!r}"
    return f"Task {ref!r} (with {count} nested task{'' if count == 1 else 's'})"


# ---- findings on tasks, each with its place in the document ------------------------------------

_Located = tuple[tuple[int, ...], Finding]


def _renamed(old: _Tree, renames: dict[str, str]) -> Iterator[_Located]:
    for new_ref, old_ref in renames.items():
        placed = old.tasks[old_ref]
        yield placed.position, _finding(
            Reason.TASK_RENAMED, old_ref,
            f"Task {old_ref!r} in {_show(placed.path)} is renamed to {new_ref!r}: executions record their tasks "
            f"by taskReferenceName, so a moved execution loses the record of {old_ref!r}.")


def _removed(old: _Tree, new: _Tree) -> Iterator[_Located]:
    gone = old.tasks.keys() - new.tasks.keys()
    for ref, placed in old.tasks.items():
        if ref in gone and not _inside(placed.path, gone):
            yield placed.position, _finding(
                Reason.TASK_REMOVED, ref,
                f"{_task_with_nested(old, ref, gone)} is removed from {_show(placed.path)}: executions "
                f"that ran or are running it cannot be moved onto a definition without it.")


def _added(old: _Tree, new: _Tree) -> Iterator[_Located]:
    fresh = new.tasks.keys() - old.tasks.keys()
    for ref, placed in new.tasks.items():
        if ref not in fresh or _inside(placed.path, fresh):
            continue
        later = new.paths[placed.path][placed.index + 1:]
        next_existing = next((r for r in later if r in old.tasks), None)
        what = _task_with_nested(new, ref, fresh)
        if next_existing is None:
            yield placed.position, _finding(
                Reason.TASK_APPENDED, ref,
                f"{what} is appended at the end of {_show(placed.path)}, after every existing task.")
        else:
            yield placed.position, _finding(
                Reason.TASK_INSERTED, ref,
                f"{what} is inserted before {next_existing!r} in {_show(placed.path)}: executions moved past "
                f"that point never run it.")


def _moved(old: _Tree, new: _Tree) -> Iterator[_Located]:
    for ref, placed in new.tasks.items():
        before = old.tasks.get(ref)
        if before is not None and before.path != placed.path:
            yield placed.position, _finding(
                Reason.TASKS_REORDERED, ref,
                f"Task {ref!r} moved from {_show(before.path)} to {_show(placed.path)}: an execution may have "
                f"passed it in one place and meet it again, or never, in the other.")
    for path, refs in new.paths.items():
        old_refs = old.paths.get(path, [])
        new_order = [ref for ref in refs if ref in old_refs]
        old_order = [ref for ref in old_refs if ref in new_order]
        if new_order == old_order:
            continue
        steady = _longest_common_subsequence(old_order, new_order)
        for ref in new_order:
            if ref not in steady:
                yield new.tasks[ref].position, _finding(
                    Reason.TASKS_REORDERED, ref,
                    f"Task {ref!r} changed its place in {_show(path)}: the order was {', '.join(old_order)} "
                    f"and is now {', '.join(new_order)}.")


def _longest_common_subsequence(first: list[str], second: list[str]) -> set[str]:
    """The refs that kept their relative order; the others are the ones that moved."""
    lengths = [[0] * (len(second) + 1) for _ in range(len(first) + 1)]
    for i, a in enumerate(first):
        for j, b in enumerate(second):
            lengths[i + 1][j + 1] = lengths[i][j] + 1 if a == b else max(lengths[i][j + 1], lengths[i + 1][j])
    kept, i, j = set(), len(first), len(second)
    while i and j:
        if first[i - 1] == second[j - 1]:
            kept.add(first[i - 1])
            i, j = i - 1, j - 1
        elif lengths[i - 1][j] >= lengths[i][j - 1]:
            i -= 1
        else:
            j -= 1
    return kept


# Task keys with a rule of their own, or that do not matter to executions.
_COMPARED_ELSEWHERE = frozenset({
    "name", "taskReferenceName", "type", "description", "inputParameters", "subWorkflowParam",
    "decisionCases", "defaultCase", "forkTasks", "loopOver", "joinOn", "loopCondition",
    "evaluatorType", "expression", "caseValueParam", "caseExpression",
})
# What Conductor fills in for a task field left out, so a server copy equals the file it came from.
_TASK_DEFAULTS = {"startDelay": 0}
_BRANCHING_KEYS = ("evaluatorType", "expression", "caseValueParam", "caseExpression", "loopCondition")


def _changed(old: _Tree, new: _Tree) -> Iterator[_Located]:
    for ref, placed in new.tasks.items():
        if ref not in old.tasks:
            continue
        before, after = old.tasks[ref].task, placed.task
        for finding in _task_changes(ref, before, after):
            yield placed.position, finding


def _task_changes(ref: str, before: dict, after: dict) -> Iterator[Finding]:
    if _task_type(before) != _task_type(after):
        yield _finding(Reason.TASK_TYPE_CHANGED, ref,
                       f"Task {ref!r} changed type from {_task_type(before)} to {_task_type(after)}: an execution "
                       f"moved while it runs or after it ran holds state the new type may not understand.")
    if before.get("name") != after.get("name"):
        yield _finding(Reason.TASK_DEFINITION_CHANGED, ref,
                       f"Task {ref!r} now runs task definition {after.get('name')!r} instead of "
                       f"{before.get('name')!r}, with that definition's workers, retries and timeouts.")
    branching = _branching_changes(before, after)
    if branching:
        yield _finding(Reason.BRANCHING_CHANGED, ref,
                       f"The branching of task {ref!r} changed ({'; '.join(branching)}): executions that "
                       f"already chose a branch may not match the new structure.")
    if _differs(before.get("subWorkflowParam"), after.get("subWorkflowParam")):
        old_child, new_child = _child(before), _child(after)
        yield _finding(Reason.SUB_WORKFLOW_CHANGED, ref,
                       f"Task {ref!r} now starts {new_child} instead of {old_child}." if old_child != new_child
                       else f"Task {ref!r} changed how it starts {new_child}.")
    inputs = _changed_keys(before.get("inputParameters"), after.get("inputParameters"))
    if inputs:
        yield _finding(Reason.INPUT_MAPPING_CHANGED, ref,
                       f"The input parameters of task {ref!r} changed ({', '.join(inputs)}); they are resolved "
                       f"when the task starts, so only tasks that have not started yet see the change.")
    settings = [key for key in _changed_keys(before, after, _TASK_DEFAULTS) if key not in _COMPARED_ELSEWHERE]
    if settings:
        yield _finding(Reason.TASK_SETTINGS_CHANGED, ref,
                       f"Task {ref!r} changed {', '.join(settings)}, which may change how a half-run "
                       f"execution continues.")


def _branching_changes(before: dict, after: dict) -> list[str]:
    changes = [f"{key} changed" for key in _BRANCHING_KEYS if _differs(before.get(key), after.get(key))]
    old_cases = [str(case) for case in before.get("decisionCases") or {}]
    new_cases = [str(case) for case in after.get("decisionCases") or {}]
    changes += [f"case {case!r} added" for case in new_cases if case not in old_cases]
    changes += [f"case {case!r} removed" for case in old_cases if case not in new_cases]
    old_forks, new_forks = len(before.get("forkTasks") or []), len(after.get("forkTasks") or [])
    if old_forks != new_forks:
        changes.append(f"fork branches went from {old_forks} to {new_forks}")
    old_join, new_join = before.get("joinOn") or [], after.get("joinOn") or []
    if sorted(map(str, old_join)) != sorted(map(str, new_join)):
        changes.append(f"joinOn went from [{', '.join(map(str, old_join))}] to [{', '.join(map(str, new_join))}]")
    return changes


def _child(task: dict) -> str:
    param = task.get("subWorkflowParam") or {}
    if param.get("workflowDefinition"):
        return "an inline sub-workflow definition"
    version = param.get("version")
    return f"sub-workflow {param.get('name')!r} " + (f"version {version}" if version else "at its latest version")


def _shared_task_definitions(new: _Tree, changed: set[str]) -> Iterator[_Located]:
    users: dict[str, list[str]] = {}
    for ref, placed in new.tasks.items():
        name = placed.task.get("name")
        if isinstance(name, str) and name in changed:
            users.setdefault(name, []).append(ref)
    for name, refs in users.items():
        yield new.tasks[refs[0]].position, _finding(
            Reason.SHARED_TASK_DEFINITION_CHANGED, refs[0],
            f"Task definition {name!r} (used by {', '.join(refs)}) changed: task definitions are global in "
            f"Conductor, so the change also reaches running executions of every version.")


# ---- properties of a version: a finding when the change brings them in --------------------------

def _properties(old: _Tree, new: _Tree) -> tuple[list[_Located], tuple[StandingWarning, ...]]:
    """Findings for the properties the change brought in; standing warnings for those old had alike.

    A property holds at a task (by its ref, renames followed) with a detail, such as the sub-workflow
    it starts; it is unchanged when the old version's task of that ref has it with the same detail.
    """
    introduced: list[_Located] = []
    standing: list[tuple[tuple[int, ...], StandingWarning]] = []
    for reason, holds, describe in _PROPERTY_RULES:
        before = holds(old)
        for ref, detail in holds(new).items():
            unchanged = ref in before and before[ref] == detail
            message = describe(ref, detail, unchanged)
            if unchanged:
                standing.append((new.tasks[ref].position, StandingWarning(reason, ref, message)))
            else:
                introduced.append((new.tasks[ref].position, _finding(reason, ref, message)))
    standing.sort(key=lambda placed_warning: placed_warning[0])
    return introduced, tuple(warning for _, warning in standing)


def _unpinned_sub_workflows(tree: _Tree) -> dict[str, str | None]:
    """Task ref -> the sub-workflow it starts with no pinned version (so at whatever version is latest)."""
    unpinned: dict[str, str | None] = {}
    for ref, placed in tree.tasks.items():
        param = placed.task.get("subWorkflowParam") or {}
        if _task_type(placed.task) != "SUB_WORKFLOW" or param.get("workflowDefinition") or param.get("version"):
            continue
        unpinned[ref] = param.get("name")
    return unpinned


def _unpinned_text(ref: str, child: str | None, unchanged: bool) -> str:
    floats = f"so it runs whatever version of {child!r} is the latest when the task starts"
    if unchanged:
        return (f"Task {ref!r} starts sub-workflow {child!r} with no pinned version in the old version and the new "
                f"alike, {floats}; this change does not alter that (pin subWorkflowParam.version to end it).")
    return f"Task {ref!r} now starts sub-workflow {child!r} with no pinned version, {floats}."


_PROPERTY_RULES = ((Reason.UNPINNED_SUB_WORKFLOW, _unpinned_sub_workflows, _unpinned_text),)


# ---- findings on the workflow as a whole -------------------------------------------------------

_WORKFLOW_KEYS_COMPARED_ELSEWHERE = frozenset({
    "name", "tasks", "inputParameters", "inputSchema", "outputParameters",
    # identity, bookkeeping and prose: no effect on executions
    "version", "description", "ownerEmail", "createTime", "updateTime", "createdBy", "updatedBy", "ownerApp",
})
_WORKFLOW_DEFAULTS = {"schemaVersion": 2, "restartable": True, "timeoutPolicy": "ALERT_ONLY", "timeoutSeconds": 0,
                      "enforceSchema": True}  # as Conductor 3.32 fills them in


def _workflow_findings(old: dict, new: dict) -> Iterator[Finding]:
    if old.get("name") != new.get("name"):
        yield _finding(Reason.WORKFLOW_RENAMED, None,
                       f"The workflow is renamed from {old.get('name')!r} to {new.get('name')!r}: to Conductor "
                       f"that is another workflow, which no execution of the old one can move to.")
    old_inputs, new_inputs = _input_names(old, "old"), _input_names(new, "new")
    for name in new_inputs:
        if name not in old_inputs:
            yield _finding(Reason.WORKFLOW_INPUT_CHANGED, None,
                           f"Workflow input {name!r} is new: callers of the old version and executions "
                           f"started by them do not send it.")
    for name in old_inputs:
        if name not in new_inputs:
            yield _finding(Reason.WORKFLOW_INPUT_CHANGED, None,
                           f"Workflow input {name!r} is no longer declared, but old callers may still send it "
                           f"and tasks may still read it.")
    if _differs(old.get("inputSchema"), new.get("inputSchema")):
        yield _finding(Reason.WORKFLOW_INPUT_CHANGED, None,
                       "The workflow's inputSchema changed: input that suits the old version may not suit the new.")
    outputs = _changed_keys(old.get("outputParameters"), new.get("outputParameters"))
    if outputs:
        yield _finding(Reason.OUTPUT_MAPPING_CHANGED, None,
                       f"The workflow's output mapping changed ({', '.join(outputs)}): whoever reads the output "
                       f"may find fields new, missing or different.")
    settings = [key for key in _changed_keys(old, new, _WORKFLOW_DEFAULTS)
                if key not in _WORKFLOW_KEYS_COMPARED_ELSEWHERE]
    if settings:
        yield _finding(Reason.WORKFLOW_SETTINGS_CHANGED, None,
                       f"The workflow's {', '.join(settings)} changed; moved executions run under the new "
                       f"settings.")


def _input_names(definition: dict, which: str) -> list[str]:
    names = definition.get("inputParameters") or []
    if not isinstance(names, list):
        raise InvalidDefinition(which, "inputParameters must be a list of input names")
    return [str(name) for name in names]


# ---- value comparison --------------------------------------------------------------------------

def _unset(value) -> bool:
    """Left out, or Conductor's empty default: a server copy says false, {} or [] where a file says nothing."""
    return value is None or value is False or (isinstance(value, str | list | dict) and not value)


def _differs(before, after) -> bool:
    return not (_unset(before) and _unset(after)) and before != after


def _changed_keys(before, after, defaults: dict | None = None) -> list[str]:
    """Keys whose value differs, in first-seen order; an unset value equals a missing one."""
    before = {} if before is None else before
    after = {} if after is None else after
    if not (isinstance(before, dict) and isinstance(after, dict)):
        return ["the whole mapping"] if before != after else []
    defaults = defaults or {}
    keys = [*before, *(key for key in after if key not in before)]
    return [str(key) for key in keys
            if _differs(before.get(key, defaults.get(key)), after.get(key, defaults.get(key)))]
