import io
import json
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import urllib3
import yaml
from conductor_operator.cli import plans
from conductor_operator.cli.common import BadInput
from conductor_operator.cli.main import main
from kubernetes.client.exceptions import ApiException

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TOKEN = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")


def plan(status=None, strategy=None, **spec):
    body = {"apiVersion": "conductor-operator.io/v1alpha1", "kind": "MigrationPlan",
            "metadata": {"name": "orders-to-v2", "namespace": "team", "generation": 1},
            "spec": {"workflowName": "orders", "from": {"allOlder": True},
                     "to": {"workflowDefinitionRef": {"name": "orders-v2"}},
                     "strategy": strategy or {"parallel": {}}, **spec}}
    if status is not None:
        body["status"] = status
    return body


CONDITIONS = [
    {"type": "Ready", "status": "True", "reason": "Accepted", "message": "the target is registered"},
    {"type": "Reconciling", "status": "True", "reason": "Moving", "message": ""},
]

WAVES_PLAN = plan(
    strategy={"upgradeWaves": {"canary": {"count": 2}, "steps": [{"percent": 50}, {"percent": 100}]}},
    status={
        "observedGeneration": 1, "phase": "Moving", "message": "wave 1 of 2 is watched by the health gate",
        "verdict": {"level": "Caution", "fromVersions": [1], "toVersion": 2, "findings": [
            {"level": "Caution", "reason": "TaskInserted", "taskRef": "review", "message": "inserted before ship"}]},
        "versions": [{"version": 1, "running": 11, "readAt": "2026-11-24T11:59:00Z"},
                     {"version": 2, "running": 9, "readAt": "2026-11-24T11:59:00Z"}],
        "running": {"old": 11, "target": 9, "readAt": "2026-11-24T11:59:00Z"},
        "gates": [{"name": "Workers", "passed": True, "reason": "WorkersSeen", "message": "every task has a worker"},
                  {"name": "smoke", "passed": False, "reason": "OutputMismatch", "message": "riskTier was LOW"}],
        "waves": {"current": 1, "count": 3, "state": "Watching", "since": "2026-11-24T11:50:00Z",
                  "until": "2026-11-24T12:00:30Z", "total": 20, "moved": 9, "ineligible": 2, "failed": 1,
                  "rolledBack": 0, "ineligibleExecutions": ["e-17: its current task legacy is not in the target"],
                  "message": "1 of 9 moved executions failed (11%)",
                  "gates": [{"name": "probe", "passed": True, "reason": "GatePassed", "message": "completed"},
                            {"name": "load", "passed": False, "reason": "GateRunning", "message": "RUNNING"}]},
        "handledRequests": {"promote": {"token": "t-1", "handledAt": "2026-11-24T11:00:00Z",
                                        "result": "went on past the canary"}},
        "conditions": CONDITIONS,
    })

DRAIN_PLAN = plan(
    strategy={"drain": {"deadline": "4h"}},
    status={
        "observedGeneration": 1, "phase": "Draining", "message": "waiting for 12 executions of v1",
        "running": {"old": 12, "target": 0},
        "drain": {"since": "2026-11-24T11:00:00Z", "deadline": "2026-11-24T15:00:00Z",
                  "estimatedEnd": "2026-11-24T13:30:00Z", "zeroReadings": 0},
        "triggers": [{"kind": "EventHandler", "name": "orders-events", "state": "Paused"},
                     {"kind": "Schedule", "name": "nightly-orders", "state": "Paused"}],
        "rollback": {"startedAt": "2026-11-24T11:30:00Z", "version": 3, "fromVersion": 1},
        "conditions": CONDITIONS,
    })


