"""The operator's metrics (conductor_operator/metrics.py): what each records, the client's response hook, the log
context, and the Grafana dashboard naming only metrics the operator exports."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import urllib.request
from pathlib import Path

import httpx
import pytest
from conductor_operator import metrics
from conductor_operator.conductor.client import ConductorClient
from conductor_operator.reconcile import Outcome
from conductor_operator.settings import Settings
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

DASHBOARD = Path(__file__).parents[2] / "charts/conductor-operator/files/grafana/conductor-operator.json"


def value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize(("path", "template"), [
    ("/metadata/workflow", "/metadata/workflow"),
    ("/metadata/workflow/orders", "/metadata/workflow/{name}"),
    ("/metadata/workflow/orders/versions", "/metadata/workflow/{name}/versions"),
    ("/metadata/workflow/names-and-versions", "/metadata/workflow/names-and-versions"),
    ("/metadata/workflow/orders/3", "/metadata/workflow/{name}/{version}"),
    ("/metadata/taskdefs/charge", "/metadata/taskdefs/{name}"),
    ("/workflow/running/orders", "/workflow/running/{name}"),
    ("/workflow/0b1c-22/upgrade", "/workflow/{id}/upgrade"),
    ("/workflow/0b1c-22", "/workflow/{id}"),
    ("/workflow/bulk/terminate", "/workflow/bulk/terminate"),
    ("/workflow/search", "/workflow/search"),
    ("/workflow/orders/correlated", "/workflow/{name}/correlated"),
    ("/scheduler/schedules/nightly/pause", "/scheduler/schedules/{name}/pause"),
    ("/event/on-order", "/event/{name}"),
    ("/token", "/token"),
    ("/version", "/version"),
    ("/something/else/entirely", "other"),
])
def test_endpoints_are_templates_without_ids_or_names(path, template):
    assert metrics.endpoint(path) == template


async def test_the_client_reports_every_response_to_its_hook_and_the_metrics_count_them():
    seen = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/missing"):
            return httpx.Response(404, json={"message": "no"})
        if request.url.path.endswith("/broken"):
            raise httpx.ConnectError("refused")
        return httpx.Response(200, json={"name": "orders", "version": 1})

    def hook(method, path, status, seconds):
        seen.append((method, path, status))
        metrics.conductor_response(method, path, status, seconds)

    before_ok = value("conductor_operator_conductor_requests_total", method="GET",
                      endpoint="/metadata/workflow/{name}", status="200")
    before_404 = value("conductor_operator_conductor_requests_total", method="GET",
                       endpoint="/metadata/taskdefs/{name}", status="404")
    before_count = value("conductor_operator_conductor_request_duration_seconds_count", method="GET",
                         endpoint="/metadata/workflow/{name}")
    async with ConductorClient("http://conductor.test", transport=httpx.MockTransport(answer), retries=0,
                               on_response=hook) as client:
        await client.get_workflow_def("orders")
        assert await client.get_task_def("missing") is None
        with pytest.raises(Exception):  # noqa: B017  (Unavailable: no answer)
            await client._send("GET", "/workflow/broken")
    assert seen == [("GET", "/metadata/workflow/orders", 200), ("GET", "/metadata/taskdefs/missing", 404),
                    ("GET", "/workflow/broken", None)]
    assert value("conductor_operator_conductor_requests_total", method="GET", endpoint="/metadata/workflow/{name}",
                 status="200") == before_ok + 1
    assert value("conductor_operator_conductor_requests_total", method="GET", endpoint="/metadata/taskdefs/{name}",
                 status="404") == before_404 + 1
    assert value("conductor_operator_conductor_requests_total", method="GET", endpoint="/workflow/{id}",
                 status="error") >= 1
    assert value("conductor_operator_conductor_request_duration_seconds_count", method="GET",
                 endpoint="/metadata/workflow/{name}") == before_count + 1


async def test_a_failing_hook_never_fails_the_request():
    def hook(*_):
        raise RuntimeError("metrics are broken")

    async with ConductorClient("http://conductor.test", transport=httpx.MockTransport(
            lambda r: httpx.Response(200, json={"name": "x"})), on_response=hook) as client:
        assert await client.get_workflow_def("x") == {"name": "x"}


def test_running_executions_follow_the_counts_and_a_version_no_longer_counted_reads_zero():
    metrics.running_counts("unit-drain", {1: 5, 2: 1})
    assert value("conductor_operator_running_executions", workflow="unit-drain", version="1") == 5
    metrics.running_counts("unit-drain", {1: 2, 2: 4})
    assert value("conductor_operator_running_executions", workflow="unit-drain", version="1") == 2
    metrics.running_counts("unit-drain", {2: 7})
    assert REGISTRY.get_sample_value("conductor_operator_running_executions",
                                     {"workflow": "unit-drain", "version": "1"}) == 0
    assert value("conductor_operator_running_executions", workflow="unit-drain", version="2") == 7


def plan_body(status: dict, name: str = "p1") -> dict:
    return {"kind": "MigrationPlan", "metadata": {"namespace": "ns", "name": name, "uid": f"uid-{name}"},
            "status": status}


def test_a_plan_reports_its_phase_waves_drain_and_estimate():
    status = {"phase": "Moving", "waves": {"current": 1, "count": 3, "total": 10, "moved": 4, "ineligible": 1,
                                           "failed": 2, "rolledBack": 0},
              "running": {"old": 6, "target": 4}, "drain": {"estimatedEnd": "2030-01-01T00:00:00Z"},
              "conditions": [{"type": "Reconciling", "status": "True"}]}
    metrics.delivered(plan_body({}), Outcome(status))
    labels = {"namespace": "ns", "plan": "p1"}
    assert value("conductor_operator_migration_plan_phase", phase="Moving", **labels) == 1
    assert REGISTRY.get_sample_value("conductor_operator_migration_plan_phase", {**labels, "phase": "Draining"}) == 0
    assert value("conductor_operator_migration_wave_executions", state="moved", **labels) == 4
    assert value("conductor_operator_migration_wave_executions", state="ineligible", **labels) == 1
    assert value("conductor_operator_migration_wave_executions", state="failed", **labels) == 2
    assert value("conductor_operator_migration_wave_current", **labels) == 1
    assert value("conductor_operator_migration_waves", **labels) == 3
    assert value("conductor_operator_migration_drain_remaining_executions", **labels) == 6
    assert value("conductor_operator_migration_drain_estimated_end_timestamp_seconds", **labels) == 1893456000
    assert value("conductor_operator_resources", kind="MigrationPlan", condition="Reconciling") >= 1

    # a later reconcile with nothing to write: the body's status stands; the estimate gone, the series goes
    metrics.delivered(plan_body({**status, "phase": "Completed", "drain": {}}), None)
    assert value("conductor_operator_migration_plan_phase", phase="Completed", **labels) == 1
    assert value("conductor_operator_migration_plan_phase", phase="Moving", **labels) == 0
    assert REGISTRY.get_sample_value("conductor_operator_migration_drain_estimated_end_timestamp_seconds",
                                     labels) is None

    metrics.ledger_size("ns", "p1", 12)
    assert value("conductor_operator_migration_ledger_entries", **labels) == 12
    metrics.forget(plan_body({}))
    assert REGISTRY.get_sample_value("conductor_operator_migration_plan_phase", {**labels, "phase": "Completed"}) \
        is None
    assert REGISTRY.get_sample_value("conductor_operator_migration_ledger_entries", labels) is None


def test_resources_are_counted_by_kind_and_condition():
    def body(uid):
        return {"kind": "WorkflowDefinition", "metadata": {"namespace": "ns", "name": uid, "uid": uid}}
    before = value("conductor_operator_resources", kind="WorkflowDefinition", condition="Stalled")
    metrics.delivered(body("r1"), Outcome({"conditions": [{"type": "Stalled", "status": "True"}]}))
    metrics.delivered(body("r2"), Outcome({"conditions": [{"type": "Stalled", "status": "True"},
                                                          {"type": "Ready", "status": "False"}]}))
    assert value("conductor_operator_resources", kind="WorkflowDefinition", condition="Stalled") == before + 2
    metrics.delivered(body("r2"), Outcome({"conditions": [{"type": "Ready", "status": "True"}]}))
    assert value("conductor_operator_resources", kind="WorkflowDefinition", condition="Stalled") == before + 1
    metrics.forget(body("r1"))
    assert value("conductor_operator_resources", kind="WorkflowDefinition", condition="Stalled") == before


class TemporaryError(Exception):
    """Named as kopf's: the handler asked for a retry."""


