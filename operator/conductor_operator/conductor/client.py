"""The one Conductor client of the operator (Conductor OSS and Orkes Conductor), on httpx.

Every call maps transport failures and HTTP errors to the small tree in ``errors`` (in
``_error_from``, the one place that does it). Bodies stay plain JSON dicts, as Conductor sends them.

Status codes: 5xx, and the 4xx that mean "not now" rather than "wrong" (408 Request Timeout,
421 Misdirected Request, 423 Locked, 425 Too Early, 429 Too Many Requests, from Conductor or a
gateway in front of it), are Unavailable: transient, carrying ``retry_after`` (seconds) when the answer
had a Retry-After header (delta-seconds or an HTTP-date, read against the answer's own Date header so
clock skew does not matter). 401/403/407 are Unauthorized, 404/410 NotFound, 409 Conflict (Conductor
answers 409 for an object that already exists: sending it again gives the same answer), and every
other 4xx Rejected: the user's to fix.

Retries. The caller owns backoff (the reconcile shell retries an Unavailable later, no sooner than its
``retry_after``). The client itself retries only briefly, inside one call:
- once after a 401/403 on Orkes, with a fresh token;
- at most ``retries`` times (2) when the server asks for a short wait: a Retry-After of at most
  ``retry_wait_limit`` seconds (2 s), or none at all (then 0.25 s, doubled each time), with jitter on
  top. Longer waits are the caller's: the Unavailable is raised at once. Which answers qualify depends
  on whether sending the request twice is harmless: for GET, PUT, DELETE and the POSTs that only read
  (bulk search, correlated executions) 408, 425, 429 and 503; for any other POST (starting an
  execution, a restart, a bulk action, creating an event handler) and for resuming an execution (a
  second resume is a Conflict) only 429, the one answer that says the server refused the request before
  handling it. (A 503 may come from a gateway whose upstream dropped the connection after the request
  arrived, and a start sent twice starts two executions.) Transport failures are never retried here.

Bursts. At most ``max_connections`` (32) requests are in flight at once; the others wait their turn in a
FIFO (an asyncio.Semaphore sized to the pool, so httpx's own pool never queues), at most ``pool_timeout``
(60 s, its own timeout, not the request's) before they are Unavailable ("... connections to Conductor were all
busy ..."); a wait that is cancelled (kopf cancels handlers) gives its turn to the next. Why: httpcore 1.0.9's
pool, left to queue a burst itself, walks every queued request against every connection each time a request
enters or leaves (``AsyncConnectionPool._assign_requests_to_connections``): quadratic in the burst. Measured
against a local server answering in 0.2 s, with httpx's default limits (100 connections) and a 30-s timeout:
400 concurrent requests cost 2 s of CPU, 1,000 cost 16 s of CPU in 18 s, the event loop (kopf's, shared by
every handler) stalled up to 6 s at a time. With 2-s or 3-s timeouts not one of 1,000 succeeded (900
PoolTimeout, 100 ConnectTimeout: the stalled loop missed its own connects). The same client served the next 100
requests at once; the burst itself was the failure (but see "Cancellations" below for what a cancellation could
leave in the pool). Behind the slots the same 1,000 (30-s timeout) take 1.1 s of CPU, the loop never stalls over
10 ms, and all succeed even with 2-s timeouts
(tests/unit/test_conductor_client_burst.py). Against the real Conductor (1,000 concurrent GETs of a definition,
the operator's default 30-s timeout, a busy 2-core machine): before, 604 PoolTimeout, 53 s, 19 s of CPU, the loop
stalled 21 s; with a 5-s timeout all 1,000 failed. Behind the slots: all 1,000 answered in 7-9 s, 2.5 s of CPU,
the loop stalled at most 0.2 s.

Cancellations. httpx never sees an asyncio cancellation: each request runs in a task of its own, and a cancelled
caller cancels it through an anyio cancel scope, waits for it to end, then raises its CancelledError. Why: httpcore
1.0.9 shields its clean-up with anyio cancel scopes, which an asyncio ``Task.cancel`` (kopf's, a timeout's) goes
through. Cancelled while httpcore gave a connection back (``_response_closed``, at the anyio lock it takes), a
request stayed in httpcore's pool for good, its connection ACTIVE: one of the ``max_connections`` lost per such
cancellation (about one burst of 1,000 calls with 200 cancelled in ten lost one), every request PoolTimeout once all
were; cancelled at other moments, a connection was left NEW, owned by no request (httpcore issues 830, 1093). The
anyio scope waits for the shielded clean-up, so the slot is given back when the connection is. It cannot help with
one moment: cancelled as its connection's connect ends (before the task resumes), a request leaves that connection
NEW, owned by no request, even through anyio; so after a cancelled request the client takes such connections out
of the pool and closes them. (The tests of a call cancelled at any moment, in
tests/unit/test_conductor_client_burst.py.)

Facts this relies on, checked against Conductor OSS 3.32.3:
- ``/api/token`` answers 404 ("No static resource api/token.") on OSS: that is how the flavor is
  detected, and why a key given to an OSS server is harmless (no token is sent).
- A 404 "No static resource ..." means the server lacks the endpoint: UnsupportedOperation.
- Bulk endpoints take 1 to 1000 ids (0 or 1001 is a 400) and answer 200
  ``{bulkSuccessfulResults: [...], bulkErrorResults: {id: message}}``.
- A few "missing" or "wrong state" answers come as 500 with ``retryable: false`` (delete of an
  absent workflow or task definition, update of an absent event handler, a duplicate one, resume of
  an execution that is not paused): they map to NotFound/Conflict, not to Unavailable.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import random
import re
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from urllib.parse import quote, urlsplit, urlunsplit

import anyio
import httpcore
import httpx

from conductor_operator.api.cluster import url_problem
from conductor_operator.conductor.errors import (
    AddressNotAllowed,
    ConductorError,
    Conflict,
    NotConductor,
    NotFound,
    Rejected,
    Unauthorized,
    Unavailable,
    UnsafeName,
    UnsupportedOperation,
)

TOKEN_LIFETIME = 45 * 60.0
BULK_LIMIT = 1000
RUNNING_STATES = frozenset({"RUNNING", "PAUSED"})
TRANSIENT_4XX = frozenset({408, 421, 423, 425, 429})
"""4xx answers that mean "not now": Unavailable, like a 5xx."""
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_IDEMPOTENT = frozenset({408, 425, 429, 503})
"""Answers retried inside a call that is harmless to send twice."""
RETRY_ANY = frozenset({429})
"""Answers retried inside any call: the server refused the request before handling it."""
RETRY_BASE_WAIT = 0.25
"""The first in-call wait when the server gave no Retry-After, doubled each time."""
MAX_CONNECTIONS = 32
"""Requests one client has in flight at once, the size of its connection pool (see "Bursts" above)."""
POOL_TIMEOUT = 60.0
"""How long a request waits for one of those (seconds) before it is Unavailable."""


class Flavor(StrEnum):
    OSS = "OSS"
    ORKES = "Orkes"


@dataclass
class BulkResult:
    """Per-id outcome of a bulk call: ids that succeeded, and the server's message for each failure."""

    succeeded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


