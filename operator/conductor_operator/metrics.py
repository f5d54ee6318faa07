"""Observability: the operator's Prometheus metrics, and the context its log lines carry.

Every metric is named ``conductor_operator_*`` and recorded from what the operator does and reads anyway: no
Conductor request is made for a metric. Labels are bounded: kinds, results, endpoint templates (ids and names
replaced by ``{id}``/``{name}``), HTTP statuses, movers, and the names of the resources users declare (plans,
workflows and their versions); never an execution id.

METRICS_PORT serves them (``/metrics`` on any path, prometheus_client's server; ``off``: not served), on
METRICS_BIND_ADDRESS. LOG_FORMAT=json writes JSON log lines (kopf's JSON formatter) whose fields name the resource
(``object``: kind, namespace, name), the plan and its phase, and the last Conductor request of the handler; the
plain format starts each line of a handler with ``[namespace/name]`` (kopf's object prefix).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from urllib.parse import urlsplit

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily

from conductor_operator.domain.migrations.model import Phase

PREFIX = "conductor_operator_"

# ---- reconciles ------------------------------------------------------------------------------------------------

RECONCILES = Counter(f"{PREFIX}reconciles_total", "Handler runs (create, update, resume, timer, delete) by kind and "
                     "result: ok, noop (nothing due), stalled (the user must fix something), retry (scheduled "
                     "again: Conductor unavailable or a step to finish), error (an exception).",
                     ["kind", "result"])
RECONCILE_SECONDS = Histogram(f"{PREFIX}reconcile_duration_seconds", "How long a handler run took, by kind.",
                              ["kind"], buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120))

# ---- Conductor requests ----------------------------------------------------------------------------------------

CONDUCTOR_REQUESTS = Counter(f"{PREFIX}conductor_requests_total", "Requests sent to Conductor, by method, endpoint "
                             "(a path template) and HTTP status (\"error\": no answer: a timeout or a transport "
                             "failure).", ["method", "endpoint", "status"])
CONDUCTOR_SECONDS = Histogram(f"{PREFIX}conductor_request_duration_seconds", "Conductor request latency, by method "
                              "and endpoint.", ["method", "endpoint"],
                              buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30))

# ---- executions, plans, moves ----------------------------------------------------------------------------------

RUNNING = Gauge(f"{PREFIX}running_executions", "RUNNING and PAUSED executions per workflow and version, as last "
                "counted by the operator (a version no longer counted reads 0).", ["workflow", "version"])
PLAN_PHASE = Gauge(f"{PREFIX}migration_plan_phase", "1 for the phase a MigrationPlan is in, 0 for the others.",
                   ["namespace", "plan", "phase"])
WAVE_EXECUTIONS = Gauge(f"{PREFIX}migration_wave_executions", "A MigrationPlan's wave progress: executions moved, "
                        "ineligible (their current task is missing from the target), failed, rolled back, and the "
                        "total of the old versions when last counted.", ["namespace", "plan", "state"])
WAVE_CURRENT = Gauge(f"{PREFIX}migration_wave_current", "The wave in progress (0: the canary).", ["namespace", "plan"])
WAVE_COUNT = Gauge(f"{PREFIX}migration_waves", "How many waves the plan has, the canary included.",
                   ["namespace", "plan"])
DRAIN_REMAINING = Gauge(f"{PREFIX}migration_drain_remaining_executions", "Running executions of the versions a "
                        "MigrationPlan migrates from, as last counted.", ["namespace", "plan"])
DRAIN_TARGET = Gauge(f"{PREFIX}migration_target_running_executions", "Running executions of a MigrationPlan's "
                     "target version, as last counted.", ["namespace", "plan"])
DRAIN_END = Gauge(f"{PREFIX}migration_drain_estimated_end_timestamp_seconds", "When the old versions are estimated "
                  "to finish draining (Unix time); absent while there is no estimate.", ["namespace", "plan"])
LEDGER_MOVES = Gauge(f"{PREFIX}migration_ledger_entries", "Entries in a MigrationPlan's ledger: executions moved "
                     "(or being moved) and restarts.", ["namespace", "plan"])
MOVES = Counter(f"{PREFIX}moves_total", "Executions the mover settled, by mover (TerminateRestart, OrkesUpgrade, "
                "Restart) and result (the ledger state: Moved, Failed, Ended, RolledBack, RollbackEnded).",
                ["mover", "result"])

PLAN_FIELDS = ((WAVE_CURRENT, "current"), (WAVE_COUNT, "count"))
WAVE_STATES = (("moved", "moved"), ("ineligible", "ineligible"), ("failed", "failed"),
               ("rolled_back", "rolledBack"), ("total", "total"))


# ---- resources by condition ------------------------------------------------------------------------------------

class _Resources:
    """The custom resources this process reconciled, by kind and the condition they were last left in."""

    def __init__(self) -> None:
        self.state: dict[str, tuple[str, str]] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(f"{PREFIX}resources", "Custom resources by kind and condition (Ready, Stalled, "
                                   "Reconciling, NotReady), as this operator last left them.",
                                   labels=["kind", "condition"])
        counts: dict[tuple[str, str], int] = {}
        for key in list(self.state.values()):
            counts[key] = counts.get(key, 0) + 1
        for (kind, condition), count in sorted(counts.items()):
            family.add_metric([kind, condition], count)
        yield family


RESOURCES = _Resources()
REGISTRY.register(RESOURCES)


def condition_of(status: dict | None) -> str:
    """Stalled, Ready, Reconciling or NotReady, from a status's conditions (kstatus)."""
    true = {c.get("type") for c in (status or {}).get("conditions") or [] if c.get("status") == "True"}
    for name in ("Stalled", "Ready", "Reconciling"):
        if name in true:
            return name
    return "NotReady"


