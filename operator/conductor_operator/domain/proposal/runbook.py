"""The runbook a proposal prints: what will happen, what to watch, how to roll back."""

from __future__ import annotations

from collections.abc import Sequence

from conductor_operator.domain.compatibility import Verdict
from conductor_operator.domain.proposal.model import (
    BY_MIGRATION_PLAN,
    DRAIN,
    RETIRE_AFTER,
    UPGRADE_WAVES,
    Change,
    Trigger,
    Workload,
    _Draft,
    trigger_names,
)

# ---- the runbook ------------------------------------------------------------------------------

def runbook(change: Change, verdict: Verdict, draft: _Draft, workload: Workload | None,
            triggers: Sequence[Trigger] | None, pinned_old: list[Trigger]) -> str:
    plan, new = change.plan_name, f"v{change.new_version}"
    old = change.old_label
    where = f" -n {change.namespace}" if change.namespace else ""
    lines = [f"# {change.workflow}: {old} -> {new} with `{draft.strategy}`", "",
             f"Verdict: **{verdict.level.value}** ({len(verdict.findings)} finding"
             f"{'' if len(verdict.findings) == 1 else 's'}). MigrationPlan `{plan}`, target WorkflowDefinition "
             f"`{change.target_ref}`.", ""]
    lines += [f"- {f.level.value} `{f.reason}`{f' ({f.task_ref})' if f.task_ref else ''}: {f.message}"
              for f in verdict.findings]
    lines += [f"- standing warning `{w.reason}`{f' ({w.task_ref})' if w.task_ref else ''}: {w.message}"
              for w in verdict.standing_warnings]
    lines += ["", "## Why", ""] if verdict.findings or verdict.standing_warnings else ["## Why", ""]
    lines += [f"- **{r.rule}**: {r.why}." for r in draft.rationale]
    if draft.unknowns:
        lines += ["", "## Unknown", "", *(f"- {u}" for u in draft.unknowns)]
    lines += ["", "## Before applying", ""]
    before = []
    if change.target_activation != BY_MIGRATION_PLAN:
        before.append(f"Give WorkflowDefinition `{change.target_ref}` `spec.activation: {BY_MIGRATION_PLAN}`, so "
                      f"{new} is registered only at the cutover.")
    before.append(f"Deploy the workers of {new}'s task types: the Workers gate holds the cutover until each polls.")
    if pinned_old:
        before.append(f"Re-point {trigger_names(pinned_old)} at {new} (or at no version).")
    before.append(f"Commit the MigrationPlan next to `{change.target_ref}` and let GitOps apply both (or "
                  f"`kubectl apply -f`).")
    lines += [f"{i}. {step}" for i, step in enumerate(before, 1)]
    lines += ["", "## What will happen", ""]
    lines += [f"{i}. {step}" for i, step in enumerate(_steps(change, draft), 1)]
    lines += ["", "## What to watch", "",
              f"- `kubectl conductor status {plan}{where}`: phase, running counts per version, gates, "
              + ("drain (time to the deadline, estimated end), paused triggers" if draft.strategy == DRAIN else
                 "waves (moved, ineligible, failed) and the health gate" if draft.strategy == UPGRADE_WAVES else
                 "the drain of the old versions") + ".",
              f"- `kubectl get mp {plan}{where} -w`: PHASE, OLD and NEW counts.",
              "- Conditions: `GatesPassed` (False: a worker or check is missing), `CutOver`, `Drained`; `Stalled` "
              "True means a person must act; `Warning` names TargetNotHighestVersion, TriggerPinsOldVersion"
              + (", DrainDeadlinePassed" if draft.strategy == DRAIN else "")
              + (", HealthGateFailed, WaveSelectedNothing" if draft.strategy == UPGRADE_WAVES else "") + "."]
    if draft.strategy == DRAIN:
        lines.append("- Direct API starts are not paused: if callers keep starting the old version, it never "
                     f"drains; `kubectl conductor promote {plan}{where}` cuts over at once.")
    lines += ["", "## How to roll back", ""]
    lines += [f"- {step}" for step in _rollback(change, draft, where)]
    return "\n".join(lines) + "\n"


def _steps(change: Change, draft: _Draft) -> list[str]:
    new, old = f"v{change.new_version}", change.old_label
    gates = f"Gating: every SIMPLE task type of {new} has a polling worker."
    if draft.strategy == DRAIN:
        return [gates,
                f"Draining: the event handlers and schedules that start {change.workflow} are paused; {old}'s "
                f"running executions are counted until none is left (deadline {draft.settings['deadline']}, then a "
                f"Warning and more waiting).",
                f"Cutover: {new} is registered (unpinned starts go to it) and the triggers are resumed.",
                "Completed."]
    if draft.strategy == UPGRADE_WAVES:
        steps = ", ".join(f"{s['percent']}%" for s in draft.settings["steps"])
        return [gates, f"Cutover: {new} is registered; unpinned starts go to it.",
                f"Canary: the {draft.settings['canary']['count']} oldest running execution(s) of {old} move to "
                f"{new} (on Conductor OSS: terminated and restarted, every task runs again); the health gate "
                f"watches them for {draft.settings['healthGate']['window']}.",
                f"Waves: {steps} of {old}'s executions moved, each followed by the health gate; executions on a "
                f"task {new} lacks are not moved (listed as ineligible).",
                f"Draining, then Completed: whatever was not moved finishes on {old}."]
    retire = (f" Retiring: {RETIRE_AFTER} after the drain, {old} is deleted from Conductor if nothing runs on it."
              if draft.settings.get("retireOldVersions") else "")
    return [gates, f"Cutover: {new} is registered; unpinned starts go to it, pinned callers keep their version.",
            f"Draining: {old}'s executions finish where they are; they are counted until none is left.{retire}",
            "Completed."]


def _rollback(change: Change, draft: _Draft, where: str) -> list[str]:
    plan = change.plan_name
    steps = [f"Before the cutover: `kubectl conductor abort {plan}{where}` stops the plan; {change.old_label} stays "
             f"the version that runs" + (", and the paused triggers are resumed." if draft.strategy == DRAIN
                                         else ".")]
    moved = (" and moves the executions it moved that still run back to it" if draft.strategy == UPGRADE_WAVES
             else "")
    steps.append(f"After the cutover: `kubectl conductor rollback {plan}{where}` registers the old content as a new "
                 f"highest version, so unpinned starts run the old behaviour again{moved}; executions started on "
                 f"v{change.new_version} finish there.")
    if draft.strategy == UPGRADE_WAVES:
        steps.append(f"A failed health gate pauses the plan (onGateFailure: Pause): `kubectl conductor promote "
                     f"{plan}{where}` goes on, rollback moves back.")
    steps.append("Under GitOps, commit the request the command prints, or the next sync undoes it.")
    return steps
