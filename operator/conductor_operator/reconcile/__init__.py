"""The reconcile shell: observe Kubernetes and Conductor, let the domain decide, act, report.

Each reconcile returns an Outcome (the whole status to write, events, and when to retry) and
never raises for Conductor or user errors: those become conditions. Conductor 4xx answers are
the user's to fix (Stalled, no hot retry); unavailability is ours (retry with backoff, keep the
last good status). One lock per object keeps a timer and a change handler from overlapping.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import ssl
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from pydantic import ValidationError

from conductor_operator import metrics
from conductor_operator.api.cluster import ConductorCluster
from conductor_operator.api.common import parse_duration
from conductor_operator.api.definitions import TaskDefinition, WorkflowDefinition
from conductor_operator.api.migration import MigrationPlan
from conductor_operator.conductor.client import (
    ConductorClient,
    Flavor,
    display_url,
    server_root,
    tls_verification,
)
from conductor_operator.conductor.errors import (
    AddressNotAllowed,
    ConductorError,
    NotConductor,
    NotFound,
    Rejected,
    Unauthorized,
    Unavailable,
)
from conductor_operator.domain import definitions as defs
from conductor_operator.domain import migrations
from conductor_operator.domain.conditions import (
    STALLED,
    Condition,
    format_time,
    kstatus,
    merge_conditions,
    parse_time,
    transitioned,
)
from conductor_operator.kube import Kube, Missing
from conductor_operator.reconcile.batching import Batcher
from conductor_operator.reconcile.sharing import KeyedLocks, SharedReads
from conductor_operator.settings import Settings

REASON_CLUSTER_NOT_FOUND = "ClusterNotFound"
REASON_SOURCE_INVALID = "DefinitionSourceInvalid"
REASON_REACHABLE = "Reachable"
REASON_UNREACHABLE = "Unreachable"
REASON_AUTH_FAILED = "AuthenticationFailed"
REASON_INVALID_SPEC = "InvalidSpec"
REASON_NOT_CONDUCTOR = "NotConductor"
REASON_URL_NOT_ALLOWED = "URLNotAllowed"
COUNT_CACHE_SECONDS = 1.0
"""Counts younger than this serve a reconcile that acts on them (a change, a hold); timers take counts up to a
resync interval old, so one read per workflow and interval serves every version's resource and plan."""
PARSED_PLANS_KEPT = 512
FULL, COUNT = "full", "count"
"""What a definition's timer tick does (Runtime._definition_due)."""
CYCLE_READS = 50
"""At most this many definitions are read to find a cycle of pinned sub-workflows."""


@dataclass(frozen=True)
class Counted:
    """Running executions of one workflow per version, and when they were read."""

    at: datetime
    by_version: dict[int, int]


@dataclass
class Outcome:
    status: dict | None
    events: list[defs.Event] = field(default_factory=list)
    retry_after: float | None = None
    message: str = ""


class UserError(Exception):
    """Input the user must fix (a missing ConductorCluster, Secret or ConfigMap, bad JSON)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


def validation_message(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())


def _parse_or_none(model, body):
    try:
        return model.from_body(body)
    except ValidationError:
        return None


def parse_plans(bodies) -> list[MigrationPlan]:
    """The MigrationPlans the models accept: one they refuse does nothing, so it holds and competes with nothing."""
    return [plan for plan in (_parse_or_none(MigrationPlan, body) for body in bodies) if plan]


def _parse_cluster(body) -> ConductorCluster:
    try:
        return ConductorCluster.from_body(body)
    except ValidationError as exc:
        raise UserError(REASON_INVALID_SPEC, f"ConductorCluster {body['metadata']['name']}: "
                                             f"{validation_message(exc)}") from None


def _forget_server(status: dict) -> None:
    """What a ConductorCluster's status said about a server that is no longer identified."""
    status.pop("serverVersion", None)
    status.pop("flavor", None)


def cluster_name(resource) -> str | None:
    return resource.spec.cluster_ref.name if resource.spec.cluster_ref else None


def conclude(status: dict, wanted: list[Condition], now: datetime, generation: int | None, *,
              events=(), retry_after: float | None = None, message: str = "") -> Outcome:
    """The Outcome for a status with these conditions, and its events.

    Every event of an action taken is kept; an event reporting a state (``Event.state``) only when a condition
    changed: a resource stalled on bad input is re-checked periodically and must not repeat its warning.
    """
    previous = status.get("conditions")
    conditions = merge_conditions(previous, wanted, now, generation)
    status.update(observedGeneration=generation, conditions=conditions)
    changed = transitioned(previous, conditions)
    return Outcome(status, [e for e in events if changed or not e.state], retry_after, message)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _due(last: str | None, interval: str | timedelta, now: datetime) -> bool:
    """Whether ``interval`` (a duration such as "5m", or a timedelta) has passed since ``last``."""
    previous = parse_time(last)
    if isinstance(interval, str):
        interval = parse_duration(interval)
    return previous is None or (now - previous) >= interval


