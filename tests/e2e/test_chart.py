"""The Helm chart: lint, render, and real installs into real kube-apiservers with the RBAC checked.

Rendering tests need only the helm binary. The install tests use the session's API server (shared with
the other end-to-end tests, so every release has its own name and its cluster-scoped objects carry it)
and, for the very first install on an empty cluster, a private API server of their own: on the shared one
the CRDs already exist (the session's `crds` fixture applies them), so only an empty cluster shows that
one `helm install` creates CRDs and an object of a CRD's kind (the kopf peering object) together.
There is no kubelet nor controller-manager: pods never run, and that is expected.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from testenv.servers import ControlPlane
from testenv.tools import REPO_ROOT
from tests.e2e.conftest import wait_established

pytestmark = pytest.mark.realenv

CHART = REPO_ROOT / "charts" / "conductor-operator"
GENERATED_CRDS = REPO_ROOT / "crds"
CHART_CRDS = CHART / "files" / "crds"
KOPF_CRDS = {"clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"}
KIND_PLURALS = {"conductorclusters", "workflowdefinitions", "taskdefinitions", "migrationplans"}
APP_VERSION = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]


def generated_crds() -> dict[str, dict]:
    """The operator's CRDs as generated into crds/ (by name; there may be none yet)."""
    documents = (yaml.safe_load(p.read_text()) for p in sorted(GENERATED_CRDS.glob("*.yaml")))
    return {d["metadata"]["name"]: d for d in documents if d}


# --- running helm -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def helm(tools, tmp_path_factory):
    """Run the test environment's helm, with its own config and cache (never the user's)."""
    home = tmp_path_factory.mktemp("helm-home")
    env = {**os.environ, "HELM_CONFIG_HOME": str(home / "config"), "HELM_CACHE_HOME": str(home / "cache"),
           "HELM_DATA_HOME": str(home / "data")}
    env.pop("KUBECONFIG", None)

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([str(tools.helm), *args], capture_output=True, text=True, env=env)
        if check and result.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    return run


def render(helm, *values: str, release: str = "demo") -> list[dict]:
    """`helm template` with --set values; the documents rendered from templates/ (not crds/)."""
    args = [a for v in values for a in ("--set", v)]
    out = helm("template", release, str(CHART), "--namespace", "ops", *args).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def of_kind(documents: list[dict], kind: str) -> list[dict]:
    return [d for d in documents if d["kind"] == kind]


def deployment_container(documents: list[dict]) -> tuple[dict, dict]:
    (deployment,) = of_kind(documents, "Deployment")
    return deployment, deployment["spec"]["template"]["spec"]["containers"][0]


def env_of(container: dict) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container["env"]}


KINDS = sorted(KIND_PLURALS)
OPERATOR_RIGHTS = {
    # kopf lists, watches and patches its kinds (finalizers, annotations); the operator gets or lists them.
    *{("conductor-operator.io", plural, verb) for plural in KINDS for verb in ("get", "list", "watch", "patch")},
    # kopf writes status through the status subresource, by merge patch only.
    *{("conductor-operator.io", f"{plural}/status", "patch") for plural in KINDS},
    ("", "secrets", "get"),  # the Orkes key a ConductorCluster names
    ("", "configmaps", "get"), ("", "configmaps", "create"), ("", "configmaps", "patch"),  # definitionFrom, ledgers
    ("", "events", "create"),  # kopf posts core v1 Events
}
"""Everything the chart grants the operator in the namespaces it watches (plus the peering object's rights)."""


def granted(rules: list[dict]) -> set[tuple[str, str, str]]:
    """Every (apiGroup, resource, verb) a list of RBAC rules allows."""
    return {(g, r, v) for rule in rules for g in rule.get("apiGroups", []) for r in rule.get("resources", [])
            for v in rule.get("verbs", [])}


# --- lint and render ----------------------------------------------------------------------------


@pytest.mark.parametrize("values", [[], ["watchNamespaces={team-a,team-b}"], ["crds.install=false",
                                                                             "peering.enabled=false"]],
                         ids=["defaults", "namespaced", "no-crds-no-peering"])
def test_lint_is_strictly_clean(helm, values):
    args = [a for v in values for a in ("--set", v)]
    result = helm("lint", "--strict", str(CHART), *args, check=False)
    assert result.returncode == 0 and "0 chart(s) failed" in result.stdout, result.stdout + result.stderr


