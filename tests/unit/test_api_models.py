"""The API models: parsing bodies, defaults, durations, exactly-one rules, and the generated schemas."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from conductor_operator.api import KINDS
from conductor_operator.api.cluster import ConductorCluster
from conductor_operator.api.common import Condition, parse_duration
from conductor_operator.api.crdgen import SchemaError, main, render_crds, structural
from conductor_operator.api.definitions import TaskDefinition, WorkflowDefinition, WorkflowDefinitionStatus
from conductor_operator.api.migration import (
    HandledRequest,
    MigrationPlan,
    MigrationPlanStatus,
    Verdict,
    WavesStatus,
)
from pydantic import ValidationError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TASK = {"name": "normalize_customer_profile", "taskReferenceName": "normalize_customer", "type": "SIMPLE"}
WORKFLOW_BODY = {
    "apiVersion": "conductor-operator.io/v1alpha1", "kind": "WorkflowDefinition",
    "metadata": {"name": "customer-onboarding-v1", "namespace": "team-a", "generation": 4, "uid": "u-1",
                 "resourceVersion": "81", "managedFields": [{"manager": "kubectl"}]},
    "spec": {"name": "customer_onboarding", "version": 1, "definition": {"tasks": [TASK]}},
    "status": {"observedGeneration": 3, "registered": True, "contentHash": "sha256:ab",
               "executions": {"running": 2, "readAt": "2026-11-24T10:00:00Z"},
               "conditions": [{"type": "Ready", "status": "True", "reason": "InSync", "message": "",
                               "lastTransitionTime": "2026-11-24T10:00:00Z", "observedGeneration": 3}]},
}


def plan_spec(**changes) -> dict:
    spec = {"workflowName": "customer_onboarding", "from": {"allOlder": True},
            "to": {"workflowDefinitionRef": {"name": "customer-onboarding-v2"}}, "strategy": {"parallel": {}}}
    return {"spec": {**spec, **changes}}


# ---- durations -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("30s", timedelta(seconds=30)), ("5m", timedelta(minutes=5)), ("24h", timedelta(hours=24)),
    ("1h30m", timedelta(minutes=90)), ("250ms", timedelta(milliseconds=250)), ("0s", timedelta(0)),
    ("1m30s500ms", timedelta(seconds=90.5)),
])
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", "5 m", " 5m", "1d", "-5s", "1.5h", "m5", "5M", "5m ", None, 30])
def test_parse_duration_refuses_bad_text_readably(text):
    with pytest.raises(ValueError, match=r"is not a duration such as 30s, 5m, 24h or 1h30m"):
        parse_duration(text)


def test_a_bad_duration_in_a_spec_reads_well():
    body = {**WORKFLOW_BODY, "spec": {**WORKFLOW_BODY["spec"], "driftCheckInterval": "5 minutes"}}
    with pytest.raises(ValidationError) as error:
        WorkflowDefinition.from_body(body)
    assert "spec.driftCheckInterval" in str(error.value)
    assert "'5 minutes' is not a duration" in str(error.value)


# ---- parsing whole bodies ------------------------------------------------------------------------

def test_workflow_definition_parses_a_whole_kubernetes_object():
    parsed = WorkflowDefinition.model_validate(WORKFLOW_BODY)
    assert (parsed.metadata.name, parsed.metadata.namespace, parsed.metadata.generation) == (
        "customer-onboarding-v1", "team-a", 4)
    assert parsed.spec.name == "customer_onboarding" and parsed.spec.version == 1
    assert parsed.spec.cluster_ref is None
    assert parsed.status.registered is True and parsed.status.executions.running == 2
    assert parsed.status.condition("Ready").reason == "InSync"
    assert parsed.status.condition("Stalled") is None


def test_defaults_are_applied_in_python_too():
    spec = WorkflowDefinition.from_body({"spec": {"name": "o", "version": 1, "definition": {"tasks": [TASK]}}}).spec
    assert (spec.policy.on_delete, spec.policy.on_drift, spec.policy.in_place_change) == (
        "Retain", "Reapply", "Refuse")
    assert spec.drift_check_interval == "5m"
    assert spec.definition.schema_version == 2

    cluster = ConductorCluster.from_body({"spec": {"url": "http://conductor:8080"}}).spec
    assert cluster.flavor == "Auto" and cluster.auth is None and cluster.tls is None
    assert (cluster.timeouts.connect, cluster.timeouts.request, cluster.health_check_interval) == ("5s", "30s", "1m")

    auth = ConductorCluster.from_body({"spec": {"url": "https://x", "auth": {"secretRef": {"name": "k"}},
                                                "tls": {"caBundle": "-----BEGIN CERTIFICATE-----"}}}).spec
    assert (auth.auth.secret_ref.key_id_key, auth.auth.secret_ref.key_secret_key) == ("keyId", "keySecret")
    assert auth.tls.insecure_skip_verify is False

    plan = MigrationPlan.from_body(plan_spec()).spec
    assert plan.from_.all_older is True and plan.strategy.parallel.retire_after == "0s"
    assert plan.strategy.parallel.retire_old_versions is False
    assert plan.gates.require_workers is True and plan.gates.workflows == []
    assert (plan.drain_detection.interval, plan.drain_detection.consecutive_zero_readings,
            plan.drain_detection.grace_period) == ("30s", 3, "5m")
    assert (plan.healthy_when, plan.dry_run, plan.paused, plan.requests) == ("Accepted", False, False, None)


def test_lenient_parsing_ignores_fields_from_a_newer_crd_and_keeps_open_bodies():
    body = {**WORKFLOW_BODY, "spec": {**WORKFLOW_BODY["spec"], "futureField": 1, "definition": {
        "futureTopLevel": True, "outputParameters": {"a": {"b": [1, 2]}},
        "tasks": [{**TASK, "inputParameters": {"k": "${workflow.input.k}"}, "optional": True}]}}}
    parsed = WorkflowDefinition.from_body(body)
    dumped = parsed.spec.definition.to_dict()
    assert dumped["tasks"][0]["inputParameters"] == {"k": "${workflow.input.k}"}, "task bodies are kept whole"
    assert dumped["tasks"][0]["optional"] is True
    assert dumped["outputParameters"] == {"a": {"b": [1, 2]}}
    assert "futureTopLevel" not in dumped


def test_a_missing_or_null_status_reads_as_empty():
    for body in ({"spec": WORKFLOW_BODY["spec"]}, {"spec": WORKFLOW_BODY["spec"], "status": None},
                 {"spec": WORKFLOW_BODY["spec"], "status": {}}):
        parsed = WorkflowDefinition.from_body(body)
        assert parsed.status.conditions == [] and parsed.status.registered is None
        assert parsed.kind == "WorkflowDefinition"


def test_from_body_takes_any_mapping():
    class Body(dict):  # kopf's Body is a Mapping, not a dict; nested views likewise
        pass

    body = Body(spec=Body(name="normalize_customer_profile", definition=Body(retryCount=3)))
    assert TaskDefinition.from_body(body).spec.definition.retry_count == 3


def test_task_definition_body():
    spec = TaskDefinition.from_body({"spec": {"name": "t", "definition": {
        "retryCount": 3, "retryLogic": "EXPONENTIAL_BACKOFF", "timeoutPolicy": "TIME_OUT_WF",
        "inputTemplate": {"x": {"y": 1}}}}}).spec
    assert spec.definition.retry_logic == "EXPONENTIAL_BACKOFF"
    assert spec.definition.to_dict() == {"retryCount": 3, "retryLogic": "EXPONENTIAL_BACKOFF",
                                         "timeoutPolicy": "TIME_OUT_WF", "inputTemplate": {"x": {"y": 1}}}
    assert (spec.policy.on_delete, spec.policy.on_drift, spec.drift_check_interval) == ("Retain", "Reapply", "5m")


def test_upgrade_waves_parse():
    plan = MigrationPlan.from_body(plan_spec(**{"from": {"versions": [1, 2]}}, strategy={"upgradeWaves": {
        "mover": "OrkesUpgrade", "canary": {"percent": 5, "selector": {"olderThan": "1h", "currentTask": "a"}},
        "steps": [{"percent": 50, "pause": "10m"}, {"percent": 100}],
        "taskOutput": {"assign_risk": {"riskTier": "LOW"}}}})).spec
    waves = plan.strategy.upgrade_waves
    assert plan.strategy.name == "upgradeWaves" and plan.from_.versions == [1, 2]
    assert waves.canary.percent == 5 and waves.canary.count is None and waves.canary.selector.older_than == "1h"
    assert [s.percent for s in waves.steps] == [50, 100] and waves.steps[1].pause is None
    assert (waves.health_gate.window, waves.health_gate.max_failure_percent) == ("10m", 5)
    assert (waves.on_gate_failure, waves.workers_idempotent, waves.acknowledge_breaking) == ("Pause", False, False)
    assert waves.task_output == {"assign_risk": {"riskTier": "LOW"}}


def test_drain_needs_a_deadline():
    with pytest.raises(ValidationError, match=r"spec.strategy.drain.deadline\n  Field required"):
        MigrationPlan.from_body(plan_spec(strategy={"drain": {}}))
    drain = MigrationPlan.from_body(plan_spec(strategy={"drain": {"deadline": "24h"}})).spec.strategy.drain
    assert (drain.on_deadline, drain.pause_triggers) == ("Wait", True)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_parses(path):
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert documents
    for document in documents:
        KINDS[document["kind"]].from_body(document)


# ---- exactly one of ------------------------------------------------------------------------------

@pytest.mark.parametrize(("extra", "found"), [
    ({}, "none is set"),
    ({"definition": {"tasks": [TASK]}, "definitionFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}},
     "definition and definitionFrom are set"),
])
@pytest.mark.parametrize("kind", [WorkflowDefinition, TaskDefinition])
def test_exactly_one_definition_source(kind, extra, found):
    spec = {"name": "o", "version": 1, **extra}
    if kind is TaskDefinition and "definition" in extra:
        spec["definition"] = {"retryCount": 1}
    with pytest.raises(ValidationError, match=f"set exactly one of spec.definition, spec.definitionFrom; {found}"):
        kind.from_body({"spec": spec})


def test_definition_from_a_config_map():
    spec = WorkflowDefinition.from_body({"spec": {"name": "o", "version": 3, "definitionFrom": {
        "configMapKeyRef": {"name": "onboarding", "key": "workflow.json"}}}}).spec
    assert spec.definition is None
    assert spec.definition_from.config_map_key_ref.key == "workflow.json"


@pytest.mark.parametrize(("strategy", "found"), [
    ({}, "none is set"),
    ({"parallel": {}, "drain": {"deadline": "1h"}}, "parallel and drain are set"),
    ({"parallel": {}, "drain": {"deadline": "1h"}, "upgradeWaves": {}}, "parallel and drain and upgradeWaves are set"),
])
def test_exactly_one_strategy(strategy, found):
    with pytest.raises(ValidationError, match=f"set exactly one of spec.strategy.parallel, spec.strategy.drain, "
                                              f"spec.strategy.upgradeWaves; {found}"):
        MigrationPlan.from_body(plan_spec(strategy=strategy))


@pytest.mark.parametrize(("source", "found"), [
    ({}, "none is set"), ({"allOlder": False}, "none is set"), ({"versions": [1], "allOlder": True}, "both are set"),
])
def test_exactly_one_from(source, found):
    with pytest.raises(ValidationError, match=f"set exactly one of spec.from.versions, spec.from.allOlder: true; "
                                              f"{found}"):
        MigrationPlan.from_body(plan_spec(**{"from": source}))


def test_from_versions_start_at_one():
    with pytest.raises(ValidationError, match=r"spec.from.versions.0\n  Input should be greater than or equal to 1"):
        MigrationPlan.from_body(plan_spec(**{"from": {"versions": [0]}}))


@pytest.mark.parametrize("canary", [{}, {"count": 1, "percent": 5}])
def test_canary_is_a_count_or_a_percent(canary):
    with pytest.raises(ValidationError, match="set exactly one of spec.strategy.upgradeWaves.canary.count, "
                                              "spec.strategy.upgradeWaves.canary.percent"):
        MigrationPlan.from_body(plan_spec(strategy={"upgradeWaves": {"canary": canary}}))


# ---- status through the models -------------------------------------------------------------------

def test_status_is_built_through_the_models():
    status = WorkflowDefinitionStatus(observed_generation=2, registered=True, conditions=[
        Condition(type="Ready", status="True", reason="InSync", last_transition_time="2026-11-24T10:00:00Z")])
    assert status.to_dict() == {"observedGeneration": 2, "registered": True, "conditions": [
        {"type": "Ready", "status": "True", "reason": "InSync", "message": "",
         "lastTransitionTime": "2026-11-24T10:00:00Z"}]}

    plan = MigrationPlanStatus(phase="Moving", verdict=Verdict(level="Safe", from_versions=[1], to_version=2),
                               waves=WavesStatus(current=1, moved=10, state="Watching"))
    plan.handled_requests.promote = HandledRequest(token="t-1", result="went on")
    dumped = plan.to_dict()
    assert dumped["verdict"] == {"level": "Safe", "findings": [], "standingWarnings": [], "fromVersions": [1],
                                 "toVersion": 2}
    assert dumped["waves"] == {"current": 1, "count": 0, "state": "Watching", "total": 0, "moved": 10,
                               "ineligible": 0, "failed": 0, "rolledBack": 0, "ineligibleExecutions": [], "gates": []}
    assert dumped["handledRequests"] == {"promote": {"token": "t-1", "result": "went on"}}
    assert MigrationPlanStatus.model_validate(dumped) == plan, "the dump reads back as the same status"


# ---- the generated CRDs --------------------------------------------------------------------------

CRDS = {name: yaml.safe_load(text) for name, text in render_crds().items()}


def _schema(file_name: str) -> dict:
    return CRDS[file_name]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def _walk(node, path="$"):
    """Every dict and list anywhere in a document, with where it is."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}[{index}]")


