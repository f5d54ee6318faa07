"""The Helm chart: lint, render, and a real install into the test kube-apiserver with RBAC checked."""

from __future__ import annotations

import subprocess
import uuid

import pytest
import yaml

from testenv.tools import REPO_ROOT

pytestmark = pytest.mark.realenv
CHART = REPO_ROOT / "charts" / "conductor-operator"


@pytest.fixture(scope="session")
def helm(tools, kubeconfig):
    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([str(tools.helm), f"--kubeconfig={kubeconfig}", *args], capture_output=True,
                              text=True, check=check)

    return run


def render(helm, *values: str) -> list[dict]:
    args = [a for v in values for a in ("--set", v)]
    out = helm("template", "demo", str(CHART), "--namespace", "ops", *args).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def kinds(documents: list[dict]) -> list[str]:
    return sorted(d["kind"] for d in documents)


def test_lint_is_clean(helm):
    result = helm("lint", "--strict", str(CHART))
    assert "0 chart(s) failed" in result.stdout


def test_default_render_is_cluster_wide_with_crds_and_peering(helm):
    documents = render(helm)
    crds = {d["metadata"]["name"] for d in documents if d["kind"] == "CustomResourceDefinition"}
    assert crds == {"conductorclusters.conductor-operator.io", "workflowdefinitions.conductor-operator.io",
                    "taskdefinitions.conductor-operator.io", "migrationplans.conductor-operator.io",
                    "clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"}
    assert all(d["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
               for d in documents if d["kind"] == "CustomResourceDefinition")
    assert "ClusterKopfPeering" in kinds(documents)
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["WATCH_NAMESPACES"] == "" and env["PEERING_NAME"] == "conductor-operator"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_watched_namespaces_get_role_bindings_only(helm):
    documents = render(helm, "watchNamespaces={team-a,team-b}")
    bindings = [d for d in documents if d["kind"] == "RoleBinding"]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["team-a", "team-b"]
    cluster_bindings = [d["roleRef"]["name"] for d in documents if d["kind"] == "ClusterRoleBinding"]
    assert cluster_bindings == ["demo-conductor-operator-scanning"], "resources are not granted cluster-wide"
    assert sorted(d["metadata"]["namespace"] for d in documents if d["kind"] == "KopfPeering") == ["team-a",
                                                                                                  "team-b"]


def test_switches_for_crds_and_peering(helm):
    documents = render(helm, "crds.install=false", "peering.enabled=false")
    assert "CustomResourceDefinition" not in kinds(documents)
    assert not {"ClusterKopfPeering", "KopfPeering"} & set(kinds(documents))
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    assert deployment["spec"]["strategy"]["type"] == "Recreate"


def test_bad_values_fail_readably(helm):
    result = helm("template", "demo", str(CHART), "--set", "replicaCount=two", check=False)
    assert result.returncode != 0
    assert "replicaCount" in result.stderr and "want integer" in result.stderr


def test_chart_crds_match_the_generated_ones():
    generated = sorted(p.name for p in (REPO_ROOT / "crds").glob("*.yaml"))
    copied = sorted(p.name for p in (CHART / "files" / "crds").glob("*.yaml"))
    assert generated == copied
    for name in generated:
        assert (REPO_ROOT / "crds" / name).read_text() == (CHART / "files" / "crds" / name).read_text(), \
            f"{name} differs: run `python -m conductor_operator.api.crdgen`"


def test_real_install_grants_what_the_operator_needs_and_no_more(helm, kubectl, namespace, crds, peering_crds):
    release = f"op-{uuid.uuid4().hex[:6]}"
    # The CRDs are installed already (session fixture, outside Helm); peering objects need theirs.
    installed = helm("install", release, str(CHART), "--namespace", namespace, "--set", "crds.install=false",
                     "--set", "peering.enabled=false", "--wait=false", check=False)
    assert installed.returncode == 0, installed.stderr
    service_account = f"system:serviceaccount:{namespace}:{release}-conductor-operator"

    def can(verb: str, resource: str, *extra: str) -> bool:
        result = kubectl("auth", "can-i", verb, resource, f"--as={service_account}", *extra, check=False)
        return result.stdout.strip() == "yes"

    assert can("list", "workflowdefinitions.conductor-operator.io", "-A")
    assert can("patch", "workflowdefinitions.conductor-operator.io", "--subresource=status", "-n", namespace)
    assert can("get", "secrets", "-n", namespace)
    assert can("create", "events", "-n", namespace)
    assert can("patch", "clusterkopfpeerings.kopf.dev")
    assert not can("delete", "secrets", "-n", namespace)
    assert not can("delete", "workflowdefinitions.conductor-operator.io", "-n", namespace)
    assert kubectl("get", "deployment", f"{release}-conductor-operator", "-n", namespace).returncode == 0

    helm("uninstall", release, "--namespace", namespace)
    assert kubectl("get", "crd", "workflowdefinitions.conductor-operator.io").returncode == 0
