"""kubectl-conductor: the operator's command line, also a kubectl plugin (`kubectl conductor ...`).

Each subcommand is one entry of COMMANDS: its help, its arguments and the function that runs it
and returns the exit code. Exit codes: 0 fine, 1 the answer is "no" (a breaking change, a declined
confirmation, a request the operator did not handle in time), 2 bad input or usage, or a cluster that
cannot be used (no kubeconfig, unreachable, forbidden, no such plan, no Kubernetes client installed), with a
one-line message on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from conductor_operator.cli import dashboard, importer, plans, propose
from conductor_operator.cli.common import PROGRAM, BadInput, Command
from conductor_operator.domain.compatibility import (
    BREAKING,
    STRATEGIES,
    InvalidDefinition,
    Verdict,
    compare,
)

MANIFEST_API_VERSION = "conductor-operator.io/v1alpha1"
MANIFEST_KIND = "WorkflowDefinition"
ACKNOWLEDGE_FIELD = "spec.strategy.upgradeWaves.acknowledgeBreaking"
KUBERNETES_CLIENT = ("kubernetes", "urllib3")
"""The modules of the Kubernetes client, an extra: commands that talk to a cluster import them when they run."""
NEEDS_KUBERNETES = "the kubectl plugin needs the Kubernetes client: pip install 'conductor-operator[cli]'"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed usage or help already
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        return COMMANDS[args.command].run(args)
    except BadInput as error:
        print(f"{PROGRAM}: error: {error}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] not in KUBERNETES_CLIENT:
            raise
        print(f"{PROGRAM}: error: {NEEDS_KUBERNETES}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROGRAM, description="Work with conductor-operator resources.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        command.add_arguments(subparsers.add_parser(name, help=command.help, description=command.help))
    return parser


# ---- diff -------------------------------------------------------------------------------------

def _diff_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("old", metavar="OLD", help="the current version: a Conductor workflow JSON file or a "
                                                   "WorkflowDefinition manifest")
    parser.add_argument("new", metavar="NEW", help="the version to move to, in either form")
    parser.add_argument("--task-def-changed", metavar="NAME", action="append", default=[], dest="changed_task_defs",
                        help="a task definition changed along with the workflow (repeatable)")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text",
                        help="text for a person (default) or json (level, findings and standing warnings as a "
                             "MigrationPlan's status.verdict holds them)")
    parser.add_argument("-f", "--filename", metavar="FILE", action="append", default=[], dest="config_map_files",
                        help="manifests holding the ConfigMaps that a manifest's spec.definitionFrom names "
                             "(repeatable; OLD and NEW are searched too)")
    parser.add_argument("--from-cluster", action="store_true",
                        help="read a ConfigMap that no file holds from the cluster (-n, --context, --kubeconfig)")
    plans.cluster_arguments(parser, "the namespace of the ConfigMaps")


def run_diff(args: argparse.Namespace) -> int:
    config_maps = ConfigMaps(args)
    old = load_definition(args.old, config_maps)
    new = load_definition(args.new, config_maps)
    try:
        verdict = compare(old, new, changed_task_defs=args.changed_task_defs)
    except InvalidDefinition as error:
        raise BadInput(f"{args.old if error.which == 'old' else args.new}: {error.problem}") from None
    render = render_json if args.output == "json" else render_text
    print(render(verdict, old, new))
    return 1 if verdict.level is BREAKING else 0


# ---- reading definitions ----------------------------------------------------------------------

class ConfigMaps:
    """The ConfigMaps a WorkflowDefinition's spec.definitionFrom may name: from manifest files first, then, when
    asked, from the cluster."""

    def __init__(self, args: argparse.Namespace | None = None):
        self.args = args
        self.found: dict[str, dict] = {}
        for path in [*(args.config_map_files if args else []), *((args.old, args.new) if args else ())]:
            self.add(path, _read_documents(path))

    def add(self, path: str, documents: list) -> None:
        for document in documents:
            if isinstance(document, dict) and document.get("kind") == "ConfigMap":
                name = (document.get("metadata") or {}).get("name")
                if name:
                    self.found.setdefault(name, {**document, "_path": path})

    def value(self, path: str, name: str, key: str) -> str:
        config_map = self.found.get(name)
        if config_map is None and self.args is not None and self.args.from_cluster:
            config_map = self.found[name] = plans.read_config_map(self.args, name)
        if config_map is None:
            raise BadInput(f"{path}: spec.definitionFrom names ConfigMap {name!r}, which no file given holds; pass "
                           f"its manifest with -f, or --from-cluster to read it from the cluster")
        where = config_map.get("_path") or "the cluster"
        value = (config_map.get("data") or {}).get(key)
        if not isinstance(value, str):
            raise BadInput(f"{path}: ConfigMap {name} ({where}) has no key {key!r} in its data")
        return value


def load_definition(path: str, config_maps: ConfigMaps | None = None) -> dict:
    """A Conductor workflow definition from a JSON file or a WorkflowDefinition manifest (whose definition may
    come from a ConfigMap: ``config_maps`` finds it)."""
    document = _read_document(path)
    if isinstance(document, dict) and "kind" in document:
        return _from_manifest(path, document, config_maps or ConfigMaps())
    if isinstance(document, dict) and isinstance(document.get("tasks"), list):
        return document
    raise BadInput(f"{path}: not a workflow definition (expected a Conductor workflow JSON with a tasks list, "
                   f"or a {MANIFEST_KIND} manifest)")


def _read_documents(path: str) -> list:
    """Every document of a JSON file or a (multi-document) YAML file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not a text file") from None
    except OSError as error:
        raise BadInput(f"{path}: cannot read it ({error.strerror})") from None
    try:
        return [json.loads(text)]
    except json.JSONDecodeError as error:
        if path.endswith(".json"):
            raise BadInput(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from None
    try:
        return [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as error:
        problem = getattr(error, "problem", None) or "unreadable"
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise BadInput(f"{path}: not valid JSON or YAML ({problem}{where})") from None


def _read_document(path: str):
    documents = _read_documents(path)
    workflows = [doc for doc in documents if isinstance(doc, dict) and doc.get("kind") == MANIFEST_KIND]
    if len(workflows) > 1:
        raise BadInput(f"{path}: holds {len(workflows)} {MANIFEST_KIND} manifests; pass one per file")
    if workflows:
        return workflows[0]
    if len(documents) != 1:
        raise BadInput(f"{path}: not a workflow definition (holds {len(documents)} YAML documents and no "
                       f"{MANIFEST_KIND})")
    return documents[0]


def _from_manifest(path: str, manifest: dict, config_maps: ConfigMaps) -> dict:
    kind, api_version = manifest.get("kind"), manifest.get("apiVersion")
    if kind != MANIFEST_KIND or api_version != MANIFEST_API_VERSION:
        raise BadInput(f"{path}: a {kind} of {api_version}, not a {MANIFEST_KIND} of {MANIFEST_API_VERSION}")
    spec = manifest.get("spec")
    if not isinstance(spec, dict):
        raise BadInput(f"{path}: the {MANIFEST_KIND} has no spec")
    definition = spec.get("definition")
    if spec.get("definitionFrom") is not None:
        definition = _from_config_map(path, spec, config_maps)
    if not isinstance(definition, dict) or not isinstance(definition.get("tasks"), list):
        raise BadInput(f"{path}: spec.definition with a tasks list is missing")
    if not spec.get("name") or spec.get("version") is None:
        raise BadInput(f"{path}: spec.name and spec.version are required")
    return {**definition, "name": spec["name"], "version": spec["version"]}


def _from_config_map(path: str, spec: dict, config_maps: ConfigMaps) -> dict:
    """The definition a ConfigMap key holds, checked as the operator checks it: JSON, an object, and naming the same
    workflow and version as the manifest (or none)."""
    ref = (spec.get("definitionFrom") or {}).get("configMapKeyRef") or {}
    name, key = ref.get("name"), ref.get("key")
    if not name or not key:
        raise BadInput(f"{path}: spec.definitionFrom.configMapKeyRef needs a name and a key")
    try:
        loaded = json.loads(config_maps.value(path, name, key))
    except json.JSONDecodeError as error:
        raise BadInput(f"{path}: ConfigMap {name} key {key} is not valid JSON ({error.msg} at line "
                       f"{error.lineno})") from None
    if not isinstance(loaded, dict):
        raise BadInput(f"{path}: ConfigMap {name} key {key} holds JSON that is not a definition object")
    for field in ("name", "version"):
        if loaded.get(field) not in (None, spec.get(field)):
            raise BadInput(f"{path}: ConfigMap {name} key {key} holds {field} {loaded[field]!r}, but spec.{field} "
                           f"is {spec.get(field)!r}")
    return loaded


# ---- rendering --------------------------------------------------------------------------------

def _label(definition: dict) -> str:
    version = definition.get("version")
    return f"{definition.get('name')}" + (f" v{version}" if version is not None else "")


def _strategies(verdict: Verdict) -> dict[str, str]:
    """Each migration strategy: Allowed, NeedsAcknowledgement or NotAllowed."""
    def status(strategy: str) -> str:
        if verdict.allows(strategy):
            return "Allowed"
        return "NeedsAcknowledgement" if verdict.allows(strategy, acknowledged_breaking=True) else "NotAllowed"
    return {strategy: status(strategy) for strategy in STRATEGIES}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def render_text(verdict: Verdict, old: dict, new: dict) -> str:
    counts = _plural(len(verdict.findings), "finding")
    if verdict.standing_warnings:
        counts += f"; {_plural(len(verdict.standing_warnings), 'standing warning')}"
    lines = [f"{verdict.level.name}: {_label(old)} -> {_label(new)} ({counts})"]
    rows = [(f.level.name, str(f.reason), f.task_ref or "-", f.message) for f in verdict.findings]
    level_width, reason_width, ref_width = (max((len(row[i]) for row in rows), default=0) for i in range(3))
    for level, reason, ref, message in rows:
        lines.append(f"  {level:<{level_width}}  {reason:<{reason_width}}  {ref:<{ref_width}}  {message}")
    if verdict.standing_warnings:
        lines.append("Standing warnings (old and new alike; they do not raise the verdict):")
        standing = [(str(w.reason), w.task_ref or "-", w.message) for w in verdict.standing_warnings]
        reason_width, ref_width = (max(len(row[i]) for row in standing) for i in range(2))
        for reason, ref, message in standing:
            lines.append(f"  {reason:<{reason_width}}  {ref:<{ref_width}}  {message}")
    strategies = _strategies(verdict)
    allowed = [name for name, status in strategies.items() if status == "Allowed"]
    line = f"Strategies allowed: {', '.join(allowed)}"
    waiting = [name for name, status in strategies.items() if status == "NeedsAcknowledgement"]
    if waiting:
        line += f"; {', '.join(waiting)} only with {ACKNOWLEDGE_FIELD}: true"
    lines.append(line)
    return "\n".join(lines)


def render_json(verdict: Verdict, old: dict, new: dict) -> str:
    return json.dumps({
        "level": verdict.level.value,
        "findings": [{"level": f.level.value, "reason": str(f.reason), "taskRef": f.task_ref, "message": f.message}
                     for f in verdict.findings],
        "standingWarnings": [{"reason": str(w.reason), "taskRef": w.task_ref, "message": w.message}
                             for w in verdict.standing_warnings],
        "from": {"name": old.get("name"), "version": old.get("version")},
        "to": {"name": new.get("name"), "version": new.get("version")},
        "strategies": _strategies(verdict),
    }, indent=2)


COMMANDS: dict[str, Command] = {
    "diff": Command("compare two versions of a workflow definition: SAFE, CAUTION or BREAKING, and why",
                    _diff_arguments, run_diff),
    **plans.COMMANDS,
    **propose.COMMANDS,
    **importer.COMMANDS,
    **dashboard.COMMANDS,
}

if __name__ == "__main__":
    sys.exit(main())
