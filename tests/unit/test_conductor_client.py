"""The Conductor client against httpx.MockTransport: URLs, error mapping, auth, batching.

Answer shapes here are copied from Conductor OSS 3.32.3 (see tests/e2e/test_conductor_client_real.py
for the same calls against the real server).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
from conductor_operator.conductor.client import (
    BULK_LIMIT,
    TOKEN_LIFETIME,
    ConductorClient,
    Flavor,
    parse_retry_after,
    server_root,
)
from conductor_operator.conductor.errors import (
    ConductorError,
    Conflict,
    NotFound,
    Rejected,
    Unauthorized,
    Unavailable,
    UnsupportedOperation,
)

SECRET = "s3cr3t-key-secret-value"
TOKEN = "eyJ.orkes-token.value"


def error_body(status: int, message: str, validation=None, retryable=False) -> dict:
    body = {"status": status, "message": message, "instance": "vm", "retryable": retryable}
    if validation is not None:
        body["validationErrors"] = validation
    return body


class Recorder:
    """A MockTransport handler: answers from ``routes`` ((method, path) -> callable or Response)."""

    def __init__(self, routes: dict | None = None):
        self.routes = routes or {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.routes.get((request.method, request.url.path))
        if answer is None:
            return httpx.Response(404, json=error_body(404, f"No static resource {request.url.path[1:]}."))
        return answer(request) if callable(answer) else answer

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


class Sleeps(list):
    """The client's sleep: records each wait instead of waiting."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_client(routes: dict | None = None, **kwargs) -> tuple[ConductorClient, Recorder]:
    recorder = Recorder(routes)
    kwargs.setdefault("flavor", Flavor.OSS)
    kwargs.setdefault("sleep", Sleeps())
    kwargs.setdefault("jitter", lambda: 0.0)
    return ConductorClient("http://conductor:8080", transport=httpx.MockTransport(recorder), **kwargs), recorder


# ---- URLs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("base", ["http://conductor:8080", "http://conductor:8080/", "http://conductor:8080/api",
                                  "http://conductor:8080/api/", " http://conductor:8080/api "])
async def test_base_url_is_normalised_with_or_without_api(base):
    recorder = Recorder({("GET", "/api/version"): httpx.Response(200, text="3.32.3")})
    async with ConductorClient(base, transport=httpx.MockTransport(recorder)) as client:
        assert client.base_url == "http://conductor:8080"
        assert await client.server_version() == "3.32.3"
    assert str(recorder.requests[0].url) == "http://conductor:8080/api/version"


async def test_base_url_keeps_a_path_prefix():
    recorder = Recorder({("GET", "/conductor/api/version"): httpx.Response(200, text="3.32.3\n")})
    async with ConductorClient("https://gw/conductor/api", transport=httpx.MockTransport(recorder)) as client:
        assert await client.server_version() == "3.32.3"


async def test_names_are_escaped_in_paths():
    routes = {("GET", "/api/metadata/workflow/a b?c#d"): httpx.Response(200, json={"name": "a b?c#d", "version": 1})}
    client, recorder = make_client(routes)
    await client.get_workflow_def("a b?c#d", 1)
    assert recorder.requests[0].url.raw_path == b"/api/metadata/workflow/a%20b%3Fc%23d?version=1"


# ---- error mapping ------------------------------------------------------------------------------


STATUS_KINDS = [
    # the user's to fix: sending the same request again gets the same answer
    (400, Rejected), (405, Rejected), (413, Rejected), (414, Rejected), (415, Rejected), (418, Rejected),
    (422, Rejected), (431, Rejected),
    (401, Unauthorized), (403, Unauthorized), (407, Unauthorized),
    (404, NotFound), (410, NotFound),
    (409, Conflict),  # Conductor: the object already exists, or is in the wrong state
    # "not now": Conductor or a gateway in front of it is busy, slow or not ready; transient
    (408, Unavailable), (421, Unavailable), (423, Unavailable), (425, Unavailable), (429, Unavailable),
    (500, Unavailable), (501, Unavailable), (502, Unavailable), (503, Unavailable), (504, Unavailable),
    (507, Unavailable), (599, Unavailable),
]


@pytest.mark.parametrize(("status", "kind"), STATUS_KINDS)
async def test_each_status_maps_to_its_error(status, kind):
    client, _ = make_client({("GET", "/api/workflow/w1"): httpx.Response(status, json=error_body(status, "boom"))},
                            retries=0)
    with pytest.raises(kind) as raised:
        await client.get_execution("w1")
    assert type(raised.value) is kind
    assert raised.value.status == status
    assert raised.value.message == "boom"
    assert str(raised.value) == f"boom (HTTP {status})"
    assert isinstance(raised.value, Rejected) == (kind is not Unavailable)


