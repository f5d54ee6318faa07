"""Generate the CustomResourceDefinitions in crds/ from the models.

    python -m conductor_operator.api.crdgen           write crds/
    python -m conductor_operator.api.crdgen --check   exit 1 if crds/ differs from the models

Pydantic's JSON Schema is turned into a Kubernetes structural schema: references are inlined,
optional fields lose their `anyOf [X, null]`, titles and null defaults go, and open objects
become `x-kubernetes-preserve-unknown-fields`. The CRDs are also copied into the Helm chart.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from conductor_operator.api.cluster import ConductorClusterSpec, ConductorClusterStatus
from conductor_operator.api.common import GROUP, VERSION
from conductor_operator.api.definitions import (
    TaskDefinitionSpec,
    TaskDefinitionStatus,
    WorkflowDefinitionSpec,
    WorkflowDefinitionStatus,
)
from conductor_operator.api.migration import MigrationPlanSpec, MigrationPlanStatus

REPO_ROOT = Path(__file__).resolve().parents[3]
OUTPUTS = (REPO_ROOT / "crds", REPO_ROOT / "charts" / "conductor-operator" / "files" / "crds")
READY = '.status.conditions[?(@.type=="Ready")].status'


def _column(name: str, path: str, type_: str = "string", priority: int = 0) -> dict:
    column = {"name": name, "type": type_, "jsonPath": path}
    if priority:
        column["priority"] = priority
    return column


AGE = _column("Age", ".metadata.creationTimestamp", "date")


@dataclass(frozen=True)
class Kind:
    kind: str
    plural: str
    short_names: list[str]
    spec: type
    status: type
    columns: list[dict]


KINDS = [
    Kind("ConductorCluster", "conductorclusters", ["ccl"], ConductorClusterSpec, ConductorClusterStatus, [
        _column("URL", ".spec.url"), _column("Flavor", ".status.flavor"),
        _column("Version", ".status.serverVersion"), _column("Reachable", ".status.reachable", "boolean"),
        _column("Ready", READY), AGE]),
    Kind("WorkflowDefinition", "workflowdefinitions", ["wfd", "wfdef"], WorkflowDefinitionSpec,
         WorkflowDefinitionStatus, [
             _column("Workflow", ".spec.name"), _column("Version", ".spec.version", "integer"),
             _column("Registered", ".status.registered", "boolean"),
             _column("Running", ".status.executions.running", "integer"), _column("Ready", READY),
             _column("Reason", '.status.conditions[?(@.type=="Ready")].reason', priority=1), AGE]),
    Kind("TaskDefinition", "taskdefinitions", ["ctd", "taskdef"], TaskDefinitionSpec, TaskDefinitionStatus, [
        _column("Task", ".spec.name"), _column("Registered", ".status.registered", "boolean"),
        _column("Ready", READY), AGE]),
    Kind("MigrationPlan", "migrationplans", ["mp", "migplan"], MigrationPlanSpec, MigrationPlanStatus, [
        _column("Workflow", ".spec.workflowName"), _column("Target", ".status.verdict.toVersion", "integer"),
        _column("Phase", ".status.phase"), _column("Verdict", ".status.verdict.level"), _column("Ready", READY),
        AGE]),
]


def structural(schema: dict, definitions: dict) -> dict:
    """One pydantic JSON Schema node as a Kubernetes structural schema node."""
    if "$ref" in schema:
        target = definitions[schema["$ref"].split("/")[-1]]
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return structural(merged, definitions)
    if "anyOf" in schema:
        options = [o for o in schema["anyOf"] if o.get("type") != "null"]
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        if len(options) == 1:
            return structural({**options[0], **rest}, definitions)
        return {**{k: v for k, v in rest.items() if k not in ("title", "default")},
                "x-kubernetes-preserve-unknown-fields": True}
    node = {}
    for key, value in schema.items():
        if key in ("title", "$defs", "additionalProperties"):
            continue
        if key == "default" and value is None:
            continue
        if key == "properties":
            node["properties"] = {name: structural(sub, definitions) for name, sub in value.items()}
        elif key == "items":
            node["items"] = structural(value, definitions)
        else:
            node[key] = value
    extra = schema.get("additionalProperties")
    if extra is True or extra == {}:
        node["x-kubernetes-preserve-unknown-fields"] = True
        node.setdefault("type", "object")
    if "type" not in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        node["x-kubernetes-preserve-unknown-fields"] = True  # any JSON value
    return node


def schema_of(model: type) -> dict:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return structural(raw, raw.get("$defs", {}))


def render_crd(kind: Kind) -> dict:
    status = schema_of(kind.status)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"kind": kind.kind, "listKind": f"{kind.kind}List", "plural": kind.plural,
                      "singular": kind.kind.lower(), "shortNames": kind.short_names, "categories": ["conductor"]},
            "versions": [{
                "name": VERSION, "served": True, "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": kind.columns,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "description": (kind.spec.__doc__ or kind.kind).strip().splitlines()[0],
                    "properties": {
                        "apiVersion": {"type": "string"}, "kind": {"type": "string"},
                        "metadata": {"type": "object"},
                        "spec": schema_of(kind.spec),
                        "status": status,
                    },
                    "required": ["spec"],
                }},
            }],
        },
    }


def render_crds() -> dict[str, str]:
    header = "# Generated by `python -m conductor_operator.api.crdgen` from operator/conductor_operator/api/.\n"
    return {f"{k.plural}.{GROUP}.yaml": header + yaml.safe_dump(render_crd(k), sort_keys=False, width=120)
            for k in KINDS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check that the files are up to date")
    args = parser.parse_args(argv)
    rendered = render_crds()
    stale = []
    for folder in OUTPUTS:
        existing = {p.name for p in folder.glob("*.yaml")} if folder.exists() else set()
        for name, text in rendered.items():
            path = folder / name
            if not path.exists() or path.read_text() != text:
                stale.append(str(path.relative_to(REPO_ROOT)))
                if not args.check:
                    folder.mkdir(parents=True, exist_ok=True)
                    path.write_text(text)
        for name in sorted(existing - set(rendered)):
            stale.append(str((folder / name).relative_to(REPO_ROOT)))
            if not args.check:
                (folder / name).unlink()
    if args.check and stale:
        print("CRDs are out of date with the models; run `python -m conductor_operator.api.crdgen`:\n  "
              + "\n  ".join(stale), file=sys.stderr)
        return 1
    if not args.check:
        print(f"wrote {len(rendered)} CRDs to " + ", ".join(str(o.relative_to(REPO_ROOT)) for o in OUTPUTS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