def _raise(exc):
    raise exc


@pytest.mark.parametrize(("run", "result", "raises"), [
    (lambda body: metrics.delivered(body, Outcome({"conditions": [{"type": "Ready", "status": "True"}]})), "ok",
     None),
    (lambda body: metrics.delivered(body, None), "noop", None),
    (lambda body: metrics.delivered(body, Outcome({"conditions": [{"type": "Stalled", "status": "True"}]})),
     "stalled", None),
    (lambda body: metrics.delivered(body, Outcome({}, retry_after=3)), "retry", None),
    (lambda body: _raise(RuntimeError("bug")), "error", RuntimeError),
    (lambda body: _raise(TemporaryError("later")), "retry", TemporaryError),
])
def test_reconciles_are_counted_by_kind_and_result_and_timed(run, result, raises):
    body = {"kind": "TaskDefinition", "metadata": {"namespace": "ns", "name": "t", "uid": "t-uid"}}
    before = value("conductor_operator_reconciles_total", kind="TaskDefinition", result=result)
    timed = value("conductor_operator_reconcile_duration_seconds_count", kind="TaskDefinition")
    try:
        with metrics.reconciling(body):
            run(body)
    except Exception as exc:
        assert raises is not None and isinstance(exc, raises)
    else:
        assert raises is None
    assert value("conductor_operator_reconciles_total", kind="TaskDefinition", result=result) == before + 1
    assert value("conductor_operator_reconcile_duration_seconds_count", kind="TaskDefinition") == timed + 1


