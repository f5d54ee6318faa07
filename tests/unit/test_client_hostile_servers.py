"""The client against names that are not one URL segment and servers that are not Conductor.

Paths: every name or id the client puts in a URL path either reaches exactly the intended route (the request's
path, split at "/" and percent-decoded, is the intended segments) or is refused before anything is sent
(UnsafeName): a dot segment ("..", ".") would be resolved by the HTTP client into another endpoint, a slash,
backslash or NUL is refused by Conductor's servlet container with an HTML 400 (docs/conductor-facts.md).

Servers: with ``identify`` (the operator's clients) nothing but the identification is sent before the server is
positively identified as Conductor, and no answer of an unidentified server appears in any error.
"""

from __future__ import annotations

import asyncio
import http.server
import threading
from urllib.parse import unquote

import httpx
import pytest
from conductor_operator.conductor.client import (
    ConductorClient,
    Flavor,
    display_url,
    segment_problem,
)
from conductor_operator.conductor.errors import (
    AddressNotAllowed,
    NotConductor,
    Rejected,
    Unauthorized,
    Unavailable,
    UnsafeName,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

# ---- every name maps to exactly the intended route -----------------------------------------------

ROUTES = [  # (call with the name, the intended path segments)
    (lambda c, n: c.get_workflow_def(n, 3), lambda n: ["api", "metadata", "workflow", n]),
    (lambda c, n: c.workflow_versions(n), lambda n: ["api", "metadata", "workflow", n, "versions"]),
    (lambda c, n: c.delete_workflow_def(n, 2), lambda n: ["api", "metadata", "workflow", n, "2"]),
    (lambda c, n: c.get_task_def(n), lambda n: ["api", "metadata", "taskdefs", n]),
    (lambda c, n: c.delete_task_def(n), lambda n: ["api", "metadata", "taskdefs", n]),
    (lambda c, n: c.correlated_executions(n, "c-1"), lambda n: ["api", "workflow", n, "correlated"]),
    (lambda c, n: c.running_execution_ids(n), lambda n: ["api", "workflow", "running", n]),
    (lambda c, n: c.get_execution(n), lambda n: ["api", "workflow", n]),
    (lambda c, n: c.terminate(n, "why"), lambda n: ["api", "workflow", n]),
    (lambda c, n: c.pause(n), lambda n: ["api", "workflow", n, "pause"]),
    (lambda c, n: c.resume(n), lambda n: ["api", "workflow", n, "resume"]),
    (lambda c, n: c.restart(n, True), lambda n: ["api", "workflow", n, "restart"]),
    (lambda c, n: c.delete_event_handler(n), lambda n: ["api", "event", n]),
    (lambda c, n: c.pause_schedule(n, "drain"), lambda n: ["api", "scheduler", "schedules", n, "pause"]),
    (lambda c, n: c.resume_schedule(n), lambda n: ["api", "scheduler", "schedules", n, "resume"]),
]

HOSTILE = ["..", ".", "", "a/b", "../1", "/", "a\\b", "a\x00b", "\x00", "a\nb", "a\tb", "\x7f", "\x85", "%2e%2e",
           "%2E%2E", ".%2e", "%2F", "..%2F", "a?b", "a#b", "a;b", "a b", "?", "#", "%", "%00", "~", "...", ".a",
           "\ud800", "é", "日本", "a+b", "a&b=c"]


def _segments(request: httpx.Request) -> list[str]:
    raw = request.url.raw_path.split(b"?", 1)[0].decode("ascii")
    return [unquote(segment, errors="strict") for segment in raw.split("/")[1:]]


async def _call(name: str, call) -> list[httpx.Request]:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    async with ConductorClient("http://conductor:8080", flavor=Flavor.OSS,
                               transport=httpx.MockTransport(answer)) as client:
        await call(client, name)
    return sent


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.one_of(st.text(), st.sampled_from(HOSTILE), st.text(alphabet="./\\%2eEfF?#\x00 ", max_size=6)),
       route=st.sampled_from(range(len(ROUTES))))
