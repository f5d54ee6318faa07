"""What a MigrationPlan does to running executions and triggers, with its ledger.

The ledger is a ConfigMap the plan owns (``<plan>-ledger``): one key per moved execution holding
its ledger entry, and the key ``triggers`` listing the event handlers and schedules the plan paused.
A ConfigMap holds at most 1 MiB, so once one is full new entries go to further ConfigMaps
(``<plan>-ledger-1``, ``-2``, ...), counted by the key ``shards`` of the first; the count is raised
before a new one is written, so a crash in between leaves an empty shard, never an unseen entry.
Every move is written there as an intent before Conductor is called and confirmed after; a trigger
is written before it is paused. A crashed operator therefore finds everything it may have begun,
and finishes each from the execution's own state (``domain.waves.resolve``), never by repeating a
call blindly. One writer per plan (the reconcile lock), so merging keys is enough.

Beside the ledger, ``History`` keeps a small picture of the running executions per version over time
(``<plan>-history``) for ``kubectl conductor dashboard``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable
from datetime import datetime, timedelta

from conductor_operator import metrics
from conductor_operator.api.migration import MigrationPlan, TriggerStatus
from conductor_operator.conductor.client import ConductorClient
from conductor_operator.conductor.errors import Conflict, NotFound, Rejected, UnsupportedOperation
from conductor_operator.domain.conditions import format_time, parse_time
from conductor_operator.domain.migrations.recovery import RESTART
from conductor_operator.domain.waves import (
    ORKES_UPGRADE,
    PENDING,
    Fix,
    Move,
    MoveState,
    resolve,
    terminate_marker,
)
from conductor_operator.kube import GROUP, VERSION, Kube, KubeError

TRIGGERS_KEY = "triggers"
SHARDS_KEY = "shards"
SHARD_BUDGET = 800_000
"""Bytes of keys and values written to one ConfigMap of the ledger: the API server refuses a ConfigMap whose
data exceeds 1 MiB, and an entry grows a little when it is confirmed."""
EVENT_HANDLER, SCHEDULE = "EventHandler", "Schedule"
PAUSING, PAUSED, RESUMED = "Pausing", "Paused", "Resumed"


class LedgerUnavailable(Exception):
    """The ledger could not be read or written; nothing that depends on it was done."""


def ledger_name(plan_name: str) -> str:
    name = f"{plan_name}-ledger"
    if len(name) <= 253:
        return name
    return f"{plan_name[:230]}-{hashlib.sha256(plan_name.encode()).hexdigest()[:15]}-ledger"


def shard_name(ledger: str, index: int) -> str:
    """The ConfigMap of one shard of a ledger: the ledger itself, then ``<ledger>-<index>``."""
    if index == 0:
        return ledger
    name = f"{ledger}-{index}"
    return name if len(name) <= 253 else f"{ledger[:200]}-{hashlib.sha256(name.encode()).hexdigest()[:15]}-{index}"


def owned_by(plan: MigrationPlan) -> dict:
    """The plan as the owner of a ConfigMap it keeps (deleted with it)."""
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "MigrationPlan", "name": plan.metadata.name,
            "uid": plan.metadata.uid}


def _size(data: dict[str, str]) -> int:
    return sum(len(key) + len(value) for key, value in data.items())


class Ledger:
    shard_budget = SHARD_BUDGET

    def __init__(self, kube: Kube, plan: MigrationPlan):
        self.kube = kube
        self.namespace = plan.metadata.namespace
        self.name = ledger_name(plan.metadata.name)
        self.owner = owned_by(plan)
        self.moves: dict[str, Move] = {}
        self.recoveries: dict[str, Move] = {}
        """Restarts of failed executions (spec.recoverFailed, mover ``Restart``), kept apart from the moves."""
        self.triggers: dict[str, str] = {}
        self.exists = False
        self._shard_of: dict[str, int] = {}
        self._sizes = [0]
        """Bytes held by each shard, as written by this process or read by ``load``."""

    async def load(self) -> Ledger:
        first = await self._read(self.name)
        self.exists = bool(first)
        self._sizes = [_size(first)]
        name = self.name
        try:
            self.triggers = json.loads(first.pop(TRIGGERS_KEY, "{}"))
            count = int(first.pop(SHARDS_KEY, "0"))
            for index in range(count + 1):
                name = shard_name(self.name, index)
                data = first if index == 0 else await self._read(name)
                if index:
                    self._sizes.append(_size(data))
                for key, text in data.items():
                    move = Move.from_json(key, text)
                    (self.recoveries if move.mover == RESTART else self.moves)[key] = move
                    self._shard_of[key] = index
        except (ValueError, KeyError, TypeError) as exc:
            raise LedgerUnavailable(f"ConfigMap {name} holds something that is not a ledger entry ({exc!r}): "
                                    f"restore it, or remove the key that was edited") from None
        return self

    async def record(self, moves: Iterable[Move]) -> None:
        """Write these entries, each where it is already kept, a new one in the last shard with room."""
        moves = {m.execution_id: m for m in moves}
        by_shard: dict[int, dict[str, str]] = {}
        for execution_id, move in moves.items():
            text, before = move.to_json(), self.moves.get(execution_id) or self.recoveries.get(execution_id)
            growth = len(text) - len(before.to_json()) if before else len(execution_id) + len(text)
            index = self._shard_of.get(execution_id)
            if index is None:
                index = len(self._sizes) - 1
                if self._sizes[index] + growth > self.shard_budget:
                    index = await self._open_shard()
                self._shard_of[execution_id] = index
            self._sizes[index] += growth
            by_shard.setdefault(index, {})[execution_id] = text
        for index, data in by_shard.items():
            await self._write(data, shard_name(self.name, index))
        for execution_id, move in moves.items():
            (self.recoveries if move.mover == RESTART else self.moves)[execution_id] = move

    async def record_triggers(self, changes: dict[str, str]) -> None:
        if changes:
            merged = {**self.triggers, **changes}
            await self._write({TRIGGERS_KEY: json.dumps(merged, sort_keys=True)})
            self.triggers = merged

    async def _open_shard(self) -> int:
        """Count one more shard in the first ConfigMap before anything is written to it."""
        index = len(self._sizes)
        await self._write({SHARDS_KEY: str(index)})
        self._sizes.append(0)
        return index

    async def _read(self, name: str) -> dict[str, str]:
        try:
            return await self.kube.config_map_data(self.namespace, name)
        except KubeError as exc:
            raise LedgerUnavailable(f"cannot read ConfigMap {name}: {exc.reason}") from None

    async def _write(self, data: dict[str, str], name: str | None = None) -> None:
        name = name or self.name
        try:
            await self.kube.merge_config_map_data(self.namespace, name, data, owner=self.owner)
        except KubeError as exc:
            raise LedgerUnavailable(f"cannot write ConfigMap {name}: {exc.reason}") from None
        self.exists = True

    def pending(self) -> list[Move]:
        """Moves begun and not confirmed: a step stopped between writing the intent and confirming it."""
        return [m for m in self.moves.values() if m.state in PENDING]

    def held_triggers(self) -> list[str]:
        """Triggers this plan paused (or began to pause) and has not resumed."""
        return [key for key, state in self.triggers.items() if state != RESUMED]

    def trigger_status(self) -> list[TriggerStatus]:
        """The triggers as status shows them: one paused and not resumed yet counts as paused."""
        shown = []
        for key, state in sorted(self.triggers.items()):
            kind, name = key.split("/", 1)
            shown.append(TriggerStatus(kind=kind, name=name, state=RESUMED if state == RESUMED else PAUSED))
        return shown


# ---- moving executions ---------------------------------------------------------------------------

class Mover:
    """Moves executions to the target, or back, the way the plan's mover does it."""

    def __init__(self, client: ConductorClient, plan: MigrationPlan, mover: str, now: datetime):
        self.client, self.mover, self.now = client, mover, now
        self.workflow = plan.spec.workflow_name
        settings = plan.spec.strategy.mover_settings
        self.task_output = dict(settings.task_output or {}) if settings else {}
        self.uid = plan.metadata.uid
        self.back_version = plan.status.rollback.version if plan.status.rollback else None

    def _stamp(self, move: Move, state: MoveState, message: str = "", **changes) -> Move:
        return move.but(state, format_time(self.now), message, **changes)

    async def carry_out(self, ledger: Ledger, intents: Iterable[Move]) -> list[Move]:
        """Record the intents, move, confirm. What cannot be confirmed stays an intent for ``finish``."""
        intents = list(intents)
        await ledger.record(intents)
        done = await self._move(intents)
        await ledger.record(done)
        metrics.moves_settled(self.mover, done)
        return done

    async def finish(self, ledger: Ledger) -> list[Move]:
        """Settle the intents a previous reconcile left, from each execution's state now."""
        pending = ledger.pending()
        if not pending:
            return []
        found = {e.get("workflowId"): e for e in await self.client.existing_executions(m.execution_id
                                                                                        for m in pending)}
        settled, again = [], []
        for move in pending:
            back = move.state is MoveState.BACK_INTENT
            execution = found.get(move.execution_id)
            fix = resolve(move, execution, terminate_marker(self.uid, back))
            if fix is Fix.DONE:
                settled.append(self._done(move, int(execution.get("workflowVersion") or 0)))
            elif fix is Fix.ENDED:
                settled.append(self._stamp(move, MoveState.BACK_ENDED if back else MoveState.ENDED,
                                           "ended before it was moved" if execution else "gone"))
            elif fix is Fix.RESTART:
                settled.append(await self._restart(move))
            else:
                again.append(move)
        settled += await self._move(again)
        await ledger.record(settled)
        metrics.moves_settled(self.mover, settled)
        return settled

    def _done(self, move: Move, version: int) -> Move:
        if move.state is MoveState.BACK_INTENT:
            return self._stamp(move, MoveState.ROLLED_BACK, back_version=version)
        return self._stamp(move, MoveState.MOVED)

    async def _restart(self, move: Move) -> Move:
        try:
            await self.client.restart(move.execution_id, use_latest_definitions=True)
        except Rejected as exc:
            return self._stamp(move, MoveState.FAILED, f"terminated, but Conductor refused to restart it: "
                                                       f"{exc.message}")
        return self._done(move, self.back_version if move.state is MoveState.BACK_INTENT else move.to_version)

    async def _move(self, moves: list[Move]) -> list[Move]:
        if not moves:
            return []
        if self.mover == ORKES_UPGRADE:
            return [m for m in [await self._upgrade(m) for m in moves] if m is not None]
        return await self._terminate_restart(moves)

    async def _terminate_restart(self, moves: list[Move]) -> list[Move]:
        """Conductor OSS: terminate, then restart on the latest definition (the target, or the republished
        old content when moving back). Ids either call did not take stay intents, settled next time."""
        done = []
        for back in (False, True):
            batch = {m.execution_id: m for m in moves if (m.state is MoveState.BACK_INTENT) == back}
            if not batch:
                continue
            terminated = await self.client.bulk_terminate(batch, terminate_marker(self.uid, back))
            if terminated.succeeded:
                restarted = await self.client.bulk_restart(terminated.succeeded, use_latest_definitions=True)
                done += [self._done(batch[i], self.back_version if back else batch[i].to_version)
                         for i in restarted.succeeded if i in batch]
        return done

    async def _upgrade(self, move: Move) -> Move | None:
        """Orkes: the execution continues from its current task on the other version."""
        back = move.state is MoveState.BACK_INTENT
        version = move.from_version if back else move.to_version
        try:
            await self.client.upgrade(move.execution_id, name=self.workflow, version=version,
                                      task_output=None if back else self.task_output)
        except (NotFound, Conflict):
            return None  # it ended meanwhile: settled from its state next time
        except Rejected as exc:
            return self._stamp(move, MoveState.MOVED if back else MoveState.FAILED,
                               f"Conductor refused to move it{' back' if back else ''}: {exc.message}")
        return self._done(move, version)


