"""`kubectl conductor plan`: reading OLD and NEW, the three outputs, what --from-cluster adds, and one-line errors."""

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import yaml
from conductor_operator.api.migration import MigrationPlan
from conductor_operator.cli import propose
from conductor_operator.cli.common import BadInput
from conductor_operator.cli.main import main
from conductor_operator.domain.proposal import Running, Trigger
from kubernetes.client.exceptions import ApiException

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def definition(*refs, name="orders", version=1):
    return {"name": name, "version": version,
            "tasks": [{"name": ref, "taskReferenceName": ref, "type": "SIMPLE"} for ref in refs]}


def manifest(*refs, name="orders", version=2, resource="orders-v2", **spec):
    body = definition(*refs)
    del body["name"], body["version"]
    return {"apiVersion": "conductor-operator.io/v1alpha1", "kind": "WorkflowDefinition",
            "metadata": {"name": resource},
            "spec": {"name": name, "version": version, "definition": body, "activation": "ByMigrationPlan", **spec}}


@pytest.fixture
def write(tmp_path):
    def write(file_name, content):
        path = tmp_path / file_name
        path.write_text(content if isinstance(content, str) else
                        json.dumps(content) if file_name.endswith(".json") else yaml.safe_dump(content))
        return str(path)
    return write


@pytest.fixture
def files(write):
    """v1 as Conductor JSON; v2 as a manifest appending a task (Safe)."""
    return write("v1.json", definition("a", "b")), write("v2.yaml", manifest("a", "b", "c"))


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def cluster(monkeypatch):
    """--from-cluster answered by a fake: 30 executions of v1 running for 1..30 hours, a schedule."""
    seen = {}

    def observe(args, change):
        seen.update(namespace=args.namespace, cluster=change.cluster_ref, workflow=change.workflow)
        ages = tuple(timedelta(hours=h) for h in range(1, 31))
        return propose.Observed([Running(1, 30, ages)], [Trigger("Schedule", "hourly")], "http://conductor:8080")

    monkeypatch.setattr(propose, "observe", observe)
    return seen


# ---- outputs ----------------------------------------------------------------------------------

def test_yaml_is_the_manifest_with_the_reasons_as_comments(files, capsys):
    code, out, err = run(capsys, "plan", *files)
    assert (code, err) == (0, "")
    assert out.startswith("# Proposed by `kubectl conductor plan` (verdict Safe): strategy parallel.\n")
    assert "# - SafeRunsSideBySide: the verdict is Safe" in out
    assert "# - Unknown: the running executions" in out
    plan = yaml.safe_load(out)
    assert MigrationPlan.model_validate(plan).spec.strategy.name == "parallel"
    assert plan["metadata"] == {"name": "orders-to-v2"}
    assert plan["spec"]["to"] == {"workflowDefinitionRef": {"name": "orders-v2"}}
    assert plan["spec"]["from"] == {"versions": [1]}


def test_markdown_is_the_runbook_then_the_manifest(files, capsys):
    code, out, _ = run(capsys, "plan", *files, "-o", "markdown", "-n", "team")
    assert code == 0
    assert out.startswith("# orders: v1 -> v2 with `parallel`\n")
    for section in ("## Why", "## Unknown", "## What will happen", "## What to watch", "## How to roll back",
                    "## The MigrationPlan to commit"):
        assert f"\n{section}\n" in out
    assert "`kubectl conductor status orders-to-v2 -n team`" in out
    block = out.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert yaml.safe_load(block)["metadata"] == {"name": "orders-to-v2", "namespace": "team"}


def test_json_is_machine_readable(files, capsys):
    code, out, _ = run(capsys, "plan", *files, "-o", "json", "--name", "ship-it")
    document = json.loads(out)
    assert code == 0
    assert (document["verdict"], document["strategy"]) == ("Safe", "parallel")
    assert document["reasons"][0]["rule"] == "SafeRunsSideBySide"
    assert document["manifest"]["metadata"]["name"] == "ship-it"
    assert document["runbook"].startswith("# orders: v1 -> v2")
    assert "observed" not in document


def test_from_cluster_feeds_the_running_executions_and_triggers(write, cluster, capsys):
    old = write("v1.json", definition("a", "b"))
    new = write("v2.yaml", manifest("a", "x", "b", clusterRef={"name": "prod"}))  # inserted: Caution
    code, out, _ = run(capsys, "plan", old, new, "--from-cluster", "-n", "team", "-o", "json")
    document = json.loads(out)
    assert code == 0
    assert cluster == {"namespace": "team", "cluster": "prod", "workflow": "orders"}
    assert document["unknowns"] == []
    assert document["strategy"] == "parallel"  # a 44h drain would pause the schedule too long
    assert [r["rule"] for r in document["reasons"]][:1] == ["DrainTooLongRunSideBySide"]
    assert document["manifest"]["spec"]["clusterRef"] == {"name": "prod"}
    assert document["observed"] == {"conductor": "http://conductor:8080",
                                    "running": [{"version": 1, "count": 30, "oldestAgeSeconds": 30 * 3600}],
                                    "triggers": [{"kind": "Schedule", "name": "hourly", "pinnedVersion": None}]}


def test_from_cluster_with_idempotent_workers_moves_a_breaking_change_in_waves(write, cluster, capsys):
    old, new = write("v1.json", definition("a", "b")), write("v2.yaml", manifest("a"))
    code, out, _ = run(capsys, "plan", old, new, "--from-cluster", "--workers-idempotent")
    plan = yaml.safe_load(out)
    assert code == 0, "a proposal is an answer, also for a breaking change"
    waves = plan["spec"]["strategy"]["upgradeWaves"]
    assert (waves["acknowledgeBreaking"], waves["canary"]) == (True, {"count": 1})
    assert "# Running executions and triggers read from http://conductor:8080." in out