@pytest.mark.parametrize("status", [408, 421, 423, 425, 429, 500, 502, 503, 504])
async def test_transient_answers_carry_retry_after(status):
    headers = {"Retry-After": "120"}
    client, _ = make_client({("GET", "/api/version"): httpx.Response(status, text="busy", headers=headers)})
    with pytest.raises(Unavailable) as raised:
        await client.server_version()
    assert raised.value.retry_after == 120.0
    assert raised.value.message == "busy"

    client, _ = make_client({("GET", "/api/version"): httpx.Response(status, text="busy")}, retries=0)
    with pytest.raises(Unavailable) as raised:
        await client.server_version()
    assert raised.value.retry_after is None


async def test_a_gateway_429_without_json_is_unavailable_not_rejected():
    page = "<html><body><h1>429 Too Many Requests</h1></body></html>"
    client, _ = make_client({("PUT", "/api/metadata/workflow"): httpx.Response(429, text=page,
                                                                                headers={"Retry-After": "30"})})
    with pytest.raises(Unavailable, match="429 Too Many Requests") as raised:
        await client.register_workflow_defs([{"name": "w", "version": 1}])
    assert raised.value.status == 429 and raised.value.retry_after == 30.0


NOW = datetime(2026, 11, 30, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("value", "seconds"), [
    ("120", 120.0), (" 7 ", 7.0), ("0", 0.0),
    ("Mon, 30 Nov 2026 10:00:30 GMT", 30.0),  # IMF-fixdate
    ("Monday, 30-Nov-26 10:01:00 GMT", 60.0),  # obsolete RFC 850 form
    ("Mon Nov 30 10:02:00 2026", 120.0),  # obsolete asctime form
    ("Mon, 30 Nov 2026 09:59:00 GMT", 0.0),  # already past: now
    (None, None), ("", None), ("soon", None), ("-5", None), ("1.5", None), ("Mon, 99 Foo 2026", None),
])
def test_retry_after_is_delta_seconds_or_an_http_date(value, seconds):
    assert parse_retry_after(value, NOW) == seconds


async def test_a_retry_after_date_is_read_against_the_servers_clock():
    """The answer's own Date header is "now": a local clock that is off does not change the wait."""
    headers = {"Date": "Mon, 30 Nov 2026 10:00:00 GMT", "Retry-After": "Mon, 30 Nov 2026 10:00:45 GMT"}
    client, _ = make_client({("GET", "/api/version"): httpx.Response(503, text="maintenance", headers=headers)})
    with pytest.raises(Unavailable) as raised:
        await client.server_version()
    assert raised.value.retry_after == 45.0


# ---- retries inside one call --------------------------------------------------------------------


