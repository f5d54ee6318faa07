import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conductor_operator.cli.main import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "diff"


def definition(*refs, name="order", version=1, **extra):
    return {"name": name, "version": version,
            "tasks": [{"name": ref, "taskReferenceName": ref, "type": "SIMPLE"} for ref in refs], **extra}


def manifest(*refs, name="order", version=1, **spec):
    body = definition(*refs)
    del body["name"], body["version"]
    return {"apiVersion": "conductor-operator.io/v1alpha1", "kind": "WorkflowDefinition",
            "metadata": {"name": f"{name}-v{version}"},
            "spec": {"name": name, "version": version, "definition": body, **spec}}


@pytest.fixture
def write(tmp_path):
    def write(file_name, content):
        path = tmp_path / file_name
        if isinstance(content, str):
            path.write_text(content)
        elif file_name.endswith(".json"):
            path.write_text(json.dumps(content))
        else:
            path.write_text(yaml.safe_dump_all(content if isinstance(content, list) else [content]))
        return str(path)
    return write


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---- verdicts and exit codes --------------------------------------------------------------------

def test_safe_change_exits_0_and_says_why(write, capsys):
    old, new = write("v1.json", definition("a", "b")), write("v2.json", definition("a", "b", "c", version=2))
    code, out, err = run(capsys, "diff", old, new)
    lines = out.splitlines()
    assert code == 0 and err == ""
    assert lines[0] == "SAFE: order v1 -> order v2 (1 finding)"
    assert lines[1].split()[:3] == ["SAFE", "TaskAppended", "c"]
    assert "appended at the end of tasks" in lines[1]
    assert lines[-1] == "Strategies allowed: parallel, drain, upgradeWaves"


def test_caution_change_exits_0(write, capsys):
    old, new = write("v1.json", definition("a", "b")), write("v2.json", definition("a", "x", "b", version=2))
    code, out, _ = run(capsys, "diff", old, new)
    assert code == 0
    assert out.startswith("CAUTION: ")
    assert out.splitlines()[1].split()[:3] == ["CAUTION", "TaskInserted", "x"]


def test_breaking_change_exits_1_and_names_the_acknowledgement(write, capsys):
    old, new = write("v1.json", definition("a", "b")), write("v2.json", definition("a", version=2))
    code, out, _ = run(capsys, "diff", old, new)
    assert code == 1
    assert out.startswith("BREAKING: order v1 -> order v2")
    assert out.splitlines()[1].split()[:3] == ["BREAKING", "TaskRemoved", "b"]
    assert out.splitlines()[-1] == ("Strategies allowed: parallel, drain; upgradeWaves only with "
                                    "spec.strategy.upgradeWaves.acknowledgeBreaking: true")


def test_identical_definitions_have_no_findings(write, capsys):
    path = write("v1.json", definition("a", "b"))
    code, out, _ = run(capsys, "diff", path, path)
    assert code == 0
    assert out.splitlines() == ["SAFE: order v1 -> order v1 (0 findings)",
                                "Strategies allowed: parallel, drain, upgradeWaves"]


def test_findings_without_a_task_show_a_dash(write, capsys):
    old = write("v1.json", definition("a", inputParameters=["id"]))
    new = write("v2.json", definition("a", inputParameters=["id", "region"]))
    _, out, _ = run(capsys, "diff", old, new)
    assert out.splitlines()[1].split()[:3] == ["CAUTION", "WorkflowInputChanged", "-"]


def test_changed_task_definitions_are_repeatable(write, capsys):
    path = write("v1.json", definition("a", "b", "c"))
    code, out, _ = run(capsys, "diff", path, path, "--task-def-changed", "a", "--task-def-changed", "c",
                       "--task-def-changed", "unused")
    findings = [line.split()[:3] for line in out.splitlines()[1:-1]]
    assert code == 0
    assert findings == [["CAUTION", "SharedTaskDefinitionChanged", "a"],
                        ["CAUTION", "SharedTaskDefinitionChanged", "c"]]


# ---- standing warnings: beside the verdict, never in the exit code ------------------------------

def with_unpinned_child(*refs, version=1):
    """A definition whose first task starts sub-workflow 'child' at whatever version is the latest."""
    body = definition(*refs, version=version)
    body["tasks"].insert(0, {"name": "run_child", "taskReferenceName": "run_child", "type": "SUB_WORKFLOW",
                             "subWorkflowParam": {"name": "child"}})
    return body


