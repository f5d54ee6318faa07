"""The dashboard's server: the page and its static files, and a small JSON API the page polls.

It reads only the Kubernetes API (the MigrationPlans, and each plan's ``<plan>-history`` ConfigMap that the
operator keeps), and changes a plan's spec exactly as `kubectl conductor pause|resume|promote|abort|rollback`
do. API:

    GET  /api/plans                      {"namespace", "plan", "now", "plans": [view, ...]}
    POST /api/plans/<name>/<action>      {"message", "change"}; action: promote, pause, resume, abort, rollback

A POST must carry the header ``X-Conductor-Dashboard: 1`` (a page of another origin cannot send it without a
CORS preflight, which this server never grants), and every request must name this server in its Host header
(against DNS rebinding).
"""

from __future__ import annotations

import json
import re
import socket
import sys
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import TYPE_CHECKING, Protocol

from conductor_operator.api.common import GROUP, VERSION
from conductor_operator.cli import plans
from conductor_operator.cli.common import PROGRAM, BadInput
from conductor_operator.domain.conditions import format_time
from conductor_operator.reconcile.moves import HISTORY_KEY, history_name

if TYPE_CHECKING:  # imported where used, as in plans.py
    from kubernetes import client

ACTIONS = ("promote", "pause", "resume", "abort", "rollback")
CONFIRMATIONS = {
    "promote": "go on past a pause: a paused wave, a failed gate",
    "pause": "hold the plan where it is (spec.paused: true)",
    "resume": "let the paused plan go on (spec.paused: false)",
    "abort": "stop the migration where it is",
    "rollback": "move the moved executions back to their old versions",
}
"""What each control does, shown in its confirmation."""
HEADER = "X-Conductor-Dashboard"
STATIC_FILES = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
                "style.css": "text/css; charset=utf-8"}
MAX_BODY = 4096


class Source(Protocol):
    """What the dashboard reads and changes; tests replace it with a fake."""
    namespace: str

    def list(self) -> list[dict]: ...

    def get(self, name: str) -> dict: ...

    def patch_spec(self, name: str, spec: dict) -> dict: ...

    def history(self, name: str) -> list[dict]: ...


class KubernetesSource(plans.KubernetesPlans):
    """The plans of one namespace and their histories, through the official client; failures are BadInput."""

    def __init__(self, api_client: client.ApiClient, namespace: str):
        from kubernetes import client

        super().__init__(client.CustomObjectsApi(api_client), namespace)
        self.core = client.CoreV1Api(api_client)

    def list(self) -> list[dict]:
        import urllib3
        from kubernetes.client.exceptions import ApiException

        try:
            found = self.api.list_namespaced_custom_object(GROUP, VERSION, self.namespace, plans.PLURAL,
                                                           _request_timeout=plans.API_TIMEOUT_SECONDS)
        except ApiException as error:
            raise BadInput(plans._api_problem(error, "list", f"the {plans.KIND}s of {self.namespace}")) from None
        except urllib3.exceptions.HTTPError as error:
            raise BadInput(f"cannot reach the Kubernetes API server at {self.api.api_client.configuration.host}: "
                           f"{plans._connection_problem(error)}") from None
        return sorted(found.get("items") or [], key=lambda p: (p.get("metadata") or {}).get("name") or "")

    def history(self, name: str) -> list[dict]:
        """The points the operator keeps; none when it keeps none yet (or they cannot be read: the page still
        shows the status)."""
        import urllib3
        from kubernetes.client.exceptions import ApiException

        try:
            found = self.core.read_namespaced_config_map(history_name(name), self.namespace,
                                                         _request_timeout=plans.API_TIMEOUT_SECONDS)
            points = json.loads((found.data or {}).get(HISTORY_KEY) or "[]")
        except (ApiException, urllib3.exceptions.HTTPError, ValueError):
            return []
        return [p for p in points if isinstance(p, dict)] if isinstance(points, list) else []


def connect(kubeconfig: str | None, context: str | None, namespace: str | None) -> Source:
    from kubernetes import config

    namespace = namespace or plans.default_namespace(kubeconfig, context)
    try:
        api_client = config.new_client_from_config(config_file=kubeconfig, context=context)
    except config.ConfigException as error:
        raise plans._unusable_kubeconfig(kubeconfig, error) from None
    return KubernetesSource(api_client, namespace)


def spec_change(action: str, now: datetime) -> dict:
    """The spec change of a control, the same as the command of that name makes."""
    if action in ("pause", "resume"):
        return {"paused": action == "pause"}
    return {"requests": {action: plans.new_token(now)}}


def plan_view(plan: dict, history: list[dict]) -> dict:
    """What the page shows of a plan: a few spec fields, its status as the operator wrote it, its history."""
    metadata, spec = plan.get("metadata") or {}, plan.get("spec") or {}
    return {"name": metadata.get("name"), "namespace": metadata.get("namespace"),
            "generation": metadata.get("generation"), "workflow": spec.get("workflowName"),
            "strategy": next(iter(spec.get("strategy") or {}), None), "paused": bool(spec.get("paused")),
            "requests": spec.get("requests") or {}, "status": plan.get("status") or {}, "history": history,
            "confirmations": CONFIRMATIONS}


