"""Fixtures for the real test environment.

The servers start once per session, lazily: a run of unit tests alone starts nothing. Conductor
and the control plane start separately, so tests needing only one of them do not wait for both.
If they cannot start, the test fails with the reason (never a skip).

Set CONDUCTOR_OPERATOR_TESTENV to the state file written by `python -m testenv up` to reuse a
running environment instead of starting one (handy while developing).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from testenv.servers import ConductorServer, ControlPlane
from testenv.tools import REPO_ROOT, Tools, ensure_tools


@pytest.fixture(scope="session")
def reused_env() -> dict | None:
    state = os.environ.get("CONDUCTOR_OPERATOR_TESTENV")
    return json.loads(Path(state).read_text()) if state else None


@pytest.fixture(scope="session")
def tools() -> Tools:
    return ensure_tools()


@pytest.fixture(scope="session")
def testenv_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="conductor-operator-tests-") as directory:
        yield Path(directory)


@pytest.fixture(scope="session")
def conductor_url(reused_env, tools, testenv_dir) -> Iterator[str]:
    if reused_env:
        yield reused_env["conductor"]
        return
    server = ConductorServer(tools, testenv_dir)
    try:
        server.start()
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def kubeconfig(reused_env, tools, testenv_dir) -> Iterator[Path]:
    if reused_env:
        yield Path(reused_env["kubeconfig"])
        return
    control_plane = ControlPlane(tools, testenv_dir)
    try:
        control_plane.start()
        yield control_plane.kubeconfig
    finally:
        control_plane.stop()


@pytest.fixture(scope="session")
def k8s(kubeconfig):
    """A kubernetes.client.ApiClient logged in as the admin of the test control plane."""
    from kubernetes import config

    api = config.new_client_from_config(config_file=str(kubeconfig))
    yield api
    api.close()


@pytest.fixture
def namespace(k8s) -> Iterator[str]:
    """A fresh namespace per test (not awaited on delete: there is no namespace controller)."""
    from kubernetes import client

    name = f"t-{uuid.uuid4().hex[:10]}"
    core = client.CoreV1Api(k8s)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


@pytest.fixture(scope="session")
def kubectl(kubeconfig, tools):
    """Run the test environment's kubectl; returns the CompletedProcess (check=True by default)."""

    def run(*args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(tools.kubectl), f"--kubeconfig={kubeconfig}", *args], input=input,
                              capture_output=True, text=True, check=check, cwd=REPO_ROOT)

    return run