# ---- recording -------------------------------------------------------------------------------------------------

_RESULT: contextvars.ContextVar[str | None] = contextvars.ContextVar("reconcile_result", default=None)
_SCOPE: contextvars.ContextVar[dict | None] = contextvars.ContextVar("log_scope", default=None)
_REQUEST: contextvars.ContextVar[str | None] = contextvars.ContextVar("conductor_request", default=None)


@contextlib.contextmanager
def reconciling(body) -> Iterator[None]:
    """Around one handler run: counts it, times it, and gives its log lines the object's fields."""
    meta = body.get("metadata") or {}
    kind = body.get("kind") or "Unknown"
    scope = {"kind": kind, "namespace": meta.get("namespace"), "name": meta.get("name")}
    if kind == "MigrationPlan":
        scope["plan"] = meta.get("name")
        scope["phase"] = (body.get("status") or {}).get("phase")
    tokens = (_RESULT.set(None), _SCOPE.set(scope), _REQUEST.set(None))
    start = time.monotonic()
    result = "ok"
    try:
        yield
        result = _RESULT.get() or "ok"
    except BaseException as exc:
        # kopf.TemporaryError: the handler asked for a retry (only _deliver raises it, after setting the result).
        result = _RESULT.get() or ("retry" if type(exc).__name__ == "TemporaryError" else "error")
        raise
    finally:
        RECONCILE_SECONDS.labels(kind).observe(time.monotonic() - start)
        RECONCILES.labels(kind, result).inc()
        for var, token in zip((_RESULT, _SCOPE, _REQUEST), tokens, strict=True):
            var.reset(token)


def delivered(body, outcome) -> None:
    """What a handler's Outcome says (None: nothing was due): the result of the run, the object's condition and,
    for a MigrationPlan, its progress."""
    meta = body.get("metadata") or {}
    kind = body.get("kind") or "Unknown"
    status = {**(body.get("status") or {}), **((outcome.status or {}) if outcome is not None else {})}
    if outcome is None:
        _RESULT.set("noop")
    else:
        condition = condition_of(outcome.status) if outcome.status is not None else None
        _RESULT.set("retry" if outcome.retry_after is not None else "stalled" if condition == "Stalled" else "ok")
    if meta.get("uid"):
        RESOURCES.state[meta["uid"]] = (kind, condition_of(status))
    if kind == "MigrationPlan" and meta.get("name"):
        observe_plan(meta.get("namespace") or "", meta["name"], status)
        if (scope := _SCOPE.get()) is not None:
            scope["phase"] = status.get("phase")