def test_max_trigger_pause_lets_a_long_drain_through(write, cluster, capsys):
    old, new = write("v1.json", definition("a", "b")), write("v2.yaml", manifest("a", "x", "b"))
    code, out, _ = run(capsys, "plan", old, new, "--from-cluster", "--max-trigger-pause", "48h")
    assert code == 0
    assert yaml.safe_load(out)["spec"]["strategy"] == {"drain": {"deadline": "44h", "onDeadline": "Wait",
                                                                 "pauseTriggers": True}}


def test_a_json_target_gets_a_derived_resource_name(write, capsys):
    old, new = write("v1.json", definition("a")), write("v2.json", definition("a", "b", name="orders", version=2))
    code, out, _ = run(capsys, "plan", old, new, "-o", "json")
    document = json.loads(out)
    assert document["manifest"]["spec"]["to"] == {"workflowDefinitionRef": {"name": "orders-v2"}}
    assert "CreateTargetResource" in [r["rule"] for r in document["reasons"]]


def test_the_examples_propose_plans(capsys):
    code, out, _ = run(capsys, "plan", "examples/customer-onboarding-v1.yaml", "examples/customer-onboarding-v2.yaml")
    assert code == 0
    assert yaml.safe_load(out)["spec"]["strategy"] == {"drain": {"deadline": "24h", "onDeadline": "Wait",
                                                                 "pauseTriggers": True}}


# ---- errors: one line, exit 2 -----------------------------------------------------------------

@pytest.mark.parametrize(("old", "new", "expected"), [
    (definition("a"), definition("a", name="payments", version=2),
     "defines workflow 'orders' and {new} 'payments': a MigrationPlan moves between versions of one workflow"),
    (definition("a", version=3), definition("a", version=2),
     "is v3 and {new} v2: the target must be the higher version"),
    (definition("a"), {"name": "orders", "tasks": []}, "{new}: the definition has no version"),
    (definition("a"), definition("a", version="2"), "{new}: version '2' is not a positive whole number"),
])
def test_changes_no_plan_can_make(write, capsys, old, new, expected):
    old_path, new_path = write("old.json", old), write("new.json", new)
    code, out, err = run(capsys, "plan", old_path, new_path)
    assert (code, out) == (2, "")
    assert err.startswith("kubectl-conductor: error: ") and err.count("\n") == 1
    assert expected.format(new=new_path) in err


def test_a_plan_name_kubernetes_refuses_is_refused(files, capsys):
    code, out, err = run(capsys, "plan", *files, "--name", "Ship_It")
    assert (code, out) == (2, "")
    assert err.startswith("kubectl-conductor: error: --name 'Ship_It' cannot name a MigrationPlan")


def test_a_missing_file_is_one_line(write, capsys):
    code, _, err = run(capsys, "plan", "/nonexistent/v1.json", write("v2.json", definition("a", version=2)))
    assert (code, err) == (2, "kubectl-conductor: error: /nonexistent/v1.json: no such file\n")


@pytest.mark.parametrize("argv", [["-o", "text"], ["--max-trigger-pause", "2d"]])
def test_bad_options_are_usage_errors(files, capsys, argv):
    code, out, err = run(capsys, "plan", *files, *argv)
    assert (code, out) == (2, "")
    assert "usage:" in err


def test_a_cluster_failure_is_one_line(files, monkeypatch, capsys):
    def observe(args, change):
        raise BadInput("ConductorCluster team/default not found: the plan needs ...")

    monkeypatch.setattr(propose, "observe", observe)
    code, out, err = run(capsys, "plan", *files, "--from-cluster")
    assert (code, out) == (2, "")
    assert err == "kubectl-conductor: error: ConductorCluster team/default not found: the plan needs ...\n"


# ---- reading the cluster ----------------------------------------------------------------------

def test_kube_call_turns_api_errors_into_bad_input():
    api_client = SimpleNamespace(configuration=SimpleNamespace(host="https://k8s"))

    def missing(*args, **kwargs):
        raise ApiException(status=404, reason="Not Found")

    def forbidden(*args, **kwargs):
        error = ApiException(status=403, reason="Forbidden")
        error.body = json.dumps({"message": "secrets \"key\" is forbidden"})
        raise error

    with pytest.raises(BadInput, match="ConductorCluster team/default not found: .* pass -n NAMESPACE"):
        propose._kube_call(api_client, "ConductorCluster team/default", missing)
    with pytest.raises(BadInput, match="not allowed to read Secret team/key: secrets \"key\" is forbidden"):
        propose._kube_call(api_client, "Secret team/key", forbidden)


def test_secret_values_are_decoded_or_refused():
    assert propose._secret_value({"keyId": "aWQ="}, "team", "orkes", "keyId") == "id"
    with pytest.raises(BadInput, match="Secret team/orkes has no key 'keySecret'"):
        propose._secret_value({}, "team", "orkes", "keySecret")


def test_running_executions_are_counted_and_aged_per_version():
    hour = 3600 * 1000
    start = int(NOW.timestamp() * 1000)
    executions = [{"workflowVersion": 1, "createTime": start - 2 * hour},
                  {"workflowVersion": 1, "startTime": start - hour},
                  {"workflowVersion": 2},  # no start time: counted, not aged
                  {"workflowVersion": 1, "startTime": start + hour}]  # a clock ahead: age 0
    assert propose.running_by_version(executions, NOW) == [
        Running(1, 3, (timedelta(0), timedelta(hours=1), timedelta(hours=2))), Running(2, 1, ())]


def test_dns_names_from_conductor_names():
    assert propose.dns_name("Customer_Onboarding") == "customer-onboarding"
    assert propose.dns_name("__") == "workflow"
