"""The operator's Prometheus metrics, scraped from the real operator while it runs a real migration, and the chart's
metrics Service, ServiceMonitor and dashboard ConfigMap.

Other operators may reconcile the same shared API server: every assertion is on what this session's operator
process reports on its own /metrics, and on values that follow what happened to this test's own workflow and plan.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.request

import pytest

from tests.e2e.conftest import wait_for
from tests.e2e.test_chart import CHART, deployment_container, env_of, helm, of_kind, render  # noqa: F401
from tests.e2e.test_migration_real import Executions, Onboarding, executions, wait_phase  # noqa: F401

pytestmark = pytest.mark.realenv

Sample = tuple[str, frozenset]


def scrape(url: str) -> dict[Sample, float]:
    from prometheus_client.parser import text_string_to_metric_families

    text = urllib.request.urlopen(url, timeout=5).read().decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def pick(samples: dict[Sample, float], name: str, **labels) -> dict[frozenset, float]:
    """The samples of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return {key: v for (n, key), v in samples.items() if n == name and wanted <= key}


def total(samples: dict[Sample, float], name: str, **labels) -> float:
    return sum(pick(samples, name, **labels).values())


def one(samples: dict[Sample, float], name: str, **labels) -> float | None:
    found = pick(samples, name, **labels)
    assert len(found) <= 1, found
    return next(iter(found.values()), None)


class Recorder:
    """Scrapes the operator every half second in the background: the history of what it reported."""

    def __init__(self, url: str):
        self.url = url
        self.history: list[tuple[float, dict[Sample, float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                self.history.append((time.monotonic(), scrape(self.url)))
            self._stop.wait(0.5)

    def __enter__(self) -> Recorder:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)

    def series(self, name: str, **labels) -> list[float]:
        """The values one series took, in order, repeats collapsed."""
        values: list[float] = []
        for _, samples in self.history:
            value = one(samples, name, **labels)
            if value is not None and (not values or values[-1] != value):
                values.append(value)
        return values


def test_the_operator_metrics_follow_a_real_migration(resources, cluster, operator, executions: Executions,  # noqa: F811
                                                       conductor_url, namespace):
    url = operator.metrics_url
    at_start = scrape(url)
    flow = Onboarding()
    in_flight = flow.paused_on_v1(resources, executions)
    resources.create("WorkflowDefinition", "v2", flow.v2(activation="ByMigrationPlan"))
    plan = {"namespace": namespace, "plan": "to-v2"}
    running_v1 = {"workflow": flow.workflow, "version": "1"}

    with Recorder(url) as recorder:
        resources.create("MigrationPlan", "to-v2", flow.plan())
        wait_phase(resources, "to-v2", "Gating")
        # The counts the plan reads are the counts the metric shows: 3 on v1, the plan's drain remaining too.
        wait_for(lambda: one(scrape(url), "conductor_operator_running_executions", **running_v1) == 3,
                 what="3 running executions of v1 in the metrics")
        wait_for(lambda: one(scrape(url), "conductor_operator_migration_drain_remaining_executions", **plan) == 3,
                 what="the plan's drain remaining 3")
        assert one(scrape(url), "conductor_operator_migration_plan_phase", phase="Gating", **plan) == 1

        with flow.worker(conductor_url):
            wait_phase(resources, "to-v2", "Draining", timeout=90)
            wait_for(lambda: one(scrape(url), "conductor_operator_migration_plan_phase", phase="Draining",
                                 **plan) == 1, what="the phase metric at Draining")
            executions.resume(in_flight[0])
            wait_for(lambda: one(scrape(url), "conductor_operator_running_executions", **running_v1) == 2,
                     what="v1 counted 2 in the metrics after one ended")
            for execution_id in in_flight[1:]:
                executions.resume(execution_id)
            wait_phase(resources, "to-v2", "Completed", timeout=90)
            wait_for(lambda: one(scrape(url), "conductor_operator_migration_plan_phase", phase="Completed",
                                 **plan) == 1, what="the phase metric at Completed")
        time.sleep(1)  # one more scrape after the end

    end = scrape(url)
    # The drain curve: v1 went from 3 to 0, never up on the way.
    drain = recorder.series("conductor_operator_running_executions", **running_v1)
    assert drain[0] == 3 and drain[-1] == 0, drain
    assert drain == sorted(drain, reverse=True), f"v1's running executions rose during the drain: {drain}"
    assert 2 in drain
    remaining = recorder.series("conductor_operator_migration_drain_remaining_executions", **plan)
    assert remaining[0] == 3 and remaining[-1] == 0, remaining

    # Plan phase: one phase at a time, in the order the plan went through them.
    phases = []
    for _, samples in recorder.history:
        current = [dict(k)["phase"] for k, v in pick(samples, "conductor_operator_migration_plan_phase",
                                                     **plan).items() if v == 1]
        assert len(current) <= 1, current
        if current and (not phases or phases[-1] != current[0]):
            phases.append(current[0])
    assert phases[-1] == "Completed" and "Gating" in phases and "Draining" in phases, phases
    assert phases.index("Gating") < phases.index("Draining") < phases.index("Completed"), phases
    assert one(end, "conductor_operator_migration_plan_phase", phase="Draining", **plan) == 0

    # Reconciles counted and timed, by kind.
    for kind in ("MigrationPlan", "WorkflowDefinition", "ConductorCluster"):
        ran = total(end, "conductor_operator_reconciles_total", kind=kind)
        assert ran > total(at_start, "conductor_operator_reconciles_total", kind=kind), kind
        assert total(end, "conductor_operator_reconcile_duration_seconds_count", kind=kind) == ran, kind
    assert total(end, "conductor_operator_reconciles_total", kind="MigrationPlan", result="ok") > 0

    # Conductor requests by endpoint template and status 200, with latency; no execution id nor workflow name.
    ok = pick(end, "conductor_operator_conductor_requests_total", status="200")
    endpoints = {dict(k)["endpoint"] for k in ok}
    assert {"/workflow/running/{name}", "/metadata/workflow/{name}", "/version"} <= endpoints, endpoints
    assert total(end, "conductor_operator_conductor_requests_total", status="200",
                 endpoint="/workflow/running/{name}") > 0
    assert total(end, "conductor_operator_conductor_request_duration_seconds_count") >= \
        total(end, "conductor_operator_conductor_requests_total")
    every_label = {v for (n, key) in end for _, v in key if n.startswith("conductor_operator_conductor_request")}
    assert not any(flow.workflow in v or any(i in v for i in in_flight) for v in every_label), every_label

    # Resources by condition: this test's plan and definitions are among them.
    assert total(end, "conductor_operator_resources", kind="MigrationPlan") >= 1
    assert total(end, "conductor_operator_resources", kind="WorkflowDefinition") >= 2


# ---- the chart --------------------------------------------------------------------------------------------------

def test_the_chart_serves_metrics_behind_a_service(helm):  # noqa: F811
    documents = render(helm)
    deployment, container = deployment_container(documents)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"health": 8080, "ready": 8081, "metrics": 8082}
    env = env_of(container)
    assert (env["METRICS_PORT"], env["METRICS_BIND_ADDRESS"], env["LOG_FORMAT"]) == ("8082", "0.0.0.0", "text")
    (service,) = [s for s in of_kind(documents, "Service") if s["metadata"]["name"].endswith("-metrics")]
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 8082, "targetPort": "metrics", "protocol": "TCP"}]
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert not of_kind(documents, "ServiceMonitor")
    assert not [c for c in of_kind(documents, "ConfigMap") if "grafana_dashboard" in c["metadata"]["labels"]]


