"""Operator configuration, read once from the environment (the Helm chart sets these)."""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from conductor_operator.api.common import parse_duration
from conductor_operator.domain.addresses import UrlAllowlist

RETRY_AFTER_CAP = 15 * 60.0
"""The longest Retry-After honoured (when longer than retry_max): past it, the operator asks again."""
RETRY_JITTER = 0.5
"""Retry delays are stretched by up to this fraction, at random."""


def _own_identity() -> str:
    return os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"


def _endpoint(value: str | None) -> str | None:
    """LIVENESS_ENDPOINT: unset means the loopback default, "off" none at all (a second operator on one machine)."""
    if value is None or not value.strip():
        return Settings.liveness_endpoint
    return None if value.strip().lower() == "off" else value.strip()


def _metrics_port(value: str | None) -> int | None:
    """METRICS_PORT: unset means the default, "off" no metrics server."""
    if value is None or not value.strip():
        return Settings.metrics_port
    if value.strip().lower() == "off":
        return None
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        raise SystemExit(f"invalid METRICS_PORT={value!r}: a port number (1-65535) or off")
    return port


def _log_format(value: str | None) -> str:
    value = (value or "text").strip().lower()
    if value not in ("text", "json"):
        raise SystemExit(f"invalid LOG_FORMAT={value!r}: text or json")
    return value


def _url_allow(value: str | None) -> UrlAllowlist:
    try:
        return UrlAllowlist.parse(value)
    except ValueError as exc:
        raise SystemExit(f"invalid CONDUCTOR_URL_ALLOW={value!r}: {exc}") from exc


def _no_jitter() -> float:
    return 0.0


def _seconds(name: str, default: str) -> float:
    value = os.environ.get(name, default)
    try:
        return parse_duration(value).total_seconds()
    except ValueError as exc:
        raise SystemExit(f"invalid {name}={value!r}: {exc}") from exc


@dataclass(frozen=True)
class Settings:
    namespaces: tuple[str, ...]
    """Namespaces to watch; empty means every namespace."""
    default_cluster: str
    """ConductorCluster used by resources that name none."""
    resync_interval: float
    """How often each resource's timer wakes; each check inside it has its own interval."""
    retry_min: float
    retry_max: float
    peering: str | None
    """kopf peering name for leader election between replicas; None runs standalone."""
    peering_priority: int
    """Among peers the highest priority works and the others wait; equal priorities would all pause."""
    peering_lifetime: float
    """How long a silent peer counts as alive: the failover time when the active replica dies."""
    identity: str = field(default_factory=_own_identity)
    """How this process names itself among peers: the pod's name (POD_NAME, from the downward API) in a
    cluster, else host and pid. Never the user name: an image run as a uid with no passwd entry has none."""
    liveness_endpoint: str | None = "http://127.0.0.1:8080/healthz"
    """Where kopf serves /healthz (None: nowhere). Every interface in a pod (the chart sets it), loopback
    elsewhere, so an operator run on a workstation is not reachable from the network."""
    jitter: Callable[[], float] = field(default=_no_jitter, repr=False, compare=False)
    """A number in [0, 1) for each retry delay: random in the operator (from_env), none by default, so a
    test can choose it."""
    url_allow: UrlAllowlist = field(default_factory=UrlAllowlist)
    """Where ConductorClusters may point (CONDUCTOR_URL_ALLOW: networks and host patterns, comma-separated; empty:
    any host). Link-local and cloud metadata addresses are refused unless a network entry names them. Checked before
    a client is built (the URL's host) and at every connection (each address the host resolves to then)."""
    metrics_port: int | None = 8082
    """Where Prometheus metrics are served (METRICS_PORT; "off": None, not served). Not 8080 nor 8081: the chart
    serves liveness and readiness there."""
    metrics_address: str = "127.0.0.1"
    """The address the metrics server binds (METRICS_BIND_ADDRESS): loopback unless told (the chart: 0.0.0.0)."""
    log_format: str = "text"
    """LOG_FORMAT: text (each line of a handler prefixed with its object) or json (fields, kopf's JSON formatter)."""

    @classmethod
    def from_env(cls) -> Settings:
        namespaces = tuple(n for n in os.environ.get("WATCH_NAMESPACES", "").replace(",", " ").split() if n)
        return cls(
            namespaces=namespaces,
            default_cluster=os.environ.get("DEFAULT_CONDUCTOR_CLUSTER", "default"),
            resync_interval=_seconds("RESYNC_INTERVAL", "15s"),
            retry_min=_seconds("RETRY_MIN", "5s"),
            retry_max=_seconds("RETRY_MAX", "5m"),
            peering=os.environ.get("PEERING_NAME") or None,
            peering_priority=int(os.environ.get("PEERING_PRIORITY") or random.randint(1, 1_000_000)),
            peering_lifetime=_seconds("PEERING_LIFETIME", "60s"),
            liveness_endpoint=_endpoint(os.environ.get("LIVENESS_ENDPOINT")),
            jitter=random.random,
            url_allow=_url_allow(os.environ.get("CONDUCTOR_URL_ALLOW")),
            metrics_port=_metrics_port(os.environ.get("METRICS_PORT")),
            metrics_address=(os.environ.get("METRICS_BIND_ADDRESS") or "").strip() or Settings.metrics_address,
            log_format=_log_format(os.environ.get("LOG_FORMAT")),
        )

    def retry_delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Exponential backoff for transient failures (Conductor down, 5xx, throttled), with jitter.

        Never sooner than the server's Retry-After (``retry_after`` seconds; honoured up to
        ``max(retry_max, RETRY_AFTER_CAP)``, so a wild header cannot park a resource for a day), then up to
        ``RETRY_JITTER`` more on top, drawn from ``jitter``: a thousand resources throttled at once do not
        all come back at the same instant.
        """
        delay = min(self.retry_max, self.retry_min * (2 ** max(0, attempt)))
        if retry_after is not None:
            delay = max(delay, min(retry_after, max(self.retry_max, RETRY_AFTER_CAP)))
        return delay * (1 + RETRY_JITTER * self.jitter())
