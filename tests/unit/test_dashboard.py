"""`kubectl conductor dashboard`: its JSON API, its controls (the same spec changes as the commands), its
static files, and its refusals (another origin, a non-loopback address, no cluster)."""

from __future__ import annotations

import http.client
import json
import re
import threading
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from conductor_operator.cli import dashboard, plans
from conductor_operator.cli.common import BadInput
from conductor_operator.cli.dashboard import server
from conductor_operator.cli.main import main

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
TOKEN = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")
REPO = Path(__file__).resolve().parents[2]


def plan(name: str, phase: str = "Draining", **spec) -> dict:
    return {"metadata": {"name": name, "namespace": "team", "generation": 2},
            "spec": {"workflowName": "orders", "strategy": {"parallel": {}}, **spec},
            "status": {"phase": phase, "running": {"old": 3, "target": 1, "readAt": "2026-11-30T11:59:00Z"},
                       "versions": [{"version": 1, "running": 3}, {"version": 2, "running": 1}],
                       "drain": {"estimatedEnd": "2026-11-30T12:10:00Z"}}}


class FakeSource:
    namespace = "team"

    def __init__(self, *bodies: dict, fail: str | None = None):
        self.plans = {b["metadata"]["name"]: b for b in bodies}
        self.patches: list[tuple[str, dict]] = []
        self.fail = fail

    def list(self) -> list[dict]:
        if self.fail:
            raise BadInput(self.fail)
        return list(self.plans.values())

    def get(self, name: str) -> dict:
        if self.fail or name not in self.plans:
            raise BadInput(self.fail or f"MigrationPlan team/{name} not found")
        return self.plans[name]

    def patch_spec(self, name: str, spec: dict) -> dict:
        self.get(name)
        self.patches.append((name, spec))
        return self.plans[name]

    def history(self, name: str) -> list[dict]:
        return [{"at": "2026-11-30T11:58:00Z", "running": {"1": 4, "2": 0}}]


# ---- the JSON API, without HTTP ---------------------------------------------------------------

def test_a_snapshot_shows_every_plan_of_the_namespace_with_its_status_and_history():
    snapshot = server.Dashboard(FakeSource(plan("b"), plan("a", paused=True)), clock=lambda: NOW).snapshot()
    assert (snapshot["namespace"], snapshot["plan"], snapshot["now"]) == ("team", None, "2026-11-30T12:00:00Z")
    views = {v["name"]: v for v in snapshot["plans"]}
    assert views["a"]["paused"] is True and views["b"]["paused"] is False
    assert views["a"]["status"]["phase"] == "Draining" and views["a"]["strategy"] == "parallel"
    assert views["a"]["history"] == [{"at": "2026-11-30T11:58:00Z", "running": {"1": 4, "2": 0}}]
    assert set(views["a"]["confirmations"]) == set(server.ACTIONS)


def test_a_dashboard_of_one_plan_shows_it_alone_and_steers_no_other():
    source = FakeSource(plan("a"), plan("b"))
    one = server.Dashboard(source, "a", clock=lambda: NOW)
    assert [v["name"] for v in one.snapshot()["plans"]] == ["a"]
    with pytest.raises(LookupError, match="shows MigrationPlan a only"):
        one.act("b", "pause")
    with pytest.raises(LookupError, match="no control 'delete'"):
        one.act("a", "delete")
    assert source.patches == []


@pytest.mark.parametrize("action", server.ACTIONS)
def test_each_control_changes_the_spec_as_its_command_does(action, monkeypatch, capsys):
    sent = FakeSource(plan("a"))
    monkeypatch.setattr(plans, "connect", lambda *args: sent)
    arguments = ["a", "--yes"] if action in ("abort", "rollback") else ["a"]
    assert main([action, *arguments]) == 0
    (_, by_command), = sent.patches

    source = FakeSource(plan("a"))
    result = server.Dashboard(source, clock=lambda: NOW).act("a", action)
    (name, by_dashboard), = source.patches
    assert name == "a" and result["change"] == by_dashboard
    if action in ("pause", "resume"):
        assert by_dashboard == by_command == {"paused": action == "pause"}
    else:
        assert by_dashboard.keys() == by_command.keys() == {"requests"}
        assert by_dashboard["requests"].keys() == by_command["requests"].keys() == {action}
        assert TOKEN.fullmatch(by_dashboard["requests"][action]) and TOKEN.fullmatch(by_command["requests"][action])
        assert by_dashboard["requests"][action] in result["message"]


# ---- over HTTP ----------------------------------------------------------------------------------

