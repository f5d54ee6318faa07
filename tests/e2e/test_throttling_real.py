"""A throttled Conductor is not the user's fault: the real operator, the real API server and the real
Conductor behind a small gateway on loopback that answers 429 with Retry-After for a while."""

from __future__ import annotations

import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.e2e.conftest import events_for, wait_for

pytestmark = pytest.mark.realenv

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "date",
              "server"}


class ThrottlingGateway:
    """Forwards to Conductor, except that the next ``count`` requests whose path starts with ``prefix``
    get 429 Too Many Requests with Retry-After, as a rate-limiting gateway answers."""

    def __init__(self, upstream: str):
        self.upstream = httpx.Client(base_url=upstream, timeout=60)
        self.lock = threading.Lock()
        self.prefix, self.count, self.retry_after = "", 0, "0"
        self.throttled_at: list[float] = []
        self.passed: list[str] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_any(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with gateway.lock:
                    throttle = gateway.count > 0 and self.path.startswith(gateway.prefix)
                    if throttle:
                        gateway.count -= 1
                        gateway.throttled_at.append(time.monotonic())
                    else:
                        gateway.passed.append(f"{self.command} {self.path}")
                if throttle:
                    page = b"<html><body><h1>429 Too Many Requests</h1></body></html>"
                    self.send_response(429)
                    self.send_header("Retry-After", gateway.retry_after)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(page)))
                    self.end_headers()
                    self.wfile.write(page)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP | {"host"}}
                answer = gateway.upstream.request(self.command, self.path, headers=headers, content=body)
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = do_DELETE = do_any

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="throttling-gateway", daemon=True)

    def throttle(self, prefix: str, count: int, retry_after: int) -> None:
        with self.lock:
            self.prefix, self.count, self.retry_after = prefix, count, str(retry_after)

    def __enter__(self) -> ThrottlingGateway:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.upstream.close()


def test_throttled_conductor_is_reconciling_then_ready_never_stalled(resources, operator, conductor_url, k8s,
                                                                       namespace):
    with ThrottlingGateway(conductor_url) as gateway:
        resources.create("ConductorCluster", "gateway", {"url": gateway.url})
        resources.wait_condition("ConductorCluster", "gateway", "Ready")

        # Longer than the client waits inside one call (2 s), so the operator must back off and come back.
        gateway.throttle("/api/metadata/workflow", count=3, retry_after=3)
        name = f"throttled_{uuid.uuid4().hex[:8]}"
        resources.create("WorkflowDefinition", "wf", {
            "name": name, "version": 1, "clusterRef": {"name": "gateway"},
            "definition": {"tasks": [{"name": "a", "taskReferenceName": "a", "type": "SIMPLE"}]}})

        seen: list[dict[str, tuple[str, str, str]]] = []

        def ready():
            conditions = {c["type"]: (c["status"], c["reason"], c["message"])
                          for c in ((resources.get("WorkflowDefinition", "wf") or {}).get("status") or {})
                          .get("conditions") or []}
            if conditions and conditions not in seen[-1:]:
                seen.append(conditions)
            return conditions.get("Ready", ("",))[0] == "True" and conditions.get("Reconciling", ("",))[0] == "False"

        wait_for(ready, timeout=90, interval=0.1, what=f"wf Ready after throttling (seen: {seen})")

    reconciling = [c["Reconciling"] for c in seen if c.get("Reconciling", ("",))[0] == "True"]
    assert reconciling, f"the throttling showed as Reconciling: {seen}"
    assert all(reason == "ConductorUnavailable" for _, reason, _ in reconciling)
    assert "HTTP 429: Retry-After 3s" in reconciling[0][2]
    assert not [c for c in seen if c.get("Stalled", ("",))[0] == "True"], f"never Stalled: {seen}"
    assert len(gateway.throttled_at) == 3
    # The next request after the first 429 waited out its Retry-After (a kopf retry and a timer tick can
    # overlap later on: each waits for the answer it got, not for the other's).
    assert gateway.throttled_at[1] - gateway.throttled_at[0] >= 2.9, gateway.throttled_at
    assert not [e for e in events_for(k8s, namespace, "wf") if e[0] == "Warning"], "not the user's fault"
    assert httpx.get(f"{conductor_url}/api/metadata/workflow/{name}", params={"version": 1}).status_code == 200
