"""Status conditions in the shape kstatus, Argo CD and Flux read.

Every resource carries Ready, Reconciling and Stalled (kstatus) plus its own domain conditions.
A condition's lastTransitionTime changes only when its status flips, so recomputing the same
status twice yields an identical list and the reconciler can skip the write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

TRUE, FALSE, UNKNOWN = "True", "False", "Unknown"

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"


@dataclass(frozen=True)
class Condition:
    type: str
    status: str
    reason: str
    message: str = ""


def format_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> datetime | None:
    """The inverse of format_time; None for nothing or for text in another form."""
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def merge_conditions(previous: list[dict] | None, wanted: list[Condition], now: datetime,
                     generation: int | None) -> list[dict]:
    """The new condition list: ``wanted`` in order, keeping lastTransitionTime where status held.

    Conditions of types not in ``wanted`` are dropped: the planner states the whole set.
    """
    old = {c.get("type"): c for c in previous or []}
    merged = []
    for condition in wanted:
        before = old.get(condition.type)
        unchanged = before is not None and before.get("status") == condition.status
        entry = {
            "type": condition.type,
            "status": condition.status,
            "reason": condition.reason,
            "message": condition.message,
            "lastTransitionTime": before.get("lastTransitionTime") if unchanged else format_time(now),
        }
        if generation is not None:
            entry["observedGeneration"] = generation
        merged.append(entry)
    return merged


def kstatus(ready: bool, reason: str, message: str, *, reconciling: bool = False,
            stalled: bool = False) -> list[Condition]:
    """Ready / Reconciling / Stalled, with one reason and message shared where they apply."""
    return [
        Condition(READY, TRUE if ready else FALSE, reason, message),
        Condition(RECONCILING, TRUE if reconciling else FALSE, reason if reconciling else "Idle",
                  message if reconciling else ""),
        Condition(STALLED, TRUE if stalled else FALSE, reason if stalled else "NotStalled",
                  message if stalled else ""),
    ]


def transitioned(previous: list[dict] | None, current: list[dict]) -> bool:
    """Whether any condition changed its status, reason or message: events are posted only then."""
    def key(conditions):
        return {c.get("type"): (c.get("status"), c.get("reason"), c.get("message")) for c in conditions or []}

    return key(previous) != key(current)