def test_moves_are_counted_by_mover_and_result():
    class Move:
        def __init__(self, state):
            self.state = state
    from conductor_operator.domain.waves import MoveState
    before = value("conductor_operator_moves_total", mover="TerminateRestart", result="Moved")
    metrics.moves_settled("TerminateRestart", [Move(MoveState.MOVED), Move(MoveState.MOVED), Move(MoveState.FAILED)])
    assert value("conductor_operator_moves_total", mover="TerminateRestart", result="Moved") == before + 2
    assert value("conductor_operator_moves_total", mover="TerminateRestart", result="Failed") >= 1


def test_log_lines_of_a_handler_name_its_object_plan_phase_and_conductor_request(capsys):
    handler = metrics.configure_logging("INFO", "json")
    try:
        body = plan_body({"phase": "Draining"}, name="p-logs")
        with metrics.reconciling(body):
            metrics.conductor_response("GET", "/workflow/running/orders", 200, 0.01)
            logging.getLogger("conductor_operator.test").info("counted")
        logging.getLogger("conductor_operator.test").info("outside")
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
        inside, outside = lines[-2], lines[-1]
        assert inside["message"] == "counted"
        assert inside["object"] == {"kind": "MigrationPlan", "namespace": "ns", "name": "p-logs"}
        assert inside["plan"] == "p-logs" and inside["phase"] == "Draining"
        assert inside["conductor_request"] == "GET /workflow/running/{name} 200"
        assert "object" not in outside and "plan" not in outside

        metrics.configure_logging("INFO", "text")
        with metrics.reconciling(plan_body({}, name="p-text")):
            logging.getLogger("conductor_operator.test").warning("something")
        assert "WARNING conductor_operator.test: [ns/p-text] something" in capsys.readouterr().err
    finally:
        logging.getLogger().removeHandler(handler)


