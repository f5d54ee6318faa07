"""What the benchmarks share: the servers, a counting proxy in front of Conductor, the real operator, and its
resource use.

    with servers(args.testenv) as found, Bench(found, "registration") as bench:
        bench.start_operator()               # the operator's default settings (DEFAULT_SETTINGS)
        ...                                  # apply resources, bench.wait_ready(...)
        bench.proxy.since(before)            # Conductor calls by method and path template

The servers are those of a running test environment (``--testenv STATE`` or CONDUCTOR_OPERATOR_TESTENV, the
state file `python -m testenv up` writes), else an Environment started for the run and stopped after it. On
a shared environment, other operators (a test session's, run cluster-wide) may serve the benchmark's namespace
too: the harness says so when it sees one, and their calls are then counted with the benchmark's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from aiohttp import ClientSession, ClientTimeout, TCPConnector, web
from kubernetes import client, config

from testenv.operator import OperatorProcess
from testenv.servers import Environment, free_port
from testenv.tools import REPO_ROOT, TestEnvError

GROUP, VERSION = "conductor-operator.io", "v1alpha1"
PLURALS = {"ConductorCluster": "conductorclusters", "WorkflowDefinition": "workflowdefinitions",
           "TaskDefinition": "taskdefinitions", "MigrationPlan": "migrationplans"}

DEFAULT_SETTINGS = {"RESYNC_INTERVAL": "15s", "RETRY_MIN": "5s", "RETRY_MAX": "5m", "LOG_LEVEL": "INFO"}
"""The operator's own defaults (settings.py), written out: testenv's OperatorProcess would otherwise add its
FAST_SETTINGS, whose 2 s resync would multiply every at-rest figure by seven."""

TRACED_OPERATOR = Path(__file__).with_name("_traced_operator.py")
IMAGE_LIKE_OPERATOR = Path(__file__).with_name("_image_like.py")


def describe_settings(settings: dict[str, str]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(settings.items()))


# ---- the counting proxy -------------------------------------------------------------------------

_LITERAL_SEGMENTS = frozenset({
    "api", "metadata", "workflow", "taskdefs", "running", "bulk", "search", "search-v2", "terminate", "restart",
    "pause", "resume", "retry", "rerun", "version", "versions", "token", "event", "scheduler", "schedules", "tasks",
    "queue", "polldata", "correlated", "upgrade", "health", "skiptask", "remove", "decide", "admin", "external",
    "all", "poll", "batch", "terminate-remove", "names-and-versions", "latest-versions",
})
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
                         "transfer-encoding", "upgrade", "host", "content-length", "content-encoding"})


def path_template(path: str) -> str:
    """``/api/workflow/running/orders`` -> ``/api/workflow/running/{}``: ids, names and versions replaced."""
    return "/".join(part if not part or part in _LITERAL_SEGMENTS else "{}" for part in path.split("?")[0].split("/"))


class CountingProxy:
    """An HTTP proxy in front of Conductor, on loopback, in a thread of its own: it forwards every request and
    counts it as ``METHOD /path/{template}``. ``refuse(seconds, status, retry_after)`` makes it answer every
    request with that status (and Retry-After) for a while instead, as a throttling gateway would;
    ``refuse_next(count, ...)`` the next ``count`` requests."""

    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        self.port = 0
        self._counts: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self._calls: list[tuple[float, float, str, int]] = []
        self._lock = threading.Lock()
        self._refuse_until = 0.0
        self._refuse_count = 0
        self.delay = 0.0
        """Seconds every forwarded request waits before it goes on: a slow Conductor."""
        self._refusal: tuple[int, float | None] = (503, None)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> CountingProxy:
        started = threading.Event()
        failure: list[BaseException] = []

        async def serve() -> None:
            self._stopped = asyncio.Event()
            session = ClientSession(connector=TCPConnector(limit=64), timeout=ClientTimeout(total=300))
            app = web.Application(client_max_size=256 * 1024 * 1024)

            async def handle(request: web.Request) -> web.Response:
                return await self._forward(session, request)

            app.router.add_route("*", "/{tail:.*}", handle)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            try:
                self.port = free_port()
                await web.TCPSite(runner, "127.0.0.1", self.port, backlog=1024).start()
            except BaseException as exc:
                failure.append(exc)
                started.set()
                raise
            started.set()
            await self._stopped.wait()
            await runner.cleanup()
            await session.close()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            with contextlib.suppress(BaseException):
                self._loop.run_until_complete(serve())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="counting-proxy", daemon=True)
        self._thread.start()
        started.wait(30)
        if failure or not self.port:
            raise TestEnvError(f"the counting proxy did not start: {failure[0] if failure else 'timed out'}")
        return self

    async def _forward(self, session: ClientSession, request: web.Request) -> web.Response:
        key = f"{request.method} {path_template(request.path)}"
        with self._lock:
            arrived = time.monotonic()
            refusing = arrived < self._refuse_until or self._refuse_count > 0
            self._refuse_count -= self._refuse_count > 0
            (self.refused if refusing else self._counts)[key] += 1
            if refusing:
                self._calls.append((arrived, 0.0, key, self._refusal[0]))
        if refusing:
            status, retry_after = self._refusal
            headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
            return web.json_response({"status": status, "message": "refused by the benchmark's proxy"},
                                     status=status, headers=headers)
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        began, status = time.monotonic(), 502
        if self.delay:
            await asyncio.sleep(self.delay)
        try:
            async with session.request(request.method, self.upstream + request.path_qs, headers=headers,
                                       data=body or None, allow_redirects=False) as answer:
                payload = await answer.read()
                status = answer.status
                kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP}
                return web.Response(status=answer.status, headers=kept, body=payload)
        except Exception as exc:  # noqa: BLE001  (the proxy answers what a gateway would)
            return web.Response(status=502, text=f"benchmark proxy: upstream failed: {type(exc).__name__}")
        finally:
            with self._lock:
                self._calls.append((began, time.monotonic() - began, key, status))

    def refuse(self, seconds: float, status: int = 429, retry_after: float | None = None) -> None:
        with self._lock:
            self._refusal = (status, retry_after)
            self._refuse_until = time.monotonic() + seconds

    def refuse_next(self, count: int, status: int = 429, retry_after: float | None = None) -> None:
        with self._lock:
            self._refusal = (status, retry_after)
            self._refuse_count = count

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self._counts)

    def calls_between(self, start: float, end: float | None = None) -> list[tuple[float, float, str, int]]:
        """Each call that arrived in [start, end) (time.monotonic): (began, seconds, key, status); one the proxy
        refused has its refusal's status and no latency."""
        with self._lock:
            return [call for call in self._calls if call[0] >= start and (end is None or call[0] < end)]

    def since(self, before: Counter[str]) -> Counter[str]:
        now = self.snapshot()
        return Counter({key: now[key] - before.get(key, 0) for key in now if now[key] - before.get(key, 0) > 0})

    def stop(self) -> None:
        if self._loop and self._stopped and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread:
            self._thread.join(10)