def test_defaults_render_a_cluster_wide_operator_with_crds_and_peering(helm):
    documents = render(helm)
    kinds = sorted(d["kind"] for d in documents)
    assert "Role" not in kinds and "RoleBinding" not in kinds

    # The operator's CRDs, exactly as generated, plus the annotation that keeps them on uninstall.
    crds = {d["metadata"]["name"]: d for d in of_kind(documents, "CustomResourceDefinition")}
    assert set(crds) == set(generated_crds())
    for name, source in generated_crds().items():
        rendered = crds[name]
        assert rendered["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert rendered["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
        assert {k: v for k, v in rendered.items() if k != "metadata"} == \
               {k: v for k, v in source.items() if k != "metadata"}, f"{name} changed on its way through helm"
    assert not KOPF_CRDS & set(crds), "kopf's CRDs belong in the chart's crds/ folder (see test below)"

    (service_account,) = of_kind(documents, "ServiceAccount")
    sa_name = service_account["metadata"]["name"]
    for binding in of_kind(documents, "ClusterRoleBinding"):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa_name, "namespace": "ops"}]
    roles = {r["metadata"]["name"]: r for r in of_kind(documents, "ClusterRole")}
    assert all("demo" in name for name in roles), "cluster-scoped names carry the release's name"
    rights = set().union(*(granted(r["rules"]) for r in roles.values()))
    peering = {("kopf.dev", "clusterkopfpeerings", verb) for verb in ("list", "watch", "patch")}
    scanning = {("apiextensions.k8s.io", "customresourcedefinitions", verb) for verb in ("list", "watch")} | {
        ("", "namespaces", verb) for verb in ("list", "watch")}
    assert rights == OPERATOR_RIGHTS | peering | scanning, \
        f"granted beyond what the code uses: {sorted(rights - OPERATOR_RIGHTS - peering - scanning)}; " \
        f"missing: {sorted((OPERATOR_RIGHTS | peering | scanning) - rights)}"
    assert {(g, r) for g, r, v in rights if v in {"create", "delete", "deletecollection"}} == {
        ("", "events"), ("", "configmaps")}, \
        "the operator creates events and MigrationPlan ledgers (ConfigMaps), nothing else, and deletes nothing"
    assert not {(g, r) for g, r, v in rights if v == "update"}, "kopf and the operator only patch"
    assert not {v for g, r, v in rights if r == "secrets"} - {"get"}, "no list or watch of every Secret"

    (peering,) = of_kind(documents, "ClusterKopfPeering")
    deployment, container = deployment_container(documents)
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == sa_name
    assert container["image"] == f"ghcr.io/conductor-operator/conductor-operator:{APP_VERSION}"
    assert env_of(container) == {
        "WATCH_NAMESPACES": "", "DEFAULT_CONDUCTOR_CLUSTER": "default", "CONDUCTOR_URL_ALLOW": "",
        "RESYNC_INTERVAL": "15s", "RETRY_MIN": "5s", "RETRY_MAX": "5m", "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "text", "METRICS_PORT": "8082", "METRICS_BIND_ADDRESS": "0.0.0.0",  # test_metrics_real.py
        "PEERING_NAME": peering["metadata"]["name"], "PEERING_LIFETIME": "60s",
        "LIVENESS_ENDPOINT": "http://0.0.0.0:8080/healthz",
        "READINESS_ENDPOINT": "http://0.0.0.0:8081/readyz", "POD_NAME": None}
    pod_name = next(e for e in container["env"] if e["name"] == "POD_NAME")
    assert pod_name["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}, \
        "the operator's peering identity is its pod's name, not a user name the image's uid does not have"
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert {"name": "health", "containerPort": 8080, "protocol": "TCP"} in container["ports"]
    # Ready once kopf has listed every served kind (conductor_operator/readiness.py), on a port of its own.
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "ready"}
    assert {"name": "ready", "containerPort": 8081, "protocol": "TCP"} in container["ports"]
    assert not of_kind(documents, "PodDisruptionBudget"), "one replica: a budget would forbid draining its node"
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate", "with peering a new replica waits its turn"

    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_kopf_peering_crds_are_in_the_crds_folder(helm):
    """Helm installs crds/ before it builds the templates, so the peering object can come in the same install."""
    documents = [d for d in yaml.safe_load_all(helm("show", "crds", str(CHART)).stdout) if d]
    crds = {d["metadata"]["name"]: d for d in documents}
    assert set(crds) == KOPF_CRDS
    for name, scope, kind in [("clusterkopfpeerings.kopf.dev", "Cluster", "ClusterKopfPeering"),
                              ("kopfpeerings.kopf.dev", "Namespaced", "KopfPeering")]:
        spec = crds[name]["spec"]
        assert (spec["group"], spec["scope"], spec["names"]["kind"]) == ("kopf.dev", scope, kind)
        assert name.startswith(spec["names"]["plural"] + ".")
        (version,) = spec["versions"]
        assert (version["name"], version["served"], version["storage"]) == ("v1", True, True)
        properties = version["schema"]["openAPIV3Schema"]["properties"]
        assert properties["status"]["x-kubernetes-preserve-unknown-fields"] is True
        assert properties["spec"]["x-kubernetes-preserve-unknown-fields"] is True
        assert "subresources" not in version, "kopf patches status through the main resource"


