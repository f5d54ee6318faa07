"""The rules that choose a strategy for a change, each recorded with its reason, and the manifest they give."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from conductor_operator.domain.compatibility import BREAKING, CAUTION, SAFE, Verdict
from conductor_operator.domain.proposal.model import (
    API_VERSION,
    BY_MIGRATION_PLAN,
    DEADLINE_MARGIN,
    DRAIN,
    MANY_RUNS,
    MAX_TRIGGER_PAUSE,
    PARALLEL,
    PERCENTILE,
    RETIRE_AFTER,
    UNKNOWN_DEADLINE,
    UPGRADE_WAVES,
    Change,
    Proposal,
    Running,
    Trigger,
    Workload,
    _Draft,
    deadline_text,
    duration_text,
    summarize,
    trigger_names,
)
from conductor_operator.domain.proposal.runbook import (
    runbook,
)

# ---- the decision ---------------------------------------------------------------------------------

def propose(change: Change, verdict: Verdict, running: Sequence[Running] | None, triggers: Sequence[Trigger] | None,
            *, workers_idempotent: bool = False, max_trigger_pause: timedelta = MAX_TRIGGER_PAUSE) -> Proposal:
    """The proposal for moving ``change.workflow`` to ``change.new_version``.

    ``running``: every version's running executions, None when unknown (not read from the cluster);
    ``triggers``: the active event handlers and schedules that start the workflow, None when unknown.
    """
    draft = _Draft()
    workload = summarize(change, running) if running is not None else None
    if workload is None:
        draft.unknowns.append("the running executions and their ages (pass --from-cluster to read them): the "
                              "proposal assumes some run, for an unknown time")
    if triggers is None:
        draft.unknowns.append("the event handlers and schedules that start the workflow (pass --from-cluster): "
                              "none is paused or checked for a pinned version")
    pinned_old = [t for t in triggers or () if t.pinned_version is not None and change.moves_from(t.pinned_version)]
    level = verdict.level
    if level is SAFE:
        _safe(draft, change, workload)
    elif level is CAUTION:
        _caution(draft, change, workload, triggers, workers_idempotent, max_trigger_pause)
    else:
        _breaking(draft, change, verdict, workload, workers_idempotent)
    if draft.strategy == PARALLEL:
        _retirement(draft, change, triggers, pinned_old)
    _trigger_rules(draft, change, triggers, pinned_old)
    _other_rules(draft, change, verdict, workload)
    manifest = _manifest(change, draft)
    return Proposal(draft.strategy, tuple(draft.rationale), tuple(draft.unknowns), manifest,
                    runbook(change, verdict, draft, workload, triggers, pinned_old))


def _safe(draft: _Draft, change: Change, workload: Workload | None) -> None:
    draft.rule("SafeRunsSideBySide", f"the verdict is Safe: executions of {change.old_label} can finish where they "
                                     f"are while new ones start on v{change.new_version}; nothing needs pausing or "
                                     f"moving, so parallel")
    if workload is None:
        return
    if workload.count == 0:
        draft.rule("NothingRunning", f"{workload.describe(change.old_label)}: the plan drains as soon as the count "
                                     f"reads zero a few times")
    elif workload.p95_age is None:
        draft.rule("StartTimesUnknown", f"{workload.describe(change.old_label)}: they finish where they are, "
                                        f"however long they take")
    elif workload.long:
        draft.rule("LongRunsFinishWhereTheyAre", f"{workload.describe(change.old_label)}: parallel lets them finish "
                                                 f"on their version instead of holding the cutover for them")
    else:
        draft.rule("ShortRunsDrainSoon", f"{workload.describe(change.old_label)}: they likely end within "
                                         f"{duration_text(workload.expected_drain)}")


def _caution(draft: _Draft, change: Change, workload: Workload | None, triggers: Sequence[Trigger] | None,
             workers_idempotent: bool, max_trigger_pause: timedelta) -> None:
    intro = ("the verdict is Caution: the versions differ in ways that matter when both run side by side "
             "(see the findings)")
    if workload is None:
        draft.strategy = DRAIN
        draft.settings = {"deadline": deadline_text(UNKNOWN_DEADLINE), "onDeadline": "Wait", "pauseTriggers": True}
        draft.rule("CautionDrains", f"{intro}; drain finishes the old executions before v{change.new_version} is "
                                    f"registered")
        draft.rule("DeadlineUnknownAges", f"the ages of running executions are unknown: a long deadline "
                                          f"({draft.settings['deadline']}), and onDeadline Wait only warns when "
                                          f"it passes")
        return
    drain_takes = workload.expected_drain
    active = list(triggers or ())
    if workload.count and active and drain_takes > max_trigger_pause:
        paused_for = (f"a drain would pause {len(active)} trigger{'s' if len(active) != 1 else ''} for about "
                      f"{duration_text(drain_takes)} ({workload.describe(change.old_label)}), longer than "
                      f"{duration_text(max_trigger_pause)} (--max-trigger-pause); while paused, schedules skip "
                      f"their runs and event handlers do not act on events")
        if workers_idempotent:
            draft.strategy = UPGRADE_WAVES
            draft.settings = _waves(workload, acknowledge=False)
            draft.rule("DrainTooLongMoveInstead", f"{intro}; {paused_for}. The workers tolerate re-running tasks "
                                                  f"(--workers-idempotent), so the running executions are moved "
                                                  f"to v{change.new_version} in waves instead, a canary first")
        else:
            draft.rule("DrainTooLongRunSideBySide", f"{intro}; {paused_for}. So parallel: each execution finishes "
                                                    f"on the version it started with, and both versions run side "
                                                    f"by side for about {duration_text(drain_takes)}: check that "
                                                    f"the findings are acceptable for that long, or raise "
                                                    f"--max-trigger-pause to drain")
        return
    draft.strategy = DRAIN
    draft.settings = {"deadline": deadline_text(drain_takes), "onDeadline": "Wait", "pauseTriggers": True}
    draft.rule("CautionDrains", f"{intro}; drain finishes the old executions before v{change.new_version} is "
                                f"registered, so the two never run side by side")
    if workload.count == 0:
        draft.rule("DeadlineFloor", f"{workload.describe(change.old_label)}: the drain should end within minutes; "
                                    f"deadline {draft.settings['deadline']}, the shortest proposed")
    elif workload.p95_age is None:
        draft.settings["deadline"] = deadline_text(UNKNOWN_DEADLINE)
        draft.rule("DeadlineUnknownAges", f"{workload.describe(change.old_label)}: a long deadline "
                                          f"({draft.settings['deadline']}), and onDeadline Wait only warns")
    else:
        draft.rule("DeadlineFromAges", f"{workload.describe(change.old_label)}: deadline {draft.settings['deadline']} "
                                       f"= p{PERCENTILE} age x {DEADLINE_MARGIN} (the youngest still needs about a "
                                       f"whole run), rounded up; p{PERCENTILE} rather than the oldest, so one stuck "
                                       f"execution does not stretch it")
    draft.rule("WaitAtDeadline", "onDeadline Wait: a drain that overruns raises a Warning and goes on waiting; "
                                 "nothing is moved or failed without a person (promote cuts over at once)")


def _breaking(draft: _Draft, change: Change, verdict: Verdict, workload: Workload | None,
              workers_idempotent: bool) -> None:
    intro = (f"the verdict is Breaking: moving a running execution onto v{change.new_version} can break it (a task it "
             f"ran or waits on is removed or renamed)")
    if not workers_idempotent:
        draft.rule("BreakingNeverMoved", f"{intro}; without workers that tolerate re-running tasks "
                                         f"(--workers-idempotent) nothing is moved: parallel, each execution finishes "
                                         f"on the version it started with")
    elif workload is None or (workload.count and workload.p95_age is None):
        unknown = ("the running executions are unknown" if workload is None
                   else f"{workload.describe(change.old_label)}")
        draft.rule("BreakingNotMovedBlind", f"{intro}; {unknown}, so none is moved: parallel (long runs, once "
                                            f"seen with --from-cluster, would be moved in waves)")
    elif workload.count == 0:
        draft.rule("NothingToMove", f"{intro}; {workload.describe(change.old_label)}, so there is nothing to move: "
                                    f"parallel")
    elif not workload.long:
        draft.rule("ShortRunsNotMoved", f"{intro}; {workload.describe(change.old_label)}: they likely end within "
                                        f"{duration_text(workload.expected_drain)}, and moving them would re-run "
                                        f"every task for little gain: parallel")
    else:
        draft.strategy = UPGRADE_WAVES
        draft.settings = _waves(workload, acknowledge=True)
        draft.rule("BreakingMovedInWaves", f"{intro}; {workload.describe(change.old_label)}, and the workers tolerate "
                                           f"re-running tasks (--workers-idempotent): they move to "
                                           f"v{change.new_version} in waves, a canary of "
                                           f"{draft.settings['canary']['count']} first, each wave watched by a health "
                                           f"gate that pauses the plan when it fails (acknowledgeBreaking: true says "
                                           f"the Breaking verdict was read)")
    gone = sorted({f.task_ref for f in verdict.findings if f.level is BREAKING and f.task_ref})
    if gone:
        left = "old executions" if draft.strategy == PARALLEL else "executions that are not moved (ineligible)"
        draft.rule("KeepOldWorkers", f"{left} still run {', '.join(gone)}: keep the workers of those tasks polling "
                                     f"until {change.old_label} drained")


def _waves(workload: Workload, *, acknowledge: bool) -> dict:
    canary = max(1, min(5, workload.count // 20))
    steps = ([{"percent": 25}, {"percent": 50}, {"percent": 100}] if workload.count >= MANY_RUNS
             else [{"percent": 100}])
    settings = {"mover": "Auto", "workersIdempotent": True}
    if acknowledge:
        settings["acknowledgeBreaking"] = True
    return {**settings, "canary": {"count": canary}, "steps": steps,
            "healthGate": {"window": "10m", "maxFailurePercent": 5}, "onGateFailure": "Pause"}


def _retirement(draft: _Draft, change: Change, triggers: Sequence[Trigger] | None,
                pinned_old: list[Trigger]) -> None:
    if triggers is None or pinned_old:
        why = ("the triggers are unknown" if triggers is None
               else f"{trigger_names(pinned_old)} start{'s' if len(pinned_old) == 1 else ''} {change.old_label} "
                    f"by number")
        draft.settings = {"retireOldVersions": False}
        draft.rule("KeepOldVersions", f"{why}: the old versions stay registered after the drain (retiring one makes "
                                      f"a start pinned to it fail with 404); retire them later by setting "
                                      f"retireOldVersions: true")
        return
    draft.settings = {"retireOldVersions": True, "retireAfter": RETIRE_AFTER}
    draft.rule("RetireOldVersions", f"no trigger starts {change.old_label} by number: once drained, and "
                                    f"{RETIRE_AFTER} later, the old versions are deleted from Conductor (only if "
                                    f"nothing runs on them); a direct API start pinned to one gets 404 from then on")


def _trigger_rules(draft: _Draft, change: Change, triggers: Sequence[Trigger] | None,
                   pinned_old: list[Trigger]) -> None:
    if triggers is None:
        return
    if not triggers:
        draft.rule("NoTriggers", f"no active event handler or schedule starts {change.workflow}: only direct API "
                                 f"starts do, and no strategy pauses those")
    elif draft.strategy == DRAIN:
        draft.rule("TriggersPausedWhileDraining", f"{trigger_names(triggers)} start{'s' if len(triggers) == 1 else ''} "
                                                  f"{change.workflow}: paused while draining, resumed after the "
                                                  f"cutover (also if the plan fails or is deleted)")
    if pinned_old:
        draft.rule("TriggerPinsOldVersion", f"{trigger_names(pinned_old)} start{'s' if len(pinned_old) == 1 else ''} "
                                            f"{change.old_label} by number: after the cutover it still does, so the "
                                            f"old version never drains (the plan warns TriggerPinsOldVersion); "
                                            f"change it to start v{change.new_version}, or to name no version")


def _other_rules(draft: _Draft, change: Change, verdict: Verdict, workload: Workload | None) -> None:
    if workload is not None and workload.others:
        listed = ", ".join(f"v{r.version} ({r.count})" for r in workload.others)
        draft.rule("OtherVersionsRunning", f"older versions not moved by this plan still run: {listed}; compare them "
                                           f"with `kubectl conductor diff` and add them to spec.from.versions if "
                                           f"they should be moved or drained too")
    if verdict.standing_warnings:
        listed = ", ".join(sorted({str(w.reason) for w in verdict.standing_warnings}))
        draft.rule("StandingWarnings", f"both versions share {listed}: it does not change the strategy, and the "
                                       f"plan's Warning condition names it")
    if change.target_activation is None:
        draft.rule("CreateTargetResource", f"the new version is not a WorkflowDefinition manifest: create "
                                           f"WorkflowDefinition {change.target_ref} from it, with spec.activation: "
                                           f"{BY_MIGRATION_PLAN}")
    elif change.target_activation != BY_MIGRATION_PLAN:
        hurt = (f"the drain is pointless: v{change.new_version} takes unpinned starts before the old executions "
                f"drained" if draft.strategy == DRAIN else "the gates cannot hold anything back")
        draft.rule("ActivateByPlan", f"{change.target_ref} registers v{change.new_version} as soon as it is applied "
                                     f"(activation {change.target_activation}), so {hurt}: set spec.activation: "
                                     f"{BY_MIGRATION_PLAN} in it")




# ---- the manifest -----------------------------------------------------------------------------

def _manifest(change: Change, draft: _Draft) -> dict:
    metadata = {"name": change.plan_name}
    if change.namespace:
        metadata["namespace"] = change.namespace
    spec: dict = {}
    if change.cluster_ref:
        spec["clusterRef"] = {"name": change.cluster_ref}
    spec["workflowName"] = change.workflow
    spec["from"] = {"versions": [change.old_version]} if change.old_version is not None else {"allOlder": True}
    spec["to"] = {"workflowDefinitionRef": {"name": change.target_ref}}
    spec["strategy"] = {draft.strategy: draft.settings}
    spec["gates"] = {"requireWorkers": True}
    return {"apiVersion": API_VERSION, "kind": "MigrationPlan", "metadata": metadata, "spec": spec}
