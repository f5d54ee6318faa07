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

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from conductor_operator.domain.compatibility import BREAKING, CAUTION, SAFE, Verdict

API_VERSION = "conductor-operator.io/v1alpha1"
PARALLEL, DRAIN, UPGRADE_WAVES = "parallel", "drain", "upgradeWaves"
BY_MIGRATION_PLAN = "ByMigrationPlan"

LONG_RUN = timedelta(hours=1)
"""Executions whose runs (their p95 age) reach this are worth moving rather than waiting for."""
MANY_RUNS = 20
"""From this many running executions on, waves go in several steps rather than one."""
DEADLINE_MARGIN = 1.5
"""A drain's deadline is the p95 age times this: the youngest execution still needs about a whole run."""
DEADLINE_FLOOR = timedelta(minutes=15)
"""Never shorter: counting zero three times over the default grace period alone takes minutes."""
UNKNOWN_DEADLINE = timedelta(hours=24)
"""The deadline when the ages are unknown: long, and onDeadline Wait only warns when it passes."""
MAX_TRIGGER_PAUSE = timedelta(hours=1)
"""Default for how long a drain may pause the event handlers and schedules that start the workflow."""
RETIRE_AFTER = "1h"
PERCENTILE = 95


@dataclass(frozen=True)
class Change:
    """What moves where, and the names the plan uses."""

    workflow: str
    new_version: int
    target_ref: str
    """The WorkflowDefinition resource of the new version."""
    plan_name: str
    old_version: int | None = None
    """None: every older version (from.allOlder)."""
    namespace: str | None = None
    cluster_ref: str | None = None
    target_activation: str | None = None
    """The new manifest's spec.activation (Immediate when it leaves it out); None when the new version is not a
    WorkflowDefinition manifest."""

    def moves_from(self, version: int) -> bool:
        return version == self.old_version if self.old_version is not None else version < self.new_version

    @property
    def old_label(self) -> str:
        return f"v{self.old_version}" if self.old_version is not None else f"the versions below v{self.new_version}"


@dataclass(frozen=True)
class Running:
    """The running (RUNNING or PAUSED) executions of one version: how many, and how long each has run (those
    Conductor gave a start time for)."""

    version: int
    count: int
    ages: tuple[timedelta, ...] = ()


@dataclass(frozen=True)
class Trigger:
    """An active event handler or schedule that starts the workflow; pinned_version when it names one."""

    kind: str
    name: str
    pinned_version: int | None = None


@dataclass(frozen=True)
class Rationale:
    """One rule that shaped the proposal, and why it applies here."""

    rule: str
    why: str


@dataclass(frozen=True)
class Proposal:
    strategy: str
    rationale: tuple[Rationale, ...]
    unknowns: tuple[str, ...]
    manifest: dict
    runbook: str

    def to_json(self) -> dict:
        return {"strategy": self.strategy,
                "reasons": [{"rule": r.rule, "why": r.why} for r in self.rationale],
                "unknowns": list(self.unknowns), "manifest": self.manifest, "runbook": self.runbook}


@dataclass(frozen=True)
class Workload:
    """The old versions' running executions, summed up."""

    count: int
    p95_age: timedelta | None
    oldest_age: timedelta | None
    others: tuple[Running, ...] = ()
    """Older versions running that the plan does not move from (when it moves from one version)."""

    @property
    def long(self) -> bool:
        return self.p95_age is not None and self.p95_age >= LONG_RUN

    @property
    def expected_drain(self) -> timedelta:
        """How long the old versions likely take to finish, with the margin: the drain deadline."""
        if self.count == 0 or self.p95_age is None:
            return DEADLINE_FLOOR
        return max(DEADLINE_FLOOR, self.p95_age * DEADLINE_MARGIN)

    def describe(self, label: str) -> str:
        if self.count == 0:
            return f"no execution of {label} runs"
        ages = (f", the oldest for {duration_text(self.oldest_age)} (p{PERCENTILE} {duration_text(self.p95_age)})"
                if self.p95_age is not None else " (their start times are unknown)")
        many = self.count != 1
        return f"{self.count} execution{'s' if many else ''} of {label} run{'' if many else 's'}{ages}"


def percentile(values: Sequence[timedelta], percent: int) -> timedelta | None:
    """Nearest-rank percentile: an observed value, never an interpolation; None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


def summarize(change: Change, running: Sequence[Running]) -> Workload:
    moved = [r for r in running if change.moves_from(r.version)]
    others = tuple(r for r in running
                   if r.count and not change.moves_from(r.version) and r.version < change.new_version)
    ages = [age for r in moved for age in r.ages]
    return Workload(count=sum(r.count for r in moved), p95_age=percentile(ages, PERCENTILE),
                    oldest_age=max(ages, default=None), others=others)


def duration_text(value: timedelta | None) -> str:
    """A short human duration: 45s, 12m, 3h5m."""
    if value is None:
        return "?"
    seconds = int(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m" if minutes else f"{secs}s"


def deadline_text(value: timedelta) -> str:
    """A deadline as a MigrationPlan duration, rounded up: to 5 minutes below an hour, to the hour above."""
    minutes = math.ceil(value.total_seconds() / 60)
    if minutes < 60:
        return f"{max(5, math.ceil(minutes / 5) * 5)}m"
    return f"{math.ceil(minutes / 60)}h"


# ---- the decision ---------------------------------------------------------------------------------

@dataclass
class _Draft:
    strategy: str = PARALLEL
    settings: dict = field(default_factory=dict)
    rationale: list[Rationale] = field(default_factory=list)
    unknowns: list[str] = field(default_factory=list)

    def rule(self, rule: str, why: str) -> None:
        self.rationale.append(Rationale(rule, why))


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
               else f"{_names(pinned_old)} start{'s' if len(pinned_old) == 1 else ''} {change.old_label} by number")
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
        draft.rule("TriggersPausedWhileDraining", f"{_names(triggers)} start{'s' if len(triggers) == 1 else ''} "
                                                  f"{change.workflow}: paused while draining, resumed after the "
                                                  f"cutover (also if the plan fails or is deleted)")
    if pinned_old:
        draft.rule("TriggerPinsOldVersion", f"{_names(pinned_old)} start{'s' if len(pinned_old) == 1 else ''} "
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


def _names(triggers: Sequence[Trigger]) -> str:
    return ", ".join(f"{t.kind} {t.name}" for t in triggers)


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
        before.append(f"Re-point {_names(pinned_old)} at {new} (or at no version).")
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