class _Secret:
    """A string that never shows itself in a repr, a log line or an exception."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__


def server_root(url: str) -> str:
    """A server's root URL as the client calls it: no trailing slash, no /api, scheme and host lowercased (so
    two spellings of one server compare equal)."""
    root = url.strip().rstrip("/").removesuffix("/api").rstrip("/")
    parts = urlsplit(root)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, parts.query, parts.fragment))


def tls_verification(insecure_skip_verify: bool, ca_bundle: str | None) -> ssl.SSLContext | bool:
    """How a client checks the server's certificate (a ConductorCluster's spec.tls); ValueError saying why a CA
    bundle is unusable."""
    if insecure_skip_verify:
        return False
    if ca_bundle:
        try:
            return ssl.create_default_context(cadata=ca_bundle)
        except (ssl.SSLError, ValueError, TypeError) as exc:
            reason = getattr(exc, "reason", None) or type(exc).__name__
            raise ValueError(f"spec.tls.caBundle holds no certificate the operator can load ({reason}): give the CA "
                             f"certificates in PEM form, each from -----BEGIN CERTIFICATE----- to "
                             f"-----END CERTIFICATE-----") from None
    return True


def display_url(url: str) -> str:
    """A URL as it may be printed, logged or stored: no user or password, no query, no fragment."""
    try:
        parts = urlsplit(str(url).strip())
        netloc = parts.netloc.rpartition("@")[2]
        shown = urlunsplit((parts.scheme, ("***@" if "@" in parts.netloc else "") + netloc, parts.path, "", ""))
    except ValueError:
        return "<a URL that cannot be read>"
    return "".join(c if c.isprintable() else "?" for c in shown)[:300]


# ---- error mapping ------------------------------------------------------------------------------

_JAVA_ARGUMENT = re.compile(r"^\w+\.arg\d+\.?")  # "updateWorkflowDef.arg0[1].tasks" -> "[1].tasks"
_ITEM = re.compile(r"^\[(\d+)\]\.?")
_NOT_FOUND_500 = re.compile(r"^No such (workflow|task) definition|^EventHandler with name .* not found")
_GONE = re.compile(r"^No such workflow found by id")
_CONFLICT_500 = re.compile(r"^EventHandler with name .* already exists|is not PAUSED so cannot resume")
_UNREADABLE_500 = re.compile(r"^JSON parse error")
"""A body the server's JSON reader refused (an enum value it does not know, a number that is not one): a 500
with ``retryable: false`` that sending again cannot change, and that names no item of a list."""


def _item_of(error: dict, count: int) -> int | None:
    """The position in the list sent of the item a validation error is about (``arg0[i]...``); None when the
    path names no item of a list of ``count``."""
    item = _ITEM.match(_JAVA_ARGUMENT.sub("", error.get("path") or ""))
    return int(item[1]) if item and int(item[1]) < count else None


def _validation_text(error: dict, item_labels: Sequence[str]) -> str:
    """``path: message`` without the Java method prefix; ``[i]`` becomes the item's label when known."""
    path = _JAVA_ARGUMENT.sub("", error.get("path") or "")
    if (item := _ITEM.match(path)) and int(item[1]) < len(item_labels):
        path = item_labels[int(item[1])] + (f": {path[item.end():]}" if path[item.end():] else "")
    text = error.get("message") or ""
    return f"{path}: {text}" if path else text


