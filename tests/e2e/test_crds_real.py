"""The generated CRDs as the real kube-apiserver serves them: defaults, CEL rules, strict fields, columns, examples.

The `crds` fixture (tests/e2e/conftest.py) applies crds/ with server-side apply and waits until
every CRD is Established. Each test gets a fresh namespace.
"""

from __future__ import annotations

import copy
import json
import re

import pytest
import yaml

from testenv.tools import REPO_ROOT

pytestmark = pytest.mark.realenv

API_VERSION = "conductor-operator.io/v1alpha1"
NOW = "2026-11-24T10:00:00Z"
TASK = {"name": "normalize_customer_profile", "taskReferenceName": "normalize_customer", "type": "SIMPLE"}

CLUSTER = {"apiVersion": API_VERSION, "kind": "ConductorCluster", "metadata": {"name": "default"},
           "spec": {"url": "http://conductor:8080"}}
WORKFLOW = {"apiVersion": API_VERSION, "kind": "WorkflowDefinition", "metadata": {"name": "wf"},
            "spec": {"name": "orders", "version": 1, "definition": {"tasks": [
                {**TASK, "inputParameters": {"x": 1, "nested": {"y": [1, "two"]}}, "optional": True}]}}}
TASK_DEF = {"apiVersion": API_VERSION, "kind": "TaskDefinition", "metadata": {"name": "td"},
            "spec": {"name": "normalize_customer_profile", "definition": {"retryCount": 3, "timeoutSeconds": 120}}}
PLAN = {"apiVersion": API_VERSION, "kind": "MigrationPlan", "metadata": {"name": "mp"},
        "spec": {"workflowName": "orders", "from": {"allOlder": True}, "to": {"workflowDefinitionRef": {"name": "v2"}},
                 "strategy": {"parallel": {}}}}


def _switch(depth: int) -> dict:
    """A SWITCH holding a SWITCH ... ``depth`` deep, with a SIMPLE task innermost."""
    task = TASK
    for level in range(depth):
        task = {"name": f"route{level}", "taskReferenceName": f"route{level}", "type": "SWITCH",
                "evaluatorType": "value-param", "expression": "x", "decisionCases": {"a": [task]}}
    return task


NESTED_5 = _switch(5)
"""Tasks nested one level past the CRD's limit of 4."""


def changed(document: dict, path: str, value) -> dict:
    """A copy of `document` with the dotted `path` set to `value` (or removed when value is ...)."""
    document = copy.deepcopy(document)
    *parents, last = path.split(".")
    node = document
    for key in parents:
        node = node.setdefault(key, {})
    if value is ...:
        node.pop(last, None)
    else:
        node[last] = value
    return document


def apply(kubectl, namespace: str, document: dict, *extra: str):
    return kubectl("apply", "-n", namespace, *extra, "-f", "-", input=json.dumps(document), check=False)


def applied(kubectl, namespace: str, document: dict, *extra: str) -> None:
    result = apply(kubectl, namespace, document, *extra)
    assert result.returncode == 0, result.stderr


def stored(kubectl, namespace: str, kind: str, name: str) -> dict:
    return json.loads(kubectl("get", kind, name, "-n", namespace, "-o", "json").stdout)


def refused(kubectl, namespace: str, document: dict, *extra: str) -> str:
    result = apply(kubectl, namespace, document, *extra)
    assert result.returncode != 0, f"the API server accepted {json.dumps(document['spec'])}"
    return result.stderr


# ---- valid objects and the server's defaults -----------------------------------------------------

def test_a_conductor_cluster_gets_its_defaults(crds, kubectl, namespace):
    applied(kubectl, namespace, CLUSTER, "--validate=strict")
    spec = stored(kubectl, namespace, "ccl", "default")["spec"]
    assert spec == {"url": "http://conductor:8080", "flavor": "Auto", "timeouts": {"connect": "5s", "request": "30s"},
                    "healthCheckInterval": "1m"}

    applied(kubectl, namespace, changed(CLUSTER, "spec", {
        "url": "https://orkes.example", "flavor": "Orkes", "auth": {"secretRef": {"name": "orkes-key"}},
        "tls": {"caBundle": "-----BEGIN CERTIFICATE-----"}, "timeouts": {"request": "1m"}}), "--validate=strict")
    spec = stored(kubectl, namespace, "ccl", "default")["spec"]
    assert spec["auth"] == {"secretRef": {"name": "orkes-key", "keyIdKey": "keyId", "keySecretKey": "keySecret"}}
    assert spec["tls"] == {"caBundle": "-----BEGIN CERTIFICATE-----", "insecureSkipVerify": False}
    assert spec["timeouts"] == {"connect": "5s", "request": "1m"}