def test_a_sub_workflow_unpinned_in_both_versions_is_a_standing_warning_beside_a_safe_verdict(write, capsys):
    old, new = write("v1.json", with_unpinned_child("a")), write("v2.json", with_unpinned_child("a", "b", version=2))
    code, out, _ = run(capsys, "diff", old, new)
    lines = out.splitlines()
    assert code == 0
    assert lines[0] == "SAFE: order v1 -> order v2 (1 finding; 1 standing warning)"
    assert lines[1].split()[:3] == ["SAFE", "TaskAppended", "b"]
    assert lines[2] == "Standing warnings (old and new alike; they do not raise the verdict):"
    assert lines[3].split()[:2] == ["UnpinnedSubWorkflow", "run_child"]
    assert "in the old version and the new alike" in lines[3]
    assert lines[-1] == "Strategies allowed: parallel, drain, upgradeWaves"


def test_an_unpinned_sub_workflow_the_change_brings_in_is_a_finding(write, capsys):
    old, new = write("v1.json", definition("a")), write("v2.json", with_unpinned_child("a", version=2))
    code, out, _ = run(capsys, "diff", old, new)
    assert code == 0
    assert out.splitlines()[0] == "CAUTION: order v1 -> order v2 (2 findings)"
    assert "Standing warnings" not in out
    assert [line.split()[:3] for line in out.splitlines()[1:-1]] == [["CAUTION", "TaskInserted", "run_child"],
                                                                     ["CAUTION", "UnpinnedSubWorkflow", "run_child"]]


def test_the_exit_code_follows_the_verdict_alone(write, capsys):
    old = write("v1.json", with_unpinned_child("a", "b"))
    breaking = write("v2.json", with_unpinned_child("a", version=2))
    safe = write("v3.json", with_unpinned_child("a", "b", "c", version=3))
    code, out, _ = run(capsys, "diff", old, breaking)
    assert (code, out.splitlines()[0]) == (1, "BREAKING: order v1 -> order v2 (1 finding; 1 standing warning)")
    code, out, _ = run(capsys, "diff", old, safe, "-o", "json")
    assert (code, json.loads(out)["level"]) == (0, "Safe")


def test_json_output_lists_standing_warnings_beside_the_verdict(write, capsys):
    old, new = write("v1.json", with_unpinned_child("a")), write("v2.json", with_unpinned_child("a", "b", version=2))
    code, out, _ = run(capsys, "diff", old, new, "-o", "json")
    document = json.loads(out)
    assert code == 0
    assert document["level"] == "Safe"
    assert [(f["reason"], f["taskRef"]) for f in document["findings"]] == [("TaskAppended", "b")]
    [warning] = document["standingWarnings"]
    assert (warning["reason"], warning["taskRef"]) == ("UnpinnedSubWorkflow", "run_child")
    assert "no pinned version" in warning["message"] and "level" not in warning
    assert set(document["strategies"].values()) == {"Allowed"}


# ---- JSON output --------------------------------------------------------------------------------

def test_json_output_has_the_status_verdict_shape(write, capsys):
    old, new = write("v1.json", definition("a", "b")), write("v2.json", definition("a", "c", version=2))
    code, out, _ = run(capsys, "diff", old, new, "-o", "json")
    document = json.loads(out)
    assert code == 1
    assert document["level"] == "Breaking"
    assert [(f["level"], f["reason"], f["taskRef"]) for f in document["findings"]] == [
        ("Breaking", "TaskRemoved", "b"), ("Safe", "TaskAppended", "c")]
    assert all(f["message"] for f in document["findings"])
    assert document["from"] == {"name": "order", "version": 1}
    assert document["to"] == {"name": "order", "version": 2}
    assert document["strategies"] == {"parallel": "Allowed", "drain": "Allowed",
                                      "upgradeWaves": "NeedsAcknowledgement"}


def test_json_output_of_a_safe_change(write, capsys):
    path = write("v1.json", definition("a"))
    code, out, _ = run(capsys, "diff", path, path, "--output", "json")
    document = json.loads(out)
    assert code == 0
    assert (document["level"], document["findings"], document["standingWarnings"]) == ("Safe", [], [])
    assert set(document["strategies"].values()) == {"Allowed"}


# ---- manifests ----------------------------------------------------------------------------------

def test_manifests_take_name_and_version_from_the_spec(write, capsys):
    old = write("v1.yaml", manifest("a", "b", name="shipping", version=3))
    new = write("v2.yaml", manifest("a", "b", "c", name="shipping", version=4))
    code, out, _ = run(capsys, "diff", old, new)
    assert code == 0
    assert out.splitlines()[0] == "SAFE: shipping v3 -> shipping v4 (1 finding)"