class FakePlans:
    """One plan in namespace "team"; records spec patches; plays an operator that handles a request once
    `get` was called `handle_after` times after the patch (never when None)."""

    def __init__(self, body=None, handle_after=None):
        self.namespace = "team"
        self.body = body or plan(status={})
        self.patches = []
        self.handle_after = handle_after
        self.gets_since_patch = 0

    def get(self, name):
        self.gets_since_patch += 1
        requests = self.body["spec"].get("requests") or {}
        if requests and self.handle_after is not None and self.gets_since_patch >= self.handle_after:
            handled = self.body.setdefault("status", {}).setdefault("handledRequests", {})
            for kind, token in requests.items():
                handled[kind] = {"token": token, "handledAt": "2026-11-24T12:00:05Z", "result": f"{kind} done"}
        return self.body

    def patch_spec(self, name, spec):
        self.patches.append((name, spec))
        for key, value in spec.items():
            if isinstance(value, dict):
                self.body["spec"].setdefault(key, {}).update(value)
            else:
                self.body["spec"][key] = value
        self.gets_since_patch = 0
        return self.body


@pytest.fixture
def connected(monkeypatch):
    """Replaces plans.connect; `connected(fake)` makes it return fake, and `.calls` lists its arguments."""
    calls = []

    def use(fake):
        def connect(kubeconfig, context, namespace):
            calls.append((kubeconfig, context, namespace))
            return fake
        monkeypatch.setattr(plans, "connect", connect)
        return fake

    use.calls = calls
    return use


@pytest.fixture
def no_cluster(monkeypatch):
    def connect(*args):
        raise AssertionError("the command must not talk to the cluster")
    monkeypatch.setattr(plans, "connect", connect)


class Terminal(io.StringIO):
    def isatty(self):
        return True


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---- progress bars ------------------------------------------------------------------------------

@pytest.mark.parametrize(("done", "total", "expected"), [
    (0, 20, "[....................]   0% (0/20)"),
    (9, 20, "[#########...........]  45% (9/20)"),
    (1, 3, "[######..............]  33% (1/3)"),
    (20, 20, "[####################] 100% (20/20)"),
    (0, 0, "[....................]   0% (0/0)"),
])
def test_progress_bar(done, total, expected):
    assert plans.progress_bar(done, total) == expected


def test_time_bar_shows_elapsed_share_and_durations():
    since = NOW - timedelta(hours=1)
    assert plans.time_bar(since, since + timedelta(hours=4), NOW) == "[#####...............]  25% (1h of 4h)"


def test_time_bar_is_full_past_the_deadline():
    since = NOW - timedelta(hours=5)
    assert plans.time_bar(since, since + timedelta(hours=4), NOW) == "[####################] 100% (5h of 4h)"


# ---- status -------------------------------------------------------------------------------------

def test_status_of_a_waves_plan():
    text = plans.render_status(WAVES_PLAN, NOW)
    lines = text.splitlines()
    assert lines[0] == "MigrationPlan team/orders-to-v2 (workflow orders, strategy upgradeWaves)"
    assert "Phase:    Moving" in lines
    assert "Message:  wave 1 of 2 is watched by the health gate" in lines
    assert "Verdict: Caution (1 finding), v1 -> v2" in lines
    assert "  Caution  TaskInserted  review  inserted before ship" in lines
    assert "Running executions: old versions 11, target 9; read 2026-11-24T11:59:00Z (1m ago)" in lines
    assert "  v1       11       2026-11-24T11:59:00Z (1m ago)" in lines
    assert "  passed  Workers  WorkersSeen     every task has a worker" in lines
    assert "  FAILED  smoke    OutputMismatch  riskTier was LOW" in lines
    assert ("Waves: wave 1 of 2, Watching since 2026-11-24T11:50:00Z (10m ago) until 2026-11-24T12:00:30Z (in 30s)"
            in lines)
    assert "  moved  [#########...........]  45% (9/20)" in lines
    assert "  ineligible 2, failed 1, rolled back 0" in lines
    assert "  health gate: 1 of 9 moved executions failed (11%)" in lines
    assert "    e-17: its current task legacy is not in the target" in lines
    assert "  passed   check probe  completed" in lines and "  not yet  check load   RUNNING" in lines
    assert "  promote  t-1    2026-11-24T11:00:00Z (1h ago)  went on past the canary" in lines
    assert "  Ready        True    Accepted  the target is registered" in lines
    assert "Drain" not in text and "Paused:" not in text


