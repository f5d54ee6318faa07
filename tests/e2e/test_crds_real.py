"""The generated CRDs as the real kube-apiserver serves them: defaults, CEL rules, columns, examples."""

from __future__ import annotations

import json

import pytest
import yaml

from testenv.tools import REPO_ROOT

pytestmark = pytest.mark.realenv

WORKFLOW = {"apiVersion": "conductor-operator.io/v1alpha1", "kind": "WorkflowDefinition",
            "metadata": {"name": "wf"},
            "spec": {"name": "orders", "version": 1, "definition": {"tasks": [
                {"name": "a", "taskReferenceName": "a", "type": "SIMPLE", "inputParameters": {"x": 1}}]}}}


def apply(kubectl, namespace, document, *extra, check=False):
    return kubectl("apply", "-n", namespace, *extra, "-f", "-", input=json.dumps(document), check=check)


def test_defaults_are_applied_by_the_server(crds, kubectl, namespace):
    assert apply(kubectl, namespace, WORKFLOW).returncode == 0
    stored = json.loads(kubectl("get", "wfd", "wf", "-n", namespace, "-o", "json").stdout)
    assert stored["spec"]["policy"] == {"onDelete": "Retain", "onDrift": "Reapply", "inPlaceChange": "Refuse"}
    assert stored["spec"]["driftCheckInterval"] == "5m"
    assert stored["spec"]["definition"]["schemaVersion"] == 2
    assert stored["spec"]["definition"]["tasks"][0]["inputParameters"] == {"x": 1}, "open task bodies are kept"


@pytest.mark.parametrize(("change", "message"), [
    ({"version": 2}, "spec.version is immutable"),
    ({"name": "other"}, "spec.name is immutable"),
])
def test_identity_is_immutable(crds, kubectl, namespace, change, message):
    assert apply(kubectl, namespace, WORKFLOW).returncode == 0
    changed = {**WORKFLOW, "spec": {**WORKFLOW["spec"], **change}}
    result = apply(kubectl, namespace, changed)
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.parametrize(("spec", "message"), [
    ({"name": "o", "version": 1}, "set exactly one of definition, definitionFrom"),
    ({"name": "o", "version": 1, "definition": {"tasks": [{"name": "a", "taskReferenceName": "a"}]},
      "definitionFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}}, "set exactly one of"),
    ({"name": "o", "version": 0, "definition": {"tasks": [{"name": "a", "taskReferenceName": "a"}]}},
     "spec.version"),
    ({"name": "o", "version": 1, "definition": {"tasks": []}}, "spec.definition.tasks"),
    ({"name": "o", "version": 1, "definition": {"tasks": [{"name": "a"}]}}, "taskReferenceName"),
    ({"name": "o", "version": 1, "driftCheckInterval": "5 minutes",
      "definition": {"tasks": [{"name": "a", "taskReferenceName": "a"}]}}, "driftCheckInterval"),
    ({"name": "o", "version": 1, "policy": {"onDelete": "Sometimes"},
      "definition": {"tasks": [{"name": "a", "taskReferenceName": "a"}]}}, "Unsupported value"),
])
def test_bad_workflow_definitions_are_refused_readably(crds, kubectl, namespace, spec, message):
    result = apply(kubectl, namespace, {**WORKFLOW, "spec": spec})
    assert result.returncode != 0
    assert message in result.stderr


def test_a_typo_in_the_definition_is_reported(crds, kubectl, namespace):
    typo = {**WORKFLOW, "spec": {**WORKFLOW["spec"], "definition": {**WORKFLOW["spec"]["definition"],
                                                                      "outputParameter": {"x": 1}}}}
    result = apply(kubectl, namespace, typo, "--validate=strict")
    assert result.returncode != 0
    assert 'unknown field "spec.definition.outputParameter"' in result.stderr


def test_migration_plan_takes_exactly_one_strategy(crds, kubectl, namespace):
    plan = {"apiVersion": "conductor-operator.io/v1alpha1", "kind": "MigrationPlan", "metadata": {"name": "mp"},
            "spec": {"workflowName": "orders", "from": {"allOlder": True},
                     "to": {"workflowDefinitionRef": {"name": "v2"}},
                     "strategy": {"parallel": {}, "drain": {"deadline": "1h"}}}}
    result = apply(kubectl, namespace, plan)
    assert result.returncode != 0 and "set exactly one of parallel, drain, upgradeWaves" in result.stderr
    plan["spec"]["strategy"] = {"parallel": {}}
    assert apply(kubectl, namespace, plan).returncode == 0


def test_printer_columns_and_status_subresource(crds, kubectl, namespace, resources):
    assert apply(kubectl, namespace, WORKFLOW).returncode == 0
    kubectl("patch", "wfd", "wf", "-n", namespace, "--subresource=status", "--type=merge", "-p", json.dumps(
        {"status": {"registered": True, "executions": {"running": 7, "readAt": "2026-11-24T10:00:00Z"},
                    "conditions": [{"type": "Ready", "status": "True", "reason": "InSync", "message": "",
                                    "lastTransitionTime": "2026-11-24T10:00:00Z"}]}}))
    table = kubectl("get", "wfd", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "WORKFLOW", "VERSION", "REGISTERED", "RUNNING", "READY", "AGE"]
    assert table[1].split()[:6] == ["wf", "orders", "1", "true", "7", "True"]
    assert resources.get("WorkflowDefinition", "wf")["metadata"]["generation"] == 1


def test_every_example_applies(crds, kubectl, namespace):
    examples = sorted((REPO_ROOT / "examples").glob("*.yaml"))
    assert examples, "examples/ has manifests"
    for path in examples:
        result = kubectl("apply", "-n", namespace, "--validate=strict", "-f", str(path), check=False)
        assert result.returncode == 0, f"{path.name}: {result.stderr}"
    kinds = {d["kind"] for p in examples for d in yaml.safe_load_all(p.read_text()) if d}
    assert kinds >= {"ConductorCluster", "TaskDefinition", "WorkflowDefinition"}