def test_watched_namespaces_get_roles_and_no_cluster_wide_rights_on_resources(helm):
    documents = render(helm, "watchNamespaces={team-a,team-b}")
    roles = {r["metadata"]["namespace"]: r for r in of_kind(documents, "Role")}
    assert set(roles) == {"team-a", "team-b"}
    for namespace, role in roles.items():
        rights = granted(role["rules"])
        assert rights == OPERATOR_RIGHTS | {("kopf.dev", "kopfpeerings", v) for v in ("list", "watch", "patch")}
        (binding,) = [b for b in of_kind(documents, "RoleBinding") if b["metadata"]["namespace"] == namespace]
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                      "name": role["metadata"]["name"]}

    # Cluster-wide only what kopf scans: CRDs and namespaces, read only.
    (cluster_role,) = of_kind(documents, "ClusterRole")
    assert {(g, r) for g, r, _ in granted(cluster_role["rules"])} == {
        ("apiextensions.k8s.io", "customresourcedefinitions"), ("", "namespaces")}
    assert {v for _, _, v in granted(cluster_role["rules"])} == {"list", "watch"}
    (cluster_binding,) = of_kind(documents, "ClusterRoleBinding")
    assert cluster_binding["roleRef"]["name"] == cluster_role["metadata"]["name"]

    assert not of_kind(documents, "ClusterKopfPeering")
    assert sorted(p["metadata"]["namespace"] for p in of_kind(documents, "KopfPeering")) == ["team-a", "team-b"]
    _, container = deployment_container(documents)
    assert env_of(container)["WATCH_NAMESPACES"] == "team-a team-b"


def test_without_crds_and_peering(helm):
    documents = render(helm, "crds.install=false", "peering.enabled=false")
    kinds = {d["kind"] for d in documents}
    assert not kinds & {"CustomResourceDefinition", "ClusterKopfPeering", "KopfPeering"}
    rights = set().union(*(granted(r["rules"]) for r in of_kind(documents, "ClusterRole")))
    assert not any(group == "kopf.dev" for group, _, _ in rights), "no peering rights when peering is off"
    deployment, container = deployment_container(documents)
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}, "standalone operators must never overlap"
    assert env_of(container)["PEERING_NAME"] == ""


def test_values_reach_the_pod(helm):
    documents = render(helm, "image.tag=1.2.3", "defaultCluster=prod", "resyncInterval=1m", "logLevel=DEBUG",
                       "peering.name=ops-peering", "replicaCount=2", "nodeSelector.pool=system",
                       "extraEnv[0].name=HTTPS_PROXY", "extraEnv[0].value=http://proxy:3128",
                       "serviceAccount.create=false", "serviceAccount.name=existing")
    deployment, container = deployment_container(documents)
    assert container["image"].endswith(":1.2.3") and deployment["spec"]["replicas"] == 2
    env = env_of(container)
    assert (env["DEFAULT_CONDUCTOR_CLUSTER"], env["RESYNC_INTERVAL"], env["LOG_LEVEL"], env["PEERING_NAME"],
            env["HTTPS_PROXY"]) == ("prod", "1m", "DEBUG", "ops-peering", "http://proxy:3128")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"pool": "system"} and pod["serviceAccountName"] == "existing"
    assert not of_kind(documents, "ServiceAccount")
    assert of_kind(documents, "ClusterKopfPeering")[0]["metadata"]["name"] == "ops-peering"
    # Two replicas: a drain takes one at a time, the other stands by (ready) and takes over.
    (budget,) = of_kind(documents, "PodDisruptionBudget")
    assert budget["spec"] == {"maxUnavailable": 1,
                              "selector": deployment["spec"]["selector"]}