def test_status_shows_standing_warnings_beside_the_verdict():
    verdict = {"level": "Safe", "fromVersions": [1], "toVersion": 2, "findings": [
        {"level": "Safe", "reason": "TaskAppended", "taskRef": "ship", "message": "appended"}], "standingWarnings": [
        {"reason": "UnpinnedSubWorkflow", "taskRef": "run_child", "message": "v1: starts child unpinned, v1 too"}]}
    lines = plans.render_status(plan({**WAVES_PLAN["status"], "verdict": verdict}), NOW).splitlines()
    at = lines.index("Verdict: Safe (1 finding; 1 standing warning), v1 -> v2")
    assert lines[at + 1:at + 4] == ["  Safe  TaskAppended  ship  appended",
                                    "Standing warnings (old and new alike; they do not raise the verdict):",
                                    "  UnpinnedSubWorkflow  run_child  v1: starts child unpinned, v1 too"]


def test_status_of_the_canary_wave():
    body = plan(strategy=WAVES_PLAN["spec"]["strategy"],
                status={"phase": "Moving", "waves": {"current": 0, "count": 3, "state": "Moving", "total": 20,
                                                     "moved": 0}})
    lines = plans.render_status(body, NOW).splitlines()
    assert "Waves: the canary, then 2 waves, Moving" in lines
    assert "  moved  [....................]   0% (0/20)" in lines


def test_status_of_a_held_canary_says_why_it_holds():
    why = "canary selected nothing: its selector (olderThan 1h) admits none of the 20 execution(s) it could move"
    body = plan(strategy=WAVES_PLAN["spec"]["strategy"],
                status={"phase": "Moving", "waves": {"current": 0, "count": 3, "state": "Held", "total": 20,
                                                     "moved": 0, "message": why}})
    text = plans.render_status(body, NOW)
    assert f"  held: {why}" in text.splitlines()
    assert "health gate:" not in text


def test_status_of_a_drain_plan():
    text = plans.render_status(DRAIN_PLAN, NOW)
    lines = text.splitlines()
    assert lines[0] == "MigrationPlan team/orders-to-v2 (workflow orders, strategy drain)"
    assert ("Drain: since 2026-11-24T11:00:00Z (1h ago), deadline 2026-11-24T15:00:00Z (in 3h)") in lines
    assert "  time to the deadline  [#####...............]  25% (1h of 4h)" in lines
    assert ("  old executions remaining: 12; estimated end 2026-11-24T13:30:00Z (in 1h30m); "
            "zero readings in a row: 0") in lines
    assert "  EventHandler  orders-events   Paused" in lines
    assert "  Schedule      nightly-orders  Paused" in lines
    assert "Rollback: started 2026-11-24T11:30:00Z (30m ago); v3 republishes the content of v1" in lines
    assert "Waves" not in text


def test_status_of_a_drained_plan_says_when_instead_of_a_bar():
    body = plan(strategy={"drain": {"deadline": "4h"}},
                status={"phase": "Completed", "drain": {**DRAIN_PLAN["status"]["drain"],
                                                        "drainedAt": "2026-11-24T11:45:00Z"}})
    text = plans.render_status(body, NOW)
    assert "  drained at 2026-11-24T11:45:00Z (15m ago)" in text.splitlines()
    assert "time to the deadline" not in text


def test_status_of_an_ended_plan_says_its_counts_are_from_its_end():
    body = plan(status={"observedGeneration": 1, "phase": "Completed", "endedAt": "2026-11-24T09:00:00Z",
                        "running": {"old": 0, "target": 12, "readAt": "2026-11-24T09:00:00Z"}})
    lines = plans.render_status(body, NOW).splitlines()
    assert "Ended:    2026-11-24T09:00:00Z (3h ago); the counts below are as of then" in lines