def format_latencies(calls: list[tuple[float, float, str, int]], limit: int = 6, indent: str = "    ") -> str:
    """The slowest templates: count, p50, p99 and the largest latency of each, slowest first."""
    by_key: dict[str, list[float]] = {}
    for _, seconds, key, _ in calls:
        by_key.setdefault(key, []).append(seconds)
    rows = sorted(by_key.items(), key=lambda item: max(item[1]), reverse=True)[:limit]
    lines = []
    for key, times in rows:
        times.sort()
        p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
        lines.append(f"{indent}{len(times):6d} x  p50 {times[len(times) // 2]:6.2f}s  p99 {p99:6.2f}s  "
                     f"max {times[-1]:6.2f}s  {key}")
    return "\n".join(lines) or f"{indent}(none)"


def write_trace(path: Path, calls: list[tuple[float, float, str, int]], since: float) -> None:
    """Each call as a line: seconds since ``since`` it began, its latency, status and template (for diagnosis)."""
    with path.open("w") as out:
        for began, seconds, key, status in sorted(calls):
            out.write(f"{began - since:9.3f} {seconds:8.3f} {status} {key}\n")


def format_calls(calls: Counter[str], per: float = 1.0, unit: str = "", limit: int = 12, indent: str = "    ") -> str:
    """The calls by template, largest first, each divided by ``per`` (a count of definitions, minutes)."""
    lines = [f"{indent}{count / per:10.2f}{unit}  {key}" for key, count in calls.most_common(limit)]
    if len(calls) > limit:
        lines.append(f"{indent}{sum(c for _, c in calls.most_common()[limit:]) / per:10.2f}{unit}  (other)")
    return "\n".join(lines) or f"{indent}(none)"