def _schema_nodes(node, path="$"):
    """Every schema node: the root, each property, each items."""
    yield path, node
    for name, sub in (node.get("properties") or {}).items():
        yield from _schema_nodes(sub, f"{path}.{name}")
    if "items" in node:
        yield from _schema_nodes(node["items"], f"{path}[]")


def test_one_crd_per_kind_with_the_expected_names():
    assert sorted(CRDS) == ["conductorclusters.conductor-operator.io.yaml",
                            "migrationplans.conductor-operator.io.yaml", "taskdefinitions.conductor-operator.io.yaml",
                            "workflowdefinitions.conductor-operator.io.yaml"]
    names = {crd["spec"]["names"]["kind"]: crd["spec"]["names"] for crd in CRDS.values()}
    assert {kind: n["shortNames"] for kind, n in names.items()} == {
        "ConductorCluster": ["ccl"], "WorkflowDefinition": ["wfd", "wfdef"], "TaskDefinition": ["ctd", "taskdef"],
        "MigrationPlan": ["mp", "migplan"]}
    for crd in CRDS.values():
        assert crd["apiVersion"] == "apiextensions.k8s.io/v1" and crd["spec"]["scope"] == "Namespaced"
        assert crd["spec"]["group"] == "conductor-operator.io" and crd["spec"]["names"]["categories"] == ["conductor"]
        (version,) = crd["spec"]["versions"]
        assert version["name"] == "v1alpha1" and version["subresources"] == {"status": {}}