@pytest.mark.parametrize("status", [None, {"observedGeneration": -1}], ids=["no status", "the CRD's default"])
def test_status_of_a_new_plan(status):
    text = plans.render_status(plan(status), NOW)
    assert text.splitlines() == ["MigrationPlan team/orders-to-v2 (workflow orders, strategy parallel)",
                                 "Not reconciled yet: the plan has no status (is the operator running?)"]


def test_status_says_when_paused_and_behind():
    body = plan(status={"phase": "Gating", "observedGeneration": 1}, paused=True)
    body["metadata"]["generation"] = 2
    lines = plans.render_status(body, NOW).splitlines()
    assert "Paused:   yes (spec.paused: true; `kubectl conductor resume` goes on)" in lines
    assert "Behind:   the status describes generation 1, the spec is at 2" in lines


def test_status_command_prints_text(connected, capsys):
    connected(FakePlans(WAVES_PLAN))
    code, out, err = run(capsys, "status", "orders-to-v2")
    assert (code, err) == (0, "")
    assert out.startswith("MigrationPlan team/orders-to-v2 (workflow orders, strategy upgradeWaves)\n")
    assert "  moved  [#########...........]  45% (9/20)\n" in out


def test_status_command_prints_json(connected, capsys):
    connected(FakePlans(DRAIN_PLAN))
    code, out, _ = run(capsys, "status", "orders-to-v2", "-o", "json")
    assert code == 0
    assert json.loads(out) == DRAIN_PLAN["status"]


def test_status_json_of_a_new_plan_is_an_empty_object(connected, capsys):
    connected(FakePlans(plan()))
    code, out, _ = run(capsys, "status", "orders-to-v2", "-o", "json")
    assert (code, json.loads(out)) == (0, {})


def test_connection_flags_are_passed_on(connected, capsys):
    connected(FakePlans(plan()))
    run(capsys, "status", "orders-to-v2", "-n", "team", "--context", "prod", "--kubeconfig", "/k/config")
    run(capsys, "status", "orders-to-v2")
    assert connected.calls == [("/k/config", "prod", "team"), (None, None, None)]


# ---- default namespace --------------------------------------------------------------------------

@pytest.fixture
def kubeconfig(tmp_path):
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "dev",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "users": [{"name": "u", "user": {"token": "x"}}],
        "contexts": [{"name": "dev", "context": {"cluster": "c", "user": "u", "namespace": "team-dev"}},
                     {"name": "bare", "context": {"cluster": "c", "user": "u"}}]}))
    return str(path)


def test_namespace_defaults_to_the_current_context(kubeconfig):
    assert plans.default_namespace(kubeconfig, None) == "team-dev"


def test_namespace_of_a_named_context_else_default(kubeconfig):
    assert plans.default_namespace(kubeconfig, "bare") == "default"


def test_unknown_context_is_bad_input(kubeconfig):
    with pytest.raises(BadInput, match="no context named 'prod' in the kubeconfig"):
        plans.default_namespace(kubeconfig, "prod")


def test_missing_kubeconfig_exits_2(tmp_path, capsys):
    code, out, err = run(capsys, "status", "p", "--kubeconfig", str(tmp_path / "absent"))
    assert (code, out) == (2, "")
    assert err.startswith(f"kubectl-conductor: error: cannot load the kubeconfig {tmp_path / 'absent'}: ")
    assert err.count("\n") == 1


# ---- pause, resume ------------------------------------------------------------------------------

@pytest.mark.parametrize(("command", "paused"), [("pause", True), ("resume", False)])
def test_pause_and_resume_patch_spec_paused(connected, capsys, command, paused):
    fake = connected(FakePlans())
    code, out, _ = run(capsys, command, "orders-to-v2")
    assert code == 0
    assert fake.patches == [("orders-to-v2", {"paused": paused})]
    assert f"MigrationPlan team/orders-to-v2: spec.paused set to {str(paused).lower()}." in out
    assert plans.GITOPS_NOTE in out
    assert out.endswith(f"spec:\n  paused: {str(paused).lower()}\n")


