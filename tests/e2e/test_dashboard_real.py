"""`kubectl conductor dashboard` against a real migration: the real operator drives a plan (and keeps its history),
the dashboard command serves it, and Debian's headless Chromium loads the page.

What the page shows is read twice: from the DOM Chromium dumps once the script ran (``--dump-dom`` with a virtual
time budget), and through the DevTools protocol, which also takes the screenshot (saved under the test's tmp
dir; with UPDATE_DASHBOARD_SCREENSHOT=1 it is copied to docs/images/dashboard.png for the README) and presses
"pause" and confirms it, as a person would, with mouse events: the plan's spec then says paused.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import httpx
import pytest
from kubernetes import client

from testenv.tools import REPO_ROOT
from tests.e2e.conftest import wait_for
from tests.e2e.test_migration_real import Executions, Onboarding, running_of, status_of, wait_phase

pytestmark = pytest.mark.realenv

PLAN = "to-v2"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                  "--hide-scrollbars", "--window-size=1280,900"]
SCREENSHOT = REPO_ROOT / "docs" / "images" / "dashboard.png"


@pytest.fixture
def executions(conductor_url) -> Executions:
    return Executions(conductor_url)


def history_points(k8s, namespace: str) -> list[dict]:
    try:
        found = client.CoreV1Api(k8s).read_namespaced_config_map(f"{PLAN}-history", namespace)
    except client.ApiException:
        return []
    return json.loads((found.data or {}).get("points") or "[]")


class Dashboard:
    """`kubectl-conductor dashboard` as a child process, on a free local port."""

    def __init__(self, kubeconfig: Path, namespace: str, log: Path):
        self.log = log
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "operator")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "conductor_operator.cli.main", "dashboard", PLAN, "-n", namespace,
             "--kubeconfig", str(kubeconfig), "--port", "0"],
            stdout=subprocess.PIPE, stderr=self.log.open("wb"), text=True, cwd=REPO_ROOT, env=env)
        line = self.process.stdout.readline()
        match = re.search(r"at (http://127\.0\.0\.1:\d+/) ", line)
        if match is None:
            self.stop()
            raise AssertionError(f"the dashboard did not start: {line!r} {log.read_text()}")
        self.url = match[1]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def dump_dom(url: str, profile: Path) -> str:
    done = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=8000",
                           "--dump-dom", url], capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class DevTools:
    """One page of a headless Chromium, driven through the DevTools protocol over aiohttp's websocket client."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse):
        self.ws, self.next_id = ws, 0

    async def call(self, method: str, **params) -> dict:
        self.next_id += 1
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        while True:
            message = await asyncio.wait_for(self.ws.receive_json(), 30)
            if message.get("id") == self.next_id:
                assert "error" not in message, f"{method}: {message['error']}"
                return message.get("result") or {}

    async def evaluate(self, expression: str):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return (result.get("result") or {}).get("value")

    async def until(self, expression: str, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if value := await self.evaluate(expression):
                return value
            await asyncio.sleep(0.3)
        raise AssertionError(f"timed out waiting for {expression}; page: "
                             f"{await self.evaluate('document.body.innerText')}")

    async def click(self, selector: str) -> None:
        """Press and release the mouse over the element's middle, as a person would."""
        box = await self.until(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) "
                               f"return null; const r = e.getBoundingClientRect(); return r.width ? "
                               f"[r.x + r.width / 2, r.y + r.height / 2] : null; }})()")
        for kind in ("mousePressed", "mouseReleased"):
            await self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)