# ---- triggers ------------------------------------------------------------------------------------

def starts_workflow(handler: dict, workflow: str) -> bool:
    """Whether an event handler has an action that starts this workflow."""
    return any(a.get("action") == "start_workflow" and (a.get("start_workflow") or {}).get("name") == workflow
               for a in handler.get("actions") or [])


def pinned_version(trigger: dict, workflow: str) -> int | None:
    """The version an event handler's start action or a schedule's start request pins, if any."""
    requests = [a.get("start_workflow") or {} for a in trigger.get("actions") or []
                if a.get("action") == "start_workflow"] + [trigger.get("startWorkflowRequest") or {}]
    versions = [r["version"] for r in requests if r.get("name") == workflow and r.get("version")]
    return int(versions[0]) if versions else None


async def active_triggers(client: ConductorClient, workflow: str) -> dict[str, dict]:
    """The active event handlers and unpaused schedules that start the workflow, by ledger key."""
    handlers = [h for h in await client.event_handlers() if h.get("active") and starts_workflow(h, workflow)]
    try:
        schedules = [s for s in await client.schedules(workflow) if not s.get("paused")]
    except UnsupportedOperation:
        schedules = []  # a server without a scheduler has no schedules
    return {f"{EVENT_HANDLER}/{h['name']}": h for h in handlers} | {f"{SCHEDULE}/{s['name']}": s for s in schedules}