class Runtime:
    """Clients, caches and locks shared by all reconciles of one operator process."""

    def __init__(self, settings: Settings, kube: Kube, *, clock: Callable[[], datetime] = utcnow,
                 client_factory: Callable[..., ConductorClient] = ConductorClient):
        self.settings = settings
        self.kube = kube
        self.clock = clock
        self._client_factory = client_factory
        self._clients: dict[tuple[str, str], tuple[str, ConductorClient]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # One reconcile at a time per Conductor definition ("workflow order v2"), across resources and namespaces:
        # two resources claiming one version, applied together, would both find it absent and both register it.
        self._claims = KeyedLocks()
        # Per Conductor client: running counts of each workflow and the listing of registered versions (each read
        # once, shared); per server: the versions the operator registered since.
        self._shared = SharedReads(clock, timedelta(seconds=2 * settings.resync_interval))
        self._batchers: weakref.WeakKeyDictionary[ConductorClient, dict[str, Batcher]] = weakref.WeakKeyDictionary()
        self._plan_models: dict[int, tuple[dict, MigrationPlan | None]] = {}
        self._recorded: dict[str, tuple[dict, dict]] = {}
        self._retired: list[tuple[weakref.finalize, Callable[[], Awaitable[None]]]] = []
        self._closing: set[asyncio.Task] = set()
        self._retry_at: dict[str, datetime] = {}  # uid -> when a resource Conductor could not serve may try again
        self._reconciled_at: dict[str, datetime] = {}  # uid -> when a definition's last full reconcile concluded

    def record_status(self, uid: str, based_on: dict, written: dict | None) -> None:
        """Remember the status a reconcile wrote, and the status it started from."""
        if written is not None:
            self._recorded[uid] = (copy.deepcopy(based_on), copy.deepcopy(written))

    def recorded_status(self, uid: str, current: dict) -> dict:
        """The status to plan from: kopf patches status after a handler returns, so a timer that waited
        for the lock may hold a body from before that patch. While the body still shows the status the
        last reconcile started from, that reconcile's result is the truth."""
        based_on, written = self._recorded.get(uid, (None, None))
        return copy.deepcopy(written) if written is not None and based_on == current else current

    async def aclose(self) -> None:
        for _, client in self._clients.values():
            await client.aclose()
        self._clients.clear()
        for finalizer, closer in self._retired:
            if finalizer.detach() is not None:
                await closer()
        self._retired.clear()

    def _retire(self, client: ConductorClient) -> None:
        """A client replaced because its ConductorCluster changed is closed once nothing refers to it any more.

        Closing it at once broke the reconciles that were still using it ("Cannot send a request, as the client
        has been closed"): each reconcile keeps the client it began with to the end, and lets go of it then.
        """
        closer = getattr(client, "closer", None)
        if closer is None:
            return  # a client with nothing to close
        close = closer()
        loop = asyncio.get_running_loop()

        def closed_when_unused() -> None:
            def start() -> None:
                task = loop.create_task(close())
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
            if not loop.is_closed():
                loop.call_soon_threadsafe(start)

        self._retired = [(f, c) for f, c in self._retired if f.alive]
        self._retired.append((weakref.finalize(client, closed_when_unused), close))

    def forget(self, uid: str) -> None:
        """Drop what the runtime keeps for an object that is going: its lock, retry time and recorded status."""
        self._locks.pop(uid, None)
        self._retry_at.pop(uid, None)
        self._recorded.pop(uid, None)
        self._reconciled_at.pop(uid, None)

    def forget_cluster(self, body) -> None:
        """A deleted ConductorCluster: its client is closed once no reconcile uses it any more."""
        meta = body["metadata"]
        if cached := self._clients.pop((meta["namespace"], meta["name"]), None):
            self._retire(cached[1])
        self.forget(meta["uid"])

    def lock(self, body) -> asyncio.Lock:
        return self._locks.setdefault(body["metadata"]["uid"], asyncio.Lock())

    # ---- Conductor clients ----------------------------------------------------------------------

    async def conductor_root(self, namespace: str, cluster_name: str | None) -> str | None:
        """The server root of the ConductorCluster a resource names (or the namespace default); None when
        there is no such ConductorCluster or it cannot be read as one."""
        try:
            cluster = _parse_cluster(await self.kube.conductor_cluster(namespace,
                                                                       cluster_name or self.settings.default_cluster))
        except (Missing, UserError):
            return None
        return server_root(cluster.spec.url)

    async def client_for(self, namespace: str, cluster_name: str | None) -> ConductorClient:
        """The client of the ConductorCluster a resource names (or the namespace default)."""
        name = cluster_name or self.settings.default_cluster
        try:
            body = await self.kube.conductor_cluster(namespace, name)
        except Missing as exc:
            raise UserError(REASON_CLUSTER_NOT_FOUND, f"{exc}: create it, or set spec.clusterRef") from None
        return await self._client_from_cluster(namespace, _parse_cluster(body))

    async def _client_from_cluster(self, namespace: str, cluster: ConductorCluster) -> ConductorClient:
        spec = cluster.spec
        key_id = key_secret = None
        if spec.auth:
            ref = spec.auth.secret_ref
            try:
                key_id = await self.kube.secret_value(namespace, ref.name, ref.key_id_key)
                key_secret = await self.kube.secret_value(namespace, ref.name, ref.key_secret_key)
            except Missing as exc:
                raise UserError(REASON_AUTH_FAILED, str(exc)) from None
        flavor = {"OSS": Flavor.OSS, "Orkes": Flavor.ORKES}.get(spec.flavor)
        # Key the cache by everything that shapes the client, the secret only as a digest.
        fingerprint = hashlib.sha256(json.dumps(
            [spec.to_dict(), key_id, key_secret], sort_keys=True, default=str).encode()).hexdigest()
        cache_key = (namespace, cluster.metadata.name)
        cached = self._clients.get(cache_key)
        if cached and cached[0] == fingerprint:
            return cached[1]
        verify = self._verify(cluster)
        allow = self.settings.url_allow
        if refusal := allow.host_refusal(urlsplit(spec.url.strip()).hostname):
            raise UserError(REASON_URL_NOT_ALLOWED, f"spec.url: the operator does not connect to {refusal}")
        try:
            # identify: nothing is sent to the server, nor any answer of it shown, before it is identified as
            # Conductor. connect_check: every connection's address is checked where it is opened.
            client = self._client_factory(
                spec.url, flavor=flavor, key_id=key_id, key_secret=key_secret, verify=verify,
                timeout=parse_duration(spec.timeouts.request).total_seconds(),
                connect_timeout=parse_duration(spec.timeouts.connect).total_seconds(),
                identify=True, connect_check=allow.address_refusal, on_response=metrics.conductor_response)
        except ValueError as exc:  # a URL the CRD should have refused (an object stored before the rule)
            raise UserError(REASON_INVALID_SPEC, f"spec.url: {exc}") from None
        if cached:
            self._retire(cached[1])
        self._clients[cache_key] = (fingerprint, client)
        return client

    @staticmethod
    def _verify(cluster: ConductorCluster) -> ssl.SSLContext | bool:
        """How the client checks the server's certificate; UserError naming spec.tls.caBundle when it is unusable."""
        tls = cluster.spec.tls
        try:
            return tls_verification(bool(tls and tls.insecure_skip_verify), tls.ca_bundle if tls else None)
        except ValueError as exc:
            raise UserError(REASON_INVALID_SPEC, str(exc)) from None

    async def running_counts(self, client: ConductorClient, workflow_name: str, *,
                             max_age: float = COUNT_CACHE_SECONDS) -> Counted:
        """Running executions per version, read at most once per ``max_age`` seconds for every resource and plan of
        the name; callers that come while a read is under way share it."""

        async def read() -> dict[int, int]:
            by_version = await client.running_counts_by_version(workflow_name)
            metrics.running_counts(workflow_name, by_version)
            return by_version
        at, by_version = await self._shared.read(("counts", client, workflow_name), max_age, read)
        return Counted(at, by_version)

    def remember_counts(self, client: ConductorClient, workflow_name: str, by_version: dict[int, int],
                        at: datetime) -> None:
        """Keep counts read now by a plan's step for every resource of the workflow."""
        self._shared.remember(("counts", client, workflow_name), dict(by_version), at)
        metrics.running_counts(workflow_name, by_version)

    async def _register_workflow(self, client: ConductorClient, desired: dict) -> None:
        await self.register(client, "register_workflow_defs", desired)
        self._shared.remember(("registered", client.base_url, desired["name"], desired["version"]), True,
                              self.clock())

    async def _absent(self, client: ConductorClient, name: str, version: int) -> bool:
        """Whether a version is known not to be registered, from one read of every workflow's registered versions
        shared by the resources that arrive together (a server without that endpoint: not known). Conductor OSS
        answers one workflow's versions only by reading every definition, so a read per workflow made a burst of
        2,000 new resources wait minutes on Conductor; one read for all costs the same as one of those. A version
        this operator registered after that read began, through any client of the server, is not absent: another
        resource claiming it with other content must find it there, never overwrite it."""
        read_at, listing = await self._shared.read(("registered versions", client), COUNT_CACHE_SECONDS,
                                                   client.registered_versions)
        if listing is None or version in listing.get(name, ()):
            return False
        registered = self._shared.kept(("registered", client.base_url, name, version))
        return registered is None or registered[0] < read_at

    async def register(self, client: ConductorClient, method: str, definition: dict) -> None:
        """Register ``definition`` with ``client.<method>`` (which takes a list), in one bulk request with the
        others of its kind that arrive at the same time (reconcile/batching.py)."""
        batchers = self._batchers.setdefault(client, {})
        if method not in batchers:
            owner = weakref.ref(client)  # the batcher is kept with the client, so it must not keep the client

            async def send(items: list[dict]) -> None:
                if (current := owner()) is None:
                    raise Unavailable(None, "the Conductor client was replaced while registering")
                await getattr(current, method)(items)
            batchers[method] = Batcher(send)
        await batchers[method].submit(definition)

    # ---- ConductorCluster -----------------------------------------------------------------------

    async def reconcile_cluster(self, body, *, due_only: bool) -> Outcome | None:
        status = dict(body.get("status") or {})
        now = self.clock()
        cluster = _parse_or_none(ConductorCluster, body)
        if due_only and cluster and not _due(status.get("lastCheckedAt"), cluster.spec.health_check_interval, now):
            return None
        async with self.lock(body):
            url = display_url(cluster.spec.url) if cluster else ""  # never a password, a query or a fragment
            try:
                client = await self._client_from_cluster(body["metadata"]["namespace"], _parse_cluster(body))
                version = await client.server_version()
                flavor = await client.detect_flavor()
                wanted = kstatus(True, REASON_REACHABLE, f"Conductor {version} ({flavor.value}) at {url}")
                status.update(reachable=True, serverVersion=version, flavor=flavor.value)
            except UserError as exc:
                wanted = kstatus(False, exc.reason, exc.message, stalled=True)
                status.update(reachable=False)
                _forget_server(status)
            except NotConductor as exc:
                wanted = kstatus(False, REASON_NOT_CONDUCTOR, f"the server at {url} is not Conductor: {exc.message}; "
                                 f"point spec.url at a Conductor server's root (its API is under /api)", stalled=True)
                status.update(reachable=True)
                _forget_server(status)
            except AddressNotAllowed as exc:
                wanted = kstatus(False, REASON_URL_NOT_ALLOWED, f"spec.url: {exc.message}", stalled=True)
                status.update(reachable=False)
                _forget_server(status)
            except Unauthorized as exc:
                wanted = kstatus(False, REASON_AUTH_FAILED, f"Conductor at {url} refused the credentials: "
                                 f"{exc.message}", stalled=True)
                status.update(reachable=True)
            except ConductorError as exc:
                wanted = kstatus(False, REASON_UNREACHABLE, f"Conductor at {url} is not reachable: {exc.message}",
                                 reconciling=True)
                status.update(reachable=False)
            status["lastCheckedAt"] = format_time(now)
            # Reachability is a state: said once when it changes, not at every health check.
            ready = wanted[0]
            event = defs.state_event("Normal" if ready.status == "True" else "Warning", ready.reason, ready.message)
            return conclude(status, wanted, now, body["metadata"].get("generation"), events=[event])

    # ---- WorkflowDefinition ---------------------------------------------------------------------

    async def definition_body(self, namespace: str, spec: dict) -> dict:
        """The definition, inline or from its ConfigMap; refused (UserError) when nested past the operator's limits,
        which a ConfigMap's JSON file never met the CRD schema's."""
        if spec.get("definition") is not None:
            loaded = dict(spec["definition"])
            if error := defs.depth_error(loaded, "spec.definition"):
                raise UserError(defs.REASON_TOO_DEEP, error)
            return loaded
        ref = (spec.get("definitionFrom") or {}).get("configMapKeyRef") or {}
        try:
            text = await self.kube.config_map_value(namespace, ref.get("name", ""), ref.get("key", ""))
        except Missing as exc:
            raise UserError(REASON_SOURCE_INVALID, f"spec.definitionFrom: {exc}") from None
        where = f"the definition in ConfigMap {ref.get('name')} key {ref.get('key')}"
        if error := defs.text_depth_error(text, where):
            raise UserError(defs.REASON_TOO_DEEP, error)
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(REASON_SOURCE_INVALID, f"ConfigMap {ref['name']} key {ref['key']} is not valid JSON: "
                                                   f"{exc.msg} (line {exc.lineno})") from None
        if not isinstance(loaded, dict):
            raise UserError(REASON_SOURCE_INVALID, f"ConfigMap {ref['name']} key {ref['key']} holds JSON that is "
                                                   f"not a definition object")
        if error := defs.depth_error(loaded, where):
            raise UserError(defs.REASON_TOO_DEEP, error)
        return loaded

    def check_identity(self, loaded: dict, name: str, version: int | None) -> None:
        """A definition file naming another workflow or version is a mistake, not something to override."""
        if loaded.get("name") not in (None, name):
            raise UserError(REASON_SOURCE_INVALID, f"the definition names {loaded['name']!r} but spec.name is "
                                                   f"{name!r}")
        if version is not None and loaded.get("version") not in (None, version):
            raise UserError(REASON_SOURCE_INVALID, f"the definition has version {loaded['version']} but "
                                                   f"spec.version is {version}")

    async def reconcile_workflow(self, body, *, due_only: bool, attempt: int = 0) -> Outcome | None:
        try:
            resource = WorkflowDefinition.from_body(body)
        except ValidationError as exc:
            return self.invalid_spec(body, exc)
        name, version = resource.spec.name, resource.spec.version
        return await self._reconcile_definition(
            body, resource, due_only, attempt, f"workflow {name} v{version}",
            desired_of=lambda loaded: defs.desired_workflow_definition(name, version, loaded),
            identity=(name, version),
            validate=defs.validate_workflow_definition,
            warnings_of=self._workflow_warnings,
            get=lambda client: self._workflow_def(client, body, name, version),
            register=lambda client, desired: self._register_workflow(client, desired),
            count=lambda client, max_age: self.running_counts(client, name, max_age=max_age),
            count_key=version,
            hold=lambda status, client, now: self._workflow_hold(resource, status, client, now),
        )

    async def _workflow_def(self, client: ConductorClient, body, name: str, version: int) -> dict | None:
        """Conductor's copy of a version; for a resource that never registered it, first whether the version is
        registered at all (one read per workflow for the versions applied together: most are new)."""
        if not (body.get("status") or {}).get("contentHash") and await self._absent(client, name, version):
            return None
        return await client.get_workflow_def(name, version)

    def invalid_spec(self, body, error: ValidationError) -> Outcome:
        """A body the models refuse (the API server normally refuses it first): Stalled, with the reasons."""
        message = f"spec is invalid: {validation_message(error)}"
        return conclude(dict(body.get("status") or {}), kstatus(False, REASON_INVALID_SPEC, message, stalled=True),
                         self.clock(), body["metadata"].get("generation"),
                         events=[defs.state_event("Warning", REASON_INVALID_SPEC, message)])

    def too_deep(self, body, where: str) -> Outcome:
        """An object whose spec was cut as it was read (nested too deep to walk): Stalled, and nothing else done."""
        message = defs.cut_message(where)
        return conclude(dict(body.get("status") or {}), kstatus(False, defs.REASON_TOO_DEEP, message, stalled=True),
                         self.clock(), body["metadata"].get("generation"),
                         events=[defs.state_event("Warning", defs.REASON_TOO_DEEP, message)])

    def _definition_due(self, resource, status: dict, now: datetime, *, counted: bool) -> str | None:
        """What a timer tick has to do for a definition: a full reconcile (FULL), only its running count (COUNT,
        for a ``counted`` kind: a shared read, at most one per workflow and resync interval), or nothing (None)."""
        conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        if conditions.get("Reconciling") == "True" or conditions.get("Stalled") == "True":
            # Conductor was unavailable: retry on a tick once the delay (its Retry-After, the backoff) has passed.
            # Stalled on input: a spec change runs at once (the change handler); the timer looks again only at the
            # drift check interval, for what can be fixed elsewhere (a ConfigMap, a ConductorCluster created).
            return FULL if now >= self._retry_at.get(resource.metadata.uid, now) else None
        if not conditions and resource.metadata.uid not in self._reconciled_at:
            # kopf runs a change handler (create, resume) for every object: it makes the first reconcile, however long
            # a burst keeps it waiting. A timer doing it too doubled the work of a burst, and so the wait.
            return None
        if conditions.get("Ready") != "True":
            return FULL  # never settled
        if self._drift_check_due(resource, status, now):
            return FULL
        return COUNT if counted and (status.get("registered") or "executions" in status) else None

    @staticmethod
    def _drift_check_due(resource, status: dict, now: datetime) -> bool:
        """Whether Conductor's copy is to be compared again: driftCheckInterval after the last check, stretched by
        up to a fifth, the same for a resource each time and different across resources, so that definitions
        applied together do not all read Conductor at the same tick ever after."""
        digest = hashlib.sha256(str(resource.metadata.uid).encode()).digest()
        stretch = 1 + 0.2 * int.from_bytes(digest[:4], "big") / 2**32
        return _due(status.get("lastDriftCheckAt"), parse_duration(resource.spec.drift_check_interval) * stretch, now)

    def _just_reconciled(self, uid: str) -> bool:
        """Whether a change handler concluded a full reconcile moments ago: a timer that fired meanwhile holds a body
        from before that reconcile's status was written, and would read and judge it all again (a definition just
        registered would pass for one found registered: Adopted)."""
        last = self._reconciled_at.get(uid)
        return last is not None and (self.clock() - last).total_seconds() < self.settings.resync_interval / 2

    def _unchanged(self, resource, status: dict, desired: dict, generation, now: datetime) -> bool:
        """A registered definition whose spec and content are those it was last reconciled with, checked against
        Conductor within the drift check interval: an operator restart or a no-op change reads nothing more."""
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        return (ready and bool(status.get("registered")) and status.get("observedGeneration") == generation
                and status.get("contentHash") == defs.content_hash(desired)
                and not self._drift_check_due(resource, status, now))

    async def _recount(self, status: dict, client: ConductorClient, count, count_key, drift_interval: str,
                       now: datetime) -> Outcome | None:
        """The count-only tick: write the running count when it changed, or to confirm it once per drift check
        interval; the shared read makes it cost one request per workflow and resync interval, not per resource."""
        try:
            counted = await count(client, self.settings.resync_interval)
        except ConductorError:
            if status.get("executions") is None:
                return None
            status["executions"] = None  # unknown is shown as unknown, never as a stale number
            return Outcome(status)
        shown = status.get("executions") or {}
        running = counted.by_version.get(count_key, 0)
        if shown.get("running") == running and not _due(shown.get("readAt"), drift_interval, now):
            return None
        status["executions"] = {"running": running, "readAt": format_time(counted.at)}
        return Outcome(status)

    @staticmethod
    async def _workflow_warnings(client: ConductorClient, desired: dict, recorded: str | None) -> list[tuple[str, str]]:
        warnings = []
        if unpinned := defs.unpinned_sub_workflows(desired):
            warnings.append((defs.REASON_UNPINNED_SUB_WORKFLOW,
                             f"sub-workflow task(s) {', '.join(unpinned)} have no version: they start whatever "
                             f"version of the child is the latest at that moment; pin subWorkflowParam.version"))
        if cycle := await Runtime._sub_workflow_cycle(client, desired):
            warnings.append(defs.cycle_warning(cycle))
        return warnings

    @staticmethod
    async def _sub_workflow_cycle(client: ConductorClient, desired: dict) -> list[tuple[str, int]] | None:
        """A cycle of pinned sub-workflows through ``desired``: its own pins, then those of the definitions they
        pin as Conductor holds them (read one by one, at most CYCLE_READS; most definitions pin nothing)."""
        start = (desired["name"], desired["version"])
        pinned = {start: defs.pinned_sub_workflow_refs(desired)}
        waiting = [ref for ref in pinned[start] if ref != start]
        while waiting and len(pinned) <= CYCLE_READS:
            ref = waiting.pop(0)
            if ref in pinned:
                continue
            try:
                found = await client.get_workflow_def(*ref)
            except Rejected:
                found = None
            pinned[ref] = defs.pinned_sub_workflow_refs(found) if isinstance(found, dict) else []
            waiting += [child for child in pinned[ref] if child not in pinned]
        return defs.sub_workflow_cycle(start, pinned)

    async def _plans_of(self, resource: WorkflowDefinition) -> list[MigrationPlan]:
        """The MigrationPlans of the resource's namespace that work on its ConductorCluster (kopf's index: no
        request)."""
        bodies = await self.kube.migration_plans(resource.metadata.namespace)
        return migrations.same_cluster(self._parsed_plans(bodies), cluster_name(resource),
                                       self.settings.default_cluster)

    def _parsed_plans(self, bodies: list[dict]) -> list[MigrationPlan]:
        """parse_plans, each body parsed once: the index hands the same body until the plan changes, and every
        definition's tick asks (the models are only read)."""
        if len(self._plan_models) > PARSED_PLANS_KEPT:
            self._plan_models.clear()  # bodies of plans changed or deleted since: parsed again when asked
        parsed = []
        for body in bodies:
            hit = self._plan_models.get(id(body))
            if hit is None or hit[0] is not body:
                hit = self._plan_models[id(body)] = (body, _parse_or_none(MigrationPlan, body))
            if hit[1] is not None:
                parsed.append(hit[1])
        return parsed

    async def _retiring(self, resource: WorkflowDefinition) -> bool:
        """Whether a plan retired or is retiring this version: its resource is then reconciled in full at every
        tick (the retirement, and a retired version running again, are told by its conditions), not only counted."""
        return bool(migrations.plans_retiring(resource.spec.name, resource.spec.version,
                                              await self._plans_of(resource)))

    async def _workflow_hold(self, resource: WorkflowDefinition, status: dict, client: ConductorClient,
                             now: datetime) -> list[Condition] | None:
        """Keep a version out of Conductor while a MigrationPlan has not released it, or after one retired it.

        A retired version's running executions are still counted (into ``status``), at every resync: the plan
        that retired it has ended and no longer looks, and restarted executions of it run unseen otherwise."""
        spec = resource.spec
        plans = await self._plans_of(resource)
        running = None
        if migrations.plans_retiring(spec.name, spec.version, plans):
            counted = await self.running_counts(client, spec.name)
            running = counted.by_version.get(spec.version, 0)
            status["executions"] = {"running": running, "readAt": format_time(counted.at)}
        return migrations.definition_hold(
            resource=resource.metadata.name, workflow_name=spec.name, version=spec.version,
            activation=spec.activation, ever_registered=bool(status.get("contentHash")), plans=plans,
            label=f"workflow {spec.name} v{spec.version}", running=running)

    async def _reconcile_definition(self, body, resource, due_only: bool, attempt: int, label: str, *, desired_of,
                                    identity, validate, warnings_of, get, register, count, count_key,
                                    versioned: bool = True, hold=None) -> Outcome | None:
        status = dict(body.get("status") or {})
        now = self.clock()
        due = self._definition_due(resource, status, now, counted=count is not None) if due_only else FULL
        if due is None:
            return None
        async with self.lock(body), self._claims.hold(label):
            meta = body["metadata"]
            if due_only and due == FULL and self._just_reconciled(meta["uid"]):
                return None
            spec = body.get("spec") or {}
            generation = meta.get("generation")
            policy = resource.spec.policy
            if due == COUNT and not (hold is not None and await self._retiring(resource)):
                try:
                    client = await self.client_for(meta["namespace"], cluster_name(resource))
                except UserError:
                    pass  # the full reconcile below says what is wrong
                else:
                    return await self._recount(status, client, count, count_key, resource.spec.drift_check_interval,
                                               now)

            def finish(wanted: list[Condition], events=()) -> Outcome:
                self._reconciled_at[meta["uid"]] = now
                if any(c.type == STALLED and c.status == "True" for c in wanted):
                    self._retry_at[meta["uid"]] = now + parse_duration(resource.spec.drift_check_interval)
                return conclude(status, wanted, now, generation, events=events)

            try:
                loaded = await self.definition_body(meta["namespace"], spec)
                self.check_identity(loaded, *identity)
                desired = desired_of(loaded)
                if not due_only and self._unchanged(resource, status, desired, generation, now):
                    return None
                client = await self.client_for(meta["namespace"], cluster_name(resource))
                if owner := await self._earlier_claimant(resource, body, client):
                    status["registered"] = False  # the owner's: this resource never deletes it
                    waiting = finish(defs.declared_elsewhere(label, owner),
                                     [defs.state_event("Warning", defs.REASON_DECLARED_ELSEWHERE,
                                                       f"{label} is declared by {owner.ref} too, created earlier")])
                    # Looked at again at every tick (it costs no Conductor call), to take over soon after the owner
                    # is deleted.
                    self._retry_at.pop(meta["uid"], None)
                    return waiting
                observed = await get(client)
            except UserError as exc:
                return finish(kstatus(False, exc.reason, exc.message, stalled=True),
                              [defs.state_event("Warning", exc.reason, exc.message)])
            except Unavailable as exc:
                return self.unavailable(status, now, generation, label, exc, attempt, uid=meta.get("uid"))
            except Rejected as exc:
                message = f"Conductor refused reading {label}: {exc.message}"
                return finish(kstatus(False, defs.REASON_REJECTED, message, stalled=True),
                              [defs.state_event("Warning", defs.REASON_REJECTED, message)])
            if hold is not None and observed is None:
                try:
                    held = await hold(status, client, now)
                except ConductorError as exc:  # a retired version's running executions could not be counted
                    return self.unavailable(status, now, generation, label, exc, attempt, uid=meta.get("uid"))
                if held is not None:
                    status["registered"] = False
                    return finish(held, [defs.state_event("Normal", held[0].reason, held[0].message),
                                         *(defs.state_event("Warning", c.reason, c.message) for c in held
                                           if c.type == defs.WARNING and c.status == "True")])

            try:
                warnings = await warnings_of(client, desired, status.get("contentHash"))
            except Unavailable as exc:
                return self.unavailable(status, now, generation, label, exc, attempt, uid=meta.get("uid"))
            plan = defs.plan_definition(
                desired, status.get("contentHash"), observed,
                defs.DefinitionPolicy(on_drift=policy.on_drift,
                                      in_place_change=getattr(policy, "in_place_change", "Refuse")),
                label=label, warnings=warnings, errors=validate(desired), versioned=versioned)
            if plan.action is defs.Action.REGISTER:
                try:
                    await register(client, desired)
                    status["registeredAt"] = format_time(now)
                except Unavailable as exc:
                    return self.unavailable(status, now, generation, label, exc, attempt, uid=meta.get("uid"))
                except Rejected as exc:
                    plan = defs.rejected(label=label, message=exc.message, registered=observed is not None,
                                         recorded_hash=status.get("contentHash"), warnings=warnings)
                else:
                    plan.events.extend(defs.Event("Warning", reason, text) for reason, text in warnings)
            status.update(registered=plan.registered, lastDriftCheckAt=format_time(now))
            if plan.content_hash:
                status["contentHash"] = plan.content_hash
            # A version just registered where none was has nothing running yet in nearly every case: its first
            # count is the next tick's, shared with every resource of the workflow.
            if count is not None and plan.registered and not (plan.action is defs.Action.REGISTER and observed is None):
                try:
                    counted = await count(client, COUNT_CACHE_SECONDS)
                    status["executions"] = {"running": counted.by_version.get(count_key, 0),
                                            "readAt": format_time(counted.at)}
                except ConductorError:
                    status["executions"] = None  # unknown is shown as unknown, never as a stale number
            return finish(plan.conditions, plan.events)

    async def _rivals(self, resource, body, client: ConductorClient) -> tuple[defs.Claimant | None,
                                                                              list[defs.Claimant]]:
        """This resource as a claimant of its Conductor definition, and the other resources declaring that
        definition on the same server (of any namespace)."""
        claim = defs.claim_of(type(resource).__name__, body)
        if claim is None:
            return None, []
        key, own = claim
        rivals = [other for other in await self.kube.definition_claimants(key) if other.uid != own.uid]
        return own, [other for other in rivals
                     if await self.conductor_root(other.namespace, other.cluster) == client.base_url]

    async def _earlier_claimant(self, resource, body, client: ConductorClient) -> defs.Claimant | None:
        """The resource that owns this one's Conductor definition, having declared it first; None when this one
        does."""
        own, rivals = await self._rivals(resource, body, client)
        first = min([own, *rivals], key=lambda claimant: claimant.seniority) if own else None
        return None if first is own else first

    def unavailable(self, status: dict, now: datetime, generation, label: str, exc: ConductorError,
                     attempt: int, *, uid: str | None = None) -> Outcome:
        """Reconciling, the last good status kept; retried with backoff, never sooner than the server's
        Retry-After (a throttled Conductor, or a gateway in front of it, is not the user's fault). With
        ``uid``, the resource's timer waits as long too."""
        retry_after = getattr(exc, "retry_after", None)
        delay = self.settings.retry_delay(attempt, retry_after)
        if uid:
            self._retry_at[uid] = now + timedelta(seconds=delay)
        message = f"Conductor is unavailable while reconciling {label}: {exc.message}; retrying with backoff"
        if retry_after is not None:
            message += f" (HTTP {exc.status}: Retry-After {retry_after:g}s)"
        return conclude(status, defs.unavailable(status.get("conditions"), message), now, generation,
                         retry_after=delay, message=message)

    async def finalize_workflow(self, body, *, attempt: int = 0) -> Outcome:
        resource = _parse_or_none(WorkflowDefinition, body)
        spec = body.get("spec") or {}
        name, version = spec.get("name"), spec.get("version")
        async with self.lock(body):
            return await self._finalize(
                body, resource, f"workflow {name} v{version}", attempt,
                inspect=lambda client: self._workflow_users(client, name, version),
                delete=lambda client: client.delete_workflow_def(name, version))

    async def _workflow_users(self, client: ConductorClient, name: str, version: int) -> tuple[int, list[str]]:
        running = (await client.running_counts_by_version(name)).get(version, 0)
        return running, defs.pinned_referrers(await client.all_workflow_defs(), name, version)

    async def _finalize(self, body, resource, label: str, attempt: int, *, inspect, delete) -> Outcome:
        """Release the finalizer, deleting from Conductor first when the policy asks and nothing needs it.

        A body the models cannot read is treated as Retain: on doubt, Conductor's data stays.
        """
        status = dict(body.get("status") or {})
        meta = body["metadata"]
        now = self.clock()
        on_delete = resource.spec.policy.on_delete if resource else "Retain"
        running: int | None = None
        referrers: list[str] = []
        client = None
        declared_by: list[str] = []
        if on_delete == "Delete" and status.get("registered"):
            try:
                client = await self.client_for(meta["namespace"], cluster_name(resource))
                declared_by = [other.ref for other in (await self._rivals(resource, body, client))[1]]
                if not declared_by:
                    running, referrers = await inspect(client)
            except (UserError, ConductorError):
                running = None
        plan = defs.plan_deletion(label=label, on_delete=on_delete, registered_by_us=bool(status.get("registered")),
                                  running=running, referrers=referrers, declared_by=declared_by)
        if plan.action is defs.DeletionAction.DELETE:
            try:
                await delete(client)
            except NotFound:
                pass  # already gone: the goal is reached
            except ConductorError as exc:
                plan = defs.DeletionPlan(defs.DeletionAction.HOLD, defs.REASON_DELETION_BLOCKED,
                                         f"waiting to delete {label}: Conductor answered {exc.message}")
        if plan.action is defs.DeletionAction.HOLD:
            outcome = conclude(status, kstatus(False, plan.reason, plan.message, reconciling=True), now,
                                meta.get("generation"), retry_after=self.settings.retry_delay(attempt),
                                message=plan.message)
            # The reason is posted once, when holding starts; its message follows the running count.
            outcome.events = [defs.Event("Normal", plan.reason, plan.message)] if attempt == 0 else []
            return outcome
        self.forget(meta["uid"])  # the object is about to go
        return Outcome(None, [defs.Event("Normal", plan.reason, plan.message)])

    # ---- TaskDefinition -------------------------------------------------------------------------

    async def reconcile_task(self, body, *, due_only: bool, attempt: int = 0) -> Outcome | None:
        try:
            resource = TaskDefinition.from_body(body)
        except ValidationError as exc:
            return self.invalid_spec(body, exc)
        name = resource.spec.name
        return await self._reconcile_definition(
            body, resource, due_only, attempt, f"task definition {name}",
            desired_of=lambda loaded: defs.desired_task_definition(name, loaded),
            identity=(name, None),
            validate=lambda desired: [],
            warnings_of=self._task_warnings,
            get=lambda client: client.get_task_def(name),
            register=lambda client, desired: self.register(client, "register_task_defs", desired),
            count=None, count_key=None, versioned=False,
        )

    async def _task_warnings(self, client: ConductorClient, desired: dict,
                             recorded: str | None) -> list[tuple[str, str]]:
        """Task definitions are global in Conductor: a change reaches running executions of every version."""
        if not recorded or recorded == defs.content_hash(desired):
            return []
        running, users = await self._task_users(client, desired["name"])
        if not users:
            return []
        return [(defs.REASON_SHARED_TASK_DEFINITION,
                 f"task definition {desired['name']} is global in Conductor: this change applies at once to "
                 f"{running} running execution(s) of every workflow version that uses it "
                 f"({', '.join(users[:10])}{' and more' if len(users) > 10 else ''})")]

    async def finalize_task(self, body, *, attempt: int = 0) -> Outcome:
        resource = _parse_or_none(TaskDefinition, body)
        name = (body.get("spec") or {}).get("name")
        async with self.lock(body):
            return await self._finalize(
                body, resource, f"task definition {name}", attempt,
                inspect=lambda client: self._task_users(client, name),
                delete=lambda client: client.delete_task_def(name))

    async def _task_users(self, client: ConductorClient, name: str) -> tuple[int, list[str]]:
        users = [d for d in await client.all_workflow_defs()
                 if any(t.get("name") == name and t.get("type", "SIMPLE") == "SIMPLE"
                        for t in defs.iter_tasks(d.get("tasks") or []))]
        names = sorted({d["name"] for d in users})
        running = 0
        for workflow in names:
            running += sum((await client.running_counts_by_version(workflow)).values())
        return running, [f"{d['name']} v{d.get('version')}" for d in users]

