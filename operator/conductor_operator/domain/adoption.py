"""Manifests for definitions a Conductor server already holds (`kubectl conductor import`); no I/O here.

Applying them must adopt what is registered, not register it again: the operator registers nothing when every
field a manifest declares equals Conductor's copy (``definitions.differences``). So a manifest carries Conductor's
copy as it is, less what the CRD cannot hold and what means nothing when left out:

- server fields (createTime, updateTime, ...) and empty values at the top level of a definition and of each task
  (Conductor answers ``decisionCases: {}``, ``joinOn: []`` ... for every task), never inside free-form values
  such as ``inputParameters``, where ``{}`` may mean something; null members of objects at any depth (the API
  server drops them: the manifest shows what will be stored);
- task fields Conductor fills in with the same default when they are left out (``TASK_DEFAULTS``);
- fields the CRD does not have (``maskedFields``, ``backoffScaleFactor``, ...): ``kubectl apply`` would refuse
  them. Conductor keeps them as they are while the operator adopts; re-registering (a drift repair, an allowed
  in-place change) would set them back to Conductor's defaults, so those holding another value are reported.

Which definitions: each registered version of the workflows whose names match the patterns, and the task
definitions their tasks use (a task whose name is a registered task definition, at any nesting), or every task
definition when asked.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from pydantic import ValidationError

from conductor_operator.api.common import API_VERSION, DEFAULT_CLUSTER
from conductor_operator.api.definitions import TaskBody, TaskDefinition, WorkflowBody, WorkflowDefinition
from conductor_operator.domain.definitions import (
    SERVER_FIELDS,
    desired_task_definition,
    desired_workflow_definition,
    differences,
    validate_workflow_definition,
)
from conductor_operator.domain.workflow_tasks import iter_tasks

MAX_NAME_LENGTH = 253
"""A custom resource's name is a DNS subdomain: at most 253 characters."""
_HASH_LENGTH = 6
_LONGEST_VERSION = len("-v2147483647")
_LONGEST_BASE = MAX_NAME_LENGTH - _LONGEST_VERSION - 1 - _HASH_LENGTH

WORKFLOW_FIELDS = frozenset(f.alias for f in WorkflowBody.model_fields.values())
TASK_DEF_FIELDS = frozenset(f.alias for f in TaskBody.model_fields.values())

TASK_DEFAULTS = {"startDelay": 0, "optional": False, "asyncComplete": False, "permissive": False}
"""What Conductor OSS 3.32.3 answers for a workflow task that leaves these out."""

CONDUCTOR_DEFAULTS = {
    "WorkflowDefinition": {"maskedFields": []},
    "TaskDefinition": {"runtimeMetadata": [], "backoffScaleFactor": 1, "maxRetryDelaySeconds": 0,
                       "backoffJitterMs": 0, "totalTimeoutSeconds": 0, "taskStatusListenerEnabled": True},
}
"""What Conductor OSS 3.32.3 answers for the fields the CRD lacks when a definition leaves them out."""

_NESTED_TASK_LISTS = ("defaultCase", "loopOver")
_UNSAFE_PATTERN = re.compile(r"[/\\\x00-\x1f\x7f]")


class BadPattern(ValueError):
    """A --name pattern that cannot match a Conductor workflow name."""


@dataclass(frozen=True)
class Manifest:
    kind: str
    name: str
    body: dict
    label: str
    """What it is in Conductor ("workflow orders v2"), for messages."""

    @property
    def filename(self) -> str:
        return f"{self.kind.lower()}-{self.name}.yaml"


@dataclass
class Adoption:
    """What an import writes, and what it leaves out or must tell the user."""

    manifests: list[Manifest] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Definitions not written, each with the reason (the operator would not adopt them)."""
    notes: list[str] = field(default_factory=list)
    """Fields left out of a manifest that hold something other than Conductor's default."""

    def count(self, kind: str) -> int:
        return sum(1 for manifest in self.manifests if manifest.kind == kind)


# ---- names ------------------------------------------------------------------------------------

