"""Helm 4's `--wait` is kstatus, and the operator's resources are kstatus-correct from their first second.

Helm 4 (helm.sh/helm/v4, built from the Go module proxy) waits with the `watcher` strategy when given `--wait`
alone (pkg/cmd/flags.go: the flag's no-value default; without the flag it only waits for hooks). That strategy
(pkg/kube/statuswait.go) watches every object of the release through kstatus until all are Current, stops early
when the rest are Current and some are Failed (kstatus: a `Stalled=True` condition), and then fails naming each
one with its status and message; at --timeout it fails with the context's deadline. Flux's Kustomization health
checks use the same library.

kstatus reads a custom resource with no status as Current. The CRDs default a new object's status to
`{observedGeneration: -1}`, which kstatus reads as InProgress until the operator has written its status. A small
chart holding a ConductorCluster and WorkflowDefinitions, generated per test, shows the three outcomes with the
real operator: ready, stalled, and no operator at all.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.realenv

GROUP_VERSION = "conductor-operator.io/v1alpha1"


def write_chart(folder: Path, conductor_url: str, definitions: dict[str, list[dict]]) -> Path:
    """A chart with a ConductorCluster "default" and one WorkflowDefinition per entry (name -> tasks)."""
    chart = folder / "conductor-wait"
    (chart / "templates").mkdir(parents=True)
    chart_yaml = {"apiVersion": "v2", "name": "conductor-wait", "version": "0.1.0"}
    (chart / "Chart.yaml").write_text(yaml.safe_dump(chart_yaml))
    documents = [{"apiVersion": GROUP_VERSION, "kind": "ConductorCluster", "metadata": {"name": "default"},
                  "spec": {"url": conductor_url}}]
    for name, tasks in definitions.items():
        documents.append({"apiVersion": GROUP_VERSION, "kind": "WorkflowDefinition", "metadata": {"name": name},
                          "spec": {"name": f"helm4_{name.replace('-', '_')}_{uuid.uuid4().hex[:8]}", "version": 1,
                                   "definition": {"tasks": tasks}}})
    (chart / "templates" / "resources.yaml").write_text(yaml.safe_dump_all(documents))
    return chart


def simple(ref: str, name: str | None = None) -> dict:
    return {"name": name or ref, "taskReferenceName": ref, "type": "SIMPLE"}


@pytest.fixture
def helm4(tools, kubeconfig, namespace, tmp_path):
    """Run Helm 4 against the test environment in the test's namespace, with a config and cache of its own."""
    binary = tools.helm4
    env = {**os.environ, "HELM_CONFIG_HOME": str(tmp_path / "config"), "HELM_CACHE_HOME": str(tmp_path / "cache"),
           "HELM_DATA_HOME": str(tmp_path / "data"), "KUBECONFIG": str(kubeconfig)}

    def run(*args: str) -> tuple[subprocess.CompletedProcess, float]:
        started = time.monotonic()
        result = subprocess.run([str(binary), *args, "--namespace", namespace], capture_output=True, text=True,
                                env=env, timeout=600)
        return result, time.monotonic() - started

    version = subprocess.run([str(binary), "version", "--short"], capture_output=True, text=True, env=env)
    assert version.stdout.startswith("v4."), f"not Helm 4: {version.stdout}{version.stderr}"
    return run


def conditions(resources, kind: str, name: str) -> dict[str, str]:
    status = (resources.get(kind, name) or {}).get("status") or {}
    return {c["type"]: c["status"] for c in status.get("conditions") or []}


def test_a_new_resource_reads_in_progress_until_the_operator_writes_status(resources, crds):
    """The status default: what the API server stores for a new object before any controller has run."""
    created = resources.create("WorkflowDefinition", "fresh", {"name": f"fresh_{uuid.uuid4().hex[:8]}", "version": 1,
                                                              "definition": {"tasks": [simple("a")]}})
    assert created["status"] == {"observedGeneration": -1}
    assert created["metadata"]["generation"] == 1


def test_install_wait_returns_once_every_resource_is_ready(helm4, resources, operator, conductor_url, tmp_path):
    chart = write_chart(tmp_path, conductor_url, {"onboarding": [simple("a"), simple("b")],
                                                  "offboarding": [simple("c")]})
    result, took = helm4("install", "ready", str(chart), "--wait", "--timeout", "3m")
    assert result.returncode == 0, result.stderr
    # Helm returned: by then every resource is Ready, for the generation it has now.
    for kind, name in [("ConductorCluster", "default"), ("WorkflowDefinition", "onboarding"),
                       ("WorkflowDefinition", "offboarding")]:
        body = resources.get(kind, name)
        assert conditions(resources, kind, name).get("Ready") == "True", f"{kind} {name}: {body.get('status')}"
        assert body["status"]["observedGeneration"] == body["metadata"]["generation"]
    print(f"\nhelm 4 install --wait: ready after {took:.1f}s")


def test_install_wait_fails_fast_with_the_operators_message_when_a_resource_is_stalled(
        helm4, resources, operator, conductor_url, tmp_path):
    chart = write_chart(tmp_path, conductor_url, {"good": [simple("a")],
                                                  "duplicated": [simple("a"), simple("a", name="other")]})
    result, took = helm4("install", "stalled", str(chart), "--wait", "--timeout", "5m")
    assert result.returncode != 0, result.stdout
    stalled = resources.wait_condition("WorkflowDefinition", "duplicated", "Stalled", reason="InvalidDefinition")
    assert "resource WorkflowDefinition/" in result.stderr and "/duplicated not ready. status: Failed" in result.stderr
    assert stalled["message"] in result.stderr, "Helm shows the operator's own message"
    assert "/good not ready" not in result.stderr, "the Ready resource is not reported"
    assert took < 120, f"took {took:.0f}s: Stalled is terminal for kstatus, Helm must not wait for its 5m timeout"


def test_install_wait_times_out_when_no_operator_runs(helm4, resources, operator, crds, conductor_url, tmp_path):
    chart = write_chart(tmp_path, conductor_url, {"unattended": [simple("a")]})
    operator.stop()
    try:
        result, took = helm4("install", "alone", str(chart), "--wait", "--timeout", "20s")
        body = resources.get("WorkflowDefinition", "unattended")
    finally:
        operator.start()
    assert result.returncode != 0, "a release of resources no controller has seen must not count as ready"
    assert "context deadline exceeded" in result.stderr, result.stderr
    assert "status: InProgress" in result.stderr, result.stderr
    assert body["status"] == {"observedGeneration": -1}
    assert took >= 20