def test_a_workflow_definition_gets_its_defaults_and_keeps_task_bodies(crds, kubectl, namespace):
    applied(kubectl, namespace, WORKFLOW, "--validate=strict")
    spec = stored(kubectl, namespace, "wfd", "wf")["spec"]
    assert spec["policy"] == {"onDelete": "Retain", "onDrift": "Reapply", "inPlaceChange": "Refuse"}
    assert spec["driftCheckInterval"] == "5m"
    assert spec["definition"]["schemaVersion"] == 2
    assert spec["definition"]["tasks"] == WORKFLOW["spec"]["definition"]["tasks"], "open task bodies are kept whole"


def test_a_workflow_definition_from_a_config_map(crds, kubectl, namespace):
    document = changed(changed(WORKFLOW, "spec.definition", ...), "spec.definitionFrom",
                       {"configMapKeyRef": {"name": "orders-v1", "key": "workflow.json"}})
    applied(kubectl, namespace, document, "--validate=strict")
    assert stored(kubectl, namespace, "wfdef", "wf")["spec"]["definitionFrom"] == document["spec"]["definitionFrom"]


def test_a_task_definition_gets_its_defaults(crds, kubectl, namespace):
    applied(kubectl, namespace, TASK_DEF, "--validate=strict")
    spec = stored(kubectl, namespace, "ctd", "td")["spec"]
    assert spec["policy"] == {"onDelete": "Retain", "onDrift": "Reapply"}
    assert spec["driftCheckInterval"] == "5m"
    assert spec["definition"] == {"retryCount": 3, "timeoutSeconds": 120}


def test_migration_plans_get_their_defaults(crds, kubectl, namespace):
    applied(kubectl, namespace, PLAN, "--validate=strict")
    spec = stored(kubectl, namespace, "mp", "mp")["spec"]
    assert spec["strategy"] == {"parallel": {"retireOldVersions": False, "retireAfter": "0s"}}
    assert spec["gates"] == {"requireWorkers": True, "workersSeenWithin": "5m"}
    assert spec["drainDetection"] == {"interval": "30s", "consecutiveZeroReadings": 3, "gracePeriod": "5m"}
    assert (spec["healthyWhen"], spec["dryRun"], spec["paused"]) == ("Accepted", False, False)

    drain = changed(changed(PLAN, "metadata.name", "drain"), "spec.strategy", {"drain": {"deadline": "24h"}})
    applied(kubectl, namespace, drain, "--validate=strict")
    assert stored(kubectl, namespace, "mp", "drain")["spec"]["strategy"] == {
        "drain": {"deadline": "24h", "onDeadline": "Wait", "pauseTriggers": True, "mover": "Auto",
                  "workersIdempotent": False, "acknowledgeBreaking": False}}

    waves = changed(changed(PLAN, "metadata.name", "waves"), "spec", {
        **PLAN["spec"], "from": {"versions": [1, 2]},
        "strategy": {"upgradeWaves": {"canary": {"count": 2, "selector": {"olderThan": "1h"}},
                                      "steps": [{"percent": 50, "pause": "10m"}, {"percent": 100}],
                                      "taskOutput": {"assign_risk": {"riskTier": "LOW"}}}},
        "gates": {"workflows": [{"name": "smoke", "input": {"a": 1}, "expectedOutput": {"ok": True}}]},
        "requests": {"promote": "p-1"}})
    applied(kubectl, namespace, waves, "--validate=strict")
    spec = stored(kubectl, namespace, "migplan", "waves")["spec"]
    assert spec["strategy"]["upgradeWaves"] == {
        "mover": "Auto", "workersIdempotent": False, "acknowledgeBreaking": False,
        "canary": {"count": 2, "selector": {"olderThan": "1h"}},
        "steps": [{"percent": 50, "pause": "10m"}, {"percent": 100}],
        "healthGate": {"window": "10m", "maxFailurePercent": 5}, "onGateFailure": "Pause",
        "taskOutput": {"assign_risk": {"riskTier": "LOW"}}}
    assert spec["gates"] == {"requireWorkers": True, "workersSeenWithin": "5m", "workflows": [
        {"name": "smoke", "input": {"a": 1}, "expectedOutput": {"ok": True}, "timeout": "5m"}]}


