"""Argo CD resource customizations of the operator's kinds, and the harness that runs them with Argo CD's code.

The Lua scripts live in the chart, ``charts/conductor-operator/files/argocd/``: ``health/<Kind>.lua`` for each
kind, after ``health/kstatus.lua`` (the part they share: Argo CD runs one script per kind, with no way to
import another), ``actions/MigrationPlan/discovery.lua`` and one ``<action>.lua`` per MigrationPlan action.
``argocd-cm.yaml``
beside them is the argocd-cm ConfigMap holding them under Argo CD's keys, for a person to paste or patch in and
for the chart to render (``argocd.customizations.enabled``); ``python -m testenv.argocd`` writes it from the
scripts, and tests/unit/test_argocd_snippet.py checks it is up to date.

``Harness`` runs testenv/argocd-health (built by ``hack/build-tools.sh argocd-health``): Argo CD's settings
manager reads the ConfigMap, its Lua VM runs the scripts over objects.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from testenv.tools import REPO_ROOT, TestEnvError, _tail, ensure_argocd_health

ARGOCD_DIR = REPO_ROOT / "charts" / "conductor-operator" / "files" / "argocd"
SNIPPET = ARGOCD_DIR / "argocd-cm.yaml"
GROUP = "conductor-operator.io"
KINDS = ("ConductorCluster", "WorkflowDefinition", "TaskDefinition", "MigrationPlan")
PLAN_ACTIONS = ("pause", "resume", "promote", "abort", "rollback")


def _block(text: str, indent: int) -> str:
    pad = " " * indent
    return "".join(f"{pad}{line}\n" if line else "\n" for line in text.rstrip("\n").split("\n"))


def customizations() -> dict[str, str]:
    """The argocd-cm keys and values: a health check per kind, the MigrationPlan actions."""
    health = ARGOCD_DIR / "health"
    shared = (health / "kstatus.lua").read_text()
    data = {f"resource.customizations.health.{GROUP}_{kind}": shared + (health / f"{kind}.lua").read_text()
            for kind in KINDS}
    actions = ARGOCD_DIR / "actions" / "MigrationPlan"
    text = "discovery.lua: |\n" + _block((actions / "discovery.lua").read_text(), 2) + "definitions:\n"
    for action in PLAN_ACTIONS:
        text += f"  - name: {action}\n    action.lua: |\n" + _block((actions / f"{action}.lua").read_text(), 6)
    data[f"resource.customizations.actions.{GROUP}_MigrationPlan"] = text
    return data


def render_snippet() -> str:
    """argocd-cm.yaml: the customizations as an argocd-cm ConfigMap, written with block scalars to be read."""
    out = ("# Argo CD health checks for conductor-operator's four kinds and resource actions for MigrationPlan.\n"
           "# Generated from the .lua files beside it by `python -m testenv.argocd`: edit those, not this.\n"
           "# Argo CD reads only the ConfigMap named argocd-cm, labelled app.kubernetes.io/part-of: argocd, in its\n"
           "# own namespace. Merge these keys into it, e.g.\n"
           "#   kubectl patch configmap argocd-cm -n argocd --type merge --patch-file argocd-cm.yaml\n"
           "# or paste them under the argo-cd Helm chart's configs.cm values. See the README, \"Argo CD\".\n"
           "apiVersion: v1\n"
           "kind: ConfigMap\n"
           "metadata:\n"
           "  name: argocd-cm\n"
           "  namespace: argocd\n"
           "  labels:\n"
           "    app.kubernetes.io/name: argocd-cm\n"
           "    app.kubernetes.io/part-of: argocd\n"
           "data:\n")
    for key, value in customizations().items():
        out += f"  {key}: |\n" + _block(value, 4)
    return out


@dataclass(frozen=True)
class Harness:
    """testenv/argocd-health: Argo CD's own code (settings manager, Lua VM, gitops-engine's health) over objects."""

    binary: Path

    def _run(self, mode: str, objects: list[Path], *flags: str) -> list[dict]:
        result = subprocess.run([str(self.binary), mode, *flags, *map(str, objects)], capture_output=True,
                                text=True, timeout=120)
        if result.returncode != 0:
            raise TestEnvError(f"argocd-health {mode} failed ({result.returncode}): {_tail(result.stderr, 20)}")
        return json.loads(result.stdout)

    def health(self, argocd_cm: Path, objects: list[Path]) -> list[dict]:
        """Per object: {"object", "health": {"status", "message"}} or {"object", "error"}."""
        return self._run("health", objects, "-argocd-cm", str(argocd_cm))

    def actions(self, argocd_cm: Path, objects: list[Path]) -> list[dict]:
        """Per object: {"object", "actions": [{"name", "disabled", "iconClass", "displayName"}, ...]}."""
        return self._run("actions", objects, "-argocd-cm", str(argocd_cm))

    def run(self, argocd_cm: Path, action: str, objects: list[Path]) -> list[dict]:
        """Per object: {"object", "results": [{"operation", "object", "patch"}]}, the patch as Argo CD sends it."""
        return self._run("run", objects, "-argocd-cm", str(argocd_cm), "-action", action)

    def script(self, lua: Path, objects: list[Path], open_libs: bool = False) -> list[dict]:
        """A bare health script run by Argo CD's Lua VM: sandboxed unless ``open_libs``."""
        return self._run("script", objects, "-lua", str(lua), *(["-open-libs"] if open_libs else []))


def ensure_harness(build: bool = True) -> Harness:
    """The harness for ARGOCD_VERSION of hack/versions.env, built first when missing and ``build`` is true."""
    return Harness(ensure_argocd_health(build))


if __name__ == "__main__":
    SNIPPET.write_text(render_snippet())
    print(f"wrote {SNIPPET.relative_to(REPO_ROOT)}", file=sys.stderr)
