"""The demo on a bad day, without servers: its calls to Conductor are tried again on transient failures,
a start is never sent twice, and whatever breaks ends it with "Demo FAILED: <why>", never a traceback.

tests/e2e/test_demo.py runs the whole demo against the real servers.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

import testenv.__main__ as testenv_main
from testenv import demo as demo_module
from testenv.demo import Demo, DemoError, run_demo


def refused_url() -> str:
    """A loopback URL nothing listens on: connections to it are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class FakeEnvironment:
    """What the demo uses of testenv.servers.Environment, with a Conductor that refuses connections."""

    def __init__(self, workdir: Path, keep: bool = False):
        self.dir = workdir
        self.conductor = SimpleNamespace(url=refused_url())
        self.control_plane = SimpleNamespace(kubeconfig=workdir / "kubeconfig", url="https://127.0.0.1:1")
        self.tools = SimpleNamespace(kubectl=Path("/nonexistent/kubectl"), helm=Path("/nonexistent/helm"))
        self.stopped = False

    def start(self) -> FakeEnvironment:
        return self

    def stop(self) -> None:
        self.stopped = True

    def describe(self) -> dict:
        return {"workdir": str(self.dir), "kube_apiserver": self.control_plane.url, "conductor": self.conductor.url,
                "conductor_api": f"{self.conductor.url}/api", "kubeconfig": str(self.control_plane.kubeconfig),
                "kubectl": str(self.tools.kubectl), "helm": str(self.tools.helm)}


class FakeProcess:
    """The operator and the worker: started and stopped, doing nothing."""

    stopped = 0

    def __init__(self, *args, **kwargs):
        pass

    def start(self) -> FakeProcess:
        return self

    def stop(self) -> None:
        FakeProcess.stopped += 1


@pytest.fixture
def offline_demo(monkeypatch, tmp_path):
    """The demo with kubectl answering "True" to everything (each resource Ready at once, the CRDs Established),
    no operator or worker, no waiting, and its failure log in tmp_path."""
    monkeypatch.setattr(demo_module, "OperatorProcess", FakeProcess)
    monkeypatch.setattr(demo_module, "_worker", lambda env: FakeProcess())
    monkeypatch.setattr(Demo, "kubectl", lambda self, *args, **kwargs: "True")
    monkeypatch.setattr(Demo, "crds_established", lambda self: True)
    monkeypatch.setattr(demo_module, "RETRY_WAIT", 0.0)
    monkeypatch.setattr(demo_module.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(demo_module, "FAILURE_LOG", tmp_path / "demo-failure.log")
    FakeProcess.stopped = 0
    return tmp_path


def test_a_conductor_refusing_connections_fails_the_demo_in_one_line(offline_demo, capsys):
    assert run_demo(FakeEnvironment(offline_demo), keep_running=False) is False
    out, err = capsys.readouterr()
    last = out.strip().splitlines()[-1]
    assert last.startswith("Demo FAILED: starting customer_onboarding: Conductor did not answer after 5 tries")
    assert "ConnectError" in last
    assert "Traceback" not in out + err
    assert "Traceback" in (offline_demo / "demo-failure.log").read_text(), "kept for whoever wants it"
    assert FakeProcess.stopped == 2, "the operator and the worker are stopped"


def test_the_demo_command_exits_non_zero_without_a_traceback(offline_demo, monkeypatch, capsys):
    environments: list[FakeEnvironment] = []

    def environment(keep: bool = False) -> FakeEnvironment:
        environments.append(FakeEnvironment(offline_demo, keep))
        return environments[-1]

    monkeypatch.setattr(testenv_main, "Environment", environment)
    monkeypatch.setattr(testenv_main, "STATE_FILES", {"demo": offline_demo / "demo-state.json"})
    assert testenv_main.main(["demo", "--check"]) == 1
    out, err = capsys.readouterr()
    assert "Demo FAILED: " in out and "Traceback" not in out + err
    assert environments[0].stopped and not (offline_demo / "demo-state.json").exists()


def test_a_missed_check_is_named_in_the_final_line(offline_demo, monkeypatch, capsys):
    """kubectl says "True" to the in-place change check too, so that check fails; Conductor is then down."""
    run_demo(FakeEnvironment(offline_demo), keep_running=False)
    assert "!! expected: the in-place change of v1 is refused" in capsys.readouterr().out


# ---- the demo's calls to Conductor --------------------------------------------------------------


def demo_with(handler) -> Demo:
    demo = Demo(SimpleNamespace(conductor=SimpleNamespace(url="http://conductor:8080")))
    demo.close()
    demo.http = httpx.Client(base_url=demo.conductor_api, transport=httpx.MockTransport(handler))
    return demo


@pytest.fixture
def no_waiting(monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(demo_module.time, "sleep", waits.append)
    return waits


def test_transient_failures_are_tried_again_with_growing_waits(no_waiting):
    answers = [httpx.ReadTimeout("slow"), httpx.Response(503, text="busy"), httpx.Response(429, text="later"),
               httpx.Response(200, json=[{"version": 2}, {"version": 1}])]

    def handler(request):
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert demo_with(handler).registered_versions("w") == [1, 2]
    assert no_waiting == [1.0, 2.0, 4.0]


def test_tries_are_bounded_and_say_why(no_waiting):
    with pytest.raises(DemoError, match=r"did not answer after 5 tries \(HTTP 503: busy\)"):
        demo_with(lambda request: httpx.Response(503, text="busy")).execution("e1")
    assert len(no_waiting) == 4


def test_an_answer_that_will_not_change_is_not_tried_again(no_waiting):
    with pytest.raises(DemoError, match="HTTP 404: no such workflow"):
        demo_with(lambda request: httpx.Response(404, text="no such workflow")).execution("e1")
    assert no_waiting == []


def test_a_start_whose_answer_was_lost_is_not_sent_twice(no_waiting):
    """The first start reaches Conductor but its answer times out: the retry finds it by correlationId."""
    started: dict[str, str] = {}
    sent: list[str] = []

    def conductor(request: httpx.Request) -> httpx.Response:
        sent.append(f"{request.method} {request.url.path}")
        if request.url.path == "/api/workflow/w":
            started[request.url.params["correlationId"]] = f"id-{len(started)}"
            raise httpx.ReadTimeout("the answer was lost")
        correlation_id = json.loads(request.content)[0]
        found = [{"workflowId": started[correlation_id]}] if correlation_id in started else []
        return httpx.Response(200, json={correlation_id: found})

    assert demo_with(conductor).start_execution("w", 1, {"a": 1}) == "id-0"
    assert sent == ["POST /api/workflow/w", "POST /api/workflow/w/correlated"]