@pytest.fixture
def served():
    source = FakeSource(plan("a"), plan("b", phase="Moving"))
    httpd = server.serve(server.Dashboard(source, clock=lambda: NOW), "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield SimpleNamespace(source=source, port=httpd.server_address[1])
    httpd.shutdown()
    httpd.server_close()


def request(port: int, method: str, path: str, headers: dict | None = None, body: bytes | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response, data


def test_the_page_and_its_static_files_are_served_from_the_package(served):
    response, page = request(served.port, "GET", "/")
    assert response.status == 200 and response.getheader("Content-Type").startswith("text/html")
    assert b'src="static/app.js"' in page and b'href="static/style.css"' in page
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        response, body = request(served.port, "GET", f"/static/{name}")
        assert response.status == 200 and response.getheader("Content-Type").startswith(kind) and body
    assert b"http" not in request(served.port, "GET", "/static/app.js")[1].replace(b"http.", b""), "no CDN"
    assert request(served.port, "GET", "/static/../server.py")[0].status == 404
    assert request(served.port, "GET", "/static/index.htm")[0].status == 404


def test_the_api_lists_the_plans_as_json(served):
    response, body = request(served.port, "GET", "/api/plans")
    assert response.status == 200 and response.getheader("Content-Type") == "application/json"
    data = json.loads(body)
    assert [(v["name"], v["status"]["phase"]) for v in data["plans"]] == [("a", "Draining"), ("b", "Moving")]


def test_a_control_over_http_patches_the_spec(served):
    response, body = request(served.port, "POST", "/api/plans/b/pause",
                             {"X-Conductor-Dashboard": "1", "Content-Type": "application/json"}, b"{}")
    assert response.status == 200, body
    assert served.source.patches == [("b", {"paused": True})]
    assert json.loads(body)["message"] == "MigrationPlan team/b: spec.paused set to true."


def test_a_control_without_the_header_another_origin_cannot_send_changes_nothing(served):
    response, body = request(served.port, "POST", "/api/plans/b/abort", {"Content-Type": "text/plain"}, b"{}")
    assert response.status == 403 and "X-Conductor-Dashboard" in json.loads(body)["error"]
    assert served.source.patches == []


def test_a_request_naming_another_host_is_refused_against_dns_rebinding(served):
    response, _ = request(served.port, "GET", "/api/plans", {"Host": f"evil.example:{served.port}"})
    assert response.status == 403
    response, _ = request(served.port, "POST", "/api/plans/b/abort",
                          {"Host": f"evil.example:{served.port}", "X-Conductor-Dashboard": "1"}, b"{}")
    assert response.status == 403 and served.source.patches == []
    assert request(served.port, "GET", "/api/plans", {"Host": f"localhost:{served.port}"})[0].status == 200


def test_unknown_controls_and_plans_are_errors_in_json(served):
    headers = {"X-Conductor-Dashboard": "1"}
    response, body = request(served.port, "POST", "/api/plans/b/delete", headers, b"")
    assert response.status == 404 and "no control 'delete'" in json.loads(body)["error"]
    response, body = request(served.port, "POST", "/api/plans/zzz/pause", headers, b"")
    assert response.status == 502 and json.loads(body)["error"] == "MigrationPlan team/zzz not found"


def test_a_cluster_gone_while_serving_is_an_error_the_page_shows(served):
    served.source.fail = "cannot reach the Kubernetes API server at https://127.0.0.1:1: refused"
    response, body = request(served.port, "GET", "/api/plans")
    assert response.status == 502 and json.loads(body) == {"error": served.source.fail}


# ---- the command ----------------------------------------------------------------------------------

def test_no_cluster_or_no_plan_is_one_line_and_exit_2_before_serving(monkeypatch, capsys):
    monkeypatch.setattr(server, "connect", lambda *args: FakeSource(plan("a")))
    monkeypatch.setattr(server, "serve", lambda *args: pytest.fail("served"))
    assert main(["dashboard", "missing"]) == 2
    assert capsys.readouterr().err == "kubectl-conductor: error: MigrationPlan team/missing not found\n"
    monkeypatch.setattr(server, "connect", lambda *args: FakeSource(fail="cannot reach the Kubernetes API server"))
    assert main(["dashboard"]) == 2
    assert capsys.readouterr().err == "kubectl-conductor: error: cannot reach the Kubernetes API server\n"


def test_a_port_in_use_is_one_line_and_exit_2(monkeypatch, capsys):
    monkeypatch.setattr(server, "connect", lambda *args: FakeSource(plan("a")))
    taken = server.serve(server.Dashboard(FakeSource()), "127.0.0.1", 0)
    try:
        assert main(["dashboard", "--port", str(taken.server_address[1])]) == 2
    finally:
        taken.server_close()
    assert capsys.readouterr().err.startswith(f"kubectl-conductor: error: cannot serve on 127.0.0.1:"
                                              f"{taken.server_address[1]}: ")


def test_loopback_by_default_and_a_warning_for_an_explicit_other_address(monkeypatch, capsys):
    served_on = []

    class Stop(Exception):
        pass

    def serve(dashboard_, address, port):
        served_on.append((address, port))
        raise Stop

    monkeypatch.setattr(server, "connect", lambda *args: FakeSource(plan("a")))
    monkeypatch.setattr(server, "serve", serve)
    with pytest.raises(Stop):
        main(["dashboard", "a"])
    assert served_on == [("127.0.0.1", dashboard.DEFAULT_PORT)] and capsys.readouterr().err == ""
    with pytest.raises(Stop):
        main(["dashboard", "a", "--address", "0.0.0.0", "--port", "8000"])
    assert served_on[-1] == ("0.0.0.0", 8000)
    assert "warning: serving on 0.0.0.0, not loopback" in capsys.readouterr().err
    assert main(["dashboard", "a", "--address", "example.com"]) == 2
    assert "is not an IP address" in capsys.readouterr().err
    assert dashboard.is_loopback("::1") and dashboard.is_loopback("localhost") and dashboard.is_loopback("127.0.0.9")


def test_the_static_files_are_package_data():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert config["tool"]["setuptools"]["package-data"]["conductor_operator.cli.dashboard"] == ["static/*"]
    static = REPO / "operator" / "conductor_operator" / "cli" / "dashboard" / "static"
    assert {p.name for p in static.iterdir()} == set(server.STATIC_FILES)


def test_an_unexpected_failure_is_one_line_in_json_and_on_stderr_never_a_traceback(served, capsys):
    def broken() -> list[dict]:
        raise ValueError("the API answered something odd")

    served.source.list = broken
    response, body = request(served.port, "GET", "/api/plans")
    assert response.status == 500 and json.loads(body) == {"error": "ValueError: the API answered something odd"}
    assert capsys.readouterr().err == "kubectl-conductor: dashboard: ValueError: the API answered something odd\n"
