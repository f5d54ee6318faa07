"""`kubectl conductor plan OLD NEW`: propose a MigrationPlan for a change, with its reasons and a runbook.

The decision is domain.proposal's; this module reads its inputs: the two definitions (as `diff` reads them) and,
with --from-cluster, the running executions and the triggers from the Conductor of the namespace's
ConductorCluster (``observe``, which tests replace).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import json
import re
import ssl
import textwrap
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import yaml
from pydantic import ValidationError

from conductor_operator.api.cluster import ConductorCluster
from conductor_operator.api.common import GROUP, VERSION, parse_duration
from conductor_operator.cli import plans
from conductor_operator.cli.common import BadInput, Command
from conductor_operator.domain.compatibility import InvalidDefinition, compare
from conductor_operator.domain.proposal import MAX_TRIGGER_PAUSE, Change, Proposal, Running, Trigger, propose
from conductor_operator.domain.waves import started_at

DEFAULT_CLUSTER = "default"
DNS_LABEL_UNSAFE = re.compile(r"[^a-z0-9-]+")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class Observed:
    """What --from-cluster read: every version's running executions and the triggers that start the workflow."""

    running: list[Running]
    triggers: list[Trigger]
    conductor: str


# ---- arguments --------------------------------------------------------------------------------

def plan_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("old", metavar="OLD", help="the current version: a Conductor workflow JSON file or a "
                                                   "WorkflowDefinition manifest")
    parser.add_argument("new", metavar="NEW", help="the version to move to, in either form (a manifest names the "
                                                   "plan's target)")
    parser.add_argument("--from-cluster", action="store_true",
                        help="read the running executions and the triggers from the Conductor of the namespace's "
                             "ConductorCluster (NEW's spec.clusterRef, else \"default\"); without it they are "
                             "unknown and the proposal is conservative")
    parser.add_argument("-o", "--output", choices=("yaml", "markdown", "json"), default="yaml",
                        help="yaml: the MigrationPlan to commit, the reasons as comments (default); markdown: the "
                             "runbook and the manifest; json: strategy, reasons, manifest and runbook")
    parser.add_argument("--workers-idempotent", action="store_true",
                        help="the workers tolerate running a task again, so running executions may be moved "
                             "(terminated and restarted on Conductor OSS)")
    parser.add_argument("--max-trigger-pause", type=_duration, default=MAX_TRIGGER_PAUSE, metavar="DURATION",
                        help="the longest a drain may pause the event handlers and schedules that start the "
                             "workflow (default 1h)")
    parser.add_argument("--name", metavar="PLAN", help="the MigrationPlan's name (default: WORKFLOW-to-vNEW)")
    parser.add_argument("--conductor-url", metavar="URL",
                        help="reach Conductor here instead of at the ConductorCluster's spec.url (for a URL that "
                             "resolves only inside the cluster: a kubectl port-forward)")
    parser.add_argument("--task-def-changed", metavar="NAME", action="append", default=[], dest="changed_task_defs",
                        help="a task definition changed along with the workflow (repeatable)")
    parser.add_argument("-f", "--filename", metavar="FILE", action="append", default=[], dest="config_map_files",
                        help="manifests holding the ConfigMaps that a manifest's spec.definitionFrom names")
    plans.cluster_arguments(parser, "the namespace of the plan and its ConductorCluster")


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


# ---- the command ------------------------------------------------------------------------------

def run_plan(args: argparse.Namespace) -> int:
    from conductor_operator.cli import main  # imported here: main imports this module

    config_maps = main.ConfigMaps(args)
    old = main.load_definition(args.old, config_maps)
    new = main.load_definition(args.new, config_maps)
    try:
        verdict = compare(old, new, changed_task_defs=args.changed_task_defs)
    except InvalidDefinition as error:
        raise BadInput(f"{args.old if error.which == 'old' else args.new}: {error.problem}") from None
    document = main._read_document(args.new)
    manifest = document if isinstance(document, dict) and document.get("kind") == main.MANIFEST_KIND else None
    change = describe_change(args, old, new, manifest)
    observed = observe(args, change) if args.from_cluster else None
    proposal = propose(change, verdict, observed.running if observed else None,
                       observed.triggers if observed else None, workers_idempotent=args.workers_idempotent,
                       max_trigger_pause=args.max_trigger_pause)
    render = {"yaml": render_yaml, "markdown": render_markdown, "json": render_json}[args.output]
    print(render(proposal, verdict.level.value, observed), end="")
    return 0