async def pinning_triggers(client: ConductorClient, workflow: str) -> dict[str, int]:
    """The active triggers that start the workflow at a pinned version, with that version."""
    pinned = {key: pinned_version(t, workflow) for key, t in (await active_triggers(client, workflow)).items()}
    return {key: version for key, version in pinned.items() if version is not None}


async def pause_triggers(client: ConductorClient, ledger: Ledger, plan: MigrationPlan) -> dict[str, int | None]:
    """Pause every active event handler and schedule that starts the workflow; each is written to the
    ledger before it is paused. Returns what was paused now, with the version each one pins (None: the
    latest)."""
    workflow = plan.spec.workflow_name
    wanted = await active_triggers(client, workflow)
    await ledger.record_triggers({key: PAUSING for key in wanted if ledger.triggers.get(key) != PAUSED})
    for key, trigger in wanted.items():
        if key.startswith(EVENT_HANDLER):
            await client.update_event_handler({**trigger, "active": False})
        else:
            await client.pause_schedule(trigger["name"], reason=f"MigrationPlan {plan.metadata.namespace}/"
                                                                f"{plan.metadata.name} drains {workflow}")
    await ledger.record_triggers({key: PAUSED for key in wanted})
    return {key: pinned_version(trigger, workflow) for key, trigger in sorted(wanted.items())}