# ---- what the API server refuses, and how it says so ---------------------------------------------

DEFINITION_FROM = {"configMapKeyRef": {"name": "c", "key": "k"}}


@pytest.mark.parametrize(("document", "message"), [
    (changed(WORKFLOW, "spec.definitionFrom", DEFINITION_FROM),
     "set exactly one of spec.definition, spec.definitionFrom"),
    (changed(WORKFLOW, "spec.definition", ...), "set exactly one of spec.definition, spec.definitionFrom"),
    (changed(WORKFLOW, "spec.version", 0), "spec.version: Invalid value: 0: spec.version in body should be greater "
                                           "than or equal to 1"),
    (changed(WORKFLOW, "spec.name", ""), "spec.name"),
    (changed(WORKFLOW, "spec.definition.tasks", []), "spec.definition.tasks: Invalid value: 0"),
    (changed(WORKFLOW, "spec.definition.tasks", [{"name": "a"}]),
     'spec.definition.tasks[0].taskReferenceName: Required value'),
    (changed(WORKFLOW, "spec.driftCheckInterval", "5 minutes"), 'spec.driftCheckInterval: Invalid value: '
                                                                '"5 minutes": spec.driftCheckInterval in body '
                                                                'should match'),
    (changed(WORKFLOW, "spec.policy", {"onDelete": "Sometimes"}),
     'spec.policy.onDelete: Unsupported value: "Sometimes": supported values: "Retain", "Delete"'),
    (changed(TASK_DEF, "spec.definitionFrom", DEFINITION_FROM),
     "set exactly one of spec.definition, spec.definitionFrom"),
    (changed(TASK_DEF, "spec.definition.retryLogic", "SOMETIMES"), "spec.definition.retryLogic: Unsupported value"),
    (changed(CLUSTER, "spec.url", "conductor:8080"), "spec.url"),
    (changed(CLUSTER, "spec.flavor", "Enterprise"), "spec.flavor: Unsupported value"),
    (changed(CLUSTER, "spec.auth", {"secretRef": {}}), "spec.auth.secretRef.name: Required value"),
    (changed(PLAN, "spec.strategy", {"parallel": {}, "drain": {"deadline": "1h"}}),
     "set exactly one of spec.strategy.parallel, spec.strategy.drain, spec.strategy.upgradeWaves"),
    (changed(PLAN, "spec.strategy", {}),
     "set exactly one of spec.strategy.parallel, spec.strategy.drain, spec.strategy.upgradeWaves"),
    (changed(PLAN, "spec.strategy", {"drain": {}}), "spec.strategy.drain.deadline: Required value"),
    (changed(PLAN, "spec.strategy", {"parallel": {"retireAfter": "1 day"}}), "spec.strategy.parallel.retireAfter"),
    (changed(PLAN, "spec.strategy", {"upgradeWaves": {"canary": {"count": 1, "percent": 5}}}),
     "set exactly one of spec.strategy.upgradeWaves.canary.count, spec.strategy.upgradeWaves.canary.percent"),
    (changed(PLAN, "spec.strategy", {"upgradeWaves": {"steps": [{"percent": 101}]}}),
     "spec.strategy.upgradeWaves.steps[0].percent"),
    (changed(PLAN, "spec.from", {"allOlder": True, "versions": [1]}),
     "set exactly one of spec.from.versions, spec.from.allOlder: true"),
    (changed(PLAN, "spec.from", {"allOlder": False}), "set exactly one of spec.from.versions, spec.from.allOlder"),
    (changed(PLAN, "spec.from", {"versions": []}), "spec.from.versions"),
    (changed(PLAN, "spec.to", ...), "spec.to: Required value"),
    (changed(PLAN, "spec.gates", {"workflows": [{"name": "check"}, {"name": "check"}]}),
     'spec.gates.workflows[1]: Duplicate value: {"name":"check"}'),
    # hostile input: numbers Conductor cannot hold, nesting past the limit, settings the operator would not honour
    (changed(WORKFLOW, "spec.version", 2**31), "spec.version: Invalid value: 2147483648: spec.version in body should "
                                               "be less than or equal to 2147483647"),
    (changed(PLAN, "spec.from", {"versions": [1, 2**31]}), "spec.from.versions[1]: Invalid value: 2147483648"),
    (changed(WORKFLOW, "spec.definition.tasks", [NESTED_5]),
     "spec.definition.tasks[0].decisionCases.a[0].decisionCases.a[0].decisionCases.a[0].decisionCases.a[0]"
     ".decisionCases.a: Too many: 1: must have at most 0 items"),
    (changed(WORKFLOW, "spec.definition.tasks", [{**TASK, "type": "DO_WHILE", "loopOver": [NESTED_5]}]),
     "spec.definition.tasks[0].loopOver[0].decisionCases.a[0].decisionCases.a[0].decisionCases.a[0]"
     ".decisionCases.a: Too many: 1: must have at most 0 items"),
    (changed(PLAN, "spec.strategy", {"upgradeWaves": {"steps": [{"percent": 60}, {"percent": 30}]}}),
     "spec.strategy.upgradeWaves.steps must rise: each step's percent higher than the one before"),
    (changed(PLAN, "spec.strategy", {"upgradeWaves": {"steps": [{"percent": 50}, {"percent": 50}]}}),
     "spec.strategy.upgradeWaves.steps must rise"),
    (changed(PLAN, "spec.drainDetection", {"interval": "0s"}), "spec.drainDetection.interval must be longer than 0s"),
    (changed(PLAN, "spec.drainDetection", {"gracePeriod": "0m"}),
     "spec.drainDetection.gracePeriod must be longer than 0s"),
    (changed(PLAN, "spec.drainDetection", {"consecutiveZeroReadings": 1}),
     "spec.drainDetection.consecutiveZeroReadings must be at least 2: one reading of zero never counts as drained"),
    (changed(CLUSTER, "spec.timeouts", {"request": "0s"}), "spec.timeouts.request must be longer than 0s"),
    (changed(CLUSTER, "spec.timeouts", {"connect": "0ms"}), "spec.timeouts.connect must be longer than 0s"),
], ids=lambda value: "" if isinstance(value, str) else f"{value['kind']}:{json.dumps(value['spec'])[:60]}")
def test_invalid_objects_are_refused_readably(crds, kubectl, namespace, document, message):
    assert message in refused(kubectl, namespace, document)