def describe_change(args: argparse.Namespace, old: dict, new: dict, manifest: dict | None) -> Change:
    """The names the plan uses, from the definitions and NEW's manifest (when NEW is one)."""
    if args.name is not None and (len(args.name) > 253 or not DNS_SUBDOMAIN.match(args.name)):
        raise BadInput(f"--name {args.name!r} cannot name a MigrationPlan: lowercase letters, digits, '-' and '.', "
                       f"starting and ending with a letter or digit")
    workflow = new.get("name")
    if not isinstance(workflow, str) or not workflow:
        raise BadInput(f"{args.new}: the definition has no name")
    if old.get("name") != workflow:
        raise BadInput(f"{args.old} defines workflow {old.get('name')!r} and {args.new} {workflow!r}: a "
                       f"MigrationPlan moves between versions of one workflow")
    new_version = _version(args.new, new.get("version"))
    if new_version is None:
        raise BadInput(f"{args.new}: the definition has no version; the plan's target needs one")
    old_version = _version(args.old, old.get("version"))
    if old_version is not None and old_version >= new_version:
        raise BadInput(f"{args.old} is v{old_version} and {args.new} v{new_version}: the target must be the higher "
                       f"version (unpinned starts run the highest)")
    metadata = (manifest or {}).get("metadata") or {}
    spec = (manifest or {}).get("spec") or {}
    base = dns_name(workflow)
    target_ref = metadata.get("name") if manifest else None
    cluster_ref = (spec.get("clusterRef") or {}).get("name")
    return Change(workflow=workflow, new_version=new_version, old_version=old_version,
                  target_ref=target_ref or f"{base}-v{new_version}", plan_name=args.name or f"{base}-to-v{new_version}",
                  namespace=args.namespace or metadata.get("namespace"), cluster_ref=cluster_ref,
                  target_activation=(spec.get("activation") or "Immediate") if manifest else None)