def test_the_disruption_budget_is_configurable(helm):
    documents = render(helm, "replicaCount=3", "podDisruptionBudget.maxUnavailable=2")
    (budget,) = of_kind(documents, "PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 2
    result = helm("template", "demo", str(CHART), "--set", "podDisruptionBudget.maxUnavailable=0", check=False)
    assert result.returncode != 0 and "/podDisruptionBudget/maxUnavailable" in result.stderr, result.stderr


@pytest.mark.parametrize(("value", "message"), [
    ("replicaCount=two", "at '/replicaCount': got string, want integer"),
    ("watchNamespaces=team-a", "at '/watchNamespaces': got string, want array"),
    ("watchNamespaces={Team_A}", "at '/watchNamespaces/0': 'Team_A' does not match pattern"),
    ("resyncInterval=soon", "at '/resyncInterval': 'soon' does not match pattern"),
    ("logLevel=LOUD", "at '/logLevel': value must be one of"),
    ("watchNamespace={team-a}", "additional properties 'watchNamespace' not allowed"),
    ("conductorUrlAllow=10.0.0.0/8", "at '/conductorUrlAllow': got string, want array"),
    ("conductorUrlAllow={http://conductor}", "at '/conductorUrlAllow/0': 'http://conductor' does not match pattern"),
])
def test_bad_values_fail_with_a_readable_message(helm, value, message):
    result = helm("template", "demo", str(CHART), "--set", value, check=False)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    assert message in result.stderr, result.stderr


def test_the_url_allowlist_reaches_the_pod(helm):
    """Empty by default (any host but link-local and metadata ones); a list becomes CONDUCTOR_URL_ALLOW."""
    _, container = deployment_container(render(helm))
    assert env_of(container)["CONDUCTOR_URL_ALLOW"] == ""
    _, container = deployment_container(render(helm, "conductorUrlAllow={10.0.0.0/8,*.svc.cluster.local,fd00::/8}"))
    assert env_of(container)["CONDUCTOR_URL_ALLOW"] == "10.0.0.0/8,*.svc.cluster.local,fd00::/8"


def test_more_replicas_without_peering_are_refused(helm):
    result = helm("template", "demo", str(CHART), "--set", "replicaCount=2", "--set", "peering.enabled=false",
                  check=False)
    assert result.returncode != 0
    assert "replicaCount is 2 but peering.enabled is false" in result.stderr, result.stderr


def test_chart_crds_are_the_generated_ones():
    generated = {p.name: p.read_text() for p in GENERATED_CRDS.glob("*.yaml")}
    in_chart = {p.name: p.read_text() for p in CHART_CRDS.glob("*.yaml")}
    stale = sorted(name for name in generated.keys() | in_chart.keys() if generated.get(name) != in_chart.get(name))
    assert not stale, (f"the chart's files/crds differ from crds/ ({', '.join(stale)}): "
                       "run python -m conductor_operator.api.crdgen")


# --- real installs ------------------------------------------------------------------------------


def can_i(kubectl, account: str, verb: str, resource: str, *where: str) -> bool:
    """Ask the API server whether the ServiceAccount may do this (impersonating it)."""
    result = kubectl("auth", "can-i", verb, resource, f"--as={account}", *where, check=False)
    answer = result.stdout.strip()
    assert answer in {"yes", "no"}, f"kubectl auth can-i {verb} {resource}: {result.stdout}{result.stderr}"
    return answer == "yes"


def eventually(check, what: str, timeout: float = 10) -> None:
    """RBAC changes reach the API server's authorizer through a cache: allow it a moment."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting until {what}")
        time.sleep(0.2)


def adopt(kubectl, names: list[str], release: str, namespace: str) -> None:
    """Let the release take over CRDs that exist already, as Helm documents (ownership metadata)."""
    for name in names:
        if kubectl("get", "crd", name, check=False).returncode == 0:
            kubectl("annotate", "--overwrite", "crd", name, f"meta.helm.sh/release-name={release}",
                    f"meta.helm.sh/release-namespace={namespace}")
            kubectl("label", "--overwrite", "crd", name, "app.kubernetes.io/managed-by=Helm")


def get_json(kubectl, *args: str) -> dict | None:
    result = kubectl("get", *args, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def test_cluster_wide_install_grants_what_the_operator_needs_and_no_more(helm, kubectl, kubeconfig, namespace,
                                                                          crds):
    release = f"co-{uuid.uuid4().hex[:6]}"
    fullname = f"{release}-conductor-operator"
    account = f"system:serviceaccount:{namespace}:{fullname}"
    # The session applied the CRDs already (the `crds` fixture): this release adopts them, as a user
    # moving from `kubectl apply -f crds/` to the chart would.
    adopt(kubectl, list(generated_crds()), release, namespace)
    assert not can_i(kubectl, account, "list", "workflowdefinitions.conductor-operator.io", "-A")

    helm("install", release, str(CHART), f"--kubeconfig={kubeconfig}", "--namespace", namespace, "--wait=false")
    try:
        assert get_json(kubectl, "serviceaccount", fullname, "-n", namespace)
        deployment = get_json(kubectl, "deployment", fullname, "-n", namespace)
        assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == fullname
        for kind in ("clusterrole", "clusterrolebinding"):
            assert get_json(kubectl, kind, fullname) and get_json(kubectl, kind, f"{fullname}-kopf-scanning")
        assert get_json(kubectl, "clusterkopfpeering", fullname), "the peering object the replicas elect through"
        for name in [*generated_crds(), *KOPF_CRDS]:
            crd = get_json(kubectl, "crd", name)
            assert crd, f"CRD {name} missing after install"
        for name in generated_crds():
            annotations = get_json(kubectl, "crd", name)["metadata"]["annotations"]
            assert annotations["meta.helm.sh/release-name"] == release, f"{name} is not managed by the release"
            assert annotations["helm.sh/resource-policy"] == "keep"

        def can(verb: str, resource: str, *where: str) -> bool:
            return can_i(kubectl, account, verb, resource, *where)

        here = ("-n", namespace)
        eventually(lambda: can("list", "workflowdefinitions.conductor-operator.io", "-A"), "the RBAC is in force")
        for resource in (f"{plural}.conductor-operator.io" for plural in sorted(KIND_PLURALS)):
            assert can("list", resource, "-A") and can("watch", resource, "-A")
            assert can("patch", resource, *here) and can("patch", resource, "--subresource=status", *here)
        assert can("get", "secrets", *here) and can("get", "configmaps", *here)
        assert can("create", "configmaps", *here) and can("patch", "configmaps", *here)
        assert can("create", "events", *here)
        assert can("list", "customresourcedefinitions.apiextensions.k8s.io") and can("watch", "namespaces")
        assert can("patch", "clusterkopfpeerings.kopf.dev") and can("watch", "clusterkopfpeerings.kopf.dev")

        # Cut to what the code uses: no reading every Secret or ConfigMap, no update, no status reads.
        assert not can("list", "secrets", "-A") and not can("watch", "secrets", *here)
        assert not can("list", "configmaps", "-A") and not can("watch", "configmaps", *here)
        assert not can("update", "workflowdefinitions.conductor-operator.io", *here)
        assert not can("update", "workflowdefinitions.conductor-operator.io", "--subresource=status", *here)
        assert not can("get", "workflowdefinitions.conductor-operator.io", "--subresource=status", *here)
        assert not can("patch", "events", *here) and not can("create", "events.events.k8s.io", *here)

        assert not can("delete", "secrets", *here)
        assert not can("create", "secrets", *here)
        assert not can("delete", "workflowdefinitions.conductor-operator.io", *here)
        assert not can("create", "workflowdefinitions.conductor-operator.io", *here)
        assert not can("delete", "clusterkopfpeerings.kopf.dev")
        assert not can("create", "deployments.apps", *here)
    finally:
        uninstalled = helm("uninstall", release, f"--kubeconfig={kubeconfig}", "--namespace", namespace,
                           check=False)
    assert uninstalled.returncode == 0, uninstalled.stderr

    for name in generated_crds():
        assert get_json(kubectl, "crd", name), f"helm uninstall deleted {name} (resource-policy keep is missing)"
    assert get_json(kubectl, "deployment", fullname, "-n", namespace) is None
    assert get_json(kubectl, "clusterrole", fullname) is None
    assert get_json(kubectl, "clusterkopfpeering", fullname) is None
    eventually(lambda: not can_i(kubectl, account, "list", "workflowdefinitions.conductor-operator.io", "-A"),
               "the uninstalled release's rights are gone")


@pytest.fixture
def watched_namespaces(k8s) -> Iterator[list[str]]:
    from kubernetes import client

    core = client.CoreV1Api(k8s)
    names = [f"w-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for name in names:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield names
    for name in names:
        core.delete_namespace(name)


def test_namespaced_install_grants_rights_only_in_watched_namespaces(helm, kubectl, kubeconfig, namespace,
                                                                     watched_namespaces, crds):
    release = f"co-{uuid.uuid4().hex[:6]}"
    fullname = f"{release}-conductor-operator"
    account = f"system:serviceaccount:{namespace}:{fullname}"
    team_a, team_b = watched_namespaces
    # crds.install=false: the CRDs are cluster-wide and belong to the session (`crds`; kubectl auth can-i
    # misreads a resource type the server does not know); kopf's come from the chart's crds/ folder.
    helm("install", release, str(CHART), f"--kubeconfig={kubeconfig}", "--namespace", namespace, "--wait=false",
         "--set", "crds.install=false", "--set", f"watchNamespaces={{{team_a},{team_b}}}")
    try:
        for watched in watched_namespaces:
            assert get_json(kubectl, "role", fullname, "-n", watched)
            assert get_json(kubectl, "kopfpeering", fullname, "-n", watched)
        assert get_json(kubectl, "clusterrole", fullname) is None
        assert get_json(kubectl, "clusterrole", f"{fullname}-kopf-scanning")

        def can(verb: str, resource: str, *where: str) -> bool:
            return can_i(kubectl, account, verb, resource, *where)

        wfd = "workflowdefinitions.conductor-operator.io"
        eventually(lambda: can("watch", wfd, "-n", team_a), "the RBAC is in force")
        for watched in watched_namespaces:
            assert can("watch", wfd, "-n", watched) and can("patch", wfd, "--subresource=status", "-n", watched)
            assert can("get", "secrets", "-n", watched) and can("create", "events", "-n", watched)
            assert can("patch", "kopfpeerings.kopf.dev", "-n", watched)
        assert not can("list", wfd, "-A"), "no cluster-wide rights on the resources"
        assert not can("list", wfd, "-n", namespace), "the release's own namespace is not watched"
        assert not can("get", "secrets", "-n", namespace)
        assert not can("patch", "clusterkopfpeerings.kopf.dev")
        assert not can("delete", "secrets", "-n", team_a)
        assert can("list", "customresourcedefinitions.apiextensions.k8s.io") and can("watch", "namespaces")
    finally:
        helm("uninstall", release, f"--kubeconfig={kubeconfig}", "--namespace", namespace, check=False)
    assert get_json(kubectl, "role", fullname, "-n", team_a) is None


# --- the first install on an empty cluster ------------------------------------------------------


@pytest.fixture(scope="module")
def empty_cluster(tools, tmp_path_factory) -> Iterator[Path]:
    """A private kube-apiserver (and etcd) with nothing installed; its admin kubeconfig."""
    control_plane = ControlPlane(tools, tmp_path_factory.mktemp("empty-cluster"))
    try:
        control_plane.start()
        yield control_plane.kubeconfig
    finally:
        control_plane.stop()


def test_first_install_on_an_empty_cluster_upgrade_and_uninstall(helm, tools, empty_cluster):
    def kubectl(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(tools.kubectl), f"--kubeconfig={empty_cluster}", *args], capture_output=True,
                              text=True)

    on = (f"--kubeconfig={empty_cluster}", "--namespace", "conductor-operator")
    # Default values: CRDs, peering (an object of a kind whose CRD comes in the same install), RBAC.
    helm("install", "conductor-operator", str(CHART), *on, "--create-namespace", "--wait=false")
    names = [*generated_crds(), *KOPF_CRDS]
    wait_established(kubectl, names)
    assert kubectl("get", "clusterkopfpeering", "conductor-operator").returncode == 0
    assert kubectl("get", "deployment", "conductor-operator", *on[1:]).returncode == 0

    # An upgrade re-applies the templated CRDs (which the crds/ folder would never do).
    upgraded = helm("upgrade", "conductor-operator", str(CHART), *on, "--set", "logLevel=DEBUG", "--wait=false")
    assert "REVISION: 2" in upgraded.stdout

    uninstalled = helm("uninstall", "conductor-operator", *on)
    assert "kept due to the resource policy" in uninstalled.stdout + uninstalled.stderr
    for name in names:
        assert kubectl("get", "crd", name).returncode == 0, f"{name} was deleted by helm uninstall"
    assert kubectl("get", "clusterkopfpeering", "conductor-operator").returncode != 0
