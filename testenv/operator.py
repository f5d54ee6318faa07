"""Run the real operator (`python -m conductor_operator`) as a child process against the local servers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from testenv.servers import free_port
from testenv.tools import REPO_ROOT, TestEnvError

FAST_SETTINGS = {"RESYNC_INTERVAL": "2s", "RETRY_MIN": "1s", "RETRY_MAX": "4s", "LOG_LEVEL": "INFO"}
"""Short intervals so tests and the demo see reactions within seconds."""


class OperatorProcess:
    def __init__(self, kubeconfig: Path, log_path: Path, **env: str):
        self.kubeconfig = kubeconfig
        self.log_path = log_path
        self.extra_env = env
        self.process: subprocess.Popen | None = None
        self.port = 0

    def start(self, timeout: float = 60) -> OperatorProcess:
        self.port = free_port()
        env = {**os.environ, **FAST_SETTINGS, **self.extra_env, "KUBECONFIG": str(self.kubeconfig),
               "LIVENESS_ENDPOINT": f"http://127.0.0.1:{self.port}/healthz",
               "PYTHONPATH": str(REPO_ROOT / "operator")}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "conductor_operator"], stdout=log,
                                            stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT,
                                            start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise TestEnvError(f"the operator exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        raise TestEnvError(f"the operator was not live within {timeout}s:\n{self.log_tail()}")

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
