"""Fixtures for end-to-end tests: the CRDs installed, the real operator running, helpers for resources."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest
from kubernetes import client

from testenv.operator import OperatorProcess
from testenv.tools import REPO_ROOT

GROUP, VERSION = "conductor-operator.io", "v1alpha1"
PLURALS = {"ConductorCluster": "conductorclusters", "WorkflowDefinition": "workflowdefinitions",
           "TaskDefinition": "taskdefinitions", "MigrationPlan": "migrationplans"}


def wait_for(check: Callable[[], object], timeout: float = 30, interval: float = 0.3, what: str = "condition",
             explain: Callable[[], str] | None = None):
    """Poll until check() returns something truthy; fail with the last value seen (and what explain() tells,
    such as an operator's log)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    detail = f"\n{explain()}" if explain else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}{detail}")


def wait_established(kubectl: Callable[..., subprocess.CompletedProcess], names, timeout: float = 60) -> None:
    """Wait until every CRD named is Established. (`kubectl wait` fails outright on a CRD so new that its status
    has no conditions yet: a race the large WorkflowDefinition CRD loses now and then.)"""
    def established():
        listed = json.loads(kubectl("get", "crd", "-o", "json").stdout)["items"]
        ready = {crd["metadata"]["name"] for crd in listed
                 if any(c.get("type") == "Established" and c.get("status") == "True"
                        for c in (crd.get("status") or {}).get("conditions") or [])}
        return set(names) <= ready

    wait_for(established, timeout, interval=0.5, what=f"CRDs established: {', '.join(sorted(names))}")


@pytest.fixture(scope="session")
def crds(kubectl) -> None:
    kubectl("apply", "--server-side", "-f", str(REPO_ROOT / "crds"))
    wait_established(kubectl, [f"{plural}.{GROUP}" for plural in PLURALS.values()])


@pytest.fixture(scope="session")
def peering_crds(kubectl) -> None:
    """kopf's peering CRDs, from the Helm chart's crds/ folder (which installs them for users)."""
    kubectl("apply", "-f", str(REPO_ROOT / "charts" / "conductor-operator" / "crds" / "kopf-peering.yaml"))
    wait_established(kubectl, ["clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"])


@pytest.fixture(scope="session")
def operator(crds, kubeconfig, testenv_dir) -> Iterator[OperatorProcess]:
    process = OperatorProcess(kubeconfig, testenv_dir / "operator.log").start()
    yield process
    process.stop()


class Resources:
    """Create, read, change and delete the operator's resources in one namespace."""

    def __init__(self, k8s, namespace: str):
        self.api = client.CustomObjectsApi(k8s)
        self.namespace = namespace

    def create(self, kind: str, name: str, spec: dict) -> dict:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": {"name": name}, "spec": spec}
        return self.api.create_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURALS[kind], body)

    def get(self, kind: str, name: str) -> dict | None:
        try:
            return self.api.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURALS[kind], name)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def patch_spec(self, kind: str, name: str, spec: dict) -> dict:
        return self.api.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURALS[kind], name,
                                                       {"spec": spec})

    def delete(self, kind: str, name: str) -> None:
        self.api.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURALS[kind], name)

    def condition(self, kind: str, name: str, type_: str) -> dict | None:
        body = self.get(kind, name) or {}
        return next((c for c in (body.get("status") or {}).get("conditions") or [] if c["type"] == type_), None)

    def wait_condition(self, kind: str, name: str, type_: str, status: str = "True", reason: str | None = None,
                       timeout: float = 30) -> dict:
        def matches():
            found = self.condition(kind, name, type_)
            if found and found["status"] == status and (reason is None or found["reason"] == reason):
                return found
            return None

        try:
            return wait_for(matches, timeout, what=f"{kind} {name} {type_}={status} {reason or ''}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nstatus now: {(self.get(kind, name) or {}).get('status')}") from None


@pytest.fixture
def resources(k8s, namespace) -> Resources:
    return Resources(k8s, namespace)


@pytest.fixture
def cluster(resources, conductor_url, operator) -> str:
    """A ConductorCluster named "default" in the test namespace, pointing at the real Conductor."""
    resources.create("ConductorCluster", "default", {"url": conductor_url})
    resources.wait_condition("ConductorCluster", "default", "Ready")
    return "default"


def events_for(k8s, namespace: str, name: str) -> list[tuple[str, str, str]]:
    found = client.CoreV1Api(k8s).list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}")
    return [(e.type, e.reason, e.message) for e in found.items]


@pytest.fixture
def operator_stopped(operator):
    """The session's operator watches every namespace: stopped (SIGSTOP) while a test writes statuses by hand and
    reads them back (it may reconcile them away in between), or runs an operator of its own (the session's would
    handle the objects first, leaving the test's nothing to do)."""
    os.kill(operator.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(operator.process.pid, signal.SIGCONT)
