"""The benchmarks keep working: each runs small against the session's servers (figures are not judged, only that
they are printed and sane)."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest

from bench import at_rest, moving_step, one_change, registration
from bench.harness import CountingProxy, path_template

pytestmark = pytest.mark.realenv


async def test_the_moving_step_benchmark_reads_the_old_executions_only_for_a_wave_about_to_move(conductor_url,
                                                                                                capsys):
    await moving_step.run(conductor_url, executions=20, rounds=1)  # asserts what each wave state read
    printed = capsys.readouterr().out
    assert "20 executions in flight, 10 of them in the ledger as moved" in printed
    assert "a wave about to move (baseline)" in printed and "of the baseline" in printed


@pytest.fixture
def state_file(tmp_path, kubeconfig, conductor_url, tools) -> str:
    """The session's servers as a state file, as `python -m testenv up` writes it."""
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"kubeconfig": str(kubeconfig), "conductor": conductor_url,
                                "kubectl": str(tools.kubectl)}))
    return str(path)


def figure(pattern: str, printed: str) -> float:
    found = re.search(pattern, printed)
    assert found, f"{pattern!r} not printed:\n{printed}"
    return float(found.group(1))


def test_path_templates_keep_the_route_and_drop_names_and_ids():
    assert path_template("/api/workflow/running/orders_v1") == "/api/workflow/running/{}"
    assert path_template("/api/metadata/workflow/orders") == "/api/metadata/workflow/{}"
    assert path_template("/api/metadata/workflow/orders/3") == "/api/metadata/workflow/{}/{}"
    assert path_template("/api/workflow/bulk/search?includeTasks=false") == "/api/workflow/bulk/search"
    assert path_template("/api/workflow/0f1e2d3c-aaaa/pause") == "/api/workflow/{}/pause"


def test_the_counting_proxy_counts_forwards_and_refuses_with_retry_after(conductor_url):
    proxy = CountingProxy(conductor_url).start()
    try:
        assert httpx.get(f"{proxy.url}/api/version").status_code == 200
        assert httpx.get(f"{proxy.url}/api/metadata/workflow/no_such_workflow_xyz").status_code == 404
        proxy.refuse(30, status=429, retry_after=7)
        refused = httpx.get(f"{proxy.url}/api/version")
        assert (refused.status_code, refused.headers["Retry-After"]) == (429, "7")
        proxy.refuse(0)
        assert httpx.get(f"{proxy.url}/api/version").status_code == 200
        assert proxy.snapshot() == {"GET /api/version": 2, "GET /api/metadata/workflow/{}": 1}
        assert proxy.refused == {"GET /api/version": 1}

        since = time.monotonic()
        proxy.refuse_next(2, status=503)
        assert [httpx.get(f"{proxy.url}/api/version").status_code for _ in range(3)] == [503, 503, 200]
        proxy.delay = 0.3
        assert httpx.get(f"{proxy.url}/api/version").status_code == 200
        calls = proxy.calls_between(since)
        assert [(status, seconds >= 0.3) for _, seconds, _, status in calls] == [
            (503, False), (503, False), (200, False), (200, True)], calls
    finally:
        proxy.stop()


def test_the_registration_benchmark_prints_times_calls_and_memory_then_one_change(state_file, conductor_url,
                                                                                  capsys):
    assert registration.main(["--small", "--testenv", state_file]) == 0
    printed = capsys.readouterr().out
    assert "Registration: 20 WorkflowDefinitions (5 workflows x 4 versions)" in printed
    assert "RESYNC_INTERVAL=15s" in printed, "the operator's default settings, stated"
    assert figure(r"naive CI loop \(20 sequential POSTs\)\s+([\d.]+)s", printed) > 0
    assert figure(r"one bulk PUT of all 20\s+([\d.]+)s", printed) > 0
    after = figure(r"end of kubectl apply to all Ready\s+([\d.]+)s", printed)
    assert figure(r"start of kubectl apply to all Ready\s+([\d.]+)s", printed) >= after
    assert "ratio to the naive loop" in printed and "(goal <= 1.0x)" in printed
    assert 0 < figure(r"Conductor calls per definition, apply to all Ready\s+([\d.]+)", printed) < 50
    assert "PUT /api/metadata/workflow" in printed, "the calls by path"
    assert 20 < figure(r"operator RSS: peak (\d+) MiB", printed) < 2000

    assert "One change at a time with 20 WorkflowDefinitions present: 5 times a new version" in printed
    p50, p99 = figure(r"p50 ([\d.]+)s", printed), figure(r"p99 ([\d.]+)s", printed)
    assert 0 < p50 <= p99 < 120
    assert "over 5 changes" in printed


def test_one_change_alone_sets_up_its_definitions(state_file, capsys):
    assert one_change.main(["--definitions", "8", "--changes", "2", "--testenv", state_file]) == 0
    printed = capsys.readouterr().out
    assert "One change at a time with 8 WorkflowDefinitions present: 2 times" in printed
    assert "over 2 changes" in printed


def test_the_at_rest_benchmark_prints_calls_and_cpu_per_minute_against_the_ideal_and_rss(state_file, capsys):
    assert at_rest.main(["--small", "--testenv", state_file]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"At rest: 20 WorkflowDefinitions \(5 workflows x 4 versions; \d+ workflows with running "
                     r"executions\) and 2 MigrationPlans \(1 Completed, 1 Draining\); 0 definitions not Ready",
                     printed), printed
    assert "RESYNC_INTERVAL=15s" in printed
    assert figure(r"Conductor calls per minute\s+([\d.]+)", printed) > 0
    ideal = figure(r"baseline, the ideal\s+([\d.]+)", printed)
    assert ideal == pytest.approx(5 * 4 + figure(r"\+ (\d+) bulk execution reads", printed) * 4 + 20 / 5, rel=0.01)
    assert figure(r"ratio to the ideal\s+([\d.]+)x", printed) > 0
    assert 0 < figure(r"operator CPU seconds per minute\s+([\d.]+)", printed) < 120
    assert 20 < figure(r"operator RSS with 20 definitions and 2 plans: (\d+) MiB", printed) < 2000
