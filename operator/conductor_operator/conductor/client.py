"""The one Conductor client of the operator (Conductor OSS and Orkes Conductor), on httpx.

Every call maps transport failures and HTTP errors to the small tree in ``errors``; nothing is
retried here except one token refresh on Orkes: the caller owns backoff.
"""

from __future__ import annotations

import re
import ssl
import time
from collections.abc import Callable, Iterable
from enum import StrEnum

import httpx

from conductor_operator.conductor.errors import (
    ConductorError,
    Conflict,
    NotFound,
    Rejected,
    Unauthorized,
    Unavailable,
    UnsupportedOperation,
)

TOKEN_LIFETIME = 45 * 60.0
BULK_LIMIT = 1000
RUNNING_STATES = frozenset({"RUNNING", "PAUSED"})


class Flavor(StrEnum):
    OSS = "OSS"
    ORKES = "Orkes"


_JAVA_ARGUMENT = re.compile(r"^\w+\.arg\d+(\[\d+\])?\.?")


def _validation_text(error: dict) -> str:
    """One validation error, its path without the Java method prefix ("updateWorkflowDef.arg0[0].")."""
    path = _JAVA_ARGUMENT.sub("", error.get("path") or "")
    text = error.get("message") or ""
    return f"{path}: {text}" if path else text


def _error_from(response: httpx.Response) -> ConductorError:
    message, validation = response.reason_phrase, []
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        message = body.get("message") or message
        validation = [_validation_text(v) for v in body.get("validationErrors") or [] if isinstance(v, dict)]
        if validation:
            message = "validation failed"
    elif response.text:
        message = response.text[:500]
    status = response.status_code
    kind = (NotFound if status == 404 else Conflict if status == 409 else Unauthorized if status in (401, 403)
            else Unavailable if status >= 500 else Rejected)
    return kind(status, f"HTTP {status}: {message}", validation)