# ---- the operator and its resource use ----------------------------------------------------------

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """Resident memory (VmRSS), or its peak (VmHWM), from /proc/<pid>/status, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise LookupError(f"no {field} for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of the process (all its threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


class BenchOperator(OperatorProcess):
    """The real operator, with exactly the settings given (no FAST_SETTINGS), watching the benchmark's namespace, run
    as the image runs it (_image_like.py); ``argv`` replaces that (the traced wrapper)."""

    def __init__(self, kubeconfig: Path, log_path: Path, settings: dict[str, str], argv: list[str] | None = None):
        super().__init__(kubeconfig, log_path)
        self.settings = settings
        self.argv = argv or [sys.executable, str(IMAGE_LIKE_OPERATOR)]

    def start(self, timeout: float = 120) -> BenchOperator:
        self.port = free_port()
        inherited = {k: v for k, v in os.environ.items() if k not in DEFAULT_SETTINGS}
        env = {**inherited, **self.settings, "KUBECONFIG": str(self.kubeconfig),
               "LIVENESS_ENDPOINT": f"http://127.0.0.1:{self.port}/healthz", "PYTHONPATH": self.python_path}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT,
                                            start_new_session=True)
        try:
            self.wait_live(timeout)
        except TestEnvError:
            self.kill()  # not left running behind the error
            raise
        return self

    def log_count(self, text: str) -> int:
        """How many lines of the operator's log contain ``text``."""
        try:
            with self.log_path.open(errors="replace") as log:
                return sum(1 for line in log if text in line)
        except OSError:
            return 0

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss(self) -> float:
        return rss_mib(self.pid)

    def peak_rss(self) -> float:
        return rss_mib(self.pid, "VmHWM")

    def cpu(self) -> float:
        return cpu_seconds(self.pid)


# ---- the servers --------------------------------------------------------------------------------

@dataclass
class Servers:
    kubeconfig: Path
    conductor: str
    kubectl: str
    reused: bool
    workdir: Path


def add_testenv_argument(parser) -> None:
    parser.add_argument("--testenv", default=os.environ.get("CONDUCTOR_OPERATOR_TESTENV"),
                        help="the state file of a running test environment (python -m testenv up) to use; default "
                             "$CONDUCTOR_OPERATOR_TESTENV, else one is started for the run")


@contextlib.contextmanager
def _stopping_cleanly() -> Iterator[None]:
    """SIGTERM and SIGINT (which a shell ignores for background jobs) raise, so every server, proxy and operator a
    benchmark started is stopped on the way out; the handlers before are restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def leave(signum, frame) -> None:
        raise SystemExit(128 + signum)

    before = signal.signal(signal.SIGTERM, leave), signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before[0])
        signal.signal(signal.SIGINT, before[1])


@contextlib.contextmanager
def servers(state_file: str | None = None) -> Iterator[Servers]:
    """The servers of a running test environment (its state file), else a fresh Environment for the run."""
    with _stopping_cleanly():
        yield from _servers(state_file)


def _servers(state_file: str | None) -> Iterator[Servers]:
    if state_file:
        info = json.loads(Path(state_file).read_text())
        with tempfile.TemporaryDirectory(prefix="bench-") as workdir:  # the operator's logs, the applied files
            yield Servers(Path(info["kubeconfig"]), info["conductor"], info["kubectl"], True, Path(workdir))
        return
    print("starting kube-apiserver, etcd and Conductor for the run (Conductor takes ~30 s) ...", flush=True)
    with Environment() as env:
        info = env.describe()
        yield Servers(Path(info["kubeconfig"]), info["conductor"], info["kubectl"], False, env.dir)


def machine() -> str:
    """The load and cores of the machine, for the printout: every figure depends on them."""
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return f"{os.cpu_count()} cores, load average {load}"


# ---- a benchmark's namespace, cluster and operator ----------------------------------------------

def ready(body: dict) -> bool:
    """Ready=True for the object's current generation."""
    status = body.get("status") or {}
    current = status.get("observedGeneration") == body["metadata"].get("generation")
    return current and any(c.get("type") == "Ready" and c.get("status") == "True"
                           for c in status.get("conditions") or [])