def test_settings_read_the_metrics_port_and_log_format(monkeypatch):
    monkeypatch.delenv("METRICS_PORT", raising=False)
    assert Settings.from_env().metrics_port == 8082
    monkeypatch.setenv("METRICS_PORT", "off")
    assert Settings.from_env().metrics_port is None
    monkeypatch.setenv("METRICS_PORT", "9100")
    monkeypatch.setenv("METRICS_BIND_ADDRESS", "0.0.0.0")
    monkeypatch.setenv("LOG_FORMAT", "JSON")
    settings = Settings.from_env()
    assert (settings.metrics_port, settings.metrics_address, settings.log_format) == (9100, "0.0.0.0", "json")
    for bad in ("METRICS_PORT=http", "METRICS_PORT=70000", "LOG_FORMAT=xml"):
        name, text = bad.split("=")
        monkeypatch.setenv(name, text)
        with pytest.raises(SystemExit, match=name):
            Settings.from_env()
        monkeypatch.delenv(name)


async def test_the_metrics_are_served_in_the_prometheus_text_format():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    metrics.serve(port)
    metrics.running_counts("unit-served", {3: 2})
    text = await asyncio.to_thread(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode())
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in families[
        "conductor_operator_running_executions"].samples}
    assert samples[("conductor_operator_running_executions", (("version", "3"), ("workflow", "unit-served")))] == 2


# ---- the dashboard -------------------------------------------------------------------------------------------

def exported() -> dict[str, set[str]]:
    """Every series name the operator exports (histograms' _bucket/_sum/_count, counters' _total), with the labels
    each may carry."""
    names: dict[str, set[str]] = {}
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    collectors = set(REGISTRY._collector_to_names)  # the registered collectors, each described by its metrics
    for collector in collectors:
        describe = getattr(collector, "describe", None)
        for family in (describe() if describe else collector.collect()):
            if not family.name.startswith(metrics.PREFIX):
                continue
            labels = set(getattr(collector, "_labelnames", ()))
            if not labels:  # the custom collector: labels from what it yields
                labels = {k for s in family.samples for k in s.labels} or {"kind", "condition"}
            for suffix in suffixes.get(family.type, ("",)):
                names[family.name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return names


def dashboard_exprs() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in board["templating"]["list"] if v.get("type") == "query"]
    return exprs


def test_every_dashboard_query_names_only_metrics_and_labels_the_operator_exports():
    names = exported()
    assert "conductor_operator_running_executions" in names and "conductor_operator_reconciles_total" in names
    exprs = dashboard_exprs()
    assert len(exprs) >= 10
    for expr in exprs:
        used = set(re.findall(r"\b(conductor_operator_[a-z0-9_]+)", expr))
        assert used, f"a query names no operator metric: {expr}"
        unknown = used - names.keys()
        assert not unknown, f"{expr} names {unknown}, which the operator does not export"
        labels = set().union(*(names[n] for n in used))
        mentioned = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)\s*\"", expr))
        mentioned |= {label.strip() for group in re.findall(r"\bby\s*\(([^)]*)\)", expr) for label in group.split(",")}
        assert mentioned <= labels, f"{expr} uses labels {mentioned - labels} its metrics do not have"


def test_the_dashboard_shows_what_a_migration_needs():
    board = json.loads(DASHBOARD.read_text())
    text = json.dumps(board)
    for metric in ("conductor_operator_running_executions", "conductor_operator_migration_wave_executions",
                   "conductor_operator_moves_total", "conductor_operator_reconciles_total",
                   "conductor_operator_conductor_request_duration_seconds_bucket",
                   "conductor_operator_migration_drain_estimated_end_timestamp_seconds"):
        assert metric in text
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))


def test_an_httpx_request_line_names_its_own_request_by_template():
    """A read shared by several reconciles, or a bulk registration, runs in a task of its own: its httpx line (DEBUG)
    is named by the request it reports, not by a handler's context."""
    import logging

    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, 'HTTP Request: %s %s "%s %d %s"',
                               ("GET", "http://conductor:8080/api/metadata/workflow/orders/versions", "HTTP/1.1",
                                200, "OK"), None)
    assert metrics.ContextFilter().filter(record)
    assert record.conductor_request == "GET /metadata/workflow/{name}/versions 200"
    other = logging.LogRecord("kopf.objects", logging.INFO, __file__, 1, "plain", (), None)
    metrics.ContextFilter().filter(other)
    assert not getattr(other, "conductor_request", None)