@example(name="..", route=2)  # DELETE /api/metadata/workflow/../2 would be DELETE /api/metadata/2
@example(name=".", route=0)  # GET /api/metadata/workflow/. would list every workflow
def test_every_name_is_refused_or_reaches_exactly_the_intended_route(name, route):
    call, intended = ROUTES[route]
    try:
        sent = asyncio.run(_call(name, call))
    except UnsafeName as refused:
        assert segment_problem(name) is not None
        assert "cannot be sent to Conductor" in refused.message
        return
    assert segment_problem(name) is None
    assert [_segments(r) for r in sent] == [intended(name)], f"{name!r} reached {[str(r.url) for r in sent]}"


@pytest.mark.parametrize("name", ["..", ".", "", "a/b", "a\\b", "a\x00b", "a\nb", "\ud800"])
async def test_a_refused_name_sends_nothing_and_says_why(name):
    sent: list[httpx.Request] = []
    client = ConductorClient("http://conductor:8080", flavor=Flavor.OSS,
                             transport=httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(200)))
    with pytest.raises(UnsafeName) as refused:
        await client.delete_workflow_def(name, 1)
    assert sent == []
    assert isinstance(refused.value, Rejected), "the user's to fix: stalled, never retried hot"
    assert refused.value.status is None


# ---- positive identification ---------------------------------------------------------------------

CREDENTIALS = '{"Code": "Success", "AccessKeyId": "ASIAEXAMPLEKEYID", "SecretAccessKey": "wJalrXUtnFEMIK7MDENGbPx"}'
SECRETS = ("ASIAEXAMPLEKEYID", "wJalrXUtnFEMIK7MDENGbPx", "<html", "Welcome")


class Server:
    """A MockTransport handler answering every request with ``answer(request)``; records the requests."""

    def __init__(self, answer):
        self.answer = answer
        self.requests: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        return self.answer(request)


def html_everywhere(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, text="<html><body><h1>Welcome</h1></body></html>", headers={"content-type": "text/html"})


def metadata_service(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, text=CREDENTIALS, headers={"content-type": "text/plain"})


def identifying(server: Server, **kwargs) -> ConductorClient:
    return ConductorClient("http://somewhere:8080", transport=httpx.MockTransport(server), identify=True, **kwargs)


def assert_nothing_echoed(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} echoed in {text!r}"


@pytest.mark.parametrize("answer", [html_everywhere, metadata_service])
async def test_a_server_that_is_not_conductor_is_never_called_or_echoed(answer):
    server = Server(answer)
    client = identifying(server)
    with pytest.raises(NotConductor) as version:
        await client.server_version()
    with pytest.raises(NotConductor) as definition:
        await client.get_workflow_def("orders", 1)
    with pytest.raises(NotConductor):
        await client.register_workflow_defs([{"name": "orders", "version": 1}])
    assert set(server.requests) == {"GET /api/version"}, "nothing but the identification reaches it"
    assert "HTTP 200" in version.value.message and "not shown" in version.value.message
    assert_nothing_echoed(str(version.value), definition.value.message, repr(client))


async def test_an_unidentified_servers_error_pages_are_not_shown():
    server = Server(lambda r: httpx.Response(500, text=f"<html>stack trace {CREDENTIALS}</html>"))
    with pytest.raises(Unavailable) as raised:
        await identifying(server, retries=0).server_version()
    assert raised.value.status == 500 and "not shown" in raised.value.message
    assert_nothing_echoed(str(raised.value))

    teapot = Server(lambda r: httpx.Response(401, json={"message": CREDENTIALS}))
    with pytest.raises(Unauthorized) as refused:
        await identifying(teapot).server_version()
    assert_nothing_echoed(str(refused.value))


