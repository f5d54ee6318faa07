"""Readiness: the operator reports ready once kopf has listed every kind it serves in every namespace it watches.

kopf serves liveness only: its /healthz answers as soon as its HTTP server is up, before any watch has started,
and it has no readiness of its own. Each of kopf's watch streams marks the end of its initial listing
(``watching.Bookmark.LISTED``: every existing object has been seen, events stream from here on), and that mark is
where this operator becomes ready. It passes through one function, ``watching.infinite_watch``, which kopf looks up
on its module at every call: ``install`` wraps it to note, per kind and namespace, when the listing is over.

A replica that stands by for another one (kopf peering: a live peer has a higher priority) never lists until it
takes over; it counts as ready once kopf has read the peering object and paused it, so a rollout or a node drain
is not held up by a healthy standby. READINESS_ENDPOINT says where the answer is served (the chart:
``http://0.0.0.0:8081/readyz``; unset or ``off``: nowhere): 200 when ready, 503 otherwise, with what it waits for.
"""

from __future__ import annotations

import os
import time
import urllib.parse
from dataclasses import dataclass, field

import aiohttp.web
import kopf
from kopf._cogs.clients import watching

from conductor_operator.api.common import GROUP

SERVED = ("conductorclusters", "workflowdefinitions", "taskdefinitions", "migrationplans")
"""The kinds the operator serves (their plurals), each watched in every namespace it watches."""
PEERING_GROUP = "kopf.dev"
STANDBY_SETTLE = 2.0
"""Seconds a replica stays paused after kopf has read the peering object before it counts as standing by: the
time kopf takes to act on what it read (a replica that is to work resumes within milliseconds)."""


@dataclass
class Stream:
    """One of kopf's watch streams, as seen through ``infinite_watch``."""

    plural: str
    group: str
    namespace: str | None
    paused: object | None  # kopf's ToggleSet: on while the operator is paused (peering)
    listed_at: float | None = None

    def is_paused(self) -> bool:
        return self.paused is not None and self.paused.is_on()


@dataclass
class Readiness:
    """What kopf has listed so far, and whether that makes the operator ready."""

    namespaces: tuple[str, ...] = ()
    """The watched namespaces; empty: cluster-wide."""
    clock: object = time.monotonic
    streams: list[Stream] = field(default_factory=list)

    def expected(self) -> list[tuple[str, str | None]]:
        return [(plural, namespace) for plural in SERVED for namespace in (self.namespaces or (None,))]

    def opened(self, resource, namespace: str | None, paused) -> Stream | None:
        if resource.group not in (GROUP, PEERING_GROUP):
            return None
        stream = Stream(resource.plural, resource.group, namespace, paused)
        self.streams.append(stream)
        return stream

    def closed(self, stream: Stream) -> None:
        if stream in self.streams:
            self.streams.remove(stream)

    def standing_by(self) -> bool:
        """Paused by kopf peering after it read the peering object (and had the time to act on it)."""
        now = self.clock()
        return any(s.group == PEERING_GROUP and s.listed_at is not None and now - s.listed_at >= STANDBY_SETTLE
                   for s in self.streams) and any(s.is_paused() for s in self.streams if s.group == GROUP)

    def state(self) -> tuple[bool, dict]:
        """(ready, what it says): ready when every served kind is listed in every watched namespace, or standing by."""
        listed = {(s.plural, s.namespace) for s in self.streams if s.group == GROUP and s.listed_at is not None}
        waiting = [f"{plural} in {namespace or 'all namespaces'}" for plural, namespace in self.expected()
                   if (plural, namespace) not in listed]
        if not waiting:
            return True, {"ready": True, "state": "watching"}
        if self.standing_by():
            return True, {"ready": True, "state": "standing by for a peer (kopf peering)"}
        return False, {"ready": False, "state": "listing", "waitingFor": waiting}


def install(readiness: Readiness) -> None:
    """Make kopf's watch streams report to ``readiness`` (once per process: it wraps kopf's function)."""
    original = getattr(watching.infinite_watch, "__wrapped__", watching.infinite_watch)

    async def infinite_watch(*, settings, resource, namespace, operator_paused=None, **kwargs):
        stream = readiness.opened(resource, namespace, operator_paused)
        try:
            async for event in original(settings=settings, resource=resource, namespace=namespace,
                                        operator_paused=operator_paused, **kwargs):
                if stream is not None and event is watching.Bookmark.LISTED:
                    stream.listed_at = readiness.clock()
                yield event
        finally:
            if stream is not None:
                readiness.closed(stream)

    infinite_watch.__wrapped__ = original
    watching.infinite_watch = infinite_watch


def endpoint_from_env(value: str | None = None) -> str | None:
    """READINESS_ENDPOINT: an http://host:port/path URL; unset, empty or "off": no readiness endpoint."""
    value = (os.environ.get("READINESS_ENDPOINT") if value is None else value) or ""
    if not value.strip() or value.strip().lower() == "off":
        return None
    parts = urllib.parse.urlsplit(value.strip())
    if parts.scheme != "http" or not parts.port:
        raise SystemExit(f"invalid READINESS_ENDPOINT={value!r}: give http://HOST:PORT/PATH")
    return value.strip()


async def serve(readiness: Readiness, endpoint: str) -> aiohttp.web.AppRunner:
    """Serve the readiness answer at ``endpoint``; the caller cleans the returned runner up."""
    parts = urllib.parse.urlsplit(endpoint)

    async def answer(_request: aiohttp.web.Request) -> aiohttp.web.Response:
        ready, body = readiness.state()
        return aiohttp.web.json_response(body, status=200 if ready else 503)

    app = aiohttp.web.Application()
    app.add_routes([aiohttp.web.get(parts.path or "/", answer)])
    runner = aiohttp.web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    await aiohttp.web.TCPSite(runner, parts.hostname, parts.port).start()
    return runner


def register(readiness: Readiness, endpoint: str | None) -> None:
    """Wrap kopf's watches and, when an endpoint is given, serve it from the operator's startup to its cleanup."""
    install(readiness)
    if endpoint is None:
        return
    runners: list[aiohttp.web.AppRunner] = []

    @kopf.on.startup(id="readiness-endpoint")
    async def start_readiness(logger, **_) -> None:
        try:
            runners.append(await serve(readiness, endpoint))
        except OSError as exc:
            raise kopf.PermanentError(f"cannot serve readiness at {endpoint}: {exc}") from exc
        logger.info(f"Serving readiness at {endpoint}")

    @kopf.on.cleanup(id="readiness-endpoint")
    async def stop_readiness(**_) -> None:
        while runners:
            await runners.pop().cleanup()