def _error_from(response: httpx.Response, redact: Callable[[str], str],
                item_labels: Sequence[str] = ()) -> ConductorError:
    """The one mapping from an HTTP error answer to the error tree (see the module docstring)."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    validation: list[str] = []
    items: list[int] = []
    if isinstance(body, dict):
        message = str(body.get("message") or body.get("error") or response.reason_phrase)
        errors = [v for v in body.get("validationErrors") or [] if isinstance(v, dict)]
        validation = [_validation_text(v, item_labels) for v in errors]
        items = [i for v in errors if (i := _item_of(v, len(item_labels))) is not None]
        message = re.sub(r",?\s*check below errors for detail\.?$", "", message)
        retryable = body.get("retryable")
    else:
        message = response.text.strip()[:500] or response.reason_phrase
        retryable = None
    message, validation = redact(message), [redact(v) for v in validation]
    if status == 404 and message.startswith("No static resource"):
        endpoint = f"{response.request.method} {response.request.url.path}"
        return UnsupportedOperation(status, f"this Conductor server has no endpoint {endpoint}")
    if status >= 500 and retryable is False and _NOT_FOUND_500.search(message):
        return NotFound(status, message, validation)
    if status >= 500 and retryable is False and _CONFLICT_500.search(message):
        return Conflict(status, message, validation)
    if status >= 500 and retryable is False and _UNREADABLE_500.search(message):
        return Rejected(status, message, validation)
    if status >= 500 or status in TRANSIENT_4XX:
        return Unavailable(status, message, validation, retry_after=_retry_after(response))
    kind = (NotFound if status in (404, 410) else Conflict if status == 409
            else Unauthorized if status in (401, 403, 407) else Rejected)
    return kind(status, message, validation, items=items)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header value: delta-seconds (``"120"``) or an HTTP-date
    (``"Wed, 21 Oct 2015 07:28:00 GMT"``, counted from ``now``, the current time when None). None when
    absent or unreadable; never negative (a date already past means now)."""
    value = (value or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": UTC, as HTTP-dates always are
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _retry_after(response: httpx.Response) -> float | None:
    """The answer's Retry-After in seconds; a date is read against the answer's Date header when it has one
    (the server's clock, so a skewed local clock does not matter)."""
    now = None
    if date := response.headers.get("date"):
        try:
            now = parsedate_to_datetime(date)
            now = now if now.tzinfo else now.replace(tzinfo=UTC)
        except (TypeError, ValueError, IndexError):
            now = None
    return parse_retry_after(response.headers.get("retry-after"), now)


_UNROUTABLE = re.compile(r"[/\\\x00-\x1f\x7f-\x9f]")
_UNSEARCHABLE = re.compile(r"[,()'\"]")  # what Conductor's search query splits on or strips (ended_executions)
SEARCH_PAGE = 1000
"""Summaries per page of GET /workflow/search (the server refuses more than 5000)."""
"""Characters no path segment may hold: a slash or backslash (Conductor's servlet container answers an encoded one
with a 400 page, decoded it would be another route) and control characters (NUL is refused like a slash)."""


def segment_problem(text: str) -> str | None:
    """Why ``text`` cannot be one segment of a Conductor URL path; None when it can."""
    if text in ("", ".", ".."):
        return ("an empty name" if not text else
                f"{text!r} is a dot segment: the HTTP client resolves it, so the call would reach another endpoint")
    if found := _UNROUTABLE.search(text):
        return f"it holds {found[0]!r}, which Conductor cannot take in a URL path"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "it is not valid Unicode text (a lone surrogate)"
    return None


def _segment(value: str | int) -> str:
    """The one place a name or id enters a URL path: percent-encoded, or refused (UnsafeName, nothing sent) when it
    cannot be exactly one segment (``segment_problem``), so every call reaches the endpoint it means."""
    text = str(value)
    if problem := segment_problem(text):
        shown = repr(text) if len(text) <= 80 else repr(text[:80]) + "..."
        raise UnsafeName(None, f"the name {shown} cannot be sent to Conductor in a URL path: {problem}")
    return quote(text, safe="")


def _chunks(ids: Iterable[str]) -> list[list[str]]:
    unique = list(dict.fromkeys(ids))
    return [unique[start:start + BULK_LIMIT] for start in range(0, len(unique), BULK_LIMIT)]


# ---- identification and where connections may go ------------------------------------------------

VERSION_TEXT = re.compile(r"^v?[0-9]{1,4}(\.[0-9]{1,6}){1,3}([-+.][0-9A-Za-z][0-9A-Za-z.+-]{0,40})?$")
"""What GET /api/version answers on Conductor (text/plain, such as ``3.32.3``): only text of this shape is shown."""
_CONTENT_TYPE = re.compile(r"^[\w.+-]{1,40}/[\w.+-]{1,60}$")
_IDENTIFYING: contextvars.ContextVar[bool] = contextvars.ContextVar("identifying", default=False)
"""True inside ``identify``: its own requests pass the gate that waits for identification."""
NOT_SHOWN = "(the answer is not shown: the server has not been identified as Conductor)"


def _answer_shape(response: httpx.Response) -> str:
    """An answer described without its content: status, content type, size."""
    kind = (response.headers.get("content-type") or "").split(";")[0].strip().lower()
    kind = kind if _CONTENT_TYPE.match(kind) else "no readable content type"
    return f"HTTP {response.status_code} with {kind} ({len(response.content)} bytes)"


def _json_object(response: httpx.Response) -> bool:
    try:
        return isinstance(response.json(), dict)
    except ValueError:
        return False


class _CheckedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with a check at connect time: the host is resolved here, every address it resolves
    to is checked (``refusal(host, address)``, None when allowed), and the connection goes to a checked address. A
    refusal raises AddressNotAllowed (nothing is sent); a name that does not resolve is a ConnectError."""

    def __init__(self, refusal: Callable[[str, str], str | None]):
        self._refusal = refusal
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options=None) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
        for address in addresses:
            if problem := self._refusal(host, address):
                raise AddressNotAllowed(None, f"the operator does not connect to {problem}")
        error: Exception = httpcore.ConnectError(f"{host} resolves to no address")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options=None) -> httpcore.AsyncNetworkStream:
        raise AddressNotAllowed(None, "the operator does not connect to Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _checked_transport(verify, refusal: Callable[[str, str], str | None],
                       limits: httpx.Limits | None = None) -> httpx.AsyncHTTPTransport:
    """httpx's own transport, its connection pool opening connections through ``_CheckedBackend``."""
    transport = httpx.AsyncHTTPTransport(verify=verify, limits=limits or httpx.Limits())
    pool = transport._pool  # httpcore's pool: every new connection takes the backend from here
    if not hasattr(pool, "_network_backend"):  # pragma: no cover - guards an httpx/httpcore upgrade
        raise RuntimeError("httpcore's connection pool changed: the connect-time address check cannot be installed")
    pool._network_backend = _CheckedBackend(refusal)
    return transport


# ---- the client ---------------------------------------------------------------------------------


def counts_by_version(executions: Iterable[dict]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for execution in executions:
        version = int(execution.get("workflowVersion") or 0)
        counts[version] = counts.get(version, 0) + 1
    return dict(sorted(counts.items()))


class ConductorClient:
    """Typed calls to one Conductor server; ``base_url`` is its root, with or without ``/api``.

    With ``identify`` (the operator's clients), no call is made to the server before it has been positively
    identified as Conductor (``identify``), and until then no answer of the server is shown in any error. With
    ``connect_check`` (``refusal(host, address)``), every connection is checked where it is opened (_CheckedBackend).
    """

    def __init__(self, base_url: str, *, flavor: Flavor | None = None, key_id: str | None = None,
                 key_secret: str | None = None, verify: ssl.SSLContext | str | bool = True,
                 timeout: float = 30.0, connect_timeout: float = 5.0,
                 transport: httpx.AsyncBaseTransport | None = None, clock: Callable[[], float] = time.monotonic,
                 retries: int = 2, retry_wait_limit: float = 2.0,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
                 jitter: Callable[[], float] = random.random, identify: bool = False,
                 connect_check: Callable[[str, str], str | None] | None = None,
                 max_connections: int = MAX_CONNECTIONS, pool_timeout: float | None = POOL_TIMEOUT,
                 on_response: Callable[[str, str, int | None, float], object] | None = None):
        if problem := url_problem(base_url.strip()):
            raise ValueError(f"{display_url(base_url)} cannot be a Conductor server's URL: {problem}")
        self.base_url = server_root(base_url)
        try:
            if not httpx.URL(self.base_url).host:  # decoded as httpx does (IDNA): refused here, not at every call
                raise ValueError("it has no host")
        except (httpx.InvalidURL, ValueError) as exc:  # UnicodeError (IDNA) is a ValueError
            raise ValueError(f"{display_url(base_url)} cannot be a Conductor server's URL: {exc}") from None
        self._identify = identify
        self._identified = False
        self.on_response = on_response
        """Called for every request sent: (method, path, HTTP status or None when none came, seconds) (metrics)."""
        self._identify_lock = asyncio.Lock()
        self.version: str | None = None
        """The version the server reported when last identified."""
        self._retries = retries
        self._retry_wait_limit = retry_wait_limit
        self._sleep = sleep
        self._jitter = jitter
        self._flavor = Flavor(flavor) if flavor else None
        self._key_id = key_id or None
        self._key_secret = _Secret(key_secret or "")
        self._clock = clock
        self._token: _Secret | None = None
        self._token_expires = float("-inf")
        self._token_lock = asyncio.Lock()
        # One slot per connection: a request takes a slot before it enters httpx, so httpx's pool never queues
        # (module docstring, "Bursts"); waiting for a slot has its own timeout, pool_timeout.
        self._max_connections = max(1, int(max_connections))
        self._pool_timeout = pool_timeout
        self._slots = asyncio.Semaphore(self._max_connections)
        limits = httpx.Limits(max_connections=self._max_connections,
                              max_keepalive_connections=self._max_connections)
        if transport is None and connect_check is not None:
            transport = _checked_transport(verify, connect_check, limits)
        self._http = httpx.AsyncClient(base_url=f"{self.base_url}/api", verify=verify, transport=transport,
                                       limits=limits,
                                       timeout=httpx.Timeout(timeout, connect=connect_timeout, pool=pool_timeout))

    def __repr__(self) -> str:
        auth = "application key" if self._key_id else "none"
        return f"ConductorClient({display_url(self.base_url)!r}, flavor={self._flavor}, auth={auth})"

    async def __aenter__(self) -> ConductorClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def closer(self) -> Callable[[], Awaitable[None]]:
        """What closes this client's connections, without referring to the client (so the caller may close them
        once the client itself is no longer referred to)."""
        return self._http.aclose

    # ---- transport ------------------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        for secret in (self._key_secret.reveal(), self._token.reveal() if self._token else ""):
            if secret:
                text = text.replace(secret, "<redacted>")
        return text

    def _shown(self, text: str) -> str:
        """A server's answer as it may appear in an error: redacted, and not at all while the server is
        not identified (``identify``)."""
        return NOT_SHOWN if self._identify and not self._identified else self._redact(text)

    async def _send(self, method: str, path: str, *, auth: bool = True, **kwargs) -> httpx.Response:
        if self._identify and not self._identified and not _IDENTIFYING.get():
            async with self._identify_lock:  # the first call identifies the server; the others wait for it
                if not self._identified:
                    await self.identify()
        headers = await self._auth_headers() if auth else {}
        try:
            async with asyncio.timeout(self._pool_timeout):
                await self._slots.acquire()  # FIFO; cancelled while waiting, it passes its turn on
        except TimeoutError:
            raise self._busy(method, path) from None
        started, status = time.monotonic(), None
        try:
            response = await self._in_httpx(method, path, headers=headers, **kwargs)
            status = response.status_code
            return response
        except httpx.PoolTimeout:  # not expected behind the slots, but the same meaning
            raise self._busy(method, path) from None
        except httpx.TimeoutException as exc:
            raise Unavailable(None, f"{method} {path} timed out ({type(exc).__name__})") from None
        except httpx.RequestError as exc:  # transport failures, and an answer that cannot be decoded
            # A protocol error's text may quote what the server sent: shown only as an identified server's answer.
            detail = str(exc) if isinstance(exc, httpx.ConnectError) else self._shown(str(exc))
            raise Unavailable(None, self._redact(f"{method} {path} failed: {type(exc).__name__}: {detail}")) from None
        finally:
            self._slots.release()
            if self.on_response is not None:
                with contextlib.suppress(Exception):  # what observes a request never fails it
                    self.on_response(method, path, status, time.monotonic() - started)

    async def _in_httpx(self, method: str, path: str, **kwargs) -> httpx.Response:
        """``self._http.request``, in a task of its own that is never cancelled the asyncio way (module docstring,
        "Cancellations"): a cancellation of the caller reaches it through an anyio cancel scope, which waits for
        httpcore's shielded clean-up to end; the caller waits for it too, then is cancelled."""
        scope = anyio.CancelScope()

        async def request() -> httpx.Response | None:
            with scope:
                return await self._http.request(method, path, **kwargs)
            return None  # cancelled through the scope: the caller raises its own CancelledError

        task = asyncio.create_task(request())
        try:
            await asyncio.wait([task])  # cancelled, it leaves ``task`` alone
        except asyncio.CancelledError:
            scope.cancel()
            while not task.done():  # short: the request stops at its next unshielded await
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait([task])
            if not task.cancelled():
                task.exception()  # retrieved: the caller's cancellation is what it raises
            orphans = []
            with contextlib.suppress(Exception):  # httpcore's internals, pinned in constraints.txt
                orphans = self._orphaned_connections()
            for connection in orphans:
                with contextlib.suppress(Exception):
                    await connection.aclose()
            raise
        return task.result()

    def _orphaned_connections(self) -> list:
        """Connections that httpx's pools hold in use by no request, taken out of them (to be closed): what a request
        cancelled as its connection was being made leaves, NEW for good (module docstring, "Cancellations"). A
        connection in use always has its request in the pool's queue, and is IDLE before that request leaves it."""
        orphans = []
        for transport in (self._http._transport, *self._http._mounts.values()):
            pool = getattr(transport, "_pool", None)  # httpx's transports; a test's MockTransport has none
            if not isinstance(pool, httpcore.AsyncConnectionPool):
                continue
            owned = {id(request.connection) for request in pool._requests}
            for connection in pool.connections:
                if id(connection) not in owned and not connection.is_idle() and not connection.is_closed():
                    pool._connections.remove(connection)
                    orphans.append(connection)
        return orphans

    def _busy(self, method: str, path: str) -> Unavailable:
        waited = f"{self._pool_timeout:g}s" if self._pool_timeout is not None else "too long"
        return Unavailable(None, f"{method} {path} was not sent: the client's {self._max_connections} connections "
                                 f"to Conductor were all busy for {waited} (PoolTimeout; Conductor answers slowly, "
                                 f"or too much is asked of it at once)")

    async def _request(self, method: str, path: str, *, item_labels: Sequence[str] = (),
                       idempotent: bool | None = None, **kwargs) -> httpx.Response:
        """Send, refresh an Orkes token once, retry briefly when the server asks (module docstring), else
        raise the mapped error. ``idempotent`` defaults to what the method says."""
        retriable = RETRY_IDEMPOTENT if (method in IDEMPOTENT_METHODS if idempotent is None else idempotent) \
            else RETRY_ANY
        refreshed, retried = False, 0
        while True:
            response = await self._send(method, path, **kwargs)
            if response.status_code in (401, 403) and self._key_id and not refreshed:
                self._token_expires = float("-inf")  # expired or revoked: fetch a new one, once
                refreshed = True
                continue
            if not response.is_error:
                return response
            error = _error_from(response, self._shown, item_labels)
            if not isinstance(error, Unavailable) or error.status not in retriable or retried >= self._retries:
                raise error
            wait = error.retry_after if error.retry_after is not None else RETRY_BASE_WAIT * 2 ** retried
            if wait > self._retry_wait_limit:
                raise error  # a long wait: the caller's to schedule
            retried += 1
            await self._sleep(wait * (1 + 0.5 * self._jitter()))  # jitter: throttled callers do not return together

    async def _json(self, method: str, path: str, **kwargs):
        response = await self._request(method, path, **kwargs)
        try:
            return response.json() if response.content else None
        except ValueError:  # a proxy's HTML page, a truncated answer: not Conductor speaking
            raise Unavailable(response.status_code, f"{method} {path} answered something that is not JSON: "
                                                    f"{self._shown(response.text[:200])!r}") from None

    async def _optional(self, path: str, **kwargs):
        try:
            return await self._json("GET", path, **kwargs)
        except NotFound:
            return None

    async def _auth_headers(self) -> dict[str, str]:
        if not self._key_id:
            return {}
        if self._clock() >= self._token_expires:
            async with self._token_lock:
                if self._clock() >= self._token_expires:  # another call may have refreshed it meanwhile
                    await self._fetch_token()
        return {"X-Authorization": self._token.reveal()} if self._token else {}

    async def _fetch_token(self) -> None:
        """POST /api/token {keyId, keySecret} -> {token}; a 404 means Conductor OSS, which has no auth."""
        response = await self._send("POST", "/token", auth=False,
                                    json={"keyId": self._key_id, "keySecret": self._key_secret.reveal()})
        if response.status_code == 404:
            self._token, self._token_expires = None, self._clock() + TOKEN_LIFETIME
            self._flavor = self._flavor or Flavor.OSS
            return
        if response.is_error:
            error = _error_from(response, self._shown)
            if isinstance(error, Rejected):
                raise Unauthorized(error.status, f"Conductor refused the application key {self._key_id!r}: "
                                                 f"{error.message}") from None
            raise error
        try:
            token = (response.json() or {}).get("token") if response.content else None
        except (ValueError, AttributeError):  # not JSON, or not an object: not Orkes' answer
            token = None
        if not isinstance(token, str) or not token:
            raise Unauthorized(response.status_code, "Conductor answered /api/token without a token")
        self._token, self._token_expires = _Secret(token), self._clock() + TOKEN_LIFETIME
        self._flavor = self._flavor or Flavor.ORKES

    # ---- server ---------------------------------------------------------------------------------

    async def server_version(self) -> str:
        """The server's version, identifying it again (see ``identify``)."""
        async with self._identify_lock:
            return await self.identify()

    async def identify(self) -> str:
        """Identify the server positively as Conductor, and return its version: GET /api/version must answer 200
        with a version (text such as ``3.32.3``: ``VERSION_TEXT``), as Conductor OSS does; when it is absent (404)
        a server that issued an Orkes token (JSON ``{token}`` from POST /api/token) counts as Orkes, its version
        "unknown". Anything else raises NotConductor, describing the answer (status, content type, size) without
        its content; a 5xx or throttled answer, or none, raises Unavailable; a refused key Unauthorized. Use
        ``server_version`` from outside: it holds the lock that keeps other calls waiting meanwhile."""
        marker = _IDENTIFYING.set(True)
        self._identified = False
        try:
            try:
                response = await self._request("GET", "/version")
            except (NotFound, UnsupportedOperation) as exc:
                if self._token is not None:  # Orkes answered its token call: it is Orkes, without /api/version
                    self._identified, self.version = True, "unknown"
                    return self.version
                raise NotConductor(exc.status, f"GET /api/version answered HTTP {exc.status}, where Conductor answers "
                                               f"its version") from None
            except ConductorError as exc:
                if self._identify and exc.status is not None:  # the server's own words are not shown
                    raise self._without_answer(exc) from None
                raise
            text = response.text.strip()
            if response.status_code != 200 or not VERSION_TEXT.fullmatch(text):
                raise NotConductor(response.status_code, f"GET /api/version answered {_answer_shape(response)}, "
                                                         f"where Conductor answers its version (such as 3.32.3); "
                                                         f"the answer is not shown")
            self._identified, self.version = True, self._redact(text)
            return self.version
        finally:
            _IDENTIFYING.reset(marker)

    @staticmethod
    def _without_answer(exc: ConductorError) -> ConductorError:
        """The same error, its message only the status: the answer of an unidentified server is not shown."""
        message = f"GET /api/version answered HTTP {exc.status} {NOT_SHOWN}"
        if isinstance(exc, Unavailable):
            return Unavailable(exc.status, message, retry_after=exc.retry_after)
        return type(exc)(exc.status, message)

    async def detect_flavor(self) -> Flavor:
        """The flavor given to the constructor, else asked once: OSS answers 404 to /api/token, Orkes
        answers it (a token for a good key, a 4xx for a bad or empty one). A 5xx, a throttled answer
        (429, ...) or no answer raises Unavailable and nothing is remembered."""
        if self._flavor is None:
            if self._key_id:
                await self._auth_headers()  # the token fetch records the flavor
            else:
                response = await self._send("POST", "/token", auth=False, json={"keyId": "", "keySecret": ""})
                if response.is_error and isinstance(error := _error_from(response, self._shown), Unavailable):
                    raise error  # a 5xx or a throttled answer says nothing about the flavor
                if response.status_code != 404 and not _json_object(response):
                    raise NotConductor(response.status_code, f"POST /api/token answered {_answer_shape(response)}, "
                                                             "where Conductor OSS answers 404 and Orkes JSON")
                self._flavor = Flavor.OSS if response.status_code == 404 else Flavor.ORKES
        return self._flavor

    # ---- workflow definitions -------------------------------------------------------------------

    async def get_workflow_def(self, name: str, version: int | None = None) -> dict | None:
        """One version (the highest when ``version`` is None); None when it does not exist."""
        params = {"version": version} if version is not None else {}
        return await self._optional(f"/metadata/workflow/{_segment(name)}", params=params)

    async def all_workflow_defs(self) -> list[dict]:
        """Every version of every workflow definition."""
        return await self._json("GET", "/metadata/workflow") or []

    async def listed_versions(self, name: str) -> list[int] | None:
        """Registered versions, ascending, from the /versions endpoint ([] when none); None from a server before
        v3.30, which lacks it."""
        try:
            summaries = await self._json("GET", f"/metadata/workflow/{_segment(name)}/versions") or []
        except (NotFound, UnsupportedOperation):
            return None
        return sorted({int(s["version"]) for s in summaries if s.get("name", name) == name})

    async def registered_versions(self) -> dict[str, frozenset[int]] | None:
        """Every workflow's registered versions, from one read (/names-and-versions); None from a server that lacks
        it. On Conductor OSS this costs the server about what one workflow's /versions does (it reads every
        definition either way: 0.24 s with 6,000 definitions), so one read serves a burst of new resources."""
        try:
            listing = await self._json("GET", "/metadata/workflow/names-and-versions")
        except (NotFound, UnsupportedOperation):
            return None
        if not isinstance(listing, dict):
            return None
        return {name: frozenset(int(s["version"]) for s in summaries if isinstance(s, dict) and "version" in s)
                for name, summaries in listing.items() if isinstance(summaries, list)}

    async def workflow_versions(self, name: str) -> list[int]:
        """Registered versions, ascending; [] when none (on a server before v3.30, read from every definition)."""
        versions = await self.listed_versions(name)
        if versions is None:
            versions = sorted({int(d["version"]) for d in await self.all_workflow_defs() if d.get("name") == name})
        return versions

    async def register_workflow_defs(self, defs: list[dict]) -> None:
        """Upsert each name+version with one bulk PUT (any number of items: 5,000 definitions, 10 MB, were
        taken in one request). What Conductor OSS 3.32.3 answers (docs/conductor-facts.md, "Bulk registration"):

        - one invalid item (bean validation: a task without a name, a duplicate taskReferenceName, ...): a 400
          for the whole list, and NOTHING of it is registered, its valid items included. Every invalid item is
          named: the Rejected's ``items`` are their positions in ``defs`` (``validation_errors`` name them as
          ``name vN: path: message``), so a caller may drop them and send the others again;
        - a body the server cannot read (an enum value it does not know): a 500 naming no item, nothing
          registered: Rejected with ``items`` empty (send the items singly, or bisect, to find the one);
        - 200 with ``bulkErrorResults`` (a failure storing an item, keyed by name only; the others are stored):
          Rejected, ``status`` None, ``items`` every position of each name that failed.
        """
        if not defs:
            return
        labels = [f"{d.get('name')} v{d.get('version')}" for d in defs]
        answer = await self._json("PUT", "/metadata/workflow", json=defs, item_labels=labels) or {}
        if errors := answer.get("bulkErrorResults"):
            failed = {str(name) for name in errors}
            raise Rejected(None, "Conductor did not register every workflow definition",
                           [f"{name}: {message}" for name, message in errors.items()],
                           items=[i for i, d in enumerate(defs) if str(d.get("name")) in failed])

    async def delete_workflow_def(self, name: str, version: int) -> None:
        """Delete one version (Conductor does not check for running executions); NotFound if absent."""
        await self._request("DELETE", f"/metadata/workflow/{_segment(name)}/{_segment(version)}")

    # ---- task definitions -----------------------------------------------------------------------

    async def get_task_def(self, name: str) -> dict | None:
        return await self._optional(f"/metadata/taskdefs/{_segment(name)}")

    async def all_task_defs(self) -> list[dict]:
        """Every task definition."""
        return await self._json("GET", "/metadata/taskdefs") or []

    async def register_task_defs(self, defs: list[dict]) -> None:
        """Upsert (task definitions are global and unversioned)."""
        if defs:
            await self._request("POST", "/metadata/taskdefs", json=defs,
                                item_labels=[str(d.get("name")) for d in defs])

    async def delete_task_def(self, name: str) -> None:
        await self._request("DELETE", f"/metadata/taskdefs/{_segment(name)}")

    # ---- executions -----------------------------------------------------------------------------

    async def start_workflow(self, name: str, *, version: int | None = None, input: dict | None = None,
                             correlation_id: str | None = None, workflow_def: dict | None = None) -> str:
        """Start an execution and return its id; no version means the highest registered one.
        With ``workflow_def`` it runs that definition without registering it."""
        request: dict = {"name": name, "input": input or {}}
        if version is not None:
            request["version"] = version
        if correlation_id:
            request["correlationId"] = correlation_id
        if workflow_def is not None:
            request["workflowDef"] = workflow_def
        return (await self._request("POST", "/workflow", json=request)).text.strip()

    async def correlated_executions(self, name: str, correlation_id: str) -> list[dict]:
        """Executions of ``name`` started with this correlationId, ended ones included, without tasks.
        (The POST form: Conductor refuses an id with a slash in the GET form's path.)"""
        answer = await self._json("POST", f"/workflow/{_segment(name)}/correlated", json=[correlation_id],
                                  params={"includeClosed": "true", "includeTasks": "false"}, idempotent=True) or {}
        return answer.get(correlation_id) or []

    # -- the replay gate (spec.gates.replay): POST /workflow/test and the search it samples from --
    async def test_workflow(self, request: dict) -> dict:
        """Run a WorkflowTestRequest (a StartWorkflowRequest with ``workflowDef`` inline and
        ``taskRefToMockOutput``) and return the execution as the server answered it, with its tasks. The server
        runs it synchronously but keeps it as a real execution (RUNNING while a task has no mock; an async system
        task left unmocked would run for real): it is removed at once, whatever its state. NotFound (404 or 405,
        or an answer that is no execution) means the server has no test endpoint
        (docs/conductor-facts.md, "Replaying an execution")."""
        try:
            response = await self._request("POST", "/workflow/test", json=request)
        except (NotFound, Rejected) as exc:
            if exc.status in (404, 405):
                raise NotFound(exc.status, f"the server has no POST /workflow/test ({exc.message})") from None
            raise
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or not isinstance(answer.get("tasks"), list):
            started = response.text.strip()[:80]  # a server without it starts a workflow named "test"
            if started and "/" not in started and not started.startswith(("{", "[", "<")):
                with contextlib.suppress(ConductorError):
                    await self.terminate(started, "started by POST /workflow/test on a server without a test "
                                                  "endpoint")
            raise NotFound(response.status_code, "the server has no POST /workflow/test: it answered "
                                                 f"{_answer_shape(response)}")
        if workflow_id := answer.get("workflowId"):
            with contextlib.suppress(NotFound):
                await self._request("DELETE", f"/workflow/{_segment(workflow_id)}/remove",
                                    params={"archiveWorkflow": "false"})
        return answer

    async def search_executions(self, query: str, *, size: int = 100) -> list[dict]:
        """Execution summaries (no tasks; ``version``, ``startTime`` as text, ``input`` flattened to text) matching
        a search query, newest started first, at most ``size``. Conductor's search ignores a version filter."""
        answer = await self._json("GET", "/workflow/search", params={
            "query": query, "freeText": "*", "sort": "startTime:DESC", "start": "0", "size": str(size)}) or {}
        return list(answer.get("results") or [])

    async def ended_executions(self, name: str, statuses: Iterable[str], ended_since: datetime) -> list[dict]:
        """Executions of ``name`` (every version) whose status is one of ``statuses`` and that ended at or after
        ``ended_since``: the search summaries of ``GET /workflow/search`` (``version``, ``status``, ``endTime``
        as RFC 3339 text, ``correlationId``, ``failedReferenceTaskNames``, ``parentWorkflowId``), read in pages
        of 1000 by start time. Conductor OSS's search ignores a condition on a field it does not index (the
        version among them) and cannot match a name holding ``,``, ``(``, ``)`` or quotes: such a name is
        UnsupportedOperation, nothing sent (docs/conductor-facts.md, "Searching ended executions")."""
        if _UNSEARCHABLE.search(name) or " AND " in name:
            raise UnsupportedOperation(None, f"workflow {name!r} cannot be searched by name: Conductor's search "
                                             f"query splits on commas, parentheses, quotes and ' AND '")
        since = int(ended_since.timestamp() * 1000) - 1
        query = f"workflowType IN ({name}) AND status IN ({','.join(statuses)}) AND endTime > {since}"
        found: list[dict] = []
        while True:
            answer = await self._json("GET", "/workflow/search", params={
                "query": query, "start": len(found), "size": SEARCH_PAGE, "sort": "startTime:ASC"}) or {}
            page = answer.get("results") or []
            found += page
            if not page or len(found) >= int(answer.get("totalHits") or 0):
                return found

    async def get_execution(self, workflow_id: str, include_tasks: bool = False) -> dict:
        return await self._json("GET", f"/workflow/{_segment(workflow_id)}",
                                params={"includeTasks": str(include_tasks).lower()})

    async def running_execution_ids(self, name: str) -> list[str]:
        """RUNNING and PAUSED executions of every version: Conductor ignores a version filter here."""
        return await self._json("GET", f"/workflow/running/{_segment(name)}") or []

    async def get_executions(self, ids: Iterable[str], include_tasks: bool = False) -> tuple[list[dict], dict]:
        """Executions by id, fetched with POST /workflow/bulk/search in batches of at most 1000, and the
        server's message for each id it could not return (gone since, or failed to load)."""
        found: list[dict] = []
        failed: dict[str, str] = {}
        for chunk in _chunks(ids):
            answer = await self._json("POST", "/workflow/bulk/search", json=chunk, idempotent=True,
                                      params={"includeTasks": str(include_tasks).lower()}) or {}
            found += answer.get("bulkSuccessfulResults") or []
            failed.update({str(k): str(v) for k, v in (answer.get("bulkErrorResults") or {}).items()})
        return found, failed

    async def existing_executions(self, ids: Iterable[str], include_tasks: bool = False) -> list[dict]:
        """Executions by id, leaving out those Conductor no longer has. Unavailable when it could not read
        some of them: a list with holes would pass for ended executions."""
        ids = list(ids)
        if not ids:
            return []
        executions, failed = await self.get_executions(ids, include_tasks)
        failed = {i: m for i, m in failed.items() if not _GONE.search(m)}  # removed since: gone
        if failed:
            some = "; ".join(f"{i}: {m}" for i, m in list(failed.items())[:3])
            raise Unavailable(None, f"Conductor could not read {len(failed)} execution(s) ({some})")
        return executions

    async def running_executions(self, name: str, include_tasks: bool = False) -> list[dict]:
        """RUNNING or PAUSED executions of ``name``, every version, as read now."""
        executions = await self.existing_executions(await self.running_execution_ids(name), include_tasks)
        return [e for e in executions if e.get("status") in RUNNING_STATES]

    async def running_counts_by_version(self, name: str) -> dict[int, int]:
        """RUNNING or PAUSED executions of ``name`` per version, as read now."""
        return counts_by_version(await self.running_executions(name))

    async def terminate(self, workflow_id: str, reason: str) -> None:
        """Terminate (a no-op on a TERMINATED execution; Conflict on a COMPLETED or FAILED one)."""
        await self._request("DELETE", f"/workflow/{_segment(workflow_id)}", params={"reason": reason})

    async def pause(self, workflow_id: str) -> None:
        """Pause (a no-op when paused; Conflict once the execution has ended)."""
        await self._request("PUT", f"/workflow/{_segment(workflow_id)}/pause")

    async def resume(self, workflow_id: str) -> None:
        """Resume a paused execution (Conflict when it is not paused: so not sent twice, see the module docstring)."""
        await self._request("PUT", f"/workflow/{_segment(workflow_id)}/resume", idempotent=False)

    async def restart(self, workflow_id: str, use_latest_definitions: bool) -> None:
        """Re-run an ended execution from its first task, same id and input (Conflict unless ended);
        with ``use_latest_definitions`` on the highest registered version."""
        await self._request("POST", f"/workflow/{_segment(workflow_id)}/restart",
                            params={"useLatestDefinitions": str(use_latest_definitions).lower()})

    async def _bulk(self, method: str, action: str, ids: Iterable[str], params: dict | None = None) -> BulkResult:
        result = BulkResult()
        for chunk in _chunks(ids):
            answer = await self._json(method, f"/workflow/bulk/{action}", json=chunk, params=params) or {}
            result.succeeded += [str(i) for i in answer.get("bulkSuccessfulResults") or []]
            result.failed.update({str(k): str(v) for k, v in (answer.get("bulkErrorResults") or {}).items()})
        return result

    async def bulk_terminate(self, ids: Iterable[str], reason: str) -> BulkResult:
        return await self._bulk("POST", "terminate", ids, {"reason": reason})

    async def bulk_restart(self, ids: Iterable[str], use_latest_definitions: bool) -> BulkResult:
        return await self._bulk("POST", "restart", ids,
                                {"useLatestDefinitions": str(use_latest_definitions).lower()})

    async def upgrade(self, workflow_id: str, *, name: str, version: int, task_output: dict | None = None,
                      workflow_input: dict | None = None) -> None:
        """Orkes only: move a running execution to another version, continuing from its current task
        (earlier tasks of the new definition are SKIPPED with outputs from ``task_output``, keyed by
        taskReferenceName). Conductor OSS has no such endpoint: UnsupportedOperation, nothing sent."""
        if await self.detect_flavor() is Flavor.OSS:
            raise UnsupportedOperation(None, "Conductor OSS cannot upgrade running executions (Orkes only); "
                                             "terminate and restart with the latest definitions instead")
        await self._request("POST", f"/workflow/{_segment(workflow_id)}/upgrade",
                            json={"name": name, "version": version, "taskOutput": task_output or {},
                                  "workflowInput": workflow_input or {}})

    # ---- triggers -------------------------------------------------------------------------------

    async def event_handlers(self) -> list[dict]:
        return await self._json("GET", "/event") or []

    async def create_event_handler(self, handler: dict) -> None:
        """Add a handler (Conflict if one of that name exists)."""
        await self._request("POST", "/event", json=handler)

    async def update_event_handler(self, handler: dict) -> None:
        """Replace the handler of that name, e.g. with ``active: false`` (NotFound if absent)."""
        await self._request("PUT", "/event", json=handler)

    async def delete_event_handler(self, name: str) -> None:
        await self._request("DELETE", f"/event/{_segment(name)}")

    async def schedules(self, workflow_name: str | None = None) -> list[dict]:
        """Schedules, all or those starting ``workflow_name``; UnsupportedOperation when the server has
        no scheduler (Conductor OSS before it had one, or with ``conductor.scheduler.enabled=false``)."""
        params = {"workflowName": workflow_name} if workflow_name else {}
        try:
            return await self._json("GET", "/scheduler/schedules", params=params) or []
        except NotFound:
            raise UnsupportedOperation(404, "this Conductor server has no scheduler (/api/scheduler)") from None

    async def pause_schedule(self, name: str, reason: str | None = None) -> None:
        await self._request("PUT", f"/scheduler/schedules/{_segment(name)}/pause",
                            params={"reason": reason} if reason else {})

    async def resume_schedule(self, name: str) -> None:
        await self._request("PUT", f"/scheduler/schedules/{_segment(name)}/resume")

    # ---- workers --------------------------------------------------------------------------------

    async def poll_data(self, task_type: str) -> list[dict]:
        """Workers that polled ``task_type``: [{queueName, workerId, lastPollTime (epoch ms)}]."""
        return await self._json("GET", "/tasks/queue/polldata", params={"taskType": task_type}) or []