async def test_conductor_is_identified_once_then_answers_are_shown():
    def conductor(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/version":
            return httpx.Response(200, text="3.32.3", headers={"content-type": "text/plain;charset=UTF-8"})
        return httpx.Response(400, json={"status": 400, "message": "Validation failed",
                                         "validationErrors": [{"path": "tasks", "message": "must not be empty"}]})

    server = Server(conductor)
    client = identifying(server)
    with pytest.raises(Rejected, match="tasks: must not be empty"):
        await client.register_workflow_defs([{"name": "orders", "version": 1}])
    with pytest.raises(Rejected):
        await client.register_workflow_defs([{"name": "orders", "version": 1}])
    assert server.requests == ["GET /api/version", "PUT /api/metadata/workflow", "PUT /api/metadata/workflow"]
    assert await client.server_version() == "3.32.3" and client.version == "3.32.3"


@pytest.mark.parametrize("text", ["", "ok", "3", "3.32.3 <script>", "<html>3.32.3</html>", "3.32.3\nX-Injected: 1",
                                  "v" + "9" * 80, '{"version": "3.32.3"}'])
async def test_only_a_version_is_taken_for_one(text):
    client = identifying(Server(lambda r: httpx.Response(200, text=text)))
    with pytest.raises(NotConductor):
        await client.server_version()


@pytest.mark.parametrize("text", ["3.32.3", "v3.32.3", "3.32.3-SNAPSHOT", "5.0.1-orkes.12", "3.21"])
async def test_versions_conductor_reports_are_taken(text):
    assert await identifying(Server(lambda r: httpx.Response(200, text=text + "\n"))).server_version() == text


async def test_a_conductor_request_waits_for_the_identification():
    order: list[str] = []

    def conductor(request: httpx.Request) -> httpx.Response:
        order.append(request.url.path)
        if request.url.path == "/api/version":
            return httpx.Response(200, text="3.32.3")
        return httpx.Response(200, json=[])

    client = identifying(Server(conductor), flavor=Flavor.OSS)
    await asyncio.gather(*(client.event_handlers() for _ in range(5)))
    assert order == ["/api/version"] + ["/api/event"] * 5


async def test_flavor_detection_takes_only_conductors_answers():
    html = ConductorClient("http://x", transport=httpx.MockTransport(html_everywhere))
    with pytest.raises(NotConductor) as raised:
        await html.detect_flavor()
    assert_nothing_echoed(str(raised.value))
    token_page = ConductorClient("http://x", key_id="k", key_secret="s", transport=httpx.MockTransport(html_everywhere))
    with pytest.raises(Unauthorized, match="without a token"):
        await token_page.server_version()


async def test_orkes_without_a_version_endpoint_is_identified_by_its_token():
    def orkes(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/token":
            return httpx.Response(200, json={"token": "jwt-token"})
        if request.headers.get("X-Authorization") != "jwt-token":
            return httpx.Response(401, json={"message": "EXPIRED_TOKEN"})
        return httpx.Response(404, json={"status": 404, "message": "not here"})

    client = identifying(Server(orkes), key_id="key", key_secret="secret")
    assert await client.server_version() == "unknown"
    assert await client.detect_flavor() is Flavor.ORKES


# ---- URLs as they are shown, and URLs the client refuses to be built on ---------------------------

@pytest.mark.parametrize(("url", "shown"), [
    ("http://user:p4ssw0rd@conductor:8080/api", "http://***@conductor:8080/api"),
    ("https://conductor/?token=abc#frag", "https://conductor/"),
    ("http://conductor:8080", "http://conductor:8080"),
    ("http://a\nb\x00", "http://ab?"),
])
def test_urls_are_shown_without_credentials_query_or_fragment(url, shown):
    assert display_url(url) == shown


@pytest.mark.parametrize(("url", "names"), [
    ("http://conductor:99999", "port"), ("http://conductor:0", "port"), ("http://user:p4ssw0rd@conductor", "user"),
    ("http://169.254.169.254/latest/meta-data/?x=", "query"), ("ftp://conductor", "http://"),
    ("http://conduc tor", "spaces"),
])
def test_a_client_is_never_built_on_a_url_the_crd_refuses(url, names):
    with pytest.raises(ValueError, match=names) as refused:
        ConductorClient(url)
    assert "p4ssw0rd" not in str(refused.value)


# ---- the connect-time address check, with real sockets ---------------------------------------------

class _Version(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the standard library's name)
        body = b"3.32.3"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def local_conductor():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Version)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


async def test_every_connection_is_checked_where_it_is_opened(local_conductor):
    port = local_conductor.server_address[1]
    checked: list[tuple[str, str]] = []

    def allow(host: str, address: str) -> str | None:
        checked.append((host, address))
        return None

    async with ConductorClient(f"http://localhost:{port}", connect_check=allow) as client:
        assert await client.server_version() == "3.32.3"
    assert ("localhost", "127.0.0.1") in checked, "the name is resolved and its address checked"

    async with ConductorClient(f"http://localhost:{port}",
                               connect_check=lambda host, address: f"{host} ({address}) is refused") as client:
        with pytest.raises(AddressNotAllowed, match=r"localhost \(127\.0\.0\.1\) is refused"):
            await client.server_version()
