"""`kubectl conductor import` against a fake Conductor (httpx.MockTransport): what it writes, what it says, and
the one-line errors (exit 2) for input it cannot use."""

import json
import stat

import httpx
import pytest
import yaml
from conductor_operator.cli import importer
from conductor_operator.cli.main import main
from conductor_operator.conductor.client import ConductorClient

SERVER = "http://conductor.test:8080"


def task(name, ref):
    return {"name": name, "taskReferenceName": ref, "type": "SIMPLE", "inputParameters": {}, "startDelay": 0}


WORKFLOWS = [
    {"name": "order_flow", "version": 1, "tasks": [task("charge", "c")], "updateTime": 5, "schemaVersion": 2},
    {"name": "order_flow", "version": 2, "tasks": [task("charge", "c"), task("ship", "s")], "schemaVersion": 2},
    {"name": "refunds", "version": 1, "tasks": [task("refund", "r")], "schemaVersion": 2},
]
TASK_DEFS = [{"name": name, "retryCount": 1, "createTime": 3} for name in ("charge", "ship", "refund", "unused")]


class FakeConductor:
    def __init__(self, orkes=False, version="3.32.3"):
        self.orkes = orkes
        self.version = version
        self.requests = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        path = request.url.path
        if path == "/api/version":
            return httpx.Response(200, text=self.version)
        if path == "/api/token":
            return httpx.Response(200, json={"token": "tok"}) if self.orkes else httpx.Response(404)
        if path == "/api/metadata/workflow" and request.method == "GET":
            return httpx.Response(200, json=WORKFLOWS)
        if path == "/api/metadata/taskdefs" and request.method == "GET":
            return httpx.Response(200, json=TASK_DEFS)
        return httpx.Response(404, json={"message": "no"})


@pytest.fixture
def fake(monkeypatch):
    server = FakeConductor()

    def client(*args, **kwargs):
        return ConductorClient(*args, **kwargs, transport=httpx.MockTransport(lambda r: server(r)))
    monkeypatch.setattr(importer, "ConductorClient", client)
    monkeypatch.delenv(importer.KEY_ID_ENV, raising=False)
    monkeypatch.delenv(importer.KEY_SECRET_ENV, raising=False)
    return server


