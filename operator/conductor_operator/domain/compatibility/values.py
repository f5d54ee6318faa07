"""Comparing values the way Conductor stores them: an unset value equals a missing one."""

from __future__ import annotations


def _unset(value) -> bool:
    """Left out, or Conductor's empty default: a server copy says false, {} or [] where a file says nothing."""
    return value is None or value is False or (isinstance(value, str | list | dict) and not value)


def differs(before, after) -> bool:
    return not (_unset(before) and _unset(after)) and before != after


def changed_keys(before, after, defaults: dict | None = None) -> list[str]:
    """Keys whose value differs, in first-seen order; an unset value equals a missing one."""
    before = {} if before is None else before
    after = {} if after is None else after
    if not (isinstance(before, dict) and isinstance(after, dict)):
        return ["the whole mapping"] if before != after else []
    defaults = defaults or {}
    keys = [*before, *(key for key in after if key not in before)]
    return [str(key) for key in keys
            if differs(before.get(key, defaults.get(key)), after.get(key, defaults.get(key)))]
