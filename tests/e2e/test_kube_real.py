"""kube.Kube, the operator's own reads and writes, against the real kube-apiserver through kopf's API client: the
paths, the merge patch and the owner reference as the API server takes them, and its refusals (a real RBAC 403
among them) as a reconcile sees them. tests/component/test_kube.py has the same against a fake server."""

from __future__ import annotations

import time
import uuid

import pytest
import yaml
from conductor_operator.kube import Kube, KubeError, Missing
from kubernetes import client

from tests.e2e.conftest import GROUP, VERSION, Resources, wait_for
from tests.e2e.kopf_vault import kopf_vault

pytestmark = pytest.mark.realenv


async def test_reads_and_writes_as_the_api_server_takes_them(k8s, kubeconfig, crds, namespace):
    core = client.CoreV1Api(k8s)
    core.create_namespaced_secret(namespace, client.V1Secret(metadata=client.V1ObjectMeta(name="orkes"),
                                                             string_data={"keyId": "the-id"}))
    Resources(k8s, namespace).create("WorkflowDefinition", "orders", {
        "name": "orders", "version": 1,
        "definition": {"tasks": [{"name": "a", "taskReferenceName": "a", "type": "SIMPLE"}]}})
    owner = {"apiVersion": "conductor-operator.io/v1alpha1", "kind": "MigrationPlan", "name": "p",
             "uid": str(uuid.uuid4())}
    wait_for(lambda: listable(k8s, namespace), what="MigrationPlans listable")

    async with kopf_vault(kubeconfig) as settings:
        kube = Kube(settings)
        assert await kube.secret_value(namespace, "orkes", "keyId") == "the-id"
        with pytest.raises(Missing, match=f"^Secret {namespace}/gone not found$"):
            await kube.secret_value(namespace, "gone", "keyId")
        assert (await kube.workflow_definition(namespace, "orders"))["spec"]["name"] == "orders"
        with pytest.raises(Missing, match=f"^WorkflowDefinition {namespace}/gone not found$"):
            await kube.workflow_definition(namespace, "gone")
        claimants = await kube.definition_claimants(("workflow", "orders", 1))  # no index: a list of every namespace
        assert f"WorkflowDefinition {namespace}/orders" in [c.ref for c in claimants]
        assert await kube.definition_claimants(("workflow", f"none_{uuid.uuid4().hex}", 1)) == []
        assert await kube.migration_plans(namespace) == []
        assert isinstance(await kube.watched_migration_plans(()), list)

        await kube.merge_config_map_data(namespace, "p-ledger", {"a": "1"}, owner=owner)
        await kube.merge_config_map_data(namespace, "p-ledger", {"b": "2"}, owner=owner)
        assert await kube.config_map_data(namespace, "p-ledger") == {"a": "1", "b": "2"}
        assert await kube.config_map_value(namespace, "p-ledger", "b") == "2"
        references = core.read_namespaced_config_map("p-ledger", namespace).metadata.owner_references
        assert [(r.api_version, r.kind, r.name, r.uid) for r in references] == [tuple(owner.values())]

        with pytest.raises(KubeError) as refused:  # the API server's limit of a ConfigMap
            await kube.merge_config_map_data(namespace, "p-ledger", {"big": "x" * 1_100_000}, owner=owner)
        assert refused.value.status == 422
        assert refused.value.reason.startswith("Unprocessable Entity: ConfigMap \"p-ledger\" is invalid")
        assert "1048576" in refused.value.reason


def listable(k8s, namespace: str) -> bool:
    """Whether the API server serves MigrationPlans yet: it answers 429 "storage is (re)initializing" for a while
    after the CRDs were applied, which Kube does not retry (the reconcilers do)."""
    try:
        client.CustomObjectsApi(k8s).list_namespaced_custom_object(GROUP, VERSION, namespace, "migrationplans")
    except client.ApiException as exc:
        if exc.status == 429:
            return False
        raise
    return True


async def test_a_missing_rbac_permission_is_a_kube_error_at_once(k8s, kubeconfig, namespace, tmp_path):
    core = client.CoreV1Api(k8s)
    core.create_namespaced_service_account(namespace, client.V1ServiceAccount(
        metadata=client.V1ObjectMeta(name="nobody")))
    request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[],
                                                                                 expiration_seconds=3600))
    token = core.create_namespaced_service_account_token("nobody", namespace, request).status.token
    admin = yaml.safe_load(kubeconfig.read_text())
    nobody = tmp_path / "kubeconfig"
    nobody.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "nobody", "clusters": admin["clusters"],
        "users": [{"name": "nobody", "user": {"token": token}}],
        "contexts": [{"name": "nobody", "context": {"cluster": admin["clusters"][0]["name"], "user": "nobody"}}]}))

    async with kopf_vault(nobody) as settings:
        started = time.monotonic()
        with pytest.raises(KubeError) as refused:
            await Kube(settings).config_map_data(namespace, "p-ledger")
        assert time.monotonic() - started < 5, "not retried for a minute as kopf would by default"
    assert refused.value.status == 403
    assert refused.value.reason.startswith(
        f'Forbidden: configmaps "p-ledger" is forbidden: User "system:serviceaccount:{namespace}:nobody" cannot get')
