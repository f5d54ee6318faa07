"""Run the real operator (`python -m conductor_operator`) as a child process against the local servers."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

from testenv.servers import free_port
from testenv.tools import REPO_ROOT, TestEnvError

FAST_SETTINGS = {"RESYNC_INTERVAL": "2s", "RETRY_MIN": "1s", "RETRY_MAX": "4s", "LOG_LEVEL": "INFO"}
"""Short intervals so tests and the demo see reactions within seconds."""


def python_for(uid: int) -> tuple[str, str | None]:
    """A Python that ``uid`` may run, with the project's packages: this one, or, when its installation is out of
    that uid's reach (a pyenv under /root), the system's python3 of the same minor version given this
    virtualenv's site-packages."""
    def runs(python: str) -> bool:
        try:
            return subprocess.run([python, "-c", "pass"], user=uid, group=uid, cwd="/",
                                  capture_output=True).returncode == 0
        except PermissionError:
            return False
    if runs(sys.executable):
        return sys.executable, None
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    system = shutil.which(f"python{minor}", path="/usr/bin:/usr/local/bin") or ""
    if not system or not runs(system):
        raise TestEnvError(f"no Python {minor} that uid {uid} may run: {sys.executable} is out of its reach and "
                           f"/usr/bin has no python{minor} (apt-get install python3)")
    return system, sysconfig.get_paths()["purelib"]


class OperatorProcess:
    def __init__(self, kubeconfig: Path, log_path: Path, *, uid: int | None = None, **env: str):
        """``uid`` runs the process as that user and group id (as root only), as a pod's securityContext does."""
        self.kubeconfig = kubeconfig
        self.log_path = log_path
        self.uid = uid
        self.python, site_packages = (sys.executable, None) if uid is None else python_for(uid)
        self.extra_env = env
        self.python_path = os.pathsep.join(filter(None, [str(REPO_ROOT / "operator"), site_packages]))
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.metrics_port = 0

    def start(self, timeout: float = 60) -> OperatorProcess:
        self.port = free_port()
        self.metrics_port = free_port()  # /metrics (metrics_url); METRICS_PORT in extra env overrides it
        env = {**os.environ, **FAST_SETTINGS, "METRICS_PORT": str(self.metrics_port), **self.extra_env,
               "KUBECONFIG": str(self.kubeconfig),
               "LIVENESS_ENDPOINT": f"http://127.0.0.1:{self.port}/healthz",
               "PYTHONPATH": self.python_path}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen([self.python, "-m", "conductor_operator"], stdout=log,
                                            stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT,
                                            start_new_session=True, user=self.uid, group=self.uid)
        self.wait_live(timeout)
        return self

    def wait_live(self, timeout: float) -> None:
        """Until the started process answers its liveness endpoint; TestEnvError with its log when it exits or
        does not answer in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise TestEnvError(f"the operator exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise TestEnvError(f"the operator was not live within {timeout}s:\n{self.log_tail()}")

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def kill(self) -> None:
        """SIGKILL: no cleanup, as when a pod is evicted or a node dies."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")