def test_a_manifest_and_a_json_file_compare(write, capsys):
    old = write("v1.yaml", manifest("a", "b", name="order", version=1))
    new = write("v2.json", definition("a", "b", name="order", version=2))
    code, out, _ = run(capsys, "diff", old, new)
    assert (code, out.splitlines()[0]) == (0, "SAFE: order v1 -> order v2 (0 findings)")


def test_spec_name_wins_over_a_name_inside_the_definition(write, capsys):
    body = manifest("a", name="shipping", version=2)
    body["spec"]["definition"]["name"] = "order"
    old, new = write("v1.json", definition("a", name="order")), write("v2.yaml", body)
    code, out, _ = run(capsys, "diff", old, new)
    assert code == 1
    assert out.splitlines()[1].split()[:3] == ["BREAKING", "WorkflowRenamed", "-"]


def test_the_workflow_definition_is_found_among_other_documents(write, capsys):
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {}}
    old = write("v1.yaml", [configmap, manifest("a", version=1)])
    new = write("v2.yaml", manifest("a", "b", version=2))
    code, out, _ = run(capsys, "diff", old, new)
    assert (code, out.splitlines()[0]) == (0, "SAFE: order v1 -> order v2 (1 finding)")


def test_a_plain_conductor_definition_in_yaml_is_read_too(write, capsys):
    old, new = write("v1.yaml", definition("a")), write("v2.yml", definition("a", "b", version=2))
    code, out, _ = run(capsys, "diff", old, new)
    assert (code, out.splitlines()[0]) == (0, "SAFE: order v1 -> order v2 (1 finding)")


# ---- bad input ----------------------------------------------------------------------------------

BAD_INPUTS = [
    pytest.param(None, "no such file", id="missing-file"),
    pytest.param('{"name": "order", "tasks": [', "not valid JSON", id="broken-json"),
    pytest.param("name: order\ntasks: [a\n", "not valid JSON or YAML", id="broken-yaml"),
    pytest.param("a: !!python/object:os.system ls\n", "could not determine a constructor", id="unsafe-yaml-tag"),
    pytest.param("[1, 2, 3]", "not a workflow definition", id="json-list"),
    pytest.param("42", "not a workflow definition", id="json-number"),
    pytest.param("", "not a workflow definition", id="empty-file"),
    pytest.param('{"name": "order"}', "not a workflow definition", id="no-tasks"),
    pytest.param(yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}),
                 "a ConfigMap of v1, not a WorkflowDefinition", id="other-kind"),
    pytest.param(yaml.safe_dump({**manifest("a"), "apiVersion": "conductor-operator.io/v2"}),
                 "not a WorkflowDefinition of conductor-operator.io/v1alpha1", id="other-api-version"),
    pytest.param(yaml.safe_dump({**manifest("a"), "spec": {"name": "order", "version": 1, "definitionFrom": {
        "configMapKeyRef": {"name": "order", "key": "order.json"}}}}),
                 "spec.definitionFrom names ConfigMap 'order', which no file given holds; pass its manifest with -f",
                 id="definition-from-a-configmap-not-given"),
    pytest.param(yaml.safe_dump({**manifest("a"), "spec": {"name": "order", "version": 1}}),
                 "spec.definition with a tasks list is missing", id="manifest-without-definition"),
    pytest.param(yaml.safe_dump({**manifest("a"), "spec": {"definition": {"tasks": []}}}),
                 "spec.name and spec.version are required", id="manifest-without-name"),
    pytest.param(yaml.safe_dump_all([manifest("a"), manifest("b")]), "holds 2 WorkflowDefinition manifests",
                 id="two-workflow-definitions"),
    pytest.param(json.dumps(definition("a", "a")), "'a' is used more than once", id="duplicate-refs"),
    pytest.param(json.dumps({"name": "order", "tasks": [{"name": "a"}]}), "tasks[0] has no taskReferenceName",
                 id="task-without-ref"),
    pytest.param(b"\xff\xfe\x00binary", "not a text file", id="binary"),
]


@pytest.mark.parametrize(("content", "message"), BAD_INPUTS)
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, content, message):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(definition("a")))
    bad = tmp_path / ("bad.json" if isinstance(content, str) and content.startswith("{") else "bad.yaml")
    if isinstance(content, bytes):
        bad.write_bytes(content)
    elif content is not None:
        bad.write_text(content)
    code, out, err = run(capsys, "diff", str(good), str(bad))
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith(f"kubectl-conductor: error: {bad}: ")
    assert message in err