def run(capsys, *argv):
    code = main(["import", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def written(directory):
    return {path.name: yaml.safe_load(path.read_text()) for path in sorted(directory.iterdir())}


def test_writes_one_manifest_per_version_and_the_task_definitions_used(fake, tmp_path, capsys):
    code, out, err = run(capsys, "--server", SERVER, "--name", "order_*", "-o", str(tmp_path / "out"))
    assert code == 0, err
    files = written(tmp_path / "out")
    assert sorted(files) == ["conductorcluster-default.yaml", "taskdefinition-charge.yaml",
                             "taskdefinition-ship.yaml", "workflowdefinition-order-flow-v1.yaml",
                             "workflowdefinition-order-flow-v2.yaml"]
    assert files["conductorcluster-default.yaml"]["spec"] == {"url": SERVER}
    v1 = files["workflowdefinition-order-flow-v1.yaml"]["spec"]
    assert v1 == {"name": "order_flow", "version": 1, "definition": {
        "tasks": [{"name": "charge", "taskReferenceName": "c", "type": "SIMPLE"}], "schemaVersion": 2}}
    assert files["taskdefinition-charge.yaml"]["spec"] == {"name": "charge", "definition": {"retryCount": 1}}
    assert out.splitlines()[0] == (f"Wrote 5 files to {tmp_path / 'out'}: 1 ConductorCluster, 2 TaskDefinitions, "
                                   f"2 WorkflowDefinitions (1 workflow).")
    assert "Adopted" in out and err == ""
    assert all(method == "GET" or path == "/api/token" for method, path in fake.requests), fake.requests
    assert (tmp_path / "out" / "taskdefinition-charge.yaml").read_text().startswith("# Written by")


def test_everything_without_a_pattern_and_every_task_definition_when_asked(fake, tmp_path, capsys):
    code, out, _ = run(capsys, "--server", SERVER, "--all-task-defs", "-o", str(tmp_path / "out"))
    assert code == 0
    assert "4 TaskDefinitions, 3 WorkflowDefinitions (2 workflows)" in out


def test_a_named_cluster_and_the_url_the_operator_uses(fake, tmp_path, capsys):
    code, _, err = run(capsys, "--server", "http://localhost:8080", "--cluster-name", "prod",
                       "--cluster-url", "http://conductor.conductor:8080", "-o", str(tmp_path))
    files = written(tmp_path)
    assert code == 0 and err == ""
    assert files["conductorcluster-prod.yaml"]["spec"] == {"url": "http://conductor.conductor:8080"}
    assert files["workflowdefinition-refunds-v1.yaml"]["spec"]["clusterRef"] == {"name": "prod"}


def test_a_loopback_url_is_pointed_out(fake, tmp_path, capsys):
    code, _, err = run(capsys, "--server", "http://127.0.0.1:8080", "-o", str(tmp_path))
    assert code == 0 and "a loopback address; if the operator reaches Conductor elsewhere, pass --cluster-url" in err


def test_orkes_key_is_referred_to_and_never_written_unless_asked(fake, tmp_path, capsys, monkeypatch):
    fake.orkes = True
    monkeypatch.setenv(importer.KEY_ID_ENV, "key-id-1")
    monkeypatch.setenv(importer.KEY_SECRET_ENV, "s3cr3t-value")
    code, out, err = run(capsys, "--server", SERVER, "-o", str(tmp_path / "a"))
    assert code == 0
    files = written(tmp_path / "a")
    assert files["conductorcluster-default.yaml"]["spec"]["auth"] == {"secretRef": {"name": "default-conductor-key"}}
    assert "kubectl create secret generic default-conductor-key" in err
    on_disk = "".join(path.read_text() for path in (tmp_path / "a").iterdir())
    assert "s3cr3t-value" not in on_disk + out + err and "key-id-1" not in on_disk

    code, _, err = run(capsys, "--server", SERVER, "--secret-name", "orkes", "--write-secret",
                       "-o", str(tmp_path / "b"))
    secret_file = tmp_path / "b" / "secret-orkes.yaml"
    assert code == 0 and "clear text" in err
    assert yaml.safe_load(secret_file.read_text())["stringData"] == {"keyId": "key-id-1", "keySecret": "s3cr3t-value"}
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600


def test_a_key_given_to_conductor_oss_writes_no_auth(fake, tmp_path, capsys):
    code, _, err = run(capsys, "--server", SERVER, "--key-id", "k", "--key-secret", "s", "-o", str(tmp_path))
    assert code == 0 and "Conductor OSS, which takes no application key" in err
    assert "auth" not in written(tmp_path)["conductorcluster-default.yaml"]["spec"]


def test_force_writes_into_a_directory_with_files(fake, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    code, _, err = run(capsys, "--server", SERVER, "-o", str(tmp_path))
    assert code == 2 and "holds files already; pass --force" in err
    code, _, _ = run(capsys, "--server", SERVER, "-o", str(tmp_path), "--force")
    assert code == 0 and (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(("argv", "expected"), [
    (["--name", "[abc"], "without its closing ]"),
    (["--name", ""], "empty --name pattern"),
    (["--name", "payments*"], "no workflow in Conductor matches --name payments* (it has 2 workflows)"),
    (["--key-id", "only-the-id"], "needs both its id and its secret"),
    (["--cluster-url", "http://user:pw@conductor:8080"], "must not hold a user or password"),
    (["--cluster-name", "Prod_1"], "--cluster-name 'Prod_1' is not a Kubernetes name"),
])
def test_bad_input_is_one_line_and_exit_2(fake, tmp_path, capsys, argv, expected):
    code, out, err = run(capsys, "--server", SERVER, *argv, "-o", str(tmp_path / "out"))
    assert (code, out) == (2, "")
    assert expected in err and len(err.splitlines()) == 1 and err.startswith("kubectl-conductor: error: ")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("answer", "expected"), [
    (lambda request: httpx.Response(200, text="<html>hello</html>"), "does not answer as a Conductor server"),
    (lambda request: httpx.Response(404, text="nope"), "does not answer as a Conductor server"),
    (lambda request: httpx.Response(503), "cannot read http://conductor.test:8080"),
    (lambda request: (_ for _ in ()).throw(httpx.ConnectError("connection refused")), "connection refused"),
])
def test_a_server_that_is_not_usable_is_one_line_and_exit_2(monkeypatch, tmp_path, capsys, answer, expected):
    def client(*args, **kwargs):
        return ConductorClient(*args, **kwargs, transport=httpx.MockTransport(answer), retries=0)
    monkeypatch.setattr(importer, "ConductorClient", client)
    code, out, err = run(capsys, "--server", SERVER, "-o", str(tmp_path / "out"))
    assert (code, out) == (2, "")
    assert expected in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


def test_a_url_that_is_not_one(tmp_path, capsys):
    code, _, err = run(capsys, "--server", "conductor:8080", "-o", str(tmp_path / "out"))
    assert code == 2 and "http:// or https://" in err and len(err.splitlines()) == 1


def test_definitions_that_are_not_lists_are_not_conductor(monkeypatch, tmp_path, capsys):
    def answer(request):
        if request.url.path == "/api/version":
            return httpx.Response(200, text="3.32.3")
        if request.url.path == "/api/token":
            return httpx.Response(404)
        return httpx.Response(200, content=json.dumps({"not": "a list"}))

    def client(*args, **kwargs):
        return ConductorClient(*args, **kwargs, transport=httpx.MockTransport(answer))
    monkeypatch.setattr(importer, "ConductorClient", client)
    code, _, err = run(capsys, "--server", SERVER, "-o", str(tmp_path / "out"))
    assert code == 2 and "not lists" in err


def test_a_server_asking_for_credentials_names_the_key_options(monkeypatch, tmp_path, capsys):
    def client(*args, **kwargs):
        return ConductorClient(*args, **kwargs, transport=httpx.MockTransport(lambda request: httpx.Response(401)))
    monkeypatch.setattr(importer, "ConductorClient", client)
    monkeypatch.delenv(importer.KEY_ID_ENV, raising=False)
    code, _, err = run(capsys, "--server", SERVER, "-o", str(tmp_path / "out"))
    assert code == 2 and "answered HTTP 401 to a request without credentials" in err and "--key-id" in err


def test_a_ca_file_is_checked_and_written_to_the_cluster(fake, tmp_path, capsys):
    not_pem = tmp_path / "ca.txt"
    not_pem.write_text("hello")
    code, _, err = run(capsys, "--server", SERVER, "--ca-file", str(not_pem), "-o", str(tmp_path / "a"))
    assert code == 2 and "not PEM certificates" in err
    code, _, err = run(capsys, "--server", SERVER, "--ca-file", str(tmp_path / "absent.pem"), "-o", str(tmp_path / "a"))
    assert code == 2 and "cannot read it" in err
