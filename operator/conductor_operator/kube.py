"""The few Kubernetes reads the reconcilers need beyond the object kopf hands them.

kopf owns watching and patching the resources it serves; this module reads the objects they
point at (ConductorClusters, Secrets, ConfigMaps, a plan's target WorkflowDefinition, the
MigrationPlans that hold or retire a WorkflowDefinition) and keeps each MigrationPlan's ledger, a
ConfigMap the plan owns. It goes through kopf's own API client, with the credentials kopf logged in
with (its vault, which every handler and the tasks it starts see). The official client is not installed with the
operator (only the kubectl plugin uses it): kopf imports it whenever it is there, and its model classes cost the
process about 10 MiB.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from collections.abc import Iterable, Mapping
from http import HTTPStatus

import aiohttp
import kopf
from kopf._cogs.clients import api as kopf_api
from kopf._cogs.clients import errors as kopf_errors

from conductor_operator.domain.definitions import Claimant, claim_of, read_api_json

GROUP = "conductor-operator.io"
VERSION = "v1alpha1"
CUSTOM = f"/apis/{GROUP}/{VERSION}"

NO_RETRIES: tuple[float, ...] = ()
"""kopf retries a failed request for about a minute by default (and a 403 too); the reconcilers retry on their own,
and a missing RBAC permission must show at once."""
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
OBJECT_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
"""A name an object can have (a DNS subdomain); any other names none, and must not become a path such as a list's."""


class _ReportedByTheCaller(logging.LoggerAdapter):
    """kopf's request logs an ERROR line when its last attempt fails; here that is the only attempt, and the
    failure reaches the caller as a KubeError that it reports (a reconcile: in the status, with a retry), so the
    line is kept at DEBUG instead of alarming whoever watches the operator's errors."""

    def error(self, msg, *args, **kwargs) -> None:
        self.debug(msg, *args, **kwargs)


logger = _ReportedByTheCaller(logging.getLogger(__name__), {})


class Missing(LookupError):
    """The referenced object or key does not exist; the message says which."""


