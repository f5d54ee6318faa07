"""The operator's image, built and run for real: as the chart runs it, against the test environment.

A Docker engine of the test's own (testenv/docker.py) builds the Dockerfile on a Python base image made from
Debian packages (Docker Hub is out of reach here; the Dockerfile's default base is the official image, pinned by
digest) and runs it the way the chart's Deployment runs it: uid 65532, a read-only root filesystem with an empty
/tmp, no capabilities, the environment `helm template` renders, and the credentials of the chart's ServiceAccount
(its RBAC applied from the rendered chart, a token from the TokenRequest API) in a kubeconfig. The operator must
reconcile a WorkflowDefinition to Ready and answer its liveness and readiness probes.

There is no kubelet: the container shares the host's network (the probes' ports are moved to free ones, the
only change to the rendered environment) and reaches the API server on loopback. If Docker cannot run here,
these tests fail: they never skip.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from testenv.docker import DockerEngine, build_image, local_base_image
from testenv.operator import OperatorProcess
from testenv.servers import free_port
from testenv.tools import REPO_ROOT
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.realenv

CHART = REPO_ROOT / "charts" / "conductor-operator"
IMAGE = "conductor-operator:e2e"
CHART_VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
RBAC_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ClusterKopfPeering",
              "KopfPeering"}
MAX_IMAGE_BYTES = 250 * 1024 * 1024


@pytest.fixture(scope="module")
def engine() -> Iterator[DockerEngine]:
    with DockerEngine() as engine:
        yield engine


@pytest.fixture(scope="module")
def image(engine) -> str:
    """The Dockerfile built on the local Debian base image (BASE_IMAGE build argument)."""
    started = time.monotonic()
    base = local_base_image(engine)
    build_image(engine, REPO_ROOT, IMAGE, base_image=base)
    engine.run("image", "prune", "--force")  # the previous builds' images: the cached data root stays small
    print(f"\nimage {IMAGE} on {base}: {engine.image_size(IMAGE) / 2**20:.0f} MiB, "
          f"base and build in {time.monotonic() - started:.0f}s")
    return IMAGE


def test_the_image_is_small_runs_as_a_numeric_non_root_user_and_carries_no_build_tools(engine, image):
    config = json.loads(engine.run("image", "inspect", image).stdout)[0]["Config"]
    assert config["User"] == f"{CHART_VALUES['podSecurityContext']['runAsUser']}:65532"
    assert config["Entrypoint"] == ["python", "-m", "conductor_operator"]
    found = engine.run("run", "--rm", "--network", "none", "--entrypoint", "sh", image, "-c",
                       "for tool in pip pip3 gcc cc make; do command -v $tool; done; "
                       "python -c 'import pip' 2>/dev/null && echo 'import pip'; "
                       "python -c 'import kubernetes' 2>/dev/null && echo 'import kubernetes'; "
                       "python -c 'import conductor_operator.handlers, kopf; print(\"imports\")'", check=False)
    # The kubernetes client is the kubectl plugin's (the cli extra): the operator does without it.
    assert found.stdout.split() == ["imports"], f"build tools in the final image:\n{found.stdout}{found.stderr}"
    size = engine.image_size(image)
    assert size < MAX_IMAGE_BYTES, f"the image is {size / 2**20:.0f} MiB"


# --- the image as the chart runs it --------------------------------------------------------------


def helm_template(tools, release: str, namespace: str, *values: str) -> list[dict]:
    args = [a for v in values for a in ("--set", v)]
    out = subprocess.run([str(tools.helm), "template", release, str(CHART), "--namespace", namespace, *args],
                         capture_output=True, text=True, check=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def service_account_kubeconfig(k8s, admin_kubeconfig: Path, namespace: str, account: str, folder: Path) -> Path:
    """A kubeconfig holding a token of the ServiceAccount (TokenRequest: what a pod's projected token is)."""
    request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[],
                                                                                 expiration_seconds=3600))
    token = client.CoreV1Api(k8s).create_namespaced_service_account_token(account, namespace, request).status.token
    admin = yaml.safe_load(admin_kubeconfig.read_text())
    cluster = admin["clusters"][0]["cluster"]
    ca = Path(cluster["certificate-authority"]).read_text()
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "in-pod",
        "clusters": [{"name": "cluster", "cluster": {
            "server": cluster["server"], "certificate-authority-data": base64.b64encode(ca.encode()).decode()}}],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": "in-pod", "context": {"cluster": "cluster", "user": account, "namespace": namespace}}],
    }
    folder.chmod(0o755)
    path = folder / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o644)  # readable by uid 65532, as a mounted token is
    return path


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def container_env(container: dict, pod_name: str, ports: dict[str, int]) -> dict[str, str]:
    """The container's rendered env: fieldRef metadata.name is the pod's name; probe ports moved to free ones."""
    env = {}
    for entry in container["env"]:
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        else:
            assert entry["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}, entry
            env[entry["name"]] = pod_name
    for name, port in ports.items():
        env[name] = env[name].replace(":8080/", f":{port}/").replace(":8081/", f":{port}/")
    return env


def test_the_image_reconciles_as_the_chart_runs_it(engine, image, tools, k8s, kubectl, kubeconfig, namespace,
                                                   resources, conductor_url, operator, peering_crds, tmp_path):
    release = f"img-{uuid.uuid4().hex[:6]}"
    documents = helm_template(tools, release, namespace)
    (deployment,) = [d for d in documents if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    account = pod["serviceAccountName"]
    rbac = [d for d in documents if d["kind"] in RBAC_KINDS]
    assert {d["kind"] for d in rbac} >= {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ClusterKopfPeering"}
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all(rbac))
    cluster_scoped = [f"{d['kind'].lower()}/{d['metadata']['name']}" for d in rbac if "namespace" not in d["metadata"]]

    pod_name = f"{deployment['metadata']['name']}-7d9f8-x2k4q"
    ports = {"LIVENESS_ENDPOINT": free_port(), "READINESS_ENDPOINT": free_port()}
    env = container_env(container, pod_name, ports)
    security, pod_security = container["securityContext"], pod["securityContext"]
    assert security["readOnlyRootFilesystem"] and security["capabilities"] == {"drop": ["ALL"]}
    (tmp_mount,) = container["volumeMounts"]
    name = f"conductor-operator-{release}"
    credentials = service_account_kubeconfig(k8s, kubeconfig, namespace, account, tmp_path)
    run = ["run", "--detach", "--name", name, "--network", "host",
           "--user", f"{pod_security['runAsUser']}:{pod_security['runAsGroup']}",
           "--read-only", "--tmpfs", f"{tmp_mount['mountPath']}:rw,size=64m",
           "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
           "--volume", f"{credentials}:/run/kube/config:ro",
           "--env", "KUBECONFIG=/run/kube/config"]
    for key, value in env.items():
        run += ["--env", f"{key}={value}"]

    def logs() -> str:
        result = engine.run("logs", name, check=False)
        return (result.stdout + result.stderr)[-6000:]

    operator.stop()  # one operator at a time: the session's would handle the same resources
    try:
        engine.run(*run, image)
        live = f"http://127.0.0.1:{ports['LIVENESS_ENDPOINT']}/healthz"
        ready = f"http://127.0.0.1:{ports['READINESS_ENDPOINT']}/readyz"
        try:
            wait_for(lambda: http_status(ready) == 200, timeout=120, what="the readiness probe")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nreadyz: {http_status(ready)}\n{logs()}") from None
        assert http_status(live) == 200

        resources.create("ConductorCluster", "default", {"url": conductor_url})
        workflow = f"image_{uuid.uuid4().hex[:8]}"
        resources.create("WorkflowDefinition", "from-image", {"name": workflow, "version": 1, "definition": {
            "tasks": [{"name": "a", "taskReferenceName": "a", "type": "SIMPLE"}]}})
        try:
            resources.wait_condition("ConductorCluster", "default", "Ready", timeout=60)
            resources.wait_condition("WorkflowDefinition", "from-image", "Ready", timeout=60)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{logs()}") from None

        peers = client.CustomObjectsApi(k8s).get_cluster_custom_object(
            "kopf.dev", "v1", "clusterkopfpeerings", env["PEERING_NAME"]).get("status") or {}
        assert pod_name in peers, "the operator's peering identity is the pod's name (POD_NAME)"
        output = logs()
        assert "Handler 'workflow_changed' succeeded" in output
        for trouble in ("Traceback", "Forbidden", "Read-only file system"):
            assert trouble not in output, f"{trouble} in the operator's log:\n{output}"
        assert engine.run("inspect", "--format", "{{.State.Running}}", name).stdout.strip() == "true"
    finally:
        engine.run("rm", "--force", name, check=False)
        kubectl("delete", "--ignore-not-found", "--wait=false", *cluster_scoped, check=False)
        operator.start()


def test_the_operator_works_with_only_the_charts_rights_in_watched_namespaces(
        tools, k8s, kubectl, kubeconfig, namespace, resources, conductor_url, operator, peering_crds, tmp_path):
    """The namespaced install (a Role in each watched namespace) under the ServiceAccount's token, without Docker:
    the same RBAC check for the mode the image test does not run, with the operator as a process."""
    release = f"ns-{uuid.uuid4().hex[:6]}"
    documents = helm_template(tools, release, namespace, "crds.install=false", f"watchNamespaces={{{namespace}}}")
    (deployment,) = [d for d in documents if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    rbac = [d for d in documents if d["kind"] in RBAC_KINDS]
    assert {d["kind"] for d in rbac} >= {"Role", "RoleBinding", "KopfPeering", "ClusterRole"}
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all(rbac))
    cluster_scoped = [f"{d['kind'].lower()}/{d['metadata']['name']}" for d in rbac if "namespace" not in d["metadata"]]
    credentials = service_account_kubeconfig(k8s, kubeconfig, namespace,
                                             deployment["spec"]["template"]["spec"]["serviceAccountName"], tmp_path)
    ports = {"LIVENESS_ENDPOINT": free_port(), "READINESS_ENDPOINT": free_port()}
    env = container_env(container, f"{release}-5c8d7-q9w2e", ports)
    env = {k: v.replace("0.0.0.0", "127.0.0.1") for k, v in env.items()}
    env.pop("LIVENESS_ENDPOINT")  # OperatorProcess serves liveness on a port of its own
    process = OperatorProcess(credentials, tmp_path / "operator.log", **env)
    operator.stop()
    try:
        process.start(timeout=120)
        ready = env["READINESS_ENDPOINT"]
        wait_for(lambda: http_status(ready) == 200, timeout=120, what="the readiness probe")
        resources.create("ConductorCluster", "default", {"url": conductor_url})
        resources.create("WorkflowDefinition", "namespaced", {
            "name": f"ns_{uuid.uuid4().hex[:8]}", "version": 1,
            "definition": {"tasks": [{"name": "a", "taskReferenceName": "a", "type": "SIMPLE"}]}})
        resources.wait_condition("WorkflowDefinition", "namespaced", "Ready", timeout=60)
        log = process.log_text()
        assert "Forbidden" not in log and "Traceback" not in log, log[-6000:]
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{process.log_tail()}") from None
    finally:
        process.stop()
        kubectl("delete", "--ignore-not-found", "--wait=false", *cluster_scoped, check=False)
        operator.start()
