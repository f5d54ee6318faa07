"""A small Conductor worker for the demo and the end-to-end tests.

It polls the given task types over Conductor's REST API and completes each task with the
output its handler returns, after an optional delay (to keep executions in flight for a while).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

Handler = Callable[[dict], dict]


class Worker:
    def __init__(self, conductor_url: str, handlers: dict[str, Handler], *, delay: float = 0.0,
                 worker_id: str = "testenv-worker", poll_interval: float = 0.2):
        self.api = f"{conductor_url.rstrip('/')}/api"
        self.handlers = handlers
        self.delay = delay
        self.worker_id = worker_id
        self.poll_interval = poll_interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Worker:
        self._thread = threading.Thread(target=self._run, name=f"worker-{self.worker_id}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(10)

    def __enter__(self) -> Worker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _run(self) -> None:
        with httpx.Client(timeout=10) as http:
            while not self._stop.is_set():
                worked = False
                for task_type, handler in self.handlers.items():
                    try:
                        worked |= self._poll_once(http, task_type, handler)
                    except httpx.HTTPError:
                        time.sleep(1)  # the server may be restarting; keep polling
                if not worked:
                    self._stop.wait(self.poll_interval)

    def _poll_once(self, http: httpx.Client, task_type: str, handler: Handler) -> bool:
        response = http.get(f"{self.api}/tasks/poll/{task_type}", params={"workerid": self.worker_id})
        if response.status_code == 204 or not response.content:
            return False
        response.raise_for_status()
        task = response.json()
        if not task or not task.get("taskId"):
            return False
        if self.delay:
            self._stop.wait(self.delay)
        try:
            result = {"status": "COMPLETED", "outputData": handler(task.get("inputData") or {})}
        except Exception as exc:  # a failing handler fails the task, as a real worker would
            result = {"status": "FAILED", "reasonForIncompletion": str(exc)}
        http.post(f"{self.api}/tasks", json={"taskId": task["taskId"], "workflowInstanceId": task["workflowInstanceId"],
                                              "workerId": self.worker_id, **result}).raise_for_status()
        return True