def test_bad_old_file_is_named_too(tmp_path, capsys):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(definition("a")))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(definition("a", "a")))
    code, _, err = run(capsys, "diff", str(bad), str(good))
    assert code == 2
    assert err.startswith(f"kubectl-conductor: error: {bad}: ")


@pytest.mark.parametrize("argv", [
    [],
    ["diff"],
    ["diff", "only-one.json"],
    ["diff", "a.json", "b.json", "-o", "yaml"],
    ["frobnicate"],
])
def test_usage_errors_exit_2(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert "usage: kubectl-conductor" in err
    assert "Traceback" not in err


def test_help_exits_0(capsys):
    code, out, _ = run(capsys, "diff", "--help")
    assert code == 0
    assert "--task-def-changed" in out


def test_the_console_script_entry_point_runs_without_a_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "conductor_operator.cli.main", "diff",
                             str(tmp_path / "missing.json"), str(tmp_path / "also-missing.json")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr == f"kubectl-conductor: error: {tmp_path / 'missing.json'}: no such file\n"


# ---- the examples ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("new", "code", "first_line", "findings"), [
    ("order-v1.json", 0, "SAFE: order_fulfillment v1 -> order_fulfillment v1 (0 findings)", []),
    ("order-v2-safe.json", 0, "SAFE: order_fulfillment v1 -> order_fulfillment v2 (1 finding)",
     [["SAFE", "TaskAppended", "notify_customer"]]),
    ("order-v2-breaking.json", 1, "BREAKING: order_fulfillment v1 -> order_fulfillment v2 (1 finding)",
     [["BREAKING", "TaskRemoved", "charge_payment"]]),
])
def test_examples(capsys, new, code, first_line, findings):
    result, out, err = run(capsys, "diff", str(EXAMPLES / "order-v1.json"), str(EXAMPLES / new))
    lines = out.splitlines()
    assert (result, err) == (code, "")
    assert lines[0] == first_line
    assert [line.split()[:3] for line in lines[1:-1]] == findings


# ---- definitions in ConfigMaps (spec.definitionFrom) -------------------------------------------

def from_config_map(name="order", version=1, config_map="order-v2", key="workflow.json"):
    return {**manifest(name=name, version=version),
            "spec": {"name": name, "version": version,
                     "definitionFrom": {"configMapKeyRef": {"name": config_map, "key": key}}}}


def config_map(name, **data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def v2_json(*refs, **extra):
    return {"workflow.json": json.dumps(definition(*refs, version=2, **extra))}


def test_a_definition_from_a_config_map_in_the_same_file(write, capsys):
    old = write("v1.yaml", manifest("a", "b"))
    new = write("v2.yaml", [config_map("order-v2", **v2_json("a", "b", "c")),
                            from_config_map(version=2)])
    code, out, _ = run(capsys, "diff", old, new)
    assert code == 0
    assert out.startswith("SAFE: order v1 -> order v2 (1 finding)")
    assert "TaskAppended" in out


def test_a_definition_from_a_config_map_in_another_file(write, capsys):
    old = write("v1.yaml", manifest("a", "b"))
    new = write("v2.yaml", from_config_map(version=2))
    maps = write("configmaps.yaml", [config_map("other", x="{}"),
                                     config_map("order-v2", **v2_json("b", "a"))])
    code, out, _ = run(capsys, "diff", old, new, "-f", maps)
    assert (code, out.split(":")[0]) == (0, "CAUTION")
    assert "TasksReordered" in out


@pytest.mark.parametrize(("data", "message"), [
    ({}, "ConfigMap order-v2 ({maps}) has no key 'workflow.json' in its data"),
    ({"workflow.json": "{not json"}, "ConfigMap order-v2 key workflow.json is not valid JSON"),
    ({"workflow.json": "[1]"}, "holds JSON that is not a definition object"),
    (v2_json("a", name="payments"), "holds name 'payments', but spec.name is 'order'"),
    ({"workflow.json": json.dumps(definition("a", version=3))}, "holds version 3, but spec.version is 2"),
], ids=["no-key", "broken-json", "not-an-object", "other-name", "other-version"])
def test_a_config_map_that_cannot_serve_says_why(write, capsys, data, message):
    old = write("v1.yaml", manifest("a"))
    new = write("v2.yaml", from_config_map(version=2))
    maps = write("configmaps.yaml", config_map("order-v2", **data))
    code, out, err = run(capsys, "diff", old, new, "-f", maps)
    assert (code, out) == (2, "")
    assert err.startswith(f"kubectl-conductor: error: {new}: ")
    assert message.format(maps=maps) in err