class KubeError(Exception):
    """The API server refused a request (any status but 404), or could not be reached (``status`` None).
    ``reason`` says why in a line, as the API server put it."""

    def __init__(self, status: int | None, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


SECRET_CACHE_SECONDS = 10.0
"""How long a Secret's value read for a ConductorCluster's credentials is reused: every reconcile needs the
client, and a rotated key reaches it within these seconds."""


class Kube:
    """The reads and writes above. With ``plan_index``, ``cluster_index`` and ``claim_indexes`` (the operator's kopf
    indexes, fed by the watch streams kopf runs anyway: namespace -> MigrationPlan bodies, (namespace, name) ->
    ConductorCluster body, and for "workflow" and "task": definition key -> the resources declaring it), these
    are read from memory, not from the API."""

    def __init__(self, settings: kopf.OperatorSettings, *,
                 plan_index: Mapping[str, Iterable[dict]] | None = None,
                 cluster_index: Mapping[tuple[str, str], Iterable[dict]] | None = None,
                 claim_indexes: Mapping[str, Mapping[tuple, Iterable[Claimant]]] | None = None,
                 clock=time.monotonic):
        self.settings = settings
        self.plan_index = plan_index
        self.cluster_index = cluster_index
        self.claim_indexes = claim_indexes
        self._clock = clock
        self._secrets: dict[tuple[str, str], tuple[float, dict]] = {}

    async def _request(self, method: str, path: str, *, missing: str | None = None, payload: dict | None = None,
                       headers: dict[str, str] | None = None) -> bytes:
        """The body of the answer. A 404 is Missing("<missing> not found") when ``missing`` names what was asked
        for; any other failure is a KubeError."""
        try:
            response = await kopf_api.request(method, path, settings=self.settings, payload=payload,
                                              headers=headers, backoffs=NO_RETRIES, logger=logger)
            async with response:
                return await response.read()
        except kopf_errors.APIError as exc:
            if exc.status == 404 and missing is not None:
                raise Missing(f"{missing} not found") from None
            raise _refused(exc) from None
        except TimeoutError:
            raise KubeError(None, "the Kubernetes API server did not answer in time") from None
        except aiohttp.ClientError as exc:
            raise KubeError(None, f"cannot reach the Kubernetes API server: {exc}") from None
        except kopf.LoginError as exc:
            raise KubeError(401, f"Unauthorized: {exc}") from None

    async def _read(self, what: str, collection: str, name: str) -> dict:
        return json.loads(await self._request("get", _object_path(what, collection, name), missing=what))

    async def _read_custom(self, what: str, path: str) -> dict:
        """One of the operator's own objects, or a list of them, decoded as kopf's are (read_api_json): an object
        nested thousands of levels deep (its free-form fields allow that) arrives with its spec cut, and cannot
        exhaust the recursion of this read or of any reconcile that reads it."""
        return read_api_json(await self._request("get", path, missing=what))

    async def _custom_object(self, kind: str, plural: str, namespace: str, name: str) -> dict:
        what = f"{kind} {namespace}/{name}"
        return await self._read_custom(what, _object_path(what, f"{CUSTOM}/namespaces/{namespace}/{plural}", name))

    async def conductor_cluster(self, namespace: str, name: str) -> dict:
        if self.cluster_index is not None:
            for body in self.cluster_index.get((namespace, name), ()):
                return body
            raise Missing(f"ConductorCluster {namespace}/{name} not found")
        return await self._custom_object("ConductorCluster", "conductorclusters", namespace, name)

    async def workflow_definition(self, namespace: str, name: str) -> dict:
        return await self._custom_object("WorkflowDefinition", "workflowdefinitions", namespace, name)

    async def definition_claimants(self, key: tuple) -> list[Claimant]:
        """The WorkflowDefinitions or TaskDefinitions (of every namespace) declaring a Conductor definition
        (definitions.claim_of)."""
        if self.claim_indexes is not None:
            return list(self.claim_indexes[key[0]].get(key, ()))
        kind, plural = ("TaskDefinition", "taskdefinitions") if key[0] == "task" else \
            ("WorkflowDefinition", "workflowdefinitions")
        found = await self._read_custom(f"{kind}s", f"{CUSTOM}/{plural}")
        claims = [claim_of(kind, body) for body in found.get("items") or []]
        return [claim[1] for claim in claims if claim is not None and claim[0] == key]

    async def migration_plans(self, namespace: str) -> list[dict]:
        if self.plan_index is not None:
            return list(self.plan_index.get(namespace, ()))
        found = await self._read_custom(f"MigrationPlans in {namespace}",
                                        f"{CUSTOM}/namespaces/{namespace}/migrationplans")
        return found.get("items") or []

    async def watched_migration_plans(self, namespaces: tuple[str, ...]) -> list[dict]:
        """The MigrationPlans of these namespaces, or of every namespace when none is named."""
        if self.plan_index is not None and not namespaces:
            return [plan for plans in self.plan_index.values() for plan in plans]
        if namespaces:
            return [plan for namespace in namespaces for plan in await self.migration_plans(namespace)]
        found = await self._read_custom("MigrationPlans", f"{CUSTOM}/migrationplans")
        return found.get("items") or []

    async def secret_value(self, namespace: str, name: str, key: str) -> str:
        now = self._clock()
        read_at, data = self._secrets.get((namespace, name), (None, None))
        if read_at is None or now - read_at >= SECRET_CACHE_SECONDS:
            secret = await self._read(f"Secret {namespace}/{name}", f"/api/v1/namespaces/{namespace}/secrets", name)
            data = dict(secret.get("data") or {})
            self._secrets = {k: v for k, v in self._secrets.items() if now - v[0] < SECRET_CACHE_SECONDS}
            self._secrets[(namespace, name)] = (now, data)
        if key not in data:
            raise Missing(f"Secret {namespace}/{name} has no key {key!r}")
        return base64.b64decode(data[key]).decode()

    async def _config_map(self, namespace: str, name: str) -> dict:
        return await self._read(f"ConfigMap {namespace}/{name}", f"/api/v1/namespaces/{namespace}/configmaps", name)

    async def config_map_value(self, namespace: str, name: str, key: str) -> str:
        data = (await self._config_map(namespace, name)).get("data") or {}
        if key not in data:
            raise Missing(f"ConfigMap {namespace}/{name} has no key {key!r}")
        return data[key]

    async def config_map_data(self, namespace: str, name: str) -> dict[str, str]:
        """A ConfigMap's data; empty when there is no such ConfigMap."""
        try:
            found = await self._config_map(namespace, name)
        except Missing:
            return {}
        return dict(found.get("data") or {})

    async def merge_config_map_data(self, namespace: str, name: str, data: dict[str, str], *, owner: dict) -> None:
        """Set these keys of a ConfigMap, leaving its other keys alone; create it, owned by ``owner`` (a
        metadata dict with apiVersion, kind, name, uid), when it does not exist yet."""
        config_maps = f"/api/v1/namespaces/{namespace}/configmaps"
        try:
            await self._request("patch", f"{config_maps}/{name}", missing=f"ConfigMap {namespace}/{name}",
                                payload={"data": data}, headers=MERGE_PATCH)
            return
        except Missing:
            pass
        reference = {field: owner[field] for field in ("apiVersion", "kind", "name", "uid")}
        await self._request("post", config_maps, payload={
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "ownerReferences": [reference]},
            "data": data})


def _object_path(what: str, collection: str, name: str) -> str:
    """The path of the object so named; Missing for a name no object can have."""
    if not OBJECT_NAME.fullmatch(name):
        raise Missing(f"{what} not found")
    return f"{collection}/{name}"


def _refused(exc: kopf_errors.APIError) -> KubeError:
    """The status and the API server's message in a line, e.g. 'Forbidden: configmaps "x" is forbidden: ...'."""
    try:
        phrase = HTTPStatus(exc.status).phrase
    except ValueError:
        phrase = f"HTTP {exc.status}"
    detail = exc.message or (exc.args[0] if len(exc.args) == 1 else None)
    return KubeError(exc.status, f"{phrase}: {' '.join(str(detail).split())}" if detail else phrase)