def test_the_chart_renders_a_service_monitor_and_the_dashboard_when_asked(helm):  # noqa: F811
    documents = render(helm, "metrics.serviceMonitor.enabled=true", "metrics.serviceMonitor.labels.release=prom",
                       "metrics.grafanaDashboard.enabled=true", "metrics.port=9100", "logFormat=json")
    (monitor,) = of_kind(documents, "ServiceMonitor")
    (service,) = [s for s in of_kind(documents, "Service") if s["metadata"]["name"].endswith("-metrics")]
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    _, container = deployment_container(documents)
    assert {p["name"]: p["containerPort"] for p in container["ports"]}["metrics"] == 9100
    assert env_of(container)["LOG_FORMAT"] == "json"
    (dashboard,) = [c for c in of_kind(documents, "ConfigMap") if c["metadata"]["labels"].get("grafana_dashboard")]
    shipped = json.loads((CHART / "files" / "grafana" / "conductor-operator.json").read_text())
    assert json.loads(dashboard["data"]["conductor-operator.json"]) == shipped


def test_the_chart_can_turn_metrics_off_and_refuses_their_port_on_the_probes(helm):  # noqa: F811
    documents = render(helm, "metrics.enabled=false")
    _, container = deployment_container(documents)
    assert env_of(container)["METRICS_PORT"] == "off"
    assert "metrics" not in {p["name"] for p in container["ports"]}
    assert not [s for s in of_kind(documents, "Service") if s["metadata"]["name"].endswith("-metrics")]
    refused = helm("template", "demo", str(CHART), "--set", "metrics.port=8080", check=False)
    assert refused.returncode != 0 and "metrics" in refused.stderr