@pytest.mark.parametrize("name", sorted(CRDS))
def test_generated_schemas_are_structural(name):
    for path, node in _walk(CRDS[name]):
        if isinstance(node, dict):
            assert not {"$ref", "$defs", "anyOf", "oneOf", "allOf", "not", "title", "const"} & set(node), path
            assert node.get("additionalProperties", True) is not False, path
    for path, node in _schema_nodes(_schema(name)):
        assert "type" in node or node.get("x-kubernetes-preserve-unknown-fields"), f"{path} has no type"
        assert node.get("default", "") is not None, f"{path} has a null default"
        if "additionalProperties" in node:  # a map (SWITCH cases): typed values, never beside properties
            assert isinstance(node["additionalProperties"], dict) and "type" in node["additionalProperties"], path
            assert "properties" not in node, path
        if node.get("x-kubernetes-preserve-unknown-fields"):
            assert node["type"] == "object", path


@pytest.mark.parametrize("name", sorted(CRDS))
def test_every_field_is_described_for_kubectl_explain(name):
    undocumented = [path for path, node in _schema_nodes(_schema(name)["properties"]["spec"], "spec")
                    if not node.get("description") and not path.endswith("[]")]
    assert not undocumented


@pytest.mark.parametrize("name", sorted(CRDS))
def test_status_declares_its_top_level_fields_and_conditions(name):
    status = _schema(name)["properties"]["status"]
    assert {"observedGeneration", "conditions"} <= set(status["properties"])
    conditions = status["properties"]["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map" and conditions["x-kubernetes-list-map-keys"] == ["type"]
    assert set(conditions["items"]["properties"]) == {"type", "status", "reason", "message", "lastTransitionTime",
                                                      "observedGeneration"}
    assert conditions["items"]["properties"]["status"]["enum"] == ["True", "False", "Unknown"]


def test_workflow_definition_schema_has_rules_open_tasks_and_a_typed_top_level():
    spec = _schema("workflowdefinitions.conductor-operator.io.yaml")["properties"]["spec"]
    rules = {rule["rule"]: rule["message"] for rule in spec["x-kubernetes-validations"]}
    assert rules["self.version == oldSelf.version"] == (
        "spec.version is immutable: create a new WorkflowDefinition resource for a new version")
    assert rules["self.name == oldSelf.name"] == (
        "spec.name is immutable: create a new WorkflowDefinition for another workflow")
    assert rules["(has(self.definition) ? 1 : 0) + (has(self.definitionFrom) ? 1 : 0) == 1"] == (
        "set exactly one of spec.definition, spec.definitionFrom")
    assert spec["required"] == ["name", "version"]
    assert spec["properties"]["version"]["minimum"] == 1
    assert (spec["properties"]["name"]["minLength"], spec["properties"]["name"]["maxLength"]) == (1, 255)

    definition = spec["properties"]["definition"]
    assert "x-kubernetes-preserve-unknown-fields" not in definition, "a typo at the top level is reported"
    assert definition["required"] == ["tasks"] and definition["properties"]["tasks"]["minItems"] == 1
    task = definition["properties"]["tasks"]["items"]
    assert task["x-kubernetes-preserve-unknown-fields"] is True and task["type"] == "object"
    assert task["required"] == ["name", "taskReferenceName"] and task["properties"]["type"]["type"] == "string"
    for open_object in ("outputParameters", "variables", "inputTemplate", "inputSchema", "outputSchema", "metadata"):
        assert definition["properties"][open_object] == {
            "description": definition["properties"][open_object]["description"], "type": "object",
            "x-kubernetes-preserve-unknown-fields": True}, open_object
    assert definition["properties"]["schemaVersion"]["default"] == 2
    assert definition["properties"]["timeoutPolicy"]["enum"] == ["TIME_OUT_WF", "ALERT_ONLY"]
    assert spec["properties"]["policy"]["default"] == {}
    assert spec["properties"]["policy"]["properties"]["inPlaceChange"]["enum"] == ["Refuse", "Allow"]
    assert spec["properties"]["driftCheckInterval"] == {
        "description": spec["properties"]["driftCheckInterval"]["description"], "type": "string", "default": "5m",
        "pattern": "^([0-9]+(ms|s|m|h))+$"}


def test_task_definition_schema_reports_typos():
    spec = _schema("taskdefinitions.conductor-operator.io.yaml")["properties"]["spec"]
    definition = spec["properties"]["definition"]
    assert "x-kubernetes-preserve-unknown-fields" not in definition
    assert definition["properties"]["retryLogic"]["enum"] == ["FIXED", "EXPONENTIAL_BACKOFF", "LINEAR_BACKOFF"]
    assert definition["properties"]["timeoutPolicy"]["enum"] == ["RETRY", "TIME_OUT_WF", "ALERT_ONLY"]
    assert definition["properties"]["inputTemplate"]["x-kubernetes-preserve-unknown-fields"] is True
    assert "self.name == oldSelf.name" in {rule["rule"] for rule in spec["x-kubernetes-validations"]}


def test_migration_plan_schema():
    spec = _schema("migrationplans.conductor-operator.io.yaml")["properties"]["spec"]
    assert spec["required"] == ["workflowName", "from", "to", "strategy"]
    strategy = spec["properties"]["strategy"]
    assert set(strategy["properties"]) == {"parallel", "drain", "upgradeWaves"}
    assert strategy["x-kubernetes-validations"][0]["message"] == (
        "set exactly one of spec.strategy.parallel, spec.strategy.drain, spec.strategy.upgradeWaves")
    assert strategy["properties"]["drain"]["required"] == ["deadline"]
    waves = strategy["properties"]["upgradeWaves"]["properties"]
    assert waves["healthGate"]["default"] == {} and waves["healthGate"]["properties"]["window"]["default"] == "10m"
    assert waves["taskOutput"]["x-kubernetes-preserve-unknown-fields"] is True
    assert waves["steps"]["items"]["properties"]["percent"]["maximum"] == 100
    assert spec["properties"]["from"]["properties"]["versions"]["items"] == {"type": "integer", "minimum": 1,
                                                                         "maximum": 2147483647}
    assert spec["properties"]["healthyWhen"]["enum"] == ["Accepted", "Completed"]
    columns = [c["name"] for c in CRDS["migrationplans.conductor-operator.io.yaml"]["spec"]["versions"][0][
        "additionalPrinterColumns"] if not c.get("priority")]
    assert columns == ["Workflow", "Target", "Phase", "Verdict", "Old", "New", "Counted", "Ready", "Age"]


def test_structural_refuses_a_real_union():
    with pytest.raises(SchemaError, match="union of 2 types"):
        structural({"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]}, {})


def test_rendering_is_deterministic():
    assert render_crds() == render_crds()


def test_check_mode_reports_differences_and_changes_nothing(tmp_path, capsys):
    assert main(["--check", "--out", str(tmp_path)]) == 1
    assert "run `python -m conductor_operator.api.crdgen`" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    assert main(["--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(CRDS)
    assert main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "gone.conductor-operator.io.yaml").write_text("old")
    assert main(["--check", "--out", str(tmp_path)]) == 1
    assert "gone.conductor-operator.io.yaml" in capsys.readouterr().err


def test_health_gate_check_names_are_unique():
    with pytest.raises(ValidationError, match="healthGate.workflows: each check needs its own name; repeated: smoke"):
        MigrationPlan.from_body(plan_spec(strategy={"upgradeWaves": {"healthGate": {"workflows": [
            {"name": "smoke"}, {"name": "smoke", "version": 2}]}}}))
    plan = MigrationPlan.from_body(plan_spec(strategy={"upgradeWaves": {"healthGate": {"workflows": [
        {"name": "smoke", "expectedOutput": {"ok": True}}]}}}))
    assert plan.spec.strategy.upgrade_waves.health_gate.workflows[0].timeout == "5m"