@pytest.mark.parametrize(("document", "path", "value", "message"), [
    (WORKFLOW, "spec.version", 2, "spec.version is immutable: create a new WorkflowDefinition resource for a new "
                                  "version"),
    (WORKFLOW, "spec.name", "other", "spec.name is immutable: create a new WorkflowDefinition for another "
                                     "workflow"),
    (TASK_DEF, "spec.name", "other", "spec.name is immutable: create a new TaskDefinition for another task"),
    (PLAN, "spec.workflowName", "other", "spec.workflowName is immutable: create a new MigrationPlan for another "
                                         "workflow"),
], ids=["wfd-version", "wfd-name", "ctd-name", "mp-workflowName"])
def test_identity_is_immutable(crds, kubectl, namespace, document, path, value, message):
    applied(kubectl, namespace, document)
    assert message in refused(kubectl, namespace, changed(document, path, value))
    other_change = ("spec.paused", True) if document is PLAN else ("spec.driftCheckInterval", "10m")
    applied(kubectl, namespace, changed(document, *other_change))


def test_a_typo_at_the_top_of_a_definition_is_refused_with_strict_validation(crds, kubectl, namespace):
    typo = changed(WORKFLOW, "spec.definition.outputParameter", {"x": 1})
    assert 'unknown field "spec.definition.outputParameter"' in refused(kubectl, namespace, typo,
                                                                         "--validate=strict")
    task_typo = changed(TASK_DEF, "spec.definition.retryCont", 3)
    assert 'unknown field "spec.definition.retryCont"' in refused(kubectl, namespace, task_typo, "--validate=strict")
    spec_typo = changed(WORKFLOW, "spec.drifCheckInterval", "5m")
    assert 'unknown field "spec.drifCheckInterval"' in refused(kubectl, namespace, spec_typo, "--validate=strict")
    # Inside task bodies anything goes: Conductor's task types have too many keys to type here.
    applied(kubectl, namespace, changed(WORKFLOW, "spec.definition.tasks", [{**TASK, "anyKey": {"a": 1}}]),
            "--validate=strict")


# ---- status subresource and printer columns ------------------------------------------------------

