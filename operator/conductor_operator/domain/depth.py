"""How deep JSON nests, read without recursion: a definition nested thousands of levels deep passes the API
server (free-form values have no schema) and would exhaust Python's recursion in every recursive walk; these
functions are iterative, and the operator refuses what is deeper than its limits before anything else walks it.
What nests too deep is cut as the API server's answer is read (``read_api_json``)."""

from __future__ import annotations

import json
import re

from conductor_operator.api.definitions import MAX_DEFINITION_DEPTH, MAX_TASK_NESTING

MAX_OBJECT_DEPTH = 100
"""How deep the operator reads a Kubernetes object (JSON levels from the object itself): what nests deeper is cut
as it is read from the API server, and the object's spec replaced by ``{TOO_DEEP_KEY: <where>}``."""
TOO_DEEP_KEY = "conductor-operator.io/nestedTooDeep"


_CUT = f"<conductor-operator: cut, nested deeper than {MAX_OBJECT_DEPTH} levels>"


def _cut_spec(obj) -> None:
    spec = obj.get("spec") if isinstance(obj, dict) else None
    if isinstance(spec, dict) and (where := find_string(spec, _CUT)) is not None:
        obj["spec"] = {TOO_DEEP_KEY: f"spec.{where}"}


def read_api_json(text: str | bytes):
    """json.loads for what the API server answers (an object, a list of them, a watch event): never deeper than
    MAX_OBJECT_DEPTH (+2 for the list or event around an object). The spec of an object nested deeper is
    replaced by ``{TOO_DEEP_KEY: <where it was cut>}``, which every reconciler reports and nothing else reads."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    cut = cut_deep_json(text, MAX_OBJECT_DEPTH + 2, _CUT)
    value = json.loads(cut)
    if cut is not text and isinstance(value, dict):
        _cut_spec(value.get("object"))
        for item in value.get("items") or []:
            _cut_spec(item)
        _cut_spec(value)
    return value


def cut_message(where: str) -> str:
    """The Stalled message of an object whose spec was cut at ``where`` (a path) as it was read."""
    return (f"{where} is nested deeper than the operator reads ({MAX_OBJECT_DEPTH} JSON levels), so it ignores "
            f"this spec: a definition may nest at most {MAX_DEFINITION_DEPTH} JSON levels, and tasks "
            f"{MAX_TASK_NESTING} levels; flatten it, or move nested tasks into a sub-workflow")


def json_depth(value) -> int:
    """How many levels of objects and arrays ``value`` nests (a scalar: 0, ``{}``: 1); iterative."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


_JSON_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def json_text_depth(text: str) -> int:
    """How deep the JSON document ``text`` nests, read from the text without decoding it."""
    if text.count("{") + text.count("[") <= 1:
        return text.count("{") + text.count("[")
    depth = deepest = 0
    for token in _JSON_TOKENS.finditer(text):
        char = token.group()[0]
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def cut_deep_json(text: str, limit: int, marker: str) -> str:
    """``text`` with each object or array nested deeper than ``limit`` levels replaced by the string ``marker``.

    Returns ``text`` itself when nothing is that deep. Invalid JSON stays invalid (the decoder says so).
    """
    if text.count("{") + text.count("[") <= limit:
        return text
    pieces, depth, start, last = [], 0, -1, 0
    for token in _JSON_TOKENS.finditer(text):
        char = token.group()[0]
        if char in "[{":
            depth += 1
            if depth == limit + 1:
                start = token.start()
        elif char in "]}":
            if depth == limit + 1 and start >= 0:
                pieces += [text[last:start], json.dumps(marker)]
                last, start = token.end(), -1
            depth -= 1
    if not pieces:
        return text
    return "".join([*pieces, text[last:]])


def find_string(value, wanted: str) -> str | None:
    """The path (``a.b[2].c``) of the first place ``value`` holds the string ``wanted``; iterative."""
    stack = [(value, "")]
    while stack:
        item, path = stack.pop()
        if item == wanted and isinstance(item, str):
            return path or "."
        if isinstance(item, dict):
            stack.extend((child, f"{path}.{key}" if path else str(key)) for key, child in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{index}]") for index, child in reversed(list(enumerate(item))))
    return None

