"""Findings on where tasks stand: renamed, removed, added, moved; each with its place in the document."""

from __future__ import annotations

from collections.abc import Iterator

from conductor_operator.domain.compatibility.tree import Located, Tree, inside, show, task_with_nested
from conductor_operator.domain.compatibility.verdict import Reason, finding


def renamed(old: Tree, renames: dict[str, str]) -> Iterator[Located]:
    for new_ref, old_ref in renames.items():
        placed = old.tasks[old_ref]
        yield placed.position, finding(
            Reason.TASK_RENAMED, old_ref,
            f"Task {old_ref!r} in {show(placed.path)} is renamed to {new_ref!r}: executions record their tasks "
            f"by taskReferenceName, so a moved execution loses the record of {old_ref!r}.")


def removed(old: Tree, new: Tree) -> Iterator[Located]:
    gone = old.tasks.keys() - new.tasks.keys()
    for ref, placed in old.tasks.items():
        if ref in gone and not inside(placed.path, gone):
            yield placed.position, finding(
                Reason.TASK_REMOVED, ref,
                f"{task_with_nested(old, ref, gone)} is removed from {show(placed.path)}: executions "
                f"that ran or are running it cannot be moved onto a definition without it.")


def added(old: Tree, new: Tree) -> Iterator[Located]:
    fresh = new.tasks.keys() - old.tasks.keys()
    for ref, placed in new.tasks.items():
        if ref not in fresh or inside(placed.path, fresh):
            continue
        later = new.paths[placed.path][placed.index + 1:]
        next_existing = next((r for r in later if r in old.tasks), None)
        what = task_with_nested(new, ref, fresh)
        if next_existing is None:
            yield placed.position, finding(
                Reason.TASK_APPENDED, ref,
                f"{what} is appended at the end of {show(placed.path)}, after every existing task.")
        else:
            yield placed.position, finding(
                Reason.TASK_INSERTED, ref,
                f"{what} is inserted before {next_existing!r} in {show(placed.path)}: executions moved past "
                f"that point never run it.")


def moved(old: Tree, new: Tree) -> Iterator[Located]:
    for ref, placed in new.tasks.items():
        before = old.tasks.get(ref)
        if before is not None and before.path != placed.path:
            yield placed.position, finding(
                Reason.TASKS_REORDERED, ref,
                f"Task {ref!r} moved from {show(before.path)} to {show(placed.path)}: an execution may have "
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
                yield new.tasks[ref].position, finding(
                    Reason.TASKS_REORDERED, ref,
                    f"Task {ref!r} changed its place in {show(path)}: the order was {', '.join(old_order)} "
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