def check_patterns(patterns: Iterable[str]) -> list[str]:
    """The --name globs as given; BadPattern for one that cannot match a workflow name."""
    checked = []
    for pattern in patterns:
        if not pattern:
            raise BadPattern("an empty --name pattern matches no workflow")
        if found := _UNSAFE_PATTERN.search(pattern):
            raise BadPattern(f"--name {pattern!r} holds {found[0]!r}, which no Conductor workflow name holds")
        if _unclosed_bracket(pattern):
            raise BadPattern(f"--name {pattern!r} has a [ without its closing ] (write [[] for a literal [)")
        checked.append(pattern)
    return checked


def _unclosed_bracket(pattern: str) -> bool:
    index = 0
    while (index := pattern.find("[", index)) != -1:
        close = pattern.find("]", index + 2 if pattern[index + 1:index + 2] in ("!", "]") else index + 1)
        if close == -1:
            return True
        index = close + 1
    return False


def matches(name: str, patterns: list[str]) -> bool:
    return not patterns or any(fnmatchcase(name, pattern) for pattern in patterns)


def kubernetes_name(conductor_name: str) -> str:
    """A Conductor name as a Kubernetes name: camelCase split with dashes, lowercase, every run of other characters
    one dash; "" when nothing is left. A name that is already valid stays as it is."""
    split = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", conductor_name)
    return re.sub(r"[^a-z0-9]+", "-", split.lower()).strip("-")


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:_HASH_LENGTH]


def resource_names(conductor_names: Iterable[str], empty: str) -> dict[str, str]:
    """A distinct Kubernetes name for each Conductor name, the same at every import: a name Kubernetes takes as it
    is keeps it; one that had to change gets a short hash of the original when another name changes to the same
    (or is empty, ``empty`` then standing in, or too long). Room is left for a "-v<version>" suffix."""
    mapped = {name: kubernetes_name(name) for name in sorted(set(conductor_names))}
    users = Counter(mapped.values())
    result = {}
    for name, base in mapped.items():
        fits = bool(base) and len(base) <= _LONGEST_BASE
        if fits and (base == name or users[base] == 1):
            result[name] = base
        else:
            result[name] = f"{(base or empty)[:_LONGEST_BASE].rstrip('-')}-{_short_hash(name)}"
    return result


# ---- bodies -----------------------------------------------------------------------------------

def _is_empty(value) -> bool:
    return value is None or value == {} or value == []


def _task(task: dict) -> dict:
    """A workflow task without empty values and Conductor's defaults at its top level; nested tasks alike."""
    kept = {}
    for key, value in task.items():
        default = TASK_DEFAULTS.get(key, ...)
        if _is_empty(value) or (value == default and type(value) is type(default)):
            continue
        if key == "decisionCases" and isinstance(value, dict):
            value = {case: _tasks(tasks) for case, tasks in value.items()}
        elif key in _NESTED_TASK_LISTS:
            value = _tasks(value)
        elif key == "forkTasks" and isinstance(value, list):
            value = [_tasks(branch) for branch in value]
        kept[key] = value
    return kept


def _without_nulls(value):
    """The API server drops a null member of an object, at any depth (x-kubernetes-preserve-unknown-fields
    included): written as it will be stored."""
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _tasks(tasks) -> list:
    return [_task(task) if isinstance(task, dict) else task for task in tasks] if isinstance(tasks, list) else tasks


def _body(definition: dict, kind: str, fields: frozenset[str]) -> tuple[dict, dict]:
    """(the body to declare, the fields left out because the CRD lacks them)."""
    body, left_out = {}, {}
    for key, value in definition.items():
        if key in SERVER_FIELDS or key in ("name", "version") or _is_empty(value):
            continue
        if key not in fields:
            left_out[key] = value
            continue
        body[key] = _without_nulls(_tasks(value) if kind == "WorkflowDefinition" and key == "tasks" else value)
    return body, left_out


def _not_default(kind: str, left_out: dict) -> list[str]:
    defaults = CONDUCTOR_DEFAULTS[kind]
    return sorted(key for key, value in left_out.items() if key not in defaults or defaults[key] != value)


def _manifest(kind: str, name: str, spec: dict, cluster: str) -> dict:
    if cluster != DEFAULT_CLUSTER:
        spec = {"clusterRef": {"name": cluster}, **spec}
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name}, "spec": spec}


