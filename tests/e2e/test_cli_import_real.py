"""`kubectl conductor import` against the real Conductor, populated by hand first, and the real operator adopting
what the import wrote: every resource Ready with reason Adopted, and nothing registered again."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml
from conductor_operator.cli.main import main
from conductor_operator.domain.definitions import content_hash, desired_workflow_definition

from tests.e2e.conftest import events_for

pytestmark = pytest.mark.realenv


def task_def(name: str, **fields) -> dict:
    return {"name": name, "ownerEmail": "team@example.com", **fields}


def workflow(name: str, version: int, tasks: list[dict], **fields) -> dict:
    return {"name": name, "version": version, "ownerEmail": "team@example.com", "schemaVersion": 2,
            "tasks": tasks, **fields}


@pytest.fixture
def populated(conductor_url) -> dict:
    """Task definitions and two versions of a workflow registered straight through Conductor's API, as a team that
    never used the operator would have them; a second workflow and a task definition nobody uses besides."""
    suffix = uuid.uuid4().hex[:8]
    names = {"charge": f"imp_charge_{suffix}", "ship": f"imp_ship_{suffix}", "unused": f"imp_unused_{suffix}",
             "workflow": f"imp_Order_Flow_{suffix}", "other": f"other_flow_{suffix}"}
    charge = {"name": names["charge"], "taskReferenceName": "charge", "type": "SIMPLE",
              "inputParameters": {"amount": "${workflow.input.amount}", "options": {}, "note": None}}
    ship = {"name": names["ship"], "taskReferenceName": "ship", "type": "SIMPLE",
            "inputParameters": {"order": "${workflow.input.orderId}"}}
    decide = {"name": "decide", "taskReferenceName": "decide", "type": "SWITCH", "evaluatorType": "value-param",
              "expression": "kind", "inputParameters": {"kind": "${workflow.input.kind}"},
              "decisionCases": {"express": [{**ship, "taskReferenceName": "ship_express", "optional": True}]},
              "defaultCase": [ship]}
    with httpx.Client(base_url=f"{conductor_url}/api", timeout=30) as api:
        api.post("/metadata/taskdefs", json=[
            task_def(names["charge"], retryCount=5, retryLogic="EXPONENTIAL_BACKOFF", responseTimeoutSeconds=120,
                     timeoutSeconds=600, description="charges the card"),
            task_def(names["ship"], totalTimeoutSeconds=900),  # a field the TaskDefinition schema lacks
            task_def(names["unused"])]).raise_for_status()
        api.put("/metadata/workflow", json=[
            workflow(names["workflow"], 1, [charge], inputParameters=["amount"]),
            workflow(names["workflow"], 2, [charge, decide], description="adds shipping", timeoutSeconds=3600,
                     timeoutPolicy="TIME_OUT_WF", outputParameters={"shipped": "${ship.output.done}"}),
            workflow(names["other"], 1, [charge])]).raise_for_status()
    return names


def snapshot(conductor_url: str, names: dict) -> dict:
    """Conductor's copies, server fields (createTime, updateTime) included: any registration changes them."""
    with httpx.Client(base_url=f"{conductor_url}/api", timeout=30) as api:
        copies = {key: api.get(f"/metadata/taskdefs/{names[key]}").json() for key in ("charge", "ship", "unused")}
        for version in (1, 2):
            copies[f"v{version}"] = api.get(f"/metadata/workflow/{names['workflow']}",
                                            params={"version": version}).json()
    return copies


def manifests(directory: Path) -> dict[str, dict]:
    return {path.name: yaml.safe_load(path.read_text()) for path in sorted(directory.iterdir())}


