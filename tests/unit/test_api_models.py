from datetime import timedelta

import pytest
import yaml
from conductor_operator.api.common import parse_duration
from conductor_operator.api.crdgen import main as crdgen
from conductor_operator.api.crdgen import render_crds
from conductor_operator.api.definitions import WorkflowDefinition
from conductor_operator.api.migration import MigrationPlan
from pydantic import ValidationError


@pytest.mark.parametrize(("text", "expected"), [
    ("30s", timedelta(seconds=30)), ("5m", timedelta(minutes=5)), ("1h30m", timedelta(minutes=90)),
    ("250ms", timedelta(milliseconds=250)), ("0s", timedelta(0)),
])
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", "5 m", "1d", "-5s", "m5", None])
def test_parse_duration_refuses_bad_text_readably(text):
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_workflow_definition_defaults_and_open_task_bodies():
    body = {"apiVersion": "conductor-operator.io/v1alpha1", "kind": "WorkflowDefinition", "metadata": {"name": "x"},
            "spec": {"name": "order", "version": 2, "futureField": 1, "definition": {"tasks": [
                {"name": "a", "taskReferenceName": "a", "inputParameters": {"k": "${workflow.input.k}"}}]}}}
    parsed = WorkflowDefinition.model_validate(body)
    assert parsed.spec.policy.on_delete == "Retain" and parsed.spec.policy.in_place_change == "Refuse"
    assert parsed.spec.drift_check_interval == "5m"
    assert parsed.spec.definition.tasks[0].model_dump(by_alias=True)["inputParameters"] == {"k": "${workflow.input.k}"}


@pytest.mark.parametrize("spec", [
    {"name": "o", "version": 1},
    {"name": "o", "version": 1, "definition": {"tasks": [{"name": "a", "taskReferenceName": "a"}]},
     "definitionFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}},
])
def test_exactly_one_definition_source(spec):
    with pytest.raises(ValidationError, match="exactly one of definition, definitionFrom"):
        WorkflowDefinition.model_validate({"spec": spec})


def test_migration_plan_parses_with_the_from_keyword():
    plan = MigrationPlan.model_validate({"spec": {
        "workflowName": "o", "from": {"allOlder": True}, "to": {"workflowDefinitionRef": {"name": "o-v2"}},
        "strategy": {"parallel": {"retireOldVersions": True}}}})
    assert plan.spec.from_.all_older is True
    assert plan.spec.strategy.parallel.retire_after == "0s"
    assert plan.spec.healthy_when == "Accepted"


def _schema_nodes(node, path="$"):
    """Every schema node: the root, each property, each items."""
    yield path, node
    for name, sub in (node.get("properties") or {}).items():
        yield from _schema_nodes(sub, f"{path}.{name}")
    if "items" in node:
        yield from _schema_nodes(node["items"], f"{path}[]")


@pytest.mark.parametrize("name", sorted(render_crds()))
def test_generated_schemas_are_structural(name):
    crd = yaml.safe_load(render_crds()[name])
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in _schema_nodes(schema):
        assert not {"$ref", "$defs", "anyOf", "oneOf", "allOf", "title"} & set(node), path
        assert "additionalProperties" not in node, path
        assert "type" in node or node.get("x-kubernetes-preserve-unknown-fields"), f"{path} has no type"
        assert node.get("default", "") is not None, f"{path} has a null default"


def test_workflow_definition_crd_rules_and_open_tasks():
    crd = yaml.safe_load(render_crds()["workflowdefinitions.conductor-operator.io.yaml"])
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    rules = [v["rule"] for v in spec["x-kubernetes-validations"]]
    assert "self.version == oldSelf.version" in rules and "self.name == oldSelf.name" in rules
    task = spec["properties"]["definition"]["properties"]["tasks"]["items"]
    assert task["x-kubernetes-preserve-unknown-fields"] is True
    assert set(task["required"]) == {"name", "taskReferenceName"}
    assert "x-kubernetes-preserve-unknown-fields" not in spec["properties"]["definition"], "typos are reported"


def test_crds_in_repo_match_the_models():
    assert crdgen(["--check"]) == 0, "crds/ is stale: run `python -m conductor_operator.api.crdgen`"
