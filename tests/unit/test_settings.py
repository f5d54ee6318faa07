"""The operator process's settings from its environment."""

from __future__ import annotations

import getpass
import os
import pwd
import socket

import pytest
from conductor_operator.settings import Settings


@pytest.fixture
def no_user_database(monkeypatch):
    """As in an image run as uid 65532 with no passwd entry: every user lookup fails."""
    def missing(*_args):
        raise KeyError("getpwuid(): uid not found: 65532")
    monkeypatch.setattr(pwd, "getpwuid", missing)
    monkeypatch.setattr(getpass, "getuser", missing)
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME", "POD_NAME", "LIVENESS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


def test_the_identity_is_the_pod_name_when_the_chart_passes_it(no_user_database, monkeypatch):
    monkeypatch.setenv("POD_NAME", "conductor-operator-7d9f-x2x4q")
    assert Settings.from_env().identity == "conductor-operator-7d9f-x2x4q"


def test_without_a_pod_name_the_identity_needs_no_user_database(no_user_database):
    assert Settings.from_env().identity == f"{socket.gethostname()}-{os.getpid()}"


def test_the_health_endpoint_is_on_loopback_unless_set(no_user_database, monkeypatch):
    assert Settings.from_env().liveness_endpoint == "http://127.0.0.1:8080/healthz"
    monkeypatch.setenv("LIVENESS_ENDPOINT", "http://0.0.0.0:8080/healthz")
    assert Settings.from_env().liveness_endpoint == "http://0.0.0.0:8080/healthz"
    monkeypatch.setenv("LIVENESS_ENDPOINT", "off")
    assert Settings.from_env().liveness_endpoint is None