def _version(path: str, value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadInput(f"{path}: version {value!r} is not a positive whole number")
    return value


def dns_name(text: str) -> str:
    """A Kubernetes object name made from a Conductor name: lowercase letters, digits and dashes."""
    name = DNS_LABEL_UNSAFE.sub("-", text.lower()).strip("-")[:200]
    return name or "workflow"


# ---- reading the cluster ----------------------------------------------------------------------

def observe(args: argparse.Namespace, change: Change) -> Observed:
    """Read the ConductorCluster (and its auth Secret) from Kubernetes, then the workflow's running executions and
    triggers from that Conductor."""
    from kubernetes import config

    namespace = args.namespace or change.namespace or plans.default_namespace(args.kubeconfig, args.context)
    cluster_name = change.cluster_ref or DEFAULT_CLUSTER
    try:
        api_client = config.new_client_from_config(config_file=args.kubeconfig, context=args.context)
    except config.ConfigException as error:
        raise plans._unusable_kubeconfig(args.kubeconfig, error) from None
    try:
        cluster, key_id, key_secret = _read_cluster(api_client, namespace, cluster_name)
    finally:
        api_client.close()
    url = args.conductor_url or cluster.spec.url
    return asyncio.run(_read_conductor(cluster, url, key_id, key_secret, change.workflow))


def _read_cluster(api_client, namespace: str, name: str) -> tuple[ConductorCluster, str | None, str | None]:
    from kubernetes import client

    what = f"ConductorCluster {namespace}/{name}"
    body = _kube_call(api_client, what, client.CustomObjectsApi(api_client).get_namespaced_custom_object,
                      GROUP, VERSION, namespace, ConductorCluster.PLURAL, name)
    try:
        cluster = ConductorCluster.model_validate(body)
    except ValidationError as error:
        problem = error.errors()[0]
        raise BadInput(f"{what} cannot be read: {'.'.join(map(str, problem['loc']))}: {problem['msg']}") from None
    if not cluster.spec.auth:
        return cluster, None, None
    ref = cluster.spec.auth.secret_ref
    secret = _kube_call(api_client, f"Secret {namespace}/{ref.name}",
                        client.CoreV1Api(api_client).read_namespaced_secret, ref.name, namespace)
    data = secret.data or {}
    return cluster, _secret_value(data, namespace, ref.name, ref.key_id_key), \
        _secret_value(data, namespace, ref.name, ref.key_secret_key)


def _kube_call(api_client, what: str, method, *arguments):
    import urllib3
    from kubernetes.client.exceptions import ApiException

    try:
        return method(*arguments, _request_timeout=plans.API_TIMEOUT_SECONDS)
    except ApiException as error:
        if error.status == 404:
            raise BadInput(f"{what} not found: the plan needs the ConductorCluster of its namespace (NEW's "
                           f"spec.clusterRef, else \"default\"); pass -n NAMESPACE") from None
        raise BadInput(plans._api_problem(error, "read", what)) from None
    except urllib3.exceptions.HTTPError as error:
        raise BadInput(f"cannot reach the Kubernetes API server at {api_client.configuration.host}: "
                       f"{plans._connection_problem(error)}") from None


def _secret_value(data: Mapping[str, str], namespace: str, name: str, key: str) -> str:
    if key not in data:
        raise BadInput(f"Secret {namespace}/{name} has no key {key!r}")
    try:
        return base64.b64decode(data[key]).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise BadInput(f"Secret {namespace}/{name} key {key!r} is not readable text") from None


def _verify(cluster: ConductorCluster) -> ssl.SSLContext | bool:
    from conductor_operator.conductor.client import tls_verification

    tls = cluster.spec.tls
    try:
        return tls_verification(bool(tls and tls.insecure_skip_verify), tls.ca_bundle if tls else None)
    except ValueError as error:
        raise BadInput(f"ConductorCluster {cluster.metadata.name}: {error}") from None


async def _read_conductor(cluster: ConductorCluster, url: str, key_id: str | None, key_secret: str | None,
                          workflow: str) -> Observed:
    from conductor_operator.conductor.client import ConductorClient, Flavor, display_url
    from conductor_operator.conductor.errors import ConductorError
    from conductor_operator.reconcile.moves import EVENT_HANDLER, active_triggers, pinned_version

    spec = cluster.spec
    flavor = {"OSS": Flavor.OSS, "Orkes": Flavor.ORKES}.get(spec.flavor)
    try:
        conductor = ConductorClient(url, flavor=flavor, key_id=key_id, key_secret=key_secret, verify=_verify(cluster),
                                    timeout=parse_duration(spec.timeouts.request).total_seconds(),
                                    connect_timeout=parse_duration(spec.timeouts.connect).total_seconds(),
                                    identify=True)
    except ValueError as error:
        raise BadInput(str(error)) from None
    now = datetime.now(UTC)
    try:
        async with conductor:
            executions = await conductor.running_executions(workflow)
            found = await active_triggers(conductor, workflow)
    except ConductorError as error:
        raise BadInput(f"cannot read {workflow} from Conductor at {display_url(url)}: {error}") from None
    triggers = [Trigger("EventHandler" if key.startswith(EVENT_HANDLER) else "Schedule", key.split("/", 1)[1],
                        pinned_version(trigger, workflow)) for key, trigger in sorted(found.items())]
    return Observed(running_by_version(executions, now), triggers, display_url(url))


def running_by_version(executions: list[dict], now: datetime) -> list[Running]:
    """Count and age the executions per version; one without a start time counts, with no age."""
    counts: dict[int, int] = defaultdict(int)
    ages: dict[int, list[timedelta]] = defaultdict(list)
    for execution in executions:
        version = int(execution.get("workflowVersion") or 0)
        counts[version] += 1
        if (start := started_at(execution)) is not None:
            ages[version].append(max(now - start, timedelta(0)))
    return [Running(version, counts[version], tuple(sorted(ages[version]))) for version in sorted(counts)]


# ---- rendering --------------------------------------------------------------------------------

def _manifest_yaml(proposal: Proposal) -> str:
    return yaml.safe_dump(proposal.manifest, default_flow_style=False, sort_keys=False)


def render_yaml(proposal: Proposal, level: str, observed: Observed | None) -> str:
    """The manifest, with the strategy's reasons as comments above it (kubectl and GitOps ignore them)."""
    lines = [f"# Proposed by `kubectl conductor plan` (verdict {level}): strategy {proposal.strategy}."]
    if observed:
        lines.append(f"# Running executions and triggers read from {observed.conductor}.")
    for rationale in proposal.rationale:
        lines += _comment(f"{rationale.rule}: {rationale.why}.")
    for unknown in proposal.unknowns:
        lines += _comment(f"Unknown: {unknown}.")
    lines.append("# `-o markdown` prints the runbook: what happens, what to watch, how to roll back.")
    return "\n".join(lines) + "\n" + _manifest_yaml(proposal)


def _comment(text: str) -> list[str]:
    return [f"# {line}" for line in textwrap.wrap(text, 110, initial_indent="- ", subsequent_indent="  ")]


def render_markdown(proposal: Proposal, level: str, observed: Observed | None) -> str:
    read = f"\nRunning executions and triggers read from {observed.conductor}.\n" if observed else ""
    return (f"{proposal.runbook}{read}\n## The MigrationPlan to commit\n\n```yaml\n{_manifest_yaml(proposal)}```\n")


def render_json(proposal: Proposal, level: str, observed: Observed | None) -> str:
    document = {"verdict": level, **proposal.to_json()}
    if observed:
        document["observed"] = {
            "conductor": observed.conductor,
            "running": [{"version": r.version, "count": r.count,
                         "oldestAgeSeconds": int(max(r.ages).total_seconds()) if r.ages else None}
                        for r in observed.running],
            "triggers": [{"kind": t.kind, "name": t.name, "pinnedVersion": t.pinned_version}
                         for t in observed.triggers]}
    return json.dumps(document, indent=2) + "\n"


COMMANDS: dict[str, Command] = {
    "plan": Command("propose a MigrationPlan for a change: the strategy and why, the manifest, a runbook",
                    plan_arguments, run_plan),
}