class ConductorClient:
    def __init__(self, base_url: str, *, flavor: Flavor | None = None, key_id: str | None = None,
                 key_secret: str | None = None, verify: ssl.SSLContext | str | bool = True,
                 timeout: float = 30.0, connect_timeout: float = 5.0,
                 transport: httpx.AsyncBaseTransport | None = None, clock: Callable[[], float] = time.monotonic):
        root = base_url.rstrip("/")
        root = root[: -len("/api")] if root.endswith("/api") else root
        self.base_url = root
        self._flavor = flavor
        self._key_id = key_id
        self._key_secret = key_secret
        self._clock = clock
        self._token: str | None = None
        self._token_at = 0.0
        self._http = httpx.AsyncClient(base_url=f"{root}/api", verify=verify, transport=transport,
                                       timeout=httpx.Timeout(timeout, connect=connect_timeout))

    def __repr__(self) -> str:
        return f"ConductorClient({self.base_url!r}, flavor={self._flavor}, auth={'key' if self._key_id else 'none'})"

    async def __aenter__(self) -> ConductorClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ---- transport ------------------------------------------------------------------------------

    async def _send(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            return await self._http.request(method, path, headers=await self._auth_headers(), **kwargs)
        except httpx.TimeoutException as exc:
            raise Unavailable(None, f"{method} {path} timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise Unavailable(None, f"{method} {path} failed: {type(exc).__name__}: {exc}") from None

    async def _request(self, method: str, path: str, **kwargs) -> httpx.Response:
        response = await self._send(method, path, **kwargs)
        if response.status_code in (401, 403) and self._key_id:
            self._token = None  # expired or revoked: fetch a new one, once
            response = await self._send(method, path, **kwargs)
        if response.is_error:
            raise _error_from(response)
        return response

    async def _auth_headers(self) -> dict[str, str]:
        if not self._key_id:
            return {}
        if self._token is None or self._clock() - self._token_at > TOKEN_LIFETIME:
            await self._fetch_token()
        return {"X-Authorization": self._token} if self._token else {}

    async def _fetch_token(self) -> None:
        try:
            response = await self._http.post("/token", json={"keyId": self._key_id, "keySecret": self._key_secret})
        except httpx.HTTPError as exc:
            raise Unavailable(None, f"POST /token failed: {type(exc).__name__}") from None
        if response.status_code == 404:  # Conductor OSS: no authentication
            self._token, self._token_at = "", self._clock()
            return
        if response.is_error:
            error = _error_from(response)
            if isinstance(error, Rejected):
                raise Unauthorized(error.status, "Conductor refused the application key (keyId/keySecret)")
            raise error
        self._token, self._token_at = response.json().get("token", ""), self._clock()

    async def _json(self, method: str, path: str, **kwargs):
        response = await self._request(method, path, **kwargs)
        return response.json() if response.content else None

    async def _optional(self, path: str, **kwargs):
        try:
            return await self._json("GET", path, **kwargs)
        except NotFound:
            return None

    # ---- server ---------------------------------------------------------------------------------

    async def server_version(self) -> str:
        return (await self._request("GET", "/version")).text.strip()

    async def detect_flavor(self) -> Flavor:
        """OSS has no /api/token (404); Orkes answers it (with a token, or 400/401 for a bad key)."""
        if self._flavor is None:
            response = await self._send("POST", "/token", json={"keyId": "", "keySecret": ""})
            self._flavor = Flavor.OSS if response.status_code == 404 else Flavor.ORKES
        return self._flavor

    # ---- definitions ----------------------------------------------------------------------------

    async def get_workflow_def(self, name: str, version: int | None = None) -> dict | None:
        params = {"version": version} if version is not None else {}
        return await self._optional(f"/metadata/workflow/{name}", params=params)

    async def all_workflow_defs(self) -> list[dict]:
        """Every version of every workflow definition."""
        return await self._json("GET", "/metadata/workflow") or []

    async def workflow_versions(self, name: str) -> list[int]:
        return sorted(d["version"] for d in await self.all_workflow_defs() if d.get("name") == name)

    async def register_workflow_defs(self, definitions: list[dict]) -> None:
        """Upsert; Conductor answers 200 even when an item failed, so its bulk errors are read."""
        answer = await self._json("PUT", "/metadata/workflow", json=definitions) or {}
        if errors := answer.get("bulkErrorResults"):
            raise Rejected(200, "Conductor did not register " + "; ".join(f"{k}: {v}" for k, v in errors.items()))

    async def delete_workflow_def(self, name: str, version: int) -> None:
        await self._request("DELETE", f"/metadata/workflow/{name}/{version}")

    async def get_task_def(self, name: str) -> dict | None:
        return await self._optional(f"/metadata/taskdefs/{name}")

    async def register_task_defs(self, definitions: list[dict]) -> None:
        await self._request("POST", "/metadata/taskdefs", json=definitions)

    async def delete_task_def(self, name: str) -> None:
        await self._request("DELETE", f"/metadata/taskdefs/{name}")

    # ---- executions -----------------------------------------------------------------------------

    async def start_workflow(self, name: str, *, version: int | None = None, input: dict | None = None,
                             correlation_id: str | None = None, workflow_def: dict | None = None) -> str:
        """Start an execution; with ``workflow_def`` it runs that definition without registering it."""
        request = {"name": name, "input": input or {}}
        if version is not None:
            request["version"] = version
        if correlation_id:
            request["correlationId"] = correlation_id
        if workflow_def is not None:
            request["workflowDef"] = workflow_def
        return (await self._request("POST", "/workflow", json=request)).text.strip()

    async def get_execution(self, workflow_id: str, include_tasks: bool = False) -> dict:
        return await self._json("GET", f"/workflow/{workflow_id}",
                                params={"includeTasks": str(include_tasks).lower()})

    async def running_execution_ids(self, name: str) -> list[str]:
        """RUNNING and PAUSED executions of every version: Conductor ignores the version filter here."""
        return await self._json("GET", f"/workflow/running/{name}") or []

    async def get_executions(self, ids: Iterable[str]) -> list[dict]:
        """Executions (without tasks) by id, fetched in bulk batches; ids that vanished are left out."""
        ids = list(ids)
        found = []
        for start in range(0, len(ids), BULK_LIMIT):
            answer = await self._json("POST", "/workflow/bulk/search", params={"includeTasks": "false"},
                                      json=ids[start:start + BULK_LIMIT]) or {}
            found += answer.get("bulkSuccessfulResults") or []
        return found

    async def running_counts_by_version(self, name: str) -> dict[int, int]:
        counts: dict[int, int] = {}
        for execution in await self.get_executions(await self.running_execution_ids(name)):
            if execution.get("status") in RUNNING_STATES:
                version = int(execution.get("workflowVersion") or 0)
                counts[version] = counts.get(version, 0) + 1
        return counts

    async def terminate(self, workflow_id: str, reason: str) -> None:
        await self._request("DELETE", f"/workflow/{workflow_id}", params={"reason": reason})

    async def upgrade(self, workflow_id: str, *, name: str, version: int, task_output: dict | None = None,
                      workflow_input: dict | None = None) -> None:
        """Orkes only: move a running execution to another version, continuing from its current task."""
        if await self.detect_flavor() is Flavor.OSS:
            raise UnsupportedOperation(None, "Conductor OSS cannot upgrade running executions (Orkes only)")
        await self._request("POST", f"/workflow/{workflow_id}/upgrade",
                            json={"name": name, "version": version, "taskOutput": task_output or {},
                                  "workflowInput": workflow_input or {}})

    # ---- workers --------------------------------------------------------------------------------

    async def poll_data(self, task_type: str) -> list[dict]:
        return await self._json("GET", "/tasks/queue/polldata", params={"taskType": task_type}) or []

