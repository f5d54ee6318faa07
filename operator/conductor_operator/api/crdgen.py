"""Generate the CustomResourceDefinitions from the models in this package.

    python -m conductor_operator.api.crdgen               write crds/ and the Helm chart's copy
    python -m conductor_operator.api.crdgen --check       change nothing; exit 1 listing stale files
    python -m conductor_operator.api.crdgen --out DIR     write (or --check) DIR instead (repeatable)

Pydantic's JSON Schema becomes a Kubernetes structural schema: every `$ref` is inlined (no
`$defs`), an optional field's `anyOf [X, null]` becomes X, titles and null defaults go,
`additionalProperties: false` never appears, open objects become `type: object` with
`x-kubernetes-preserve-unknown-fields: true`; enums, defaults, descriptions and CEL rules stay.
Keys are written in a fixed order, so the output is byte-for-byte deterministic.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from conductor_operator.api.cluster import ConductorCluster
from conductor_operator.api.common import CATEGORY, GROUP, VERSION, Resource
from conductor_operator.api.definitions import TaskDefinition, WorkflowDefinition
from conductor_operator.api.migration import MigrationPlan

REPO_ROOT = Path(__file__).resolve().parents[3]
CRDS_DIR = REPO_ROOT / "crds"
CHART_CRDS_DIR = REPO_ROOT / "charts" / "conductor-operator" / "files" / "crds"
"""The chart renders its CRDs from its own copy (Helm cannot read outside the chart)."""

HEADER = "# Generated from operator/conductor_operator/api/ by: python -m conductor_operator.api.crdgen\n"

KINDS: tuple[type[Resource], ...] = (ConductorCluster, WorkflowDefinition, TaskDefinition, MigrationPlan)

READY = '.status.conditions[?(@.type=="Ready")].status'

UNRECONCILED = {"observedGeneration": -1}
"""The status the API server gives an object the operator has not written yet. kstatus (Helm's --wait, Flux)
reads an object with no status as Current; an observedGeneration behind metadata.generation reads as
InProgress until the operator reconciles it."""


def _column(name: str, path: str, type_: str = "string", description: str = "", priority: int = 0) -> dict:
    column: dict[str, Any] = {"name": name, "type": type_, "jsonPath": path}
    if description:
        column["description"] = description
    if priority:
        column["priority"] = priority
    return column


_AGE = _column("Age", ".metadata.creationTimestamp", "date")
_READY = _column("Ready", READY, description="kstatus Ready")

COLUMNS: dict[str, list[dict]] = {
    "ConductorCluster": [
        _column("URL", ".spec.url"),
        _column("Flavor", ".status.flavor"),
        _column("Version", ".status.serverVersion"),
        _column("Reachable", ".status.reachable", "boolean"),
        _AGE,
        _column("Ready", READY, priority=1),
    ],
    "WorkflowDefinition": [
        _column("Workflow", ".spec.name"),
        _column("Version", ".spec.version", "integer"),
        _column("Registered", ".status.registered", "boolean"),
        _column("Running", ".status.executions.running", "integer"),
        _READY,
        _AGE,
        _column("Reason", '.status.conditions[?(@.type=="Ready")].reason', priority=1),
    ],
    "TaskDefinition": [
        _column("Task", ".spec.name"),
        _column("Registered", ".status.registered", "boolean"),
        _READY,
        _AGE,
        _column("Reason", '.status.conditions[?(@.type=="Ready")].reason', priority=1),
    ],
    "MigrationPlan": [
        _column("Workflow", ".spec.workflowName"),
        _column("Target", ".status.verdict.toVersion", "integer"),
        _column("Phase", ".status.phase"),
        _column("Verdict", ".status.verdict.level"),
        _column("Old", ".status.running.old", "integer", "Running executions of the versions moved from"),
        _column("New", ".status.running.target", "integer", "Running executions of the target version"),
        _column("Counted", ".status.running.readAt", "date", "How long ago Old and New were counted: a plan that "
                                                             "ended counted them a last time as it ended"),
        _READY,
        _AGE,
        _column("Moved", ".status.waves.moved", "integer", "Executions moved to the target", priority=1),
        _column("Wave", ".status.waves.state", description="The current wave's state", priority=1),
        _column("Message", ".status.message", priority=1),
    ],
}

# The order keys are written in; anything else follows alphabetically.
_KEY_ORDER = ["description", "type", "format", "enum", "default", "pattern", "minimum", "maximum", "minLength",
              "maxLength", "minItems", "maxItems", "items", "properties", "required", "x-kubernetes-list-type",
              "x-kubernetes-list-map-keys", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-validations"]
_DROPPED = {"title", "$defs", "additionalProperties"}


class SchemaError(ValueError):
    """A model whose JSON Schema has no structural equivalent (a real union, for one)."""


def structural(node: dict, definitions: dict, where: str = "$") -> dict:
    """One node of pydantic's JSON Schema as a node of a Kubernetes structural schema."""
    node = dict(node)
    if "$ref" in node:  # inline the definition; the field's own keys (description, default) win
        target = definitions[node.pop("$ref").rsplit("/", 1)[-1]]
        return structural({**target, **node}, definitions, where)
    if "allOf" in node and len(node["allOf"]) == 1:  # older pydantic wraps a described $ref this way
        return structural({**node.pop("allOf")[0], **node}, definitions, where)
    if "anyOf" in node:
        options = [option for option in node.pop("anyOf") if option.get("type") != "null"]
        if len(options) != 1:
            raise SchemaError(f"{where}: a union of {len(options)} types has no structural schema; "
                              "use optional sibling fields and a CEL rule")
        return structural({**options[0], **node}, definitions, where)
    for unsupported in ("oneOf", "allOf", "not"):
        if unsupported in node:
            raise SchemaError(f"{where}: {unsupported} is not supported in a structural schema")

    result: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED or (key == "default" and value is None):
            continue
        if key == "const":
            result["enum"] = [value]
        elif key == "properties":
            result[key] = {name: structural(sub, definitions, f"{where}.{name}") for name, sub in value.items()}
        elif key == "x-kubernetes-validations":
            result[key] = [{"rule": rule["rule"], **rule} for rule in value]
        elif key == "items":
            result[key] = structural(value, definitions, f"{where}[]")
        else:
            result[key] = value
    if node.get("additionalProperties") not in (None, False):  # an open object (a dict, or extra="allow")
        if isinstance(node["additionalProperties"], dict) and node["additionalProperties"].get("type"):
            result["additionalProperties"] = structural(node["additionalProperties"], definitions, f"{where}{{}}")
        else:
            result["x-kubernetes-preserve-unknown-fields"] = True
        result.setdefault("type", "object")
    if "type" not in result and not result.get("x-kubernetes-preserve-unknown-fields"):
        raise SchemaError(f"{where}: no type (an untyped value needs x-kubernetes-preserve-unknown-fields)")
    return _ordered(result)


def _ordered(node: dict) -> dict:
    rank = {key: index for index, key in enumerate(_KEY_ORDER)}
    return {key: node[key] for key in sorted(node, key=lambda k: (rank.get(k, len(rank)), k))}


def schema_of(model: type) -> dict:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return structural(raw, raw.get("$defs", {}), model.__name__)


def _model_of(resource: type[Resource], field: str) -> type:
    return resource.model_fields[field].annotation  # type: ignore[return-value]


def render_crd(resource: type[Resource]) -> dict:
    spec = schema_of(_model_of(resource, "spec"))
    status = schema_of(_model_of(resource, "status"))
    status.pop("required", None)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{resource.PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": resource.KIND,
                "listKind": f"{resource.KIND}List",
                "plural": resource.PLURAL,
                "singular": resource.KIND.lower(),
                "shortNames": list(resource.SHORT_NAMES),
                "categories": [CATEGORY],
            },
            "versions": [{
                "name": VERSION,
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": COLUMNS[resource.KIND],
                "schema": {"openAPIV3Schema": {
                    "description": " ".join((resource.__doc__ or resource.KIND).split()),
                    "type": "object",
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "metadata": {"type": "object"},
                        "spec": _ordered({"description": f"The desired state of the {resource.KIND}.", **spec}),
                        "status": _ordered({"description": "What the operator observed and did; written by the "
                                                          "operator only.", **status, "default": UNRECONCILED}),
                    },
                    "required": ["spec"],
                }},
            }],
        },
    }


