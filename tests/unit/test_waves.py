"""The pure helpers of moving running executions (domain/waves): the ledger entry, its crash resolution,
the waves a spec makes, how many each wave moves, which executions it picks, and the health gate."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from conductor_operator.api.migration import CanarySelector, UpgradeWaves
from conductor_operator.domain.waves import (
    LISTED_INELIGIBLE,
    ORKES_UPGRADE,
    PENDING,
    TERMINATE_RESTART,
    Candidate,
    Fix,
    Health,
    Move,
    MoveState,
    Wave,
    candidate,
    current_task,
    estimate_drain_end,
    health,
    ineligibility,
    ledger_counts,
    pick,
    quota,
    resolve,
    selected,
    selector_text,
    started_at,
    task_refs,
    terminate_marker,
    waves_of,
)

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
MARKER = terminate_marker("uid-1", back=False)
BACK_MARKER = terminate_marker("uid-1", back=True)


def move(execution_id="e1", state=MoveState.INTENT, *, from_version=1, to_version=3, wave=0, **extra):
    return Move(execution_id, from_version, to_version, wave, state, TERMINATE_RESTART, "2026-11-24T12:00:00Z",
                **extra)


def execution(version, status, reason=None, **extra):
    body = {"workflowId": "e1", "workflowVersion": version, "status": status, **extra}
    if reason is not None:
        body["reasonForIncompletion"] = reason
    return body


def item(execution_id, started=None, *, correlation_id=None, task="a", version=1):
    return Candidate(execution_id, version, "RUNNING", started, correlation_id, task)


def upgrade_waves(**spec):
    return UpgradeWaves.model_validate(spec)


# ---- the ledger entry -----------------------------------------------------------------------------

@pytest.mark.parametrize("entry", [
    move(),
    move(state=MoveState.MOVED, message="restarted as e1", wave=2),
    move(state=MoveState.BACK_INTENT, back_version=4),
    move(state=MoveState.ROLLED_BACK, back_version=4, message="moved back"),
    Move("e9", 2, 3, 0, MoveState.FAILED, ORKES_UPGRADE, "", "409 conflict"),
], ids=["intent", "moved", "back-intent", "rolled-back", "failed-without-time"])
def test_a_ledger_entry_survives_a_json_round_trip(entry):
    text = entry.to_json()
    assert Move.from_json(entry.execution_id, text) == entry
    data = json.loads(text)
    assert "execution_id" not in data, "the id is the ConfigMap key"
    assert data["state"] == entry.state.value and data["wave"] == entry.wave


def test_a_ledger_entry_leaves_empty_fields_out_but_keeps_wave_zero():
    data = json.loads(move(wave=0).to_json())
    assert data == {"from_version": 1, "to_version": 3, "wave": 0, "state": "Intent", "mover": TERMINATE_RESTART,
                    "at": "2026-11-24T12:00:00Z"}
    assert list(data) == sorted(data), "sorted keys: the same entry is the same text"


def test_a_ledger_entry_reads_numbers_written_as_strings():
    text = json.dumps({"from_version": "1", "to_version": "3", "wave": "2", "state": "Moved", "mover": "OrkesUpgrade"})
    assert Move.from_json("e5", text) == Move("e5", 1, 3, 2, MoveState.MOVED, ORKES_UPGRADE, "")


def test_an_unknown_ledger_state_is_refused():
    with pytest.raises(ValueError, match="Done"):
        Move.from_json("e1", json.dumps({"from_version": 1, "to_version": 3, "wave": 0, "state": "Done",
                                         "mover": "x"}))


def test_but_changes_the_state_time_and_message_and_keeps_the_rest():
    intent = move(message="begun", wave=1)
    moved = intent.but(MoveState.MOVED, "2026-11-24T12:01:00Z")
    assert (moved.state, moved.at, moved.message) == (MoveState.MOVED, "2026-11-24T12:01:00Z", "")
    assert (moved.execution_id, moved.from_version, moved.to_version, moved.wave, moved.mover) == \
        ("e1", 1, 3, 1, TERMINATE_RESTART)
    back = moved.but(MoveState.BACK_INTENT, "t2", "moving back", back_version=4)
    assert (back.state, back.message, back.back_version) == (MoveState.BACK_INTENT, "moving back", 4)
    assert intent.state is MoveState.INTENT, "frozen: but() makes a new entry"


def test_pending_states_are_the_two_intents():
    assert frozenset({MoveState.INTENT, MoveState.BACK_INTENT}) == PENDING


def test_ledger_counts():
    moves = [move("a", MoveState.MOVED), move("b", MoveState.MOVED), move("c", MoveState.FAILED), move("d")]
    assert ledger_counts(moves) == {MoveState.MOVED: 2, MoveState.FAILED: 1, MoveState.INTENT: 1}
    assert ledger_counts([]) == {}


def test_terminate_markers_name_the_plan_and_the_direction():
    assert MARKER == "[migrationplan uid-1 move]"
    assert BACK_MARKER == "[migrationplan uid-1 rollback]"
    assert terminate_marker("uid-2", back=False) != MARKER


# ---- resolve: what a pending entry needs after a crash ---------------------------------------------

FORWARD = move("e1", MoveState.INTENT, from_version=1, to_version=3)
BACKWARD = move("e1", MoveState.BACK_INTENT, from_version=1, to_version=3, back_version=4)


@pytest.mark.parametrize(("entry", "found", "marker", "fix"), [
    # forward: it starts on from_version (1)
    (FORWARD, None, MARKER, Fix.ENDED),
    (FORWARD, execution(3, "RUNNING"), MARKER, Fix.DONE),
    (FORWARD, execution(3, "COMPLETED"), MARKER, Fix.DONE),
    (FORWARD, execution(3, "TERMINATED", MARKER), MARKER, Fix.DONE),
    (FORWARD, execution(2, "RUNNING"), MARKER, Fix.DONE),
    (FORWARD, execution(1, "RUNNING"), MARKER, Fix.MOVE),
    (FORWARD, execution(1, "PAUSED"), MARKER, Fix.MOVE),
    (FORWARD, execution(1, "TERMINATED", f"operator {MARKER}"), MARKER, Fix.RESTART),
    (FORWARD, execution(1, "TERMINATED", "killed by ops"), MARKER, Fix.ENDED),
    (FORWARD, execution(1, "TERMINATED"), MARKER, Fix.ENDED),
    (FORWARD, execution(1, "TERMINATED", BACK_MARKER), MARKER, Fix.ENDED),
    (FORWARD, execution(1, "TERMINATED", terminate_marker("uid-2", back=False)), MARKER, Fix.ENDED),
    (FORWARD, execution(1, "COMPLETED"), MARKER, Fix.ENDED),
    (FORWARD, execution(1, "FAILED", MARKER), MARKER, Fix.ENDED),
    (FORWARD, execution(1, "TIMED_OUT"), MARKER, Fix.ENDED),
    # back: it starts on to_version (3)
    (BACKWARD, None, BACK_MARKER, Fix.ENDED),
    (BACKWARD, execution(4, "RUNNING"), BACK_MARKER, Fix.DONE),
    (BACKWARD, execution(1, "RUNNING"), BACK_MARKER, Fix.DONE),
    (BACKWARD, execution(3, "RUNNING"), BACK_MARKER, Fix.MOVE),
    (BACKWARD, execution(3, "PAUSED"), BACK_MARKER, Fix.MOVE),
    (BACKWARD, execution(3, "TERMINATED", BACK_MARKER), BACK_MARKER, Fix.RESTART),
    (BACKWARD, execution(3, "TERMINATED", MARKER), BACK_MARKER, Fix.ENDED),
    (BACKWARD, execution(3, "TERMINATED", "someone"), BACK_MARKER, Fix.ENDED),
    (BACKWARD, execution(3, "COMPLETED"), BACK_MARKER, Fix.ENDED),
    (BACKWARD, execution(3, "FAILED"), BACK_MARKER, Fix.ENDED),
])
def test_resolve_judges_a_pending_entry_from_the_execution(entry, found, marker, fix):
    assert resolve(entry, found, marker) is fix


def test_resolve_reads_a_missing_version_as_zero():
    assert resolve(FORWARD, {"status": "RUNNING"}, MARKER) is Fix.DONE
    assert resolve(move(from_version=0), {"status": "RUNNING"}, MARKER) is Fix.MOVE


# ---- the waves of a spec ---------------------------------------------------------------------------

def shape(waves):
    return [(w.number, w.label, w.count, w.percent, w.pause) for w in waves]


def test_no_spec_is_one_wave_of_everything():
    assert shape(waves_of(None)) == [(1, "all remaining", None, 100, None)]


def test_an_empty_spec_is_one_wave_of_the_rest():
    assert shape(waves_of(upgrade_waves())) == [(1, "the rest", None, 100, None)]


def test_a_canary_and_steps_reaching_100_percent_add_no_wave():
    waves = waves_of(upgrade_waves(canary={"count": 1, "selector": {"currentTask": "a"}},
                                   steps=[{"percent": 50, "pause": "10m"}, {"percent": 100}]))
    assert shape(waves) == [(0, "canary", 1, None, None), (1, "step 1", None, 50, "10m"),
                            (2, "step 2", None, 100, None)]
    assert waves[0].selector == CanarySelector(current_task="a")
    assert waves[1].selector is None and waves[2].selector is None


def test_steps_short_of_100_percent_get_a_last_wave_of_the_rest():
    waves = waves_of(upgrade_waves(steps=[{"percent": 10}, {"percent": 60, "pause": "1h"}]))
    assert shape(waves) == [(1, "step 1", None, 10, None), (2, "step 2", None, 60, "1h"),
                            (3, "the rest", None, 100, None)]


def test_a_canary_alone_is_followed_by_the_rest():
    waves = waves_of(upgrade_waves(canary={"percent": 5}))
    assert shape(waves) == [(0, "canary", None, 5, None), (1, "the rest", None, 100, None)]


# ---- quota: how many a wave moves ------------------------------------------------------------------

@pytest.mark.parametrize(("wave", "total", "done", "size"), [
    (Wave(0, "canary", count=1), 10, 0, 1),
    (Wave(0, "canary", count=3), 10, 1, 2),
    (Wave(0, "canary", count=3), 10, 3, 0),
    (Wave(0, "canary", count=5), 2, 0, 5),  # more than there are: pick takes what there is
    (Wave(0, "canary", percent=10), 10, 0, 1),
    (Wave(0, "canary", percent=10), 11, 0, 2),  # rounded up: 1.1 is 2
    (Wave(0, "canary", percent=1), 1, 0, 1),
    (Wave(0, "canary", percent=10), 0, 0, 0),
    (Wave(1, "step 1", percent=50), 10, 1, 4),  # cumulative: the canary's one counts
    (Wave(1, "step 1", percent=50), 9, 1, 4),  # 4.5 is 5, less 1
    (Wave(1, "step 1", percent=50), 10, 5, 0),
    (Wave(1, "step 1", percent=50), 10, 7, 0),  # never negative
    (Wave(2, "step 2", percent=100), 10, 5, 5),
    (Wave(2, "step 2", percent=100), 10, 10, 0),
    (Wave(1, "empty", percent=None), 10, 0, 0),
])
def test_quota_is_the_wave_s_cumulative_size_less_what_was_done(wave, total, done, size):
    assert quota(wave, total, done) == size


def test_quotas_of_a_whole_plan_add_up_to_every_execution():
    waves = waves_of(upgrade_waves(canary={"count": 1}, steps=[{"percent": 25}, {"percent": 50}]))
    done, sizes = 0, []
    for wave in waves:
        size = quota(wave, 13, done)
        sizes.append(size)
        done += size
    assert sizes == [1, 3, 3, 6] and done == 13


# ---- which executions a wave picks --------------------------------------------------------------------

def hours_ago(hours):
    return T0 - timedelta(hours=hours)


def test_pick_takes_the_oldest_first_then_by_id_and_unknown_starts_last():
    items = [item("e5", hours_ago(1)), item("e2", None), item("e4", hours_ago(3)), item("e1", None),
             item("e3", hours_ago(3)), item("e6", hours_ago(2))]
    every = Wave(1, "all", percent=100)
    assert [c.execution_id for c in pick(items, every, 10, T0)] == ["e3", "e4", "e6", "e5", "e1", "e2"]
    assert [c.execution_id for c in pick(items, every, 2, T0)] == ["e3", "e4"]
    assert pick(items, every, 0, T0) == []
    assert [c.execution_id for c in pick(reversed(items), every, 3, T0)] == ["e3", "e4", "e6"], "order-independent"


def test_pick_takes_only_what_the_selector_admits():
    items = [item("old-a", hours_ago(5), correlation_id="eu-1", task="a"),
             item("old-b", hours_ago(4), correlation_id="us-1", task="b"),
             item("new-a", hours_ago(0.5), correlation_id="eu-2", task="a"),
             item("old-eu-b", hours_ago(3), correlation_id="eu-3", task="b")]
    canary = Wave(0, "canary", count=5, selector=CanarySelector(older_than="1h", correlation_id_pattern="^eu-"))
    assert [c.execution_id for c in pick(items, canary, 5, T0)] == ["old-a", "old-eu-b"]
    on_b = Wave(0, "canary", count=1, selector=CanarySelector(current_task="b"))
    assert [c.execution_id for c in pick(items, on_b, 1, T0)] == ["old-b"]


@pytest.mark.parametrize(("selector", "candidate_", "admitted"), [
    (None, item("e", None, task=None), True),
    (CanarySelector(), item("e", None, task=None), True),
    (CanarySelector(older_than="1h"), item("e", hours_ago(2)), True),
    (CanarySelector(older_than="1h"), item("e", hours_ago(1)), True),  # exactly that old
    (CanarySelector(older_than="1h"), item("e", T0 - timedelta(minutes=59, seconds=59)), False),
    (CanarySelector(older_than="1h"), item("e", None), False),  # unknown start: not known to be old
    (CanarySelector(correlation_id_pattern="^eu-"), item("e", correlation_id="eu-7"), True),
    (CanarySelector(correlation_id_pattern="^eu-"), item("e", correlation_id="us-eu-7"), False),
    (CanarySelector(correlation_id_pattern="eu"), item("e", correlation_id="us-eu-7"), True),  # search, not match
    (CanarySelector(correlation_id_pattern=r"order-\d+$"), item("e", correlation_id="order-12"), True),
    (CanarySelector(correlation_id_pattern=r"order-\d+$"), item("e", correlation_id="order-12x"), False),
    (CanarySelector(correlation_id_pattern="eu"), item("e", correlation_id=None), False),
    (CanarySelector(correlation_id_pattern="^$"), item("e", correlation_id=None), True),
    (CanarySelector(current_task="a"), item("e", task="a"), True),
    (CanarySelector(current_task="a"), item("e", task="b"), False),
    (CanarySelector(current_task="a"), item("e", task=None), False),
    (CanarySelector(older_than="1h", current_task="a"), item("e", hours_ago(2), task="b"), False),
    (CanarySelector(older_than="1h", correlation_id_pattern="x", current_task="a"),
     item("e", hours_ago(2), correlation_id="x", task="a"), True),
])
def test_selected(selector, candidate_, admitted):
    assert selected(candidate_, selector, T0) is admitted


@pytest.mark.parametrize(("task", "why"), [
    (None, None),  # before its first task: it starts on the target from the beginning
    ("a", None),
    ("nested", None),
    ("gone", "its current task gone is not in the target"),
])
def test_ineligibility_when_the_current_task_is_not_in_the_target(task, why):
    assert ineligibility(item("e", task=task), {"a", "nested"}) == why


def test_task_refs_take_nested_tasks():
    definition = {"tasks": [
        {"name": "a", "taskReferenceName": "a", "type": "SIMPLE"},
        {"name": "f", "taskReferenceName": "fork", "type": "FORK_JOIN",
         "forkTasks": [[{"name": "l", "taskReferenceName": "left", "type": "SIMPLE"}]]},
        {"name": "s", "taskReferenceName": "route", "type": "SWITCH",
         "decisionCases": {"x": [{"name": "x", "taskReferenceName": "case_x", "type": "SIMPLE"}]},
         "defaultCase": [{"name": "d", "taskReferenceName": "dflt", "type": "SIMPLE"}]},
    ]}
    assert task_refs(definition) == {"a", "fork", "left", "route", "case_x", "dflt"}
    assert task_refs({}) == set()


def test_listed_ineligible_is_twenty():
    assert LISTED_INELIGIBLE == 20


# ---- current task and candidates ---------------------------------------------------------------------

@pytest.mark.parametrize(("tasks", "current"), [
    (None, None),
    ([], None),
    ([{"referenceTaskName": "a", "status": "COMPLETED"}], None),
    ([{"referenceTaskName": "a", "status": "COMPLETED"}, {"referenceTaskName": "b", "status": "SCHEDULED"}], "b"),
    ([{"referenceTaskName": "a", "status": "IN_PROGRESS"}, {"referenceTaskName": "b", "status": "COMPLETED"}], "a"),
    ([{"referenceTaskName": "l", "status": "IN_PROGRESS"}, {"referenceTaskName": "r", "status": "SCHEDULED"}], "r"),
    ([{"referenceTaskName": "a", "status": "FAILED"}, {"referenceTaskName": "a2", "status": "CANCELED"}], None),
])
def test_current_task_is_the_last_scheduled_or_in_progress(tasks, current):
    assert current_task({"tasks": tasks} if tasks is not None else {}) == current


T0_MILLIS = int(T0.timestamp() * 1000)


def test_candidate_reads_an_execution():
    found = candidate({"workflowId": "e1", "workflowVersion": 2, "status": "PAUSED", "correlationId": "c-1",
                       "startTime": T0_MILLIS, "tasks": [{"referenceTaskName": "a", "status": "IN_PROGRESS"}]})
    assert found == Candidate("e1", 2, "PAUSED", T0, "c-1", "a")
    bare = candidate({"workflowId": 7, "status": "RUNNING"})
    assert bare == Candidate("7", 0, "RUNNING", None, None, None)


def test_a_candidate_from_bulk_search_has_its_age_from_create_time():
    """POST /workflow/bulk/search (Conductor OSS 3.32.3) answers with createTime and no startTime."""
    found = candidate({"workflowId": "e1", "workflowVersion": 1, "status": "RUNNING", "createTime": T0_MILLIS,
                       "updatedTime": T0_MILLIS + 5000})
    assert found.started == T0


@pytest.mark.parametrize(("execution", "started"), [
    ({"startTime": T0_MILLIS, "createTime": T0_MILLIS}, T0),  # GET /workflow/{id}: both, equal
    ({"createTime": T0_MILLIS}, T0),  # bulk search: createTime only
    ({"startTime": T0_MILLIS, "createTime": T0_MILLIS - 60_000}, T0),  # startTime wins where both are given
    ({"startTime": 0, "createTime": T0_MILLIS}, T0),  # a zero is no time
    ({"createTime": str(T0_MILLIS)}, T0),
    ({"startTime": T0_MILLIS + 1500}, T0 + timedelta(milliseconds=1500)),
    ({}, None),
    ({"startTime": None, "createTime": 0}, None),
])
def test_started_at_reads_start_time_else_create_time(execution, started):
    assert started_at(execution) == started


def test_selector_text_names_what_the_spec_set():
    assert selector_text(None) == "every execution"
    assert selector_text(CanarySelector()) == "every execution"
    assert selector_text(CanarySelector(older_than="30s", current_task="b")) == "olderThan 30s, currentTask b"
    assert selector_text(CanarySelector(correlation_id_pattern="^eu-")) == "correlationIdPattern ^eu-"


# ---- the health gate ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("moved", "failed", "max_percent", "exceeds"), [
    (0, 0, 0, False),  # nothing moved: nothing to judge
    (10, 0, 0, False),
    (10, 1, 0, True),  # 0%: any failure fails
    (10, 1, 10, False),  # exactly the limit passes
    (10, 2, 10, True),
    (5, 1, 20, False),
    (6, 2, 33, True),  # 33.3% > 33%
    (3, 1, 33, True),  # 33.3% > 33%
    (3, 1, 34, False),
    (1, 1, 99, True),
    (1, 1, 100, False),  # 100%: never fails
    (4, 4, 100, False),
])
def test_the_health_gate_fails_only_above_the_limit(moved, failed, max_percent, exceeds):
    assert Health(moved, tuple(f"e{i}" for i in range(failed))).exceeds(max_percent) is exceeds


def test_health_judges_moved_entries_by_their_state_now():
    moves = [move("ok", MoveState.MOVED), move("failed", MoveState.MOVED), move("timed", MoveState.MOVED),
             move("killed", MoveState.MOVED), move("gone", MoveState.MOVED), move("done", MoveState.MOVED),
             move("refused", MoveState.FAILED), move("ended", MoveState.ENDED), move("pending", MoveState.INTENT),
             move("back", MoveState.ROLLED_BACK)]
    states = {"ok": "RUNNING", "failed": "FAILED", "timed": "TIMED_OUT", "killed": "TERMINATED", "gone": None,
              "done": "COMPLETED", "refused": "FAILED", "ended": "FAILED", "pending": "FAILED", "back": "FAILED"}
    assert health(moves, states) == Health(7, ("failed", "timed", "killed", "refused")), \
        "a move Conductor refused counts as tried and failed"
    assert health(moves, {}) == Health(7, ("refused",)), "a state not read is not judged"
    assert health([], states) == Health(0, ())


# ---- the estimated end of a drain -------------------------------------------------------------------

@pytest.mark.parametrize(("starts", "end"), [
    ([], None),
    ([T0 - timedelta(hours=2)], T0),  # alone: it has run 2h, so it may end now
    ([T0 - timedelta(hours=2), T0 - timedelta(minutes=30)], T0 + timedelta(hours=1, minutes=30)),
    ([T0 - timedelta(minutes=30), T0 - timedelta(hours=2)], T0 + timedelta(hours=1, minutes=30)),  # unsorted
    ([T0 - timedelta(hours=2), T0 - timedelta(hours=1), T0], T0 + timedelta(hours=2)),
    ([T0 + timedelta(minutes=5)], T0 + timedelta(minutes=5)),  # a start after now (clock skew): not before it
    ([T0 + timedelta(minutes=5), T0 + timedelta(minutes=10)], T0 + timedelta(minutes=10)),
])
def test_estimate_drain_end(starts, end):
    assert estimate_drain_end(starts, T0) == end


def test_estimate_drain_end_takes_any_iterable():
    assert estimate_drain_end(iter([T0 - timedelta(hours=1), T0]), T0) == T0 + timedelta(hours=1)