def forget(body) -> None:
    """A resource that is gone: its series are dropped."""
    meta = body.get("metadata") or {}
    RESOURCES.state.pop(meta.get("uid"), None)
    if body.get("kind") == "MigrationPlan":
        forget_plan(meta.get("namespace") or "", meta.get("name") or "")


def _timestamp(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def observe_plan(namespace: str, name: str, status: dict) -> None:
    phase = status.get("phase")
    for known in [*Phase, *([phase] if phase and phase not in set(Phase) else [])]:
        PLAN_PHASE.labels(namespace, name, str(known)).set(1 if known == phase else 0)
    waves = status.get("waves") or {}
    for gauge, key in PLAN_FIELDS:
        gauge.labels(namespace, name).set(waves.get(key) or 0)
    for label, key in WAVE_STATES:
        WAVE_EXECUTIONS.labels(namespace, name, label).set(waves.get(key) or 0)
    running = status.get("running") or {}
    DRAIN_REMAINING.labels(namespace, name).set(running.get("old") or 0)
    DRAIN_TARGET.labels(namespace, name).set(running.get("target") or 0)
    end = _timestamp((status.get("drain") or {}).get("estimatedEnd"))
    if end is None:
        with contextlib.suppress(KeyError):
            DRAIN_END.remove(namespace, name)
    else:
        DRAIN_END.labels(namespace, name).set(end)


def forget_plan(namespace: str, name: str) -> None:
    for gauge in (WAVE_CURRENT, WAVE_COUNT, DRAIN_REMAINING, DRAIN_TARGET, DRAIN_END, LEDGER_MOVES):
        with contextlib.suppress(KeyError):
            gauge.remove(namespace, name)
    for family, labels in ((PLAN_PHASE, [str(p) for p in Phase]), (WAVE_EXECUTIONS, [s for s, _ in WAVE_STATES])):
        for label in labels:
            with contextlib.suppress(KeyError):
                family.remove(namespace, name, label)


def ledger_size(namespace: str, plan: str, entries: int) -> None:
    LEDGER_MOVES.labels(namespace, plan).set(entries)


_seen_versions: dict[str, set[str]] = {}


def running_counts(workflow: str, by_version: dict[int, int]) -> None:
    """Counts the operator read (Runtime.remember_counts): a version counted before and absent now reads 0."""
    now = {str(v): n for v, n in by_version.items()}
    seen = _seen_versions.setdefault(workflow, set())
    for version in seen - now.keys():
        RUNNING.labels(workflow, version).set(0)
    for version, count in now.items():
        RUNNING.labels(workflow, version).set(count)
    seen.update(now)


def moves_settled(mover: str, moves: Iterable) -> None:
    for move in moves:
        state = getattr(move, "state", None)
        MOVES.labels(mover, str(getattr(state, "value", state))).inc()


# ---- Conductor endpoints ---------------------------------------------------------------------------------------

_W = r"[^/]+"
ENDPOINTS: tuple[tuple[re.Pattern, str], ...] = tuple((re.compile(f"^{pattern}$"), template) for pattern, template in (
    (r"/metadata/workflow", "/metadata/workflow"),
    (r"/metadata/workflow/names-and-versions", "/metadata/workflow/names-and-versions"),
    (rf"/metadata/workflow/{_W}/versions", "/metadata/workflow/{name}/versions"),
    (rf"/metadata/workflow/{_W}/{_W}", "/metadata/workflow/{name}/{version}"),
    (rf"/metadata/workflow/{_W}", "/metadata/workflow/{name}"),
    (r"/metadata/taskdefs", "/metadata/taskdefs"),
    (rf"/metadata/taskdefs/{_W}", "/metadata/taskdefs/{name}"),
    (r"/workflow", "/workflow"),
    (r"/workflow/(test|search)", r"/workflow/\1"),
    (r"/workflow/bulk/(search|terminate|restart|pause|resume|retry)", r"/workflow/bulk/\1"),
    (rf"/workflow/running/{_W}", "/workflow/running/{name}"),
    (rf"/workflow/{_W}/correlated", "/workflow/{name}/correlated"),
    (rf"/workflow/{_W}/(remove|pause|resume|restart|upgrade|retry|rerun)", r"/workflow/{id}/\1"),
    (rf"/workflow/{_W}", "/workflow/{id}"),
    (r"/event", "/event"),
    (rf"/event/{_W}", "/event/{name}"),
    (r"/scheduler/schedules", "/scheduler/schedules"),
    (rf"/scheduler/schedules/{_W}/(pause|resume)", r"/scheduler/schedules/{name}/\1"),
    (rf"/scheduler/schedules/{_W}", "/scheduler/schedules/{name}"),
    (r"/tasks/queue/polldata", "/tasks/queue/polldata"),
    (r"/token", "/token"),
    (r"/version", "/version"),
    (r"/health", "/health"),
))


def endpoint(path: str) -> str:
    """The path template of a Conductor API path (under /api): ids and names replaced; "other" when unknown."""
    path = "/" + path.split("?", 1)[0].strip("/")
    for pattern, template in ENDPOINTS:
        if match := pattern.match(path):
            return match.expand(template)
    return "other"


def conductor_response(method: str, path: str, status: int | None, seconds: float) -> None:
    """ConductorClient's on_response hook: one request answered (status None: no answer)."""
    template = endpoint(path)
    CONDUCTOR_REQUESTS.labels(method, template, str(status) if status is not None else "error").inc()
    CONDUCTOR_SECONDS.labels(method, template).observe(seconds)
    _REQUEST.set(f"{method} {template} {status if status is not None else 'error'}")


# ---- serving ---------------------------------------------------------------------------------------------------

def serve(port: int | None, address: str = "127.0.0.1") -> None:
    """Serve /metrics on ``port`` (None: not at all), from a thread of its own (prometheus_client's server)."""
    if port is not None:
        start_http_server(port, addr=address)


# ---- logs ------------------------------------------------------------------------------------------------------

class ContextFilter(logging.Filter):
    """Adds to each record what the handler it runs in is about: ``k8s_ref`` (kopf's object reference, shown as the
    ``[namespace/name]`` prefix or the JSON ``object`` field), ``plan``, ``phase`` and ``conductor_request``."""

    def filter(self, record: logging.LogRecord) -> bool:
        scope = _SCOPE.get()
        if scope is not None:
            if not hasattr(record, "k8s_ref"):
                record.k8s_ref = {k: scope[k] for k in ("kind", "namespace", "name") if scope.get(k)}
            if scope.get("plan") and not hasattr(record, "plan"):
                record.plan = scope["plan"]
                record.phase = scope.get("phase")
        request = _httpx_request(record) or _REQUEST.get()
        if request and not hasattr(record, "conductor_request"):
            record.conductor_request = request
        return True


def _httpx_request(record: logging.LogRecord) -> str | None:
    """The request an httpx line (DEBUG) reports, by endpoint template: the line of a read shared by several
    reconciles, or of a bulk registration, is written by a task of its own, outside any handler's context."""
    if record.name != "httpx" or not isinstance(record.args, tuple) or len(record.args) < 4:
        return None
    method, url, _, status = record.args[:4]
    path = urlsplit(str(url)).path
    path = path[len("/api"):] if path.startswith("/api/") else path
    return f"{method} {endpoint(path)} {status}"


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str = "INFO", log_format: str = "text") -> logging.Handler:
    """The root logger's one handler: kopf's JSON formatter (``json``) or its object-prefixing text formatter."""
    from kopf._core.actions import loggers  # kopf's formatters: the object prefix, and JSON with an object field

    if log_format == "json":
        formatter = loggers.make_formatter(loggers.LogFormat.JSON, log_prefix=False)
    else:
        formatter = loggers.make_formatter(TEXT_FORMAT, log_prefix=True)
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request at INFO: about 1,300 lines a minute at rest with 1,000 definitions. Requests are
    # counted in the metrics; their lines are kept for DEBUG.
    logging.getLogger("httpx").setLevel(logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING)
    return handler
