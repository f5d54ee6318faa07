"""kubectl-conductor commands for MigrationPlans: `status`, and the spec changes a person makes by hand
(`pause`, `resume`, and the one-shot requests `promote`, `abort`, `rollback`).

The commands reach Kubernetes through PlanClient alone (read a plan, merge-patch its spec), which
`connect` builds from the kubeconfig; tests replace `connect` with a fake.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import secrets
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Protocol

import yaml

from conductor_operator.api.common import GROUP, VERSION, parse_duration
from conductor_operator.cli.common import PROGRAM, BadInput, Command
from conductor_operator.domain.conditions import parse_time

if TYPE_CHECKING:  # imported where used: only the commands that talk to a cluster need the client (the cli extra)
    import urllib3
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException

KIND = "MigrationPlan"
PLURAL = "migrationplans"
REQUEST_KINDS = ("promote", "abort", "rollback")
BAR_WIDTH = 20
API_TIMEOUT_SECONDS = 30
POLL_INTERVAL_SECONDS = 1.0
PRINT_ONLY_HELP = "change nothing on the cluster; print the YAML to commit to Git"
GITOPS_NOTE = ("Under GitOps (Argo CD or Flux with self-heal) Git is the source of truth: a change made here may be "
               "undone at the next sync or leave Git out of date. Commit it to the MigrationPlan's manifest instead:")


# ---- Kubernetes access ------------------------------------------------------------------------

class PlanClient(Protocol):
    namespace: str

    def get(self, name: str) -> dict: ...

    def patch_spec(self, name: str, spec: dict) -> dict: ...


class KubernetesPlans:
    """MigrationPlans of one namespace through the official client; failures become BadInput with a readable
    message."""

    def __init__(self, api: client.CustomObjectsApi, namespace: str):
        self.api = api
        self.namespace = namespace

    def get(self, name: str) -> dict:
        return self._call("read", name, self.api.get_namespaced_custom_object)

    def patch_spec(self, name: str, spec: dict) -> dict:
        return self._call("change", name, self.api.patch_namespaced_custom_object, {"spec": spec})

    def _call(self, verb: str, name: str, method: Callable, *body) -> dict:
        import urllib3
        from kubernetes.client.exceptions import ApiException

        plan = f"{KIND} {self.namespace}/{name}"
        try:
            return method(GROUP, VERSION, self.namespace, PLURAL, name, *body, _request_timeout=API_TIMEOUT_SECONDS)
        except ApiException as error:
            raise BadInput(_api_problem(error, verb, plan)) from None
        except urllib3.exceptions.HTTPError as error:
            server = self.api.api_client.configuration.host
            raise BadInput(f"cannot reach the Kubernetes API server at {server}: {_connection_problem(error)}") \
                from None


def _api_problem(error: ApiException, verb: str, plan: str) -> str:
    try:
        message = json.loads(error.body or "").get("message") or error.reason
    except (ValueError, AttributeError):
        message = error.reason
    if error.status == 404:
        if "could not find the requested resource" in (message or ""):
            return f"the {KIND} kind is not installed on this cluster (no CRD {PLURAL}.{GROUP})"
        return f"{plan} not found"
    if error.status == 401:
        return "the Kubernetes API server did not accept the kubeconfig's credentials (401 Unauthorized)"
    if error.status == 403:
        return f"not allowed to {verb} {plan}: {message}"
    return f"the Kubernetes API server refused to {verb} {plan}: {error.status} {message}"


def _connection_problem(error: urllib3.exceptions.HTTPError) -> str:
    reason = str(getattr(error, "reason", None) or error)
    return re.sub(r"^\w+\(.*?\): ", "", reason)  # urllib3 starts with the connection object's repr


def default_namespace(kubeconfig: str | None, context: str | None) -> str:
    """The namespace of the kubeconfig context in use, else "default"."""
    contexts, active = _kube_config_contexts(kubeconfig)
    if context is not None:
        active = next((entry for entry in contexts if entry.get("name") == context), None)
        if active is None:
            raise BadInput(f"no context named {context!r} in the kubeconfig")
    return (active.get("context") or {}).get("namespace") or "default"


def _kube_config_contexts(kubeconfig: str | None) -> tuple[list[dict], dict]:
    from kubernetes import config

    try:
        return config.list_kube_config_contexts(config_file=kubeconfig)
    except config.ConfigException as error:
        raise _unusable_kubeconfig(kubeconfig, error) from None


def _unusable_kubeconfig(kubeconfig: str | None, error: config.ConfigException) -> BadInput:
    return BadInput(f"cannot load the kubeconfig {kubeconfig or '($KUBECONFIG or ~/.kube/config)'}: {error}")


def connect(kubeconfig: str | None, context: str | None, namespace: str | None) -> PlanClient:
    from kubernetes import client, config

    namespace = namespace or default_namespace(kubeconfig, context)
    try:
        api_client = config.new_client_from_config(config_file=kubeconfig, context=context)
    except config.ConfigException as error:
        raise _unusable_kubeconfig(kubeconfig, error) from None
    return KubernetesPlans(client.CustomObjectsApi(api_client), namespace)


def _connect(args: argparse.Namespace) -> PlanClient:
    return connect(args.kubeconfig, args.context, args.namespace)


def read_config_map(args: argparse.Namespace, name: str) -> dict:
    """A ConfigMap of the namespace that -n, --context and --kubeconfig name, as a plain manifest."""
    import urllib3
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException

    namespace = args.namespace or default_namespace(args.kubeconfig, args.context)
    try:
        api_client = config.new_client_from_config(config_file=args.kubeconfig, context=args.context)
    except config.ConfigException as error:
        raise _unusable_kubeconfig(args.kubeconfig, error) from None
    core = client.CoreV1Api(api_client)
    try:
        found = core.read_namespaced_config_map(name, namespace, _request_timeout=API_TIMEOUT_SECONDS)
    except ApiException as error:
        if error.status == 404:
            raise BadInput(f"ConfigMap {namespace}/{name} not found on the cluster") from None
        raise BadInput(_api_problem(error, "read", f"ConfigMap {namespace}/{name}")) from None
    except urllib3.exceptions.HTTPError as error:
        raise BadInput(f"cannot reach the Kubernetes API server at {api_client.configuration.host}: "
                       f"{_connection_problem(error)}") from None
    finally:
        api_client.close()
    return {"kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, "data": found.data or {}}


# ---- arguments --------------------------------------------------------------------------------

def cluster_arguments(parser: argparse.ArgumentParser, namespace_help: str = "its namespace") -> None:
    """-n, --context and --kubeconfig, as kubectl has them."""
    parser.add_argument("-n", "--namespace", help=f"{namespace_help} (default: the kubeconfig context's, else "
                                                  f"default)")
    parser.add_argument("--context", help="the kubeconfig context to use (default: the current one)")
    parser.add_argument("--kubeconfig", metavar="PATH", help="the kubeconfig file (default: $KUBECONFIG or "
                                                             "~/.kube/config)")


def _plan_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan", metavar="PLAN", help="the MigrationPlan's name")
    cluster_arguments(parser)


def _status_arguments(parser: argparse.ArgumentParser) -> None:
    _plan_arguments(parser)
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text",
                        help="text for a person (default) or json (the plan's status as it is)")


def _change_arguments(parser: argparse.ArgumentParser) -> None:
    _plan_arguments(parser)
    parser.add_argument("--print-only", action="store_true", help=PRINT_ONLY_HELP)


def _request_arguments(parser: argparse.ArgumentParser, confirm: bool) -> None:
    _plan_arguments(parser)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--print-only", action="store_true", help=PRINT_ONLY_HELP)
    mode.add_argument("--wait", action="store_true",
                      help="wait until the operator records the request in status.handledRequests and print "
                           "what it did")
    parser.add_argument("--timeout", type=_timeout, default=60.0,
                        help="how long --wait waits: seconds, or a duration such as 90s or 5m (default 60s)")
    if confirm:
        parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")


def _timeout(text: str) -> float:
    if text.isdigit():
        return float(text)
    try:
        return parse_duration(text).total_seconds()
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


# ---- status -----------------------------------------------------------------------------------

def run_status(args: argparse.Namespace) -> int:
    plan = _connect(args).get(args.plan)
    if args.output == "json":
        print(json.dumps(plan.get("status") or {}, indent=2))
    else:
        print(render_status(plan, datetime.now(UTC)))
    return 0


def render_status(plan: dict, now: datetime) -> str:
    metadata, spec, status = plan.get("metadata") or {}, plan.get("spec") or {}, plan.get("status") or {}
    strategy = ", ".join(spec.get("strategy") or {}) or "none"
    lines = [f"{KIND} {metadata.get('namespace')}/{metadata.get('name')} (workflow {spec.get('workflowName')}, "
             f"strategy {strategy})"]
    if not status or status.get("observedGeneration") == -1:  # the API server's default until the operator writes
        lines.append("Not reconciled yet: the plan has no status (is the operator running?)")
        return "\n".join(lines)
    for section in (_overview, _verdict, _running, _gates, _drain, _waves, _triggers, _rollback, _handled_requests,
                    _planned_actions, _conditions):
        part = section(plan, status, now)
        if part:
            lines += ["", *part]
    return "\n".join(lines)


def _overview(plan: dict, status: dict, now: datetime) -> list[str]:
    lines = [f"Phase:    {status.get('phase') or '-'}"]
    if status.get("message"):
        lines.append(f"Message:  {status['message']}")
    if status.get("endedAt"):
        lines.append(f"Ended:    {_when(status['endedAt'], now)}; the counts below are as of then")
    if (plan.get("spec") or {}).get("paused"):
        lines.append("Paused:   yes (spec.paused: true; `kubectl conductor resume` goes on)")
    generation, observed = (plan.get("metadata") or {}).get("generation"), status.get("observedGeneration")
    if generation is not None and observed is not None and observed < generation:
        lines.append(f"Behind:   the status describes generation {observed}, the spec is at {generation}")
    return lines


def _verdict(plan: dict, status: dict, now: datetime) -> list[str]:
    verdict = status.get("verdict") or {}
    if not verdict.get("level"):
        return []
    findings = verdict.get("findings") or []
    versions = ", ".join(f"v{v}" for v in verdict.get("fromVersions") or [])
    target = f" -> v{verdict['toVersion']}" if verdict.get("toVersion") is not None else ""
    standing = verdict.get("standingWarnings") or []
    counts = _plural(len(findings), "finding") + (f"; {_plural(len(standing), 'standing warning')}" if standing else "")
    lines = [f"Verdict: {verdict['level']} ({counts})" + (f", {versions}{target}" if versions else "")]
    rows = [(f.get("level", ""), f.get("reason", ""), f.get("taskRef") or "-", f.get("message", "")) for f in findings]
    lines += _table(rows)
    if standing:
        lines.append("Standing warnings (old and new alike; they do not raise the verdict):")
        lines += _table([(w.get("reason", ""), w.get("taskRef") or "-", w.get("message", "")) for w in standing])
    return lines


def _running(plan: dict, status: dict, now: datetime) -> list[str]:
    running, versions = status.get("running"), status.get("versions") or []
    if not running and not versions:
        return []
    lines = []
    if running:
        read = f"; read {_when(running['readAt'], now)}" if running.get("readAt") else ""
        lines.append(f"Running executions: old versions {running.get('old', 0)}, target {running.get('target', 0)}"
                     f"{read}")
    else:
        lines.append("Running executions:")
    rows = [(f"v{v.get('version')}", str(v.get("running", 0)), _when(v["readAt"], now) if v.get("readAt") else "")
            for v in versions]
    lines += _table(rows, header=("VERSION", "RUNNING", "READ"))
    if status.get("retiredVersions"):
        lines.append(f"  retired from Conductor: {', '.join(f'v{v}' for v in status['retiredVersions'])}")
    return lines


def _gates(plan: dict, status: dict, now: datetime) -> list[str]:
    gates = status.get("gates") or []
    if not gates:
        return []
    rows = [("passed" if g.get("passed") else "FAILED", g.get("name", ""), g.get("reason") or "-",
             g.get("message", "")) for g in gates]
    return ["Gates:", *_table(rows)]


def _drain(plan: dict, status: dict, now: datetime) -> list[str]:
    drain = status.get("drain") or {}
    if not drain:
        return []
    since, deadline = drain.get("since"), drain.get("deadline")
    lines = ["Drain: " + ", ".join(filter(None, [since and f"since {_when(since, now)}",
                                                   deadline and f"deadline {_when(deadline, now)}"]))]
    if drain.get("drainedAt"):
        return lines + [f"  drained at {_when(drain['drainedAt'], now)}"]
    start, end = parse_time(since), parse_time(deadline)
    if start and end:
        lines.append(f"  time to the deadline  {time_bar(start, end, now)}")
    remaining = f"  old executions remaining: {(status.get('running') or {}).get('old', '?')}"
    if drain.get("estimatedEnd"):
        remaining += f"; estimated end {_when(drain['estimatedEnd'], now)}"
    lines.append(f"{remaining}; zero readings in a row: {drain.get('zeroReadings', 0)}")
    return lines


def _waves(plan: dict, status: dict, now: datetime) -> list[str]:
    waves = status.get("waves") or {}
    if not waves:
        return []
    state = waves.get("state") or "-"
    timing = "".join(filter(None, [waves.get("since") and f" since {_when(waves['since'], now)}",
                                   waves.get("until") and f" until {_when(waves['until'], now)}"]))
    lines = [f"Waves: {_wave_label(plan, waves)}, {state}{timing}",
             f"  moved  {progress_bar(waves.get('moved', 0), waves.get('total', 0))}",
             f"  ineligible {waves.get('ineligible', 0)}, failed {waves.get('failed', 0)}, "
             f"rolled back {waves.get('rolledBack', 0)}"]
    if waves.get("message"):
        lines.append(f"  {'held' if state == 'Held' else 'health gate'}: {waves['message']}")
    lines += _table([("passed" if g.get("passed") else "not yet" if g.get("reason") == "GateRunning" else "FAILED",
                      f"check {g.get('name', '')}", g.get("message", "")) for g in waves.get("gates") or []])
    if waves.get("ineligibleExecutions"):
        lines += ["  ineligible executions (the target lacks their current task):",
                  *(f"    {entry}" for entry in waves["ineligibleExecutions"])]
    return lines


def _wave_label(plan: dict, waves: dict) -> str:
    """Wave 0 is the canary when the spec declares one; the other waves count from 1."""
    current, count = waves.get("current", 0), waves.get("count", 0)
    upgrade_waves = ((plan.get("spec") or {}).get("strategy") or {}).get("upgradeWaves") or {}
    if current == 0:
        return f"the canary, then {_plural(count - 1, 'wave')}"
    return f"wave {current} of {count - 1 if upgrade_waves.get('canary') else count}"


def _triggers(plan: dict, status: dict, now: datetime) -> list[str]:
    triggers = status.get("triggers") or []
    if not triggers:
        return []
    rows = [(t.get("kind", ""), t.get("name", ""), t.get("state", "")) for t in triggers]
    return ["Triggers paused by this plan:", *_table(rows, header=("KIND", "NAME", "STATE"))]


def _rollback(plan: dict, status: dict, now: datetime) -> list[str]:
    rollback = status.get("rollback") or {}
    if not rollback:
        return []
    line = "Rollback: " + (f"started {_when(rollback['startedAt'], now)}" if rollback.get("startedAt") else "requested")
    if rollback.get("version") is not None:
        line += f"; v{rollback['version']} republishes the content of v{rollback.get('fromVersion', '?')}"
    return [line]


def _handled_requests(plan: dict, status: dict, now: datetime) -> list[str]:
    handled = status.get("handledRequests") or {}
    rows = [(kind, handled[kind].get("token", ""), _when(handled[kind]["handledAt"], now)
             if handled[kind].get("handledAt") else "-", handled[kind].get("result") or "-")
            for kind in REQUEST_KINDS if handled.get(kind)]
    return ["Requests handled:", *_table(rows, header=("REQUEST", "TOKEN", "HANDLED", "RESULT"))] if rows else []


def _planned_actions(plan: dict, status: dict, now: datetime) -> list[str]:
    actions = status.get("plannedActions") or []
    return ["Planned actions (spec.dryRun):", *(f"  {action}" for action in actions)] if actions else []


def _conditions(plan: dict, status: dict, now: datetime) -> list[str]:
    conditions = status.get("conditions") or []
    if not conditions:
        return []
    rows = [(c.get("type", ""), c.get("status", ""), c.get("reason") or "-", c.get("message", "")) for c in conditions]
    return ["Conditions:", *_table(rows, header=("TYPE", "STATUS", "REASON", "MESSAGE"))]


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...] | None = None) -> list[str]:
    """Rows indented by two spaces, columns padded to their widest cell; the last column is not padded."""
    if not rows:
        return []
    everything = [header, *rows] if header else rows
    widths = [max(len(row[i]) for row in everything) for i in range(len(everything[0]) - 1)]
    return [("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
             + "  " + row[-1]).rstrip() for row in everything]


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


# ---- progress and time ------------------------------------------------------------------------

def progress_bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """`[#########...........]  45% (9/20)`; a total of 0 shows an empty bar at 0%."""
    return f"{_bar(done / total if total > 0 else 0.0, width)} ({done}/{total})"


def time_bar(since: datetime, deadline: datetime, now: datetime, width: int = BAR_WIDTH) -> str:
    """How much of the time between since and deadline has passed: `[#####...............]  25% (1h of 4h)`."""
    span = (deadline - since).total_seconds()
    elapsed = (now - since).total_seconds()
    fraction = elapsed / span if span > 0 else 1.0
    return f"{_bar(fraction, width)} ({_duration(max(elapsed, 0))} of {_duration(max(span, 0))})"


def _bar(fraction: float, width: int) -> str:
    fraction = min(max(fraction, 0.0), 1.0)
    filled = math.floor(fraction * width)
    return f"[{'#' * filled}{'.' * (width - filled)}] {math.floor(fraction * 100):3d}%"


def _duration(seconds: float) -> str:
    """A short human duration: 45s, 12m, 3h5m, 2d4h."""
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def _when(text: str, now: datetime) -> str:
    """An RFC 3339 time as written, with how long ago or how soon it is."""
    moment = parse_time(text)
    if moment is None:
        return text
    seconds = (moment - now).total_seconds()
    return f"{text} (in {_duration(seconds)})" if seconds > 0 else f"{text} ({_duration(-seconds)} ago)"


# ---- changes: pause, resume, requests ---------------------------------------------------------

def _pause_command(paused: bool) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        change = {"paused": paused}
        if args.print_only:
            _print_snippet(change)
            return 0
        plans = _connect(args)
        plans.patch_spec(args.plan, change)
        print(f"{KIND} {plans.namespace}/{args.plan}: spec.paused set to {str(paused).lower()}.")
        _print_gitops_note(change)
        return 0
    return run


def _request_command(kind: str, confirm: str | None) -> Callable[[argparse.Namespace], int]:
    """`confirm` is what the request does, asked about before sending it; None sends it without asking."""
    def run(args: argparse.Namespace) -> int:
        token = new_token(datetime.now(UTC))
        change = {"requests": {kind: token}}
        if args.print_only:
            _print_snippet(change)
            print(f"The operator records the token in status.handledRequests.{kind} once it acted on it.")
            return 0
        asks = confirm is not None and not args.yes
        if asks and not sys.stdin.isatty():
            raise BadInput(f"{kind} needs a confirmation and stdin is not a terminal; pass --yes")
        plans = _connect(args)
        if asks and not _confirmed(f"{kind.capitalize()} {KIND} {plans.namespace}/{args.plan}: {confirm}?"):
            print(f"{PROGRAM}: {kind} cancelled; nothing changed", file=sys.stderr)
            return 1
        plans.patch_spec(args.plan, change)
        print(f"{KIND} {plans.namespace}/{args.plan}: {kind} requested with token {token}.")
        print(f"The operator records it in status.handledRequests.{kind} once it acted on it"
              + ("." if args.wait else " (--wait waits for that)."))
        _print_gitops_note(change)
        if args.wait:
            return _wait_until_handled(plans, args.plan, kind, token, args.timeout)
        return 0
    return run


def new_token(now: datetime) -> str:
    """A request token no earlier request used: the UTC time, readable, and random hex against collisions."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def _confirmed(question: str) -> bool:
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _wait_until_handled(plans: PlanClient, name: str, kind: str, token: str, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        status = plans.get(name).get("status") or {}
        handled = (status.get("handledRequests") or {}).get(kind) or {}
        if handled.get("token") == token:
            print(f"Handled at {handled.get('handledAt') or '?'}: {handled.get('result') or '(no result given)'}")
            return 0
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            print(f"{PROGRAM}: error: the operator did not handle {kind} {token} within {_duration(timeout)} (is it "
                  f"running?); the request stays in spec.requests.{kind}", file=sys.stderr)
            return 1
        time.sleep(min(POLL_INTERVAL_SECONDS, remaining))


def _snippet(change: dict) -> str:
    return yaml.safe_dump({"spec": change}, default_flow_style=False, sort_keys=False).rstrip("\n")


def _print_snippet(change: dict) -> None:
    print("Nothing changed on the cluster (--print-only). Commit this to the MigrationPlan's manifest in Git:")
    print(_snippet(change))


def _print_gitops_note(change: dict) -> None:
    print(GITOPS_NOTE)
    print(_snippet(change))


COMMANDS: dict[str, Command] = {
    "status": Command("show a MigrationPlan's progress: phase, verdict, counts, gates, drain, waves, conditions",
                      _status_arguments, run_status),
    "pause": Command("hold a MigrationPlan where it is (spec.paused: true)",
                     _change_arguments, _pause_command(True)),
    "resume": Command("let a paused MigrationPlan go on (spec.paused: false)",
                      _change_arguments, _pause_command(False)),
    "promote": Command("ask a MigrationPlan to go on past a pause: a paused wave, a failed gate",
                       partial(_request_arguments, confirm=False),
                       _request_command("promote", None)),
    "abort": Command("ask a MigrationPlan to stop where it is",
                     partial(_request_arguments, confirm=True),
                     _request_command("abort", "stop the migration where it is")),
    "rollback": Command("ask a MigrationPlan to move moved executions back to their old versions",
                        partial(_request_arguments, confirm=True),
                        _request_command("rollback", "move the moved executions back to their old versions")),
}