def _ready(reason: str = "InSync") -> list[dict]:
    return [{"type": "Ready", "status": "True", "reason": reason, "message": "", "lastTransitionTime": NOW,
             "observedGeneration": 1},
            {"type": "Stalled", "status": "False", "reason": "NotStalled", "message": "", "lastTransitionTime": NOW}]


def patch_status(kubectl, namespace: str, kind: str, name: str, status: dict) -> None:
    kubectl("patch", kind, name, "-n", namespace, "--subresource=status", "--type=merge", "-p",
            json.dumps({"status": status}))


def table(kubectl, namespace: str, kind: str) -> list[list[str]]:
    return [line.split() for line in kubectl("get", kind, "-n", namespace).stdout.splitlines()]


@pytest.mark.parametrize("document", [CLUSTER, WORKFLOW, TASK_DEF, PLAN], ids=lambda d: d["kind"])
def test_a_new_object_reads_as_in_progress_until_the_operator_writes_its_status(crds, kubectl, namespace, document):
    """kstatus (Helm's --wait, Flux) reads an object without status as Current, i.e. done. The API server gives a
    new object a status whose observedGeneration is behind its generation, which kstatus reads as InProgress.
    The answer to the create is the object as stored, before any operator could have written to it."""
    created = json.loads(kubectl("create", "-n", namespace, "-f", "-", "-o", "json",
                                 input=json.dumps(document)).stdout)
    assert created["status"] == {"observedGeneration": -1}
    assert created["metadata"]["generation"] == 1 > created["status"]["observedGeneration"]


def test_status_is_written_through_the_status_subresource(crds, kubectl, namespace, operator_stopped):
    applied(kubectl, namespace, WORKFLOW)
    patch_status(kubectl, namespace, "wfd", "wf", {
        "observedGeneration": 1, "registered": True, "contentHash": "sha256:ab", "registeredAt": NOW,
        "lastDriftCheckAt": NOW, "executions": {"running": 7, "readAt": NOW}, "conditions": _ready()})
    body = stored(kubectl, namespace, "wfd", "wf")
    assert body["status"]["conditions"] == [{**c, "message": ""} for c in _ready()]
    assert body["status"]["executions"] == {"running": 7, "readAt": NOW}
    assert body["metadata"]["generation"] == 1, "a status write is not a spec change"

    # The main resource ignores status, and the status subresource ignores spec.
    applied(kubectl, namespace, {**WORKFLOW, "status": {"registered": False}})
    kubectl("patch", "wfd", "wf", "-n", namespace, "--subresource=status", "--type=merge", "-p",
            json.dumps({"spec": {"version": 5}}))
    body = stored(kubectl, namespace, "wfd", "wf")
    assert body["status"]["registered"] is True and body["spec"]["version"] == 1

    # Undeclared status fields are pruned: the operator must write only what the schema declares.
    patch_status(kubectl, namespace, "wfd", "wf", {"somethingNew": 1})
    assert "somethingNew" not in stored(kubectl, namespace, "wfd", "wf")["status"]

    # Conditions are a map keyed by type: one per type.
    result = kubectl("patch", "wfd", "wf", "-n", namespace, "--subresource=status", "--type=merge", "-p",
                     json.dumps({"status": {"conditions": _ready() + _ready()[:1]}}), check=False)
    assert result.returncode != 0 and "Duplicate value" in result.stderr