class Dashboard:
    """The JSON API over a Source, for one plan or every plan of the namespace."""

    def __init__(self, source: Source, plan: str | None = None, clock=lambda: datetime.now(UTC)):
        self.source, self.plan, self.clock = source, plan, clock

    def snapshot(self) -> dict:
        found = [self.source.get(self.plan)] if self.plan else self.source.list()
        views = [plan_view(p, self.source.history((p.get("metadata") or {}).get("name") or "")) for p in found]
        return {"namespace": self.source.namespace, "plan": self.plan, "now": format_time(self.clock()),
                "plans": views}

    def act(self, name: str, action: str) -> dict:
        if action not in ACTIONS:
            raise LookupError(f"no control {action!r}; the controls are {', '.join(ACTIONS)}")
        if self.plan and name != self.plan:
            raise LookupError(f"this dashboard shows {plans.KIND} {self.plan} only")
        change = spec_change(action, self.clock())
        self.source.patch_spec(name, change)
        where = f"{plans.KIND} {self.source.namespace}/{name}"
        if "paused" in change:
            message = f"{where}: spec.paused set to {str(change['paused']).lower()}."
        else:
            message = (f"{where}: {action} requested with token {change['requests'][action]}; the operator records "
                       f"it in status.handledRequests.{action} once it acted on it.")
        return {"message": message, "change": change}


def static_file(name: str) -> bytes:
    return (resources.files(__package__) / "static" / name).read_bytes()


class Handler(BaseHTTPRequestHandler):
    dashboard: Dashboard
    hosts: frozenset[str]
    server_version = "kubectl-conductor-dashboard"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        pass  # quiet: the terminal shows the URL and errors only

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if not self._host_allowed():
            return
        path = self.path.split("?", 1)[0]
        if path == "/api/plans":
            self._api(self.dashboard.snapshot)
            return
        name = "index.html" if path == "/" else path.removeprefix("/static/")
        if name not in STATIC_FILES or (path != "/" and not path.startswith("/static/")):
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no such page: {path}"})
            return
        self._send(HTTPStatus.OK, static_file(name), STATIC_FILES[name])

    def do_POST(self) -> None:  # noqa: N802
        if not self._host_allowed():
            return
        match = re.fullmatch(r"/api/plans/([a-z0-9][a-z0-9.-]{0,252})/([a-z]+)", self.path)
        if match is None:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: POST {self.path}"})
            return
        if self.headers.get(HEADER) != "1":
            self._json(HTTPStatus.FORBIDDEN, {"error": f"a control needs the header {HEADER}: 1"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "request too large"})
            return
        self.rfile.read(length)
        self._api(lambda: self.dashboard.act(match[1], match[2]))

    def _host_allowed(self) -> bool:
        if (self.headers.get("Host") or "").lower() in self.hosts:
            return True
        self._json(HTTPStatus.FORBIDDEN, {"error": "this dashboard answers only at the address it serves on"})
        return False

    def _api(self, call) -> None:
        try:
            self._json(HTTPStatus.OK, call())
        except LookupError as error:
            self._json(HTTPStatus.NOT_FOUND, {"error": str(error).strip("'\"")})
        except BadInput as error:
            self._json(HTTPStatus.BAD_GATEWAY, {"error": str(error)})
        except Exception as error:  # noqa: BLE001 (one line for the page and the terminal, never a traceback)
            message = f"{type(error).__name__}: {error}"
            print(f"{PROGRAM}: dashboard: {message}", file=sys.stderr)
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": message})

    def _json(self, status: HTTPStatus, body: dict) -> None:
        self._send(status, json.dumps(body).encode(), "application/json")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'")
        self.end_headers()
        self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError):  # a closed browser tab is not worth a line
            print(f"{PROGRAM}: dashboard: {type(error).__name__}: {error}", file=sys.stderr)


def allowed_hosts(address: str, port: int) -> frozenset[str]:
    names = {address, f"[{address}]"} if ":" in address else {address}
    if address in ("127.0.0.1", "::1", "localhost"):
        names |= {"127.0.0.1", "localhost", "[::1]"}
    return frozenset(f"{name}:{port}" for name in names)


def serve(dashboard: Dashboard, address: str, port: int) -> Server:
    """A server bound to address:port (0: a free port), not serving yet."""
    kind = type("Server6", (Server,), {"address_family": socket.AF_INET6}) if ":" in address else Server
    try:
        server = kind((address, port), Handler)
    except OSError as error:
        raise BadInput(f"cannot serve on {address}:{port}: {error.strerror or error}") from None
    bound = server.server_address[1]
    server.RequestHandlerClass = type("BoundHandler", (Handler,), {
        "dashboard": dashboard, "hosts": allowed_hosts(address, bound)})
    return server