def _refusal(model, manifest: dict, desired: dict, observed: dict) -> str | None:
    """Why the operator would not adopt this manifest (None when it would): the model refuses it (as the API
    server would), or the definition it declares differs from Conductor's copy."""
    try:
        model.from_body(manifest)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"the {model.KIND} schema refuses it ({where}: {first['msg']})"
    if drift := differences(desired, observed):
        return f"its manifest would differ from Conductor's copy at {', '.join(drift[:3])}"
    return None


# ---- the import -------------------------------------------------------------------------------

def used_task_defs(workflows: list[dict], task_def_names: set[str]) -> set[str]:
    """The registered task definitions that tasks of these workflows use, nested tasks included."""
    return {task.get("name") for workflow in workflows for task in iter_tasks(workflow.get("tasks") or [])
            if task.get("name") in task_def_names}


def adopt(workflows: list[dict], task_defs: list[dict], *, patterns: list[str] = (),
          all_task_defs: bool = False, cluster: str = DEFAULT_CLUSTER) -> Adoption:
    """Manifests adopting the versions of ``workflows`` whose names match ``patterns`` (all when none) and the task
    definitions they use (or all of ``task_defs``), as Conductor answered them."""
    result = Adoption()
    chosen = sorted((w for w in workflows if isinstance(w.get("name"), str) and isinstance(w.get("version"), int)
                     and matches(w["name"], list(patterns))), key=lambda w: (w["name"], w["version"]))
    by_name = {d["name"]: d for d in task_defs if isinstance(d.get("name"), str)}
    wanted = set(by_name) if all_task_defs else used_task_defs(chosen, set(by_name))

    task_names = resource_names(wanted, "task")
    for conductor_name in sorted(wanted):
        observed = by_name[conductor_name]
        body, left_out = _body(observed, "TaskDefinition", TASK_DEF_FIELDS)
        label = f"task definition {conductor_name}"
        manifest = _manifest("TaskDefinition", task_names[conductor_name],
                             {"name": conductor_name, "definition": body}, cluster)
        _add(result, TaskDefinition, manifest, label, desired_task_definition(conductor_name, body), observed,
             left_out)

    workflow_names = resource_names((w["name"] for w in chosen), "workflow")
    for observed in chosen:
        conductor_name, version = observed["name"], observed["version"]
        body, left_out = _body(observed, "WorkflowDefinition", WORKFLOW_FIELDS)
        label = f"workflow {conductor_name} v{version}"
        desired = desired_workflow_definition(conductor_name, version, body)
        if errors := validate_workflow_definition(desired):
            result.skipped.append(f"{label}: the operator would refuse it ({'; '.join(errors[:2])})")
            continue
        manifest = _manifest("WorkflowDefinition", f"{workflow_names[conductor_name]}-v{version}",
                             {"name": conductor_name, "version": version, "definition": body}, cluster)
        _add(result, WorkflowDefinition, manifest, label, desired, observed, left_out)
    return result


def _add(result: Adoption, model, manifest: dict, label: str, desired: dict, observed: dict,
         left_out: dict) -> None:
    if refusal := _refusal(model, manifest, desired, observed):
        result.skipped.append(f"{label}: {refusal}")
        return
    result.manifests.append(Manifest(model.KIND, manifest["metadata"]["name"], manifest, label))
    if kept := _not_default(model.KIND, left_out):
        result.notes.append(f"{label}: {', '.join(kept)} not in the {model.KIND} schema; Conductor keeps "
                            f"{'it' if len(kept) == 1 else 'them'}, but a re-registration by the operator (a drift "
                            f"repair) would reset {'it' if len(kept) == 1 else 'them'} to Conductor's default")


def cluster_manifest(name: str, url: str, secret: str | None = None) -> dict:
    """The ConductorCluster; ``secret`` names the Secret holding an Orkes application key (keyId, keySecret)."""
    spec: dict = {"url": url}
    if secret:
        spec["auth"] = {"secretRef": {"name": secret}}
    return {"apiVersion": API_VERSION, "kind": "ConductorCluster", "metadata": {"name": name}, "spec": spec}