def test_printer_columns(crds, kubectl, namespace, operator_stopped):
    applied(kubectl, namespace, WORKFLOW)
    patch_status(kubectl, namespace, "wfd", "wf", {"registered": True, "executions": {"running": 7, "readAt": NOW},
                                                    "conditions": _ready()})
    rows = table(kubectl, namespace, "wfd")
    assert rows[0] == ["NAME", "WORKFLOW", "VERSION", "REGISTERED", "RUNNING", "READY", "AGE"]
    assert rows[1][:6] == ["wf", "orders", "1", "true", "7", "True"]

    applied(kubectl, namespace, TASK_DEF)
    patch_status(kubectl, namespace, "ctd", "td", {"registered": True, "conditions": _ready()})
    rows = table(kubectl, namespace, "taskdefinitions")
    assert rows[0] == ["NAME", "TASK", "REGISTERED", "READY", "AGE"]
    assert rows[1][:4] == ["td", "normalize_customer_profile", "true", "True"]

    applied(kubectl, namespace, CLUSTER)
    patch_status(kubectl, namespace, "ccl", "default", {"reachable": True, "serverVersion": "3.32.3",
                                                        "flavor": "OSS", "lastCheckedAt": NOW,
                                                        "conditions": _ready("Reachable")})
    rows = table(kubectl, namespace, "conductorclusters")
    assert rows[0] == ["NAME", "URL", "FLAVOR", "VERSION", "REACHABLE", "AGE"]
    assert rows[1][:5] == ["default", "http://conductor:8080", "OSS", "3.32.3", "true"]

    applied(kubectl, namespace, PLAN)
    patch_status(kubectl, namespace, "mp", "mp", {
        "phase": "Draining", "message": "2 executions of v1 left",
        "verdict": {"level": "Caution", "fromVersions": [1], "toVersion": 2, "findings": [
            {"level": "Caution", "reason": "TaskInserted", "taskRef": "assign_risk", "message": "inserted"}]},
        "versions": [{"version": 1, "running": 2, "readAt": NOW}],
        "running": {"old": 2, "target": 5, "readAt": NOW},
        "drain": {"zeroReadings": 0, "since": NOW},
        "gates": [{"name": "Workers", "passed": True, "reason": "WorkersPolling", "checkedAt": NOW}],
        "waves": {"current": 0, "moved": 0},
        "handledRequests": {"promote": {"token": "p-1", "handledAt": NOW, "result": "went on"}},
        "conditions": _ready("Accepted")})
    rows = table(kubectl, namespace, "mp")
    assert rows[0] == ["NAME", "WORKFLOW", "TARGET", "PHASE", "VERDICT", "OLD", "NEW", "COUNTED", "READY", "AGE"]
    assert rows[1][:7] == ["mp", "orders", "2", "Draining", "Caution", "2", "5"]
    assert re.fullmatch(r"\d+d\S*", rows[1][7]), "COUNTED is how long ago the counts were read (NOW is days ago)"
    assert rows[1][8] == "True"
    status = stored(kubectl, namespace, "mp", "mp")["status"]
    assert status["waves"] == {"current": 0, "count": 0, "total": 0, "moved": 0, "ineligible": 0, "failed": 0,
                               "rolledBack": 0}
    assert status["gates"][0] == {"name": "Workers", "passed": True, "reason": "WorkersPolling", "message": "",
                                  "checkedAt": NOW}
    assert status["handledRequests"] == {"promote": {"token": "p-1", "handledAt": NOW, "result": "went on"}}


def test_the_category_lists_every_kind(crds, kubectl, namespace):
    for document in (CLUSTER, WORKFLOW, TASK_DEF, PLAN):
        applied(kubectl, namespace, document)
    names = kubectl("get", "conductor", "-n", namespace, "-o", "name").stdout.split()
    assert sorted(names) == sorted([
        "conductorcluster.conductor-operator.io/default", "workflowdefinition.conductor-operator.io/wf",
        "taskdefinition.conductor-operator.io/td", "migrationplan.conductor-operator.io/mp"])


# ---- examples ------------------------------------------------------------------------------------

def test_every_example_applies(crds, kubectl, namespace):
    examples = sorted((REPO_ROOT / "examples").glob("*.yaml"))  # not examples/diff/: another story's files
    assert {p.name for p in examples} >= {"conductorcluster.yaml", "taskdefinitions.yaml",
                                          "customer-onboarding-v1.yaml", "customer-onboarding-v2.yaml",
                                          "migrationplan-parallel.yaml"}
    for path in examples:
        result = kubectl("apply", "-n", namespace, "--validate=strict", "-f", str(path), check=False)
        assert result.returncode == 0, f"examples/{path.name}: {result.stderr}"
    kinds = {d["kind"] for p in examples for d in yaml.safe_load_all(p.read_text()) if d}
    assert kinds >= {"ConductorCluster", "TaskDefinition", "WorkflowDefinition", "MigrationPlan"}
    plan = stored(kubectl, namespace, "mp", "customer-onboarding-to-v2")["spec"]
    assert plan["strategy"] == {"parallel": {"retireOldVersions": True, "retireAfter": "1m"}}
    assert plan["to"] == {"workflowDefinitionRef": {"name": "customer-onboarding-v2"}}
    v2 = stored(kubectl, namespace, "wfd", "customer-onboarding-v2")["spec"]
    assert [t["taskReferenceName"] for t in v2["definition"]["tasks"]] == ["normalize_customer", "assign_risk"]