def test_pause_print_only_sends_nothing(no_cluster, capsys):
    code, out, _ = run(capsys, "pause", "orders-to-v2", "--print-only")
    assert code == 0
    assert out == ("Nothing changed on the cluster (--print-only). Commit this to the MigrationPlan's manifest in "
                   "Git:\nspec:\n  paused: true\n")


# ---- requests -----------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [["promote"], ["abort", "--yes"], ["rollback", "-y"]])
def test_requests_patch_a_fresh_token(connected, capsys, argv):
    kind = argv[0]
    fake = connected(FakePlans())
    code, out, _ = run(capsys, *argv, "orders-to-v2")
    assert code == 0
    [(name, spec)] = fake.patches
    token = spec["requests"][kind]
    assert name == "orders-to-v2" and spec == {"requests": {kind: token}} and TOKEN.fullmatch(token)
    assert f"MigrationPlan team/orders-to-v2: {kind} requested with token {token}." in out
    assert f"status.handledRequests.{kind}" in out
    assert plans.GITOPS_NOTE in out
    assert yaml.safe_load(out[out.index("spec:"):]) == {"spec": {"requests": {kind: token}}}


def test_tokens_differ_within_the_same_second():
    assert plans.new_token(NOW) != plans.new_token(NOW)
    assert plans.new_token(NOW).startswith("20261124T120000Z-")


def test_request_print_only_sends_nothing(no_cluster, capsys):
    code, out, _ = run(capsys, "rollback", "orders-to-v2", "--print-only")
    assert code == 0
    token = yaml.safe_load(out[out.index("spec:"):out.index("The operator")])["spec"]["requests"]["rollback"]
    assert TOKEN.fullmatch(token)
    assert out.startswith("Nothing changed on the cluster (--print-only).")


@pytest.mark.parametrize("kind", ["abort", "rollback"])
def test_confirmation_is_refused_without_a_terminal(no_cluster, monkeypatch, capsys, kind):
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    code, out, err = run(capsys, kind, "orders-to-v2")
    assert (code, out) == (2, "")
    assert err == (f"kubectl-conductor: error: {kind} needs a confirmation and stdin is not a terminal; "
                   f"pass --yes\n")


def test_confirmation_declined_changes_nothing(connected, monkeypatch, capsys):
    fake = connected(FakePlans())
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    code, out, err = run(capsys, "abort", "orders-to-v2")
    assert (code, out, fake.patches) == (1, "", [])
    assert err.startswith("Abort MigrationPlan team/orders-to-v2: stop the migration where it is? [y/N] ")
    assert err.endswith("kubectl-conductor: abort cancelled; nothing changed\n")


def test_confirmation_accepted_sends_the_request(connected, monkeypatch, capsys):
    fake = connected(FakePlans())
    monkeypatch.setattr("sys.stdin", Terminal("yes\n"))
    code, _, err = run(capsys, "rollback", "orders-to-v2")
    assert code == 0
    assert "move the moved executions back to their old versions? [y/N]" in err
    assert list(fake.patches[0][1]["requests"]) == ["rollback"]


def test_wait_prints_what_the_operator_did(connected, monkeypatch, capsys):
    monkeypatch.setattr(plans, "POLL_INTERVAL_SECONDS", 0.001)
    fake = connected(FakePlans(handle_after=3))
    code, out, err = run(capsys, "promote", "orders-to-v2", "--wait")
    assert (code, err) == (0, "")
    assert fake.gets_since_patch == 3
    assert out.endswith("Handled at 2026-11-24T12:00:05Z: promote done\n")


