"""Operator configuration, read once from the environment (the Helm chart sets these)."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

from conductor_operator.api.common import parse_duration


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
        )

    def retry_delay(self, attempt: int) -> float:
        """Exponential backoff for transient failures (Conductor down, 5xx)."""
        return min(self.retry_max, self.retry_min * (2 ** max(0, attempt)))
