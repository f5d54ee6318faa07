"""Start and stop the real servers of the test environment on loopback.

``Environment`` starts etcd, kube-apiserver (TLS, RBAC, an admin client certificate) and the
Conductor OSS server (SQLite in a temp dir), each on a free port, and health-checks each one.
A server that cannot start raises ``TestEnvError`` naming it, with the end of its log.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from testenv.pki import Pki
from testenv.tools import TestEnvError, Tools, ensure_tools


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """One child process with its log file; stopped with its whole process group."""

    name: str
    argv: list[str]
    log_path: Path
    cwd: Path
    env: dict[str, str] | None = None
    process: subprocess.Popen | None = field(default=None, init=False)

    def start(self) -> None:
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.cwd,
                                            env=self.env, start_new_session=True)
        except OSError as exc:
            raise TestEnvError(f"{self.name} could not be started ({self.argv[0]}): {exc}") from exc
        finally:
            log.close()

    def wait_ready(self, probe: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise TestEnvError(f"{self.name} exited with code {self.process.returncode} while starting; "
                                   f"last lines of {self.log_path}:\n{self.log_tail()}")
            if probe():
                return
            time.sleep(0.2)
        raise TestEnvError(f"{self.name} was not healthy within {timeout:.0f}s; "
                           f"last lines of {self.log_path}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 15) -> None:
        if not self.process or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)


def _http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


class ControlPlane:
    """etcd plus kube-apiserver, started the way controller-runtime's envtest starts them."""

    def __init__(self, tools: Tools, workdir: Path):
        self.tools = tools
        self.dir = workdir / "kube"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.pki = Pki(self.dir / "pki")
        self.etcd_port, self.apiserver_port = free_port(), free_port()
        self.url = f"https://127.0.0.1:{self.apiserver_port}"
        self.kubeconfig = self.dir / "kubeconfig"
        self.etcd: Server | None = None
        self.apiserver: Server | None = None

    def start(self) -> None:
        etcd_url = f"http://127.0.0.1:{self.etcd_port}"
        self.etcd = Server("etcd", [
            str(self.tools.etcd), f"--data-dir={self.dir / 'etcd'}",
            f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls=http://127.0.0.1:{free_port()}", "--unsafe-no-fsync=true",
            "--log-level=warn",
        ], self.dir / "etcd.log", self.dir)
        self.etcd.start()
        self.etcd.wait_ready(lambda: _http_ok(f"{etcd_url}/health"), timeout=60)

        self.apiserver = Server("kube-apiserver", [
            str(self.tools.kube_apiserver), f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1", f"--secure-port={self.apiserver_port}",
            f"--cert-dir={self.dir / 'certs'}",
            f"--tls-cert-file={self.pki.serving_cert}", f"--tls-private-key-file={self.pki.serving_key}",
            f"--client-ca-file={self.pki.ca_cert}",
            "--authorization-mode=RBAC", "--service-cluster-ip-range=10.0.0.0/24",
            "--allow-privileged=true", "--disable-admission-plugins=ServiceAccount",
            f"--service-account-issuer={self.url}/",
            f"--service-account-key-file={self.pki.sa_pub}",
            f"--service-account-signing-key-file={self.pki.sa_key}",
        ], self.dir / "kube-apiserver.log", self.dir)
        self.apiserver.start()
        context = self.admin_ssl_context()
        self.apiserver.wait_ready(lambda: _http_ok(f"{self.url}/readyz", context), timeout=120)
        self._write_kubeconfig()

    def admin_ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        context.load_cert_chain(str(self.pki.admin_cert), str(self.pki.admin_key))
        return context

    def _write_kubeconfig(self) -> None:
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "testenv",
            "clusters": [{"name": "testenv", "cluster": {
                "server": self.url, "certificate-authority": str(self.pki.ca_cert)}}],
            "users": [{"name": "admin", "user": {
                "client-certificate": str(self.pki.admin_cert), "client-key": str(self.pki.admin_key)}}],
            "contexts": [{"name": "testenv", "context": {"cluster": "testenv", "user": "admin"}}],
        }
        self.kubeconfig.write_text(yaml.safe_dump(config))

    def stop(self) -> None:
        for server in (self.apiserver, self.etcd):
            if server:
                server.stop()


class ConductorServer:
    """The Conductor OSS boot jar with SQLite for data, queues and index in a temp dir."""

    def __init__(self, tools: Tools, workdir: Path, port: int | None = None):
        self.tools = tools
        self.dir = workdir / "conductor"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: Server | None = None

    def launch(self) -> None:
        """Start the process without waiting: it boots slowly, so callers can do other work meanwhile."""
        db = self.dir / "conductor.db"
        self.server = Server("conductor-server", [
            str(self.tools.java), "-Xms256m", "-Xmx1g", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-jar", str(self.tools.conductor_jar),
            f"--server.port={self.port}", "--server.address=127.0.0.1",
            f"--spring.datasource.url=jdbc:sqlite:{db}?busy_timeout=15000&journal_mode=WAL",
        ], self.dir / "conductor.log", self.dir)
        self.server.start()

    def wait_healthy(self, timeout: float = 240) -> None:
        self.server.wait_ready(lambda: _http_ok(f"{self.url}/health"), timeout=timeout)

    def start(self) -> None:
        self.launch()
        self.wait_healthy()

    def stop(self) -> None:
        if self.server:
            self.server.stop()


class Environment:
    """The whole test environment. Use as a context manager, or call start() and stop()."""

    def __init__(self, workdir: Path | None = None, keep: bool = False):
        self._own_dir = workdir is None
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="conductor-operator-testenv-"))
        self.keep = keep
        self.tools = ensure_tools()
        self.control_plane = ControlPlane(self.tools, self.dir)
        self.conductor = ConductorServer(self.tools, self.dir)

    def start(self) -> Environment:
        try:
            self.conductor.launch()
            self.control_plane.start()
            self.conductor.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.conductor.stop()
        self.control_plane.stop()
        if self._own_dir and not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def describe(self) -> dict:
        return {
            "kubeconfig": str(self.control_plane.kubeconfig),
            "kube_apiserver": self.control_plane.url,
            "conductor": self.conductor.url,
            "conductor_api": f"{self.conductor.url}/api",
            "kubectl": str(self.tools.kubectl),
            "helm": str(self.tools.helm),
            "workdir": str(self.dir),
        }

    def __enter__(self) -> Environment:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