def test_wait_ignores_an_earlier_request(connected, monkeypatch, capsys):
    monkeypatch.setattr(plans, "POLL_INTERVAL_SECONDS", 0.001)
    earlier = plan(status={"handledRequests": {"promote": {"token": "old", "result": "old result"}}})
    connected(FakePlans(earlier, handle_after=2))
    code, out, _ = run(capsys, "promote", "orders-to-v2", "--wait")
    assert code == 0
    assert "old result" not in out and out.endswith(": promote done\n")


def test_wait_times_out(connected, monkeypatch, capsys):
    monkeypatch.setattr(plans, "POLL_INTERVAL_SECONDS", 0.01)
    fake = connected(FakePlans(handle_after=None))
    code, _, err = run(capsys, "abort", "orders-to-v2", "--yes", "--wait", "--timeout", "50ms")
    token = fake.patches[0][1]["requests"]["abort"]
    assert code == 1
    assert fake.gets_since_patch >= 2
    assert err == (f"kubectl-conductor: error: the operator did not handle abort {token} within 0s (is it running?); "
                   f"the request stays in spec.requests.abort\n")


def test_wait_and_print_only_exclude_each_other(no_cluster, capsys):
    code, _, err = run(capsys, "promote", "p", "--wait", "--print-only")
    assert code == 2
    assert "not allowed with argument" in err


def test_timeout_takes_seconds_or_a_duration(capsys):
    assert plans._timeout("90") == 90.0
    assert plans._timeout("2m") == 120.0
    code, _, err = run(capsys, "promote", "p", "--timeout", "soon")
    assert code == 2 and "argument --timeout: 'soon' is not a duration" in err


# ---- Kubernetes errors --------------------------------------------------------------------------

class FailingCustomObjects:
    def __init__(self, error):
        self.error = error
        self.api_client = SimpleNamespace(configuration=SimpleNamespace(host="https://10.0.0.1:6443"))

    def get_namespaced_custom_object(self, *args, **kwargs):
        raise self.error

    patch_namespaced_custom_object = get_namespaced_custom_object


def api_error(status, message):
    return ApiException(status=status, reason="Reason", body=json.dumps({"kind": "Status", "message": message}))


@pytest.mark.parametrize(("argv", "error", "expected"), [
    (["status", "gone"], api_error(404, 'migrationplans.conductor-operator.io "gone" not found'),
     "MigrationPlan team/gone not found"),
    (["pause", "gone"], api_error(404, "the server could not find the requested resource"),
     "the MigrationPlan kind is not installed on this cluster (no CRD migrationplans.conductor-operator.io)"),
    (["status", "p"], api_error(401, "Unauthorized"),
     "the Kubernetes API server did not accept the kubeconfig's credentials (401 Unauthorized)"),
    (["promote", "p"], api_error(403, 'User "bob" cannot patch resource "migrationplans"'),
     'not allowed to change MigrationPlan team/p: User "bob" cannot patch resource "migrationplans"'),
    (["status", "p"], ApiException(status=500, reason="Internal Server Error"),
     "the Kubernetes API server refused to read MigrationPlan team/p: 500 Internal Server Error"),
    (["status", "p"], urllib3.exceptions.MaxRetryError(None, "/apis", urllib3.exceptions.NewConnectionError(
        "HTTPSConnection(host='10.0.0.1', port=6443)", "Failed to establish a new connection: [Errno 111] "
                                                        "Connection refused")),
     "cannot reach the Kubernetes API server at https://10.0.0.1:6443: Failed to establish a new connection: "
     "[Errno 111] Connection refused"),
])
def test_kubernetes_errors_exit_2_with_one_line(connected, capsys, argv, error, expected):
    connected(plans.KubernetesPlans(FailingCustomObjects(error), "team"))
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert err == f"kubectl-conductor: error: {expected}\n"


def test_interrupted_wait_exits_130_without_a_traceback(connected, monkeypatch, capsys):
    fake = connected(FakePlans())

    def interrupted(name):
        raise KeyboardInterrupt
    monkeypatch.setattr(fake, "get", interrupted)
    code, _, err = run(capsys, "promote", "orders-to-v2", "--wait")
    assert (code, err) == (130, "")
