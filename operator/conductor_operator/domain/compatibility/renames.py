"""Telling a renamed task from a removed one and an added one, and keying the new tree by the old refs."""

from __future__ import annotations

from conductor_operator.domain.compatibility.tree import Placed, TaskPath, Tree, task_type


def find_renames(old: Tree, new: Tree) -> dict[str, str]:
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
            if before.get("name") == placed.task.get("name") and task_type(before) == task_type(placed.task):
                candidates.remove(candidate)
                renames[ref] = candidate
                break
    return renames


def _slot(tree: Tree, ref: str, kept: set[str], renames: dict[str, str]) -> tuple:
    placed = tree.tasks[ref]
    earlier = tree.paths[placed.path][:placed.index]
    previous_kept = next((r for r in reversed(earlier) if r in kept), None)
    return _renamed_path(placed.path, renames), previous_kept


def _renamed_path(path: TaskPath, renames: dict[str, str]) -> TaskPath:
    return tuple((renames.get(ref, ref), branch) for ref, branch in path)


def with_old_refs(tree: Tree, renames: dict[str, str]) -> Tree:
    """The tree with renamed tasks known by their old refs, so both trees share one key space."""
    if not renames:
        return tree
    tasks = {renames.get(ref, ref): Placed(p.task, _renamed_path(p.path, renames), p.index, p.position)
             for ref, p in tree.tasks.items()}
    paths = {_renamed_path(path, renames): [renames.get(ref, ref) for ref in refs]
             for path, refs in tree.paths.items()}
    return Tree(tasks, paths)