def render_crds() -> dict[str, str]:
    """File name -> YAML text of every CRD."""
    return {f"{resource.PLURAL}.{GROUP}.yaml": HEADER + yaml.safe_dump(render_crd(resource), sort_keys=False,
                                                                       width=120, allow_unicode=True)
            for resource in KINDS}


def sync(folder: Path, rendered: dict[str, str], *, check: bool) -> list[Path]:
    """Bring `folder` in line with `rendered` (unless check); returns the files that differed."""
    stale = [folder / name for name, text in rendered.items()
             if not (folder / name).is_file() or (folder / name).read_text() != text]
    extra = sorted(p for p in folder.glob(f"*.{GROUP}.yaml") if p.name not in rendered) if folder.is_dir() else []
    if not check:
        folder.mkdir(parents=True, exist_ok=True)
        for path in stale:
            path.write_text(rendered[path.name])
        for path in extra:
            path.unlink()
    return stale + extra


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conductor_operator.api.crdgen", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file differs")
    parser.add_argument("--out", action="append", type=Path, metavar="DIR",
                        help=f"folder to write (repeatable; default: {CRDS_DIR.relative_to(REPO_ROOT)} and "
                             f"{CHART_CRDS_DIR.relative_to(REPO_ROOT)})")
    args = parser.parse_args(argv)
    rendered = render_crds()
    folders = args.out or [CRDS_DIR, CHART_CRDS_DIR]
    differing = [path for folder in folders for path in sync(folder, rendered, check=args.check)]
    if args.check:
        if differing:
            print("CRDs differ from the models in operator/conductor_operator/api/; "
                  "run `python -m conductor_operator.api.crdgen`:", file=sys.stderr)
            for path in differing:
                print(f"  {_shown(path)}", file=sys.stderr)
            return 1
        return 0
    for path in differing:
        print(f"wrote {_shown(path)}" if path.exists() else f"removed {_shown(path)}")
    print(f"{len(rendered)} CRDs up to date in {', '.join(_shown(folder) for folder in folders)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
