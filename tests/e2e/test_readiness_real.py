"""The operator's readiness endpoint against the real API server: standing by for a peer, then watching.

kopf's /healthz answers as soon as its server is up (liveness). The readiness endpoint (READINESS_ENDPOINT,
conductor_operator/readiness.py) answers 503 until kopf has listed every served kind in every watched namespace,
and 200 from then on, or while kopf peering holds the replica back for a live peer of higher priority, so a
standby replica neither blocks a rollout nor a node drain (the chart's PodDisruptionBudget).
"""

from __future__ import annotations

import datetime
import json
import urllib.error
import urllib.request

import pytest
from kubernetes import client

from testenv.operator import OperatorProcess
from testenv.servers import free_port
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.realenv


def answer(url: str) -> tuple[int, dict] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except OSError:
        return None


def test_a_standby_replica_is_ready_and_a_working_one_once_it_has_listed(kubeconfig, crds, peering_crds, namespace,
                                                                          k8s, tmp_path):
    custom = client.CustomObjectsApi(k8s)
    now = datetime.datetime.now(datetime.UTC).isoformat()
    custom.create_namespaced_custom_object("kopf.dev", "v1", namespace, "kopfpeerings", {
        "apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": "replicas"},
        # Another replica, alive, with a higher priority: this one must wait its turn.
        "status": {"other-replica": {"priority": 1_000_000, "lifetime": 600, "lastseen": now}}})
    port = free_port()
    url = f"http://127.0.0.1:{port}/readyz"
    process = OperatorProcess(kubeconfig, tmp_path / "operator.log", WATCH_NAMESPACES=namespace,
                              PEERING_NAME="replicas", PEERING_PRIORITY="1", READINESS_ENDPOINT=url)
    seen: list[tuple[int, dict]] = []

    def record(expected_state: str):
        found = answer(url)
        if found and (not seen or seen[-1] != found):
            seen.append(found)
        return found and found[0] == 200 and found[1]["state"] == expected_state

    try:
        process.start()  # returns once /healthz (liveness) answers
        wait_for(lambda: record("standing by for a peer (kopf peering)"), timeout=60, what="standing by")
        assert all(code == 503 and body["state"] == "listing" for code, body in seen[:-1]), seen

        # The other replica leaves: this one resumes, lists, and is ready as the working replica.
        custom.patch_namespaced_custom_object("kopf.dev", "v1", namespace, "kopfpeerings", "replicas",
                                              {"status": {"other-replica": None}})
        wait_for(lambda: record("watching"), timeout=60, what="watching")
        log = process.log_text()
        assert "Resuming operations after the pause" in log
        assert "Traceback" not in log, log[-4000:]
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nanswers: {seen}\n{process.log_tail()}") from None
    finally:
        process.stop()


def test_a_standalone_operator_is_ready_once_watching_and_silent_once_stopped(kubeconfig, crds, namespace, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/readyz"
    process = OperatorProcess(kubeconfig, tmp_path / "operator.log", WATCH_NAMESPACES=namespace,
                              READINESS_ENDPOINT=url)
    try:
        process.start()
        found = wait_for(lambda: (a := answer(url)) and a[0] == 200 and a, timeout=60, what="ready")
        assert found[1] == {"ready": True, "state": "watching"}
        assert "Serving readiness at" in process.log_text()
    finally:
        process.stop()
    # Stopped: no answer at all (a kubelet reads that as not ready, as it should).
    assert answer(url) is None