class Answers:
    """Answers in order, then the last one again."""

    def __init__(self, *answers: httpx.Response):
        self.answers = list(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def throttled(seconds: str | None = "1", status: int = 429) -> httpx.Response:
    return httpx.Response(status, json=error_body(status, "Too Many Requests", retryable=True),
                          headers={"Retry-After": seconds} if seconds is not None else {})


async def test_a_short_retry_after_is_waited_inside_the_call():
    answers = Answers(throttled("1"), throttled("2"), httpx.Response(200, text="3.32.3"))
    client, recorder = make_client({("GET", "/api/version"): answers})
    assert await client.server_version() == "3.32.3"
    assert client._sleep == [1.0, 2.0]
    assert len(recorder.requests) == 3


async def test_in_call_retries_are_bounded_and_jittered():
    client, recorder = make_client({("GET", "/api/version"): throttled("1")}, jitter=lambda: 0.5)
    with pytest.raises(Unavailable) as raised:
        await client.server_version()
    assert raised.value.retry_after == 1.0, "the caller still learns how long to wait"
    assert len(recorder.requests) == 3, "two retries, then the caller's backoff"
    assert client._sleep == [1.25, 1.25]


async def test_without_retry_after_the_in_call_wait_is_short_and_doubles():
    answers = Answers(throttled(None), throttled(None), httpx.Response(200, text="3.32.3"))
    client, _ = make_client({("GET", "/api/version"): answers})
    assert await client.server_version() == "3.32.3"
    assert client._sleep == [0.25, 0.5]


async def test_a_long_retry_after_is_left_to_the_caller():
    client, recorder = make_client({("GET", "/api/version"): throttled("30")})
    with pytest.raises(Unavailable) as raised:
        await client.server_version()
    assert raised.value.retry_after == 30.0
    assert len(recorder.requests) == 1 and client._sleep == []


@pytest.mark.parametrize("status", [408, 425, 503])
async def test_idempotent_calls_retry_not_now_answers(status):
    answers = Answers(throttled("1", status), httpx.Response(200, json=[]))
    client, recorder = make_client({("GET", "/api/event"): answers})
    assert await client.event_handlers() == []
    assert len(recorder.requests) == 2


@pytest.mark.parametrize("status", [500, 502, 504, 421, 423])
async def test_other_transient_answers_are_left_to_the_caller(status):
    client, recorder = make_client({("GET", "/api/event"): throttled("1", status)})
    with pytest.raises(Unavailable):
        await client.event_handlers()
    assert len(recorder.requests) == 1


@pytest.mark.parametrize("status", [408, 425, 503])
async def test_a_start_is_not_sent_twice_unless_the_server_refused_it(status):
    """A 503 may come from a gateway after Conductor got the start: sending it again could start two executions."""
    client, recorder = make_client({("POST", "/api/workflow"): throttled("1", status)})
    with pytest.raises(Unavailable):
        await client.start_workflow("w")
    assert len(recorder.requests) == 1


async def test_a_resume_is_not_sent_twice_either():
    """A second resume of an execution the first one resumed is a Conflict: a PUT, but not harmless to repeat."""
    client, recorder = make_client({("PUT", "/api/workflow/w1/resume"): throttled("1", 503)})
    with pytest.raises(Unavailable):
        await client.resume("w1")
    assert len(recorder.requests) == 1


async def test_a_throttled_start_is_retried():
    """429: the server refused the request before handling it, so the start is sent again."""
    answers = Answers(throttled("1"), httpx.Response(200, text="abc-123"))
    client, recorder = make_client({("POST", "/api/workflow"): answers})
    assert await client.start_workflow("w") == "abc-123"
    assert len(recorder.requests) == 2


async def test_posts_that_only_read_retry_like_gets():
    search = {("POST", "/api/workflow/bulk/search"): Answers(throttled("1", 503), httpx.Response(200, json={})),
              ("POST", "/api/workflow/w/correlated"): Answers(throttled("1", 503), httpx.Response(200, json={}))}
    client, recorder = make_client(search)
    assert await client.get_executions(["a"]) == ([], {})
    assert await client.correlated_executions("w", "c") == []
    assert len(recorder.requests) == 4


async def test_a_throttled_token_endpoint_says_nothing_about_the_flavor():
    client, _ = make_client({("POST", "/api/token"): throttled("5")}, flavor=None)
    with pytest.raises(Unavailable):
        await client.detect_flavor()
    assert client._flavor is None


async def test_validation_errors_are_readable_and_name_the_item():
    body = error_body(400, "Validation failed, check below errors for detail.",
                      [{"path": "updateWorkflowDef.arg0[1].tasks", "message": "WorkflowTask list cannot be empty"},
                       {"path": "updateWorkflowDef.arg0[0]", "message": "taskReferenceName: t1 should be unique"}])
    client, _ = make_client({("PUT", "/api/metadata/workflow"): httpx.Response(400, json=body)})
    with pytest.raises(Rejected) as raised:
        await client.register_workflow_defs([{"name": "good", "version": 1}, {"name": "bad", "version": 2}])
    assert raised.value.validation_errors == ["bad v2: tasks: WorkflowTask list cannot be empty",
                                              "good v1: taskReferenceName: t1 should be unique"]
    assert raised.value.message == ("Validation failed: bad v2: tasks: WorkflowTask list cannot be empty; "
                                    "good v1: taskReferenceName: t1 should be unique")


async def test_a_rejected_bulk_names_the_positions_of_the_items_at_fault():
    """Conductor OSS 3.32.3's answer to a list whose items 1 and 3 are invalid (nothing of it is registered):
    the batcher drops those positions and sends the rest again."""
    body = error_body(400, "Validation failed, check below errors for detail.", [
        {"path": "updateWorkflowDef.arg0[3].tasks[0].name", "message": "WorkflowTask name cannot be empty or null"},
        {"path": "updateWorkflowDef.arg0[1].tasks", "message": "WorkflowTask list cannot be empty"},
        {"path": "updateWorkflowDef.arg0[1]", "message": "taskReferenceName: a should be unique"},
        {"path": "updateWorkflowDef.arg0[9]", "message": "past the end: no item"},
        {"path": "updateWorkflowDef.arg0", "message": "WorkflowDefList is empty"}])
    client, _ = make_client({("PUT", "/api/metadata/workflow"): httpx.Response(400, json=body)})
    defs = [{"name": f"w{i}", "version": 1} for i in range(5)]
    with pytest.raises(Rejected) as raised:
        await client.register_workflow_defs(defs)
    assert raised.value.status == 400
    assert raised.value.items == (1, 3)
    assert "w3 v1: tasks[0].name: WorkflowTask name cannot be empty or null" in raised.value.validation_errors


async def test_a_null_item_is_named_too():
    body = error_body(400, "Validation failed, check below errors for detail.",
                      [{"path": "updateWorkflowDef.arg0[1].<list element>", "message": "WorkflowDef cannot be null"}])
    client, _ = make_client({("PUT", "/api/metadata/workflow"): httpx.Response(400, json=body)})
    with pytest.raises(Rejected) as raised:
        await client.register_workflow_defs([{"name": "a", "version": 1}, {"name": "b", "version": 1}])
    assert raised.value.items == (1,)


async def test_a_body_the_server_cannot_read_is_rejected_not_retried():
    """A 500 "JSON parse error" with retryable false (an enum value Conductor does not know): the same body would
    fail for ever, and the answer names no item."""
    body = error_body(500, "JSON parse error: Cannot deserialize value of type `...WorkflowDef$TimeoutPolicy` from "
                           "String \"NOPE\": not one of the values accepted for Enum class: [TIME_OUT_WF, ALERT_ONLY]")
    client, recorder = make_client({("PUT", "/api/metadata/workflow"): httpx.Response(500, json=body)})
    with pytest.raises(Rejected, match="JSON parse error") as raised:
        await client.register_workflow_defs([{"name": "a", "version": 1, "timeoutPolicy": "NOPE"}])
    assert raised.value.status == 500
    assert raised.value.items == ()
    assert len(recorder.requests) == 1


async def test_a_retryable_500_parse_error_stays_unavailable():
    body = error_body(500, "JSON parse error: something", retryable=True)
    client, _ = make_client({("PUT", "/api/metadata/workflow"): httpx.Response(500, json=body)})
    with pytest.raises(Unavailable):
        await client.register_workflow_defs([{"name": "a", "version": 1}])


async def test_error_without_json_body_falls_back_to_text():
    client, _ = make_client({("GET", "/api/version"): httpx.Response(502, text="<html>Bad Gateway</html>")})
    with pytest.raises(Unavailable, match="Bad Gateway") as raised:
        await client.server_version()
    assert raised.value.status == 502


async def test_a_success_that_is_not_json_is_unavailable():
    routes = {("GET", "/api/event"): httpx.Response(200, text="<html>proxy login</html>")}
    client, _ = make_client(routes)
    with pytest.raises(Unavailable, match="not JSON: '<html>proxy login"):
        await client.event_handlers()


async def test_empty_error_body_falls_back_to_reason_phrase():
    client, _ = make_client({("GET", "/api/version"): httpx.Response(418)})
    with pytest.raises(Rejected, match="I'm a teapot"):
        await client.server_version()


@pytest.mark.parametrize("exc", [httpx.ConnectError("connection refused"), httpx.ReadTimeout("slow"),
                                 httpx.ConnectTimeout("slow"), httpx.RemoteProtocolError("closed")])
async def test_transport_failures_are_unavailable(exc):
    def fail(request):
        raise exc

    client = ConductorClient("http://conductor:8080", transport=httpx.MockTransport(fail))
    with pytest.raises(Unavailable) as raised:
        await client.server_version()
    assert raised.value.status is None
    assert "GET /version" in raised.value.message


@pytest.mark.parametrize(("method", "path", "message", "kind", "call"), [
    ("DELETE", "/api/metadata/workflow/w/1", "No such workflow definition: w version: 1", NotFound,
     lambda c: c.delete_workflow_def("w", 1)),
    ("DELETE", "/api/metadata/taskdefs/t", "No such task definition", NotFound, lambda c: c.delete_task_def("t")),
    ("PUT", "/api/event", "EventHandler with name h not found!", NotFound,
     lambda c: c.update_event_handler({"name": "h"})),
    ("POST", "/api/event", "EventHandler with name h already exists!", Conflict,
     lambda c: c.create_event_handler({"name": "h"})),
    ("PUT", "/api/workflow/w1/resume", "The workflow w1 is not PAUSED so cannot resume. Current status is RUNNING",
     Conflict, lambda c: c.resume("w1")),
])
async def test_conductor_500s_that_mean_missing_or_wrong_state(method, path, message, kind, call):
    """Conductor OSS 3.32.3 answers these with 500 and retryable false: not a reason to retry."""
    client, _ = make_client({(method, path): httpx.Response(500, json=error_body(500, message))})
    with pytest.raises(kind, match="^" + message.split(":")[0]):
        await call(client)


async def test_a_retryable_500_stays_unavailable_even_with_a_matching_message():
    body = error_body(500, "No such workflow definition: w version: 1", retryable=True)
    client, _ = make_client({("DELETE", "/api/metadata/workflow/w/1"): httpx.Response(500, json=body)})
    with pytest.raises(Unavailable):
        await client.delete_workflow_def("w", 1)


async def test_missing_endpoint_is_unsupported():
    client, _ = make_client({})
    with pytest.raises(UnsupportedOperation, match="no endpoint PUT /api/scheduler/schedules/s/pause"):
        await client.pause_schedule("s")


# ---- definitions --------------------------------------------------------------------------------


async def test_gets_answer_none_on_404():
    routes = {("GET", "/api/metadata/workflow/w"): httpx.Response(404, json=error_body(404, "No such workflow")),
              ("GET", "/api/metadata/taskdefs/t"): httpx.Response(404, json=error_body(404, "No such taskType"))}
    client, recorder = make_client(routes)
    assert await client.get_workflow_def("w", 3) is None
    assert await client.get_task_def("t") is None
    assert recorder.requests[0].url.params["version"] == "3"


async def test_get_without_version_asks_for_the_highest():
    client, recorder = make_client({("GET", "/api/metadata/workflow/w"): httpx.Response(200, json={"version": 4})})
    assert await client.get_workflow_def("w") == {"version": 4}
    assert "version" not in recorder.requests[0].url.params


async def test_register_reads_bulk_errors_and_names_each_item():
    answer = {"bulkErrorResults": {"orders": "version 2 is locked", "billing": "owner missing"},
              "bulkSuccessfulResults": ["shipping"]}
    client, recorder = make_client({("PUT", "/api/metadata/workflow"): httpx.Response(200, json=answer)})
    defs = [{"name": n, "version": 2} for n in ("orders", "billing", "shipping")]
    with pytest.raises(Rejected) as raised:
        await client.register_workflow_defs(defs)
    assert "orders: version 2 is locked" in raised.value.message
    assert "billing: owner missing" in raised.value.message
    assert raised.value.items == (0, 1), "the positions of every item of each name that failed"
    assert json.loads(recorder.requests[0].content) == defs


async def test_register_succeeds_and_skips_empty_lists():
    ok = httpx.Response(200, json={"bulkErrorResults": {}, "bulkSuccessfulResults": ["w"]})
    client, recorder = make_client({("PUT", "/api/metadata/workflow"): ok,
                                    ("POST", "/api/metadata/taskdefs"): httpx.Response(200)})
    await client.register_workflow_defs([{"name": "w", "version": 1}])
    await client.register_task_defs([{"name": "t"}])
    await client.register_workflow_defs([])
    await client.register_task_defs([])
    assert recorder.paths() == ["PUT /api/metadata/workflow", "POST /api/metadata/taskdefs"]


async def test_workflow_versions_sorted_and_falls_back_on_old_servers():
    summaries = [{"name": "w", "version": 3, "createTime": 0}, {"name": "w", "version": 1, "createTime": 0}]
    client, _ = make_client({("GET", "/api/metadata/workflow/w/versions"): httpx.Response(200, json=summaries)})
    assert await client.workflow_versions("w") == [1, 3]

    every = [{"name": "w", "version": 2}, {"name": "other", "version": 9}, {"name": "w", "version": 1}]
    old, recorder = make_client({("GET", "/api/metadata/workflow"): httpx.Response(200, json=every)})
    assert await old.workflow_versions("w") == [1, 2]
    assert recorder.paths() == ["GET /api/metadata/workflow/w/versions", "GET /api/metadata/workflow"]


async def test_registered_versions_of_every_workflow_in_one_read():
    listing = {"a": [{"name": "a", "version": 2, "createTime": 0}, {"name": "a", "version": 1}],
               "b": [{"name": "b", "version": 7}], "odd": "not a list", "bad": [{"name": "bad"}, "x"]}
    client, recorder = make_client({("GET", "/api/metadata/workflow/names-and-versions"):
                                    httpx.Response(200, json=listing)})
    assert await client.registered_versions() == {"a": frozenset({1, 2}), "b": frozenset({7}), "bad": frozenset()}
    assert recorder.paths() == ["GET /api/metadata/workflow/names-and-versions"]


@pytest.mark.parametrize("answer", [httpx.Response(404, json={"status": 404, "message": "no such endpoint"}),
                                    httpx.Response(200, json=["a list", "where a map was expected"])])
async def test_registered_versions_unknown_from_a_server_without_the_listing(answer):
    client, _ = make_client({("GET", "/api/metadata/workflow/names-and-versions"): answer})
    assert await client.registered_versions() is None


# ---- executions ---------------------------------------------------------------------------------


def bulk_search(executions: dict[str, dict], batches: list[list[str]]):
    def answer(request: httpx.Request) -> httpx.Response:
        ids = json.loads(request.content)
        assert request.url.params["includeTasks"] == "false"
        if not ids or len(ids) > BULK_LIMIT:
            return httpx.Response(400, json=error_body(400, "Validation failed", [
                {"path": "searchWorkflow.arg0", "message": "Cannot process more than 1000 workflows."}]))
        batches.append(ids)
        return httpx.Response(200, json={
            "bulkSuccessfulResults": [executions[i] for i in ids if i in executions],
            "bulkErrorResults": {i: f"No such workflow found by id: {i}" for i in ids if i not in executions}})
    return answer


async def test_running_counts_group_by_version_from_batched_fetches():
    executions = {}
    for n in range(2500):
        version = 1 if n < 1200 else 2
        status = "PAUSED" if n % 100 == 0 else "RUNNING"
        executions[f"id-{n}"] = {"workflowId": f"id-{n}", "workflowVersion": version, "status": status}
    executions["id-7"]["status"] = "COMPLETED"  # ended between the two reads: not counted
    running_ids = [*executions, "vanished"]
    batches: list[list[str]] = []
    client, recorder = make_client({
        ("GET", "/api/workflow/running/orders"): httpx.Response(200, json=running_ids),
        ("POST", "/api/workflow/bulk/search"): bulk_search(executions, batches),
    })
    assert await client.running_counts_by_version("orders") == {1: 1199, 2: 1300}
    assert [len(b) for b in batches] == [1000, 1000, 501]
    assert sum(batches, []) == running_ids


async def test_a_count_with_executions_conductor_could_not_load_is_unknown_not_smaller():
    def answer(request):
        return httpx.Response(200, json={"bulkSuccessfulResults": [
            {"workflowId": "a", "status": "RUNNING", "workflowVersion": 1}],
            "bulkErrorResults": {"b": "No such workflow found by id: b", "c": "Error loading workflow c: timeout"}})
    client, _ = make_client({("GET", "/api/workflow/running/w"): httpx.Response(200, json=["a", "b", "c"]),
                             ("POST", "/api/workflow/bulk/search"): answer})
    with pytest.raises(Unavailable, match="could not read 1 execution"):
        await client.running_counts_by_version("w")


async def test_no_ids_means_no_bulk_call():
    client, recorder = make_client({("GET", "/api/workflow/running/w"): httpx.Response(200, json=[])})
    assert await client.running_counts_by_version("w") == {}
    assert await client.get_executions([]) == ([], {})
    assert recorder.paths() == ["GET /api/workflow/running/w"]


async def test_start_workflow_sends_a_start_request_and_returns_the_id():
    routes = {("POST", "/api/workflow"): httpx.Response(200, text="abc-123", headers={"content-type": "text/plain"})}
    client, recorder = make_client(routes)
    assert await client.start_workflow("w", version=2, input={"a": 1}, correlation_id="c") == "abc-123"
    assert await client.start_workflow("w") == "abc-123"
    assert json.loads(recorder.requests[0].content) == {"name": "w", "version": 2, "input": {"a": 1},
                                                        "correlationId": "c"}
    assert json.loads(recorder.requests[1].content) == {"name": "w", "input": {}}


async def test_lifecycle_calls():
    routes = {("DELETE", "/api/workflow/w1"): httpx.Response(200),
              ("PUT", "/api/workflow/w1/pause"): httpx.Response(200),
              ("PUT", "/api/workflow/w1/resume"): httpx.Response(200),
              ("POST", "/api/workflow/w1/restart"): httpx.Response(204)}
    client, recorder = make_client(routes)
    await client.terminate("w1", "moved to v2")
    await client.pause("w1")
    await client.resume("w1")
    await client.restart("w1", use_latest_definitions=True)
    assert recorder.requests[0].url.params["reason"] == "moved to v2"
    assert recorder.requests[3].url.params["useLatestDefinitions"] == "true"


async def test_bulk_terminate_and_restart_report_per_id_in_batches():
    def answer(request):
        ids = json.loads(request.content)
        assert 0 < len(ids) <= BULK_LIMIT
        return httpx.Response(200, json={"bulkSuccessfulResults": [i for i in ids if i != "done"],
                                         "bulkErrorResults": {"done": "Cannot terminate a COMPLETED workflow."}
                                         if "done" in ids else {}})

    client, recorder = make_client({("POST", "/api/workflow/bulk/terminate"): answer,
                                    ("POST", "/api/workflow/bulk/restart"): answer})
    ids = [f"id-{n}" for n in range(1500)] + ["done"]
    result = await client.bulk_terminate(ids, "drained")
    assert len(result.succeeded) == 1500 and not result.ok
    assert result.failed == {"done": "Cannot terminate a COMPLETED workflow."}
    assert [len(json.loads(r.content)) for r in recorder.requests] == [1000, 501]
    assert recorder.requests[0].url.params["reason"] == "drained"

    restarted = await client.bulk_restart(["a", "b"], use_latest_definitions=True)
    assert restarted.ok and restarted.succeeded == ["a", "b"]
    assert recorder.requests[-1].url.params["useLatestDefinitions"] == "true"
    assert (await client.bulk_terminate([], "nothing")).succeeded == []


async def test_upgrade_is_refused_on_oss_without_calling():
    client, recorder = make_client({}, flavor=Flavor.OSS)
    with pytest.raises(UnsupportedOperation, match="Orkes only"):
        await client.upgrade("w1", name="w", version=2)
    assert recorder.requests == []


async def test_upgrade_on_orkes_posts_the_target():
    """Orkes-only behaviour, tested against a fake following Orkes' documented behaviour."""
    client, recorder = make_client({("POST", "/api/workflow/wf-1/upgrade"): httpx.Response(200)},
                                   flavor=Flavor.ORKES)
    await client.upgrade("wf-1", name="orders", version=2, task_output={"a": {"x": 1}})
    assert json.loads(recorder.requests[0].content) == {"name": "orders", "version": 2,
                                                        "taskOutput": {"a": {"x": 1}}, "workflowInput": {}}


async def test_upgrade_detects_oss_before_refusing():
    client, recorder = make_client({}, flavor=None)
    with pytest.raises(UnsupportedOperation):
        await client.upgrade("w1", name="w", version=2)
    assert recorder.paths() == ["POST /api/token"]


# ---- flavor and Orkes auth ----------------------------------------------------------------------


async def test_flavor_detection():
    oss, _ = make_client({}, flavor=None)
    assert await oss.detect_flavor() is Flavor.OSS

    orkes, _ = make_client({("POST", "/api/token"): httpx.Response(401, json={"message": "INVALID_KEY"})},
                           flavor=None)
    assert await orkes.detect_flavor() is Flavor.ORKES

    given, recorder = make_client({}, flavor=Flavor.ORKES)
    assert await given.detect_flavor() is Flavor.ORKES
    assert recorder.requests == []

    down, _ = make_client({("POST", "/api/token"): httpx.Response(503, json=error_body(503, "down", retryable=True))},
                          flavor=None)
    with pytest.raises(Unavailable):
        await down.detect_flavor()


class FakeOrkes:
    """Follows Orkes' documented behaviour: POST /api/token {keyId, keySecret} -> {token}; calls need
    header X-Authorization with a current token, else 401 {error: EXPIRED_TOKEN}."""

    def __init__(self):
        self.issued = 0
        self.valid: set[str] = set()
        self.reject_everything = False
        self.seen_tokens: list[str | None] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/token":
            body = json.loads(request.content)
            if body != {"keyId": "key-1", "keySecret": SECRET}:
                return httpx.Response(401, json={"message": "Invalid key", "error": "INVALID_KEY"})
            self.issued += 1
            token = f"{TOKEN}-{self.issued}"
            self.valid.add(token)
            return httpx.Response(200, json={"token": token})
        token = request.headers.get("X-Authorization")
        self.seen_tokens.append(token)
        if self.reject_everything or token not in self.valid:
            return httpx.Response(401, json={"message": "Token expired or invalid", "error": "EXPIRED_TOKEN"})
        return httpx.Response(200, text="5.0.0")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def orkes_client(server: FakeOrkes, clock: Clock | None = None, secret: str = SECRET) -> ConductorClient:
    return ConductorClient("https://x.orkesconductor.io/api", key_id="key-1", key_secret=secret,
                           transport=httpx.MockTransport(server), clock=clock or Clock())


async def test_orkes_token_is_fetched_once_and_sent():
    """Orkes-only behaviour, tested against a fake following Orkes' documented behaviour."""
    server = FakeOrkes()
    client = orkes_client(server)
    assert await client.server_version() == "5.0.0"
    assert await client.server_version() == "5.0.0"
    assert server.issued == 1
    assert server.seen_tokens == [f"{TOKEN}-1", f"{TOKEN}-1"]
    assert await client.detect_flavor() is Flavor.ORKES


async def test_orkes_token_is_refreshed_after_45_minutes():
    """Orkes-only behaviour, tested against a fake following Orkes' documented behaviour."""
    server, clock = FakeOrkes(), Clock()
    client = orkes_client(server, clock)
    await client.server_version()
    clock.now += TOKEN_LIFETIME - 1
    await client.server_version()
    assert server.issued == 1
    clock.now += 1
    await client.server_version()
    assert server.issued == 2
    assert server.seen_tokens[-1] == f"{TOKEN}-2"


async def test_orkes_refreshes_once_on_401_then_unauthorized():
    """Orkes-only behaviour, tested against a fake following Orkes' documented behaviour."""
    server = FakeOrkes()
    client = orkes_client(server)
    await client.server_version()
    server.valid.clear()  # revoked server-side before its time: one refresh fixes it
    assert await client.server_version() == "5.0.0"
    assert server.issued == 2

    server.reject_everything = True  # persists after the refresh: Unauthorized, and no loop
    with pytest.raises(Unauthorized) as raised:
        await client.server_version()
    assert server.issued == 3
    assert raised.value.status == 401


async def test_orkes_refused_key_is_unauthorized():
    """Orkes-only behaviour, tested against a fake following Orkes' documented behaviour."""
    client = orkes_client(FakeOrkes(), secret="wrong-" + SECRET)
    with pytest.raises(Unauthorized, match="refused the application key 'key-1'"):
        await client.server_version()


async def test_secret_and_token_never_in_repr_or_errors():
    """Orkes-only behaviour, tested against a fake following Orkes' documented behaviour."""
    server = FakeOrkes()

    def echoing(request: httpx.Request) -> httpx.Response:  # a server that echoes what it got
        if request.url.path == "/api/token":
            return server(request)
        echoed = f"bad request {request.headers.get('X-Authorization')} {SECRET}"
        return httpx.Response(400, json={"message": echoed, "validationErrors": [{"path": "x", "message": echoed}]})

    client = ConductorClient("https://x/api", key_id="key-1", key_secret=SECRET, transport=httpx.MockTransport(echoing))
    with pytest.raises(Rejected) as raised:
        await client.get_execution("w1")
    wrong = orkes_client(FakeOrkes(), secret="wrong-" + SECRET)
    with pytest.raises(Unauthorized) as refused:
        await wrong.server_version()

    texts = [repr(client), str(client), repr(vars(client)), str(raised.value), repr(raised.value),
             raised.value.message, *raised.value.validation_errors, str(refused.value), repr(wrong)]
    for text in texts:
        assert SECRET not in text
        assert TOKEN not in text
    assert "<redacted>" in raised.value.message


async def test_orkes_key_on_oss_sends_no_token():
    """A 404 from /api/token means Conductor OSS without auth: proceed without a token."""
    recorder = Recorder({("GET", "/api/version"): httpx.Response(200, text="3.32.3")})
    client = ConductorClient("http://oss:8080", key_id="key-1", key_secret=SECRET,
                             transport=httpx.MockTransport(recorder))
    assert await client.server_version() == "3.32.3"
    assert await client.server_version() == "3.32.3"
    assert recorder.paths() == ["POST /api/token", "GET /api/version", "GET /api/version"]
    assert "X-Authorization" not in recorder.requests[1].headers
    assert await client.detect_flavor() is Flavor.OSS


async def test_no_key_no_token_and_401_is_unauthorized_at_once():
    routes = {("GET", "/api/version"): httpx.Response(403, json=error_body(403, "forbidden"))}
    client, recorder = make_client(routes)
    with pytest.raises(Unauthorized):
        await client.server_version()
    assert recorder.paths() == ["GET /api/version"]


# ---- triggers and workers -----------------------------------------------------------------------


async def test_schedules_and_missing_scheduler():
    schedule = {"name": "nightly", "paused": False, "startWorkflowRequest": {"name": "w", "version": 1}}
    client, recorder = make_client({("GET", "/api/scheduler/schedules"): httpx.Response(200, json=[schedule]),
                                    ("PUT", "/api/scheduler/schedules/nightly/pause"): httpx.Response(200),
                                    ("PUT", "/api/scheduler/schedules/nightly/resume"): httpx.Response(200)})
    assert await client.schedules("w") == [schedule]
    await client.pause_schedule("nightly", reason="draining w v1")
    await client.resume_schedule("nightly")
    assert recorder.requests[0].url.params["workflowName"] == "w"
    assert recorder.requests[1].url.params["reason"] == "draining w v1"

    without, _ = make_client({})
    with pytest.raises(UnsupportedOperation, match="no endpoint GET /api/scheduler/schedules"):
        await without.schedules()
    older, _ = make_client({("GET", "/api/scheduler/schedules"): httpx.Response(404, json={"error": "Not Found"})})
    with pytest.raises(UnsupportedOperation, match="no scheduler"):
        await older.schedules()


async def test_event_handlers_and_poll_data():
    handler = {"name": "h", "event": "kafka:x", "active": True, "actions": []}
    polls = [{"queueName": "t", "workerId": "w-1", "lastPollTime": 1795516278149}]
    client, recorder = make_client({("GET", "/api/event"): httpx.Response(200, json=[handler]),
                                    ("PUT", "/api/event"): httpx.Response(200),
                                    ("GET", "/api/tasks/queue/polldata"): httpx.Response(200, json=polls)})
    assert await client.event_handlers() == [handler]
    await client.update_event_handler({**handler, "active": False})
    assert json.loads(recorder.requests[1].content)["active"] is False
    assert await client.poll_data("t") == polls
    assert recorder.requests[2].url.params["taskType"] == "t"


def test_errors_form_one_tree():
    for kind in (NotFound, Conflict, Unauthorized):
        assert issubclass(kind, Rejected)
    for kind in (Unavailable, Rejected, UnsupportedOperation):
        assert issubclass(kind, ConductorError)
    error = Rejected(400, "Validation failed", ["tasks: empty", "name: missing"])
    assert error.message == "Validation failed: tasks: empty; name: missing"
    assert Unavailable(None, "connection refused").status is None
    assert str(Unavailable(None, "connection refused")) == "connection refused"


@pytest.mark.parametrize(("url", "root"), [
    ("http://conductor:8080", "http://conductor:8080"),
    ("http://conductor:8080/", "http://conductor:8080"),
    ("http://conductor:8080/api", "http://conductor:8080"),
    (" http://Conductor.Example:8080/api/ ", "http://conductor.example:8080"),
    ("https://host/prefix/api", "https://host/prefix"),
    ("https://host/Prefix", "https://host/Prefix"),
])
def test_server_root_is_how_the_client_calls_a_server(url, root):
    assert server_root(url) == root
    assert ConductorClient(url).base_url == root