async def drive(url: str, profile: Path, screenshot: Path) -> dict:
    """Load the page, read what it shows, take a screenshot, then press pause and confirm."""
    chromium = subprocess.Popen([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                                 "--remote-debugging-port=0", "about:blank"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        wait_for(lambda: port_file.exists() and port_file.read_text().strip(), 30, what="Chromium's DevTools port")
        port = port_file.read_text().split()[0]
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
                targets = await response.json()
            page = next(t for t in targets if t.get("type") == "page")
            async with session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                tools = DevTools(ws)
                await tools.call("Page.enable")
                await tools.call("Page.navigate", url=url)
                await tools.until("document.body && document.body.dataset.loaded === 'true' && "
                                  "document.querySelectorAll('svg.chart path').length > 1")
                shown = await tools.evaluate("""(() => ({
                    phase: document.querySelector('[data-field=phase]').textContent,
                    counts: Object.fromEntries([...document.querySelectorAll('td.running')]
                        .map((e) => [e.dataset.version, Number(e.textContent)])),
                    paths: document.querySelectorAll('svg.chart path').length,
                    title: document.title}))()""")
                height = await tools.evaluate("document.documentElement.scrollHeight")
                await tools.call("Emulation.setDeviceMetricsOverride", width=1280, height=min(height, 2000),
                                 deviceScaleFactor=1, mobile=False)
                await asyncio.sleep(0.5)
                image = await tools.call("Page.captureScreenshot", format="png")
                screenshot.write_bytes(base64.b64decode(image["data"]))
                await tools.click(f"article[data-plan='{PLAN}'] button[data-action=pause]")
                await tools.until("document.getElementById('confirm').open")
                await tools.click("#confirm-yes")
                shown["notice"] = await tools.until("!document.getElementById('notice').hidden && "
                                                    "document.getElementById('notice').textContent")
                return shown
    finally:
        chromium.terminate()
        chromium.wait(20)


def test_the_dashboard_shows_a_real_migration_and_its_pause_reaches_the_plan(
        resources, cluster, executions, conductor_url, k8s, kubeconfig, namespace, kubectl, tmp_path):
    flow = Onboarding()
    in_flight = flow.paused_on_v1(resources, executions, count=4)
    resources.create("WorkflowDefinition", "v2", flow.v2(activation="ByMigrationPlan"))
    resources.create("MigrationPlan", PLAN, flow.plan(strategy={"parallel": {}}))

    with flow.worker(conductor_url):
        wait_phase(resources, PLAN, "Draining", timeout=90)
        # New unpinned starts run the target; two of them held PAUSED keep a count on v2.
        for _ in range(2):
            started = executions.start_with(flow.workflow, None, {"value": 10})
            with contextlib.suppress(httpx.HTTPError):  # it may have completed already
                executions.pause(started)
        # The drain goes on: one v1 execution ends, then another; the operator keeps a point per interval.
        for remaining, execution_id in ((3, in_flight[0]), (2, in_flight[1])):
            executions.resume(execution_id)
            wait_for(lambda r=remaining: running_of(resources, PLAN).get(1) == r, timeout=60,
                     what=f"v1 counted {remaining}")
            time.sleep(4)
        wait_for(lambda: len(history_points(k8s, namespace)) >= 5, timeout=30, what="5 points of history")
        points = history_points(k8s, namespace)
        assert [p["running"]["1"] for p in points if "1" in p["running"]][-1] == 2
        assert {4, 3, 2} <= {p["running"].get("1") for p in points}, points

        dashboard = Dashboard(kubeconfig, namespace, tmp_path / "dashboard.log")
        try:
            status = status_of(resources, PLAN)
            assert status["phase"] == "Draining"
            expected = {str(v["version"]): v["running"] for v in status["versions"]}
            assert expected["1"] == 2

            # What the page shows once its script ran, as Chromium dumps the DOM.
            dom = dump_dom(dashboard.url, tmp_path / "chromium-dump")
            assert 'data-loaded="true"' in dom, dom[-3000:]
            assert re.search(r'data-field="phase">Draining<', dom), dom[-3000:]
            for version, running in expected.items():
                assert re.search(rf'class="running" data-version="{version}">{running}<', dom), (version, dom[-3000:])
            assert dom.count("<path ") >= 3, "the charts: v1, v2 and the old versions' drain curve"

            # The same through the DevTools protocol, with a screenshot and a press of "pause".
            screenshot = tmp_path / "dashboard.png"
            shown = asyncio.run(drive(dashboard.url, tmp_path / "chromium-cdp", screenshot))
            assert shown["phase"] == "Draining" and shown["counts"]["1"] == 2, shown
            assert shown["counts"] == {v: n for v, n in expected.items()} | {"1": 2}, shown
            assert shown["notice"] == f"MigrationPlan {namespace}/{PLAN}: spec.paused set to true.", shown
            assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 10_000
            print(f"\nscreenshot: {screenshot}")
            if os.environ.get("UPDATE_DASHBOARD_SCREENSHOT"):
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(screenshot, SCREENSHOT)

            paused = kubectl("get", "migrationplan", PLAN, "-n", namespace, "-o", "jsonpath={.spec.paused}").stdout
            assert paused == "true", "the press reached the plan's spec"
        finally:
            dashboard.stop()
        assert "Traceback" not in (tmp_path / "dashboard.log").read_text()
