"""The few Kubernetes reads the reconcilers need beyond the object kopf hands them.

kopf owns watching and patching the resources it serves; this module reads the objects they
point at (ConductorClusters, Secrets, ConfigMaps, a plan's target WorkflowDefinition, the
MigrationPlans that hold or retire a WorkflowDefinition) with the official client, off the event loop,
and keeps each MigrationPlan's ledger, a ConfigMap the plan owns.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterable, Mapping

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from conductor_operator.domain.definitions import read_api_json

GROUP = "conductor-operator.io"
VERSION = "v1alpha1"


class Missing(LookupError):
    """The referenced object or key does not exist; the message says which."""


def load_config() -> client.ApiClient:
    """In-cluster credentials when running in a pod, else the local kubeconfig."""
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.ApiClient()


SECRET_CACHE_SECONDS = 10.0
"""How long a Secret's value read for a ConductorCluster's credentials is reused: every reconcile needs the
client, and a rotated key reaches it within these seconds."""


class Kube:
    """The reads and writes above. With ``plan_index`` and ``cluster_index`` (the operator's kopf indexes, fed by
    the watch streams kopf runs anyway: namespace -> MigrationPlan bodies, (namespace, name) -> ConductorCluster
    body), MigrationPlans and ConductorClusters are read from memory, not from the API."""

    plan_index: Mapping[str, Iterable[dict]] | None = None
    cluster_index: Mapping[tuple[str, str], Iterable[dict]] | None = None

    def __init__(self, api: client.ApiClient, *, plan_index: Mapping[str, Iterable[dict]] | None = None,
                 cluster_index: Mapping[tuple[str, str], Iterable[dict]] | None = None,
                 clock=time.monotonic):
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.plan_index = plan_index
        self.cluster_index = cluster_index
        self._clock = clock
        self._secrets: dict[tuple[str, str], tuple[float, dict]] = {}

    async def _read(self, what: str, fn, *args, **options):
        try:
            return await asyncio.to_thread(fn, *args, **options)
        except ApiException as exc:
            if exc.status == 404:
                raise Missing(f"{what} not found") from None
            raise

    async def _read_custom(self, what: str, fn, *args) -> dict:
        """One of the operator's own objects, or a list of them, decoded as kopf's are (read_api_json): an object
        nested thousands of levels deep (its free-form fields allow that) arrives with its spec cut, and cannot
        exhaust the recursion of this read or of any reconcile that reads it."""
        response = await self._read(what, fn, *args, _preload_content=False)
        return read_api_json(response.data)

    async def conductor_cluster(self, namespace: str, name: str) -> dict:
        if self.cluster_index is not None:
            for body in self.cluster_index.get((namespace, name), ()):
                return body
            raise Missing(f"ConductorCluster {namespace}/{name} not found")
        return await self._read_custom(f"ConductorCluster {namespace}/{name}",
                                       self.custom.get_namespaced_custom_object,
                                       GROUP, VERSION, namespace, "conductorclusters", name)

    async def workflow_definition(self, namespace: str, name: str) -> dict:
        return await self._read_custom(f"WorkflowDefinition {namespace}/{name}",
                                       self.custom.get_namespaced_custom_object,
                                       GROUP, VERSION, namespace, "workflowdefinitions", name)

    async def migration_plans(self, namespace: str) -> list[dict]:
        if self.plan_index is not None:
            return list(self.plan_index.get(namespace, ()))
        found = await self._read_custom(f"MigrationPlans in {namespace}", self.custom.list_namespaced_custom_object,
                                        GROUP, VERSION, namespace, "migrationplans")
        return found.get("items") or []

    async def watched_migration_plans(self, namespaces: tuple[str, ...]) -> list[dict]:
        """The MigrationPlans of these namespaces, or of every namespace when none is named."""
        if self.plan_index is not None and not namespaces:
            return [plan for plans in self.plan_index.values() for plan in plans]
        if namespaces:
            return [plan for namespace in namespaces for plan in await self.migration_plans(namespace)]
        found = await self._read_custom("MigrationPlans", self.custom.list_cluster_custom_object, GROUP, VERSION,
                                        "migrationplans")
        return found.get("items") or []

    async def secret_value(self, namespace: str, name: str, key: str) -> str:
        now = self._clock()
        read_at, data = self._secrets.get((namespace, name), (None, None))
        if read_at is None or now - read_at >= SECRET_CACHE_SECONDS:
            secret = await self._read(f"Secret {namespace}/{name}", self.core.read_namespaced_secret, name, namespace)
            data = dict(secret.data or {})
            self._secrets = {k: v for k, v in self._secrets.items() if now - v[0] < SECRET_CACHE_SECONDS}
            self._secrets[(namespace, name)] = (now, data)
        if key not in data:
            raise Missing(f"Secret {namespace}/{name} has no key {key!r}")
        return base64.b64decode(data[key]).decode()

    async def config_map_value(self, namespace: str, name: str, key: str) -> str:
        config_map = await self._read(f"ConfigMap {namespace}/{name}", self.core.read_namespaced_config_map,
                                      name, namespace)
        data = config_map.data or {}
        if key not in data:
            raise Missing(f"ConfigMap {namespace}/{name} has no key {key!r}")
        return data[key]

    async def config_map_data(self, namespace: str, name: str) -> dict[str, str]:
        """A ConfigMap's data; empty when there is no such ConfigMap."""
        try:
            found = await self._read(f"ConfigMap {namespace}/{name}", self.core.read_namespaced_config_map,
                                     name, namespace)
        except Missing:
            return {}
        return dict(found.data or {})

    async def merge_config_map_data(self, namespace: str, name: str, data: dict[str, str], *, owner: dict) -> None:
        """Set these keys of a ConfigMap, leaving its other keys alone; create it, owned by ``owner`` (a
        metadata dict with apiVersion, kind, name, uid), when it does not exist yet."""
        try:
            await asyncio.to_thread(self.core.patch_namespaced_config_map, name, namespace, {"data": data})
            return
        except ApiException as exc:
            if exc.status != 404:
                raise
        body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, owner_references=[
            client.V1OwnerReference(api_version=owner["apiVersion"], kind=owner["kind"], name=owner["name"],
                                    uid=owner["uid"])]), data=data)
        await asyncio.to_thread(self.core.create_namespaced_config_map, namespace, body)