def test_import_then_apply_adopts_without_registering(populated, conductor_url, kubectl, resources, namespace,
                                                      operator, tmp_path, capsys):
    names = populated
    before = snapshot(conductor_url, names)
    out = tmp_path / "imported"

    suffix = names["charge"][-8:]
    code = main(["import", "--server", conductor_url, "--name", f"imp_Order_*_{suffix}",
                 "--name", f"none_[xyz]_{suffix}", "-o", str(out)])
    printed, errors = capsys.readouterr()
    assert code == 0, errors
    assert "1 ConductorCluster, 2 TaskDefinitions, 2 WorkflowDefinitions (1 workflow)" in printed
    assert "Traceback" not in errors

    written = manifests(out)
    workflow_resource = f"imp-order-flow-{suffix}"
    assert sorted(written) == sorted([
        "conductorcluster-default.yaml", f"taskdefinition-imp-charge-{suffix}.yaml",
        f"taskdefinition-imp-ship-{suffix}.yaml", f"workflowdefinition-{workflow_resource}-v1.yaml",
        f"workflowdefinition-{workflow_resource}-v2.yaml"])
    assert written["conductorcluster-default.yaml"]["spec"] == {"url": conductor_url}
    v2 = written[f"workflowdefinition-{workflow_resource}-v2.yaml"]["spec"]
    assert (v2["name"], v2["version"]) == (names["workflow"], 2)
    assert "createTime" not in v2["definition"] and "updateTime" not in v2["definition"]
    # the one field the schema lacks that holds something else than Conductor's default is named
    assert f"task definition {names['ship']}: totalTimeoutSeconds not in the TaskDefinition schema" in errors

    kubectl("apply", "-n", namespace, "-f", str(out))

    kinds = [("TaskDefinition", f"imp-charge-{suffix}"), ("TaskDefinition", f"imp-ship-{suffix}"),
             ("WorkflowDefinition", f"{workflow_resource}-v1"), ("WorkflowDefinition", f"{workflow_resource}-v2")]
    for kind, name in kinds:
        ready = resources.wait_condition(kind, name, "Ready", reason="Adopted", timeout=60)
        assert "already registered in Conductor with identical content" in ready["message"]
        status = resources.get(kind, name)["status"]
        assert status["registered"] is True
        assert status["contentHash"].startswith("sha256:")
        assert "registeredAt" not in status, f"{kind} {name} was registered by the operator: {status}"
    stored = resources.get("WorkflowDefinition", f"{workflow_resource}-v2")
    spec = stored["spec"]
    assert stored["status"]["contentHash"] == content_hash(
        desired_workflow_definition(spec["name"], spec["version"], spec["definition"]))
    assert ("Normal", "Adopted") in {(type_, reason) for type_, reason, _ in
                                     events_for(resources.api.api_client, namespace, f"{workflow_resource}-v2")}

    # Nothing was written to Conductor: its copies, createTime and updateTime included, are as they were, also
    # after a few more resync ticks of the operator.
    time.sleep(6)
    assert snapshot(conductor_url, names) == before


def test_import_refuses_bad_input_with_one_line(conductor_url, tmp_path, capsys):
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.yaml").write_text("kind: Something\n")
    cases = [
        (["--server", "http://127.0.0.1:9", "-o", str(tmp_path / "a")], "cannot read"),
        (["--server", "https://example.invalid", "-o", str(tmp_path / "b")], "cannot read"),
        (["--server", conductor_url, "-o", str(full)], "holds files already"),
        (["--server", conductor_url, "--name", "[abc", "-o", str(tmp_path / "c")], "without its closing ]"),
        (["--server", conductor_url, "--name", "no_such_workflow_*", "-o", str(tmp_path / "d")],
         "no workflow in Conductor matches"),
        (["--server", "ftp://conductor", "-o", str(tmp_path / "e")], "http:// or https://"),
    ]
    for argv, expected in cases:
        code = main(["import", *argv])
        out, err = capsys.readouterr()
        assert code == 2, (argv, out, err)
        assert expected in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, (argv, err)
    assert sorted(p.name for p in full.iterdir()) == ["keep.yaml"]
    assert not (tmp_path / "c").exists()


def test_import_of_a_server_that_is_not_conductor(operator, tmp_path, capsys):
    """The operator's liveness endpoint answers HTTP, but not as Conductor."""
    code = main(["import", "--server", f"http://127.0.0.1:{operator.port}", "-o", str(tmp_path / "out")])
    _, err = capsys.readouterr()
    assert code == 2 and "does not answer as a Conductor server" in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not (tmp_path / "out").exists()