async def resume_triggers(client: ConductorClient, ledger: Ledger) -> list[str]:
    """Resume every trigger the ledger says this plan paused (one deleted since is left alone)."""
    held = ledger.held_triggers()
    if not held:
        return []
    handlers = {h.get("name"): h for h in await client.event_handlers()}
    for key in held:
        kind, name = key.split("/", 1)
        if kind == EVENT_HANDLER:
            if name in handlers:
                await client.update_event_handler({**handlers[name], "active": True})
        else:
            with contextlib.suppress(NotFound, Conflict):  # deleted, or resumed by someone already
                await client.resume_schedule(name)
        await ledger.record_triggers({key: RESUMED})
    return held


# ---- history of running executions (the dashboard's charts) ---------------------------------------

HISTORY_KEY = "points"
HISTORY_POINTS = 500
"""At most this many points: about 25 KB, far below a ConfigMap's 1 MiB."""


def history_name(plan_name: str) -> str:
    """The ConfigMap of a plan's history, ``<plan>-history``, beside its ledger and owned by the plan too."""
    name = f"{plan_name}-history"
    if len(name) <= 253:
        return name
    return f"{plan_name[:229]}-{hashlib.sha256(plan_name.encode()).hexdigest()[:15]}-history"


def thin_history(points: list, cap: int = HISTORY_POINTS) -> list:
    """At most ``cap`` points (cap >= 2): over it, every second point of all but the newest cap // 2 is dropped,
    so the recent past keeps its resolution, the start of the migration stays, and the older the coarser."""
    while len(points) > cap:
        newest = len(points) - cap // 2
        points = points[:newest:2] + points[newest:]
    return points


class History:
    """Running executions per version over time, at most one point per drainDetection interval and
    HISTORY_POINTS in all, in a ConfigMap the plan owns (``<plan>-history``). Kept apart from the ledger, whose
    every key is a move, and from the status, written on every step (and sent to every watcher): 500 points
    there would make each status patch tens of KB. It is a picture, not a record the plan depends on:
    reading or writing it may fail without holding the step."""

    def __init__(self, kube: Kube, plan: MigrationPlan):
        self.kube = kube
        self.namespace = plan.metadata.namespace
        self.name = history_name(plan.metadata.name)
        self.owner = owned_by(plan)

    async def record(self, counts: dict[int, int], now: datetime, interval: timedelta) -> bool:
        """Add a point for these counts unless the last one is less than ``interval`` old; whether it did."""
        try:
            text = (await self.kube.config_map_data(self.namespace, self.name)).get(HISTORY_KEY, "[]")
            try:
                points = json.loads(text)
            except ValueError:
                points = []  # edited by hand: started over
            points = points if isinstance(points, list) else []
            last = parse_time(points[-1].get("at")) if points and isinstance(points[-1], dict) else None
            if last is not None and now - last < interval:
                return False
            points.append({"at": format_time(now), "running": {str(v): n for v, n in sorted(counts.items())}})
            text = json.dumps(thin_history(points), separators=(",", ":"))
            await self.kube.merge_config_map_data(self.namespace, self.name, {HISTORY_KEY: text}, owner=self.owner)
        except (KubeError, ValueError, TypeError, AttributeError):
            return False
        return True
