"""Shared API pieces: durations."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"^(?:(\d+)(ms|s|m|h))+$")
_PART = re.compile(r"(\d+)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def parse_duration(text: str) -> timedelta:
    if not isinstance(text, str) or not _DURATION.match(text):
        raise ValueError(f"{text!r} is not a duration like 30s, 5m, 1h30m")
    return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in _PART.findall(text)))
