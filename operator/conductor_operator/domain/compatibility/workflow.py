"""Findings on the workflow as a whole: its name, inputs, output mapping and settings."""

from __future__ import annotations

from collections.abc import Iterator

from conductor_operator.domain.compatibility.values import changed_keys, differs
from conductor_operator.domain.compatibility.verdict import Finding, InvalidDefinition, Reason, finding

_WORKFLOW_KEYS_COMPARED_ELSEWHERE = frozenset({
    "name", "tasks", "inputParameters", "inputSchema", "outputParameters",
    # identity, bookkeeping and prose: no effect on executions
    "version", "description", "ownerEmail", "createTime", "updateTime", "createdBy", "updatedBy", "ownerApp",
})
_WORKFLOW_DEFAULTS = {"schemaVersion": 2, "restartable": True, "timeoutPolicy": "ALERT_ONLY", "timeoutSeconds": 0,
                      "enforceSchema": True}  # as Conductor 3.32 fills them in


def workflow_findings(old: dict, new: dict) -> Iterator[Finding]:
    if old.get("name") != new.get("name"):
        yield finding(Reason.WORKFLOW_RENAMED, None,
                      f"The workflow is renamed from {old.get('name')!r} to {new.get('name')!r}: to Conductor "
                      f"that is another workflow, which no execution of the old one can move to.")
    old_inputs, new_inputs = _input_names(old, "old"), _input_names(new, "new")
    for name in new_inputs:
        if name not in old_inputs:
            yield finding(Reason.WORKFLOW_INPUT_CHANGED, None,
                          f"Workflow input {name!r} is new: callers of the old version and executions "
                          f"started by them do not send it.")
    for name in old_inputs:
        if name not in new_inputs:
            yield finding(Reason.WORKFLOW_INPUT_CHANGED, None,
                          f"Workflow input {name!r} is no longer declared, but old callers may still send it "
                          f"and tasks may still read it.")
    if differs(old.get("inputSchema"), new.get("inputSchema")):
        yield finding(Reason.WORKFLOW_INPUT_CHANGED, None,
                      "The workflow's inputSchema changed: input that suits the old version may not suit the new.")
    outputs = changed_keys(old.get("outputParameters"), new.get("outputParameters"))
    if outputs:
        yield finding(Reason.OUTPUT_MAPPING_CHANGED, None,
                      f"The workflow's output mapping changed ({', '.join(outputs)}): whoever reads the output "
                      f"may find fields new, missing or different.")
    settings = [key for key in changed_keys(old, new, _WORKFLOW_DEFAULTS)
                if key not in _WORKFLOW_KEYS_COMPARED_ELSEWHERE]
    if settings:
        yield finding(Reason.WORKFLOW_SETTINGS_CHANGED, None,
                      f"The workflow's {', '.join(settings)} changed; moved executions run under the new "
                      f"settings.")


def _input_names(definition: dict, which: str) -> list[str]:
    names = definition.get("inputParameters") or []
    if not isinstance(names, list):
        raise InvalidDefinition(which, "inputParameters must be a list of input names")
    return [str(name) for name in names]