class Bench:
    """A namespace with a ConductorCluster "default" pointing at a counting proxy in front of the Conductor, and
    the real operator watching that namespace only."""

    def __init__(self, found: Servers, name: str):
        self.servers = found
        self.namespace = f"bench-{name}-{uuid.uuid4().hex[:6]}"
        self.api = config.new_client_from_config(config_file=str(found.kubeconfig))
        self.custom = client.CustomObjectsApi(self.api)
        self.core = client.CoreV1Api(self.api)
        self.proxy = CountingProxy(found.conductor)
        self.operator: BenchOperator | None = None
        self.log_dir = found.workdir
        self.conductor_api = f"{found.conductor}/api"
        self.workflows: set[tuple[str, int]] = set()
        """What the benchmark registered in Conductor: removed at the end when the servers are shared."""
        self.executions: list[str] = []
        """Executions the benchmark started: terminated at the end."""

    # -- setup and teardown

    def __enter__(self) -> Bench:
        try:
            self.setup()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def setup(self) -> None:
        self.install_crds()
        self.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=self.namespace)))
        self.proxy.start()
        self.create("ConductorCluster", "default", {"url": self.proxy.url})
        time.sleep(2)
        if ((self.get("ConductorCluster", "default") or {}).get("status") or {}).get("conditions"):
            print("  NOTE: another operator serves this namespace (a cluster-wide one on the shared servers): its "
                  "Conductor calls are counted too", flush=True)

    def install_crds(self) -> None:
        self.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO_ROOT / "crds"))
        names = {f"{plural}.{GROUP}" for plural in PLURALS.values()}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            listed = json.loads(self.kubectl("get", "crd", "-o", "json").stdout)["items"]
            established = {crd["metadata"]["name"] for crd in listed
                           if any(c.get("type") == "Established" and c.get("status") == "True"
                                  for c in (crd.get("status") or {}).get("conditions") or [])}
            if names <= established:
                return
            time.sleep(0.5)
        raise TestEnvError(f"CRDs not established within 60s: {sorted(names)}")

    def start_operator(self, settings: dict[str, str] | None = None, *, traced: Path | None = None,
                       frames: int = 10, wait_cluster: bool = True) -> BenchOperator:
        """The operator, watching this namespace; ``traced``: run under tracemalloc keeping ``frames`` frames of
        each allocation (25 makes its start-up take minutes on a busy machine), dumping to that file on SIGUSR1
        (see _traced_operator.py)."""
        settings = {**(DEFAULT_SETTINGS if settings is None else settings), "WATCH_NAMESPACES": self.namespace}
        argv = None
        if traced is not None:
            argv = [sys.executable, "-X", f"tracemalloc={frames}", str(TRACED_OPERATOR)]
            settings["BENCH_TRACEMALLOC_DUMP"] = str(traced)
        log = self.log_dir / f"operator-{self.namespace}-{int(time.time())}.log"
        self.operator = BenchOperator(self.servers.kubeconfig, log, settings, argv).start(
            timeout=600 if traced is not None else 120)
        if wait_cluster:
            self.wait_ready("ConductorCluster", 1, timeout=60, quiet=True)
        return self.operator

    def stop_operator(self) -> None:
        if self.operator:
            self.operator.stop()
            self.operator = None

    def close(self) -> None:
        try:
            if self.servers.reused:
                self._tidy_shared_servers()
        finally:
            self.stop_operator()
            self.proxy.stop()
            self.api.close()

    def _tidy_shared_servers(self) -> None:
        """On shared servers, leave nothing behind that other operators (cluster-wide) would resume and read."""
        with contextlib.suppress(Exception):
            if self.operator is None:
                self.start_operator(DEFAULT_SETTINGS, wait_cluster=False)
            self.kubectl("delete", "-n", self.namespace, "migrationplans,workflowdefinitions,taskdefinitions",
                         "--all", "--wait=false", check=False)
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and (self.items("WorkflowDefinition") or self.items("MigrationPlan")):
                time.sleep(1)
        with contextlib.suppress(Exception):
            self.stop_operator()
            self.kubectl("delete", "-n", self.namespace, "conductorclusters", "--all", "--wait=false", check=False)
            self.core.delete_namespace(self.namespace)
        with contextlib.suppress(Exception), httpx.Client(base_url=self.conductor_api, timeout=60) as conductor:
            for first in range(0, len(self.executions), 1000):
                conductor.post("/workflow/bulk/terminate", json=self.executions[first:first + 1000],
                               params={"reason": "benchmark done"})
            for name, version in sorted(self.workflows):
                conductor.delete(f"/metadata/workflow/{name}/{version}")

    # -- the API server

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([self.servers.kubectl, f"--kubeconfig={self.servers.kubeconfig}", *args], input=input,
                              capture_output=True, text=True, cwd=REPO_ROOT)
        if check and done.returncode != 0:
            raise TestEnvError(f"kubectl {' '.join(args[:4])} ... failed ({done.returncode}): {done.stderr[-2000:]}")
        return done

    def manifest(self, kind: str, name: str, spec: dict, labels: dict | None = None) -> dict:
        metadata = {"name": name, "namespace": self.namespace, **({"labels": labels} if labels else {})}
        return {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": metadata, "spec": spec}

    def create(self, kind: str, name: str, spec: dict, labels: dict | None = None) -> dict:
        return self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURALS[kind],
                                                           self.manifest(kind, name, spec, labels))

    def get(self, kind: str, name: str) -> dict | None:
        try:
            return self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURALS[kind], name)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def items(self, kind: str) -> list[dict]:
        """Every object of the kind in the namespace, in one list call."""
        answer = self.custom.list_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURALS[kind],
                                                           _preload_content=False)
        return json.loads(answer.data)["items"]

    def wait_ready(self, kind: str, count: int, *, timeout: float, check: Callable[[dict], bool] = ready,
                   interval: float = 0.5, quiet: bool = False, on_poll: Callable[[], object] | None = None) -> float:
        """Wait until ``count`` objects of the kind pass ``check`` (Ready for their generation), listing them once
        per poll; the monotonic time the poll that saw it began (so at most ``interval`` late)."""
        began = time.monotonic()
        last_report = began
        seen = 0
        while True:
            polled = time.monotonic()
            bodies = self.items(kind)
            seen = sum(1 for body in bodies if check(body))
            if on_poll:
                on_poll()
            if seen >= count:
                return polled
            if polled - began > timeout:
                raise TimeoutError(f"{seen}/{count} {kind} ready after {timeout:.0f}s; operator log:\n"
                                   f"{self.operator.log_tail(20) if self.operator else ''}")
            if not quiet and polled - last_report >= 15:
                print(f"    {seen}/{count} {kind} ready after {polled - began:.0f}s", flush=True)
                last_report = polled
            time.sleep(max(0.0, interval - (time.monotonic() - polled)))

    def apply_file(self, documents: Iterable[dict], *, server_side: bool = False) -> float:
        """``kubectl apply -f`` of one multi-document file; returns how long kubectl took."""
        path = self.log_dir / f"apply-{uuid.uuid4().hex[:8]}.yaml"
        path.write_text("".join("---\n" + json.dumps(document) + "\n" for document in documents))
        began = time.monotonic()
        self.kubectl("apply", *(["--server-side"] if server_side else []), "-f", str(path))
        return time.monotonic() - began


class RssSampler:
    """Samples the operator's RSS whenever called (a poll callback), keeping the peak seen."""

    def __init__(self, operator: BenchOperator):
        self.operator = operator
        self.samples: list[float] = []

    def __call__(self) -> None:
        with contextlib.suppress(OSError, LookupError):
            self.samples.append(self.operator.rss())

    @property
    def peak(self) -> float:
        return max(self.samples, default=0.0)


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (p99 of 20 values is the largest)."""
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(fraction * len(ordered)))) - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)


def dump_traced(operator: BenchOperator, dump: Path, timeout: float = 600) -> str:
    """Ask the traced operator (SIGUSR1) for its top allocation sites; the text it wrote."""
    dump.unlink(missing_ok=True)
    os.kill(operator.pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if dump.exists() and dump.read_text().rstrip().endswith("-- end --"):
            return dump.read_text()
        time.sleep(0.5)
    return f"(no tracemalloc dump in {timeout:.0f}s)"


__all__ = ["DEFAULT_SETTINGS", "Bench", "BenchOperator", "CountingProxy", "RssSampler", "Servers", "cpu_seconds",
           "describe_settings", "dump_traced", "format_calls", "machine", "median", "path_template", "percentile",
           "ready", "rss_mib", "servers"]
